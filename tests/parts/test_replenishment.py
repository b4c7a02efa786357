"""Replenishment: stock targets from the forecast, suggested purchase orders and transfers,
their approval and receipt, and the service-level / stock-cost curve."""

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.parts import planning, selectors, services
from aftersales.parts import replenishment as rp
from aftersales.parts.defaults import parts_defaults_ensure
from aftersales.parts.models import (
    Backorder,
    DemandHistory,
    Forecast,
    ForecastRun,
    Location,
    LocationKind,
    Part,
    PurchaseOrder,
    PurchaseOrderLine,
    StockBalance,
    StockMovement,
    StockPolicy,
    StockTarget,
    Supplier,
    Transfer,
)
from tests.concurrency import code_of, run_together

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 11, 20, 10, 0))


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def sourced(part: Part, supplier: Supplier, warehouse_user: User) -> Part:
    """The relay, bought from SUP-A (preferred: 10 days, MOQ 5, multiples of 5, 100.00) or
    SUP-B (faster, not preferred)."""
    other = services.supplier_create(actor=warehouse_user, code="SUP-B", name="Fast relays")
    services.part_source_set(
        actor=warehouse_user,
        part=part,
        supplier=other,
        lead_time_days=3,
        unit_price=Decimal("130.00"),
    )
    services.part_source_set(
        actor=warehouse_user,
        part=part,
        supplier=supplier,
        lead_time_days=10,
        min_order_qty=5,
        order_multiple=5,
        unit_price=Decimal("100.00"),
        is_preferred=True,
    )
    return part


def _target(part: Part, location: Location, rop: int, up_to: int) -> StockTarget:
    return StockTarget.objects.update_or_create(
        part=part,
        location=location,
        defaults={
            "reorder_point": rop,
            "order_up_to": up_to,
            "lead_time_days": 10,
            "service_target": Decimal("0.950"),
            "computed_at": NOW,
        },
    )[0]


def _receive(actor: User, part: Part, location: Location, quantity: int) -> None:
    services.stock_receive(actor=actor, part=part, location=location, quantity=quantity)


def _approved_order(
    part: Part, supplier: Supplier, location: Location, quantity: int
) -> PurchaseOrder:
    order = PurchaseOrder.objects.create(
        number=f"PO-T-{PurchaseOrder.objects.count() + 1}",
        supplier=supplier,
        location=location,
        status=PurchaseOrder.Status.APPROVED,
        created_at=NOW,
    )
    PurchaseOrderLine.objects.create(
        order=order, part=part, quantity=quantity, unit_price=Decimal("100.00")
    )
    return order


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("need", "moq", "multiple", "expected"),
    [(3, 5, 5, 5), (7, 5, 5, 10), (10, 5, 5, 10), (1, 5, 4, 8), (12, 1, 1, 12), (9, 1, 6, 12)],
)
def test_order_quantity_is_raised_to_the_moq_then_to_a_whole_multiple(
    need: int, moq: int, multiple: int, expected: int
) -> None:
    assert rp.order_quantity(need, min_order_qty=moq, order_multiple=multiple) == expected


# --- suggestions ------------------------------------------------------------------------------


def test_central_below_its_reorder_point_gets_a_draft_po_from_the_preferred_supplier(
    sourced: Part, central: Location, supplier: Supplier, warehouse_user: User, regular_case: Case
) -> None:
    _receive(warehouse_user, sourced, central, 5)
    services.stock_reserve(
        actor=warehouse_user, case=regular_case, part=sourced, location=central, quantity=1
    )
    _approved_order(sourced, supplier, central, 4)
    _target(sourced, central, rop=8, up_to=20)

    result = rp.replenishment_suggest()

    # Position 5 on hand + 4 on order - 1 reserved = 8, at the reorder point: 12 needed,
    # ordered as 15 (multiples of 5).
    (order,) = result.orders
    assert order.status == PurchaseOrder.Status.DRAFT
    assert order.number.startswith("PO")
    assert (order.supplier, order.location) == (supplier, central)
    assert order.expected_on == dt.date(2026, 11, 30)
    (line,) = order.lines.all()
    assert (line.part, line.quantity, line.unit_price) == (sourced, 15, Decimal("100.00"))
    assert line.reason == {"position": 8, "rop": 8, "out": 20, "need": 12, "rounded_from": 12}
    assert result.transfers == []


