"""aftersales.complaints.services: the complaint lifecycle, review, compensation and answer."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_open
from aftersales.complaints.models import (
    ApprovalDecision,
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintReview,
    ReviewPolicy,
)
from aftersales.complaints.services import (
    LineIn,
    approval_limit_for,
    compensation_action_complete,
    compensation_decide,
    compensation_propose,
    compensation_withdraw,
    complaint_answer,
    complaint_close,
    complaint_evaluate,
    complaint_handle,
    complaint_raise,
    complaint_reopen,
    complaint_review_claim,
    complaint_review_complete,
    complaint_root_cause_set,
)
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from aftersales.notifications.models import Notification
from aftersales.sla.models import SlaClock
from tests import factories

from .conftest import snapshot

SH = ZoneInfo("Asia/Shanghai")
COMPLAINT_KINDS = ("complaint", "review", "compensation", "contact")


def refused(call: Callable[[], Any], code: str, status: int) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        call()
    assert (info.value.code, info.value.status_code) == (code, status), info.value.message
    return info.value


def steps(case: Case) -> list[tuple[str, str | None, str | None]]:
    """(kind, change, actor) of the complaint's own events on a case, in order."""
    return [
        (e.kind, (e.data or {}).get("change"), e.actor.username if e.actor else None)
        for e in case.events.filter(kind__in=COMPLAINT_KINDS)
        .select_related("actor")
        .order_by("occurred_at", "id")
    ]


