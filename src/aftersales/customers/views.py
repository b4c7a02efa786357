"""HTML views (thin: parse, authorise, call a service or selector, render)."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from aftersales.accounts.models import User
from aftersales.accounts.throttle import throttle_lookup
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError
from aftersales.core.policy import VIEW_CONTACT, may
from aftersales.core.searches import search_store, search_term
from aftersales.privacy.selectors import customer_privacy_panel

from . import selectors, services
from .contacts import phone_e164
from .forms import CustomerForm, MergeForm, TierOverrideForm
from .models import Customer, TierChange

SEARCH_PAGE_SIZE = 25
TIER_CHANGES_PAGE_SIZE = 25
# Where a service's error code belongs on the create form, and what it says there.
CREATE_ERRORS = {
    "invalid_phone": ("phones", gettext_lazy("%(value)s is not a phone number.")),
    "duplicate_contact": ("phones", gettext_lazy("The same number is listed twice.")),
    "invalid_email": ("email", gettext_lazy("%(value)s is not an e-mail address.")),
}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every view here is behind login_required
    return user


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _cards(customers: list[Customer]) -> list[dict[str, Any]]:
    today = clock.today()
    return [{"customer": c, "units": selectors.customer_units(c, on=today)} for c in customers]


def _search_url(name: str, search_id: str) -> str:
    """The page's URL with the search's opaque id, never the term itself."""
    return reverse(name) + (f"?{urlencode({'s': search_id})}" if search_id else "")


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_search(request: HttpRequest) -> HttpResponse:
    """Search box and results. The term is POSTed (by HTMX as the agent types, or by the form)
    and kept in the session; URLs and pager links carry only its opaque id (`?s=`)."""
    if request.method == "POST":
        q = request.POST.get("q", "")[:100]
        search_id = search_store(request, kind="customers", term=q) if q.strip() else ""
        if not _is_htmx(request):
            return redirect(_search_url("web:customer_search", search_id))
        page_number: str | None = "1"
    else:
        search_id = request.GET.get("s", "")[:40]
        q = search_term(request, search_id, kind="customers")
        page_number = request.GET.get("page")
    results = selectors.customer_search(user=_user(request), q=q)
    page = Paginator(results, SEARCH_PAGE_SIZE).get_page(page_number)
    search_id = search_id if q else ""
    context = {"q": q, "page": page, "search_id": search_id}
    template = "customers/_search_results.html" if _is_htmx(request) else "customers/search.html"
    response = render(request, template, context)
    if request.method == "POST":  # the address bar shows the search's id, not its term
        response["HX-Push-Url"] = _search_url("web:customer_search", search_id)
    # One URL answers with a page or a fragment: caches and browser history must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def caller_lookup(request: HttpRequest) -> HttpResponse:
    """The incoming-call screen: who is calling, and their units (客户辨识).

    The number is POSTed and kept in the session; the answer is shown at `?s=<opaque id>`, so
    no phone number is ever in a URL (access logs, browser history, `Referer`).
    """
    if request.method == "POST":
        raw = request.POST.get("phone", "").strip()[:40]
        try:
            e164 = phone_e164(raw)
        except ApplicationError:
            refused = {"phone": raw, "error": _("That is not a phone number we can call back.")}
            return render(request, "customers/caller_lookup.html", refused, status=422)
        search_id = search_store(request, kind="phone", term=e164)
        return redirect(_search_url("web:caller_lookup", search_id))
    search_id = request.GET.get("s", "")[:40]
    raw = search_term(request, search_id, kind="phone")
    context: dict[str, Any] = {"phone": raw, "searched": bool(raw), "search_id": search_id}
    if raw:
        try:
            throttle_lookup(request, user_id=_user(request).pk)
        except ApplicationError as exc:
            context["error"] = exc.message
            response = render(request, "customers/caller_lookup.html", context, status=429)
            response["Retry-After"] = str(exc.details.get("retry_after", 60))
            return response
        try:
            match = selectors.customers_by_phone(user=_user(request), raw=raw)
        except ApplicationError:
            context["error"] = _("That is not a phone number we can call back.")
            return render(request, "customers/caller_lookup.html", context, status=422)
        context["phone_e164"] = match.phone_e164
        context["cards"] = _cards(match.customers)
        for customer in match.customers:
            personal_data_viewed(
                actor=_user(request),
                customer_id=customer.pk,
                entity="customer",
                entity_id=customer.pk,
                via="caller_lookup.page",
            )
    return render(request, "customers/caller_lookup.html", context)


@login_required
@permission_required("customers.add_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_new(request: HttpRequest) -> HttpResponse:
    """Open a customer file; on bad input the form comes back with its errors, nothing saved."""
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                customer = services.customer_create(actor=_user(request), **form.service_kwargs())
            except ApplicationError as exc:
                field, message = CREATE_ERRORS.get(exc.code, (None, exc.message))
                value = exc.details.get("phone") or exc.details.get("email") or ""
                form.add_error(field, str(message) % {"value": value})
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                messages.success(
                    request, _("Customer %(number)s created.") % {"number": customer.number}
                )
                return redirect("web:customer_detail", pk=customer.pk)
        return render(request, "customers/new.html", {"form": form}, status=422)
    # Opened from the caller look-up: the number comes from its search, not from the URL.
    initial = {"phones": search_term(request, request.GET.get("s"), kind="phone")}
    return render(request, "customers/new.html", {"form": CustomerForm(initial=initial)})


@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Customer 360: masked contacts, units with warranty, visible cases, the whole timeline."""
    user = _user(request)
    customer = selectors.customer_get_for(user, pk=pk)
    show_contacts = may(user, VIEW_CONTACT)  # field rule, see core.policy
    context = {
        "customer": customer,
        "contacts": list(customer.contacts.all()) if show_contacts else [],
        "addresses": list(customer.addresses.all()) if show_contacts else [],
        "units": selectors.customer_units(customer, on=clock.today()),
        "cases": selectors.customer_cases_for(user=user, customer=customer),
        "timeline": selectors.customer_timeline(user=user, customer=customer),
        "tier": selectors.customer_tier(customer, changes=5),
        "privacy": customer_privacy_panel(customer),
    }
    personal_data_viewed(
        actor=user,
        customer_id=customer.pk,
        entity="customer",
        entity_id=customer.pk,
        via="customer.page",
    )
    return render(request, "customers/detail.html", context)


