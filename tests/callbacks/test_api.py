"""The return visits API (/api/v1/callbacks) and the public survey answer (/api/v1/surveys)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.callbacks.models import Offer, Recommendation, ReturnVisit, Survey, VisitAttempt
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.core import clock
from aftersales.privacy.models import Consent
from tests.conftest import ApiClient

from .conftest import agree
from .web_setup import callback_team, later, resolved_case, visit_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def cb_team(db: Any) -> Team:
    return callback_team()


@pytest.fixture
def caller(make_staff: Callable[..., User], cb_team: Team) -> User:
    return make_staff(Role.CALLBACK_AGENT, teams=[cb_team], username="caller")


@pytest.fixture
def case(agent: User, desk_team: Team, cb_team: Team) -> Case:
    return resolved_case(agent, team=desk_team)


@pytest.fixture
def visit(case: Case) -> ReturnVisit:
    return visit_of(case)


@pytest.fixture
def capi(caller: User) -> ApiClient:
    return ApiClient(caller)


@pytest.fixture
def agreed(visit: ReturnVisit) -> ReturnVisit:
    """The visit of a customer who agreed to surveys and to hear about offers."""
    agree(visit.customer, "surveys")
    agree(visit.customer, "marketing")
    return visit


def _reached(capi: ApiClient, visit: ReturnVisit) -> None:
    response = capi.post(f"/callbacks/{visit.pk}/attempts", {"result": "reached"})
    assert response.status_code == 200, response.content


def _link(capi: ApiClient, visit: ReturnVisit) -> str:
    response = capi.post(f"/callbacks/{visit.pk}/survey-link")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"].endswith(f"/survey/{body['token']}/")
    token: str = body["token"]
    return token


def _answer(token: str, **answers: Any) -> Any:
    """The customer's browser: no account, no token header."""
    return Client().post(
        "/api/v1/surveys/answer",
        {"token": token, "answers": answers},
        content_type="application/json",
    )


