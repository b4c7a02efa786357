"""Administrators edit routing rules and record absences in the admin site."""

import pytest
from django.test import Client

from aftersales.accounts.models import Absence, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import roles_sync, staff_create
from aftersales.cases.models import RoutingRule
from aftersales.cases.routing_defaults import default_rules_install
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    roles_sync()
    admin = staff_create(
        username="root",
        password="Admin-pass-2026",
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    client = Client()
    sign_in(client, admin)
    return client


def test_administrator_reorders_and_switches_off_routing_rules(admin_client: Client) -> None:
    RoutingRule.objects.all().delete()
    default_rules_install()
    page = admin_client.get("/admin/cases/routingrule/")
    assert page.status_code == 200 and "VIP 投诉 → VIP 专席（资深）" in page.content.decode()
    rule = RoutingRule.objects.get(rank=25)
    form = admin_client.get(f"/admin/cases/routingrule/{rule.pk}/change/")
    assert form.status_code == 200
    response = admin_client.post(
        f"/admin/cases/routingrule/{rule.pk}/change/",
        {
            "name": rule.name,
            "rank": 15,
            "is_active": "on",
            "tier": "vip",
            "nature": "hardware",
            "target_team_kind": "tech_support",
            "min_seniority": "expert",
            "note": "Experts first.",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.rank == 15 and rule.note == "Experts first."


def test_a_rule_needs_a_target(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/cases/routingrule/add/", {"name": "nowhere", "rank": 1, "is_active": "on"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert not RoutingRule.objects.filter(name="nowhere").exists()


def test_administrator_records_an_absence(admin_client: Client, agent: User) -> None:
    response = admin_client.post(
        "/admin/accounts/absence/add/",
        {
            "user": agent.pk,
            "starts_at_0": "2026-12-07",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-12-08",
            "ends_at_1": "18:00:00",
            "reason": "leave",
        },
    )
    assert response.status_code == 302
    absence = Absence.objects.get(user=agent)
    assert absence.created_by is not None and absence.created_by.username == "root"
    assert admin_client.get("/admin/accounts/absence/").status_code == 200
