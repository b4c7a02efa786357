"""Reads of cases: the scoped base query every list and object goes through, queue, timeline."""

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role, Scope
from aftersales.accounts.selectors import (
    user_led_team_ids,
    user_region_team_ids,
    user_roles,
    user_scope,
    user_team_ids,
)
from aftersales.catalog.models import Unit
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.phones import normalize_phone
from aftersales.customers.contacts import customer_name_condition
from aftersales.customers.models import ContactPoint, Customer

from .models import OPEN_STATUSES, Case, CaseEvent, Status
from .workflow import TRANSITIONS, allowed_actions


def case_queryset_for(user: User) -> QuerySet[Case]:
    """Cases the user may see: own (assigned), team, led teams, region or all, by widest role.

    Every case list and every case look-up starts here, so a case outside the scope is simply
    not found (404), never leaked.
    """
    scope = user_scope(user)
    qs = Case.objects.all()
    if scope == Scope.ALL:
        return qs
    if scope == Scope.LED_TEAMS:
        visible = Q(team_id__in=user_led_team_ids(user)) | Q(assignee=user)
    elif scope == Scope.REGION:
        visible = Q(team_id__in=user_region_team_ids(user)) | Q(assignee=user)
    elif scope == Scope.TEAM:
        visible = Q(team_id__in=user_team_ids(user)) | Q(assignee=user)
    elif scope == Scope.OWN:
        visible = Q(assignee=user)
    else:
        return qs.none()
    if Role.CALLBACK_AGENT.value in user_roles(user):
        # The callback team follows up (回访) every resolved case, whichever team solved it.
        visible |= Q(status=Status.RESOLVED)
    return qs.filter(visible)


def case_get_for(user: User, *, number: str) -> Case:
    """One case by number within the user's scope; raises Case.DoesNotExist otherwise."""
    return (
        case_queryset_for(user)
        .select_related("customer", "unit__model__line", "team", "assignee", "product_line")
        .get(number=number)
    )


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    """Every event and contact of a case, oldest first, with actors."""
    return case.events.select_related("actor").order_by("occurred_at", "id")


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page and the list API filter on; empty values mean 'any'."""

    status: str = ""
    nature: str = ""
    urgency: str = ""
    channel: str = ""
    team: int | None = None
    assignee: int | None = None
    product_line: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    open_only: bool = False


CASE_NUMBER = re.compile(r"^SR\d{6,}$", re.IGNORECASE)


def case_queue(user: User, filters: QueueFilters) -> QuerySet[Case]:
    """The scoped, filtered queue, most urgent first, then oldest first.

    `q` finds a case number, a customer's phone number (through the blind index), a serial
    number, or a customer name.
    """
    qs = case_queryset_for(user).select_related(
        "customer", "team", "assignee", "product_line", "unit"
    )
    if filters.status == "open" or filters.open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    for field in ("nature", "urgency", "channel"):
        value = getattr(filters, field)
        if value:
            qs = qs.filter(**{field: value})
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.assignee:
        qs = qs.filter(assignee_id=filters.assignee)
    if filters.product_line:
        qs = qs.filter(product_line_id=filters.product_line)
    tz = timezone.get_current_timezone()
    # The calendar's first and last days bound nothing (and their midnights overflow in UTC).
    if filters.date_from and filters.date_from > dt.date.min:
        qs = qs.filter(created_at__gte=dt.datetime.combine(filters.date_from, dt.time(), tz))
    if filters.date_to and filters.date_to < dt.date.max:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tz)
        qs = qs.filter(created_at__lt=end)
    if filters.q.strip():
        qs = qs.filter(_search(filters.q.strip()))
    return qs.order_by("priority", "created_at", "id")


def _search(q: str) -> Q:
    # Each kind of key is an indexed look-up in its own table; the case query only tests ids,
    # so no join over all cases is needed (fast at 100,000 cases on PostgreSQL too).
    if CASE_NUMBER.match(q):
        return Q(number=q.upper())
    condition = Q(unit_id__in=Unit.objects.filter(serial_number=q.upper()).values("id"))
    if sum(ch.isdigit() for ch in q) >= 7:
        try:
            e164 = normalize_phone(q)
        except ApplicationError:
            pass
        else:
            digest = blind_index(e164, purpose="phone")
            condition |= Q(
                customer_id__in=ContactPoint.objects.filter(
                    kind=ContactPoint.Kind.PHONE, lookup_hash=digest
                ).values("customer_id")
            )
            return condition
    # Names are encrypted: a full name or a surname matches through its blind index.
    customers = Customer.objects.filter(customer_name_condition(q) | Q(number=q.upper()))
    return condition | Q(customer_id__in=customers.values("id"))


def case_allowed_actions(user: User, case: Case) -> list[str]:
    """Lifecycle actions the user may apply to the case now (for the case page's buttons)."""
    actions = []
    for action in allowed_actions(case.status):
        transition = TRANSITIONS[action]
        if not user.has_perm(transition.permission):
            continue
        if (
            action == "start"
            and case.assignee_id != user.pk
            and not user.has_perm("cases.reassign_case")
        ):
            continue
        actions.append(action)
    return actions


@dataclass(frozen=True)
class CaseMetrics:
    """Figures derived from the event stream of one case."""

    first_response: dt.timedelta | None
    resolution: dt.timedelta | None
    contacts: int
    reassignments: int


def case_metrics(case: Case) -> CaseMetrics:
    """Response and resolution times and counts, derived from the case's events."""
    events = list(case.events.all())
    resolved = [e.occurred_at for e in events if e.kind == "status" and e.to_status == "resolved"]
    first_out = [e.occurred_at for e in events if e.kind == "contact" and e.direction == "out"]
    return CaseMetrics(
        first_response=(min(first_out) - case.created_at) if first_out else None,
        resolution=(resolved[-1] - case.created_at) if resolved and case.resolved_at else None,
        contacts=sum(1 for e in events if e.kind in ("contact", "created")),
        reassignments=max(0, sum(1 for e in events if e.kind == "assigned") - 1),
    )
