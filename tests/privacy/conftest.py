"""Customers with real encrypted contacts, and the users the privacy tests need."""

from collections.abc import Callable
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_create
from tests import factories

PHONE = "13800138000"
PHONE_E164 = "+8613800138000"


@pytest.fixture
def administrator(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMINISTRATOR, username="admin1")


@pytest.fixture
def customer(agent: User) -> Customer:
    """李伟 with a phone, an e-mail, a street address and notes, opened through the service."""
    return customer_create(
        actor=agent,
        name="李伟",
        phones=[PHONE],
        emails=["li.wei@example.com"],
        addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        notes="prefers calls after 6pm",
    )


@pytest.fixture
def closed_case(customer: Customer, desk_team: Any) -> Case:
    """A closed case of the customer, with free text in it."""
    case = factories.case(customer, team=desk_team)
    Case.objects.filter(pk=case.pk).update(
        status="closed",
        description="李伟 says the fridge at 科技园路1号 is warm",
        solution_notes="replaced the compressor",
    )
    case.events.update(body="call from 13800138000")
    case.refresh_from_db()
    return case
