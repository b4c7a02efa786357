"""SLA clocks computed from a case's own history.

`clocks_sync` is called by every case service that changes something a clock depends on, inside
that service's transaction and after its event is written. It re-derives each clock from the
case's events (when it ran, paused, stopped) on the policy's calendar, stores the result and,
when the due times moved because the tier, urgency, type or policy changed, records that on the
case's timeline. Deriving from history instead of patching stored numbers makes a restart, a
policy edit or a late correction give the same answer as if it had been known all along.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q

from aftersales.accounts.models import User
from aftersales.cases.models import OPEN_STATUSES, Case, CaseEvent, Status
from aftersales.core import business_time
from aftersales.core.business_time import CalendarSpec
from aftersales.core.calendars import calendar_spec
from aftersales.core.models import BusinessCalendar
from aftersales.customers.models import Channel

from .models import Metric, SlaClock, SlaPolicy, SlaTarget

# Channels where the customer speaks to a person at intake: that conversation is the first
# response. Everything else (e-mail, web, portal, app) waits for a person's reply.
LIVE_CHANNELS = frozenset({Channel.PHONE, Channel.WALK_IN, Channel.ONSITE})

# Changes that move due times for reasons other than the case's own progress; a recomputation
# for one of these is recorded on the timeline with before and after.
RECOMPUTE_REASONS = frozenset({"tier", "urgency", "kind", "policy"})

SpecCache = dict[int, CalendarSpec]


def policy_for(case: Case, policies: Iterable[SlaPolicy] | None = None) -> SlaPolicy | None:
    """The first active policy, by rank, whose every set field matches the case."""
    if policies is None:
        policies = SlaPolicy.objects.filter(is_active=True).order_by("rank", "id")
    tier = case.customer.tier
    for policy in policies:
        if policy.case_kind and policy.case_kind != case.kind:
            continue
        if policy.tier and policy.tier != tier:
            continue
        if policy.urgency and policy.urgency != case.urgency:
            continue
        if policy.channel and policy.channel != case.channel:
            continue
        if policy.product_line_id and policy.product_line_id != case.product_line_id:
            continue
        return policy
    return None


def target_budget(target: SlaTarget, spec: CalendarSpec) -> dt.timedelta:
    """The working time a target allows; a working day is the calendar's nominal day."""
    if target.unit == SlaTarget.Unit.MINUTES:
        return dt.timedelta(minutes=target.amount)
    if target.unit == SlaTarget.Unit.HOURS:
        return dt.timedelta(hours=target.amount)
    return target.amount * spec.day_length


@dataclass(frozen=True)
class Segment:
    """A stretch of the case's life in one status; `end` is None for the current one."""

    start: dt.datetime
    end: dt.datetime | None
    status: str


@dataclass(frozen=True)
class History:
    """What clocks need from a case: its status segments and when each metric was met."""

    segments: tuple[Segment, ...]
    first_response_at: dt.datetime | None
    preliminary_solution_at: dt.datetime | None
    resolved_at: dt.datetime | None  # only while the case is resolved or closed

    def stop_for(self, metric: str) -> dt.datetime | None:
        if metric == Metric.FIRST_RESPONSE:
            return self.first_response_at
        if metric == Metric.PRELIMINARY_SOLUTION:
            return self.preliminary_solution_at
        return self.resolved_at


def history_of(case: Case, events: Sequence[CaseEvent]) -> History:
    """Status segments and stop times from the case's events (oldest first)."""
    segments: list[Segment] = []
    start, status = case.created_at, Status.NEW.value
    first_response: dt.datetime | None = None
    if case.channel in LIVE_CHANNELS and case.created_by_id is not None:
        first_response = case.created_at
    preliminary: dt.datetime | None = None
    resolved: dt.datetime | None = None
    for event in events:
        if event.kind == CaseEvent.Kind.STATUS and event.to_status:
            if event.occurred_at > start:
                segments.append(Segment(start, event.occurred_at, status))
                start = event.occurred_at
            status = event.to_status
            if status in (Status.RESOLVED, Status.CLOSED):
                resolved = resolved or event.occurred_at
            else:
                resolved = None
        elif event.kind == CaseEvent.Kind.CONTACT:
            # An automatic acknowledgement is not a response; a person's reply is.
            if (
                event.direction == CaseEvent.Direction.OUTBOUND
                and event.actor_id is not None
                and not event.data.get("automatic")
            ):
                first_response = first_response or event.occurred_at
        elif event.kind in (CaseEvent.Kind.PROPOSAL, CaseEvent.Kind.SOLUTION):
            first_response = first_response or event.occurred_at
            preliminary = preliminary or event.occurred_at
    segments.append(Segment(start, None, status))
    return History(tuple(segments), first_response, preliminary, resolved)


