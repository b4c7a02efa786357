"""aftersales.complaints.selectors: scope, worklists of reviewers and approvers, figures."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.complaints.models import CompensationProposal, Complaint, ComplaintReview
from aftersales.complaints.selectors import (
    approvals_waiting_for,
    complaint_figures,
    complaint_get_for,
    complaint_list_for,
    complaint_queryset_for,
    review_worklist_for,
)
from aftersales.complaints.services import (
    LineIn,
    compensation_decide,
    compensation_propose,
    complaint_answer,
    complaint_close,
    complaint_evaluate,
    complaint_reopen,
    complaint_review_claim,
)
from aftersales.core import clock
from aftersales.core.errors import NotFound


@pytest.fixture
def reviewed(agent: User, raise_complaint: Callable[..., Complaint]) -> Complaint:
    """A major complaint waiting for the review group."""
    return complaint_evaluate(
        actor=agent, complaint=raise_complaint(subject="严重投诉"), nature="other", severity="major"
    )


class TestScope:
    def test_case_scope_decides(
        self,
        agent: User,
        other_agent: User,
        manager: User,
        warehouse_user: User,
        handled: Complaint,
    ) -> None:
        assert list(complaint_queryset_for(agent)) == [handled]
        assert list(complaint_queryset_for(manager)) == [handled]
        assert not complaint_queryset_for(other_agent).exists()
        assert not complaint_queryset_for(warehouse_user).exists()

    def test_reviewers_see_every_complaint_that_needs_review(
        self, reviewer: User, handled: Complaint, reviewed: Complaint
    ) -> None:
        assert list(complaint_queryset_for(reviewer)) == [reviewed]

    def test_get_by_number(self, agent: User, other_agent: User, handled: Complaint) -> None:
        assert complaint_get_for(agent, number=handled.case.number) == handled
        with pytest.raises(NotFound):
            complaint_get_for(other_agent, number=handled.case.number)
        with pytest.raises(NotFound):
            complaint_get_for(agent, number="SR000")

    def test_list_filters(self, agent: User, handled: Complaint, reviewed: Complaint) -> None:
        assert list(complaint_list_for(agent)) == [reviewed, handled]  # newest first
        assert list(complaint_list_for(agent, status="handling")) == [handled]
        assert list(complaint_list_for(agent, nature="other")) == [reviewed]
        assert list(complaint_list_for(agent, review=True)) == [reviewed]
        assert list(complaint_list_for(agent, review=False)) == [handled]
        assert list(complaint_list_for(agent, review="pending")) == [reviewed]
        assert list(complaint_list_for(agent, review="completed")) == []


def test_review_worklist(
    reviewer: User, make_staff: Callable[..., User], review_team: Team, reviewed: Complaint
) -> None:
    review = ComplaintReview.objects.get(complaint=reviewed)
    second = make_staff(Role.COMPLAINT_REVIEWER, teams=[review_team])
    assert list(review_worklist_for(reviewer)) == [review]
    complaint_review_claim(actor=second, review=review)
    assert list(review_worklist_for(second)) == [review]
    assert list(review_worklist_for(reviewer)) == []


class TestApprovals:
    def test_within_limit_in_scope_not_own(
        self,
        agent: User,
        senior_agent: User,
        supervisor: User,
        manager: User,
        make_staff: Callable[..., User],
        other_team: Team,
        proposal: CompensationProposal,
    ) -> None:
        assert proposal.total == Decimal("1500.00")
        assert list(approvals_waiting_for(supervisor)) == [proposal]
        assert list(approvals_waiting_for(manager)) == [proposal]
        assert list(approvals_waiting_for(agent)) == []  # own proposal
        assert list(approvals_waiting_for(senior_agent)) == []  # above ¥200
        elsewhere = make_staff(Role.SUPERVISOR, leads=[other_team])
        assert list(approvals_waiting_for(elsewhere)) == []  # not in scope
        compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
        assert list(approvals_waiting_for(manager)) == []


def test_figures(agent: User, supervisor: User, handled: Complaint, reviewed: Complaint) -> None:
    proposal = compensation_propose(
        actor=agent,
        complaint=handled,
        lines=[LineIn("voucher", Decimal("100")), LineIn("refund_partial", Decimal("250.50"))],
    )
    compensation_decide(actor=supervisor, proposal=proposal, decision="approve")
    for action in handled.actions.all():
        from aftersales.complaints.services import compensation_action_complete

        compensation_action_complete(actor=agent, action=action, reference="REF-1")
    complaint_answer(actor=agent, complaint=handled, solution_type="compensation")
    complaint_close(
        actor=agent, complaint=handled, root_cause="communication", communication_error=True
    )
    complaint_reopen(actor=agent, complaint=handled, reason="客户不同意")
    now = clock.now()
    figures = complaint_figures(since=now - dt.timedelta(days=1), until=now + dt.timedelta(1))
    assert figures["total"] == 2
    assert figures["by_nature"] == {"slow_response": 1, "other": 1}
    assert figures["by_root_cause"] == {"communication": 1}
    assert figures["communication_error_share"] == 1.0
    assert figures["review_share"] == 0.5
    assert figures["reopen_rate"] == 0.5
    assert figures["compensation_by_kind"] == {
        "refund_partial": Decimal("250.50"),
        "voucher": Decimal("100.00"),
    }
    assert figures["closed"] == 0  # reopened: closed_at cleared
    empty = complaint_figures(since=now - dt.timedelta(days=9), until=now - dt.timedelta(days=8))
    assert empty["total"] == 0
    assert empty["cycle_days_median"] is None


def test_cycle_time_in_working_days(agent: User, handled: Complaint) -> None:
    complaint_answer(actor=agent, complaint=handled)
    complaint_close(actor=agent, complaint=handled, root_cause="other")
    # Received on a Monday 09:00, closed on Wednesday 09:00: two working days.
    monday = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    Complaint.objects.filter(pk=handled.pk).update(
        received_at=monday, closed_at=monday + dt.timedelta(days=2)
    )
    figures = complaint_figures(since=monday, until=monday + dt.timedelta(days=7))
    assert figures["closed"] == 1
    assert figures["cycle_days_median"] == figures["cycle_days_avg"] == 2.0


def test_the_figures_count_only_the_readers_scope(
    agent: User, other_agent: User, handled: Complaint
) -> None:
    now = clock.now()
    window = {"since": now - dt.timedelta(days=1), "until": now + dt.timedelta(days=1)}
    assert complaint_figures(**window, user=agent)["total"] == 1
    # Another desk's agent: the complaint is outside their scope, so it is not in their figures.
    assert complaint_figures(**window, user=other_agent)["total"] == 0
    assert complaint_figures(**window)["total"] == 1
