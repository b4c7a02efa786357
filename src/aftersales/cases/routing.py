"""Routing (智能分派): which team and which person a case goes to, and why.

Rules (`RoutingRule`) are tried by rank; the first active rule whose criteria all match decides
the team. VIP cases go to senior agents of the VIP desk, complaints to the complaints desk,
regular cases to the front-line desk of the customer's region, and low-value usage and software
questions first to self-service and remote guidance for a few working hours.

Within the team, the case goes to the qualified member who is on shift (working hours of their
calendar, no absence, not set away) with the least open work. Open work is weighted by priority,
`5 - priority`: an urgent priority-1 case weighs 4, a priority-4 case 1, so one urgent case counts
like four routine ones. Equal work goes to the one who was given a case (routed or assigned) least
recently, then to the lowest id. When nobody is on shift the case waits in the team, and
`routing_sweep` gives it to the first person who comes on shift.

Every decision is a `routed` case event holding the rule, the criteria that matched, every
candidate with their work and availability, the person chosen and the reason, so a supervisor
sees why a case landed where it did; a supervisor's reassignment (`case_assign`) overrides it.

Concurrent routings into one team are serialised by locking the team row before workloads are
read, so a burst of cases really spreads across the team.
"""

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.accounts.models import Team, User
from aftersales.accounts.permissions import require_perm
from aftersales.accounts.selectors import (
    SpecsCache,
    default_work_calendar_code,
    team_member_availability,
)
from aftersales.core import clock
from aftersales.core.business_time import add_working_time
from aftersales.core.calendars import calendar_spec
from aftersales.core.errors import ApplicationError
from aftersales.core.models import BusinessCalendar
from aftersales.customers.models import Customer, Tier

from .models import OPEN_STATUSES, Case, CaseEvent, Region, RoutingRule, Status
from .services import _lock, _set_status, case_event_record
from .workflow import ASSIGN_KEEPS_STATUS, ASSIGN_SOURCES

# Provinces of mainland China (省级行政区) by region (大区), in their short names.
PROVINCE_REGIONS: dict[str, str] = {
    **dict.fromkeys(["北京", "天津", "河北", "山西", "内蒙古"], Region.NORTH),
    **dict.fromkeys(["辽宁", "吉林", "黑龙江"], Region.NORTHEAST),
    **dict.fromkeys(["上海", "江苏", "浙江", "安徽", "福建", "江西", "山东"], Region.EAST),
    **dict.fromkeys(["河南", "湖北", "湖南"], Region.CENTRAL),
    **dict.fromkeys(["广东", "广西", "海南"], Region.SOUTH),
    **dict.fromkeys(["重庆", "四川", "贵州", "云南", "西藏"], Region.SOUTHWEST),
    **dict.fromkeys(["陕西", "甘肃", "青海", "宁夏", "新疆"], Region.NORTHWEST),
}
# Longest first: "广西壮族自治区" must lose "壮族自治区", not just "自治区".
_PROVINCE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "省",
    "市",
)

MATCH_FIELDS = ("case_kind", "tier", "nature", "product_line", "channel", "region")
# Who was given a case in this window counts for the "least recently" tie-break.
RECENT_ASSIGNMENT_WINDOW = dt.timedelta(days=30)
SWEEP_BATCH = 20
# A case waiting for these outcomes is retried by the sweep when someone comes on shift.
RETRY_REASONS = ("nobody_available", "nobody_qualified")


class Reason(StrEnum):
    """The outcome of a routing decision (stable codes, stored in the event)."""

    LEAST_LOADED = "least_loaded"  # given to the available member with the least open work
    SELF_SERVICE_EXPIRED = "self_service_expired"  # self-service time is up: given to a person
    SELF_SERVICE_FIRST = "self_service_first"  # self-service and remote guidance first
    NOBODY_AVAILABLE = "nobody_available"  # qualified members exist, none on shift now
    NOBODY_QUALIFIED = "nobody_qualified"  # no member has the seniority or role asked for
    NO_RULE = "no_rule"  # no active rule matched (or none could find a team)