def test_must_show_vip_slow_response_complaint_from_review_to_closing(
    agent: User,
    supervisor: User,
    manager: User,
    reviewer: User,
    conflicted_reviewer: User,
    desk_team: Team,
    vip_customer: Customer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    service_case, _ = case_open(
        actor=agent, customer=vip_customer, channel="phone", subject="冰箱不制冷"
    )

    # Raised from the existing case: linked, with an event on both.
    complaint = complaint_raise(
        actor=agent,
        customer=vip_customer,
        channel="phone",
        subject="Nobody called me back for three days",
        nature="slow_response",
        related_case=service_case,
        concerns_team=desk_team,
    )
    case = complaint.case
    assert (case.kind, case.nature, complaint.status) == ("complaint", "response", "received")
    assert complaint.related_case == service_case
    assert service_case.events.get(kind="complaint").data == {
        "change": "raised_from_here",
        "complaint_case": case.number,
    }

    # Evaluated: a VIP's complaint goes to the independent review group.
    complaint = complaint_evaluate(
        actor=agent,
        complaint=complaint,
        nature="slow_response",
        severity="moderate",
        concerns_team=desk_team,
    )
    assert (complaint.status, complaint.review_required) == ("evaluated", True)
    assert complaint.review_reasons == ["vip"]
    review = ComplaintReview.objects.get(complaint=complaint)
    assert (review.status, review.reasons) == ("pending", ["vip"])
    complaint = complaint_handle(actor=agent, complaint=complaint)
    case.refresh_from_db()
    assert (complaint.status, case.status, case.assignee) == ("handling", "in_progress", agent)

    # A reviewer from the desk the complaint is about is refused; nothing changes.
    before = snapshot(complaint)
    error = refused(
        lambda: complaint_review_claim(actor=conflicted_reviewer, review=review),
        "reviewer_not_independent",
        403,
    )
    assert error.details == {"reason": "concerns_team"}
    assert snapshot(complaint) == before
    review.refresh_from_db()
    assert (review.status, review.reviewer) == ("pending", None)

    # An independent reviewer claims and completes it.
    complaint_review_claim(actor=reviewer, review=review)
    review = complaint_review_complete(
        actor=reviewer,
        review=review,
        findings="The desk missed two promised call-backs.",
        responsibility="service",
        recommendation="Refund part of the price and replace the unit.",
    )
    assert (review.status, review.reviewer, review.responsibility) == (
        "completed",
        reviewer,
        "service",
    )

    # Refund 1,500 + replacement 1,999: above the supervisor's ¥2,000.
    proposal = compensation_propose(
        actor=agent,
        complaint=complaint,
        lines=[
            LineIn("refund_partial", Decimal("1500")),
            LineIn("replacement", Decimal("1999")),
        ],
        reason="Two missed call-backs, unit still faulty",
    )
    assert proposal.total == Decimal("3499.00")
    assert proposal.required_level.name == "售后经理 / After-sales manager"

    before = snapshot(complaint)
    error = refused(
        lambda: compensation_decide(actor=supervisor, proposal=proposal, decision="approve"),
        "over_approval_limit",
        403,
    )
    assert error.details == {
        "limit": "2000.00",
        "total": "3499.00",
        "required_level": "售后经理 / After-sales manager",
    }
    assert snapshot(complaint) == before

    compensation_decide(
        actor=supervisor, proposal=proposal, decision="forward", note="Agreed, needs manager"
    )
    assert Notification.objects.filter(
        recipient=manager, code="compensation_approval_needed", case=case
    ).exists()

    before = snapshot(complaint)
    refused(
        lambda: compensation_decide(actor=agent, proposal=proposal, decision="approve"),
        "own_proposal",
        403,
    )
    assert snapshot(complaint) == before

    proposal = compensation_decide(actor=manager, proposal=proposal, decision="approve")
    assert (proposal.status, proposal.decided_by) == ("approved", manager)
    assert list(proposal.decisions.values_list("decision", "approver__username")) == [
        ("forward", "supervisor"),
        ("approve", "manager"),
    ]
    audit = AuditEvent.objects.get(action="compensation.approve")
    assert (audit.entity, audit.entity_id, audit.actor) == (
        "compensation_proposal",
        proposal.pk,
        manager,
    )

    # Follow-up actions appear and are completed with their references.
    actions = list(complaint.actions.order_by("id"))
    assert [(a.kind, a.amount, a.status) for a in actions] == [
        ("refund", Decimal("1500.00"), "open"),
        ("replacement", Decimal("1999.00"), "open"),
    ]
    compensation_action_complete(actor=agent, action=actions[0], reference="PAY-20261125-01")
    compensation_action_complete(actor=agent, action=actions[1], reference="SF1234567890")
    assert list(complaint.actions.values_list("status", "reference")) == [
        ("done", "PAY-20261125-01"),
        ("done", "SF1234567890"),
    ]

    # The answer letter, in the customer's language, on their channel (e-mail).
    with django_capture_on_commit_callbacks(execute=True):
        contact = complaint_answer(
            actor=agent,
            complaint=complaint,
            message="We refund ¥1,500 and replace your fridge.",
            solution_type="compensation",
        )
    assert (contact.kind, contact.direction, contact.channel) == ("contact", "out", "email")
    assert contact.data == {"letter": "complaint_answer", "language": "en"}
    assert contact.body.startswith(f"Our answer to your complaint {case.number}\n\nDear Li Wei,")
    assert "Partial refund: ¥1,500.00" in contact.body
    assert "Replacement: ¥1,999.00" in contact.body
    assert [m.to for m in mail.outbox] == [["li.wei@example.com"]]
    assert mail.outbox[0].subject == f"Our answer to your complaint {case.number}"
    complaint.refresh_from_db()
    case.refresh_from_db()
    assert (complaint.status, case.status, case.solution_type) == (
        "answered",
        "resolved",
        "compensation",
    )

    complaint = complaint_close(
        actor=agent, complaint=complaint, root_cause="service_process", communication_error=True
    )
    case.refresh_from_db()
    assert (complaint.status, complaint.root_cause, complaint.communication_error) == (
        "closed",
        "service_process",
        True,
    )
    assert case.status == "closed"

    # Every step is on the timeline with its actor.
    assert steps(case) == [
        ("complaint", "raised", "agent"),
        ("complaint", "evaluated", "agent"),
        ("review", "requested", "agent"),
        ("complaint", "handling", "agent"),
        ("review", "claimed", "reviewer"),
        ("review", "completed", "reviewer"),
        ("compensation", "proposed", "agent"),
        ("compensation", "forwarded", "supervisor"),
        ("compensation", "approved", "manager"),
        ("compensation", "action_done", "agent"),
        ("compensation", "action_done", "agent"),
        ("contact", None, "agent"),
        ("complaint", "answered", "agent"),
        ("complaint", "closed", "agent"),
    ]
    assert [
        (e.data["action"], e.to_status, e.actor.username if e.actor else None)
        for e in case.events.filter(kind="status").order_by("occurred_at", "id")
        if e.data.get("action") in ("assign", "start", "resolve", "close")
    ] == [
        ("assign", "assigned", "agent"),
        ("start", "in_progress", "agent"),
        ("resolve", "resolved", "agent"),
        ("close", "closed", "agent"),
    ]


class TestRaise:
    def test_a_complaint_gets_the_1_hour_and_24_hour_clocks(
        self, agent: User, customer: Customer
    ) -> None:
        opened = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SH)  # a Wednesday
        with clock.frozen_at(opened):
            complaint = complaint_raise(
                actor=agent,
                customer=customer,
                channel="email",
                subject="投诉：三天无人回复",
                nature="slow_response",
            )
        clocks = {c.metric: c for c in SlaClock.objects.filter(case=complaint.case)}
        assert clocks["first_response"].due_at == opened + dt.timedelta(hours=1)
        assert clocks["preliminary_solution"].due_at == opened + dt.timedelta(hours=24)
        assert clocks["first_response"].policy.name == "投诉 / Complaint"

    def test_system_raises_for_the_customer_without_an_actor(self, customer: Customer) -> None:
        complaint = complaint_raise(
            actor=None,
            customer=customer,
            channel="portal",
            subject="回访：对服务态度不满意",
            nature="service_attitude",
        )
        assert complaint.case.kind == "complaint"
        assert complaint.case.nature == "attitude"
        event = complaint.case.events.get(kind="complaint")
        assert event.actor is None
        assert event.data == {
            "change": "raised",
            "nature": "service_attitude",
            "severity": "moderate",
            "related_case": None,
        }

    def test_the_system_retrying_with_a_key_gets_the_same_complaint(
        self, customer: Customer
    ) -> None:
        def raise_it() -> Complaint:
            return complaint_raise(
                actor=None,
                customer=customer,
                channel="portal",
                subject="回访：服务态度差",
                nature="service_attitude",
                idempotency_key="survey-7",
            )

        assert raise_it().pk == raise_it().pk
        assert Complaint.objects.count() == 1

    def test_a_retry_with_the_same_key_gets_the_same_complaint(
        self, raise_complaint: Callable[..., Complaint]
    ) -> None:
        first = raise_complaint(idempotency_key="mail-4711")
        again = raise_complaint(idempotency_key="mail-4711")
        assert again.pk == first.pk
        assert Complaint.objects.count() == 1

    def test_invalid_fields_change_nothing(
        self, raise_complaint: Callable[..., Complaint], customer: Customer
    ) -> None:
        other_case = factories.case(factories.customer())
        error = refused(
            lambda: raise_complaint(
                nature="weather",
                severity="huge",
                amount_at_stake=Decimal("-1"),
                related_case=other_case,
            ),
            "invalid_complaint",
            400,
        )
        assert set(error.details) == {"nature", "severity", "amount_at_stake", "related_case"}
        assert not Complaint.objects.exists()
        assert not Case.objects.filter(kind="complaint").exists()

    def test_a_member_of_staff_needs_to_open_cases(
        self, make_staff: Callable[..., User], customer: Customer
    ) -> None:
        from aftersales.accounts.roles import Role

        reviewer = make_staff(Role.COMPLAINT_REVIEWER)
        with pytest.raises(PermissionDenied):
            complaint_raise(
                actor=reviewer, customer=customer, channel="phone", subject="x", nature="other"
            )