@dataclass(frozen=True)
class ClockValue:
    state: str
    started_at: dt.datetime
    elapsed: dt.timedelta
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    stopped_at: dt.datetime | None
    breached_at: dt.datetime | None


def _running(segment: Segment, pause: frozenset[str]) -> bool:
    return segment.status in OPEN_STATUSES and segment.status not in pause


def _runs(segments: Sequence[Segment], pause: frozenset[str]) -> list[Segment]:
    """Consecutive segments in which the clock runs (or stands) merged into one, so moving
    between running statuses (assigned → in progress) does not split the running time."""
    runs: list[Segment] = []
    for segment in segments:
        if runs and _running(runs[-1], pause) == _running(segment, pause):
            runs[-1] = Segment(runs[-1].start, segment.end, runs[-1].status)
        else:
            runs.append(segment)
    return runs


def compute_clock(
    *,
    history: History,
    metric: str,
    budget: dt.timedelta,
    warn_percent: int,
    pause: frozenset[str],
    spec: CalendarSpec,
) -> ClockValue:
    """One clock's state, due and warning times from the case's history.

    The clock runs in the segments where the case is open and not in a pause status, up to the
    metric's stop. The due time is the moment the running time reaches the budget; while the
    clock runs it is found by walking forward on the calendar from the current segment.
    """
    stop = history.stop_for(metric)
    started = history.segments[0].start
    warn_budget = budget * warn_percent / 100
    elapsed = dt.timedelta(0)
    due_at: dt.datetime | None = None
    warn_at: dt.datetime | None = None
    current_running = False
    for segment in _runs(history.segments, pause):
        if stop is not None and segment.start >= stop:
            break
        end = segment.end
        if stop is not None and (end is None or end > stop):
            end = stop
        if not _running(segment, pause):
            continue
        if end is None:
            current_running = True
        # When, inside this segment, do the warning and the budget run out?
        if warn_at is None and elapsed < warn_budget:
            moment = business_time.add_working_time(spec, segment.start, warn_budget - elapsed)
            if end is None or moment <= end:
                warn_at = moment
        if due_at is None and elapsed < budget:
            moment = business_time.add_working_time(spec, segment.start, budget - elapsed)
            if end is None or moment <= end:
                due_at = moment
        if end is not None:
            elapsed += business_time.working_time_between(spec, segment.start, end)
    last = history.segments[-1]
    if stop is not None:
        breached = due_at if due_at is not None and due_at < stop else None
        state = SlaClock.State.MISSED if breached else SlaClock.State.MET
        return ClockValue(state, started, elapsed, None, None, stop, breached)
    if last.status == Status.CANCELLED:
        return ClockValue(SlaClock.State.CANCELLED, started, elapsed, None, None, last.start, None)
    if current_running:
        return ClockValue(SlaClock.State.RUNNING, started, elapsed, due_at, warn_at, None, None)
    # Paused: it has used `elapsed`; a budget already used up was breached back then.
    return ClockValue(SlaClock.State.PAUSED, started, elapsed, None, None, None, due_at)


