"""Reads of SLA clocks for pages and the API: a case's clocks, the queue's next due time, the
overdue rate and today's breaches, always within the reader's case scope."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.cases.models import OPEN_STATUSES, Case
from aftersales.cases.selectors import case_queryset_for

from .models import Metric, SlaClock


@dataclass(frozen=True)
class ClockView:
    metric: str
    label: str
    state: str
    state_label: str
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    breached_at: dt.datetime | None
    budget: dt.timedelta
    elapsed: dt.timedelta
    policy: str
    calendar: str

    @property
    def is_breached(self) -> bool:
        return self.breached_at is not None


METRIC_ORDER = {m: i for i, m in enumerate(Metric.values)}


def case_clocks(case: Case) -> list[ClockView]:
    """The case's clocks in the order first response, preliminary solution, resolution."""
    clocks = SlaClock.objects.filter(case=case).select_related("policy", "calendar")
    views = [
        ClockView(
            metric=c.metric,
            label=str(Metric(c.metric).label),
            state=c.state,
            state_label=str(SlaClock.State(c.state).label),
            due_at=c.due_at,
            warn_at=c.warn_at,
            started_at=c.started_at,
            stopped_at=c.stopped_at,
            breached_at=c.breached_at,
            budget=c.budget,
            elapsed=c.elapsed,
            policy=c.policy.name,
            calendar=c.calendar.name,
        )
        for c in clocks
    ]
    return sorted(views, key=lambda v: METRIC_ORDER.get(v.metric, 99))


def with_next_due(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate `next_due_at` (earliest running clock) and `next_warn_at` on a case query."""
    running = SlaClock.objects.filter(case=OuterRef("pk"), state=SlaClock.State.RUNNING).order_by(
        "due_at"
    )
    return cases.annotate(
        next_due_at=Subquery(running.values("due_at")[:1]),
        next_warn_at=Subquery(running.values("warn_at")[:1]),
    )


@dataclass(frozen=True)
class SlaOverview:
    open_cases: int
    overdue_open: int
    breaches_today: int
    due_within_hour: int
    resolved_30d: int
    resolved_late_30d: int

    @property
    def overdue_rate(self) -> float | None:
        """Share of open cases past a due time now (the department's "35% overdue")."""
        return self.overdue_open / self.open_cases if self.open_cases else None

    @property
    def late_resolution_rate(self) -> float | None:
        """Share of the last 30 days' resolved cases that missed their resolution target."""
        return self.resolved_late_30d / self.resolved_30d if self.resolved_30d else None


def sla_overview(user: User, *, now: dt.datetime) -> SlaOverview:
    """Overdue rate, today's breaches and what falls due within the hour, in the user's scope."""
    visible = case_queryset_for(user)
    open_ids = visible.filter(status__in=OPEN_STATUSES).values("pk")
    clocks = SlaClock.objects.filter(case_id__in=visible.values("pk"))
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    overdue_open = (
        SlaClock.objects.filter(case_id__in=open_ids, state=SlaClock.State.RUNNING, due_at__lte=now)
        .values("case_id")
        .distinct()
        .count()
    )
    month_ago = now - dt.timedelta(days=30)
    resolution = clocks.filter(
        metric=Metric.RESOLUTION,
        state__in=[SlaClock.State.MET, SlaClock.State.MISSED],
        stopped_at__gte=month_ago,
    )
    return SlaOverview(
        open_cases=visible.filter(status__in=OPEN_STATUSES).count(),
        overdue_open=overdue_open,
        breaches_today=clocks.filter(breached_at__gte=today, breached_at__lte=now).count(),
        due_within_hour=clocks.filter(
            state=SlaClock.State.RUNNING,
            due_at__gt=now,
            due_at__lte=now + dt.timedelta(hours=1),
        ).count(),
        resolved_30d=resolution.count(),
        resolved_late_30d=resolution.filter(state=SlaClock.State.MISSED).count(),
    )


def breaches_today(user: User, *, now: dt.datetime) -> QuerySet[SlaClock]:
    """Today's breached clocks in the user's scope, latest first, with their cases."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        SlaClock.objects.filter(
            case_id__in=case_queryset_for(user).values("pk"),
            breached_at__gte=today,
            breached_at__lte=now,
        )
        .select_related("case__customer", "case__assignee", "case__team")
        .order_by("-breached_at")
    )
