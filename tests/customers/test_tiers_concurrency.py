"""Tier overrides and computations at the same time on PostgreSQL: one override in force, no
move recorded twice, no deadlock."""

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.customers.models import Customer, TierChange, TierOverride
from aftersales.customers.services import customer_set_tier, tiers_recompute
from tests import factories
from tests.concurrency import code_of, run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def _together_codes(calls: list[Callable[[], str]]) -> list[str]:
    return run_together([code_of(call) for call in calls])


def _override(manager_pk: int, customer_pk: int, tier: str) -> Callable[[], str]:
    def call() -> str:
        customer_set_tier(
            actor=User.objects.get(pk=manager_pk),
            customer=Customer.objects.get(pk=customer_pk),
            tier=tier,
            reason=f"to {tier}",
            expires_at=clock.now() + dt.timedelta(days=30),
        )
        return "set"

    return call


def _recompute() -> str:
    tiers_recompute()
    return "computed"


def test_two_overrides_at_once_leave_one_in_force(manager: User) -> None:
    for _ in range(3):
        customer = factories.customer()

        results = _together_codes(
            [_override(manager.pk, customer.pk, "vip"), _override(manager.pk, customer.pk, "low")]
        )

        assert results == ["set", "set"]
        active = TierOverride.objects.get(customer=customer, ended_at__isnull=True)
        assert Customer.objects.get(pk=customer.pk).tier == active.tier
        assert TierOverride.objects.filter(customer=customer, end_reason="replaced").count() == 1


def test_computations_running_twice_at_once_record_each_move_once(manager: User) -> None:
    customers = []
    for i in range(12):
        customer = factories.customer()
        factories.unit(
            customer=customer,
            purchase_amount=Decimal(500 * (i + 1)),
            purchase_date=clock.today() - dt.timedelta(days=10),
        )
        customers.append(customer)

    results = _together_codes(
        [_recompute, _recompute, _override(manager.pk, customers[0].pk, "vip")]
    )

    assert sorted(results) == ["computed", "computed", "set"]
    for customer in customers:
        moves = list(TierChange.objects.filter(customer=customer).order_by("occurred_at", "id"))
        # Every move starts where the previous one ended: nothing was applied twice.
        for earlier, later in itertools.pairwise(moves):
            assert later.before == earlier.after
        final = Customer.objects.get(pk=customer.pk).tier
        assert not moves or moves[-1].after == final
    assert Customer.objects.get(pk=customers[0].pk).tier == "vip"
