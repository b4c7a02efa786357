"""The parts defaults: one settings row and the class policies, installed once, never twice,
and never over what an administrator changed."""

from decimal import Decimal
from typing import Any

import pytest

from aftersales.parts.defaults import POLICIES, parts_defaults_ensure
from aftersales.parts.models import Part, PartsSettings, StockPolicy
from aftersales.parts.planning import policy_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty(db: Any) -> None:
    PartsSettings.objects.all().delete()
    StockPolicy.objects.all().delete()


def test_installs_the_settings_row_and_the_policies(empty: None) -> None:
    parts_defaults_ensure()

    assert PartsSettings.objects.count() == 1
    policies = list(StockPolicy.objects.order_by("rank"))
    assert len(policies) == len(POLICIES)
    critical = policies[0]
    assert (critical.critical, critical.service_target, critical.storage) == (
        True,
        Decimal("0.980"),
        StockPolicy.Storage.FORWARD,
    )
    catch_all = policies[-1]
    assert (catch_all.abc_class, catch_all.sbc_class, catch_all.critical) == ("", "", None)


def test_running_it_again_changes_nothing(empty: None) -> None:
    parts_defaults_ensure()
    settings = PartsSettings.objects.get()
    settings.history_months = 24
    settings.save()
    StockPolicy.objects.filter(rank=1000).delete()

    parts_defaults_ensure()

    assert PartsSettings.objects.get().history_months == 24
    assert StockPolicy.objects.count() == len(POLICIES) - 1


def test_every_part_finds_a_policy(empty: None) -> None:
    parts_defaults_ensure()
    part = Part(number="X", abc_class="C", sbc_class="lumpy", is_critical=False)

    assert policy_for(part).name.endswith("C lumpy")  # type: ignore[union-attr]
    part.is_critical = True
    assert policy_for(part).critical is True  # type: ignore[union-attr]
    assert policy_for(Part(number="new")).rank == 1000  # type: ignore[union-attr]
