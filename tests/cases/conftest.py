from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.services import case_open
from tests import factories


@pytest.fixture
def customer(db: Any) -> Any:
    return factories.customer()


@pytest.fixture
def vip_customer(db: Any) -> Any:
    return factories.customer(tier="vip")


@pytest.fixture
def open_case(agent: User, customer: Any) -> Case:
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="冰箱不制冷")
    return case
