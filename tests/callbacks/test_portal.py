"""The customer's survey page /survey/<token>/: no sign-in, one answer, clear refusals."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.callbacks.models import ReturnVisit, Survey
from aftersales.callbacks.surveys import survey_send_link
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.core import clock
from tests import factories

from .conftest import agree
from .web_setup import callback_team, later, resolved_case, visit_of

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture
def cb_team(db: Any) -> Team:
    return callback_team()


@pytest.fixture
def caller(make_staff: Callable[..., User], cb_team: Team) -> User:
    return make_staff(Role.CALLBACK_AGENT, teams=[cb_team], username="caller")


@pytest.fixture
def visit(agent: User, desk_team: Team, cb_team: Team) -> ReturnVisit:
    from aftersales.customers.services import customer_create

    customer = customer_create(
        actor=None, name="张秘密", tier="vip", phones=[PHONE], preferred_language="en"
    )
    model = factories.product_model(name="CoolMax 500")
    unit = factories.unit(model=model, customer=customer)
    return visit_of(resolved_case(agent, team=desk_team, customer=customer, unit=unit))


@pytest.fixture
def url(caller: User, visit: ReturnVisit) -> str:
    agree(visit.customer)  # surveys are opt-in
    _survey, token = survey_send_link(actor=caller, visit=visit)
    return f"/survey/{token}/"


def _reason(response: Any) -> str:
    html = response.content.decode()
    assert "Traceback" not in html
    return html.split('data-reason="')[1].split('"')[0]


class TestShow:
    def test_questions_without_personal_data(self, url: str, visit: ReturnVisit) -> None:
        response = Client().get(url)
        assert response.status_code == 200
        html = response.content.decode()
        for name in ("csat", "nps", "repurchase", "communication_effective", "attitude", "comment"):
            assert f'name="{name}"' in html, name
        assert "csrfmiddlewaretoken" in html
        assert "CoolMax 500" in html
        assert "张秘密" not in html and PHONE not in html and visit.customer.number not in html
        assert visit.case is not None and visit.case.number not in html
        assert 'class="mainnav"' not in html  # the public layout: no staff navigation
        assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]

    def test_in_the_customers_language_unless_they_chose_one(self, url: str) -> None:
        html = Client().get(url).content.decode()
        assert '<html lang="en">' in html and "How did we do?" in html
        client = Client()
        client.cookies["django_language"] = "zh-hans"
        html = client.get(url).content.decode()
        assert '<html lang="zh-hans">' in html and "我们做得怎么样？" in html

    def test_staff_member_midway_through_mfa_is_not_blocked(
        self, url: str, supervisor: User
    ) -> None:
        client = Client()
        client.force_login(supervisor)  # password step only, no second factor
        assert client.get("/callbacks/").status_code == 302  # staff pages still ask for MFA
        response = client.get(url)
        assert response.status_code == 200
        response = client.post(url, {"csat": "5"})
        assert response.status_code == 200
        assert Survey.objects.get().status == Survey.Status.ANSWERED


class TestAnswer:
    def test_low_score_reopens_the_case_for_the_customer(
        self, url: str, visit: ReturnVisit
    ) -> None:
        client = Client(enforce_csrf_checks=True)
        page = client.get(url).content.decode()
        csrf = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        response = client.post(
            url,
            {
                "csrfmiddlewaretoken": csrf,
                "csat": "2",
                "nps": "4",
                "repurchase": "maybe",
                "communication_effective": "no",
                "attitude": "3",
                "comment": "还是有噪音",
            },
        )
        assert response.status_code == 200
        assert 'id="survey-thanks"' in response.content.decode()
        survey = Survey.objects.get()
        assert survey.status == Survey.Status.ANSWERED and survey.csat == 2
        assert survey.communication_effective is False and survey.comment == "还是有噪音"
        case = Case.objects.get(pk=visit.case_id)
        assert case.status not in (Status.RESOLVED, Status.CLOSED) and case.reopen_count == 1
        event = CaseEvent.objects.get(case=case, kind="survey", data__change="answered")
        assert event.actor is None and event.data["method"] == "link"
        reopened = CaseEvent.objects.filter(case=case, kind="status", to_status=case.status).last()
        assert reopened is not None and reopened.actor is None

        again = client.get(url)
        assert again.status_code == 409 and _reason(again) == "answered"
        resent = client.post(url, {"csrfmiddlewaretoken": csrf, "csat": "5"})
        assert resent.status_code == 409 and _reason(resent) == "answered"
        assert Survey.objects.get().csat == 2

    def test_post_without_csrf_token_is_refused(self, url: str) -> None:
        response = Client(enforce_csrf_checks=True).post(url, {"csat": "5"})
        assert response.status_code == 403
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_invalid_answers_show_the_form_again(self, url: str) -> None:
        response = Client().post(url, {"csat": "9", "nps": "11"})
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="survey-form"' in html and "errorlist" in html
        response = Client().post(url, {"nps": "5"})  # CSAT is required
        assert response.status_code == 400
        assert Survey.objects.get().status == Survey.Status.OPEN


class TestRefusals:
    def test_tampered_or_garbage_link_is_400(self, url: str) -> None:
        token = url.split("/")[2]
        tampered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
        for bad in (tampered, "garbage", "a" * 500, token.replace(":", "%3A", 1) + "x"):
            response = Client().get(f"/survey/{bad}/")
            assert response.status_code == 400, bad
            assert _reason(response) == "invalid"
        response = Client().post(f"/survey/{tampered}/", {"csat": "5"})
        assert response.status_code == 400
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_expired_link_is_410(self, url: str) -> None:
        with clock.frozen_at(later(30)):
            response = Client().get(url)
            assert response.status_code == 410 and _reason(response) == "expired"
            response = Client().post(url, {"csat": "5"})
            assert response.status_code == 410
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_cancelled_survey_is_409(self, url: str) -> None:
        Survey.objects.update(status=Survey.Status.CANCELLED)
        response = Client().get(url)
        assert response.status_code == 409 and _reason(response) == "cancelled"
