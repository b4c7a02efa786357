"""The complaints API: list/get/raise, actions, proposals and decisions, follow-up actions,
reviews and the approvals worklist; errors in the one shape, scope as 404."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case, CaseEvent
from aftersales.complaints.models import (
    CompensationProposal,
    Complaint,
    ComplaintReview,
)
from tests.conftest import ApiClient

from .web_setup import (
    approved,
    evaluated,
    open_actions,
    proposed,
    reviewed,
    vip_case,
    vip_complaint,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def complaint(agent: User, desk_team: Team) -> Complaint:
    return vip_complaint(agent, desk_team)


@pytest.fixture
def service_case(agent: User) -> Case:
    return vip_case(agent)


Api = Callable[[User], ApiClient]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


def _base(complaint: Complaint) -> str:
    return f"/complaints/{complaint.case.number}"


REFUND_AND_REPLACEMENT = {
    "lines": [
        {"kind": "refund_partial", "amount": "1499.00"},
        {"kind": "replacement", "amount": "2000"},
    ],
    "reason": "VIP 三次改期",
}


def test_raise_from_a_case_with_idempotency(api: Api, agent: User, service_case: Case) -> None:
    client = api(agent)
    payload = {
        "related_case": service_case.number,
        "channel": "phone",
        "subject": "维修太慢",
        "nature": "slow_response",
        "severity": "major",
        "amount_at_stake": "3999.00",
    }
    first = client.post("/complaints", payload, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "received" and body["related_case"] == service_case.number
    assert body["customer"]["tier"] == "vip" and Decimal(body["amount_at_stake"]) == 3999
    assert {c["metric"] for c in body["clocks"]}  # the complaint's 1 h / 24 h clocks
    again = client.post("/complaints", payload, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json()["number"] == body["number"]
    assert Complaint.objects.count() == 1
    assert CaseEvent.objects.filter(
        case=service_case, kind="complaint", data__change="raised_from_here"
    ).exists()


def test_raise_refusals(api: Api, agent: User, service_case: Case, other_agent: User) -> None:
    client = api(agent)
    base = {"related_case": service_case.number, "channel": "phone", "subject": "s"}
    _error(
        client.post("/complaints", {**base, "nature": "slow_response", "tier": "vip"}),
        422,
        "invalid_input",
    )
    _error(client.post("/complaints", {**base, "nature": "bogus"}), 422, "invalid_input")
    body = _error(
        client.post("/complaints", {**base, "nature": "other", "amount_at_stake": "-1"}),
        400,
        "invalid_complaint",
    )
    assert "amount_at_stake" in body["details"]
    _error(api(other_agent).post("/complaints", {**base, "nature": "other"}), 422, "unknown_case")
    _error(
        client.post("/complaints", {"channel": "phone", "subject": "s", "nature": "other"}),
        422,
        "invalid_input",
    )
    assert not Complaint.objects.exists()


def test_list_get_and_scope(
    api: Api, complaint: Complaint, agent: User, other_agent: User, reviewer: User
) -> None:
    listed = api(agent).get("/complaints").json()
    assert listed["count"] == 1 and listed["items"][0]["number"] == complaint.case.number
    assert api(agent).get("/complaints", status="closed").json()["count"] == 0
    _error(api(agent).get("/complaints", status="nope"), 422, "invalid_input")
    assert api(agent).get(_base(complaint)).json()["nature"] == "slow_response"
    for outsider in (other_agent, reviewer):  # no review required yet: not the reviewer's
        _error(api(outsider).get(_base(complaint)), 404, "not_found")
        assert api(outsider).get("/complaints").json()["count"] == 0
    # A write: out of scope is 404 for whoever may do it; the reviewer may not (403).
    reopen = f"{_base(complaint)}/reopen"
    _error(api(other_agent).post(reopen, {"reason": "x"}), 404, "not_found")
    _error(api(reviewer).post(reopen, {"reason": "x"}), 403, "forbidden")
    _error(api(agent).get("/complaints/SR%00"), 404, "not_found")
    evaluated(complaint, agent)
    assert api(reviewer).get(_base(complaint)).status_code == 200
    assert api(agent).get("/complaints", review="required").json()["count"] == 1
    assert api(agent).get("/complaints", review="none").json()["count"] == 0
    assert api(agent).get("/complaints", review="pending").json()["count"] == 1


def test_evaluate_handle_and_extra_fields(
    api: Api, complaint: Complaint, agent: User, desk_team: Any
) -> None:
    client = api(agent)
    url = f"{_base(complaint)}/evaluate"
    _error(
        client.post(url, {"nature": "other", "severity": "major", "status": "closed"}),
        422,
        "invalid_input",
    )
    _error(
        client.post(url, {"nature": "other", "severity": "major", "amount_at_stake": "-3"}),
        400,
        "invalid_complaint",
    )
    complaint.refresh_from_db()
    assert complaint.status == "received"
    body = client.post(
        url, {"nature": "slow_response", "severity": "major", "concerns_team_id": desk_team.pk}
    ).json()
    assert body["status"] == "evaluated" and body["review_required"]
    assert "vip" in body["review_reasons"] and body["reviews"][0]["status"] == "pending"
    handled = client.post(f"{_base(complaint)}/handle", {})
    assert handled.status_code == 200 and handled.json()["status"] == "handling"
    assert handled.json()["assignee"]["id"] == agent.pk


def test_reviews_list_claim_refused_for_same_team_and_complete(
    api: Api, complaint: Complaint, agent: User, reviewer: User, conflicted_reviewer: User
) -> None:
    evaluated(complaint, agent)
    review = ComplaintReview.objects.get(complaint=complaint)
    assert [r["id"] for r in api(reviewer).get("/complaints/reviews").json()] == [review.pk]
    _error(api(agent).get("/complaints/reviews"), 403, "forbidden")
    claim = f"{_base(complaint)}/reviews/{review.pk}/claim"
    _error(api(conflicted_reviewer).post(claim), 403, "reviewer_not_independent")
    review.refresh_from_db()
    assert review.status == "pending"
    assert api(reviewer).post(claim).json()["status"] == "in_review"
    complete = f"{_base(complaint)}/reviews/{review.pk}/complete"
    _error(
        api(reviewer).post(complete, {"findings": "x", "responsibility": "service", "x": 1}),
        422,
        "invalid_input",
    )
    _error(
        api(reviewer).post(complete, {"findings": " ", "responsibility": "service"}),
        400,
        "invalid_review",
    )
    done = api(reviewer).post(
        complete, {"findings": "三次改期", "responsibility": "service", "recommendation": "退款"}
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"
    _error(api(reviewer).post(claim), 409, "review_completed")


def test_proposals_limits_and_decisions(
    api: Api,
    complaint: Complaint,
    agent: User,
    supervisor: User,
    manager: User,
    reviewer: User,
) -> None:
    complaint = evaluated(complaint, agent)
    url = f"{_base(complaint)}/proposals"
    _error(api(agent).post(url, REFUND_AND_REPLACEMENT), 409, "review_pending")
    complaint = reviewed(complaint, reviewer)
    negative = {"lines": [{"kind": "refund_partial", "amount": "-1"}]}
    body = _error(api(agent).post(url, negative), 400, "invalid_compensation")
    assert body["details"]
    _error(api(agent).post(url, {**REFUND_AND_REPLACEMENT, "approved": True}), 422, "invalid_input")
    _error(
        api(agent).post(url, {"lines": [{"kind": "voucher", "amount": "1", "currency": "USD"}]}),
        422,
        "invalid_input",
    )
    assert not CompensationProposal.objects.exists()
    created = api(agent).post(url, REFUND_AND_REPLACEMENT)
    assert created.status_code == 201, created.content
    proposal = created.json()
    assert Decimal(proposal["total"]) == Decimal("3499") and proposal["status"] == "pending"
    decide = f"{url}/{proposal['id']}/decide"
    over = _error(api(supervisor).post(decide, {"decision": "approve"}), 403, "over_approval_limit")
    assert Decimal(over["details"]["total"]) == Decimal("3499")
    _error(api(agent).post(decide, {"decision": "approve"}), 403, "own_proposal")
    _error(api(manager).post(decide, {"decision": "maybe"}), 422, "invalid_input")
    assert not CompensationProposal.objects.get().decisions.exists()
    # The approvals worklist: the manager has it, the supervisor (limit ¥2,000) does not.
    mine = api(manager).get("/complaints/approvals").json()
    assert mine["unlimited"] and [p["id"] for p in mine["items"]] == [proposal["id"]]
    theirs = api(supervisor).get("/complaints/approvals").json()
    assert Decimal(theirs["limit"]) == Decimal("2000") and theirs["items"] == []
    assert api(supervisor).post(decide, {"decision": "forward"}).json()["status"] == "pending"
    done = api(manager).post(decide, {"decision": "approve", "note": "同意"})
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert [d["decision"] for d in done.json()["decisions"]] == ["forward", "approve"]
    _error(api(manager).post(decide, {"decision": "reject"}), 409, "already_decided")
    actions = api(agent).get(_base(complaint)).json()["actions"]
    assert sorted(a["kind"] for a in actions) == ["refund", "replacement"]


def test_withdraw(api: Api, complaint: Complaint, agent: User, reviewer: User) -> None:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent, "100")
    url = f"{_base(complaint)}/proposals/{proposal.pk}/withdraw"
    assert api(agent).post(url).json()["status"] == "withdrawn"
    _error(api(agent).post(url), 409, "already_decided")


def test_actions_complete(
    api: Api, complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    approved(complaint, agent, manager, reviewer)
    refund = open_actions(complaint)[0]
    url = f"{_base(complaint)}/actions/{refund.pk}/complete"
    _error(api(agent).post(url, {}), 400, "reference_required")
    _error(api(agent).post(url, {"reference": "P-1", "status": "done"}), 422, "invalid_input")
    done = api(agent).post(url, {"reference": "PAY-1"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["reference"] == "PAY-1"
    _error(api(agent).post(url, {"reference": "PAY-2"}), 409, "action_not_open")
    _error(
        api(agent).post(f"{_base(complaint)}/actions/999999/complete", {"reference": "x"}),
        404,
        "not_found",
    )


def test_answer_root_cause_close_reopen(
    api: Api, complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    approved(complaint, agent, manager, reviewer)
    client = api(agent)
    answer = {"message": "已安排退款与换新", "solution_type": "compensation"}
    _error(
        client.post(f"{_base(complaint)}/answer", {**answer, "channel": "sms"}),
        422,
        "invalid_input",
    )
    answered = client.post(f"{_base(complaint)}/answer", answer)
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "answered"
    letter = CaseEvent.objects.filter(case=complaint.case, kind="contact").latest("id")
    assert "已安排退款与换新" in letter.body and letter.data["language"] == "zh-hans"
    _error(client.post(f"{_base(complaint)}/answer", answer), 409, "invalid_complaint_transition")
    _error(client.post(f"{_base(complaint)}/close", {}), 400, "root_cause_required")
    _error(
        client.post(
            f"{_base(complaint)}/root-cause", {"root_cause": "bogus", "communication_error": True}
        ),
        422,
        "invalid_input",
    )
    set_ = client.post(
        f"{_base(complaint)}/root-cause",
        {"root_cause": "communication", "communication_error": True},
    )
    assert set_.json()["root_cause"] == "communication"
    _error(client.post(f"{_base(complaint)}/close", {}), 409, "actions_open")
    for action in open_actions(complaint):
        action_url = f"{_base(complaint)}/actions/{action.pk}/complete"
        assert client.post(action_url, {"reference": "R-1"}).status_code == 200
    closed = client.post(f"{_base(complaint)}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    _error(client.post(f"{_base(complaint)}/reopen", {}), 422, "invalid_input")
    reopened = client.post(f"{_base(complaint)}/reopen", {"reason": "客户不认可"})
    assert reopened.json()["status"] == "handling" and reopened.json()["reopen_count"] == 1


def test_unauthenticated_is_401(complaint: Complaint) -> None:
    from django.test import Client

    response = Client().get("/api/v1/complaints")
    _error(response, 401, "unauthenticated")
