from typing import Any

import pytest

from tests import factories


@pytest.fixture
def customer(db: Any) -> Any:
    return factories.customer()


@pytest.fixture
def vip(db: Any) -> Any:
    return factories.customer(tier="vip")
