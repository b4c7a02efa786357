"""Stock services: every change of a balance has its ledger row, its case event or audit row;
every refusal changes nothing."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.parts.models import (
    Backorder,
    CycleCount,
    Location,
    Part,
    Reservation,
    StockBalance,
    StockMovement,
    Supplier,
    Transfer,
)
from aftersales.parts.services import (
    backorder_cancel,
    count_open,
    count_post,
    count_record,
    location_create,
    part_create,
    part_supersede,
    reservation_release,
    reservations_expire,
    stock_adjust,
    stock_defective_in,
    stock_defective_return,
    stock_issue,
    stock_receive,
    stock_refurbish,
    stock_reserve,
    stock_return,
    stock_scrap,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)
from aftersales.sla.models import SlaClock

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    """Everything a stock service may write."""
    return (
        StockMovement.objects.count(),
        list(
            StockBalance.objects.order_by("pk").values_list(
                "pk", "on_hand", "reserved", "in_transit"
            )
        ),
        list(Reservation.objects.order_by("pk").values_list("pk", "status", "issued_quantity")),
        list(Backorder.objects.order_by("pk").values_list("pk", "status")),
        Transfer.objects.count(),
        CaseEvent.objects.filter(kind="parts").count(),
        AuditEvent.objects.filter(action__startswith="parts.").count(),
    )


def refused(code: str, call: Callable[[], object]) -> ApplicationError:
    """The call is refused with `code` and nothing is written."""
    before = _state()
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.code == code
    assert _state() == before
    return caught.value


def parts_events(case: Case) -> list[dict[str, Any]]:
    return list(
        CaseEvent.objects.filter(case=case, kind="parts")
        .order_by("pk")
        .values_list("data", flat=True)
    )


def ledger(**filters: Any) -> list[tuple[Any, ...]]:
    return list(
        StockMovement.objects.filter(**filters)
        .order_by("pk")
        .values_list(
            "kind", "stock_kind", "quantity", "reserved_change", "in_transit_change",
            "on_hand_after", "reserved_after", "in_transit_after",
        )
    )  # fmt: skip


def bal(part: Part, location: Location, kind: str = "new") -> tuple[int, int, int]:
    row = StockBalance.objects.filter(part=part, location=location, kind=kind).first()
    return (0, 0, 0) if row is None else (row.on_hand, row.reserved, row.in_transit)


@pytest.fixture
def receive(warehouse_user: User, part: Part, central: Location) -> Callable[..., StockMovement]:
    def call(quantity: int, kind: str = "new", **kw: Any) -> StockMovement:
        kw.setdefault("part", part)
        kw.setdefault("location", central)
        return stock_receive(actor=warehouse_user, quantity=quantity, kind=kind, **kw)

    return call


@pytest.fixture
def reserve(agent: User, part: Part, central: Location) -> Callable[..., Any]:
    def call(case: Case, quantity: int = 1, **kw: Any) -> Any:
        kw.setdefault("part", part)
        kw.setdefault("location", central)
        return stock_reserve(actor=agent, case=case, quantity=quantity, **kw)

    return call


# --- catalogue ------------------------------------------------------------------------------


def test_part_numbers_are_unique_and_only_warehouse_staff_add_parts(
    warehouse_user: User, agent: User, part: Part
) -> None:
    assert part.number == "RL-100" and part.unit_cost == Decimal("120.00")
    with pytest.raises(ApplicationError) as caught:
        part_create(
            actor=warehouse_user, number="rl-100", name_zh="x", name_en="x", unit_cost=Decimal(1)
        )
    assert caught.value.code == "duplicate_part" and caught.value.status_code == 409
    with pytest.raises(PermissionDenied):
        part_create(actor=agent, number="X-1", name_zh="x", name_en="x", unit_cost=Decimal(1))
    assert Part.objects.count() == 1
    assert AuditEvent.objects.filter(action="parts.part_create", entity_id=part.pk).exists()


def test_supersession_refuses_itself_and_cycles(
    warehouse_user: User, part: Part, repairable_part: Part
) -> None:
    newer = part_create(
        actor=warehouse_user, number="RL-200", name_zh="x", name_en="x", unit_cost=Decimal(1)
    )
    part_supersede(actor=warehouse_user, part=part, by=repairable_part)
    part_supersede(actor=warehouse_user, part=repairable_part, by=newer)
    for old, by in ((newer, newer), (newer, part), (repairable_part, part)):
        with pytest.raises(ApplicationError) as caught:
            part_supersede(actor=warehouse_user, part=old, by=by)
        assert caught.value.code == "supersession_cycle"
    assert Part.objects.get(pk=newer.pk).superseded_by_id is None
    assert Part.objects.get(pk=part.pk).superseded_by_id == repairable_part.pk


def test_location_codes_are_unique(warehouse_user: User, central: Location) -> None:
    with pytest.raises(ApplicationError) as caught:
        location_create(actor=warehouse_user, code="cw", name="Again", kind="central")
    assert caught.value.code == "duplicate_location"
    with pytest.raises(ApplicationError) as caught:
        location_create(actor=warehouse_user, code="X", name="X", kind="moon")
    assert caught.value.code == "invalid_location_kind"


# --- receipts -------------------------------------------------------------------------------


def test_receipt_books_stock_at_the_parts_cost_unless_given(
    receive: Callable[..., StockMovement], part: Part, central: Location, supplier: Supplier
) -> None:
    first = receive(5)
    second = receive(3, unit_cost=Decimal("99.50"), supplier=supplier, note="PO 7")
    assert bal(part, central) == (8, 0, 0)
    assert ledger() == [
        ("receipt", "new", 5, 0, 0, 5, 0, 0),
        ("receipt", "new", 3, 0, 0, 8, 0, 0),
    ]
    assert first.unit_cost == Decimal("120.00") and second.unit_cost == Decimal("99.50")
    assert second.supplier == supplier and second.note == "PO 7"
    assert AuditEvent.objects.filter(action="parts.receive").count() == 2


@pytest.mark.parametrize(
    ("quantity", "kind", "code"),
    [
        (0, "new", "invalid_quantity"),
        (-2, "new", "invalid_quantity"),
        ("3", "new", "invalid_quantity"),
        (True, "new", "invalid_quantity"),
        (2, "bogus", "invalid_kind"),
        (2, "defective", "invalid_kind"),
    ],
)
def test_bad_receipts_change_nothing(
    receive: Callable[..., StockMovement], quantity: Any, kind: str, code: str
) -> None:
    receive(2)
    refused(code, lambda: receive(quantity, kind))


def test_only_stock_staff_receive(agent: User, part: Part, central: Location) -> None:
    with pytest.raises(PermissionDenied):
        stock_receive(actor=agent, part=part, location=central, quantity=1)
    assert not StockMovement.objects.exists()


# --- reservations ---------------------------------------------------------------------------


def test_reservation_holds_stock_for_the_case_until_it_expires(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(5)
    at = clock.now()
    result = reserve(regular_case, 2, at=at)
    reservation = result.reservation
    assert result.backorder is None
    assert reservation.status == "active" and reservation.stock_kind == "new"
    assert reservation.tier == "regular" and reservation.quantity == 2
    assert reservation.expires_at == at + dt.timedelta(hours=48)
    assert bal(part, central) == (5, 2, 0)
    assert ledger(kind="reserve") == [("reserve", "new", 0, 2, 0, 5, 2, 0)]
    movement = StockMovement.objects.get(kind="reserve")
    assert movement.case == regular_case and movement.reservation == reservation
    assert parts_events(regular_case) == [
        {
            "action": "reserve",
            "part": "RL-100",
            "quantity": 2,
            "location": "CW",
            "kind": "new",
            "reservation": reservation.pk,
        }
    ]
    assert AuditEvent.objects.filter(action="case.parts", entity_id=regular_case.pk).exists()


@pytest.mark.parametrize(
    ("quantity", "kinds", "code"),
    [
        (0, None, "invalid_quantity"),
        (-1, None, "invalid_quantity"),
        (1, ["defective"], "invalid_kind"),
        (1, ["gold"], "invalid_kind"),
        (1, [], "invalid_kind"),
    ],
)
def test_bad_reservations_change_nothing(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    quantity: int,
    kinds: Any,
    code: str,
) -> None:
    receive(3)
    refused(code, lambda: reserve(regular_case, quantity, kinds=kinds))


def test_parts_are_reserved_for_open_cases_only(
    receive: Callable[..., StockMovement], reserve: Callable[..., Any], regular_case: Case
) -> None:
    receive(3)
    Case.objects.filter(pk=regular_case.pk).update(status="closed")  # test setup
    error = refused("case_not_open", lambda: reserve(regular_case))
    assert error.status_code == 409


def test_short_stock_without_backorder_is_refused_and_writes_nothing(
    receive: Callable[..., StockMovement], reserve: Callable[..., Any], regular_case: Case
) -> None:
    receive(1)
    error = refused("insufficient_stock", lambda: reserve(regular_case, 2, backorder=False))
    assert error.status_code == 409 and error.details["available"] == 1


def test_short_stock_queues_a_backorder_ranked_by_tier_and_sla(
    reserve: Callable[..., Any], vip_case: Case
) -> None:
    result = reserve(vip_case, 2)
    backorder = result.backorder
    assert result.reservation is None
    earliest = (
        SlaClock.objects.filter(case=vip_case, state="running")
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    assert earliest is not None
    assert (backorder.status, backorder.tier, backorder.tier_rank) == ("waiting", "vip", 0)
    assert backorder.sla_due_at == earliest and backorder.kinds == ["new"]
    assert not StockMovement.objects.exists()
    assert parts_events(vip_case) == [
        {
            "action": "backorder",
            "part": "RL-100",
            "quantity": 2,
            "location": "CW",
            "kind": None,
            "backorder": backorder.pk,
        }
    ]


# --- which stock kind a tier gets -----------------------------------------------------------


def test_low_value_customer_gets_refurbished_stock_when_there_is_some(
    receive: Callable[..., StockMovement], reserve: Callable[..., Any], low_case: Case
) -> None:
    receive(5)
    receive(1, "refurbished")
    assert reserve(low_case).reservation.stock_kind == "refurbished"
    # None left: loan, then new.
    assert reserve(low_case).reservation.stock_kind == "new"


def test_vip_never_gets_refurbished_stock(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    vip_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(5, "refurbished")
    result = reserve(vip_case)
    assert result.reservation is None and result.backorder.kinds == ["new"]
    assert bal(part, central, "refurbished") == (5, 0, 0)


def test_regular_customer_falls_back_to_refurbished_only_when_new_is_short(
    receive: Callable[..., StockMovement], reserve: Callable[..., Any], regular_case: Case
) -> None:
    receive(2)
    receive(5, "refurbished")
    assert reserve(regular_case, 2).reservation.stock_kind == "new"
    assert reserve(regular_case, 1).reservation.stock_kind == "refurbished"


# --- backorders -----------------------------------------------------------------------------


def _due(case: Case, due: dt.datetime) -> None:
    """Test setup: the case's running clocks fall due at `due`."""
    SlaClock.objects.filter(case=case, state="running").update(due_at=due)