REASON_LABELS = {
    Reason.LEAST_LOADED: gettext_lazy("Given to the member on shift with the least open work"),
    Reason.SELF_SERVICE_EXPIRED: gettext_lazy(
        "Self-service time is up: given to the member on shift with the least open work"
    ),
    Reason.SELF_SERVICE_FIRST: gettext_lazy(
        "Self-service and remote guidance first; a person takes over if still unresolved"
    ),
    Reason.NOBODY_AVAILABLE: gettext_lazy(
        "Nobody in the team is on shift; waits in the team for the next one who is"
    ),
    Reason.NOBODY_QUALIFIED: gettext_lazy(
        "Nobody in the team has the seniority or role the rule asks for"
    ),
    Reason.NO_RULE: gettext_lazy("No routing rule matched"),
}


class Trigger(StrEnum):
    """What started the routing."""

    ROUTE = "route"  # intake, re-classification or a person asking for it
    SELF_SERVICE_EXPIRED = "self_service_expired"  # the sweep, when self-service time is up
    RETRY = "retry"  # the sweep, when someone came on shift for a waiting case


@dataclass(frozen=True)
class Candidate:
    """A qualified member of the chosen team, with their open work and availability."""

    user: User
    open_cases: int
    workload: int  # open cases weighted by priority (5 - priority)
    last_assigned_at: dt.datetime | None
    unavailable: str  # "" when available, else an `accounts.selectors.Unavailable` code

    @property
    def available(self) -> bool:
        return not self.unavailable

    def as_data(self) -> dict[str, Any]:
        return {
            "user": self.user.pk,
            "name": self.user.label,
            "open": self.open_cases,
            "load": self.workload,
            "available": self.available,
            "unavailable": self.unavailable,
        }


@dataclass
class RoutingDecision:
    """Which rule matched and why, the team, every candidate, and the person chosen (or why not)."""

    rule: RoutingRule | None = None
    matched: dict[str, Any] = field(default_factory=dict)
    region: str = ""
    team: Team | None = None
    candidates: list[Candidate] = field(default_factory=list)
    chosen: User | None = None
    reason: str = Reason.NO_RULE
    trigger: str = Trigger.ROUTE
    self_service_until: dt.datetime | None = None
    # Rules that matched but were passed over: no active team of their target exists.
    skipped: list[RoutingRule] = field(default_factory=list)

    @property
    def reason_label(self) -> str:
        return str(REASON_LABELS[Reason(self.reason)])

    def as_event_data(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule.pk if self.rule else None,
            "rule_name": self.rule.name if self.rule else "",
            "matched": self.matched,
            "region": self.region,
            "team": self.team.pk if self.team else None,
            "candidates": [c.as_data() for c in self.candidates],
            "chosen": self.chosen.pk if self.chosen else None,
            "reason": self.reason,
            "trigger": self.trigger,
            "self_service_until": (
                self.self_service_until.isoformat() if self.self_service_until else None
            ),
            "skipped_rules": [rule.pk for rule in self.skipped],
        }


# Regions


def _province_short(name: str) -> str:
    """The short name of a province (广东省 -> 广东, 广西壮族自治区 -> 广西); else the text."""
    name = name.strip()
    for suffix in _PROVINCE_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in PROVINCE_REGIONS:
            return name[: -len(suffix)]
    return name


def province_region(province: str) -> str:
    """The region (华南, 华北...) of a mainland province, in short or full name; "" if unknown."""
    return PROVINCE_REGIONS.get(_province_short(province), "")


def _as_region(text: str) -> str:
    """A team's region field holds a region (华南) or a province (广东): the region either way."""
    text = text.strip()
    return text if text in Region.values else province_region(text)


def customer_region(customer: Customer) -> tuple[str, str]:
    """(region, province) of the customer's default address (else their first); blanks if none."""
    address = customer.addresses.order_by("-is_default", "id").first()
    if address is None:
        return "", ""
    return province_region(address.province), _province_short(address.province)


# Deciding


@dataclass
class _Plan:
    decision: RoutingDecision
    self_service_hours: int | None = None