@dataclass
class SyncResult:
    policy_before: int | None
    policy_after: int | None
    changed: dict[str, dict[str, str | None]]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def clocks_sync(
    *,
    case: Case,
    actor: User | None,
    now: dt.datetime,
    reason: str,
    specs: SpecCache | None = None,
    policies: Sequence[SlaPolicy] | None = None,
) -> SyncResult:
    """Bring the case's clocks in line with its policy and history (caller holds the case lock).

    A clock whose due time moves for a reason in `RECOMPUTE_REASONS` is listed in one `sla`
    event with before and after; clocks that start at intake are recorded as started.
    """
    specs = {} if specs is None else specs
    policy = policy_for(case, policies)
    existing = {c.metric: c for c in SlaClock.objects.filter(case=case)}
    policy_before = next(iter(existing.values())).policy_id if existing else None
    targets = (
        {t.metric: t for t in SlaTarget.objects.filter(policy=policy).select_related("calendar")}
        if policy is not None
        else {}
    )
    events = list(
        case.events.filter(
            Q(kind=CaseEvent.Kind.STATUS)
            | Q(kind=CaseEvent.Kind.CONTACT, direction=CaseEvent.Direction.OUTBOUND)
            | Q(kind__in=[CaseEvent.Kind.PROPOSAL, CaseEvent.Kind.SOLUTION])
        ).order_by("occurred_at", "id")
    )
    history = history_of(case, events)
    changed: dict[str, dict[str, str | None]] = {}
    for metric, target in targets.items():
        spec = _spec(target.calendar, specs)
        assert policy is not None
        budget = target_budget(target, spec)
        value = compute_clock(
            history=history,
            metric=metric,
            budget=budget,
            warn_percent=policy.warn_percent,
            pause=frozenset(policy.pause_statuses),
            spec=spec,
        )
        clock = existing.pop(metric, None)
        before_due = clock.due_at if clock else None
        if clock is None:
            clock = SlaClock(case=case, metric=metric)
        clock.policy, clock.calendar, clock.budget = policy, target.calendar, budget
        clock.state, clock.started_at, clock.elapsed = value.state, value.started_at, value.elapsed
        clock.due_at, clock.warn_at, clock.stopped_at = (
            value.due_at,
            value.warn_at,
            value.stopped_at,
        )
        _carry_breach(clock, value, now)
        clock.updated_at = now
        clock.save()
        if before_due != clock.due_at:
            changed[metric] = {"before": _iso(before_due), "after": _iso(clock.due_at)}
    for clock in existing.values():  # metrics the new policy does not have
        changed[clock.metric] = {"before": _iso(clock.due_at), "after": None}
        clock.delete()
    policy_after = policy.pk if policy else None
    result = SyncResult(policy_before, policy_after, changed)
    _record(case, actor=actor, now=now, reason=reason, result=result)
    return result


def _carry_breach(clock: SlaClock, value: ClockValue, now: dt.datetime) -> None:
    """Keep what the sweep already noticed unless the recomputation moved the due time ahead.

    A clock whose new due time is still in the future may warn and breach again later; the
    escalation rules still fire at most once per clock (their firings are unique).
    """
    if value.state == SlaClock.State.RUNNING:
        assert value.due_at is not None
        if value.due_at > now:
            clock.breached_at = None
            clock.breach_noticed_at = None
        else:
            clock.breached_at = value.due_at
        if value.warn_at is not None and value.warn_at > now:
            clock.warned_at = None
    else:
        clock.breached_at = value.breached_at


def _spec(calendar: BusinessCalendar, specs: SpecCache) -> CalendarSpec:
    spec = specs.get(calendar.pk)
    if spec is None:
        spec = specs[calendar.pk] = calendar_spec(calendar)
    return spec


def _record(
    case: Case, *, actor: User | None, now: dt.datetime, reason: str, result: SyncResult
) -> None:
    if reason == "opened":
        if result.changed:
            CaseEvent.objects.create(
                case=case,
                kind=CaseEvent.Kind.SLA,
                actor=actor,
                occurred_at=now,
                data={
                    "change": "started",
                    "policy": result.policy_after,
                    "clocks": {m: c["after"] for m, c in result.changed.items()},
                },
            )
        return
    if reason not in RECOMPUTE_REASONS:
        return
    if not result.changed and result.policy_before == result.policy_after:
        return
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.SLA,
        actor=actor,
        occurred_at=now,
        data={
            "change": "recomputed",
            "reason": reason,
            "policy": {"before": result.policy_before, "after": result.policy_after},
            "clocks": result.changed,
        },
    )