def test_receipt_fills_backorders_vip_then_earlier_sla_then_low(
    make_case: Callable[..., Case],
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    part: Part,
    central: Location,
) -> None:
    now = clock.now()
    low, late, early, vip = (make_case(t) for t in ("low", "regular", "regular", "vip"))
    _due(late, now + dt.timedelta(hours=8))
    _due(early, now + dt.timedelta(hours=2))
    # Requested in the worst order: the low-value customer first, the VIP last.
    queued = {case: reserve(case).backorder for case in (low, late, early, vip)}
    receive(3)
    for backorder in queued.values():
        backorder.refresh_from_db()
    assert [queued[c].status for c in (vip, early, late, low)] == [
        "filled",
        "filled",
        "filled",
        "waiting",
    ]
    filled = Reservation.objects.filter(backorder__isnull=False).order_by("pk")
    assert [r.case for r in filled] == [vip, early, late]
    assert bal(part, central) == (3, 3, 0)
    assert ledger() == [
        ("receipt", "new", 3, 0, 0, 3, 0, 0),
        ("reserve", "new", 0, 1, 0, 3, 1, 0),
        ("reserve", "new", 0, 1, 0, 3, 2, 0),
        ("reserve", "new", 0, 1, 0, 3, 3, 0),
    ]
    assert parts_events(vip)[-1] == {
        "action": "backorder_filled",
        "part": "RL-100",
        "quantity": 1,
        "location": "CW",
        "kind": "new",
        "reservation": filled[0].pk,
        "backorder": queued[vip].pk,
    }
    receive(1)
    queued[low].refresh_from_db()
    assert queued[low].status == "filled" and queued[low].reservation.stock_kind == "new"


