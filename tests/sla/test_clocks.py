"""SLA clocks on real cases: due times on the business calendars, pauses, stops, recomputation.

The default policies and calendars come from the migrations (PRODUCT.md §2: complaints 1 h /
24 h / 2 working days, VIP first response 30 min on the 7×24 hotline calendar; the office
calendar is Mon–Fri 09:00–18:00 with the mainland's holidays and make-up days).
"""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import (
    case_acknowledge,
    case_assign,
    case_classify,
    case_contact_log,
    case_open,
    case_preliminary_solution,
    case_transition,
)
from aftersales.core import clock
from aftersales.customers.services import customer_set_tier
from aftersales.sla.models import SlaClock, SlaPolicy, SlaTarget
from aftersales.sla.services import sla_policy_reapply

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def clocks(case: Case) -> dict[str, SlaClock]:
    return {c.metric: c for c in SlaClock.objects.filter(case=case)}


def local(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(SH) if value else None


def open_case(actor: User, customer: Any, *, when: dt.datetime, **kw: Any) -> Case:
    with clock.frozen_at(when):
        case, _ = case_open(
            actor=actor,
            customer=customer,
            channel=kw.pop("channel", "email"),
            subject=kw.pop("subject", "投诉：维修太慢"),
            **kw,
        )
    return case


class TestDueTimes:
    def test_vip_complaint_at_1650_on_a_working_day(self, agent: User, vip: Any) -> None:
        case = open_case(agent, vip, when=at(2026, 12, 2, 16, 50), kind="complaint")
        c = clocks(case)
        assert local(c["first_response"].due_at) == at(2026, 12, 2, 17, 20)  # 30 min, 7×24
        assert local(c["preliminary_solution"].due_at) == at(2026, 12, 3, 16, 50)  # 24 h
        # Two working days of 9 h on the office calendar: Thursday 16:50 → Friday 16:50.
        assert local(c["resolution"].due_at) == at(2026, 12, 4, 16, 50)
        assert local(c["first_response"].warn_at) == at(2026, 12, 2, 17, 12, 30)  # at 75 %
        assert {x.policy.name for x in c.values()} == {"VIP 投诉 / VIP complaint"}
        started = case.events.get(kind=CaseEvent.Kind.SLA)
        assert started.data["change"] == "started"
        assert set(started.data["clocks"]) == {
            "first_response",
            "preliminary_solution",
            "resolution",
        }

    def test_complaint_at_1755_before_national_day_waits_for_the_holiday(
        self, agent: User, customer: Any
    ) -> None:
        # 5 minutes are left on 30 Sept; 1–7 Oct 2026 are holidays; 8 Oct is a Thursday.
        case = open_case(agent, customer, when=at(2026, 9, 30, 17, 55), kind="complaint")
        c = clocks(case)
        assert local(c["first_response"].due_at) == at(2026, 10, 8, 9, 55)
        # 18 working hours: 5 min on 30 Sept, 9 h on 8 Oct, 8 h 55 min on 9 Oct.
        assert local(c["resolution"].due_at) == at(2026, 10, 9, 17, 55)

    def test_make_up_saturday_is_a_working_day(self, agent: User, customer: Any) -> None:
        # Friday 9 Oct 17:30 + 1 working hour: 30 min on Friday, 30 min on Saturday 10 Oct,
        # a make-up working day (调休) after the National Day week.
        case = open_case(agent, customer, when=at(2026, 10, 9, 17, 30), kind="complaint")
        assert local(clocks(case)["first_response"].due_at) == at(2026, 10, 10, 9, 30)

    def test_regular_service_request_uses_the_standard_policy(
        self, agent: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 4, 16, 0))  # a Friday
        c = clocks(case)
        assert set(c) == {"first_response", "resolution"}
        assert local(c["first_response"].due_at) == at(2026, 12, 7, 11, 0)  # 4 working hours
        assert c["first_response"].policy.name == "标准服务 / Standard"

    def test_phone_intake_is_the_first_response(self, agent: User, customer: Any) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 2, 10, 0), channel="phone")
        fr = clocks(case)["first_response"]
        assert fr.state == SlaClock.State.MET
        assert fr.stopped_at == case.created_at == case.first_response_at