@login_required
@require_POST
def customer_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the clear contact details (audited); HTMX swaps them in place of the masked ones."""
    user = _user(request)
    customer = selectors.customer_get_for(user, pk=pk)
    revealed = services.contact_reveal(actor=user, customer=customer)
    template = "customers/_contacts_revealed.html" if _is_htmx(request) else "customers/reveal.html"
    return render(request, template, {"customer": customer, "revealed": revealed})


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick the duplicate by number, confirm on a side-by-side view, then merge (合并客户)."""
    user = _user(request)
    survivor = selectors.customer_get_for(user, pk=pk)
    form = MergeForm(request.POST or None)
    context: dict[str, Any] = {"survivor": survivor, "form": form}
    if request.method != "POST":
        return render(request, "customers/merge.html", context)
    if not form.is_valid():
        return render(request, "customers/merge.html", context, status=422)
    try:
        duplicate = selectors.customer_get_by_number_for(
            user, number=form.cleaned_data["duplicate_number"]
        )
    except Http404:
        form.add_error("duplicate_number", _("No live customer has that number."))
        return render(request, "customers/merge.html", context, status=422)
    context["duplicate"] = duplicate
    if request.POST.get("confirm") != "yes":
        return render(request, "customers/merge.html", context)
    try:
        services.customer_merge(
            actor=user, survivor=survivor, duplicate=duplicate, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return render(request, "customers/merge.html", context, status=422)
    messages.success(
        request,
        _("%(duplicate)s merged into %(survivor)s.")
        % {"duplicate": duplicate.number, "survivor": survivor.number},
    )
    return redirect("web:customer_detail", pk=survivor.pk)


# Where a tier service's error code belongs on the override form.
TIER_FIELDS = {
    "invalid_tier": "tier",
    "reason_required": "reason",
    "expiry_required": "expires_at",
    "expiry_in_past": "expires_at",
    "expiry_too_far": "expires_at",
}


@login_required
@permission_required("customers.view_tier_report", raise_exception=True)
def tier_report(request: HttpRequest) -> HttpResponse:
    """Customer value tiers (客户分类): shares of customers and of demand per tier, how each
    dimension spreads within the tiers, who moved (filter by source), overrides in force."""
    source = request.GET.get("source", "")
    if source not in TierChange.Source.values:
        source = ""
    report = selectors.tier_report(now=clock.now())
    changes = Paginator(selectors.tier_changes(source=source), TIER_CHANGES_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "report": report,
        "charts": selectors.tier_report_charts(report),
        "changes": changes,
        "source": source,
        "sources": TierChange.Source.choices,
        "overrides": selectors.tier_overrides_active()[:100],
    }
    return render(request, "customers/tiers.html", context)


@login_required
@permission_required("customers.set_tier", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_tier_override(request: HttpRequest, pk: int) -> HttpResponse:
    """A manager overrides the computed tier with a reason and an expiry (手动调整客户等级)."""
    user = _user(request)
    customer = selectors.customer_get_for(user, pk=pk)
    form = TierOverrideForm(request.POST or None, initial={"tier": customer.tier})
    context: dict[str, Any] = {
        "customer": customer,
        "form": form,
        "tier": selectors.customer_tier(customer),
    }
    if request.method != "POST":
        return render(request, "customers/tier_override.html", context)
    if not form.is_valid():
        return render(request, "customers/tier_override.html", context, status=422)
    try:
        services.customer_set_tier(actor=user, customer=customer, **form.cleaned_data)
    except ApplicationError as exc:
        form.add_error(TIER_FIELDS.get(exc.code), exc.message)
        return render(request, "customers/tier_override.html", context, status=422)
    messages.success(
        request,
        _("Tier of %(number)s set until %(expires)s.")
        % {
            "number": customer.number,
            "expires": timezone.localtime(form.cleaned_data["expires_at"]).strftime(
                "%Y-%m-%d %H:%M"
            ),
        },
    )
    return redirect("web:customer_detail", pk=customer.pk)
