"""The spare-parts demo (`parts.demo`) inside a small demo seed, through the real services."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from aftersales.cases.models import CaseEvent
from aftersales.core import clock
from aftersales.customers.models import Tier
from aftersales.parts.demo import PartsDemo
from aftersales.parts.models import (
    TIER_RANK,
    Backorder,
    CycleCount,
    DemandHistory,
    Part,
    PurchaseOrder,
    Reservation,
    SbcClass,
    StockBalance,
    StockMovement,
    Transfer,
)
from aftersales.parts.selectors import demand_history
from aftersales.web import demo

# A fixed day, so the small base (and which of its cases are open) is the same every run.
NOW = dt.datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def parts_demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[PartsDemo]:
    """Seed a small demo once for the module, inside a transaction rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic(), clock.frozen_at(NOW):
        report = demo.seed_demo(cases=90, customers=60, show_progress=False, now=NOW)
        assert report.parts is not None
        yield report.parts
        transaction.set_rollback(True)


def test_every_balance_is_the_sum_of_its_ledger(parts_demo: PartsDemo) -> None:
    sums = {
        (row["part_id"], row["location_id"], row["stock_kind"]): row
        for row in StockMovement.objects.values("part_id", "location_id", "stock_kind").annotate(
            on_hand=Sum("quantity"),
            reserved=Sum("reserved_change"),
            in_transit=Sum("in_transit_change"),
        )
    }
    balances = list(StockBalance.objects.all())
    assert len(balances) > 300
    for b in balances:
        ledger = sums.get((b.part_id, b.location_id, b.kind))
        totals = (
            (0, 0, 0)
            if ledger is None
            else (ledger["on_hand"], ledger["reserved"], ledger["in_transit"])
        )
        assert (b.on_hand, b.reserved, b.in_transit) == totals, b
        assert b.on_hand >= 0 and 0 <= b.reserved <= b.on_hand and b.in_transit >= 0, b


def test_the_ledger_reads_in_time_order(parts_demo: PartsDemo) -> None:
    """Each stock's movements, by time, add up to the balance shown after each of them."""
    running: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for m in StockMovement.objects.order_by("occurred_at", "pk"):
        state = running[(m.part_id, m.location_id, m.stock_kind)]
        state[0] += m.quantity
        state[1] += m.reserved_change
        state[2] += m.in_transit_change
        assert state == [m.on_hand_after, m.reserved_after, m.in_transit_after], m


def test_repairs_use_parts_while_their_cases_are_open(parts_demo: PartsDemo) -> None:
    issues = StockMovement.objects.filter(kind=StockMovement.Kind.ISSUE).select_related("case")
    assert parts_demo.issues == issues.count() >= 15
    go_live = min(m.occurred_at for m in issues)
    for issue in issues:
        assert issue.case is not None and issue.reservation_id is not None
        resolved = (
            CaseEvent.objects.filter(case=issue.case, to_status="resolved")
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        assert resolved is not None and issue.occurred_at < resolved <= NOW
    # The imported history ends before the month of the ledger's first issue.
    last_imported = DemandHistory.objects.order_by("-month").values_list("month", flat=True)[0]
    assert last_imported < timezone.localdate(go_live).replace(day=1) <= clock.today()
    assert DemandHistory.objects.filter(location__isnull=False).exists()
    assert DemandHistory.objects.filter(location__isnull=True).exists()


def test_superseded_parts_history_counts_for_the_new_part(parts_demo: PartsDemo) -> None:
    old = Part.objects.filter(superseded_by__isnull=False).select_related("superseded_by")
    assert old.count() == 3
    old_demand = 0
    for part in old:
        own = sum(q for _m, q in demand_history(part=part, months=36))
        months = demand_history(part=part.superseded_by, months=36)
        imported_new = DemandHistory.objects.filter(
            part=part.superseded_by, month__gte=months[0][0]
        ).aggregate(n=Sum("quantity"))["n"]
        assert sum(q for _m, q in months) >= own + (imported_new or 0)
        old_demand += own
    assert old_demand > 0


def test_the_scarce_part_serves_the_vip_first(parts_demo: PartsDemo) -> None:
    part = Part.objects.get(number=parts_demo.scarce_part)
    assert part.is_critical
    queue = list(Backorder.objects.filter(part=part, status=Backorder.Status.WAITING))
    assert len(queue) >= 2
    ranks = [TIER_RANK[Tier(b.tier)] for b in queue]
    assert queue[0].tier == Tier.VIP and ranks == sorted(ranks) and ranks[-1] > 0
    # The VIP asked last and is still served first.
    assert queue[0].created_at > max(b.created_at for b in queue[1:])
    location_stock = StockBalance.objects.filter(part=part, location=queue[0].location)
    assert all(b.available == 0 for b in location_stock)


def test_open_cases_hold_reservations_and_stock_moves(parts_demo: PartsDemo) -> None:
    active = Reservation.objects.filter(status=Reservation.Status.ACTIVE)
    assert active.count() == parts_demo.open_reservations >= 1
    assert all(r.case.is_open and r.expires_at > NOW for r in active.select_related("case"))
    assert Transfer.objects.filter(status=Transfer.Status.IN_TRANSIT).exists()
    assert Transfer.objects.filter(status=Transfer.Status.RECEIVED).exists()
    count = CycleCount.objects.get(status=CycleCount.Status.OPEN)
    counted = [line.counted for line in count.lines.all()]
    assert any(c is None for c in counted) and any(c is not None for c in counted)
    kinds = set(StockMovement.objects.values_list("kind", flat=True))
    assert {"defective_in", "defective_out", "refurbish", "transfer_in"} <= kinds


def test_planning_leaves_work_for_the_warehouse(parts_demo: PartsDemo) -> None:
    drafts = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.DRAFT)
    assert drafts.exists() and all(o.lines.exists() for o in drafts)
    assert Transfer.objects.filter(status=Transfer.Status.SUGGESTED).exists()
    assert parts_demo.draft_orders == drafts.count()
    classes = set(
        Part.objects.filter(superseded_by__isnull=True).values_list("sbc_class", flat=True)
    )
    assert {SbcClass.INTERMITTENT, SbcClass.LUMPY} <= classes


def test_the_walkthrough_visits_the_parts_pages(parts_demo: PartsDemo) -> None:
    paths = [stop.path for stop in demo.demo_tour()]
    assert f"parts/{parts_demo.scarce_part}/" in paths
    assert {"parts/replenishment/", "parts/classification/", "parts/service-curve/"} <= set(paths)