def test_a_part_above_its_reorder_point_is_not_ordered(
    sourced: Part, central: Location, warehouse_user: User
) -> None:
    _receive(warehouse_user, sourced, central, 9)
    _target(sourced, central, rop=8, up_to=20)
    result = rp.replenishment_suggest()
    assert result.orders == []
    assert not PurchaseOrder.objects.exists()


def test_waiting_backorders_lower_the_position(
    sourced: Part, central: Location, warehouse_user: User, regular_case: Case
) -> None:
    _receive(warehouse_user, sourced, central, 9)
    services.stock_reserve(
        actor=warehouse_user, case=regular_case, part=sourced, location=central, quantity=12
    )
    assert Backorder.objects.get().quantity == 12
    _target(sourced, central, rop=8, up_to=20)
    (order,) = rp.replenishment_suggest().orders
    # 9 on hand - 12 waiting = -3: 23 needed, 25 ordered.
    assert order.lines.get().reason["position"] == -3
    assert order.lines.get().quantity == 25


def test_regional_gets_a_transfer_from_central_limited_to_what_central_can_spare(
    sourced: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    _receive(warehouse_user, sourced, central, 10)
    _target(sourced, central, rop=6, up_to=15)
    _target(sourced, regional, rop=2, up_to=8)

    result = rp.replenishment_suggest()

    (transfer,) = result.transfers
    assert transfer.status == Transfer.Status.SUGGESTED
    assert (transfer.source, transfer.destination) == (central, regional)
    (line,) = transfer.lines.all()
    # Regional needs 8; central keeps its reorder point of 6 and spares 4.
    assert (line.part, line.stock_kind, line.quantity) == (sourced, "new", 4)
    assert transfer.reason["auto"] is True
    assert transfer.reason["lines"][str(sourced.pk)]["shortfall"] == 4
    assert result.shortfalls == [
        {"part": sourced.pk, "location": regional.pk, "source": central.pk, "quantity": 4}
    ]
    # Central counts what it ships out: 10 - 4 = 6 is at its reorder point, 9 -> 10 ordered.
    (order,) = result.orders
    assert order.location == central
    assert order.lines.get().quantity == 10
    assert order.lines.get().reason["position"] == 6
    # A suggestion moves nothing.
    assert StockBalance.objects.get(part=sourced, location=central).on_hand == 10


def test_running_again_does_not_duplicate_and_follows_the_new_need(
    sourced: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    _receive(warehouse_user, sourced, central, 10)
    _target(sourced, central, rop=6, up_to=15)
    _target(sourced, regional, rop=2, up_to=8)
    rp.replenishment_suggest()
    again = rp.replenishment_suggest()
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert PurchaseOrder.objects.count() == 1
    assert PurchaseOrderLine.objects.count() == 1
    assert Transfer.objects.count() == 1

    _target(sourced, central, rop=6, up_to=25)
    third = rp.replenishment_suggest()
    assert third.updated == 1
    assert PurchaseOrderLine.objects.get().quantity == 20
    assert PurchaseOrder.objects.count() == 1


def test_a_line_a_person_edited_is_left_alone_and_counted(
    sourced: Part, central: Location, warehouse_user: User
) -> None:
    _target(sourced, central, rop=4, up_to=10)
    (order,) = rp.replenishment_suggest().orders
    line = order.lines.get()
    assert line.quantity == 10
    rp.purchase_order_line_set(actor=warehouse_user, line=line, quantity=15)
    again = rp.replenishment_suggest()
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    line.refresh_from_db()
    assert line.quantity == 15
    assert PurchaseOrderLine.objects.count() == 1


def test_a_draft_no_longer_needed_is_withdrawn(
    sourced: Part, central: Location, warehouse_user: User
) -> None:
    _target(sourced, central, rop=4, up_to=10)
    (order,) = rp.replenishment_suggest().orders
    _receive(warehouse_user, sourced, central, 12)
    result = rp.replenishment_suggest()
    assert result.removed == 1
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.CANCELLED
    assert not order.lines.exists()


def test_a_part_without_a_supplier_is_reported(part: Part, central: Location) -> None:
    _target(part, central, rop=4, up_to=10)
    result = rp.replenishment_suggest()
    assert result.without_source == [part.pk]
    assert not PurchaseOrder.objects.exists()


def test_suggestions_pending_lists_drafts_and_suggested_transfers(
    sourced: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    _receive(warehouse_user, sourced, central, 10)
    _target(sourced, central, rop=6, up_to=15)
    _target(sourced, regional, rop=2, up_to=8)
    rp.replenishment_suggest()
    pending = selectors.suggestions_pending()
    assert [o.location for o in pending["orders"]] == [central]
    assert [t.destination for t in pending["transfers"]] == [regional]
    assert [t.location for t in selectors.targets_for(sourced)] == [central, regional]


# --- approval ---------------------------------------------------------------------------------


@pytest.fixture
def draft(sourced: Part, central: Location) -> PurchaseOrder:
    _target(sourced, central, rop=4, up_to=10)
    (order,) = rp.replenishment_suggest().orders
    return order


def test_approving_a_draft_records_who_and_when(draft: PurchaseOrder, warehouse_user: User) -> None:
    approved = rp.purchase_order_approve(actor=warehouse_user, order=draft)
    assert approved.status == PurchaseOrder.Status.APPROVED
    assert (approved.approved_by, approved.approved_at) == (warehouse_user, NOW)
    audit = AuditEvent.objects.get(action="parts.po_approved")
    assert (audit.actor, audit.entity, audit.entity_id) == (
        warehouse_user,
        "purchase_order",
        draft.pk,
    )
    assert audit.data["before"] == "draft"

    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_approve(actor=warehouse_user, order=draft)
    assert exc.value.code == "not_draft"


def test_approval_needs_the_permission(draft: PurchaseOrder, agent: User) -> None:
    with pytest.raises(PermissionDenied):
        rp.purchase_order_approve(actor=agent, order=draft)
    draft.refresh_from_db()
    assert draft.status == PurchaseOrder.Status.DRAFT


def test_cancelling_a_draft(draft: PurchaseOrder, warehouse_user: User) -> None:
    cancelled = rp.purchase_order_cancel(actor=warehouse_user, order=draft)
    assert cancelled.status == PurchaseOrder.Status.CANCELLED
    assert AuditEvent.objects.filter(action="parts.po_cancelled", entity_id=draft.pk).exists()
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_approve(actor=warehouse_user, order=draft)
    assert exc.value.code == "not_draft"


@pytest.mark.parametrize(
    ("quantity", "code"),
    [(3, "below_moq"), (12, "not_order_multiple"), (0, "invalid_quantity")],
)
def test_bad_line_edits_are_refused_and_change_nothing(
    draft: PurchaseOrder, warehouse_user: User, quantity: int, code: str
) -> None:
    line = draft.lines.get()
    audits = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_line_set(actor=warehouse_user, line=line, quantity=quantity)
    assert exc.value.code == code
    line.refresh_from_db()
    assert line.quantity == 10
    assert "set_by" not in line.reason
    assert AuditEvent.objects.count() == audits


def test_an_approved_line_cannot_be_edited(draft: PurchaseOrder, warehouse_user: User) -> None:
    rp.purchase_order_approve(actor=warehouse_user, order=draft)
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_line_set(actor=warehouse_user, line=draft.lines.get(), quantity=20)
    assert exc.value.code == "not_draft"
    assert draft.lines.get().quantity == 10


def test_editing_a_draft_line(draft: PurchaseOrder, warehouse_user: User) -> None:
    line = rp.purchase_order_line_set(actor=warehouse_user, line=draft.lines.get(), quantity=20)
    assert line.quantity == 20
    assert line.reason["set_by"] == warehouse_user.pk
    audit = AuditEvent.objects.get(action="parts.po_line_set")
    assert (audit.data["before"], audit.data["after"]) == (10, 20)


# --- receipt ----------------------------------------------------------------------------------


def test_receiving_books_receipts_and_fills_waiting_backorders(
    draft: PurchaseOrder,
    sourced: Part,
    central: Location,
    supplier: Supplier,
    warehouse_user: User,
    regular_case: Case,
) -> None:
    services.stock_reserve(
        actor=warehouse_user, case=regular_case, part=sourced, location=central, quantity=3
    )
    backorder = Backorder.objects.get()
    order = rp.purchase_order_approve(actor=warehouse_user, order=draft)
    line = order.lines.get()

    rp.purchase_order_receive(actor=warehouse_user, order=order, received={line.pk: 4})

    receipt = StockMovement.objects.get(kind=StockMovement.Kind.RECEIPT)
    assert (receipt.part, receipt.location, receipt.quantity) == (sourced, central, 4)
    assert (receipt.purchase_order, receipt.supplier) == (order, supplier)
    assert receipt.unit_cost == Decimal("100.00")
    backorder.refresh_from_db()
    assert backorder.status == Backorder.Status.FILLED
    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.status, line.received_quantity) == (PurchaseOrder.Status.APPROVED, 4)

    rp.purchase_order_receive(actor=warehouse_user, order=order, received={line.pk: 6})
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert AuditEvent.objects.filter(action="parts.po_received", entity_id=order.pk).exists()
    assert StockBalance.objects.get(part=sourced, location=central).on_hand == 10


@pytest.mark.parametrize(
    ("received", "code"),
    [
        ({"line": 11}, "over_receipt"),
        ({"line": 0}, "invalid_quantity"),
        ({"other": 1}, "unknown_line"),
        ({}, "nothing_received"),
    ],
)
def test_a_bad_receipt_is_refused_and_writes_nothing(
    draft: PurchaseOrder, warehouse_user: User, received: dict[str, int], code: str
) -> None:
    order = rp.purchase_order_approve(actor=warehouse_user, order=draft)
    line = order.lines.get()
    ids = {"line": line.pk, "other": line.pk + 1000}
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_receive(
            actor=warehouse_user, order=order, received={ids[k]: v for k, v in received.items()}
        )
    assert exc.value.code == code
    assert not StockMovement.objects.exists()
    line.refresh_from_db()
    assert line.received_quantity == 0


def test_a_draft_cannot_be_received(draft: PurchaseOrder, warehouse_user: User) -> None:
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_receive(
            actor=warehouse_user, order=draft, received={draft.lines.get().pk: 1}
        )
    assert exc.value.code == "not_approved"
    assert not StockMovement.objects.exists()


def test_a_receipt_over_one_line_writes_nothing_for_the_others(
    sourced: Part,
    repairable_part: Part,
    supplier: Supplier,
    central: Location,
    warehouse_user: User,
) -> None:
    order = _approved_order(sourced, supplier, central, 5)
    other = PurchaseOrderLine.objects.create(
        order=order, part=repairable_part, quantity=2, unit_price=Decimal("400.00")
    )
    first = order.lines.get(part=sourced)
    with pytest.raises(ApplicationError) as exc:
        rp.purchase_order_receive(
            actor=warehouse_user, order=order, received={first.pk: 5, other.pk: 3}
        )
    assert exc.value.code == "over_receipt"
    assert exc.value.details == {"open": {str(other.pk): 2}}
    assert not StockMovement.objects.exists()


def test_approving_a_suggested_transfer_ships_it(
    sourced: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    _receive(warehouse_user, sourced, central, 10)
    _target(sourced, central, rop=6, up_to=15)
    _target(sourced, regional, rop=2, up_to=8)
    (transfer,) = rp.replenishment_suggest().transfers

    shipped = rp.transfer_suggestion_approve(actor=warehouse_user, transfer=transfer)

    assert shipped.status == Transfer.Status.IN_TRANSIT
    assert StockBalance.objects.get(part=sourced, location=central).on_hand == 6
    assert StockBalance.objects.get(part=sourced, location=regional).in_transit == 4
    assert AuditEvent.objects.filter(
        action="parts.transfer_suggestion_approved", entity_id=transfer.pk
    ).exists()
    with pytest.raises(ApplicationError) as exc:
        rp.transfer_suggestion_approve(actor=warehouse_user, transfer=transfer)
    assert exc.value.code == "not_suggested"


# --- stock targets ----------------------------------------------------------------------------


def test_a_higher_service_target_gives_a_higher_order_up_to_level() -> None:
    path = [3.0] * 12
    for measure in (StockPolicy.Measure.FILL_RATE, StockPolicy.Measure.CYCLE):
        low, high = (
            rp.stock_levels(
                path,
                dispersion=2.0,
                lead_days=30,
                review_days=30,
                measure=measure,
                target=target,
            )
            for target in (0.80, 0.99)
        )
        assert high.order_up_to > low.order_up_to
        assert high.reorder_point >= low.reorder_point
        assert low.reorder_point <= low.order_up_to
    fill = rp.stock_levels(
        path, dispersion=2.0, lead_days=30, review_days=30, measure="fill_rate", target=0.95
    )
    assert fill.expected_fill_rate >= 0.95
    assert fill.lead_time_mean == pytest.approx(3.0 * 30 / rp.DAYS_PER_MONTH)


def test_a_location_share_thins_demand() -> None:
    whole = rp.stock_levels(
        [6.0] * 12, dispersion=3.0, lead_days=20, review_days=14, measure="cycle", target=0.9
    )
    part = rp.stock_levels(
        [1.5] * 12,
        share=0.25,
        dispersion=3.0,
        lead_days=20,
        review_days=14,
        measure="cycle",
        target=0.9,
    )
    assert part.order_up_to < whole.order_up_to
    assert part.dispersion == pytest.approx(1.5)


@pytest.fixture
def planned(sourced: Part, central: Location, regional: Location, van: Location) -> Part:
    """A regional-storage policy, a finished forecast of 6 a month for the relay, and a year of
    imported issues: 10 at central, 30 at the regional warehouse."""
    StockPolicy.objects.create(
        name="All", rank=1, storage=StockPolicy.Storage.REGIONAL, review_days=14
    )
    run = ForecastRun.objects.create(
        started_at=NOW,
        origin=dt.date(2026, 11, 1),
        horizon=6,
        status=ForecastRun.Status.DONE,
    )
    Forecast.objects.create(
        run=run,
        part=sourced,
        method="SBA",
        months=[
            {"month": f"2026-{11 + m:02d}-01" if m < 2 else f"2027-{m - 1:02d}-01", "mean": 6.0}
            for m in range(6)
        ],
        dispersion=2.0,
    )
    for location, quantity in ((central, 10), (regional, 30)):
        DemandHistory.objects.create(
            part=sourced,
            location=location,
            month=dt.date(2026, 6, 1),
            quantity=quantity,
            imported_at=NOW,
        )
    return sourced


def test_targets_follow_the_policy_storage_and_the_location_shares(
    planned: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    assert rp.targets_compute(actor=warehouse_user) == 2
    at_central = StockTarget.objects.get(location=central)
    at_regional = StockTarget.objects.get(location=regional)
    # The van does not stock it (regional storage).
    assert StockTarget.objects.count() == 2
    assert (at_central.lead_time_days, at_regional.lead_time_days) == (10, 2)
    # Central carries the whole network (it refills the regional warehouse), regional 3/4.
    assert at_central.order_up_to > at_regional.order_up_to > 0
    assert at_regional.reorder_point <= at_regional.order_up_to
    assert 0.95 <= at_central.expected_fill_rate <= 1
    assert at_central.forecast is not None
    assert AuditEvent.objects.filter(action="parts.targets_computed").exists()

    StockPolicy.objects.update(service_target=Decimal("0.990"))
    rp.targets_compute()
    assert StockTarget.objects.get(location=central).order_up_to > at_central.order_up_to


def test_forward_storage_stocks_only_forward_places_that_used_the_part(
    planned: Part, van: Location
) -> None:
    StockPolicy.objects.update(storage=StockPolicy.Storage.FORWARD)
    rp.targets_compute()
    assert not StockTarget.objects.filter(location=van).exists()
    DemandHistory.objects.create(
        part=planned, location=van, month=dt.date(2026, 7, 1), quantity=5, imported_at=NOW
    )
    rp.targets_compute()
    assert StockTarget.objects.get(location=van).lead_time_days == 1


def test_on_demand_parts_hold_no_stock(planned: Part) -> None:
    rp.targets_compute()
    StockPolicy.objects.update(method=StockPolicy.Method.ON_DEMAND)
    assert rp.targets_compute() == 0
    assert not StockTarget.objects.exists()


def test_targets_need_a_finished_forecast(warehouse_user: User) -> None:
    with pytest.raises(ApplicationError) as exc:
        rp.targets_compute(actor=warehouse_user)
    assert exc.value.code == "no_forecast"


def test_location_shares_roll_up_to_the_stocked_source() -> None:
    central = Location(pk=1, code="C", kind=LocationKind.CENTRAL)
    regional = Location(pk=2, code="R", kind=LocationKind.REGIONAL, supplied_from_id=1)
    outlet = Location(pk=3, code="O", kind=LocationKind.OUTLET, supplied_from_id=2)
    shares = rp.location_shares({2: 30.0, 3: 10.0}, [central, regional, outlet], stocked=[1, 2])
    # The outlet does not stock it: its issues are served by the regional warehouse; central
    # refills regional, so carries both. Central's own pseudo-count keeps it stocked.
    assert shares[2] == pytest.approx(40 / 40.5)
    assert shares[1] == pytest.approx(1.0)
    assert 3 not in shares


def test_a_location_override_replaces_that_location_share_and_its_suppliers_carry_it(
    planned: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    rp.targets_compute()
    before = {t.location_id: t.order_up_to for t in StockTarget.objects.all()}
    # The regional warehouse's share is 30/40.5 of 6 a month (about 4.4); the planner expects
    # 20 a month there for the whole horizon (a promotion in the region).
    override = planning.forecast_override_create(
        actor=warehouse_user,
        part=planned,
        location=regional,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2027, 4, 1),
        quantity=20,
        reason="Regional promotion",
        expires_at=NOW + dt.timedelta(days=180),
    )
    rp.targets_compute()
    after = {t.location_id: t.order_up_to for t in StockTarget.objects.all()}
    assert after[regional.pk] > before[regional.pk]
    # Central refills the region: it carries the extra demand as well.
    assert after[central.pk] > before[central.pk]

    planning.forecast_override_withdraw(actor=warehouse_user, override=override)
    rp.targets_compute()
    assert {t.location_id: t.order_up_to for t in StockTarget.objects.all()} == before


def test_a_location_override_stocks_a_forward_place_that_never_used_the_part(
    planned: Part, van: Location, warehouse_user: User
) -> None:
    StockPolicy.objects.update(storage=StockPolicy.Storage.FORWARD)
    rp.targets_compute()
    assert not StockTarget.objects.filter(location=van).exists()
    planning.forecast_override_create(
        actor=warehouse_user,
        part=planned,
        location=van,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2027, 1, 1),
        quantity=4,
        reason="New estate in the technician's area",
        expires_at=NOW + dt.timedelta(days=1),
    )
    rp.targets_compute()
    assert StockTarget.objects.get(location=van).order_up_to >= 4
    # Expired, it no longer counts.
    with clock.frozen_at(NOW + dt.timedelta(days=2)):
        rp.targets_compute()
    assert not StockTarget.objects.filter(location=van).exists()


def test_location_paths_split_the_network_and_apply_overrides_to_one_place() -> None:
    central = Location(pk=1, code="C", kind=LocationKind.CENTRAL)
    regional = Location(pk=2, code="R", kind=LocationKind.REGIONAL, supplied_from_id=1)
    outlet = Location(pk=3, code="O", kind=LocationKind.OUTLET, supplied_from_id=2)
    places = [central, regional, outlet]
    paths = rp.location_paths([8.0, 8.0], {2: 30.0, 3: 10.0}, places, stocked=[1, 2, 3])
    # Weights 0.5 (central's pseudo-count), 30 and 10 of 40.5.
    assert paths[3] == pytest.approx([8 * 10 / 40.5] * 2)
    assert paths[2] == pytest.approx([8 * 40 / 40.5] * 2)
    assert paths[1] == pytest.approx([8.0, 8.0])
    overridden = rp.location_paths(
        [8.0, 8.0], {2: 30.0, 3: 10.0}, places, stocked=[1, 2, 3], overrides={3: {1: 12.0}}
    )
    assert overridden[3] == pytest.approx([8 * 10 / 40.5, 12.0])
    assert overridden[2][1] == pytest.approx(8 * 30 / 40.5 + 12.0)
    assert overridden[1][0] == pytest.approx(8.0)


@pytest.fixture
def priced_range(central: Location, supplier: Supplier, warehouse_user: User) -> list[Part]:
    """Eight parts with the same forecast (4 a month, dispersion 2) bought from SUP-A in 10
    days, central storage: four screws at 3.00 and four boards at 2,000.00; one board is
    critical. A class policy of 95 % fill rate for all."""
    StockPolicy.objects.create(
        name="All", rank=1, storage=StockPolicy.Storage.CENTRAL, review_days=30
    )
    run = ForecastRun.objects.create(
        started_at=NOW, origin=dt.date(2026, 11, 1), horizon=6, status=ForecastRun.Status.DONE
    )
    parts = []
    for i in range(8):
        cheap = i < 4
        part = services.part_create(
            actor=warehouse_user,
            number=f"{'SCR' if cheap else 'PCB'}-{i}",
            name_zh="螺丝" if cheap else "主板",
            name_en="Screw" if cheap else "Board",
            unit_cost=Decimal("3.00") if cheap else Decimal("2000.00"),
            is_critical=i == 7,
        )
        services.part_source_set(
            actor=warehouse_user,
            part=part,
            supplier=supplier,
            lead_time_days=10,
            unit_price=part.unit_cost,
            is_preferred=True,
        )
        Forecast.objects.create(
            run=run,
            part=part,
            method="SBA",
            months=[
                {
                    "month": (dt.date(2026, 11, 1) + dt.timedelta(days=31 * m))
                    .replace(day=1)
                    .isoformat(),
                    "mean": 4.0,
                }
                for m in range(6)
            ],
            dispersion=2.0,
        )
        parts.append(part)
    return parts


def _stock_value(central: Location) -> Decimal:
    return sum(
        (
            t.order_up_to * t.part.unit_cost
            for t in StockTarget.objects.filter(location=central).select_related("part")
        ),
        Decimal(0),
    )


def test_system_targets_spend_the_network_fill_rate_where_it_is_cheap(
    priced_range: list[Part], central: Location, manager: User
) -> None:
    rp.targets_compute()
    uniform = {t.part.number: t for t in StockTarget.objects.select_related("part")}
    assert {t.service_target for t in uniform.values()} == {Decimal("0.950")}
    uniform_value = _stock_value(central)

    rp.target_mode_set(actor=manager, mode="system", fill_rate="0.95")
    rp.targets_compute()
    system = {t.part.number: t for t in StockTarget.objects.select_related("part")}
    # Screws get more than 95 %, boards less, the critical board keeps its class target.
    assert system["SCR-0"].service_target > Decimal("0.95")
    assert system["SCR-0"].order_up_to > uniform["SCR-0"].order_up_to
    assert system["PCB-4"].service_target < Decimal("0.95")
    assert system["PCB-4"].order_up_to < uniform["PCB-4"].order_up_to
    assert system["PCB-7"].service_target >= Decimal("0.95")
    assert system["PCB-7"].order_up_to >= uniform["PCB-7"].order_up_to
    # Same demand everywhere, so the units expected filled are the mean of the targets: the
    # allocation serves at least as many for less stock value.
    mean_target = sum(t.expected_fill_rate for t in system.values()) / len(system)
    assert mean_target >= 0.95 - 0.005
    assert _stock_value(central) < uniform_value
    assert AuditEvent.objects.filter(action="parts.target_mode_set").count() == 1

    rp.target_mode_set(actor=manager, mode="class")
    rp.targets_compute()
    assert _stock_value(central) == uniform_value


def test_target_mode_refuses_bad_input_and_needs_the_settings_permission(
    manager: User, warehouse_user: User
) -> None:
    parts_defaults_ensure()
    for bad in ("0.5", "1", "1.2", "NaN", "abc", "0.9995"):
        with pytest.raises(ApplicationError) as exc:
            rp.target_mode_set(actor=manager, mode="system", fill_rate=bad)
        assert exc.value.code == "invalid_target", bad
    with pytest.raises(ApplicationError) as exc:
        rp.target_mode_set(actor=manager, mode="cheapest")
    assert exc.value.code == "invalid_mode"
    with pytest.raises(PermissionDenied):
        rp.target_mode_set(actor=warehouse_user, mode="system", fill_rate="0.9")
    settings = selectors.parts_settings()
    assert (settings.target_mode, settings.system_fill_rate) == ("class", Decimal("0.950"))
    assert not AuditEvent.objects.filter(action="parts.target_mode_set").exists()


# --- the curve --------------------------------------------------------------------------------


@pytest.fixture
def intermittent() -> list[Part]:
    """48 intermittent parts over 24 months (fixed seed); a third of them are used twice as
    often from the eighth month on, as a part of a model selling more is."""
    rng = np.random.default_rng(2026)
    parts = []
    history = []
    months = [dt.date(2024 + (10 + m) // 12, (10 + m) % 12 + 1, 1) for m in range(24)]
    for i in range(48):
        part = Part.objects.create(
            number=f"SP-{i:03d}",
            name_zh="备件",
            name_en="Spare",
            unit_cost=Decimal(str(round(float(rng.uniform(5, 400)), 2))),
            created_at=NOW,
            abc_class="ABC"[i % 3],
        )
        parts.append(part)
        chance, size = rng.uniform(0.15, 0.4), rng.uniform(0.5, 3.0)
        for m, month in enumerate(months):
            growing = i % 3 == 0 and m >= 7
            used = rng.random() < chance * (2 if growing else 1)
            history.append(
                DemandHistory(
                    part=part,
                    month=month,
                    quantity=int(used) * (1 + int(rng.poisson(size))),
                    imported_at=NOW,
                )
            )
    DemandHistory.objects.bulk_create(history)
    StockPolicy.objects.create(name="All", rank=1, service_target=Decimal("0.900"))
    return parts


def test_fill_rate_rises_with_stock_value_and_the_curve_lies_outside_the_naive_one(
    intermittent: list[Part],
) -> None:
    curve = rp.service_curve(parts=intermittent, months=24, end=dt.date(2026, 11, 20))
    assert set(curve.classes) == {"all", "A", "B", "C"}
    for data in curve.classes.values():
        for method in (rp.PROJECT, rp.NAIVE):
            fills = [p["fill_rate"] for p in data[method]]
            values = [p["stock_value"] for p in data[method]]
            assert fills == sorted(fills)
            assert values == sorted(values)
            assert fills[-1] > fills[0]
    overall = curve.classes["all"]
    xs, ys = zip(*[(p["stock_value"], p["fill_rate"]) for p in overall[rp.PROJECT]], strict=True)
    # At the naive method's stock values (inside the project's range), the project's curve
    # serves more: stock spent by price per yuan instead of one target for every part.
    gaps = [
        float(np.interp(p["stock_value"], xs, ys)) - p["fill_rate"]
        for p in overall[rp.NAIVE]
        if xs[0] <= p["stock_value"] <= xs[-1]
    ]
    assert len(gaps) >= 5
    assert np.mean(gaps) > 0
    assert min(gaps) >= -0.01
    current = overall["current"]
    assert current is not None and 0 < current["fill_rate"] < 1
    assert current["per_point"] > 0
    chart = curve.chart()
    assert len(chart["series"]) == 8
    assert chart["markers"][0]["class"] == "all"


def test_the_curve_refuses_bad_input(intermittent: list[Part]) -> None:
    with pytest.raises(ApplicationError) as exc:
        rp.service_curve(parts=intermittent, months=6)
    assert exc.value.code == "invalid_months"
    with pytest.raises(ApplicationError) as exc:
        rp.service_curve(parts=intermittent, targets=(0.9, 1.0))
    assert exc.value.code == "invalid_target"


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_two_receipts_at_once_cannot_over_receive(
    sourced: Part, supplier: Supplier, central: Location, warehouse_user: User
) -> None:
    order = _approved_order(sourced, supplier, central, 10)
    line = order.lines.get()

    def receive() -> str:
        return rp.purchase_order_receive(
            actor=User.objects.get(pk=warehouse_user.pk),
            order=PurchaseOrder.objects.get(pk=order.pk),
            received={line.pk: 6},
        ).status

    results = run_together([code_of(receive), code_of(receive)])
    assert sorted(results) == ["approved", "over_receipt"]
    line.refresh_from_db()
    assert line.received_quantity == 6
    assert StockMovement.objects.filter(kind=StockMovement.Kind.RECEIPT).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_two_suggestion_runs_at_once_draft_one_order(
    sourced: Part, central: Location, regional: Location, warehouse_user: User
) -> None:
    parts_defaults_ensure()
    _receive(warehouse_user, sourced, central, 10)
    _target(sourced, central, rop=6, up_to=15)
    _target(sourced, regional, rop=2, up_to=8)

    def suggest() -> str:
        return str(len(rp.replenishment_suggest().orders))

    run_together([code_of(suggest), code_of(suggest)])
    assert PurchaseOrder.objects.count() == 1
    assert PurchaseOrderLine.objects.count() == 1
    assert Transfer.objects.count() == 1
