"""Value tier endpoints of /api/v1/customers: report, moves, overrides, one customer's tier."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.customers import services
from aftersales.customers.models import Customer, TierChange, TierOverride
from tests import factories

pytestmark = pytest.mark.django_db

ApiFactory = Callable[[User], Any]


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]


@pytest.fixture
def customers(db: Any) -> list[Customer]:
    """Ten customers buying more and more; the biggest buyer also brings most of the cases."""
    made = []
    for i in range(10):
        customer = factories.customer(name=f"客户{i}")
        factories.unit(
            customer=customer,
            purchase_amount=Decimal(1000 * (i + 1)),
            purchase_date=clock.today() - dt.timedelta(days=20),
        )
        made.append(customer)
    for _ in range(6):
        factories.case(made[9])
    factories.case(made[2])
    return made


def _until(days: int = 30) -> str:
    return (clock.now() + dt.timedelta(days=days)).isoformat()


class TestOverride:
    def test_manager_overrides_with_reason_and_expiry(
        self, api: ApiFactory, manager: User, customers: list[Customer]
    ) -> None:
        customer = customers[0]

        response = api(manager).post(
            f"/customers/{customer.pk}/tier",
            {"tier": "vip", "reason": "Strategic account", "expires_at": _until()},
        )

        assert response.status_code == 200, response.content
        assert response.json()["tier"] == "vip"
        override = TierOverride.objects.get(customer=customer)
        assert (override.reason, override.set_by) == ("Strategic account", manager)
        assert TierChange.objects.get(customer=customer).source == "override"

    def test_an_expiry_without_a_zone_is_read_as_local_time(
        self, api: ApiFactory, manager: User, customers: list[Customer]
    ) -> None:
        response = api(manager).post(
            f"/customers/{customers[0].pk}/tier",
            {"tier": "vip", "reason": "x", "expires_at": "2026-12-31T18:00:00"},
        )

        if clock.today() >= dt.date(2026, 12, 31):
            _assert_error(response, 422, "expiry_in_past")
            return
        assert response.status_code == 200, response.content
        expires = TierOverride.objects.get().expires_at
        assert expires == dt.datetime(2026, 12, 31, 10, 0, tzinfo=dt.UTC)

    @pytest.mark.parametrize("role", ["agent", "senior_agent", "supervisor"])
    def test_a_non_manager_is_refused(
        self,
        api: ApiFactory,
        customers: list[Customer],
        role: str,
        request: pytest.FixtureRequest,
    ) -> None:
        user: User = request.getfixturevalue(role)

        response = api(user).post(
            f"/customers/{customers[0].pk}/tier",
            {"tier": "vip", "reason": "x", "expires_at": _until()},
        )

        _assert_error(response, 403, "forbidden")
        assert Customer.objects.get(pk=customers[0].pk).tier == "regular"
        assert not TierOverride.objects.exists()

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({"tier": "vip", "expires_at": "+30"}, "invalid_input"),  # no reason
            ({"tier": "vip", "reason": "", "expires_at": "+30"}, "invalid_input"),
            ({"tier": "vip", "reason": "x"}, "invalid_input"),  # no expiry
            ({"tier": "gold", "reason": "x", "expires_at": "+30"}, "invalid_input"),
            ({"tier": "vip", "reason": "x", "expires_at": "tomorrow"}, "invalid_input"),
            ({"tier": "vip", "reason": "x", "expires_at": "-1"}, "expiry_in_past"),
            ({"tier": "vip", "reason": "x", "expires_at": "+800"}, "expiry_too_far"),
            ({"tier": "vip", "reason": "x", "expires_at": "+30", "note": 1}, "invalid_input"),
        ],
    )
    def test_bad_input_is_a_4xx_and_changes_nothing(
        self,
        api: ApiFactory,
        manager: User,
        customers: list[Customer],
        payload: dict[str, Any],
        code: str,
    ) -> None:
        body = dict(payload)
        offset = body.get("expires_at", "")
        if offset[:1] in "+-" and offset[1:].isdigit():
            body["expires_at"] = _until(int(offset))

        response = api(manager).post(f"/customers/{customers[0].pk}/tier", body)

        _assert_error(response, 422, code)
        assert Customer.objects.get(pk=customers[0].pk).tier == "regular"
        assert not TierOverride.objects.exists()
        assert not TierChange.objects.exists()


class TestReport:
    def test_shares_of_customers_and_of_demand_by_tier(
        self, api: ApiFactory, manager: User, customers: list[Customer]
    ) -> None:
        services.tiers_recompute()

        response = api(manager).get("/customers/tiers/report")

        assert response.status_code == 200, response.content
        body = response.json()
        shares = {s["tier"]: s for s in body["shares"]}
        assert (body["customers"], body["cases"]) == (10, 7)
        assert shares["vip"]["customers"] == 3
        assert shares["vip"]["customer_share"] == pytest.approx(0.3)
        assert shares["vip"]["cases"] == 6
        assert shares["vip"]["case_share"] == pytest.approx(6 / 7)
        spread = {s["tier"]: s for s in body["dimensions"]["purchase"]}
        assert spread["vip"]["maximum"] == 10000
        assert spread["low"]["minimum"] == 1000
        assert body["last_run"]["customers"] == 10
        assert body["policy"]["cutoff_mode"] == "percentile"
        assert Decimal(body["policy"]["vip_share"]) == Decimal("0.28")

    @pytest.mark.parametrize("role", ["agent", "technician"])
    def test_staff_without_the_report_permission_are_refused(
        self, api: ApiFactory, role: str, request: pytest.FixtureRequest
    ) -> None:
        user: User = request.getfixturevalue(role)
        client = api(user)

        for path in ("/customers/tiers/report", "/customers/tiers/changes"):
            _assert_error(client.get(path), 403, "forbidden")
        _assert_error(client.get("/customers/tiers/overrides"), 403, "forbidden")

    def test_supervisor_sees_the_report(self, api: ApiFactory, supervisor: User) -> None:
        assert api(supervisor).get("/customers/tiers/report").status_code == 200

    def test_moves_filtered_by_source(
        self, api: ApiFactory, manager: User, customers: list[Customer]
    ) -> None:
        services.tiers_recompute()
        services.customer_set_tier(
            actor=manager,
            customer=customers[1],
            tier="vip",
            reason="Key account",
            expires_at=clock.now() + dt.timedelta(days=10),
        )
        client = api(manager)

        everything = client.get("/customers/tiers/changes").json()
        overrides = client.get("/customers/tiers/changes", source="override").json()

        assert everything["count"] == 7
        assert overrides["count"] == 1
        item = overrides["items"][0]
        assert (item["customer_number"], item["before"], item["after"]) == (
            customers[1].number,
            "low",
            "vip",
        )
        assert item["reason"] == "Key account"
        assert item["actor"] == manager.label
        assert "Key account" in item["text"]
        _assert_error(
            client.get("/customers/tiers/changes", source="sideways"), 422, "invalid_input"
        )
        active = client.get("/customers/tiers/overrides").json()
        assert [o["customer_id"] for o in active["items"]] == [customers[1].pk]


class TestCustomerTier:
    def test_score_override_and_recent_moves(
        self, api: ApiFactory, agent: User, manager: User, customers: list[Customer]
    ) -> None:
        services.tiers_recompute()

        body = api(agent).get(f"/customers/{customers[9].pk}/tier").json()

        assert body["tier"] == "vip"
        assert Decimal(body["score"]["purchase_amount"]) == Decimal("10000")
        assert body["score"]["usage_count"] == 6
        assert Decimal(body["score"]["score"]) == Decimal("0.8")
        assert body["override"] is None
        assert [c["source"] for c in body["changes"]] == ["computed"]

    def test_outside_scope_is_404(
        self, api: ApiFactory, technician: User, customers: list[Customer]
    ) -> None:
        _assert_error(api(technician).get(f"/customers/{customers[0].pk}/tier"), 404, "not_found")
