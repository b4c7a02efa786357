"""Complaint fixtures: customers, staff on both sides of the review, complaints at each step."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import CaseEvent
from aftersales.complaints.models import (
    ApprovalDecision,
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintReview,
)
from aftersales.complaints.services import (
    LineIn,
    compensation_propose,
    complaint_evaluate,
    complaint_handle,
    complaint_raise,
)
from aftersales.customers.models import Customer
from aftersales.customers.services import contact_add
from tests import factories


@pytest.fixture
def customer(db: Any) -> Customer:
    return factories.customer()


@pytest.fixture
def vip_customer(db: Any) -> Customer:
    """A VIP who writes in English and wants answers by e-mail."""
    vip = factories.customer(
        tier="vip", name="Li Wei", preferred_language="en", preferred_channel="email"
    )
    contact_add(actor=None, customer=vip, kind="email", value="li.wei@example.com")
    return vip


@pytest.fixture
def conflicted_reviewer(
    make_staff: Callable[..., User], review_team: Team, desk_team: Team
) -> User:
    """A reviewer who also sits on the front-line desk the complaints are about."""
    return make_staff(
        Role.COMPLAINT_REVIEWER, teams=[review_team, desk_team], username="desk_reviewer"
    )


@pytest.fixture
def other_manager(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.MANAGER, username="manager2")


@pytest.fixture
def raise_complaint(agent: User, customer: Customer) -> Callable[..., Complaint]:
    def make(**kw: Any) -> Complaint:
        kw.setdefault("actor", agent)
        kw.setdefault("customer", customer)
        kw.setdefault("channel", "phone")
        kw.setdefault("subject", "投诉：回复太慢")
        kw.setdefault("nature", "slow_response")
        return complaint_raise(**kw)

    return make


@pytest.fixture
def handled(agent: User, raise_complaint: Callable[..., Complaint], desk_team: Team) -> Complaint:
    """A regular customer's moderate complaint (no review), evaluated and being handled."""
    complaint = raise_complaint()
    complaint_evaluate(
        actor=agent,
        complaint=complaint,
        nature="slow_response",
        severity="moderate",
        concerns_team=desk_team,
    )
    return complaint_handle(actor=agent, complaint=complaint)


@pytest.fixture
def proposal(agent: User, handled: Complaint) -> CompensationProposal:
    """A pending ¥150 voucher + ¥1,350 refund proposal (at the supervisor's level)."""
    return compensation_propose(
        actor=agent,
        complaint=handled,
        lines=[LineIn("voucher", Decimal("150")), LineIn("refund_partial", Decimal("1350"))],
        reason="两次未按时回电",
    )


def snapshot(complaint: Complaint) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    complaint.refresh_from_db()
    case = complaint.case
    case.refresh_from_db()
    return {
        "complaint": (
            complaint.status,
            complaint.nature,
            complaint.severity,
            complaint.root_cause,
            complaint.communication_error,
            complaint.review_required,
            complaint.updated_at,
        ),
        "case": (case.status, case.assignee_id, case.updated_at, case.solution_type),
        "events": list(CaseEvent.objects.order_by("id").values_list("id", flat=True)),
        "reviews": list(ComplaintReview.objects.order_by("id").values_list("id", "status")),
        "proposals": list(
            CompensationProposal.objects.order_by("id").values_list("id", "status", "total")
        ),
        "decisions": list(ApprovalDecision.objects.order_by("id").values_list("id", "decision")),
        "actions": list(
            CompensationAction.objects.order_by("id").values_list("id", "status", "reference")
        ),
    }
