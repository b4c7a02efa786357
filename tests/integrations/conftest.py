from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from tests import factories
from tests.integrations.receiver import Receiver, serving


@pytest.fixture
def customer(db: Any) -> Any:
    return factories.customer(name="王小明", tier="vip")


@pytest.fixture
def administrator(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMINISTRATOR, username="admin")


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A receiving system on 127.0.0.1, reachable under the test-only network allowance
    (production leaves OUTBOUND_ALLOWED_NETWORKS empty and allows https only)."""
    with serving(Receiver()) as running:
        settings.OUTBOUND_ALLOW_HTTP = True
        settings.OUTBOUND_ALLOWED_PORTS = [running.port]
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        yield running
