"""The value tier pages: /customers/tiers/, the override form, the tier card on the customer."""

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.customers import services
from aftersales.customers.models import Customer, TierOverride
from tests import factories
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def tiered(db: Any, manager: User) -> list[Customer]:
    made = []
    for i in range(10):
        customer = factories.customer(name=f"客户{i}")
        factories.unit(
            customer=customer,
            purchase_amount=Decimal(1000 * (i + 1)),
            purchase_date=clock.today() - dt.timedelta(days=20),
        )
        made.append(customer)
    for _ in range(3):
        factories.case(made[9])
    services.tiers_recompute()
    services.customer_set_tier(
        actor=manager,
        customer=made[0],
        tier="regular",
        reason="Trial period",
        expires_at=clock.now() + dt.timedelta(days=14),
    )
    return made


def _json_script(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, element_id
    return json.loads(match.group(1))


class TestTierReport:
    @pytest.mark.parametrize("role", ["manager", "supervisor"])
    def test_renders_the_shares_chart_data_moves_and_overrides(
        self, tiered: list[Customer], role: str, request: pytest.FixtureRequest
    ) -> None:
        user: User = request.getfixturevalue(role)

        response = _client(user).get(reverse("web:customer_tiers"))

        assert response.status_code == 200
        html = _html(response)
        shares = _json_script(html, "tier-chart-shares")
        assert shares["unit"] == "%"
        customers, cases = shares["series"]
        # VIP, regular, low; the lowest buyer is held on regular by the override.
        assert customers["values"] == [30.0, 50.0, 20.0]
        assert cases["values"] == [100.0, 0.0, 0.0]
        purchase = _json_script(html, "tier-chart-purchase")
        assert purchase["boxes"][0] == [8000.0, 8500.0, 9000.0, 9500.0, 10000.0]
        assert 'data-chart="bar"' in html and 'data-chart-data="tier-chart-shares"' in html
        assert "echarts-5.6.0.min.js" in html and "web/charts.js" in html
        # No inline script: every <script> either loads a file or carries JSON data.
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert "Trial period" in html  # the override in force
        assert tiered[9].number in html  # moved to VIP

    def test_filters_moves_by_source(self, tiered: list[Customer], manager: User) -> None:
        url = reverse("web:customer_tiers")

        overrides = _html(_client(manager).get(url, {"source": "override"}))
        computed = _html(_client(manager).get(url, {"source": "computed"}))

        moves = overrides.split('id="moves"')[1]
        assert tiered[0].number in moves  # the override
        assert tiered[9].number not in moves  # a computed move
        assert tiered[9].number in computed.split('id="moves"')[1]

    @pytest.mark.parametrize("role", ["agent", "technician"])
    def test_is_forbidden_without_the_report_permission(
        self, tiered: list[Customer], role: str, request: pytest.FixtureRequest
    ) -> None:
        user: User = request.getfixturevalue(role)

        assert _client(user).get(reverse("web:customer_tiers")).status_code == 403

    def test_needs_a_login(self, db: Any) -> None:
        response = Client().get(reverse("web:customer_tiers"))

        assert response.status_code == 302


class TestOverrideForm:
    def test_manager_sets_a_tier_until_a_date(self, tiered: list[Customer], manager: User) -> None:
        customer = tiered[5]
        url = reverse("web:customer_tier_override", args=[customer.pk])
        until = timezone.localtime(clock.now() + dt.timedelta(days=30)).replace(
            second=0, microsecond=0
        )

        form = _client(manager).get(url)
        response = _client(manager).post(
            url,
            {
                "tier": "vip",
                "reason": "Project buyer",
                "expires_at": until.strftime("%Y-%m-%dT%H:%M"),
            },
        )

        assert form.status_code == 200
        assert response.status_code == 302
        override = TierOverride.objects.get(customer=customer, ended_at__isnull=True)
        assert (override.tier, override.expires_at) == ("vip", until)
        assert Customer.objects.get(pk=customer.pk).tier == "vip"

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"tier": "vip", "reason": "x", "expires_at": "2020-01-01T10:00"}, "expires_at"),
            ({"tier": "vip", "reason": "x", "expires_at": "+900"}, "expires_at"),
            ({"tier": "vip", "reason": "x", "expires_at": "soon"}, "expires_at"),
            ({"tier": "vip", "reason": "", "expires_at": "+30"}, "reason"),
            ({"tier": "gold", "reason": "x", "expires_at": "+30"}, "tier"),
        ],
    )
    def test_bad_input_comes_back_with_the_field_error(
        self, tiered: list[Customer], manager: User, data: dict[str, str], field: str
    ) -> None:
        customer = tiered[5]
        url = reverse("web:customer_tier_override", args=[customer.pk])
        if data["expires_at"].startswith("+"):
            later = clock.now() + dt.timedelta(days=int(data["expires_at"][1:]))
            data = {**data, "expires_at": timezone.localtime(later).strftime("%Y-%m-%dT%H:%M")}

        response = _client(manager).post(url, data)

        assert response.status_code == 422
        assert field in response.context["form"].errors
        assert Customer.objects.get(pk=customer.pk).tier == "regular"
        assert not TierOverride.objects.filter(customer=customer).exists()

    def test_agent_may_not_override(self, tiered: list[Customer], agent: User) -> None:
        url = reverse("web:customer_tier_override", args=[tiered[5].pk])

        assert _client(agent).get(url).status_code == 403
        assert _client(agent).post(url, {"tier": "vip"}).status_code == 403


class TestTierCard:
    def test_customer_page_shows_score_override_and_moves(
        self, tiered: list[Customer], manager: User, agent: User
    ) -> None:
        url = reverse("web:customer_detail", args=[tiered[0].pk])

        as_manager = _html(_client(manager).get(url))
        as_agent = _html(_client(agent).get(url))

        assert "Trial period" in as_manager
        assert reverse("web:customer_tier_override", args=[tiered[0].pk]) in as_manager
        assert reverse("web:customer_tier_override", args=[tiered[0].pk]) not in as_agent
        assert "0.000" in as_agent  # the score
