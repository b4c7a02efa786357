"""Staff pages of the SLA engine: today's breaches (thin views over `sla.selectors`)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from aftersales.accounts.permissions import request_user
from aftersales.core import clock

from .selectors import breaches_today, sla_overview


@login_required
@permission_required("cases.view_case", raise_exception=True)
def sla_breaches(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    now = clock.now()
    context = {
        "breaches": breaches_today(user, now=now)[:500],
        "sla": sla_overview(user, now=now),
        "now": now,
    }
    return render(request, "sla/breaches.html", context)
