"""A member of staff's notifications: the list, and marking them read (thin views)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aftersales.accounts.permissions import request_user

from .messages import render as render_message
from .selectors import notifications_for
from .services import notifications_mark_read


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    items = [
        (n, render_message(n.code, n.params))
        for n in notifications_for(request_user(request))[:200]
    ]
    return render(request, "notifications/list.html", {"items": items})


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications_mark_read(user=request_user(request))
    return redirect("web:notification_list")