def _facts(case: Case, region: str) -> dict[str, Any]:
    return {
        "case_kind": case.kind,
        "tier": case.customer.tier,
        "nature": case.nature,
        "product_line": case.product_line_id,
        "channel": case.channel,
        "region": region,
    }


def rule_match(rule: RoutingRule, facts: dict[str, Any]) -> dict[str, Any] | None:
    """The criteria of `rule` that `facts` meet, with their values, or None if one fails.

    A blank criterion matches anything and is left out, so a catch-all rule matches with {}.
    """
    matched: dict[str, Any] = {}
    for name in MATCH_FIELDS:
        wanted = rule.product_line_id if name == "product_line" else getattr(rule, name)
        if wanted in ("", None):
            continue
        if facts[name] != wanted:
            return None
        matched[name] = wanted
    return matched


def _target_team(
    rule: RoutingRule, *, region: str, province: str, teams_by_kind: dict[str, list[Team]]
) -> Team | None:
    if rule.target_team_id is not None:
        team = rule.target_team
        return team if team is not None and team.is_active else None
    kind = rule.target_team_kind
    if kind not in teams_by_kind:
        teams_by_kind[kind] = list(Team.objects.filter(kind=kind, is_active=True).order_by("id"))
    teams = teams_by_kind[kind]
    if not teams:
        return None
    if province:
        # The most specific first: a team of the customer's own province.
        for team in teams:
            if team.region.strip() and _province_short(team.region) == province:
                return team
    if region:
        for team in teams:
            if _as_region(team.region) == region:
                return team
    for team in teams:
        if not team.region.strip():
            return team  # serves every region
    return teams[0]


def _plan(case: Case) -> _Plan:
    """The rule and the team, without looking at people (no locks needed)."""
    region, province = customer_region(case.customer)
    if not region and case.team is not None:
        region = _as_region(case.team.region)
    decision = RoutingDecision(region=region)
    facts = _facts(case, region)
    teams_by_kind: dict[str, list[Team]] = {}
    rules = RoutingRule.objects.filter(is_active=True).select_related("target_team")
    for rule in rules.order_by("rank", "id"):
        matched = rule_match(rule, facts)
        if matched is None:
            continue
        team = _target_team(rule, region=region, province=province, teams_by_kind=teams_by_kind)
        if team is None:
            decision.skipped.append(rule)
            continue
        decision.rule, decision.matched, decision.team = rule, matched, team
        return _Plan(decision, rule.self_service_hours)
    return _Plan(decision)


def _self_service_used(case: Case) -> bool:
    return case.events.filter(
        kind=CaseEvent.Kind.ROUTED, data__reason=Reason.SELF_SERVICE_FIRST
    ).exists()


def _self_service_until(start: dt.datetime, hours: int) -> dt.datetime:
    calendar = BusinessCalendar.objects.filter(code=default_work_calendar_code()).first()
    if calendar is None:
        return start + dt.timedelta(hours=hours)
    return add_working_time(calendar_spec(calendar), start, dt.timedelta(hours=hours))


def _candidates(
    team: Team, *, rule: RoutingRule, at: dt.datetime, specs_cache: SpecsCache
) -> list[Candidate]:
    members = team_member_availability(
        team,
        at,
        min_seniority=rule.min_seniority or None,
        role=rule.required_role or None,
        specs_cache=specs_cache,
    )
    ids = [m.user.pk for m in members]
    loads = {
        row["assignee_id"]: (row["n"], row["load"])
        for row in Case.objects.filter(assignee_id__in=ids, status__in=OPEN_STATUSES)
        .values("assignee_id")
        .annotate(
            n=Count("id"),
            load=Sum(Value(5) - F("priority"), output_field=IntegerField()),
        )
    }
    last_given = _last_given(ids, at=at)
    return [
        Candidate(
            user=m.user,
            open_cases=loads.get(m.user.pk, (0, 0))[0],
            workload=loads.get(m.user.pk, (0, 0))[1] or 0,
            last_assigned_at=last_given.get(m.user.pk),
            unavailable=m.unavailable,
        )
        for m in members
    ]


