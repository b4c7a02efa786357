"""A return visit's survey answered by the customer in a real Chromium: the callback agent asks
the customer on the call (surveys are opt-in), ticks their agreement and makes the one-time link
on the visit page, the customer opens it with no account and answers CSAT 2,
which reopens the case for them; the link then says it was answered, and an altered link says
it is not valid."""

from typing import Any

import pytest
from playwright.sync_api import expect

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create, team_create
from aftersales.callbacks.models import ReturnVisit, Survey
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.customers.services import customer_create
from aftersales.privacy.models import Consent
from tests import factories
from tests.callbacks.web_setup import callback_team, resolved_case, visit_of
from tests.web.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"
PHONE = "13712345678"


def test_customer_answers_the_survey_link_and_low_score_reopens_the_case(
    page: Any, browser: Any, live_server: Any
) -> None:
    desk = team_create(code="desk-sz", name="深圳受理台", kind="frontline")
    cb_team = callback_team()
    agent = staff_create(
        username="agent",
        password=PASSWORD,
        display_name="李娜",
        roles=[Role.FRONTLINE_AGENT],
        teams=[desk],
    )
    staff_create(
        username="caller",
        password=PASSWORD,
        display_name="回访员小王",
        roles=[Role.CALLBACK_AGENT],
        teams=[cb_team],
    )
    customer = customer_create(
        actor=None, name="王芳", tier="vip", phones=[PHONE], preferred_language="en"
    )
    unit = factories.unit(model=factories.product_model(name="FrostFree 300"), customer=customer)
    case = resolved_case(agent, team=desk, customer=customer, unit=unit)
    visit = visit_of(case)

    # The callback agent makes the link on the visit page; it is shown once. No consent to
    # surveys is on record: without the customer's agreement the link is refused.
    login(page, "caller", PASSWORD)
    page.goto("/callbacks/")
    page.click(f'tr[data-visit="{visit.pk}"] a')
    page.wait_for_url(f"**/callbacks/{visit.pk}/")
    expect(page.locator("#no-survey-consent")).to_have_count(1)
    page.click("#survey-link-form button[type=submit]")
    assert page.locator("#visit-error").get_attribute("data-code") == "no_consent"
    assert not Survey.objects.filter(visit=visit).exists()
    # The customer agrees on the call: the agent ticks it, and it is recorded as theirs.
    page.check('#survey-link-form input[name="consent_given"]')
    page.click("#survey-link-form button[type=submit]")
    link = page.locator("#survey-link").input_value()
    assert link.startswith(live_server.url + "/survey/"), link
    consent = Consent.objects.get(customer=customer, purpose="surveys")
    assert consent.granted and consent.source == "phone"
    assert consent.recorded_by is not None and consent.recorded_by.username == "caller"

    # The customer: another browser with no session at all.
    customer_browser = browser.new_context(locale="en-US")
    customer_browser.set_default_timeout(15_000)
    tab = customer_browser.new_page()
    try:
        response = tab.goto(link)
        assert response is not None and response.status == 200
        body = tab.locator("body").inner_text()
        assert "FrostFree 300" in body
        assert "王芳" not in body and PHONE not in body and case.number not in body
        tab.check('input[name="csat"][value="2"]')
        tab.check('input[name="nps"][value="5"]')
        tab.check('input[name="repurchase"][value="maybe"]')
        tab.check('input[name="communication_effective"][value="no"]')
        tab.check('input[name="attitude"][value="3"]')
        tab.fill('textarea[name="comment"]', "The fridge is still noisy.")
        tab.click("#survey-form button[type=submit]")
        tab.wait_for_selector("#survey-thanks")
        assert "Thank you" in tab.locator("#survey-thanks").inner_text()

        survey = Survey.objects.get(visit=visit)
        assert survey.status == Survey.Status.ANSWERED and survey.csat == 2
        assert survey.follow_up["action"] == "reopened"
        case = Case.objects.get(pk=case.pk)
        assert case.status not in (Status.RESOLVED, Status.CLOSED) and case.reopen_count == 1
        answered = CaseEvent.objects.get(case=case, kind="survey", data__change="answered")
        assert answered.actor is None
        reopened = CaseEvent.objects.filter(case=case, kind="status").order_by("id").last()
        assert reopened is not None and reopened.from_status == Status.RESOLVED
        assert reopened.actor is None
        assert not ReturnVisit.objects.filter(case=case, status=ReturnVisit.Status.DUE).exists()

        # Second use: refused with a plain page.
        response = tab.goto(link)
        assert response is not None and response.status == 409
        assert tab.locator("#survey-refused").get_attribute("data-reason") == "answered"
        assert "already been answered" in tab.locator("h1").inner_text()
        assert tab.locator("#survey-form").count() == 0

        # An altered link: not valid, and nothing of the survey behind it.
        token = link.rstrip("/").rsplit("/", 1)[1]
        altered = link.replace(
            token, token[:-4] + ("abcd" if not token.endswith("abcd") else "wxyz")
        )
        response = tab.goto(altered)
        assert response is not None and response.status == 400
        assert tab.locator("#survey-refused").get_attribute("data-reason") == "invalid"
        assert "not valid" in tab.locator("h1").inner_text()
        assert "Traceback" not in tab.content()
    finally:
        customer_browser.close()
