"""Real concurrent transactions on PostgreSQL: stock is never oversold, the queue keeps its
order under load, and the ledger cannot be rewritten even with SQL."""

import random
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.parts.models import (
    Backorder,
    Location,
    Part,
    Reservation,
    StockBalance,
    StockMovement,
)
from aftersales.parts.services import (
    stock_issue,
    stock_receive,
    stock_reserve,
    transfer_create,
)
from tests.concurrency import code_of, run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def _reserve(agent_pk: int, case_pk: int, part_pk: int, location_pk: int) -> str:
    result = stock_reserve(
        actor=User.objects.get(pk=agent_pk),
        case=Case.objects.get(pk=case_pk),
        part=Part.objects.get(pk=part_pk),
        location=Location.objects.get(pk=location_pk),
        quantity=1,
    )
    return "reserved" if result.reservation is not None else "backorder"


def _rank(backorder: Backorder) -> tuple[object, ...]:
    return (
        backorder.tier_rank,
        backorder.sla_due_at is None,
        backorder.sla_due_at,
        backorder.created_at,
        backorder.pk,
    )


def test_a_hundred_requests_for_ten_units_and_the_queue_that_follows(
    agent: User,
    warehouse_user: User,
    make_case: Callable[..., Case],
    part: Part,
    central: Location,
) -> None:
    tiers = ["vip"] * 15 + ["regular"] * 45 + ["low"] * 40
    random.Random(7).shuffle(tiers)
    cases = [make_case(tier) for tier in tiers]
    stock_receive(actor=warehouse_user, part=part, location=central, quantity=10)

    results = run_together(
        [code_of(lambda c=case: _reserve(agent.pk, c.pk, part.pk, central.pk)) for case in cases],
        workers=40,
    )

    assert Counter(results) == {"reserved": 10, "backorder": 90}
    balance = StockBalance.objects.get(part=part, location=central, kind="new")
    assert (balance.on_hand, balance.reserved) == (10, 10)
    assert Reservation.objects.filter(status="active").count() == 10
    assert StockMovement.objects.filter(kind="reserve").count() == 10
    assert Backorder.objects.filter(status="waiting").count() == 90
    assert CaseEvent.objects.filter(kind="parts").count() == 100

    # Ten more units go to the ten best-ranked backorders: every VIP before any regular
    # customer, every regular customer before any low-value one, then by SLA due time.
    stock_receive(actor=warehouse_user, part=part, location=central, quantity=10)
    queue = sorted(Backorder.objects.all(), key=_rank)
    assert [b.status for b in queue] == ["filled"] * 10 + ["waiting"] * 80
    filled_ranks = [b.tier_rank for b in queue[:10]]
    waiting_ranks = [b.tier_rank for b in queue[10:]]
    assert max(filled_ranks) <= min(waiting_ranks)
    vip_waiting_before = 15 - Reservation.objects.filter(backorder__isnull=True, tier="vip").count()
    assert filled_ranks.count(0) == min(10, vip_waiting_before)
    balance.refresh_from_db()
    assert (balance.on_hand, balance.reserved) == (20, 20)
    assert StockMovement.objects.filter(kind="reserve").count() == 20
    assert CaseEvent.objects.filter(kind="parts", data__action="backorder_filled").count() == 10


def test_two_issues_of_one_reservation_issue_it_once(
    agent: User, warehouse_user: User, regular_case: Case, part: Part, central: Location
) -> None:
    stock_receive(actor=warehouse_user, part=part, location=central, quantity=3)
    result = stock_reserve(actor=agent, case=regular_case, part=part, location=central, quantity=2)
    assert result.reservation is not None
    reservation_pk = result.reservation.pk

    def issue() -> str:
        return stock_issue(
            actor=User.objects.get(pk=agent.pk),
            reservation=Reservation.objects.get(pk=reservation_pk),
        ).kind

    assert sorted(run_together([code_of(issue), code_of(issue)])) == [
        "issue",
        "reservation_not_active",
    ]
    balance = StockBalance.objects.get(part=part, location=central, kind="new")
    assert (balance.on_hand, balance.reserved) == (1, 0)
    assert StockMovement.objects.filter(kind="issue").count() == 1


def test_shipping_and_reserving_the_last_units_at_once_never_oversells(
    agent: User,
    warehouse_user: User,
    regular_case: Case,
    part: Part,
    central: Location,
    regional: Location,
) -> None:
    def ship() -> str:
        return transfer_create(
            actor=User.objects.get(pk=warehouse_user.pk),
            source=Location.objects.get(pk=central.pk),
            destination=Location.objects.get(pk=regional.pk),
            lines=[(Part.objects.get(pk=part.pk), "new", 2)],
        ).status

    def reserve() -> str:
        result = stock_reserve(
            actor=User.objects.get(pk=agent.pk),
            case=Case.objects.get(pk=regular_case.pk),
            part=Part.objects.get(pk=part.pk),
            location=Location.objects.get(pk=central.pk),
            quantity=2,
            backorder=False,
        )
        assert result.reservation is not None
        return result.reservation.stock_kind

    for _round in range(5):
        stock_receive(actor=warehouse_user, part=part, location=central, quantity=2)
        results = run_together([code_of(ship), code_of(reserve)])
        assert results.count("insufficient_stock") == 1, results
        assert set(results) - {"insufficient_stock"} <= {"in_transit", "new"}
        balance = StockBalance.objects.get(part=part, location=central, kind="new")
        assert balance.reserved <= balance.on_hand
        # What remains is exactly what was reserved: nothing was given twice.
        assert balance.on_hand - balance.reserved == 0
    shipped = sum(
        StockBalance.objects.filter(part=part, location=regional).values_list(
            "in_transit", flat=True
        )
    )
    reserved = StockBalance.objects.get(part=part, location=central, kind="new").reserved
    assert shipped + reserved == 10


def test_the_database_refuses_to_rewrite_the_ledger(
    warehouse_user: User, part: Part, central: Location
) -> None:
    movement = stock_receive(actor=warehouse_user, part=part, location=central, quantity=4)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).update(quantity=40)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).delete()
    assert StockMovement.objects.get(pk=movement.pk).quantity == 4
