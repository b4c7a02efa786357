"""The callback team's pages: worklist, visit page and its actions, report."""

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.callbacks.models import Offer, Recommendation, ReturnVisit, Survey, VisitAttempt
from aftersales.callbacks.surveys import survey_send_link
from aftersales.cases.models import Case, Status
from aftersales.core import clock
from aftersales.privacy.models import Consent
from tests import factories
from tests.auth import sign_in

from .conftest import agree
from .web_setup import callback_team, resolved_case, visit_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def cb_team(db: Any) -> Team:
    return callback_team()


@pytest.fixture
def caller(make_staff: Callable[..., User], cb_team: Team) -> User:
    return make_staff(Role.CALLBACK_AGENT, teams=[cb_team], username="caller")


@pytest.fixture
def visit(agent: User, desk_team: Team, cb_team: Team) -> ReturnVisit:
    return visit_of(resolved_case(agent, team=desk_team))


@pytest.fixture
def web(caller: User) -> Client:
    return sign_in(Client(), caller)


@pytest.fixture
def agreed(visit: ReturnVisit) -> ReturnVisit:
    """The visit of a customer who agreed to surveys and to hear about offers."""
    agree(visit.customer, "surveys")
    agree(visit.customer, "marketing")
    return visit


def _post(web: Client, visit: ReturnVisit, action: str, **data: Any) -> Any:
    return web.post(f"/callbacks/{visit.pk}/{action}/", data)


class TestWorklist:
    def test_vip_first_then_by_time_and_upcoming_below(
        self, web: Client, agent: User, desk_team: Team, cb_team: Team
    ) -> None:
        regular = visit_of(resolved_case(agent, team=desk_team))
        vip = visit_of(
            resolved_case(agent, team=desk_team, customer=factories.customer(tier="vip"))
        )
        # The VIP visit is due later than the regular one, and still comes first.
        ReturnVisit.objects.filter(pk=regular.pk).update(
            next_attempt_at=clock.now() - dt.timedelta(hours=2)
        )
        later_visit = visit_of(resolved_case(agent, team=desk_team))
        ReturnVisit.objects.filter(pk=later_visit.pk).update(
            next_attempt_at=clock.now() + dt.timedelta(days=3)
        )
        response = web.get("/callbacks/")
        assert response.status_code == 200
        html = response.content.decode()
        due = html.split('id="worklist-due"')[1].split("</table>")[0]
        assert re.findall(r'data-visit="(\d+)"', due) == [str(vip.pk), str(regular.pk)]
        upcoming = html.split('id="worklist-upcoming"')[1].split("</table>")[0]
        assert re.findall(r'data-visit="(\d+)"', upcoming) == [str(later_visit.pk)]

    def test_navigation_and_permission(
        self, web: Client, technician: User, make_staff: Callable[..., User]
    ) -> None:
        assert 'href="/callbacks/"' in web.get("/callbacks/").content.decode()
        assert sign_in(Client(), technician).get("/callbacks/").status_code == 403
        assert Client().get("/callbacks/").status_code == 302


class TestVisitPage:
    def test_shows_case_and_customer(self, web: Client, visit: ReturnVisit) -> None:
        response = web.get(f"/callbacks/{visit.pk}/")
        assert response.status_code == 200
        html = response.content.decode()
        assert visit.case is not None
        assert f"/cases/{visit.case.number}/" in html
        assert visit.customer.name in html
        assert 'id="attempt-form"' in html and 'id="survey-link-form"' in html

    def test_out_of_scope_is_404(self, other_agent: User, visit: ReturnVisit) -> None:
        client = sign_in(Client(), other_agent)
        assert client.get(f"/callbacks/{visit.pk}/").status_code == 404
        assert (
            client.post(f"/callbacks/{visit.pk}/attempt/", {"result": "reached"}).status_code == 404
        )
        assert not VisitAttempt.objects.exists()

    def test_unknown_action_is_404(self, web: Client, visit: ReturnVisit) -> None:
        assert _post(web, visit, "explode").status_code == 404


