"""Staff pages of the data-subject rights (thin: parse, authorise, call a service, render).

The customer page carries the privacy panel (`privacy/_customer_panel.html`); its forms post
here. Export and erasure need their own permissions; the services check them again.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aftersales.accounts.permissions import request_user
from aftersales.core.errors import ApplicationError
from aftersales.customers.selectors import customer_get_for

from . import selectors, services
from .api import export_response
from .forms import ConsentForm, ErasureForm


@login_required
@permission_required("privacy.view_erasurerecord", raise_exception=True)
def privacy_home(request: HttpRequest) -> HttpResponse:
    """Erasure records and retention rules with their last run (for managers)."""
    context = {
        "erasures": selectors.erasure_records()[:200],
        "rules": selectors.retention_rules(),
        "last_run": selectors.retention_last_run(),
    }
    return render(request, "privacy/home.html", context)


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def consent_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a consent or withdrawal; bad input comes back on this form (422), nothing saved."""
    user = request_user(request)
    customer = customer_get_for(user, pk=pk)
    form = ConsentForm(request.POST or None)
    context: dict[str, Any] = {"customer": customer, "form": form}
    if request.method != "POST":
        return render(request, "privacy/consent_form.html", context)
    if not form.is_valid():
        return render(request, "privacy/consent_form.html", context, status=422)
    try:
        services.consent_record(actor=user, customer=customer, **form.cleaned_data)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return render(request, "privacy/consent_form.html", context, status=exc.status_code)
    messages.success(request, _("Consent recorded."))
    return redirect("web:customer_detail", pk=customer.pk)


@login_required
@permission_required("privacy.export_subject", raise_exception=True)
@require_POST
def subject_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Download everything held about the customer as one JSON file (audited)."""
    user = request_user(request)
    customer = customer_get_for(user, pk=pk)
    body = services.subject_export(actor=user, customer_id=customer.pk)
    return export_response(body, number=customer.number)


@login_required
@permission_required("privacy.erase_subject", raise_exception=True)
@require_http_methods(["GET", "POST"])
def subject_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then erase the customer's personal data: pick a reason, type the number."""
    user = request_user(request)
    customer = customer_get_for(user, pk=pk)
    form = ErasureForm(request.POST or None, number=customer.number)
    context: dict[str, Any] = {
        "customer": customer,
        "form": form,
        "erasure": selectors.erasure_of(customer),
        "open_cases": selectors.open_case_numbers(customer),
    }
    if request.method != "POST":
        return render(request, "privacy/erase.html", context)
    if not form.is_valid():
        return render(request, "privacy/erase.html", context, status=422)
    try:
        services.subject_erase(
            actor=user, customer_id=customer.pk, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return render(request, "privacy/erase.html", context, status=exc.status_code)
    messages.success(
        request,
        _("The personal data of %(number)s was erased.") % {"number": customer.number},
    )
    return redirect("web:customer_detail", pk=customer.pk)
