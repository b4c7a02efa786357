"""Reads of the customer file: scoped base query, caller recognition (客户辨识), search, timeline.

Every customer list and look-up starts from `customer_queryset_for`, so a record outside the
user's scope is simply not found (404), never leaked. Merged records are never listed: look-ups
that land on one follow `merged_into` to the surviving record.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
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
from aftersales.privacy.models import ErasureReason, Purpose

from .contacts import contact_lookup_hash, customer_name_condition, email_normalize, phone_e164
from .models import (
    Channel,
    ContactPoint,
    Customer,
    Tier,
    TierChange,
    TierOverride,
    TierPolicy,
    TierRun,
    TierScore,
)
from .tiers import DIMENSIONS, Activity


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
        .order_by("number")
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
    """Customers matching `q`: number, full name or surname, part of a company name, a phone
    number, or an e-mail address; by customer number.

    Names and contacts are encrypted, so they match exactly through their blind indexes (a
    name in full, or just its surname), never partially. An empty `q` lists the newest
    customers.
    """
    qs = customer_queryset_for(user).prefetch_related("contacts")
    text = q.strip()
    if not text:
        return qs.order_by("-created_at", "-id")
    condition = (
        Q(number__iexact=text) | customer_name_condition(text) | Q(company_name__icontains=text)
    )
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
    # Names are encrypted, so the database cannot sort by them; the number is stable and short.
    return qs.filter(condition).order_by("number")


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
    if event.action == "customer.tier_override_set":
        return _("Tier %(tier)s confirmed by a manager until %(expires)s: %(reason)s") % {
            "tier": _choice(Tier, data.get("after", "")),
            "expires": data.get("expires_at", "")[:10],
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
    if event.action.startswith("privacy."):
        return _privacy_audit_text(event)
    return event.action


def _privacy_audit_text(event: AuditEvent) -> str:
    data = event.data
    if event.action == "privacy.consent_recorded":
        purposes = data.get("purposes") or [data.get("purpose", "")]
        return (
            _("Consent granted: %(purposes)s")
            if data.get("granted")
            else _("Consent withdrawn: %(purposes)s")
        ) % {"purposes": ", ".join(_choice(Purpose, p) for p in purposes)}
    if event.action == "privacy.export":
        return _("All personal data exported")
    if event.action == "privacy.erased":
        return _("Personal data erased: %(reason)s") % {
            "reason": _choice(ErasureReason, data.get("reason", ""))
        }
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
        # Who looked at the file is for the audit search, not the customer's story.
        .exclude(action="personal_data.viewed")
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


# --- value tiers (客户分类管理) -------------------------------------------------------------------


def tier_policy_active() -> TierPolicy | None:
    """The policy tiers are computed under (one active row), if any."""
    return TierPolicy.objects.filter(is_active=True).first()


@dataclass(frozen=True)
class TierWindows:
    """Where the dimensions are counted: usage and feedback since `usage_since`, purchases on
    or after `purchase_since`, both up to `until`."""

    usage_since: dt.datetime
    purchase_since: dt.date
    until: dt.datetime


def tier_windows(policy: TierPolicy, *, now: dt.datetime) -> TierWindows:
    local = timezone.localtime(now)
    return TierWindows(
        usage_since=local - relativedelta(months=policy.lookback_months),
        purchase_since=(local - relativedelta(months=policy.purchase_lookback_months)).date(),
        until=now,
    )


def _per_customer(rows: Iterable[tuple[int | None, Any]]) -> dict[int, Any]:
    return {customer_id: value for customer_id, value in rows if customer_id is not None}


def tier_activities(
    *, policy: TierPolicy, now: dt.datetime, customer_ids: Sequence[int] | None = None
) -> dict[int, Activity]:
    """Each live customer's raw values in the three tier dimensions (all of them, or `ids`).

    One grouped query per signal, so the whole customer base costs a handful of queries.
    """
    windows = tier_windows(policy, now=now)
    live = Customer.objects.filter(merged_into__isnull=True, created_at__lte=now)
    units = Unit.objects.filter(
        customer__isnull=False,
        purchase_date__gte=windows.purchase_since,
        purchase_date__lte=timezone.localtime(now).date(),
    )
    cases = Case.objects.filter(created_at__gte=windows.usage_since, created_at__lte=now)
    contacts = CaseEvent.objects.filter(
        kind=CaseEvent.Kind.CONTACT,
        direction=CaseEvent.Direction.INBOUND,
        occurred_at__gte=windows.usage_since,
        occurred_at__lte=now,
    )
    if customer_ids is not None:
        ids = list(customer_ids)
        live = live.filter(pk__in=ids)
        units = units.filter(customer_id__in=ids)
        cases = cases.filter(customer_id__in=ids)
        contacts = contacts.filter(case__customer_id__in=ids)
    purchase = _per_customer(
        units.order_by()
        .values("customer_id")
        .annotate(v=Sum("purchase_amount"))
        .values_list("customer_id", "v")
    )
    opened = _per_customer(
        cases.order_by()
        .values("customer_id")
        .annotate(v=Count("id"))
        .values_list("customer_id", "v")
    )
    inbound = _per_customer(
        contacts.order_by()
        .values("case__customer_id")
        .annotate(v=Count("id"))
        .values_list("case__customer_id", "v")
    )
    useful = _per_customer(
        cases.filter(useful_feedback=True)
        .order_by()
        .values("customer_id")
        .annotate(v=Count("id"))
        .values_list("customer_id", "v")
    )
    # Product usage telemetry adds to `usage` and answered surveys to `feedback` here, each as
    # one more {customer_id: count} mapping over the same window, once their modules record them.
    return {
        pk: Activity(
            purchase=Decimal(purchase.get(pk) or 0),
            usage=opened.get(pk, 0) + inbound.get(pk, 0),
            feedback=useful.get(pk, 0),
        )
        for pk in live.order_by("pk").values_list("pk", flat=True)
    }


@dataclass(frozen=True)
class TierShare:
    """One tier's share of the customers and of the after-sales demand (cases)."""

    tier: str
    label: str
    customers: int
    customer_share: float  # 0..1
    cases: int
    case_share: float  # 0..1

    @property
    def customer_percent(self) -> float:
        return round(100 * self.customer_share, 1)

    @property
    def case_percent(self) -> float:
        return round(100 * self.case_share, 1)


