"""The complaint pages: list, raise, the complaint page and each action, worklists, report."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case, CaseEvent
from aftersales.complaints.models import (
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintReview,
)
from tests.auth import sign_in

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


def _client(user: User) -> Client:
    return sign_in(Client(), user)


def _url(complaint: Complaint, action: str = "") -> str:
    return f"/complaints/{complaint.case.number}/" + (f"{action}/" if action else "")


def _lines(*lines: tuple[str, str]) -> dict[str, str]:
    data = {
        "line-TOTAL_FORMS": "3",
        "line-INITIAL_FORMS": "0",
        "line-MIN_NUM_FORMS": "0",
        "line-MAX_NUM_FORMS": "10",
    }
    for i, (kind, amount) in enumerate(lines):
        data[f"line-{i}-kind"] = kind
        data[f"line-{i}-amount"] = amount
    return data


# --- list, detail and worklists: who sees them ---------------------------------------------


def test_list_shows_number_tier_review_flag_and_filters(complaint: Complaint, agent: User) -> None:
    evaluated(complaint, agent)
    client = _client(agent)
    body = client.get("/complaints/").content.decode()
    assert complaint.case.number in body
    assert "VIP" in body and "data-due=" in body  # tier and the SLA due time
    assert ">review<" in body  # the VIP's complaint goes to review
    assert (
        complaint.case.number in client.get("/complaints/", {"review": "required"}).content.decode()
    )
    assert (
        complaint.case.number not in client.get("/complaints/", {"review": "none"}).content.decode()
    )
    assert (
        complaint.case.number
        not in client.get("/complaints/", {"status": "closed"}).content.decode()
    )
    assert (
        complaint.case.number
        in client.get(
            "/complaints/", {"nature": "slow_response", "status": "handling"}
        ).content.decode()
    )
    assert client.get("/complaints/", {"status": "nonsense"}).status_code == 422


@pytest.fixture
def administrator(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMINISTRATOR, username="admin")


@pytest.mark.parametrize(
    "who", ["agent", "senior_agent", "supervisor", "manager", "reviewer", "administrator"]
)
def test_complaint_page_renders_for_each_role_that_may_see_it(
    who: str, complaint: Complaint, agent: User, request: pytest.FixtureRequest
) -> None:
    evaluated(complaint, agent)  # review required: the review group sees it too
    user = request.getfixturevalue(who)
    page = _client(user).get(_url(complaint))
    assert page.status_code == 200
    body = page.content.decode()
    assert complaint.case.number in body and 'id="timeline"' in body
    assert ("evaluate-form" in body) == (who not in ("reviewer", "administrator"))
    assert _client(user).get("/complaints/").status_code == 200


def test_out_of_scope_complaint_is_404_on_page_and_actions(
    complaint: Complaint, other_agent: User, reviewer: User
) -> None:
    for user in (other_agent, reviewer):  # reviewer: no review required yet
        client = _client(user)
        assert client.get(_url(complaint)).status_code == 404
        response = client.post(_url(complaint, "reopen"), {"reason": "x"})
        assert response.status_code == 404
        assert complaint.case.number not in client.get("/complaints/").content.decode()
    assert _client(other_agent).get("/complaints/NOTANUMBER/").status_code == 404


def test_unknown_action_is_404(complaint: Complaint, agent: User) -> None:
    assert _client(agent).post(_url(complaint, "explode")).status_code == 404


def test_worklists_and_report_by_role(
    complaint: Complaint,
    agent: User,
    supervisor: User,
    manager: User,
    reviewer: User,
    technician: User,
) -> None:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent)
    assert _client(reviewer).get("/complaints/reviews/").status_code == 200
    assert _client(agent).get("/complaints/reviews/").status_code == 403
    # ¥3,499 is above the supervisor's limit: only the manager's worklist has it.
    sup = _client(supervisor).get("/complaints/approvals/").content.decode()
    assert f'data-proposal="{proposal.pk}"' not in sup and "¥2000" in sup
    mgr = _client(manager).get("/complaints/approvals/").content.decode()
    assert f'data-proposal="{proposal.pk}"' in mgr
    for user in (supervisor, manager):
        report = _client(user).get("/complaints/report/")
        assert report.status_code == 200
        body = report.content.decode()
        assert 'id="complaint-chart-nature"' in body and "web/charts.js" in body
        assert "<script>" not in body.replace('<script id="', "")  # data only, no inline code
    assert _client(agent).get("/complaints/report/").status_code == 403
    assert _client(technician).get("/complaints/").status_code == 403


def test_navigation_shows_complaints_and_reviews_by_permission(agent: User, reviewer: User) -> None:
    body = _client(agent).get("/complaints/").content.decode()
    assert 'href="/complaints/"' in body and 'href="/complaints/reviews/"' not in body
    body = _client(reviewer).get("/complaints/reviews/").content.decode()
    assert 'href="/complaints/reviews/"' in body


# --- raising a complaint from a case -------------------------------------------------------


def test_case_page_offers_raise_and_the_form_links_the_complaint(
    service_case: Case, agent: User
) -> None:
    client = _client(agent)
    case_page = client.get(f"/cases/{service_case.number}/").content.decode()
    assert 'id="raise-complaint-form"' in case_page
    form = client.post("/complaints/new/", {"related_case": service_case.number})
    assert form.status_code == 200 and service_case.subject in form.content.decode()
    assert not Complaint.objects.exists()
    response = client.post(
        "/complaints/new/",
        {
            "related_case": service_case.number,
            "channel": "phone",
            "subject": "上门一再改期",
            "nature": "slow_response",
            "severity": "major",
            "description": "第三次改期",
        },
    )
    made = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/complaints/{made.case.number}/"
    assert made.related_case == service_case and made.case.customer == service_case.customer
    case_page = client.get(f"/cases/{service_case.number}/").content.decode()
    assert f'href="/complaints/{made.case.number}/"' in case_page  # the link to it
    assert "Complaint raised about this case" in case_page  # the timeline event
    complaint_case_page = client.get(f"/cases/{made.case.number}/").content.decode()
    assert 'id="complaint-link"' in complaint_case_page


def test_raise_refused_keeps_the_form(service_case: Case, agent: User) -> None:
    response = _client(agent).post(
        "/complaints/new/",
        {
            "related_case": service_case.number,
            "channel": "phone",
            "subject": "上门一再改期",
            "nature": "slow_response",
            "severity": "moderate",
            "amount_at_stake": "-5",
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "invalid_complaint" in body and 'value="上门一再改期"' in body
    assert not Complaint.objects.exists()


def test_raise_for_a_case_out_of_scope_is_404(service_case: Case, other_agent: User) -> None:
    response = _client(other_agent).post("/complaints/new/", {"related_case": service_case.number})
    assert response.status_code == 404


# --- each action on the complaint page -----------------------------------------------------


def test_evaluate_requests_review_and_refusal_keeps_values(
    complaint: Complaint, agent: User, desk_team: Any
) -> None:
    client = _client(agent)
    bad = client.post(
        _url(complaint, "evaluate"),
        {"nature": "slow_response", "severity": "major", "amount_at_stake": "-1"},
    )
    assert bad.status_code == 422
    body = bad.content.decode()
    assert 'data-code="invalid_complaint"' in body and 'value="-1"' in body
    complaint.refresh_from_db()
    assert complaint.status == "received"
    ok = client.post(
        _url(complaint, "evaluate"),
        {"nature": "slow_response", "severity": "major", "concerns_team": desk_team.pk},
    )
    assert ok.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "evaluated" and complaint.review_required
    assert "vip" in complaint.review_reasons
    assert ComplaintReview.objects.filter(complaint=complaint, status="pending").exists()
    page = client.get(_url(complaint)).content.decode()
    assert "Independent review requested" in page


def test_handle(complaint: Complaint, agent: User) -> None:
    client = _client(agent)
    client.post(_url(complaint, "evaluate"), {"nature": "slow_response", "severity": "minor"})
    assert client.post(_url(complaint, "handle"), {}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "handling" and complaint.case.assignee == agent


def test_reviewer_from_the_same_team_refused_then_independent_reviewer_completes(
    complaint: Complaint, agent: User, conflicted_reviewer: User, reviewer: User
) -> None:
    complaint = evaluated(complaint, agent)
    review = ComplaintReview.objects.get(complaint=complaint)
    refused = _client(conflicted_reviewer).post(
        _url(complaint, "claim-review"), {"review": review.pk}
    )
    assert refused.status_code == 403
    assert 'data-code="reviewer_not_independent"' in refused.content.decode()
    review.refresh_from_db()
    assert review.status == "pending" and review.reviewer is None
    client = _client(reviewer)
    claimed = client.post(_url(complaint, "claim-review"), {"review": review.pk, "next": "reviews"})
    assert claimed.status_code == 302 and claimed["Location"] == "/complaints/reviews/"
    empty = client.post(
        _url(complaint, "complete-review"),
        {"review": review.pk, "findings": "", "responsibility": "service"},
    )
    assert empty.status_code == 422 and 'data-code="invalid_review"' in empty.content.decode()
    done = client.post(
        _url(complaint, "complete-review"),
        {
            "review": review.pk,
            "findings": "预约三次改期",
            "responsibility": "service",
            "recommendation": "退款",
        },
    )
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.status == "completed" and review.responsibility == "service"
    events = CaseEvent.objects.filter(case=complaint.case, kind="review")
    assert [e.data["change"] for e in events.order_by("id")] == [
        "requested",
        "claimed",
        "completed",
    ]
    assert events.get(data__change="claimed").actor == reviewer


def test_propose_several_lines_and_refusals_keep_the_lines(
    complaint: Complaint, agent: User, reviewer: User
) -> None:
    complaint = evaluated(complaint, agent)
    client = _client(agent)
    pending = client.post(
        _url(complaint, "propose"), _lines(("refund_partial", "1499"), ("replacement", "2000"))
    )
    assert pending.status_code == 409
    assert 'data-code="review_pending"' in pending.content.decode()
    complaint = reviewed(complaint, reviewer)
    negative = client.post(
        _url(complaint, "propose"),
        {**_lines(("refund_partial", "-10"), ("replacement", "2000")), "reason": "诚意"},
    )
    assert negative.status_code == 422
    body = negative.content.decode()
    assert 'data-code="invalid_compensation"' in body
    assert 'value="-10"' in body and 'value="2000"' in body and "诚意" in body
    assert not CompensationProposal.objects.exists()
    ok = client.post(
        _url(complaint, "propose"), _lines(("refund_partial", "1499"), ("replacement", "2000"))
    )
    assert ok.status_code == 302
    proposal = CompensationProposal.objects.get()
    assert proposal.total == Decimal("3499.00")
    assert sorted(proposal.lines.values_list("kind", flat=True)) == [
        "refund_partial",
        "replacement",
    ]


def test_decide_limits_own_proposal_and_twice(
    complaint: Complaint,
    agent: User,
    supervisor: User,
    manager: User,
    reviewer: User,
    senior_agent: User,
) -> None:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent)
    page = _client(supervisor).get(_url(complaint)).content.decode()
    assert 'id="decide-form"' in page and "¥2000" in page  # the viewer's limit is shown
    over = _client(supervisor).post(
        _url(complaint, "decide"), {"proposal": proposal.pk, "decision": "approve", "note": "同意"}
    )
    assert over.status_code == 403
    body = over.content.decode()
    assert 'data-code="over_approval_limit"' in body and 'value="同意"' in body
    own = _client(agent).post(
        _url(complaint, "decide"), {"proposal": proposal.pk, "decision": "approve"}
    )
    assert own.status_code == 403 and 'data-code="own_proposal"' in own.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "pending" and not proposal.decisions.exists()
    forwarded = _client(supervisor).post(
        _url(complaint, "decide"), {"proposal": proposal.pk, "decision": "forward"}
    )
    assert forwarded.status_code == 302
    approved_ = _client(manager).post(
        _url(complaint, "decide"), {"proposal": proposal.pk, "decision": "approve"}
    )
    assert approved_.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "approved" and proposal.decided_by == manager
    assert sorted(a.kind for a in open_actions(complaint)) == ["refund", "replacement"]
    again = _client(manager).post(
        _url(complaint, "decide"), {"proposal": proposal.pk, "decision": "reject"}
    )
    assert again.status_code == 409 and 'data-code="already_decided"' in again.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "approved"


def test_decide_from_the_approvals_worklist_returns_there(
    complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent, "100")
    response = _client(manager).post(
        _url(complaint, "decide"),
        {"proposal": proposal.pk, "decision": "reject", "next": "approvals"},
    )
    assert response.status_code == 302 and response["Location"] == "/complaints/approvals/"
    proposal.refresh_from_db()
    assert proposal.status == "rejected"


def test_withdraw(complaint: Complaint, agent: User, reviewer: User) -> None:
    complaint = reviewed(evaluated(complaint, agent), reviewer)
    proposal = proposed(complaint, agent, "100")
    assert (
        _client(agent).post(_url(complaint, "withdraw"), {"proposal": proposal.pk}).status_code
        == 302
    )
    proposal.refresh_from_db()
    assert proposal.status == "withdrawn"


def test_complete_actions_with_reference(
    complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    approved(complaint, agent, manager, reviewer)
    refund, replacement = open_actions(complaint)
    client = _client(agent)
    missing = client.post(
        _url(complaint, "complete-action"), {"action": refund.pk, "reference": " "}
    )
    assert missing.status_code == 422
    assert 'data-code="reference_required"' in missing.content.decode()
    for action, ref in ((refund, "PAY-20261125-01"), (replacement, "SF1234567890")):
        done = client.post(
            _url(complaint, "complete-action"), {"action": action.pk, "reference": ref}
        )
        assert done.status_code == 302
    assert set(CompensationAction.objects.values_list("status", flat=True)) == {"done"}
    page = client.get(_url(complaint)).content.decode()
    assert "SF1234567890" in page and "Follow-up action done" in page


def test_answer_preview_then_send_then_close_and_reopen(
    complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    approved(complaint, agent, manager, reviewer)
    client = _client(agent)
    for action in open_actions(complaint):
        client.post(_url(complaint, "complete-action"), {"action": action.pk, "reference": "R-1"})
    form = {
        "template": "complaint_answer",
        "message": "我们已为您安排退款与换新。",
        "solution_type": "compensation",
    }
    preview = client.post(_url(complaint, "answer"), {**form, "preview": "1"})
    assert preview.status_code == 200
    body = preview.content.decode()
    assert 'id="letter-preview"' in body and complaint.case.number in body
    assert "我们已为您安排退款与换新。" in body
    complaint.refresh_from_db()
    assert complaint.status == "handling"
    assert client.post(_url(complaint, "answer"), form).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "answered"
    no_cause = client.post(_url(complaint, "close"), {})
    assert no_cause.status_code == 422
    assert 'data-code="root_cause_required"' in no_cause.content.decode()
    assert (
        client.post(
            _url(complaint, "root-cause"),
            {"root_cause": "communication", "communication_error": "on"},
        ).status_code
        == 302
    )
    assert client.post(_url(complaint, "close"), {}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "closed" and complaint.communication_error is True
    assert client.post(_url(complaint, "reopen"), {"reason": ""}).status_code == 422
    assert client.post(_url(complaint, "reopen"), {"reason": "客户不认可"}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "handling" and complaint.reopen_count == 1
    # Every step is on the complaint case's timeline, with its actor.
    changes = list(
        CaseEvent.objects.filter(case=complaint.case, kind="complaint")
        .order_by("id")
        .values_list("data__change", flat=True)
    )
    assert changes[0] == "raised" and "evaluated" in changes and changes[-1] == "reopened"


def test_actions_hidden_without_permission(
    complaint: Complaint, agent: User, make_staff: Callable[..., User], desk_team: Any
) -> None:
    tech_support = make_staff(Role.TECH_SUPPORT, teams=[desk_team], username="ts")
    body = _client(tech_support).get(_url(complaint)).content.decode()
    assert 'id="evaluate-form"' not in body and 'id="answer-form"' not in body
    response = _client(tech_support).post(
        _url(complaint, "evaluate"), {"nature": "other", "severity": "minor"}
    )
    assert response.status_code == 403
    complaint.refresh_from_db()
    assert complaint.status == "received"


def test_case_timeline_shows_the_new_event_kinds(
    complaint: Complaint, agent: User, manager: User, reviewer: User
) -> None:
    from django.db import transaction

    from aftersales.cases.services import case_event_record
    from aftersales.core import clock

    approved(complaint, agent, manager, reviewer)
    service_case = complaint.related_case
    assert service_case is not None
    with transaction.atomic():
        case_event_record(
            service_case,
            kind="return_visit",
            actor=None,
            at=clock.now(),
            data={"change": "scheduled", "visit": 1, "due_at": "2026-11-26T10:00:00+08:00"},
        )
        case_event_record(
            service_case,
            kind="survey",
            actor=None,
            at=clock.now(),
            data={
                "change": "answered",
                "survey": 1,
                "method": "link",
                "csat": 2,
                "nps": 0,
                "follow_up": {"action": "complaint", "complaint_case": complaint.case.number},
            },
        )
    client = _client(manager)
    body = client.get(f"/cases/{complaint.case.number}/").content.decode()
    for text in (
        "Complaint raised",
        "Classified and evaluated",
        "Independent review requested",
        "Review taken",
        "Compensation proposed",
        "Compensation approved",
        "Partial refund",
        "¥3499",
    ):
        assert text in body, text
    body = client.get(f"/cases/{service_case.number}/").content.decode()
    assert "Return visit scheduled" in body and "CSAT 2/5" in body and "NPS 0/10" in body
    assert "unsatisfied: complaint raised" in body
    assert f'href="/complaints/{complaint.case.number}/"' in body


def test_supervisor_hands_the_complaint_over(
    complaint: Complaint, agent: User, supervisor: User, senior_agent: User
) -> None:
    complaint = evaluated(complaint, agent)
    assert 'name="handler"' not in _client(agent).get(_url(complaint)).content.decode()
    client = _client(supervisor)
    assert 'name="handler"' in client.get(_url(complaint)).content.decode()
    response = client.post(_url(complaint, "handle"), {"handler": senior_agent.pk})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.case.assignee == senior_agent
