"""Records the callbacks page, API and portal tests start from: a resolved case with its
return visit (scheduled by the rules on resolution, as in production), and a survey link."""

import datetime as dt
from typing import Any

from aftersales.accounts.models import Team, User
from aftersales.accounts.services import team_create
from aftersales.callbacks.models import CallbackRule, ReturnVisit
from aftersales.cases.models import Case
from aftersales.cases.services import case_assign, case_classify, case_open, case_transition
from aftersales.core import clock
from tests import factories


def callback_team() -> Team:
    """The callback team (visits are given to the first active one) and a rule giving every
    resolved case a visit right away."""
    team = Team.objects.filter(kind=Team.Kind.CALLBACK, is_active=True).first()
    if team is None:
        team = team_create(code="callback", name="回访组", kind="callback")
    if not CallbackRule.objects.filter(name="every case").exists():
        CallbackRule.objects.create(name="every case", rank=1, sample_percent=100, delay_hours=0)
    return team


def resolved_case(
    agent: User, *, team: Team, customer: Any = None, unit: Any = None, subject: str = "冰箱不制冷"
) -> Case:
    """A case taken through the lifecycle to resolved by `agent` (a member of `team`)."""
    customer = customer or factories.customer()
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject=subject, unit=unit)
    case = case_classify(
        actor=agent, case=case, nature="hardware", subcategory="cooling", urgency="normal"
    )
    case = case_assign(actor=agent, case=case, team=team, assignee=agent)
    case = case_transition(actor=agent, case=case, action="start")
    return case_transition(
        actor=agent, case=case, action="resolve", solution_type="remote", solution_notes="重置"
    )


def visit_of(case: Case) -> ReturnVisit:
    return ReturnVisit.objects.get(case=case, status=ReturnVisit.Status.DUE)


def later(days: float) -> dt.datetime:
    return clock.now() + dt.timedelta(days=days)
