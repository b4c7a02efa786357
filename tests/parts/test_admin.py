"""Administrators keep the parts catalogue, the stock policies and the one settings row in the
admin site; the stock ledger there is read-only."""

from decimal import Decimal

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import roles_sync, staff_create
from aftersales.parts.defaults import parts_defaults_ensure
from aftersales.parts.models import Part, PartsSettings, StockPolicy
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    roles_sync()
    parts_defaults_ensure()
    admin = staff_create(
        username="root",
        password="Admin-pass-2026",
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    client = Client()
    sign_in(client, admin)
    return client


@pytest.fixture
def superuser_client(admin_client: Client) -> Client:
    """Parts are the warehouse's to add (administrators keep policies and settings)."""
    User.objects.filter(username="root").update(is_superuser=True)
    return admin_client


def test_pages_open(superuser_client: Client) -> None:
    settings = PartsSettings.objects.get()
    for url in (
        "/admin/parts/part/",
        "/admin/parts/stockpolicy/",
        f"/admin/parts/partssettings/{settings.pk}/change/",
        "/admin/parts/part/add/",
        "/admin/parts/demandevent/add/",
        "/admin/parts/stockmovement/",
        "/admin/parts/location/add/",
        "/admin/parts/supplier/",
    ):
        assert superuser_client.get(url).status_code == 200, url


def test_a_part_added_here_gets_its_creation_time(superuser_client: Client) -> None:
    response = superuser_client.post(
        "/admin/parts/part/add/",
        {
            "number": "CMP-100",
            "name_zh": "压缩机",
            "name_en": "Compressor",
            "is_active": "on",
            "usage_per_repair": "0.5",
            "unit_cost": "320.00",
            "currency": "CNY",
            "sources-TOTAL_FORMS": "0",
            "sources-INITIAL_FORMS": "0",
            "sources-MIN_NUM_FORMS": "0",
            "sources-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    part = Part.objects.get(number="CMP-100")
    assert part.created_at is not None and part.usage_per_repair == Decimal("0.5")


def test_policies_take_only_known_forecast_methods(admin_client: Client) -> None:
    policy = StockPolicy.objects.order_by("rank").first()
    assert policy is not None
    fields = {
        "name": policy.name,
        "rank": policy.rank,
        "is_active": "on",
        "abc_class": "",
        "sbc_class": "",
        "critical": "unknown",
        "service_measure": "fill_rate",
        "service_target": "0.950",
        "method": "order_up_to",
        "review_days": "7",
        "storage": "regional",
    }
    url = f"/admin/parts/stockpolicy/{policy.pk}/change/"
    refused = admin_client.post(url, {**fields, "forecast_method": "crystal-ball"})
    assert refused.status_code == 200
    assert admin_client.post(url, {**fields, "forecast_method": "TSB"}).status_code == 302
    policy.refresh_from_db()
    assert policy.forecast_method == "TSB"


def test_the_settings_row_cannot_be_added_twice_or_deleted(superuser_client: Client) -> None:
    settings = PartsSettings.objects.get()
    assert superuser_client.get("/admin/parts/partssettings/add/").status_code == 403
    delete = f"/admin/parts/partssettings/{settings.pk}/delete/"
    assert superuser_client.get(delete).status_code == 403


def test_the_ledger_cannot_be_written(superuser_client: Client) -> None:
    assert superuser_client.get("/admin/parts/stockmovement/add/").status_code == 403
