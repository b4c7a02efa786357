"""SLA API: the overdue figures and today's breaches in the caller's scope."""

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from aftersales.accounts.permissions import request_user, require_perm
from aftersales.core import clock

from .selectors import breaches_today, sla_overview

router = Router(tags=["sla"])


class OverviewOut(Schema):
    open_cases: int
    overdue_open: int
    overdue_rate: float | None
    breaches_today: int
    due_within_hour: int
    resolved_30d: int
    resolved_late_30d: int
    late_resolution_rate: float | None


class BreachOut(Schema):
    case: str
    metric: str
    state: str
    breached_at: dt.datetime
    team: str | None
    assignee: str | None


@router.get("/overview", response=OverviewOut, summary="Overdue rate and today's breaches")
def overview(request: HttpRequest) -> dict[str, object]:
    user = request_user(request)
    require_perm(user, "cases.view_case")
    o = sla_overview(user, now=clock.now())
    return {
        "open_cases": o.open_cases,
        "overdue_open": o.overdue_open,
        "overdue_rate": o.overdue_rate,
        "breaches_today": o.breaches_today,
        "due_within_hour": o.due_within_hour,
        "resolved_30d": o.resolved_30d,
        "resolved_late_30d": o.resolved_late_30d,
        "late_resolution_rate": o.late_resolution_rate,
    }


@router.get("/breaches", response=list[BreachOut], summary="Commitments missed today")
def breaches(request: HttpRequest) -> list[dict[str, object]]:
    user = request_user(request)
    require_perm(user, "cases.view_case")
    return [
        {
            "case": c.case.number,
            "metric": c.metric,
            "state": c.state,
            "breached_at": c.breached_at,
            "team": c.case.team.name if c.case.team else None,
            "assignee": c.case.assignee.label if c.case.assignee else None,
        }
        for c in breaches_today(user, now=clock.now())[:500]
    ]