class TestActions:
    def test_attempt_then_phone_survey_then_complete(
        self, web: Client, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        response = _post(web, visit, "attempt", result="reached", note="客户在家")
        assert response.status_code == 302
        page = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert 'id="phone-survey-form"' in page and 'id="complete-form"' in page
        response = _post(
            web,
            visit,
            "survey",
            csat="5",
            nps="10",
            repurchase="yes",
            communication_effective="yes",
            attitude="5",
            comment="满意",
        )
        assert response.status_code == 302
        survey = Survey.objects.get()
        assert survey.method == "phone" and survey.csat == 5
        assert survey.communication_effective is True
        response = _post(web, visit, "complete", solved="yes")
        assert response.status_code == 302
        visit.refresh_from_db()
        assert visit.status == ReturnVisit.Status.COMPLETED
        assert Case.objects.get(pk=visit.case_id).status == Status.CLOSED

    def test_refusals_show_the_page_with_the_reason(self, web: Client, visit: ReturnVisit) -> None:
        response = _post(web, visit, "attempt", result="call_back_later")
        assert response.status_code == 422
        assert 'data-code="invalid_attempt"' in response.content.decode()
        response = _post(web, visit, "complete", solved="yes")
        assert response.status_code == 409
        assert 'data-code="not_reached"' in response.content.decode()
        response = _post(web, visit, "survey", csat="9")
        assert response.status_code == 422
        assert not Survey.objects.exists() and not VisitAttempt.objects.exists()

    def test_survey_link_is_shown_once(
        self, web: Client, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        response = _post(web, visit, "link")
        assert response.status_code == 200
        html = response.content.decode()
        match = re.search(
            r'id="survey-link" readonly value="(http://testserver/survey/[^"]+/)"', html
        )
        assert match, html
        assert Client().get(match.group(1)).status_code == 200
        again = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert "/survey/" not in again
        assert Survey.objects.get().status == Survey.Status.OPEN

    def test_recommendation_with_outcome_then_decided(
        self, web: Client, agreed: ReturnVisit, visit: ReturnVisit
    ) -> None:
        tip = Offer.objects.create(
            kind="accessory", code="water-filter", title_zh="净水滤芯", title_en="Water filter"
        )
        page = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert "净水滤芯" in page or "Water filter" in page
        response = _post(
            web,
            visit,
            "recommend",
            kind="accessory",
            offer=str(tip.pk),
            outcome="interested",
            value="0",
        )
        assert response.status_code == 302
        reco = Recommendation.objects.get()
        assert reco.outcome == "interested"
        response = _post(web, visit, "decide", recommendation=str(reco.pk), outcome="accepted")
        assert response.status_code == 302
        reco.refresh_from_db()
        assert reco.outcome == "accepted"


class TestReport:
    def test_charts_data(
        self, web: Client, caller: User, agreed: ReturnVisit, visit: ReturnVisit, agent: User
    ) -> None:
        _survey, token = survey_send_link(actor=caller, visit=visit)
        Client().post(f"/survey/{token}/", {"csat": "4", "nps": "9"})
        response = web.get("/callbacks/report/")
        assert response.status_code == 200
        html = response.content.decode()
        data = json.loads(
            html.split('id="cb-chart-csat" type="application/json">')[1].split("<")[0]
        )
        assert data["series"][0]["values"] == [0, 0, 0, 1, 0]
        for chart in ("repurchase", "tiers", "nps", "conversion"):
            assert f'id="cb-chart-{chart}"' in html
        assert 'data-chart="bar"' in html
        assert sign_in(Client(), agent).get("/callbacks/report/").status_code == 403

    def test_period(self, web: Client) -> None:
        response = web.get("/callbacks/report/?since=2026-01-01&until=2026-01-31")
        assert response.status_code == 200
        assert 'value="2026-01-01"' in response.content.decode()
        assert web.get("/callbacks/report/?since=garbage").status_code == 200


def _form(html: str, marker: str) -> str:
    """The HTML of the first form whose opening tag contains `marker`."""
    match = re.search(rf"<form[^>]*{marker}[^>]*>.*?</form>", html, re.DOTALL)
    assert match, marker
    return match.group(0)


class TestConsent:
    """Surveys and offers are opt-in: the page asks the agent to tick the customer's agreement
    only while no consent is in force, and the services refuse without it."""

    CHECKBOX = 'name="consent_given"'

    @pytest.fixture
    def offer(self, db: Any) -> Offer:
        return Offer.objects.create(
            kind="accessory", code="water-filter", title_zh="净水滤芯", title_en="Water filter"
        )

    def test_the_checkbox_is_shown_only_without_consent(
        self, web: Client, visit: ReturnVisit, offer: Offer
    ) -> None:
        assert _post(web, visit, "attempt", result="reached").status_code == 302
        html = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert 'id="no-survey-consent"' in html
        for marker in ('id="phone-survey-form"', 'id="survey-link-form"', 'class="[^"]*suggestion'):
            assert self.CHECKBOX in _form(html, marker), marker
        # Surveys agreed, offers not: only the suggestions still ask.
        agree(visit.customer, "surveys")
        html = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert 'id="no-survey-consent"' not in html
        assert self.CHECKBOX not in _form(html, 'id="phone-survey-form"')
        assert self.CHECKBOX not in _form(html, 'id="survey-link-form"')
        assert self.CHECKBOX in _form(html, 'class="[^"]*suggestion')
        agree(visit.customer, "marketing")
        html = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert self.CHECKBOX not in html
        # Withdrawn again: asked again.
        agree(visit.customer, "surveys", granted=False)
        html = web.get(f"/callbacks/{visit.pk}/").content.decode()
        assert self.CHECKBOX in _form(html, 'id="survey-link-form"')

    def test_phone_survey_without_the_tick_is_refused(
        self, web: Client, caller: User, visit: ReturnVisit
    ) -> None:
        _post(web, visit, "attempt", result="reached")
        response = _post(web, visit, "survey", csat="5", nps="9")
        assert response.status_code == 409
        html = response.content.decode()
        assert 'data-code="no_consent"' in html
        assert self.CHECKBOX in _form(html, 'id="phone-survey-form"')
        assert not Survey.objects.exists() and not Consent.objects.exists()
        response = _post(web, visit, "survey", csat="5", nps="9", consent_given="on")
        assert response.status_code == 302
        assert Survey.objects.get().csat == 5
        consent = Consent.objects.get(customer=visit.customer)
        assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
            "surveys",
            True,
            "phone",
            caller,
        )

    def test_survey_link_with_the_tick(self, web: Client, caller: User, visit: ReturnVisit) -> None:
        response = _post(web, visit, "link")
        assert response.status_code == 409
        assert 'data-code="no_consent"' in response.content.decode()
        assert not Survey.objects.exists()
        response = _post(web, visit, "link", consent_given="on")
        assert response.status_code == 200
        assert 'id="survey-link"' in response.content.decode()
        assert Survey.objects.get().status == Survey.Status.OPEN
        assert Consent.objects.get(purpose="surveys").recorded_by == caller

    def test_recommendation_with_the_tick(
        self, web: Client, caller: User, visit: ReturnVisit, offer: Offer
    ) -> None:
        data = {"kind": "accessory", "offer": str(offer.pk), "outcome": "offered", "value": "0"}
        response = _post(web, visit, "recommend", **data)
        assert response.status_code == 409
        assert 'data-code="no_consent"' in response.content.decode()
        assert not Recommendation.objects.exists() and not Consent.objects.exists()
        response = _post(web, visit, "recommend", **data, consent_given="on")
        assert response.status_code == 302
        assert Recommendation.objects.get().offer == offer
        consent = Consent.objects.get(customer=visit.customer)
        assert (consent.purpose, consent.recorded_by) == ("marketing", caller)