class TestEvaluate:
    @pytest.mark.parametrize(
        ("fields", "reasons"),
        [
            ({"severity": "major"}, ["severity"]),
            ({"amount_at_stake": Decimal("1000")}, ["amount"]),
            ({"amount_at_stake": Decimal("999.99")}, []),
            ({"media_exposure": True}, ["media"]),
            ({"severity": "critical", "media_exposure": True}, ["severity", "media"]),
        ],
    )
    def test_review_rules(
        self,
        agent: User,
        raise_complaint: Callable[..., Complaint],
        fields: dict[str, Any],
        reasons: list[str],
    ) -> None:
        complaint = raise_complaint()
        fields = {"nature": "slow_response", "severity": "moderate", **fields}
        complaint = complaint_evaluate(actor=agent, complaint=complaint, **fields)
        assert complaint.review_reasons == reasons
        assert complaint.review_required is bool(reasons)
        assert ComplaintReview.objects.filter(complaint=complaint).count() == (1 if reasons else 0)

    def test_a_repeated_complaint_goes_to_review(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        raise_complaint(subject="第一次投诉")
        complaint = raise_complaint(subject="第二次投诉")
        complaint = complaint_evaluate(
            actor=agent, complaint=complaint, nature="slow_response", severity="minor"
        )
        assert (complaint.earlier_complaints, complaint.review_reasons) == (1, ["repeat"])

    def test_policy_is_configurable(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        ReviewPolicy.objects.update(min_severity="moderate")
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="other", severity="moderate"
        )
        assert complaint.review_reasons == ["severity"]

    def test_severity_moves_the_case_urgency(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="repair_quality", severity="critical"
        )
        case = Case.objects.get(pk=complaint.case_id)
        assert (case.nature, case.urgency) == ("hardware", "critical")

    def test_a_closed_complaint_is_not_evaluated(self, agent: User, handled: Complaint) -> None:
        Complaint.objects.filter(pk=handled.pk).update(status="closed")
        before = snapshot(handled)
        refused(
            lambda: complaint_evaluate(
                actor=agent, complaint=handled, nature="other", severity="minor"
            ),
            "invalid_complaint_transition",
            409,
        )
        assert snapshot(handled) == before


class TestReview:
    @pytest.fixture
    def review(self, agent: User, raise_complaint: Callable[..., Complaint]) -> ComplaintReview:
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="other", severity="major"
        )
        return ComplaintReview.objects.get(complaint=complaint)

    def test_the_staff_member_complained_about_cannot_review(
        self, agent: User, review: ComplaintReview, make_staff: Callable[..., User]
    ) -> None:
        from aftersales.accounts.roles import Role

        colleague = make_staff(Role.COMPLAINT_REVIEWER)
        Complaint.objects.filter(pk=review.complaint_id).update(concerns_user=colleague)
        error = refused(
            lambda: complaint_review_claim(actor=colleague, review=review),
            "reviewer_not_independent",
            403,
        )
        assert error.details == {"reason": "concerns_user"}

    def test_a_taken_review_is_refused_to_the_next_reviewer(
        self, reviewer: User, review: ComplaintReview, make_staff: Callable[..., User]
    ) -> None:
        from aftersales.accounts.roles import Role

        complaint_review_claim(actor=reviewer, review=review)
        second = make_staff(Role.COMPLAINT_REVIEWER)
        refused(lambda: complaint_review_claim(actor=second, review=review), "review_taken", 409)
        refused(
            lambda: complaint_review_complete(
                actor=second,
                review=review,
                findings="x",
                responsibility="service",
                recommendation="",
            ),
            "not_your_review",
            403,
        )

    def test_findings_and_responsibility_are_required(
        self, reviewer: User, review: ComplaintReview
    ) -> None:
        complaint_review_claim(actor=reviewer, review=review)
        error = refused(
            lambda: complaint_review_complete(
                actor=reviewer,
                review=review,
                findings=" ",
                responsibility="fate",
                recommendation="",
            ),
            "invalid_review",
            400,
        )
        assert set(error.details) == {"findings", "responsibility"}
        review.refresh_from_db()
        assert review.status == "in_review"

    def test_a_completed_review_stays_completed(
        self, reviewer: User, review: ComplaintReview
    ) -> None:
        complaint_review_claim(actor=reviewer, review=review)
        complaint_review_complete(
            actor=reviewer,
            review=review,
            findings="ok",
            responsibility="customer",
            recommendation="",
        )
        refused(
            lambda: complaint_review_claim(actor=reviewer, review=review), "review_completed", 409
        )

    def test_agents_cannot_review(self, agent: User, review: ComplaintReview) -> None:
        with pytest.raises(PermissionDenied):
            complaint_review_claim(actor=agent, review=review)