@dataclass(frozen=True)
class Spread:
    """Five-number summary and mean of one dimension within one tier."""

    tier: str
    count: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    mean: float


@dataclass(frozen=True)
class TierReport:
    """The tier report (分层报表): who is in which tier and how much demand each tier brings."""

    generated_at: dt.datetime
    cases_since: dt.datetime
    customers: int
    cases: int
    shares: list[TierShare]
    spreads: dict[str, list[Spread]]  # dimension → one spread per tier
    policy: TierPolicy | None
    last_run: TierRun | None
    overrides_active: int


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values."""
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _spread(tier: str, values: list[float]) -> Spread:
    ordered = sorted(values)
    return Spread(
        tier=tier,
        count=len(ordered),
        minimum=ordered[0] if ordered else 0.0,
        q1=_quantile(ordered, 0.25),
        median=_quantile(ordered, 0.5),
        q3=_quantile(ordered, 0.75),
        maximum=ordered[-1] if ordered else 0.0,
        mean=sum(ordered) / len(ordered) if ordered else 0.0,
    )


def tier_report(*, now: dt.datetime, case_months: int = 12) -> TierReport:
    """Customers and cases of the last `case_months` by the customers' current tier, and the
    spread of each tier dimension (last computed raw values) within each tier."""
    cases_since = timezone.localtime(now) - relativedelta(months=case_months)
    live = Customer.objects.filter(merged_into__isnull=True)
    by_tier = dict(live.order_by().values("tier").annotate(n=Count("id")).values_list("tier", "n"))
    demand = dict(
        Case.objects.filter(
            created_at__gte=cases_since, created_at__lte=now, customer__merged_into__isnull=True
        )
        .order_by()
        .values("customer__tier")
        .annotate(n=Count("id"))
        .values_list("customer__tier", "n")
    )
    customers, cases = sum(by_tier.values()), sum(demand.values())
    shares = [
        TierShare(
            tier=str(tier),
            label=str(tier.label),
            customers=by_tier.get(tier, 0),
            customer_share=by_tier.get(tier, 0) / customers if customers else 0.0,
            cases=demand.get(tier, 0),
            case_share=demand.get(tier, 0) / cases if cases else 0.0,
        )
        for tier in (Tier.VIP, Tier.REGULAR, Tier.LOW)
    ]
    values: dict[str, dict[str, list[float]]] = {d: defaultdict(list) for d in DIMENSIONS}
    scores = TierScore.objects.filter(customer__merged_into__isnull=True).values_list(
        "customer__tier", "purchase_amount", "usage_count", "feedback_count"
    )
    for tier, purchase, usage, feedback in scores.iterator(chunk_size=5000):
        values["purchase"][tier].append(float(purchase))
        values["usage"][tier].append(float(usage))
        values["feedback"][tier].append(float(feedback))
    spreads = {
        d: [_spread(str(t), values[d].get(t, [])) for t in (Tier.VIP, Tier.REGULAR, Tier.LOW)]
        for d in DIMENSIONS
    }
    return TierReport(
        generated_at=now,
        cases_since=cases_since,
        customers=customers,
        cases=cases,
        shares=shares,
        spreads=spreads,
        policy=tier_policy_active(),
        last_run=TierRun.objects.filter(finished_at__isnull=False).first(),
        overrides_active=TierOverride.objects.filter(ended_at__isnull=True).count(),
    )


def tier_report_charts(report: TierReport) -> dict[str, dict[str, Any]]:
    """The report's charts as `web/charts.js` reads them: the share of customers beside the share
    of demand per tier (percent), and one box plot per dimension."""
    tiers = [s.label for s in report.shares]
    titles = {
        "purchase": _("Purchase amount per customer (CNY)"),
        "usage": _("Cases and inbound contacts per customer"),
        "feedback": _("Useful feedback per customer"),
    }
    charts: dict[str, dict[str, Any]] = {
        "shares": {
            "title": _("Share of customers and of after-sales demand by tier"),
            "categories": tiers,
            "unit": "%",
            "max": 100,
            "series": [
                {
                    "name": _("Customers"),
                    "values": [s.customer_percent for s in report.shares],
                },
                {
                    "name": _("Cases, last 12 months"),
                    "values": [s.case_percent for s in report.shares],
                },
            ],
        }
    }
    for d in DIMENSIONS:
        spreads = report.spreads[d]
        charts[d] = {
            "title": titles[d],
            "categories": tiers,
            "boxes": [
                [round(x, 2) for x in (s.minimum, s.q1, s.median, s.q3, s.maximum)] for s in spreads
            ],
            "means": [round(s.mean, 2) for s in spreads],
            "meanLabel": _("Mean"),
        }
    return charts


def tier_changes(*, source: str = "", customer: Customer | None = None) -> QuerySet[TierChange]:
    """Tier moves, newest first, optionally of one source or one customer."""
    qs = TierChange.objects.select_related("customer", "actor").order_by("-occurred_at", "-id")
    if source:
        qs = qs.filter(source=source)
    if customer is not None:
        qs = qs.filter(customer=customer)
    return qs


def tier_overrides_active() -> QuerySet[TierOverride]:
    """Overrides in force, soonest to expire first."""
    return (
        TierOverride.objects.filter(ended_at__isnull=True)
        .select_related("customer", "set_by")
        .order_by("expires_at", "id")
    )


def _score_text(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):.3f}"
    except ArithmeticError:
        return str(value)


def tier_change_text(change: TierChange) -> str:
    """Why a customer moved, in the reader's language, from the change's stable code."""
    p = change.params
    if change.reason_code == "score":
        if change.after == Tier.VIP:
            return _("Score %(score)s reached the VIP cut-off %(cutoff)s") % {
                "score": _score_text(p.get("score")),
                "cutoff": _score_text(p.get("vip_cutoff")),
            }
        if change.after == Tier.LOW:
            return _("Score %(score)s at or below the low cut-off %(cutoff)s") % {
                "score": _score_text(p.get("score")),
                "cutoff": _score_text(p.get("low_cutoff")),
            }
        return _("Score %(score)s between the low cut-off %(low)s and the VIP cut-off %(vip)s") % {
            "score": _score_text(p.get("score")),
            "low": _score_text(p.get("low_cutoff")),
            "vip": _score_text(p.get("vip_cutoff")),
        }
    if change.reason_code == "override":
        return _("Manager override until %(expires)s: %(reason)s") % {
            "expires": str(p.get("expires_at", ""))[:10],
            "reason": change.reason,
        }
    if change.reason_code == "override_expired":
        return _("Override expired; the computed tier applies again (score %(score)s)") % {
            "score": _score_text(p.get("score")),
        }
    if change.reason_code == "initial":
        return _("Tier chosen when the customer file was opened")
    return change.reason or change.reason_code


@dataclass(frozen=True)
class CustomerTier:
    """A customer's tier position: last score, the override in force, recent moves."""

    score: TierScore | None
    override: TierOverride | None
    changes: list[TierChange]


def customer_tier(customer: Customer, *, changes: int = 10) -> CustomerTier:
    return CustomerTier(
        score=TierScore.objects.filter(customer=customer).first(),
        override=TierOverride.objects.filter(customer=customer, ended_at__isnull=True)
        .select_related("set_by")
        .first(),
        changes=list(tier_changes(customer=customer)[:changes]),
    )
