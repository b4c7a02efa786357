"""Reads of the customer file: scoped base query, caller recognition (客户辨识), search, timeline.

Every customer list and look-up starts from `customer_queryset_for`, so a record outside the
user's scope is simply not found (404), never leaked. Merged records are never listed: look-ups
that land on one follow `merged_into` to the surviving record.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.roles import Scope
from aftersales.accounts.selectors import user_scope
from aftersales.cases.models import Case, CaseEvent, Nature, SolutionType, Status
from aftersales.cases.selectors import case_queryset_for
from aftersales.catalog.models import Unit
from aftersales.catalog.selectors import WarrantyStatus, warranty_status
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent

from .contacts import contact_lookup_hash, email_normalize, phone_e164
from .models import Channel, ContactPoint, Customer, Tier


def customer_queryset_for(user: User, *, include_merged: bool = False) -> QuerySet[Customer]:
    """Live (not merged) customers the user may see; merged records too if asked.

    Desk roles see every customer, because an agent must recognise any caller; technicians
    (own scope) see only the customers of cases assigned to them; without
    `customers.view_customer` nothing.
    """
    if not user.has_perm("customers.view_customer"):
        return Customer.objects.none()
    scope = user_scope(user)
    qs = Customer.objects.all()
    if not include_merged:
        qs = qs.filter(merged_into__isnull=True)
    if scope == Scope.NONE:
        return qs.none()
    if scope == Scope.OWN:
        return qs.filter(pk__in=Case.objects.filter(assignee=user).values("customer_id"))
    return qs


def _units_prefetch() -> "Prefetch[Literal['units'], QuerySet[Unit], str]":
    return Prefetch(
        "units",
        queryset=Unit.objects.select_related("model__line").order_by("-purchase_date", "id"),
    )


def customer_get_for(user: User, *, pk: int, include_merged: bool = False) -> Customer:
    """One customer within the user's scope with contacts, addresses and units; else 404."""
    customer = (
        customer_queryset_for(user, include_merged=include_merged)
        .prefetch_related("contacts", "addresses", _units_prefetch())
        .filter(pk=pk)
        .first()
    )
    if customer is None:
        raise Http404("No such customer.")
    return customer


def customer_get_by_number_for(user: User, *, number: str) -> Customer:
    """One live customer by its `C...` number within the user's scope; else 404."""
    customer = customer_queryset_for(user).filter(number__iexact=number.strip()).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def _customer_ids_by_contact(*, kind: str, value: str) -> set[int]:
    """Ids of live customers holding a normalised phone or e-mail, via the blind index.

    A contact left on a merged record still identifies the caller: it answers with the survivor.
    """
    contacts = ContactPoint.objects.filter(
        kind=kind, lookup_hash=contact_lookup_hash(kind=kind, value=value)
    ).values_list("customer_id", "customer__merged_into")
    return {merged_into or customer_id for customer_id, merged_into in contacts}


def _customers_with_units(user: User, ids: Iterable[int]) -> list[Customer]:
    return list(
        customer_queryset_for(user)
        .filter(pk__in=list(ids))
        .prefetch_related("contacts", _units_prefetch())
        .order_by("name", "id")
    )


@dataclass(frozen=True)
class CallerMatch:
    """Who is calling: the normalised number and every customer known under it."""

    phone_e164: str
    customers: list[Customer]


def customers_by_phone(*, user: User, raw: str) -> CallerMatch:
    """Recognise a caller from a number in any usual form (`+86 138...`, `0755-...`, `0086...`).

    Raises `invalid_phone` (422) when `raw` is not a phone number.
    """
    e164 = phone_e164(raw)
    ids = _customer_ids_by_contact(kind=ContactPoint.Kind.PHONE, value=e164)
    return CallerMatch(phone_e164=e164, customers=_customers_with_units(user, ids))


def customers_by_email(*, user: User, raw: str) -> list[Customer]:
    """Customers known under an e-mail address (any case); `invalid_email` (422) on garbage."""
    ids = _customer_ids_by_contact(kind=ContactPoint.Kind.EMAIL, value=email_normalize(raw))
    return _customers_with_units(user, ids)


def customer_search(*, user: User, q: str) -> QuerySet[Customer]:
    """Customers matching `q`: number, name or company, a phone number, or an e-mail address.

    Contacts are encrypted, so phones and e-mails match exactly (blind index), never partially.
    An empty `q` lists the newest customers.
    """
    qs = customer_queryset_for(user).prefetch_related("contacts")
    text = q.strip()
    if not text:
        return qs.order_by("-created_at", "-id")
    condition = Q(number__iexact=text) | Q(name__icontains=text) | Q(company_name__icontains=text)
    try:
        if "@" in text:
            ids = _customer_ids_by_contact(
                kind=ContactPoint.Kind.EMAIL, value=email_normalize(text)
            )
        else:
            ids = _customer_ids_by_contact(kind=ContactPoint.Kind.PHONE, value=phone_e164(text))
        condition |= Q(pk__in=ids)
    except ApplicationError:
        pass  # not a phone number or e-mail address: the text search alone answers
    return qs.filter(condition).order_by("name", "id")