class TestStartPauseStop:
    def test_an_automatic_acknowledgement_does_not_meet_the_first_response(
        self, agent: User, vip: Any
    ) -> None:
        case = open_case(agent, vip, when=at(2026, 12, 2, 16, 50), kind="complaint")
        with clock.frozen_at(at(2026, 12, 2, 16, 51)):
            case_acknowledge(case=case, channel="email", body="您的投诉已受理：" + case.number)
        assert clocks(case)["first_response"].state == SlaClock.State.RUNNING
        with clock.frozen_at(at(2026, 12, 2, 17, 5)):
            case_contact_log(
                actor=agent, case=case, direction="out", channel="phone", body="已致电客户"
            )
        fr = clocks(case)["first_response"]
        assert fr.state == SlaClock.State.MET
        assert local(fr.stopped_at) == at(2026, 12, 2, 17, 5)
        assert fr.elapsed == dt.timedelta(minutes=15)

    def test_preliminary_solution_meets_reply_and_solution_clocks(
        self, agent: User, vip: Any
    ) -> None:
        case = open_case(agent, vip, when=at(2026, 12, 2, 16, 50), kind="complaint")
        with clock.frozen_at(at(2026, 12, 3, 9, 0)):
            case_preliminary_solution(actor=agent, case=case, body="先寄送备用机，维修后换回")
        c = clocks(case)
        assert c["preliminary_solution"].state == SlaClock.State.MET
        # The reply came 16 h 10 min after a 30-minute promise: missed, breached at 17:20.
        assert c["first_response"].state == SlaClock.State.MISSED
        assert local(c["first_response"].breached_at) == at(2026, 12, 2, 17, 20)
        assert c["resolution"].state == SlaClock.State.RUNNING

    def test_waiting_for_the_customer_pauses_and_resuming_moves_the_due_time(
        self, agent: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 1, 9, 0), channel="phone")
        with clock.frozen_at(at(2026, 12, 1, 9, 0)):
            case_assign(actor=agent, case=case, assignee=agent)
            case_transition(actor=agent, case=case, action="start")
        due_before = clocks(case)["resolution"].due_at
        assert local(due_before) == at(2026, 12, 3, 18, 0)  # 3 working days of 9 h
        with clock.frozen_at(at(2026, 12, 1, 10, 0)):
            case_transition(actor=agent, case=case, action="wait_customer")
        paused = clocks(case)["resolution"]
        assert paused.state == SlaClock.State.PAUSED
        assert paused.due_at is None
        assert paused.elapsed == dt.timedelta(hours=1)
        with clock.frozen_at(at(2026, 12, 2, 10, 0)):  # 9 working hours later
            case_transition(actor=agent, case=case, action="resume")
        resumed = clocks(case)["resolution"]
        assert resumed.state == SlaClock.State.RUNNING
        assert local(resumed.due_at) == at(2026, 12, 4, 18, 0)

    def test_resolving_late_records_the_breach_at_the_due_time(
        self, agent: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 1, 9, 0), channel="phone")
        with clock.frozen_at(at(2026, 12, 7, 9, 0)):
            case_assign(actor=agent, case=case, assignee=agent)
            case_transition(actor=agent, case=case, action="start")
            case_transition(actor=agent, case=case, action="resolve", solution_type="remote")
        res = clocks(case)["resolution"]
        assert res.state == SlaClock.State.MISSED
        assert local(res.breached_at) == at(2026, 12, 3, 18, 0)

    def test_reopening_continues_the_resolution_clock(self, agent: User, customer: Any) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 1, 9, 0), channel="phone")
        with clock.frozen_at(at(2026, 12, 1, 12, 0)):
            case_assign(actor=agent, case=case, assignee=agent)
            case_transition(actor=agent, case=case, action="start")
            case_transition(actor=agent, case=case, action="resolve", solution_type="remote")
        assert clocks(case)["resolution"].state == SlaClock.State.MET
        with clock.frozen_at(at(2026, 12, 2, 9, 0)):
            case_transition(actor=agent, case=case, action="reopen", reason="又不制冷了")
        res = clocks(case)["resolution"]
        assert res.state == SlaClock.State.RUNNING
        # 3 h used before the resolution; 24 h remain from Wednesday 09:00.
        assert res.elapsed == dt.timedelta(hours=3)
        assert local(res.due_at) == at(2026, 12, 4, 15, 0)

    def test_cancelling_stops_every_clock(self, agent: User, customer: Any) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 1, 9, 0))
        with clock.frozen_at(at(2026, 12, 1, 9, 30)):
            case_transition(actor=agent, case=case, action="cancel", reason="重复来电")
        assert {c.state for c in clocks(case).values()} == {SlaClock.State.CANCELLED}


