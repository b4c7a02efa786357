"""Administrators edit the return-visit rules, the callback settings and the offers."""

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from aftersales.callbacks.models import CallbackRule, CallbackSettings, Offer
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: object) -> Client:
    admin = staff_create(
        username="root",
        password="Admin-pass-2026",
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    return sign_in(Client(), admin)


def test_administrator_changes_the_sample_of_a_rule(admin_client: Client) -> None:
    page = admin_client.get("/admin/callbacks/callbackrule/")
    assert page.status_code == 200 and "其余工单抽样" in page.content.decode()
    rule = CallbackRule.objects.get(reason="sample")
    response = admin_client.post(
        f"/admin/callbacks/callbackrule/{rule.pk}/change/",
        {
            "name": rule.name,
            "rank": rule.rank,
            "is_active": "on",
            "reason": "sample",
            "sample_percent": 50,
            "delay_hours": 24,
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.sample_percent, rule.delay_hours) == (50, 24)


def test_a_sample_above_100_percent_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/callbacks/callbackrule/add/",
        {"name": "too many", "rank": 5, "reason": "x", "sample_percent": 101, "delay_hours": 1},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not CallbackRule.objects.filter(name="too many").exists()


def test_the_settings_row_is_changed_never_added_twice_or_deleted(
    admin_client: Client,
) -> None:
    settings = CallbackSettings.objects.get()
    assert admin_client.get("/admin/callbacks/callbacksettings/add/").status_code == 403
    form = {
        "retry_after_hours": 2,
        "max_attempts": 5,
        "care_interval_days": 60,
        "survey_link_days": 3,
        "unsatisfied_csat": 2,
        "unsatisfied_attitude": 1,
        "warranty_offer_days": 30,
    }
    url = f"/admin/callbacks/callbacksettings/{settings.pk}/change/"
    assert admin_client.post(url, form).status_code == 302
    settings.refresh_from_db()
    assert (settings.max_attempts, settings.survey_link_days) == (5, 3)
    assert admin_client.post(url, {**form, "max_attempts": 0}).status_code == 200
    assert CallbackSettings.objects.get().max_attempts == 5


def test_administrator_adds_an_offer(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/callbacks/offer/add/",
        {
            "code": "tv-soundbar",
            "kind": "accessory",
            "title_zh": "电视回音壁",
            "title_en": "TV soundbar",
            "price": "899.00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert Offer.objects.get(code="tv-soundbar").title_en == "TV soundbar"


def test_an_agent_has_no_admin_access_to_the_rules(agent: User) -> None:
    client = sign_in(Client(), agent)
    assert client.get("/admin/callbacks/callbackrule/").status_code in (302, 403)
