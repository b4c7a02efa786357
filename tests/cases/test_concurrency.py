"""Real concurrent transactions on PostgreSQL: intake idempotency and case numbering."""

from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_open
from tests import factories
from tests.concurrency import run_together

T = TypeVar("T")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def _run_concurrently(n: int, fn: Callable[[int], T], workers: int) -> list[T]:
    return run_together([lambda i=i: fn(i) for i in range(n)], workers=workers)


def test_50_parallel_intakes_with_same_key_make_one_case(agent: User) -> None:
    customer = factories.customer()

    def intake(_: int) -> tuple[str, bool]:
        case, created = case_open(
            actor=User.objects.get(pk=agent.pk),
            customer=customer,
            channel="app",
            subject="手环无法同步",
            idempotency_key="app-retry-7f3a",
        )
        return case.number, created

    results = _run_concurrently(50, intake, workers=50)
    assert len({number for number, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(kind="created").count() == 1


def test_200_parallel_intakes_get_200_distinct_numbers(agent: User) -> None:
    customers = [factories.customer() for _ in range(10)]

    def intake(i: int) -> str:
        case, _ = case_open(
            actor=User.objects.get(pk=agent.pk),
            customer=customers[i % 10],
            channel="phone",
            subject=f"来电 {i}",
        )
        return case.number

    numbers = _run_concurrently(200, intake, workers=40)
    assert len(set(numbers)) == 200
    assert Case.objects.count() == 200
    sequence = sorted(int(n[-7:]) for n in numbers)
    assert sequence == list(range(1, 201))  # no gaps, no duplicates
