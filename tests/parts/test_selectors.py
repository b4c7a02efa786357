"""Stock reads: availability per location, and the monthly demand planning learns from."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.core import clock
from aftersales.parts.models import DemandHistory, Location, Part
from aftersales.parts.selectors import (
    demand_history,
    demand_matrix,
    demand_series,
    demand_weeks,
    part_availability,
    part_search,
)
from aftersales.parts.services import (
    part_create,
    part_supersede,
    stock_receive,
    stock_return,
    transfer_create,
)
from tests.parts.stock import issue

pytestmark = pytest.mark.django_db

END = dt.date(2026, 11, 15)  # the last complete month is October 2026


def local(*args: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(*args))


@pytest.fixture
def old_part(warehouse_user: User, part: Part) -> Part:
    """RL-90, replaced by RL-100 (the `part` fixture)."""
    old = part_create(
        actor=warehouse_user, number="RL-90", name_zh="旧继电器", name_en="Old relay",
        unit_cost=Decimal("100.00"),
    )  # fmt: skip
    part_supersede(actor=warehouse_user, part=old, by=part)
    return old


@pytest.fixture
def who(warehouse_user: User, agent: User) -> tuple[User, User]:
    return warehouse_user, agent


def test_demand_counts_superseded_parts_nets_returns_and_fills_empty_months(
    who: tuple[User, User],
    agent: User,
    regular_case: Case,
    part: Part,
    old_part: Part,
    central: Location,
    regional: Location,
) -> None:
    issue(who, regular_case, old_part, central, 3, local(2026, 7, 20, 10))
    # Half past midnight on 1 September, local time: September, although still August in UTC.
    issue(who, regular_case, part, central, 2, local(2026, 9, 1, 0, 30))
    returned = issue(who, regular_case, part, regional, 4, local(2026, 10, 5, 9))
    stock_return(actor=agent, reservation=returned, quantity=1, at=local(2026, 10, 20, 9))
    # Outside the window: this month (not complete) and before it.
    issue(who, regular_case, part, central, 7, local(2026, 11, 2, 9))
    issue(who, regular_case, part, central, 9, local(2026, 5, 30, 9))

    assert demand_history(part=part, months=4, end=END) == [
        (dt.date(2026, 7, 1), 3),
        (dt.date(2026, 8, 1), 0),
        (dt.date(2026, 9, 1), 2),
        (dt.date(2026, 10, 1), 3),
    ]
    # The old part's own history is only its own.
    assert [q for _m, q in demand_history(part=old_part, months=4, end=END)] == [3, 0, 0, 0]
    assert [q for _m, q in demand_history(part=part, location=regional, months=4, end=END)] == [
        0,
        0,
        0,
        3,
    ]


def test_weeks_run_monday_to_sunday_before_the_current_week() -> None:
    # 15 November 2026 is a Sunday: its week (from Monday 9 November) is not complete.
    assert demand_weeks(weeks=3, end=END) == [
        dt.date(2026, 10, 19),
        dt.date(2026, 10, 26),
        dt.date(2026, 11, 2),
    ]
    assert demand_weeks(weeks=1, end=dt.date(2026, 11, 16)) == [dt.date(2026, 11, 9)]


def test_weekly_demand_in_local_weeks_with_weeks_before_the_ledger_unknown(
    who: tuple[User, User],
    agent: User,
    regular_case: Case,
    part: Part,
    old_part: Part,
    central: Location,
    regional: Location,
) -> None:
    # Months before go-live were imported: they fill months, and cannot be split into weeks.
    DemandHistory.objects.create(
        part=part, month=dt.date(2026, 10, 1), quantity=40, imported_at=clock.now()
    )
    # The ledger's first movement: Wednesday 21 October.
    issue(who, regular_case, old_part, central, 2, local(2026, 10, 21, 9))
    returned = issue(who, regular_case, part, regional, 1, local(2026, 10, 27, 9))
    stock_return(actor=agent, reservation=returned, quantity=1, at=local(2026, 10, 28, 9))
    # Sunday 23:30 stays in its week; Monday 00:30 local (still Sunday in UTC) starts the next.
    issue(who, regular_case, part, central, 3, local(2026, 11, 1, 23, 30))
    issue(who, regular_case, part, central, 5, local(2026, 11, 2, 0, 30))
    issue(who, regular_case, part, central, 7, local(2026, 11, 9, 10))  # this week: not shown

    series = demand_series(part=part, bucket="week", periods=5, end=END)
    assert series.ledger_since == dt.date(2026, 10, 21)
    assert series.periods == [
        (dt.date(2026, 10, 5), None),  # before the ledger began: not known, not zero
        (dt.date(2026, 10, 12), None),
        (dt.date(2026, 10, 19), 2),  # the superseded part's issue counts for its successor
        (dt.date(2026, 10, 26), 3),  # 1 issued and returned, 3 on Sunday night
        (dt.date(2026, 11, 2), 5),
    ]
    at_regional = demand_series(part=part, bucket="week", periods=3, end=END, location=regional)
    assert [q for _w, q in at_regional.periods] == [0, 0, 0]
    # By month the imported October is not used: the ledger has October's issues.
    monthly = demand_series(part=part, bucket="month", periods=2, end=END)
    assert monthly.periods == [(dt.date(2026, 9, 1), 0), (dt.date(2026, 10, 1), 2)]
    assert monthly.periods == demand_history(part=part, months=2, end=END)


def test_weekly_demand_is_unknown_while_the_ledger_is_empty(part: Part) -> None:
    series = demand_series(part=part, bucket="week", end=END)
    assert series.ledger_since is None
    assert len(series.periods) == 26
    assert all(q is None for _w, q in series.periods)
    assert series.periods[-1][0] == dt.date(2026, 11, 2)


def test_imported_history_fills_months_the_ledger_has_nothing_for(
    who: tuple[User, User], regular_case: Case, part: Part, central: Location
) -> None:
    for month, quantity in ((dt.date(2026, 8, 1), 6), (dt.date(2026, 9, 1), 5)):
        DemandHistory.objects.create(
            part=part, month=month, quantity=quantity, imported_at=clock.now()
        )
    issue(who, regular_case, part, central, 1, local(2026, 9, 10, 9))
    assert [q for _m, q in demand_history(part=part, months=3, end=END)] == [6, 1, 0]


def test_demand_matrix_gives_every_parts_history_in_a_few_queries(
    who: tuple[User, User],
    regular_case: Case,
    part: Part,
    old_part: Part,
    repairable_part: Part,
    central: Location,
    django_assert_max_num_queries: Any,
) -> None:
    issue(who, regular_case, old_part, central, 3, local(2026, 8, 3, 9))
    issue(who, regular_case, part, central, 1, local(2026, 10, 3, 9))
    issue(who, regular_case, repairable_part, central, 2, local(2026, 9, 3, 9))
    parts = [part, old_part, repairable_part]
    with django_assert_max_num_queries(3):
        matrix = demand_matrix(parts=parts, months=3, end=END)
    assert matrix == {
        part.pk: [3, 0, 1],
        old_part.pk: [3, 0, 0],
        repairable_part.pk: [0, 2, 0],
    }
    for p in parts:
        assert [q for _m, q in demand_history(part=p, months=3, end=END)] == matrix[p.pk]


def test_availability_and_search_show_stock_per_location_and_in_total(
    warehouse_user: User, part: Part, central: Location, regional: Location
) -> None:
    stock_receive(actor=warehouse_user, part=part, location=central, quantity=6)
    stock_receive(actor=warehouse_user, part=part, location=central, quantity=1, kind="loan")
    transfer_create(
        actor=warehouse_user, source=central, destination=regional, lines=[(part, "new", 2)]
    )
    rows = part_availability(part)
    assert [
        (r["location"], r["kind"], r["on_hand"], r["reserved"], r["available"], r["in_transit"])
        for r in rows
    ] == [
        ("CW", "loan", 1, 0, 1, 0),
        ("CW", "new", 4, 0, 4, 0),
        ("RW-GD", "new", 0, 0, 0, 2),
    ]
    assert rows[0]["location_name"] == "Central warehouse"
    found = part_search(q="relay").get()
    assert (found.stock_on_hand, found.stock_available, found.stock_in_transit) == (5, 5, 2)
    assert not part_search(q="relay", critical=True).exists()