class TestWorklist:
    def test_due_visit_is_listed(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.get("/callbacks")
        assert response.status_code == 200
        body = response.json()
        assert [v["id"] for v in body["due"]] == [visit.pk]
        assert body["due"][0]["case"]["number"] == visit.case.number  # type: ignore[union-attr]
        assert body["upcoming"] == []

    def test_out_of_scope_visit_is_not_found(self, other_agent: User, visit: ReturnVisit) -> None:
        client = ApiClient(other_agent)
        assert client.get("/callbacks").json()["due"] == []
        response = client.get(f"/callbacks/{visit.pk}")
        assert response.status_code == 404
        assert response.json()["code"] in ("visit_not_found", "not_found")
        response = client.post(f"/callbacks/{visit.pk}/attempts", {"result": "no_answer"})
        assert response.status_code == 404
        assert not VisitAttempt.objects.exists()

    def test_detail(self, capi: ApiClient, visit: ReturnVisit) -> None:
        body = capi.get(f"/callbacks/{visit.pk}").json()
        assert body["id"] == visit.pk and body["status"] == "due"
        assert body["attempt_log"] == [] and body["surveys"] == []


class TestAttempts:
    def test_no_answer_moves_the_next_attempt(self, capi: ApiClient, visit: ReturnVisit) -> None:
        before = visit.next_attempt_at
        response = capi.post(f"/callbacks/{visit.pk}/attempts", {"result": "no_answer"})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["attempts"] == 1 and body["status"] == "due"
        assert body["attempt_log"][0]["result"] == "no_answer"
        visit.refresh_from_db()
        assert visit.next_attempt_at > before
        event = CaseEvent.objects.filter(case=visit.case, kind="return_visit").last()
        assert event is not None and event.data["change"] == "attempt"
        assert event.data["result"] == "no_answer" and event.actor is not None

    def test_call_back_later_needs_a_future_time(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.post(f"/callbacks/{visit.pk}/attempts", {"result": "call_back_later"})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_attempt"
        assert not VisitAttempt.objects.exists()
        response = capi.post(
            f"/callbacks/{visit.pk}/attempts",
            {"result": "call_back_later", "callback_at": later(1).isoformat()},
        )
        assert response.status_code == 200, response.content

    def test_unknown_result_and_extra_fields_are_422(
        self, capi: ApiClient, visit: ReturnVisit
    ) -> None:
        response = capi.post(f"/callbacks/{visit.pk}/attempts", {"result": "maybe"})
        assert response.status_code == 422
        response = capi.post(
            f"/callbacks/{visit.pk}/attempts", {"result": "reached", "status": "completed"}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"
        assert not VisitAttempt.objects.exists()

    def test_role_without_work_perm_is_refused(
        self, supervisor: User, agent: User, visit: ReturnVisit
    ) -> None:
        # The front-line agent sees the visit of their case but does not make return visits.
        response = ApiClient(agent).post(f"/callbacks/{visit.pk}/attempts", {"result": "reached"})
        assert response.status_code == 403
        assert not VisitAttempt.objects.exists()


class TestPhoneSurvey:
    def test_out_of_range_scores_are_refused_and_nothing_saved(
        self, capi: ApiClient, visit: ReturnVisit
    ) -> None:
        _reached(capi, visit)
        response = capi.post(f"/callbacks/{visit.pk}/survey", {"csat": 6, "nps": 11, "attitude": 0})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_answer"
        assert set(body["details"]) == {"csat", "nps", "attitude"}
        assert not Survey.objects.exists()
        assert Case.objects.get(pk=visit.case_id).status == Status.RESOLVED
        assert not CaseEvent.objects.filter(case=visit.case, kind="survey").exists()

    def test_negative_score_and_bad_repurchase(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.post(f"/callbacks/{visit.pk}/survey", {"csat": -1, "repurchase": "perhaps"})
        assert response.status_code == 400
        assert set(response.json()["details"]) == {"csat", "repurchase"}
        assert not Survey.objects.exists()

    def test_extra_field_is_422(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.post(f"/callbacks/{visit.pk}/survey", {"csat": 5, "method": "link"})
        assert response.status_code == 422
        assert not Survey.objects.exists()

    def test_answers_are_recorded(
        self, capi: ApiClient, caller: User, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        _reached(capi, visit)
        response = capi.post(
            f"/callbacks/{visit.pk}/survey",
            {
                "csat": 5,
                "nps": 9,
                "repurchase": "yes",
                "communication_effective": True,
                "attitude": 5,
                "comment": "很好",
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["method"] == "phone" and body["status"] == "answered"
        assert body["csat"] == 5 and body["follow_up"] == {}
        survey = Survey.objects.get()
        assert survey.recorded_by == caller and survey.comment == "很好"
        event = CaseEvent.objects.get(case=visit.case, kind="survey")
        assert event.data["change"] == "answered" and event.actor == caller


class TestLinkAndPublicAnswer:
    @pytest.fixture(autouse=True)
    def _agreed(self, agreed: ReturnVisit) -> None:
        """Every test here sends a link: the customer agreed to surveys."""

    def test_answer_once_and_low_score_reopens_the_case(
        self, capi: ApiClient, visit: ReturnVisit
    ) -> None:
        token = _link(capi, visit)
        response = _answer(token, csat=2, nps=3, repurchase="maybe", attitude=4)
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "answered"
        assert "name" not in response.content.decode()
        case = Case.objects.get(pk=visit.case_id)
        assert case.status != Status.RESOLVED and case.reopen_count == 1
        event = CaseEvent.objects.get(case=case, kind="survey", data__change="answered")
        assert event.actor is None and event.data["follow_up"]["action"] == "reopened"

        again = _answer(token, csat=5)
        assert again.status_code == 409
        assert again.json()["code"] == "survey_answered"
        assert Survey.objects.get().csat == 2

    def test_expired_link_is_410(self, capi: ApiClient, visit: ReturnVisit) -> None:
        token = _link(capi, visit)
        with clock.frozen_at(later(30)):
            response = _answer(token, csat=5)
        assert response.status_code == 410
        assert response.json()["code"] == "link_expired"
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_tampered_link_is_400(self, capi: ApiClient, visit: ReturnVisit) -> None:
        token = _link(capi, visit)
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        for bad in (tampered, "not-a-token", "x" * 400):
            response = _answer(bad, csat=5)
            assert response.status_code in (400, 422), bad
        response = _answer(tampered, csat=5)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_link"
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_cancelled_survey_is_409(self, capi: ApiClient, visit: ReturnVisit) -> None:
        token = _link(capi, visit)
        Survey.objects.update(status=Survey.Status.CANCELLED)
        response = _answer(token, csat=5)
        assert response.status_code == 409
        assert response.json()["code"] == "survey_cancelled"

    def test_out_of_range_answer_changes_nothing(self, capi: ApiClient, visit: ReturnVisit) -> None:
        token = _link(capi, visit)
        response = _answer(token, csat=0, nps=-3)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_answer"
        assert Survey.objects.get().status == Survey.Status.OPEN
        assert _answer(token, csat=4).status_code == 200

    def test_extra_fields_are_422(self, capi: ApiClient, visit: ReturnVisit) -> None:
        token = _link(capi, visit)
        response = Client().post(
            "/api/v1/surveys/answer",
            {"token": token, "answers": {"csat": 5}, "customer": 1},
            content_type="application/json",
        )
        assert response.status_code == 422
        response = _answer(token, csat=5, status="answered")
        assert response.status_code == 422
        assert Survey.objects.get().status == Survey.Status.OPEN


class TestCompleteAndRecommend:
    def test_complete_needs_a_reached_attempt(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.post(f"/callbacks/{visit.pk}/complete", {"solved": True})
        assert response.status_code == 409
        assert response.json()["code"] == "not_reached"
        visit.refresh_from_db()
        assert visit.status == ReturnVisit.Status.DUE

    def test_solved_closes_the_case(self, capi: ApiClient, visit: ReturnVisit) -> None:
        _reached(capi, visit)
        response = capi.post(f"/callbacks/{visit.pk}/complete", {"solved": True})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "completed"
        assert response.json()["outcome"] == "solved"
        assert Case.objects.get(pk=visit.case_id).status == Status.CLOSED

    def test_not_solved_reopens_the_case(self, capi: ApiClient, visit: ReturnVisit) -> None:
        _reached(capi, visit)
        response = capi.post(f"/callbacks/{visit.pk}/complete", {"solved": False})
        assert response.status_code == 400  # a reason is required
        response = capi.post(
            f"/callbacks/{visit.pk}/complete", {"solved": False, "reason": "还是不制冷"}
        )
        assert response.status_code == 200, response.content
        assert response.json()["outcome"] == "not_solved"
        assert Case.objects.get(pk=visit.case_id).reopen_count == 1

    def test_recommendation_and_its_answer(
        self, capi: ApiClient, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        tip = Offer.objects.create(
            kind="maintenance_tip", code="clean-filter", title_zh="清洗滤网", title_en="Clean"
        )
        suggested = capi.get(f"/callbacks/{visit.pk}/suggestions").json()
        assert tip.pk in [s["offer_id"] for s in suggested]
        response = capi.post(
            f"/callbacks/{visit.pk}/recommendations",
            {"kind": "maintenance_tip", "offer_id": tip.pk, "outcome": "offered"},
        )
        assert response.status_code == 200, response.content
        reco = response.json()
        response = capi.post(
            f"/callbacks/{visit.pk}/recommendations/{reco['id']}/decide", {"outcome": "accepted"}
        )
        assert response.status_code == 200, response.content
        assert response.json()["outcome"] == "accepted"
        suggested = capi.get(f"/callbacks/{visit.pk}/suggestions").json()
        assert tip.pk not in [s["offer_id"] for s in suggested]
        response = capi.post(
            f"/callbacks/{visit.pk}/recommendations/999999/decide", {"outcome": "declined"}
        )
        assert response.status_code == 404
        response = capi.post(
            f"/callbacks/{visit.pk}/recommendations", {"kind": "voucher", "outcome": "offered"}
        )
        assert response.status_code == 422

    def test_suggestions(self, capi: ApiClient, visit: ReturnVisit) -> None:
        response = capi.get(f"/callbacks/{visit.pk}/suggestions")
        assert response.status_code == 200
        assert isinstance(response.json(), list)


class TestReport:
    def test_needs_the_report_permission(self, agent: User, supervisor: User) -> None:
        assert ApiClient(agent).get("/callbacks/report").status_code == 403
        response = ApiClient(supervisor).get(
            "/callbacks/report", since="2026-01-01", until="2026-12-31"
        )
        assert response.status_code == 200
        body = response.json()
        assert body["since"] == "2026-01-01" and "csat_distribution" in body

    @pytest.mark.parametrize("query", [{"until": "0001-01-01"}, {"since": "9999-12-31"}])
    def test_a_day_outside_any_report_is_refused(
        self, supervisor: User, query: dict[str, str]
    ) -> None:
        response = ApiClient(supervisor).get("/callbacks/report", **query)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"

    def test_answers_are_counted(
        self, capi: ApiClient, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        _answer(_link(capi, visit), csat=4, nps=10)
        body = capi.get("/callbacks/report").json()
        assert body["surveys"] == 1 and body["csat_distribution"]["4"] == 1


class TestConsent:
    """Surveys and offers are opt-in: without the customer's consent the API refuses (409
    `no_consent`) unless the agent says the customer agreed on this call (`consent_given`)."""

    def _refused(self, response: Any, purpose: str) -> None:
        assert response.status_code == 409, response.content
        body = response.json()
        assert (body["code"], body["details"]) == ("no_consent", {"purpose": purpose})

    def test_phone_survey_without_consent_is_409_and_changes_nothing(
        self, capi: ApiClient, visit: ReturnVisit
    ) -> None:
        _reached(capi, visit)
        self._refused(capi.post(f"/callbacks/{visit.pk}/survey", {"csat": 5}), "surveys")
        self._refused(
            capi.post(f"/callbacks/{visit.pk}/survey", {"csat": 5, "consent_given": False}),
            "surveys",
        )
        assert not Survey.objects.exists() and not Consent.objects.exists()
        assert not CaseEvent.objects.filter(case=visit.case, kind="survey").exists()

    def test_phone_survey_with_consent_given(
        self, capi: ApiClient, caller: User, visit: ReturnVisit
    ) -> None:
        _reached(capi, visit)
        response = capi.post(
            f"/callbacks/{visit.pk}/survey", {"csat": 4, "nps": 8, "consent_given": True}
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "answered"
        assert "consent_given" not in response.json()
        consent = Consent.objects.get(customer=visit.customer)
        assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
            "surveys",
            True,
            "phone",
            caller,
        )
        assert Survey.objects.get().csat == 4

    def test_phone_survey_extra_or_bad_fields_are_still_422(
        self, capi: ApiClient, visit: ReturnVisit
    ) -> None:
        _reached(capi, visit)
        for body in (
            {"csat": 5, "consent_given": True, "method": "link"},
            {"csat": 5, "consent_given": True, "consent_source": "phone"},
            {"csat": 5, "consent_given": "perhaps"},
        ):
            response = capi.post(f"/callbacks/{visit.pk}/survey", body)
            assert response.status_code == 422, body
        assert not Survey.objects.exists() and not Consent.objects.exists()

    def test_survey_link_without_consent_is_409(self, capi: ApiClient, visit: ReturnVisit) -> None:
        self._refused(capi.post(f"/callbacks/{visit.pk}/survey-link"), "surveys")
        # No body at all (the body is optional).
        raw = capi.client.generic("POST", f"/api/v1/callbacks/{visit.pk}/survey-link")
        self._refused(raw, "surveys")
        self._refused(
            capi.post(f"/callbacks/{visit.pk}/survey-link", {"consent_given": False}), "surveys"
        )
        assert not Survey.objects.exists() and not Consent.objects.exists()

    def test_survey_link_with_consent_given(
        self, capi: ApiClient, caller: User, visit: ReturnVisit
    ) -> None:
        response = capi.post(
            f"/callbacks/{visit.pk}/survey-link", {"consent_given": True, "extra": 1}
        )
        assert response.status_code == 422
        assert not Survey.objects.exists() and not Consent.objects.exists()
        response = capi.post(f"/callbacks/{visit.pk}/survey-link", {"consent_given": True})
        assert response.status_code == 200, response.content
        assert response.json()["survey"]["status"] == "open"
        consent = Consent.objects.get(customer=visit.customer)
        assert (consent.purpose, consent.recorded_by, consent.source) == (
            "surveys",
            caller,
            "phone",
        )
        # In force now: the plain call gives the same link again.
        again = capi.post(f"/callbacks/{visit.pk}/survey-link")
        assert again.status_code == 200
        assert again.json()["token"] == response.json()["token"]

    def test_recommendation_needs_marketing_consent(
        self, capi: ApiClient, caller: User, visit: ReturnVisit
    ) -> None:
        tip = Offer.objects.create(
            kind="maintenance_tip", code="clean-filter", title_zh="清洗滤网", title_en="Clean"
        )
        agree(visit.customer, "surveys")  # not marketing
        url = f"/callbacks/{visit.pk}/recommendations"
        body = {"kind": "maintenance_tip", "offer_id": tip.pk}
        self._refused(capi.post(url, body), "marketing")
        response = capi.post(url, {**body, "consent_given": True, "offered_by": caller.pk})
        assert response.status_code == 422
        assert not Recommendation.objects.exists()
        assert not Consent.objects.filter(purpose="marketing").exists()
        response = capi.post(url, {**body, "consent_given": True})
        assert response.status_code == 200, response.content
        assert Recommendation.objects.get().pk == response.json()["id"]
        consent = Consent.objects.get(purpose="marketing")
        assert (consent.customer, consent.granted, consent.recorded_by, consent.source) == (
            visit.customer,
            True,
            caller,
            "phone",
        )
