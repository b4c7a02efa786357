"""The SLA sweep: warnings, breaches and escalations happen once each, when due."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from aftersales.accounts.models import Team, User
from aftersales.accounts.services import team_create
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_assign, case_contact_log, case_open
from aftersales.core import clock
from aftersales.notifications.models import Notification
from aftersales.sla.models import EscalationFiring, SlaClock, SweepRun
from aftersales.sla.services import sla_sweep

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
def vip_desk(db: Any) -> Team:
    return team_create(code="vip", name="VIP desk", kind="vip")


@pytest.fixture
def vip_complaint(agent: User, supervisor: User, vip: Any, vip_desk: Team, desk_team: Team) -> Case:
    """A VIP's complaint by e-mail at 16:50 on a Wednesday, kept on the agent's desk."""
    agent.email = "agent@example.com"
    agent.save()
    with clock.frozen_at(at(2026, 12, 2, 16, 50)):
        case, _ = case_open(
            actor=agent,
            customer=vip,
            channel="email",
            subject="投诉：上门迟到",
            kind="complaint",
            team=desk_team,
        )
        case_assign(actor=agent, case=case, assignee=agent)
    return case


def sla_events(case: Case, change: str) -> list[CaseEvent]:
    return list(case.events.filter(kind=CaseEvent.Kind.SLA, data__change=change))


class TestNobodyReplies:
    def test_warning_then_breach_then_escalation_once_each(
        self,
        vip_complaint: Case,
        agent: User,
        supervisor: User,
        vip_desk: Team,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        case = vip_complaint
        # Before 75 % of the 30 minutes nothing happens.
        assert sla_sweep(now=at(2026, 12, 2, 17, 10)).warnings == 0
        with django_capture_on_commit_callbacks(execute=True):
            warned = sla_sweep(now=at(2026, 12, 2, 17, 13))
        assert (warned.warnings, warned.breaches) == (1, 0)
        assert len(sla_events(case, "warning")) == 1
        assert Notification.objects.filter(recipient=agent, code="sla_warning").count() == 1
        assert mail.outbox[-1].to == ["agent@example.com"]
        # Sweeping again at the same moment finds nothing new.
        again = sla_sweep(now=at(2026, 12, 2, 17, 14))
        assert (again.warnings, again.breaches, again.escalations) == (0, 0, 0)

        breached = sla_sweep(now=at(2026, 12, 2, 17, 21))
        assert breached.breaches == 1
        [event] = sla_events(case, "breached")
        assert event.occurred_at == at(2026, 12, 2, 17, 20)  # when it happened, not when seen
        assert event.data["metric"] == "first_response"
        fr = SlaClock.objects.get(case=case, metric="first_response")
        assert fr.breached_at == at(2026, 12, 2, 17, 20)
        assert fr.breach_noticed_at == at(2026, 12, 2, 17, 21)

        case.refresh_from_db()
        # Rules: the generic breach rule raised priority and told the supervisor; the VIP
        # complaint rule moved the case to the VIP desk, off the agent.
        assert case.priority == 1
        assert case.priority_boost == 1
        assert case.team == vip_desk
        assert case.assignee is None
        assert case.status == "triaged"
        escalations = case.events.filter(kind=CaseEvent.Kind.ESCALATED, data__trigger="breach")
        assert escalations.count() == 2
        assert Notification.objects.filter(recipient=supervisor, code="sla_breach").exists()
        # The warning rule and the two breach rules, once each on this clock.
        assert EscalationFiring.objects.filter(clock=fr).count() == 3

        later = sla_sweep(now=at(2026, 12, 2, 17, 30))
        assert (later.warnings, later.breaches, later.escalations) == (0, 0, 0)
        assert EscalationFiring.objects.count() == 3

        # The next day the 24-hour preliminary solution falls due too: its own clock, its
        # own warning, breach and escalation, each once.
        next_day = sla_sweep(now=at(2026, 12, 3, 17, 0))
        assert (next_day.warnings, next_day.breaches) == (0, 1)
        [prelim] = [e for e in sla_events(case, "breached") if e.data["metric"] != "first_response"]
        assert prelim.data["metric"] == "preliminary_solution"
        assert EscalationFiring.objects.count() == 4

    def test_a_reply_before_the_due_time_prevents_the_breach(
        self, vip_complaint: Case, agent: User
    ) -> None:
        with clock.frozen_at(at(2026, 12, 2, 17, 15)):
            case_contact_log(
                actor=agent,
                case=vip_complaint,
                direction="out",
                channel="phone",
                body="已致电客户致歉并约定上门时间",
            )
        result = sla_sweep(now=at(2026, 12, 2, 17, 40))
        assert result.breaches == 0
        assert not sla_events(vip_complaint, "breached")
        assert SweepRun.objects.count() == 1


def test_a_sweep_after_downtime_records_breaches_with_their_real_times(
    agent: User, customer: Any
) -> None:
    opened = []
    for hour in (9, 10, 11):
        with clock.frozen_at(at(2026, 12, 1, hour, 0)):
            case, _ = case_open(actor=agent, customer=customer, channel="web", subject="s")
            opened.append(case)
    # No sweep ran for two days: the first responses (4 working hours) are all overdue.
    result = sla_sweep(now=at(2026, 12, 3, 12, 0))
    assert result.breaches == 3
    times = sorted(
        SlaClock.objects.filter(metric="first_response").values_list("breached_at", flat=True)
    )
    assert times == [at(2026, 12, 1, 13, 0), at(2026, 12, 1, 14, 0), at(2026, 12, 1, 15, 0)]
    # Warnings of the first responses are superseded by their breaches, not sent late; the
    # resolution clocks (3 working days) reached 75 % this morning and warn as they should.
    warnings = CaseEvent.objects.filter(kind="sla", data__change="warning")
    assert {e.data["metric"] for e in warnings} == {"resolution"}
    assert warnings.count() == 1
