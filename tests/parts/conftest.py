"""Spare-parts fixtures: a part, the central / regional / van locations, suppliers, and an open
case for a customer of each value tier (opened through the case services, so each has its
running SLA clocks)."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.services import case_open
from aftersales.customers.models import Customer
from aftersales.parts.models import Location, LocationKind, Part, StockBalance, Supplier
from aftersales.parts.services import location_create, part_create, supplier_create
from tests import factories


@pytest.fixture
def part(warehouse_user: User) -> Part:
    """A compressor relay: not repairable, 120.00 each."""
    return part_create(
        actor=warehouse_user,
        number="RL-100",
        name_zh="压缩机继电器",
        name_en="Compressor relay",
        unit_cost=Decimal("120.00"),
    )


@pytest.fixture
def repairable_part(warehouse_user: User) -> Part:
    return part_create(
        actor=warehouse_user,
        number="PCB-7",
        name_zh="主控板",
        name_en="Main control board",
        unit_cost=Decimal("480.00"),
        is_repairable=True,
    )


@pytest.fixture
def central(warehouse_user: User) -> Location:
    return location_create(
        actor=warehouse_user, code="CW", name="Central warehouse", kind=LocationKind.CENTRAL
    )


@pytest.fixture
def regional(warehouse_user: User, central: Location) -> Location:
    return location_create(
        actor=warehouse_user,
        code="RW-GD",
        name="Guangdong regional warehouse",
        kind=LocationKind.REGIONAL,
        region="广东",
        supplied_from=central,
    )


@pytest.fixture
def van(warehouse_user: User, regional: Location, technician: User) -> Location:
    return location_create(
        actor=warehouse_user,
        code="VAN-1",
        name="Van 1",
        kind=LocationKind.VAN,
        supplied_from=regional,
        keeper=technician,
        transfer_days=1,
    )


@pytest.fixture
def supplier(warehouse_user: User) -> Supplier:
    return supplier_create(actor=warehouse_user, code="SUP-A", name="Relay Works Ltd.")


@pytest.fixture
def make_case(agent: User) -> Callable[..., Case]:
    """An open case for a new customer of the given tier."""

    def make(tier: str = "regular", **customer_fields: Any) -> Case:
        customer: Customer = factories.customer(tier=tier, **customer_fields)
        case, _created = case_open(
            actor=agent, customer=customer, channel="phone", subject="冰箱不制冷"
        )
        return case

    return make


@pytest.fixture
def vip_case(make_case: Callable[..., Case]) -> Case:
    return make_case("vip")


@pytest.fixture
def regular_case(make_case: Callable[..., Case]) -> Case:
    return make_case("regular")


@pytest.fixture
def low_case(make_case: Callable[..., Case]) -> Case:
    return make_case("low")


@pytest.fixture
def balance() -> Callable[..., StockBalance | None]:
    """The balance row of a part at a location and kind, fresh from the database."""

    def get(part: Part, location: Location, kind: str = "new") -> StockBalance | None:
        return StockBalance.objects.filter(part=part, location=location, kind=kind).first()

    return get
