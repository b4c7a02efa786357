"""Real concurrent merges on PostgreSQL: row locks in pk order, no deadlock, one winner."""

from collections.abc import Callable

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_merge
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


def _merge(actor_pk: int, survivor_pk: int, duplicate_pk: int) -> Callable[[], str]:
    def call() -> str:
        customer_merge(
            actor=User.objects.get(pk=actor_pk),
            survivor=Customer.objects.get(pk=survivor_pk),
            duplicate=Customer.objects.get(pk=duplicate_pk),
        )
        return "merged"

    return call


def test_crossing_merges_of_one_pair_leave_exactly_one_merge(
    senior_agent: User, make_customer: Callable[..., Customer]
) -> None:
    for _ in range(5):
        a = make_customer("A", phones=["13800138000"])
        b = make_customer("B", phones=["13900139000"])

        results = _together_codes(
            [_merge(senior_agent.pk, a.pk, b.pk), _merge(senior_agent.pk, b.pk, a.pk)]
        )

        assert sorted(results) == ["duplicate_already_merged", "merged"] or sorted(results) == [
            "merged",
            "survivor_merged",
        ]
        a.refresh_from_db()
        b.refresh_from_db()
        assert [a.merged_into_id, b.merged_into_id].count(None) == 1


def test_one_duplicate_merged_into_two_survivors_has_one_winner(
    senior_agent: User, make_customer: Callable[..., Customer]
) -> None:
    duplicate = make_customer("D", phones=["13800138000"])
    first, second = make_customer("S1"), make_customer("S2")

    results = _together_codes(
        [
            _merge(senior_agent.pk, first.pk, duplicate.pk),
            _merge(senior_agent.pk, second.pk, duplicate.pk),
        ]
    )

    assert sorted(results) == ["duplicate_already_merged", "merged"]
    duplicate.refresh_from_db()
    winner = duplicate.merged_into
    assert winner in (first, second)
    assert winner is not None and [c.value for c in winner.contacts.all()] == ["+8613800138000"]
    assert AuditEvent.objects.filter(action="customer.merged").count() == 1