class TestCompensation:
    def test_required_level_follows_the_total(self, agent: User, handled: Complaint) -> None:
        proposal = compensation_propose(
            actor=agent, complaint=handled, lines=[LineIn("voucher", Decimal("200"))]
        )
        assert proposal.required_level.rank == 1
        event = handled.case.events.filter(kind="compensation").last()
        assert event is not None
        assert event.data == {
            "change": "proposed",
            "proposal": proposal.pk,
            "total": "200.00",
            "level": "坐席 / Agent",
            "lines": [{"kind": "voucher", "amount": "200.00"}],
        }

    @pytest.mark.parametrize(
        ("line", "field"),
        [
            (LineIn("refund_partial", Decimal("-50")), "amount"),
            (LineIn("cash_gift", Decimal("50")), "kind"),
            (LineIn("refund_full", Decimal("0")), "amount"),
            (LineIn("voucher", Decimal("10.005")), "amount"),
            (LineIn("extended_warranty", Decimal("0"), months=12), "unit"),
        ],
    )
    def test_bad_lines_change_nothing(
        self, agent: User, handled: Complaint, line: LineIn, field: str
    ) -> None:
        before = snapshot(handled)
        error = refused(
            lambda: compensation_propose(
                actor=agent, complaint=handled, lines=[LineIn("voucher", Decimal("20")), line]
            ),
            "invalid_compensation",
            400,
        )
        assert field in error.details["lines"]["1"]
        assert "0" not in error.details["lines"]
        assert snapshot(handled) == before

    def test_no_lines(self, agent: User, handled: Complaint) -> None:
        error = refused(
            lambda: compensation_propose(actor=agent, complaint=handled, lines=[]),
            "invalid_compensation",
            400,
        )
        assert "lines" in error.details

    def test_extended_warranty_months_are_checked(self, agent: User, handled: Complaint) -> None:
        unit = factories.unit(customer=handled.case.customer)
        error = refused(
            lambda: compensation_propose(
                actor=agent,
                complaint=handled,
                lines=[LineIn("extended_warranty", Decimal("0"), unit=unit, months=61)],
            ),
            "invalid_compensation",
            400,
        )
        assert set(error.details["lines"]["0"]) == {"months"}

    def test_one_pending_proposal_at_a_time(
        self, agent: User, proposal: CompensationProposal
    ) -> None:
        complaint = proposal.complaint
        before = snapshot(complaint)
        refused(
            lambda: compensation_propose(
                actor=agent, complaint=complaint, lines=[LineIn("voucher", Decimal("20"))]
            ),
            "proposal_pending",
            409,
        )
        assert snapshot(complaint) == before

    def test_no_proposal_before_the_review_is_done(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="other", severity="major"
        )
        refused(
            lambda: compensation_propose(
                actor=agent, complaint=complaint, lines=[LineIn("voucher", Decimal("20"))]
            ),
            "review_pending",
            409,
        )

    def test_no_proposal_on_a_received_complaint(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        complaint = raise_complaint()
        refused(
            lambda: compensation_propose(
                actor=agent, complaint=complaint, lines=[LineIn("voucher", Decimal("20"))]
            ),
            "invalid_complaint_transition",
            409,
        )

    def test_approving_twice_is_already_decided(
        self,
        supervisor: User,
        manager: User,
        proposal: CompensationProposal,
    ) -> None:
        compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
        before = snapshot(proposal.complaint)
        for actor in (supervisor, manager):
            with pytest.raises(ApplicationError) as info:
                compensation_decide(actor=actor, proposal=proposal, decision="approve")
            assert (info.value.code, info.value.status_code) == ("already_decided", 409)
        assert snapshot(proposal.complaint) == before
        assert ApprovalDecision.objects.filter(proposal=proposal).count() == 1
        assert CompensationAction.objects.count() == 2

    def test_reject_records_the_decision_and_creates_nothing(
        self, supervisor: User, proposal: CompensationProposal
    ) -> None:
        proposal = compensation_decide(
            actor=supervisor, proposal=proposal, decision="reject", note="Not justified"
        )
        assert proposal.status == "rejected"
        assert not CompensationAction.objects.exists()
        event = proposal.complaint.case.events.filter(kind="compensation").last()
        assert event is not None
        assert (event.data["change"], event.body, event.actor) == (
            "rejected",
            "Not justified",
            supervisor,
        )

    def test_an_agent_approves_up_to_200(
        self, senior_agent: User, agent: User, handled: Complaint
    ) -> None:
        small = compensation_propose(
            actor=agent, complaint=handled, lines=[LineIn("voucher", Decimal("200"))]
        )
        assert compensation_decide(
            actor=senior_agent, proposal=small, decision="approve"
        ).status == ("approved")

    def test_nobody_decides_on_a_complaint_about_them(
        self, supervisor: User, proposal: CompensationProposal
    ) -> None:
        Complaint.objects.filter(pk=proposal.complaint_id).update(concerns_user=supervisor)
        refused(
            lambda: compensation_decide(actor=supervisor, proposal=proposal, decision="approve"),
            "not_independent",
            403,
        )

    def test_unknown_decision(self, supervisor: User, proposal: CompensationProposal) -> None:
        refused(
            lambda: compensation_decide(actor=supervisor, proposal=proposal, decision="maybe"),
            "invalid_decision",
            400,
        )

    def test_withdraw(self, agent: User, proposal: CompensationProposal) -> None:
        proposal = compensation_withdraw(actor=agent, proposal=proposal)
        assert (proposal.status, proposal.decided_by) == ("withdrawn", agent)
        refused(
            lambda: compensation_withdraw(actor=agent, proposal=proposal), "already_decided", 409
        )

    def test_limits(self, agent: User, supervisor: User, manager: User, reviewer: User) -> None:
        assert approval_limit_for(agent)[1:] == (Decimal("200.00"), False)
        assert approval_limit_for(supervisor)[1:] == (Decimal("2000.00"), False)
        assert approval_limit_for(manager)[1:] == (None, True)
        assert approval_limit_for(reviewer) == (None, None, False)


class TestActions:
    @pytest.fixture
    def approved(self, supervisor: User, proposal: CompensationProposal) -> CompensationProposal:
        return compensation_decide(actor=supervisor, proposal=proposal, decision="approve")

    def test_reference_is_required_for_money(
        self, agent: User, approved: CompensationProposal
    ) -> None:
        action = approved.complaint.actions.first()
        assert action is not None
        before = snapshot(approved.complaint)
        refused(
            lambda: compensation_action_complete(actor=agent, action=action, reference=" "),
            "reference_required",
            400,
        )
        assert snapshot(approved.complaint) == before

    def test_done_is_done(self, agent: User, approved: CompensationProposal) -> None:
        action = approved.complaint.actions.first()
        assert action is not None
        compensation_action_complete(actor=agent, action=action, reference="VC-88")
        refused(
            lambda: compensation_action_complete(actor=agent, action=action, reference="VC-89"),
            "action_not_open",
            409,
        )

    def test_extended_warranty_extends_the_unit(
        self, agent: User, supervisor: User, handled: Complaint
    ) -> None:
        unit = factories.unit(customer=handled.case.customer)
        end_before = unit.parts_warranty_end
        proposal = compensation_propose(
            actor=agent,
            complaint=handled,
            lines=[LineIn("extended_warranty", Decimal("0"), unit=unit, months=12)],
        )
        compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
        action = handled.actions.get()
        compensation_action_complete(actor=agent, action=action, reference="")
        unit.refresh_from_db()
        assert unit.warranty_extension_months == 12
        assert unit.parts_warranty_end == end_before.replace(year=end_before.year + 1)
        assert AuditEvent.objects.filter(
            action="unit.warranty_extended", entity_id=unit.pk
        ).exists()


class TestAnswerCloseReopen:
    def test_answer_in_chinese_by_default_on_the_phone(
        self, agent: User, handled: Complaint
    ) -> None:
        contact = complaint_answer(
            actor=agent, complaint=handled, message="已安排专人每日回电跟进。"
        )
        assert (contact.channel, contact.data["language"]) == ("phone", "zh-hans")
        assert contact.body.startswith(f"关于您的投诉 {handled.case.number} 的答复")
        assert "已安排专人每日回电跟进。" in contact.body
        assert "$" not in contact.body
        assert not mail.outbox
        handled.refresh_from_db()
        assert handled.status == "answered"
        assert handled.answered_at is not None

    def test_answering_with_a_pending_review_changes_nothing(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="other", severity="major"
        )
        before = snapshot(complaint)
        refused(lambda: complaint_answer(actor=agent, complaint=complaint), "review_pending", 409)
        assert snapshot(complaint) == before

    def test_answering_with_a_pending_proposal_is_refused(
        self, agent: User, proposal: CompensationProposal
    ) -> None:
        refused(
            lambda: complaint_answer(actor=agent, complaint=proposal.complaint),
            "proposal_pending",
            409,
        )

    def test_compensation_as_solution_needs_an_approved_proposal(
        self, agent: User, handled: Complaint
    ) -> None:
        refused(
            lambda: complaint_answer(actor=agent, complaint=handled, solution_type="compensation"),
            "compensation_not_approved",
            409,
        )

    def test_answer_straight_after_evaluation_takes_the_case_on(
        self, agent: User, raise_complaint: Callable[..., Complaint]
    ) -> None:
        complaint = complaint_evaluate(
            actor=agent, complaint=raise_complaint(), nature="other", severity="minor"
        )
        complaint_answer(actor=agent, complaint=complaint, message="说明情况")
        case = Case.objects.get(pk=complaint.case_id)
        assert (case.status, case.assignee) == ("resolved", agent)

    def test_closing_with_open_actions_changes_nothing(
        self, agent: User, supervisor: User, proposal: CompensationProposal
    ) -> None:
        compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
        complaint = proposal.complaint
        complaint_answer(actor=agent, complaint=complaint, solution_type="compensation")
        before = snapshot(complaint)
        error = refused(
            lambda: complaint_close(
                actor=agent,
                complaint=complaint,
                root_cause="service_process",
                communication_error=False,
            ),
            "actions_open",
            409,
        )
        assert len(error.details["actions"]) == 2
        assert snapshot(complaint) == before

    def test_closing_needs_a_root_cause(self, agent: User, handled: Complaint) -> None:
        complaint_answer(actor=agent, complaint=handled)
        before = snapshot(handled)
        refused(lambda: complaint_close(actor=agent, complaint=handled), "root_cause_required", 400)
        assert snapshot(handled) == before
        complaint_root_cause_set(
            actor=agent, complaint=handled, root_cause="communication", communication_error=True
        )
        closed = complaint_close(actor=agent, complaint=handled)
        assert (closed.status, closed.root_cause, closed.communication_error) == (
            "closed",
            "communication",
            True,
        )

    def test_only_an_answered_complaint_closes(self, agent: User, handled: Complaint) -> None:
        refused(
            lambda: complaint_close(actor=agent, complaint=handled, root_cause="other"),
            "invalid_complaint_transition",
            409,
        )

    def test_the_customer_disagrees_and_it_reopens(self, agent: User, handled: Complaint) -> None:
        complaint_answer(actor=agent, complaint=handled)
        complaint_close(actor=agent, complaint=handled, root_cause="expectation")
        complaint = complaint_reopen(actor=None, complaint=handled, reason="仍未解决")
        case = Case.objects.get(pk=complaint.case_id)
        assert (complaint.status, complaint.reopen_count, complaint.closed_at) == (
            "handling",
            1,
            None,
        )
        assert (case.status, case.reopen_count) == ("in_progress", 1)
        event = case.events.filter(kind="complaint").last()
        assert event is not None
        assert (event.data, event.actor, event.body) == (
            {"change": "reopened", "reopen_count": 1},
            None,
            "仍未解决",
        )
        # Handled again, it is answered again.
        complaint_answer(actor=agent, complaint=complaint, message="再次说明")
        complaint.refresh_from_db()
        assert complaint.status == "answered"

    def test_reopen_needs_a_reason(self, agent: User, handled: Complaint) -> None:
        complaint_answer(actor=agent, complaint=handled)
        refused(
            lambda: complaint_reopen(actor=agent, complaint=handled, reason=" "),
            "reason_required",
            400,
        )


def test_handing_a_complaint_to_a_colleague_takes_a_supervisor(
    agent: User,
    senior_agent: User,
    supervisor: User,
    raise_complaint: Callable[..., Complaint],
) -> None:
    complaint = complaint_evaluate(
        actor=agent, complaint=raise_complaint(), nature="other", severity="minor"
    )
    with pytest.raises(PermissionDenied):
        complaint_handle(actor=agent, complaint=complaint, handler=senior_agent)
    complaint = complaint_handle(actor=supervisor, complaint=complaint, handler=senior_agent)
    case = Case.objects.get(pk=complaint.case_id)
    assert (case.assignee, case.status) == (senior_agent, "in_progress")
    event = case.events.filter(kind="complaint").last()
    assert event is not None
    assert (event.data, event.actor) == (
        {"change": "handling", "handler": senior_agent.pk},
        supervisor,
    )
    assert CaseEvent.objects.filter(case=case, kind="assigned", actor=supervisor).exists()


def test_forwarding_notifies_the_level_that_can_approve(
    agent: User, supervisor: User, manager: User, other_manager: User, handled: Complaint
) -> None:
    from aftersales.notifications.messages import render

    proposal = compensation_propose(
        actor=agent, complaint=handled, lines=[LineIn("replacement", Decimal("2999"))]
    )
    compensation_decide(actor=supervisor, proposal=proposal, decision="forward")
    notes = Notification.objects.filter(code="compensation_approval_needed").order_by("id")
    assert [n.recipient for n in notes] == [manager, other_manager]
    assert render(notes[0].code, notes[0].params) == (
        f"Complaint {handled.case.number}: a compensation of ¥2999.00 waits for your approval "
        "(level “售后经理 / After-sales manager”)."
    )
    decision = ApprovalDecision.objects.get(proposal=proposal)
    assert (decision.decision, decision.approver, decision.level and decision.level.rank) == (
        "forward",
        supervisor,
        2,
    )
    proposal.refresh_from_db()
    assert proposal.status == "pending"


def test_erasing_the_customer_replaces_review_and_compensation_text(
    agent: User, supervisor: User, manager: User, reviewer: User, desk_team: Team
) -> None:
    from aftersales.privacy.services import ERASED, subject_erase

    customer = factories.customer(tier="vip")
    complaint = complaint_raise(
        actor=agent, customer=customer, channel="phone", subject="投诉", nature="other"
    )
    complaint_evaluate(actor=agent, complaint=complaint, nature="other", severity="minor")
    review = ComplaintReview.objects.get(complaint=complaint)
    complaint_review_claim(actor=reviewer, review=review)
    complaint_review_complete(
        actor=reviewer,
        review=review,
        findings="客户王芳三次来电无人处理",
        responsibility="service",
        recommendation="向王芳致歉",
    )
    complaint_handle(actor=agent, complaint=complaint)
    proposal = compensation_propose(
        actor=agent,
        complaint=complaint,
        lines=[LineIn("voucher", Decimal("100"))],
        reason="王芳要求补偿",
    )
    compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
    compensation_action_complete(
        actor=agent, action=complaint.actions.get(), reference="VC-2026-0001"
    )
    complaint_answer(actor=agent, complaint=complaint, solution_type="compensation")
    complaint_close(actor=agent, complaint=complaint, root_cause="service_process")

    erasure = subject_erase(actor=manager, customer_id=customer.pk, reason="subject_request")

    review.refresh_from_db()
    proposal.refresh_from_db()
    assert (review.findings, review.recommendation, proposal.reason) == (ERASED, ERASED, ERASED)
    assert (review.responsibility, proposal.total) == ("service", Decimal("100.00"))
    assert erasure.counts["complaints.ComplaintReview.findings"] == 1
    assert erasure.counts["complaints.CompensationProposal.reason"] == 1
