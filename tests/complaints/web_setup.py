"""Records the complaint page and API tests start from: a VIP customer's complaint about slow
response, raised from their case and concerning the desk, taken step by step through review,
compensation and approval (the people are the fixtures of tests/conftest.py)."""

from decimal import Decimal

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case
from aftersales.cases.services import case_open
from aftersales.complaints import services
from aftersales.complaints.models import (
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintReview,
)
from tests import factories


def vip_case(agent: User) -> Case:
    """A VIP customer's service case, opened by `agent` (routed to the agent's desk)."""
    vip = factories.customer(tier="vip", preferred_language="zh-hans")
    case, _ = case_open(actor=agent, customer=vip, channel="phone", subject="冰箱不制冷")
    return case


def vip_complaint(agent: User, desk_team: Team) -> Complaint:
    """A VIP customer's complaint about slow response, raised from their case, about the desk."""
    case = vip_case(agent)
    return services.complaint_raise(
        actor=agent,
        customer=case.customer,
        channel="phone",
        subject="维修太慢",
        nature="slow_response",
        related_case=case,
        concerns_team=desk_team,
    )


def evaluated(complaint: Complaint, agent: User) -> Complaint:
    """Evaluated (a VIP's complaint: review requested) and in handling by `agent`."""
    complaint = services.complaint_evaluate(
        actor=agent,
        complaint=complaint,
        nature="slow_response",
        severity="major",
        concerns_team=complaint.concerns_team,
    )
    return services.complaint_handle(actor=agent, complaint=complaint)


def reviewed(complaint: Complaint, reviewer: User) -> Complaint:
    review = ComplaintReview.objects.get(complaint=complaint)
    review = services.complaint_review_claim(actor=reviewer, review=review)
    services.complaint_review_complete(
        actor=reviewer,
        review=review,
        findings="上门预约三次改期",
        responsibility="service",
        recommendation="部分退款并换新",
    )
    complaint.refresh_from_db()
    return complaint


def proposed(complaint: Complaint, agent: User, *amounts: str) -> CompensationProposal:
    """A refund (and replacement) proposal: default ¥1,499 + ¥2,000 = ¥3,499."""
    amounts = amounts or ("1499", "2000")
    kinds = ["refund_partial", "replacement"]
    lines = [services.LineIn(kind=kinds[i % 2], amount=Decimal(a)) for i, a in enumerate(amounts)]
    return services.compensation_propose(actor=agent, complaint=complaint, lines=lines)


def approved(
    complaint: Complaint, agent: User, manager: User, reviewer: User
) -> CompensationProposal:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent)
    return services.compensation_decide(actor=manager, proposal=proposal, decision="approve")


def open_actions(complaint: Complaint) -> list[CompensationAction]:
    return list(complaint.actions.filter(status="open").order_by("id"))