def customer_cases_for(*, user: User, customer: Customer) -> QuerySet[Case]:
    """The customer's cases the user may see, newest first."""
    return (
        case_queryset_for(user)
        .filter(customer=customer)
        .select_related("unit__model", "team", "assignee")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class UnitWithWarranty:
    """A registered unit with its warranty position on a given day (保修状态)."""

    unit: Unit
    warranty: WarrantyStatus


def customer_units(customer: Customer, *, on: dt.date) -> list[UnitWithWarranty]:
    """The customer's registered units (as prefetched) with their warranty position."""
    return [
        UnitWithWarranty(unit=u, warranty=warranty_status(u, on=on)) for u in customer.units.all()
    ]


@dataclass(frozen=True)
class TimelineItem:
    """One line of the customer's contact timeline (接触历史)."""

    time: dt.datetime
    kind: str  # "case.<event kind>" or the audit action, e.g. "customer.merged"
    actor: str
    case_number: str
    text: str


def _choice(choices: Any, code: str) -> str:
    """The translated label of a stored code (codes stay stable; labels follow the language)."""
    return str(choices(code).label) if code in choices.values else code


def _case_event_text(event: CaseEvent) -> str:
    label = str(CaseEvent.Kind(event.kind).label) if event.kind in CaseEvent.Kind.values else ""
    if event.kind == CaseEvent.Kind.STATUS:
        return f"{label}: {_choice(Status, event.from_status)} → {_choice(Status, event.to_status)}"
    if event.kind == CaseEvent.Kind.CLASSIFIED:
        after = event.data.get("after", {})
        return f"{label}: {_choice(Nature, after.get('nature', ''))}"
    if event.kind == CaseEvent.Kind.SOLUTION:
        solution = _choice(SolutionType, event.data.get("solution_type", ""))
        return f"{label}: {solution} {event.body.strip()[:300]}".strip()
    if event.kind == CaseEvent.Kind.MERGED:
        return _("Moved here from customer %(number)s") % {
            "number": event.data.get("from_customer", "")
        }
    body = event.body.strip()
    detail = " · ".join(
        p
        for p in (_choice(Channel, event.channel), _choice(CaseEvent.Direction, event.direction))
        if p
    )
    parts = [label, f"({detail})" if detail else "", body[:300]]
    return " ".join(p for p in parts if p)


def _audit_text(event: AuditEvent) -> str:
    data = event.data
    if event.action == "customer.created":
        return _("Customer file opened")
    if event.action == "customer.contact_revealed":
        return _("Full contact details revealed")
    if event.action == "customer.merged":
        text = _("Duplicate %(duplicate)s merged into %(survivor)s") % {
            "duplicate": data.get("duplicate", ""),
            "survivor": data.get("survivor", ""),
        }
        return f"{text}: {data['reason']}" if data.get("reason") else text
    if event.action == "customer.tier_changed":
        return _("Tier changed from %(before)s to %(after)s: %(reason)s") % {
            "before": _choice(Tier, data.get("before", "")),
            "after": _choice(Tier, data.get("after", "")),
            "reason": data.get("reason", ""),
        }
    if event.action == "customer.updated":
        return _("Details changed: %(fields)s") % {"fields": ", ".join(data.get("fields", []))}
    if event.action == "customer.contact_added":
        return _("Contact added (%(kind)s)") % {"kind": data.get("kind", "")}
    if event.action == "customer.contact_removed":
        return _("Contact removed (%(kind)s)") % {"kind": data.get("kind", "")}
    if event.action == "customer.address_added":
        return _("Address added: %(region)s") % {"region": data.get("region", "")}
    return event.action


def customer_timeline(*, user: User, customer: Customer) -> list[TimelineItem]:
    """Everything that happened with a customer, oldest first.

    Merges the events of the customer's cases the user may see with the customer's own audit
    trail (opened, changes, reveals, tier changes, merges), including that of records merged
    into this one.
    """
    events = (
        CaseEvent.objects.filter(case__in=case_queryset_for(user).filter(customer=customer))
        .select_related("case", "actor")
        .order_by("occurred_at", "id")
    )
    record_ids = [customer.pk, *customer.merged_from.values_list("pk", flat=True)]
    audits = (
        AuditEvent.objects.filter(entity="customer", entity_id__in=record_ids)
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
    system = _("system")
    items = [
        TimelineItem(
            time=e.occurred_at,
            kind=f"case.{e.kind}",
            actor=e.actor.label if e.actor else system,
            case_number=e.case.number,
            text=_case_event_text(e),
        )
        for e in events
    ] + [
        TimelineItem(
            time=a.occurred_at,
            kind=a.action,
            actor=a.actor.label if a.actor else system,
            case_number="",
            text=_audit_text(a),
        )
        for a in audits
    ]
    # Stable sort: at equal times case events stay before the audit rows they caused.
    return sorted(items, key=lambda item: item.time)