def test_a_request_never_jumps_a_backorder_ranked_ahead(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    vip_case: Case,
    regular_case: Case,
) -> None:
    receive(2)
    waiting = reserve(vip_case, 3).backorder
    # Two are available, but the VIP waiting for three comes first.
    assert reserve(regular_case, 1).backorder is not None
    refused("insufficient_stock", lambda: reserve(regular_case, 1, backorder=False))
    receive(1)
    waiting.refresh_from_db()
    assert waiting.status == "filled"


def test_a_backorder_that_cannot_be_filled_holds_back_smaller_ones_behind_it(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    vip_case: Case,
    regular_case: Case,
) -> None:
    vip = reserve(vip_case, 3).backorder
    regular = reserve(regular_case, 1).backorder
    receive(2)
    vip.refresh_from_db()
    regular.refresh_from_db()
    # Strict priority: the regular customer's one unit would fit, but the VIP is first in line.
    assert (vip.status, regular.status) == ("waiting", "waiting")
    receive(1)
    vip.refresh_from_db()
    regular.refresh_from_db()
    assert (vip.status, regular.status) == ("filled", "waiting")
    receive(1)
    regular.refresh_from_db()
    assert regular.status == "filled"


def test_refurbished_stock_goes_to_those_who_take_it_while_a_vip_waits_for_new(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    vip_case: Case,
    low_case: Case,
) -> None:
    vip = reserve(vip_case, 2).backorder
    low = reserve(low_case, 1).backorder
    receive(1, "refurbished")
    vip.refresh_from_db()
    low.refresh_from_db()
    assert (vip.status, low.status) == ("waiting", "filled")
    assert low.reservation.stock_kind == "refurbished"