def _last_given(user_ids: list[int], *, at: dt.datetime) -> dict[int, dt.datetime]:
    """When each user was last given a case (routed or assigned to them), within the window."""
    if not user_ids:
        return {}
    rows = (
        CaseEvent.objects.filter(
            kind__in=[CaseEvent.Kind.ROUTED, CaseEvent.Kind.ASSIGNED],
            occurred_at__gte=at - RECENT_ASSIGNMENT_WINDOW,
            data__to_assignee__in=user_ids,
        )
        .values("data__to_assignee")
        .annotate(last=Max("occurred_at"))
    )
    return {int(row["data__to_assignee"]): row["last"] for row in rows}


def _choose(candidates: list[Candidate]) -> Candidate | None:
    available = [c for c in candidates if c.available]
    if not available:
        return None
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    return min(available, key=lambda c: (c.workload, c.last_assigned_at or never, c.user.pk))


def _finish(
    case: Case, plan: _Plan, *, at: dt.datetime, trigger: str, specs_cache: SpecsCache
) -> RoutingDecision:
    """Add the people to a plan: self-service first, or the best available candidate."""
    decision = plan.decision
    decision.trigger = trigger
    if decision.team is None or decision.rule is None:
        decision.reason = Reason.NO_RULE
        return decision
    self_service = bool(plan.self_service_hours) and case.customer.tier == Tier.LOW
    until = case.self_service_until
    expired = until is not None and until <= at
    if self_service and until is not None and not expired:
        decision.reason = Reason.SELF_SERVICE_FIRST  # still within its time
        decision.self_service_until = until
        return decision
    if self_service and until is None and not _self_service_used(case):
        decision.reason = Reason.SELF_SERVICE_FIRST
        decision.self_service_until = _self_service_until(at, plan.self_service_hours or 0)
        return decision
    # Otherwise a person: self-service time is up, was used before, or the case (e.g. after a
    # new classification) no longer matches a self-service rule.
    decision.candidates = _candidates(
        decision.team, rule=decision.rule, at=at, specs_cache=specs_cache
    )
    best = _choose(decision.candidates)
    if best is not None:
        decision.chosen = best.user
        decision.reason = Reason.SELF_SERVICE_EXPIRED if expired else Reason.LEAST_LOADED
    elif decision.candidates:
        decision.reason = Reason.NOBODY_AVAILABLE
    else:
        decision.reason = Reason.NOBODY_QUALIFIED
    return decision


def route_decide(case: Case, *, at: dt.datetime) -> RoutingDecision:
    """Where `case` would be routed at `at`, and why; reads only, changes nothing."""
    plan = _plan(case)
    return _finish(case, plan, at=at, trigger=Trigger.ROUTE, specs_cache={})


# Writing


def _lock_teams(team_ids: set[int]) -> None:
    """Lock team rows in pk order: routings into one team wait for each other (no deadlocks)."""
    if team_ids:
        list(Team.objects.select_for_update().filter(pk__in=team_ids).order_by("pk"))


def _apply(case: Case, decision: RoutingDecision, *, actor: User | None, now: dt.datetime) -> None:
    """Write the decision on the locked case: team, person, status, self-service, event."""
    data = decision.as_event_data()
    data.update(from_team=case.team_id, from_assignee=case.assignee_id)
    if decision.team is not None:
        case.team = decision.team
        case.assignee = decision.chosen
    case.self_service_until = (
        decision.self_service_until if decision.reason == Reason.SELF_SERVICE_FIRST else None
    )
    data.update(to_team=case.team_id, to_assignee=case.assignee_id)
    case.updated_at = now
    case_event_record(case, kind=CaseEvent.Kind.ROUTED, actor=actor, at=now, data=data)
    if decision.team is not None and case.status not in ASSIGN_KEEPS_STATUS:
        target = Status.ASSIGNED if decision.chosen is not None else Status.TRIAGED
        if target != case.status:
            _set_status(case, to=target, actor=actor, now=now, action="route")
    case.save()