class TestRecompute:
    def test_a_tier_change_recomputes_from_history_and_is_recorded(
        self, agent: User, manager: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 2, 10, 0))
        assert local(clocks(case)["first_response"].due_at) == at(2026, 12, 2, 14, 0)
        with clock.frozen_at(at(2026, 12, 2, 10, 5)):
            customer_set_tier(
                actor=manager,
                customer=customer,
                tier="vip",
                reason="年度采购大客户",
                expires_at=at(2027, 12, 31, 0, 0),
            )
        # VIP: 30 minutes from the case's opening, not from the tier change.
        assert local(clocks(case)["first_response"].due_at) == at(2026, 12, 2, 10, 30)
        event = case.events.filter(kind=CaseEvent.Kind.SLA, data__change="recomputed").get()
        assert event.data["reason"] == "tier"
        assert event.actor == manager
        before = dt.datetime.fromisoformat(event.data["clocks"]["first_response"]["before"])
        after = dt.datetime.fromisoformat(event.data["clocks"]["first_response"]["after"])
        assert (local(before), local(after)) == (at(2026, 12, 2, 14, 0), at(2026, 12, 2, 10, 30))

    def test_raising_urgency_to_critical_tightens_the_clock(
        self, agent: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 2, 10, 0))
        with clock.frozen_at(at(2026, 12, 2, 10, 10)):
            case_classify(actor=agent, case=case, nature="hardware", urgency="critical")
        assert local(clocks(case)["first_response"].due_at) == at(2026, 12, 2, 11, 0)
        event = case.events.get(kind=CaseEvent.Kind.SLA, data__change="recomputed")
        assert event.data["reason"] == "urgency"

    def test_editing_a_policy_recomputes_open_cases(
        self, agent: User, manager: User, customer: Any
    ) -> None:
        case = open_case(agent, customer, when=at(2026, 12, 2, 10, 0))
        target = SlaTarget.objects.get(policy__name="标准服务 / Standard", metric="first_response")
        target.amount = 2
        target.save()
        with clock.frozen_at(at(2026, 12, 2, 10, 1)):
            changed = sla_policy_reapply(actor=manager)
        assert changed == 1
        assert local(clocks(case)["first_response"].due_at) == at(2026, 12, 2, 12, 0)
        event = case.events.get(kind=CaseEvent.Kind.SLA, data__change="recomputed")
        assert event.data["reason"] == "policy"

    def test_an_agent_cannot_reapply_policies(self, agent: User) -> None:
        from django.core.exceptions import PermissionDenied

        with pytest.raises(PermissionDenied):
            sla_policy_reapply(actor=agent)

    def test_no_matching_policy_means_no_clocks(self, agent: User, customer: Any) -> None:
        SlaPolicy.objects.update(is_active=False)
        case = open_case(agent, customer, when=at(2026, 12, 2, 10, 0))
        assert clocks(case) == {}