def test_expiry_frees_stock_for_the_next_backorder(
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    vip_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(1)
    held = reserve(regular_case).reservation
    waiting = reserve(vip_case).backorder
    assert reservations_expire(at=held.expires_at - dt.timedelta(minutes=1)) == 0
    assert reservations_expire(at=held.expires_at) == 1
    held.refresh_from_db()
    waiting.refresh_from_db()
    assert held.status == "expired" and waiting.status == "filled"
    assert waiting.reservation.case == vip_case
    assert bal(part, central) == (1, 1, 0)
    assert ledger()[-2:] == [
        ("expire", "new", 0, -1, 0, 1, 0, 0),
        ("reserve", "new", 0, 1, 0, 1, 1, 0),
    ]
    assert parts_events(regular_case)[-1]["action"] == "expire"
    assert parts_events(vip_case)[-1]["action"] == "backorder_filled"
    # The VIP's reservation runs from the moment it was filled.
    assert waiting.reservation.expires_at == held.expires_at + dt.timedelta(hours=48)
    assert reservations_expire(at=held.expires_at + dt.timedelta(hours=1)) == 0


def test_release_gives_stock_back_once(
    agent: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    low_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(2)
    reservation = reserve(regular_case, 2).reservation
    waiting = reserve(low_case, 1).backorder
    reservation_release(actor=agent, reservation=reservation)
    reservation.refresh_from_db()
    waiting.refresh_from_db()
    assert reservation.status == "released" and reservation.closed_at is not None
    assert waiting.status == "filled"
    assert bal(part, central) == (2, 1, 0)
    assert [e["action"] for e in parts_events(regular_case)] == ["reserve", "release"]
    refused(
        "reservation_not_active",
        lambda: reservation_release(actor=agent, reservation=reservation),
    )


def test_cancelled_backorder_lets_the_ones_behind_it_through(
    agent: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    vip_case: Case,
    regular_case: Case,
) -> None:
    receive(1)
    vip = reserve(vip_case, 2).backorder
    regular = reserve(regular_case, 1).backorder
    backorder_cancel(actor=agent, backorder=vip)
    vip.refresh_from_db()
    regular.refresh_from_db()
    assert (vip.status, regular.status) == ("cancelled", "filled")
    assert parts_events(vip_case)[-1]["action"] == "backorder_cancelled"
    refused("backorder_not_waiting", lambda: backorder_cancel(actor=agent, backorder=vip))


# --- issues and returns ---------------------------------------------------------------------


def test_issue_takes_reserved_stock_out_in_parts(
    agent: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(5)
    reservation = reserve(regular_case, 3).reservation
    first = stock_issue(actor=agent, reservation=reservation, quantity=2)
    reservation.refresh_from_db()
    assert (reservation.status, reservation.issued_quantity) == ("active", 2)
    stock_issue(actor=agent, reservation=reservation)
    reservation.refresh_from_db()
    assert (reservation.status, reservation.issued_quantity) == ("issued", 3)
    assert bal(part, central) == (2, 0, 0)
    assert ledger(kind="issue") == [
        ("issue", "new", -2, -2, 0, 3, 1, 0),
        ("issue", "new", -1, -1, 0, 2, 0, 0),
    ]
    assert first.case == regular_case and first.reservation == reservation
    assert [e["action"] for e in parts_events(regular_case)] == ["reserve", "issue", "issue"]
    refused("reservation_not_active", lambda: stock_issue(actor=agent, reservation=reservation))


def test_issue_refusals_change_nothing(
    agent: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
) -> None:
    receive(5)
    reservation = reserve(regular_case, 2).reservation
    refused(
        "exceeds_reservation",
        lambda: stock_issue(actor=agent, reservation=reservation, quantity=3),
    )
    refused(
        "invalid_quantity", lambda: stock_issue(actor=agent, reservation=reservation, quantity=0)
    )
    reservation_release(actor=agent, reservation=reservation)
    refused(
        "reservation_not_active",
        lambda: stock_issue(actor=agent, reservation=reservation, quantity=1),
    )


def test_unused_parts_come_back_and_serve_the_queue(
    agent: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    vip_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(2)
    reservation = reserve(regular_case, 2).reservation
    stock_issue(actor=agent, reservation=reservation)
    waiting = reserve(vip_case, 1).backorder
    refused(
        "exceeds_issued", lambda: stock_return(actor=agent, reservation=reservation, quantity=3)
    )
    movement = stock_return(actor=agent, reservation=reservation, quantity=1)
    assert (movement.kind, movement.quantity, movement.case) == ("return", 1, regular_case)
    reservation.refresh_from_db()
    waiting.refresh_from_db()
    assert reservation.returned_quantity == 1 and waiting.status == "filled"
    assert bal(part, central) == (1, 1, 0)
    refused(
        "exceeds_issued", lambda: stock_return(actor=agent, reservation=reservation, quantity=2)
    )


# --- transfers ------------------------------------------------------------------------------


def test_transfer_ships_into_transit_and_is_received_short(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    part: Part,
    central: Location,
    regional: Location,
) -> None:
    receive(10)
    transfer = transfer_create(
        actor=warehouse_user, source=central, destination=regional, lines=[(part, "new", 4)]
    )
    assert transfer.status == "in_transit" and transfer.number.startswith("TR")
    assert bal(part, central) == (6, 0, 0) and bal(part, regional) == (0, 0, 4)
    assert ledger(transfer=transfer) == [
        ("transfer_out", "new", -4, 0, 0, 6, 0, 0),
        ("transfer_out", "new", 0, 0, 4, 0, 0, 4),
    ]
    line = transfer.lines.get()
    transfer_receive(actor=warehouse_user, transfer=transfer, received={line.pk: 3})
    transfer.refresh_from_db()
    line.refresh_from_db()
    assert transfer.status == "received" and line.received_quantity == 3
    assert bal(part, regional) == (3, 0, 0)
    arrived = StockMovement.objects.get(kind="transfer_in")
    assert (arrived.quantity, arrived.in_transit_change, arrived.reason) == (
        3,
        -4,
        "short_received",
    )
    assert AuditEvent.objects.filter(action="parts.transfer_ship", entity_id=transfer.pk).exists()
    receipt = AuditEvent.objects.get(action="parts.transfer_receive", entity_id=transfer.pk)
    assert receipt.data["short"] == [{"part": "RL-100", "shipped": 4, "received": 3}]
    refused(
        "invalid_transfer_state",
        lambda: transfer_receive(actor=warehouse_user, transfer=transfer),
    )


def test_transfer_refusals_change_nothing(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
    regional: Location,
) -> None:
    receive(3)
    reserve(regular_case, 2)

    def make(source: Location, quantity: int, kind: str = "new") -> Callable[[], Transfer]:
        return lambda: transfer_create(
            actor=warehouse_user,
            source=source,
            destination=regional,
            lines=[(part, kind, quantity)],
        )

    error = refused("same_location", make(regional, 1))
    assert error.status_code == 400
    refused("insufficient_stock", make(central, 2))  # two of the three are reserved
    refused("invalid_quantity", make(central, 0))
    refused("invalid_kind", make(central, 1, "defective"))
    refused(
        "invalid_transfer",
        lambda: transfer_create(
            actor=warehouse_user, source=central, destination=regional, lines=[]
        ),
    )


def test_unshipped_transfer_is_shipped_later_or_cancelled(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    part: Part,
    central: Location,
    regional: Location,
) -> None:
    receive(3)
    planned = transfer_create(
        actor=warehouse_user,
        source=central,
        destination=regional,
        lines=[(part, "new", 2)],
        ship=False,
    )
    assert planned.status == "suggested" and not StockMovement.objects.filter(transfer=planned)
    transfer_ship(actor=warehouse_user, transfer=planned)
    assert bal(part, central) == (1, 0, 0) and bal(part, regional) == (0, 0, 2)
    refused("invalid_transfer_state", lambda: transfer_ship(actor=warehouse_user, transfer=planned))
    refused(
        "invalid_transfer_state", lambda: transfer_cancel(actor=warehouse_user, transfer=planned)
    )
    other = transfer_create(
        actor=None,
        source=central,
        destination=regional,
        lines=[(part, "new", 1)],
        suggested=True,
    )
    assert transfer_cancel(actor=warehouse_user, transfer=other).status == "cancelled"


def test_transfer_receipt_serves_backorders_at_the_destination(
    warehouse_user: User,
    make_case: Callable[..., Case],
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    part: Part,
    central: Location,
    regional: Location,
) -> None:
    receive(2)
    case = make_case("regular")
    waiting = reserve(case, 2, location=regional).backorder
    transfer = transfer_create(
        actor=warehouse_user, source=central, destination=regional, lines=[(part, "new", 2)]
    )
    transfer_receive(actor=warehouse_user, transfer=transfer)
    waiting.refresh_from_db()
    assert waiting.status == "filled" and waiting.reservation.location == regional
    assert bal(part, regional) == (2, 2, 0)


# --- adjustments, scrap, defective parts ----------------------------------------------------


def test_adjustments_are_signed_with_a_reason_and_never_below_reserved(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(5)
    reserve(regular_case, 3)

    def adjust(quantity: Any, reason: str = "lost") -> StockMovement:
        return stock_adjust(
            actor=warehouse_user,
            part=part,
            location=central,
            kind="new",
            quantity=quantity,
            reason=reason,
        )

    movement = adjust(-2)
    assert (movement.kind, movement.quantity, movement.reason) == ("adjustment", -2, "lost")
    assert bal(part, central) == (3, 3, 0)
    error = refused("below_reserved", lambda: adjust(-1))
    assert error.status_code == 409
    refused("invalid_quantity", lambda: adjust(0))
    refused("invalid_reason", lambda: adjust(1, "magic"))
    adjust(1, "found")
    assert bal(part, central) == (4, 3, 0)
    assert AuditEvent.objects.filter(action="parts.adjust").count() == 2


def test_scrap_takes_only_unreserved_stock(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(4)
    reserve(regular_case, 3)

    def scrap(quantity: int) -> StockMovement:
        return stock_scrap(
            actor=warehouse_user,
            part=part,
            location=central,
            kind="new",
            quantity=quantity,
            note="water damage",
        )

    refused("insufficient_stock", lambda: scrap(2))
    refused("invalid_quantity", lambda: scrap(-1))
    movement = scrap(1)
    assert (movement.kind, movement.quantity, movement.note) == ("scrap", -1, "water damage")
    assert bal(part, central) == (3, 3, 0)
    assert AuditEvent.objects.filter(action="parts.scrap", entity_id=part.pk).count() == 1


def test_defective_parts_go_back_to_the_supplier_or_are_refurbished(
    warehouse_user: User,
    reserve: Callable[..., Any],
    repairable_part: Part,
    part: Part,
    central: Location,
    supplier: Supplier,
    regular_case: Case,
    low_case: Case,
) -> None:
    stock_defective_in(
        actor=warehouse_user, part=repairable_part, location=central, quantity=3, case=regular_case
    )
    assert bal(repairable_part, central, "defective") == (3, 0, 0)
    assert parts_events(regular_case)[-1]["action"] == "defective_in"

    def back(quantity: int, to: Part = repairable_part) -> StockMovement:
        return stock_defective_return(
            actor=warehouse_user, part=to, location=central, quantity=quantity, supplier=supplier
        )

    def refurbish(quantity: int, what: Part = repairable_part) -> StockMovement:
        return stock_refurbish(actor=warehouse_user, part=what, location=central, quantity=quantity)

    refused("insufficient_defective", lambda: back(4))
    refused("insufficient_defective", lambda: back(1, part))
    refused("not_repairable", lambda: refurbish(1, part))
    refused("insufficient_defective", lambda: refurbish(4))
    refused("invalid_quantity", lambda: back(0))
    out = back(1)
    assert (out.kind, out.quantity, out.supplier) == ("defective_out", -1, supplier)
    waiting = reserve(low_case, 1, part=repairable_part).backorder
    refurbish(2)
    assert bal(repairable_part, central, "defective") == (0, 0, 0)
    assert bal(repairable_part, central, "refurbished") == (2, 1, 0)
    assert ledger(kind="refurbish") == [
        ("refurbish", "defective", -2, 0, 0, 0, 0, 0),
        ("refurbish", "refurbished", 2, 0, 0, 2, 0, 0),
    ]
    waiting.refresh_from_db()
    assert waiting.status == "filled" and waiting.reservation.stock_kind == "refurbished"
    assert AuditEvent.objects.filter(action="parts.defective_return").count() == 1


# --- cycle counts ---------------------------------------------------------------------------


def test_count_books_the_differences_found(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    part: Part,
    repairable_part: Part,
    central: Location,
) -> None:
    receive(5)
    receive(2, part=repairable_part)
    count = count_open(actor=warehouse_user, location=central)
    assert count.number.startswith("CC") and count.status == "open"
    lines = {line.part_id: line for line in count.lines.all()}
    assert {p: line.expected for p, line in lines.items()} == {part.pk: 5, repairable_part.pk: 2}
    count_record(actor=warehouse_user, line=lines[part.pk], counted=4)
    refused("count_incomplete", lambda: count_post(actor=warehouse_user, count=count))
    count_record(actor=warehouse_user, line=lines[repairable_part.pk], counted=2)
    receive(1)  # arrives while counting: the variance is still counted against the opening
    movements = count_post(actor=warehouse_user, count=count)
    assert [(m.part_id, m.quantity, m.reason) for m in movements] == [(part.pk, -1, "cycle_count")]
    assert bal(part, central) == (5, 0, 0) and bal(repairable_part, central) == (2, 0, 0)
    count.refresh_from_db()
    assert count.status == "posted" and movements[0].count == count
    assert AuditEvent.objects.filter(action="parts.count_post", entity_id=count.pk).exists()
    refused("count_not_open", lambda: count_post(actor=warehouse_user, count=count))
    refused(
        "count_not_open",
        lambda: count_record(actor=warehouse_user, line=lines[part.pk], counted=1),
    )


def test_count_cannot_leave_less_than_is_reserved(
    warehouse_user: User,
    receive: Callable[..., StockMovement],
    reserve: Callable[..., Any],
    regular_case: Case,
    part: Part,
    central: Location,
) -> None:
    receive(3)
    reserve(regular_case, 3)
    count = count_open(actor=warehouse_user, location=central, parts=[part])
    line = count.lines.get()
    with pytest.raises(ApplicationError) as caught:
        count_record(actor=warehouse_user, line=line, counted=-1)
    assert caught.value.code == "invalid_quantity"
    count_record(actor=warehouse_user, line=line, counted=2)
    refused("below_reserved", lambda: count_post(actor=warehouse_user, count=count))
    assert CycleCount.objects.get(pk=count.pk).status == "open"


# --- the ledger -----------------------------------------------------------------------------


def test_ledger_rows_cannot_be_changed_or_deleted_through_the_model(
    receive: Callable[..., StockMovement],
) -> None:
    movement = receive(1)
    movement.note = "edited"
    with pytest.raises(ValueError, match="append-only"):
        movement.save()
    with pytest.raises(ValueError, match="append-only"):
        movement.delete()
    assert StockMovement.objects.get(pk=movement.pk).note == ""
