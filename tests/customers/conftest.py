"""Factories for the customer tests: customers through the service, units and cases directly."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case
from aftersales.catalog.models import ProductLine, ProductModel, Unit
from aftersales.core import clock
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_create
from tests import factories


@pytest.fixture
def make_customer(db: Any) -> Callable[..., Customer]:
    def make(name: str = "李伟", *, actor: User | None = None, **kwargs: Any) -> Customer:
        return customer_create(actor=actor, name=name, **kwargs)

    return make


@pytest.fixture
def product_model(db: Any) -> ProductModel:
    line = ProductLine.objects.create(code="fridge", name_zh="冰箱", name_en="Fridge")
    return ProductModel.objects.create(
        line=line,
        code="BCD-520",
        name="Cross-door fridge 520L",
        parts_warranty_months=36,
        labour_warranty_months=12,
    )


@pytest.fixture
def make_unit(product_model: ProductModel) -> Callable[..., Unit]:
    counter = {"n": 0}

    def make(customer: Customer | None, *, purchase_date: dt.date | None = None) -> Unit:
        counter["n"] += 1
        return Unit.objects.create(
            model=product_model,
            serial_number=f"SN{counter['n']:08d}",
            customer=customer,
            purchase_date=purchase_date or clock.today() - dt.timedelta(days=100),
            purchase_amount=Decimal("4999.00"),
            registered_at=clock.now(),
        )

    return make


@pytest.fixture
def make_case(db: Any) -> Callable[..., Case]:

    def make(
        customer: Customer,
        *,
        team: Team | None = None,
        assignee: User | None = None,
        subject: str = "Fridge not cooling",
        unit: Unit | None = None,
    ) -> Case:
        case: Case = factories.case(
            customer, team=team, assignee=assignee, unit=unit, subject=subject
        )
        return case

    return make