def case_route(
    *, case: Case, actor: User | None = None, at: dt.datetime | None = None
) -> RoutingDecision:
    """Route a case by the rules and write the decision (team, person, status, `routed` event).

    Runs in the caller's transaction when there is one. `actor=None` is the system (intake,
    sweeps); a person asking for routing needs `cases.assign_case`. The team row is locked
    before workloads are read, so concurrent routings into one team balance for real.
    """
    if actor is not None:
        require_perm(actor, "cases.assign_case")
    with transaction.atomic():
        case = _lock(case)
        if case.status not in ASSIGN_SOURCES | ASSIGN_KEEPS_STATUS:
            raise ApplicationError(
                "invalid_transition",
                _("A case that is %(status)s cannot be routed.")
                % {"status": str(Status(case.status).label)},
                details={"status": case.status, "action": "route"},
                status=409,
            )
        now = at or clock.now()
        plan = _plan(case)
        if plan.decision.team is not None:
            _lock_teams({plan.decision.team.pk})
        trigger = Trigger.ROUTE
        if case.self_service_until is not None and case.self_service_until <= now:
            trigger = Trigger.SELF_SERVICE_EXPIRED
        decision = _finish(case, plan, at=now, trigger=trigger, specs_cache={})
        _apply(case, decision, actor=actor, now=now)
        return decision


def _waiting_cases(now: dt.datetime) -> QuerySet[Case]:
    last_outcome = (
        CaseEvent.objects.filter(
            case=OuterRef("pk"), kind__in=[CaseEvent.Kind.ROUTED, CaseEvent.Kind.ASSIGNED]
        )
        .order_by("-occurred_at", "-id")
        .values(outcome=KT("data__reason"))[:1]
    )
    self_service_over = Q(self_service_until__lte=now, status__in=OPEN_STATUSES)
    waiting = Q(
        self_service_until__isnull=True,
        status__in=[Status.NEW, Status.TRIAGED],
        last_outcome__in=RETRY_REASONS,
    )
    return (
        Case.objects.annotate(last_outcome=Subquery(last_outcome))
        .filter(self_service_over | waiting, assignee__isnull=True)
        .order_by("pk")
    )


def routing_sweep(*, at: dt.datetime | None = None) -> int:
    """Hand waiting cases to people; returns how many were routed.

    Two kinds of case wait: those whose self-service time is up (routed to a person now, or left
    waiting for one with reason "nobody_available"), and those routed earlier when nobody was on
    shift (routed when someone is; nothing is written while still nobody is). Safe to run
    concurrently and repeatedly: each batch of cases is locked with SKIP LOCKED in its own
    transaction, and a case no longer waiting is left alone.
    """
    now = at or clock.now()
    routed = 0
    after = 0
    skip_locked = connection.features.has_select_for_update_skip_locked
    while True:
        with transaction.atomic():
            qs = _waiting_cases(now).filter(pk__gt=after).select_related("customer", "team")
            if skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            batch = list(qs[:SWEEP_BATCH])
            if not batch:
                return routed
            after = batch[-1].pk
            routed += _sweep_batch(batch, now=now)


def _sweep_batch(batch: list[Case], *, now: dt.datetime) -> int:
    plans = {case.pk: _plan(case) for case in batch}
    _lock_teams({p.decision.team.pk for p in plans.values() if p.decision.team is not None})
    specs_cache: SpecsCache = {}
    routed = 0
    for case in batch:
        expired = case.self_service_until is not None
        trigger = Trigger.SELF_SERVICE_EXPIRED if expired else Trigger.RETRY
        decision = _finish(case, plans[case.pk], at=now, trigger=trigger, specs_cache=specs_cache)
        if decision.chosen is None and not expired:
            continue  # still nobody on shift: nothing new to record
        _apply(case, decision, actor=None, now=now)
        routed += decision.chosen is not None
    return routed


def routing_last_decision(case: Case) -> CaseEvent | None:
    """The case's latest `routed` event, e.g. for a reassignment to say what it overrides."""
    return case.events.filter(kind=CaseEvent.Kind.ROUTED).order_by("-occurred_at", "-id").first()
