"""Spare parts API (备品配件): catalogue, stock by location, the ledger, reservations against
cases, backorders, receipts and adjustments, transfers, cycle counts, planning (classification,
forecasts, demand events, overrides, accuracy) and replenishment (suggestions, purchase orders,
the service-level curve). Parse, authorise, call one service or selector, serialise.

Scope: a reservation or backorder belongs to a case. Who works cases reaches those of the
cases in their scope (any other is 404); warehouse staff (`parts.move_stock`) issue parts to
technicians for every case, so they reach every reservation and backorder and see its case
number (never the case's subject or customer).
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from celery.result import EagerResult
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply

from aftersales.accounts.models import User
from aftersales.accounts.permissions import request_user, require_perm
from aftersales.cases.models import Case
from aftersales.cases.selectors import CASE_NUMBER, case_queryset_for
from aftersales.catalog.models import ProductModel
from aftersales.core.errors import ApplicationError, NotFound
from aftersales.core.schemas import Offset, RecordId, ReportDate, StrictIn

from . import planning, replenishment, selectors, services
from .models import (
    AdjustmentReason,
    Backorder,
    CycleCount,
    CycleCountLine,
    DemandEvent,
    ForecastOverride,
    ForecastRun,
    Location,
    LocationKind,
    Part,
    PartsSettings,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    SbcClass,
    StockBalance,
    StockKind,
    StockMovement,
    Supplier,
    Transfer,
    TransferLine,
)
from .tasks import parts_forecast_task

router = Router(tags=["parts"])

# Network-wide stock of each part in a list: annotations `stock_<figure>` of `part_search`.
_STOCK_FIGURES = ("on_hand", "reserved", "available", "in_transit")

StockKindT = Literal["new", "refurbished", "loan", "defective"]
# What a case, a receipt or a transfer may use: defective stock only leaves to the supplier or
# to refurbishing.
UsableKindT = Literal["new", "refurbished", "loan"]
LocationKindT = Literal["central", "regional", "outlet", "van"]
ReasonT = Literal["cycle_count", "found", "lost", "damaged", "correction", "opening"]
MovementKindT = Literal[
    "receipt",
    "reserve",
    "release",
    "expire",
    "issue",
    "return",
    "transfer_out",
    "transfer_in",
    "adjustment",
    "scrap",
    "defective_in",
    "defective_out",
    "refurbish",
]
SbcT = Literal["smooth", "erratic", "intermittent", "lumpy", "insufficient"]
ReservationStatusT = Literal["active", "issued", "released", "expired"]
TransferStatusT = Literal["suggested", "in_transit", "received", "cancelled"]
EventKindT = Literal["recall", "launch", "promotion", "other"]
# The Literal types above must list exactly the model choices; checked at import.
for _lit, _choices in (
    (StockKindT, StockKind.values),
    (UsableKindT, services.RESERVABLE_KINDS),
    (LocationKindT, LocationKind.values),
    (ReasonT, AdjustmentReason.values),
    (MovementKindT, StockMovement.Kind.values),
    (SbcT, SbcClass.values),
    (ReservationStatusT, Reservation.Status.values),
    (TransferStatusT, Transfer.Status.values),
    (EventKindT, DemandEvent.Kind.values),
):
    assert set(_lit.__args__) == set(_choices), _lit  # type: ignore[attr-defined]

# A quantity is a whole number of parts; the bound keeps every balance inside a 32-bit column.
MAX_QUANTITY = 1_000_000
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
# Adjustments are signed; zero is the service's to refuse (400 `invalid_quantity`).
SignedQuantity = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
PartNumber = Annotated[str, Field(min_length=1, max_length=40)]
LocationCode = Annotated[str, Field(min_length=1, max_length=30)]
SupplierCode = Annotated[str, Field(min_length=1, max_length=30)]
CaseNumber = Annotated[str, Field(min_length=1, max_length=20)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Note = Annotated[str, Field(max_length=500)]


# --- input ----------------------------------------------------------------------------------


class PartQuery(StrictIn):
    q: str = Field("", max_length=100, description="Part of the number or of a name")
    critical: bool | None = None
    abc: Literal["A", "B", "C"] | None = None
    sbc: SbcT | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class PartCreateIn(StrictIn):
    number: PartNumber
    name_zh: str = Field(..., min_length=1, max_length=200)
    name_en: str = Field(..., min_length=1, max_length=200)
    unit_cost: Money
    is_critical: bool = False
    is_repairable: bool = False
    compatible_models: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        [], max_length=100, description="Product model codes"
    )
    usage_per_repair: Decimal = Field(Decimal("1"), gt=0, max_digits=6, decimal_places=2)


class SupersedeIn(StrictIn):
    by: PartNumber = Field(..., description="The number of the part that replaces it")


class LedgerQuery(StrictIn):
    part: PartNumber | None = None
    location: LocationCode | None = None
    kind: MovementKindT | None = None
    since: ReportDate | None = None
    until: ReportDate | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class DemandQuery(StrictIn):
    bucket: Literal["month", "week"] = "month"
    periods: int | None = Field(
        None, ge=1, le=260, description="Default 24 months or 26 weeks; at most 260."
    )
    location: LocationCode | None = None


class ReserveIn(StrictIn):
    case: CaseNumber
    part: PartNumber
    location: LocationCode
    quantity: Quantity
    kinds: list[UsableKindT] | None = Field(
        None, min_length=1, max_length=4, description="Default: by the customer's value tier"
    )
    backorder: bool = Field(True, description="Wait in the backorder queue when short")


class ReservationQuery(StrictIn):
    case: CaseNumber | None = None
    location: LocationCode | None = None
    status: ReservationStatusT | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class IssueIn(StrictIn):
    quantity: Quantity | None = Field(None, description="Default: all that is still reserved")


class ReturnIn(StrictIn):
    quantity: Quantity


class BackorderQuery(StrictIn):
    part: PartNumber | None = None
    location: LocationCode | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class ReceiptIn(StrictIn):
    part: PartNumber
    location: LocationCode
    quantity: Quantity
    kind: UsableKindT = "new"
    unit_cost: Money | None = Field(None, description="Default: the part's unit cost")
    supplier: SupplierCode | None = None
    note: Note = ""


class AdjustmentIn(StrictIn):
    part: PartNumber
    location: LocationCode
    kind: StockKindT = "new"
    quantity: SignedQuantity = Field(..., description="Signed: + found, - lost")
    reason: ReasonT
    note: Note = ""


class ScrapIn(StrictIn):
    part: PartNumber
    location: LocationCode
    kind: StockKindT = "new"
    quantity: Quantity
    note: Note = ""


class DefectiveIn(StrictIn):
    part: PartNumber
    location: LocationCode
    quantity: Quantity
    case: CaseNumber | None = Field(None, description="The case it was taken out of")


class DefectiveReturnIn(StrictIn):
    part: PartNumber
    location: LocationCode
    quantity: Quantity
    supplier: SupplierCode


class RefurbishIn(StrictIn):
    part: PartNumber
    location: LocationCode
    quantity: Quantity


class TransferLineIn(StrictIn):
    part: PartNumber
    kind: UsableKindT = "new"
    quantity: Quantity


class TransferIn(StrictIn):
    source: LocationCode
    destination: LocationCode
    lines: list[TransferLineIn] = Field(..., min_length=1, max_length=100)
    ship: bool = Field(True, description="Ship at once (else it waits, suggested)")
    note: Note = ""


class TransferQuery(StrictIn):
    status: TransferStatusT | None = None
    location: LocationCode | None = Field(None, description="From or to this location")
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class ReceivedLineIn(StrictIn):
    line: RecordId
    quantity: int = Field(..., ge=0, le=MAX_QUANTITY)


class TransferReceiveIn(StrictIn):
    received: list[ReceivedLineIn] | None = Field(
        None, max_length=100, description="Per line; default: everything shipped"
    )


class CountIn(StrictIn):
    location: LocationCode
    parts: list[PartNumber] | None = Field(
        None, max_length=500, description="Default: every part stocked there"
    )
    kinds: list[StockKindT] = Field(["new"], min_length=1, max_length=4)


class CountLineIn(StrictIn):
    counted: int = Field(..., ge=0, le=MAX_QUANTITY)


# --- output ---------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class PartOut(Schema):
    number: str
    name_zh: str
    name_en: str
    is_critical: bool
    is_repairable: bool
    is_active: bool
    unit_cost: Decimal
    currency: str
    superseded_by: str | None
    abc_class: str
    xyz_class: str
    sbc_class: str


class PartListItemOut(PartOut):
    """A part with its stock over every location."""

    on_hand: int
    reserved: int
    available: int
    in_transit: int


class PartListOut(Schema):
    count: int
    items: list[PartListItemOut]


class SourceOut(Schema):
    supplier: str
    supplier_name: str
    lead_time_days: int
    min_order_qty: int
    order_multiple: int
    unit_price: Decimal
    is_preferred: bool


class StockAvailabilityOut(Schema):
    location: str
    location_name: str
    kind: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int


class ForecastMonthOut(Schema):
    month: dt.date
    mean: float
    p90: float | None


class ForecastSummaryOut(Schema):
    run_id: int
    origin: dt.date
    method: str
    sbc_class: str
    months: list[ForecastMonthOut]


class PartDetailOut(PartOut):
    usage_per_repair: Decimal
    supersedes: list[str]
    compatible_models: list[str]
    classified_at: dt.datetime | None
    sources: list[SourceOut]
    availability: list[StockAvailabilityOut]
    forecast: ForecastSummaryOut | None


class LocationOut(Schema):
    code: str
    name: str
    kind: str
    region: str
    supplied_from: str | None
    transfer_days: int
    is_active: bool


class BalanceOut(Schema):
    part: str
    part_name: str
    kind: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int


class MovementOut(Schema):
    id: int
    kind: str
    part: str
    location: str
    stock_kind: str
    quantity: int
    reserved_change: int
    in_transit_change: int
    on_hand_after: int
    reserved_after: int
    in_transit_after: int
    unit_cost: Decimal
    occurred_at: dt.datetime
    actor: Ref | None
    case: str | None
    reservation_id: int | None
    transfer: str | None
    purchase_order: str | None
    reason: str
    note: str


class MovementListOut(Schema):
    count: int
    items: list[MovementOut]


class ReservationOut(Schema):
    id: int
    case: str
    part: str
    location: str
    stock_kind: str
    quantity: int
    issued_quantity: int
    returned_quantity: int
    open_quantity: int
    status: str
    tier: str
    created_at: dt.datetime
    expires_at: dt.datetime
    closed_at: dt.datetime | None


class ReservationListOut(Schema):
    count: int
    items: list[ReservationOut]


class BackorderOut(Schema):
    id: int
    case: str
    part: str
    location: str
    quantity: int
    tier: str
    sla_due_at: dt.datetime | None
    kinds: list[str]
    status: str
    created_at: dt.datetime
    closed_at: dt.datetime | None
    reservation_id: int | None


class BackorderListOut(Schema):
    count: int
    items: list[BackorderOut]


class TransferLineOut(Schema):
    id: int
    part: str
    stock_kind: str
    quantity: int
    received_quantity: int


class TransferOut(Schema):
    number: str
    source: str
    destination: str
    status: str
    created_at: dt.datetime
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None
    reason: dict[str, Any]
    note: str
    lines: list[TransferLineOut]


class TransferListOut(Schema):
    count: int
    items: list[TransferOut]


class CountLineOut(Schema):
    id: int
    part: str
    stock_kind: str
    expected: int
    counted: int | None
    counted_at: dt.datetime | None


class CountOut(Schema):
    number: str
    location: str
    status: str
    created_at: dt.datetime
    posted_at: dt.datetime | None
    lines: list[CountLineOut]


class CountPostedOut(Schema):
    count: CountOut
    movements: list[MovementOut]


# --- planning and replenishment: input ------------------------------------------------------

AccuracyByT = Literal["sbc", "abc", "method"]


class EventIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=200)
    kind: EventKindT
    part: PartNumber | None = Field(None, description="The part, or")
    product_model: str | None = Field(
        None, min_length=1, max_length=40, description="every part of this product model"
    )
    starts_on: dt.date
    ends_on: dt.date
    factor: Decimal = Field(Decimal("1"), ge=0, max_digits=6, decimal_places=2)
    extra_units: Decimal = Field(
        Decimal("0"), ge=-99_999_999, max_digits=10, decimal_places=2, description="Per month"
    )


class OverrideIn(StrictIn):
    part: PartNumber
    location: LocationCode | None = None
    starts_on: dt.date
    ends_on: dt.date
    quantity: Decimal = Field(
        ..., ge=0, max_digits=10, decimal_places=2, description="Units per month"
    )
    reason: str = Field(..., min_length=1, max_length=500)
    expires_at: dt.datetime


class AccuracyQuery(StrictIn):
    by: AccuracyByT = "sbc"
    months: int = Field(12, ge=1, le=60)
    lead_months: int | None = Field(0, ge=0, le=36, description="Empty: every lead pooled")


class SuggestIn(StrictIn):
    recompute_targets: bool = Field(
        False, description="Recompute reorder points and order-up-to levels first"
    )


class LineQuantityIn(StrictIn):
    quantity: Quantity


class ReceivedQuantityIn(StrictIn):
    line: RecordId
    quantity: Quantity


class OrderReceiveIn(StrictIn):
    lines: list[ReceivedQuantityIn] = Field(..., min_length=1, max_length=200)


class CurveQuery(StrictIn):
    months: int = Field(24, ge=1, le=120, description="Months of history (12 to 60)")
    lead_time: int | None = Field(None, ge=0, le=365, description="Days, for every part")


class TargetModeIn(StrictIn):
    mode: Literal["class", "system"] = Field(
        ...,
        description="class: each class policy's own target; system: one network fill rate "
        "allocated where it fills the most units per yuan (critical parts keep their class target)",
    )
    fill_rate: Decimal | None = Field(
        None,
        gt=Decimal("0.5"),
        lt=1,
        max_digits=4,
        decimal_places=3,
        description="The network fill rate for `system` (empty: keep the current one)",
    )
    recompute: bool = Field(
        True,
        description="Recompute every stock target at once (needs parts.plan_parts and a "
        "finished forecast; else `targets` is null)",
    )


# --- planning and replenishment: output -----------------------------------------------------


class TargetModeOut(Schema):
    mode: str
    fill_rate: Decimal = Field(..., description="The network fill rate used in `system` mode")
    updated_at: dt.datetime | None = Field(None, description="Empty while the defaults stand")
    targets: int | None = Field(None, description="Targets written when recomputed")


class ClassificationRunOut(Schema):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    parts: int
    changed: int


class MatrixCellOut(Schema):
    abc: str
    other: str
    parts: int
    usage_value: Decimal
    share: float


class MatrixOut(Schema):
    abc_sbc: list[MatrixCellOut]
    abc_xyz: list[MatrixCellOut]
    parts: int
    usage_value: Decimal


class ForecastRunOut(Schema):
    id: int
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    origin: dt.date
    horizon: int
    total: int
    done: int
    error: str


class ForecastQueuedOut(Schema):
    run_id: int | None = Field(None, description="Not known yet: the run is queued")
    status: str


class HistoryPointOut(Schema):
    month: dt.date
    quantity: int


class ChartMonthOut(Schema):
    month: dt.date
    mean: float
    p50: int
    p90: int
    p95: int


class InstalledBaseOut(Schema):
    month: dt.date
    mean: float


class DemandEventOut(Schema):
    id: int
    name: str
    kind: str
    part: str | None
    product_model: str | None
    starts_on: dt.date
    ends_on: dt.date
    factor: Decimal
    extra_units: Decimal
    is_active: bool
    created_at: dt.datetime


class OverrideOut(Schema):
    id: int
    part: str
    location: str | None
    starts_on: dt.date
    ends_on: dt.date
    quantity: Decimal
    reason: str
    author: str
    created_at: dt.datetime
    expires_at: dt.datetime
    withdrawn_at: dt.datetime | None


class ChartEventOut(Schema):
    id: int
    name: str
    kind: str
    starts_on: dt.date
    ends_on: dt.date
    factor: Decimal
    extra_units: Decimal
    for_model: bool


class ChartOverrideOut(Schema):
    id: int
    starts_on: dt.date
    ends_on: dt.date
    quantity: Decimal
    reason: str
    author: str
    location: str | None
    expires_at: dt.datetime


class DemandPeriodOut(Schema):
    start: dt.date
    quantity: int | None = Field(
        description="Issues minus returns; null for a week before the ledger began."
    )


class DemandSeriesOut(Schema):
    part: str
    bucket: str
    location: str | None
    ledger_since: dt.date | None
    periods: list[DemandPeriodOut]


class ForecastChartOut(Schema):
    part: str
    method: str
    sbc_class: str
    history: list[HistoryPointOut]
    forecast: list[ChartMonthOut]
    installed_base: list[InstalledBaseOut]
    events: list[ChartEventOut]
    overrides: list[ChartOverrideOut]


class AccuracyFiguresOut(Schema):
    actual: float
    forecast: float
    wape: float | None
    accuracy: float | None
    bias: float | None
    rows: int


class AccuracyMonthOut(AccuracyFiguresOut):
    month: dt.date


class AccuracyGroupOut(Schema):
    key: str
    by_month: list[AccuracyMonthOut]
    total: AccuracyFiguresOut


class AccuracyOut(Schema):
    by: str
    months: list[dt.date]
    groups: list[AccuracyGroupOut]


class OrderLineOut(Schema):
    id: int
    part: str
    quantity: int
    unit_price: Decimal
    received_quantity: int
    reason: dict[str, Any]


class PurchaseOrderOut(Schema):
    number: str
    supplier: str
    supplier_name: str
    location: str
    status: str
    created_at: dt.datetime
    approved_at: dt.datetime | None
    expected_on: dt.date | None
    currency: str
    note: str
    lines: list[OrderLineOut]


class SuggestionsOut(Schema):
    targets: int | None = Field(None, description="Targets written, when recomputed")
    orders: list[str]
    transfers: list[str]
    created: int
    updated: int
    removed: int
    shortfalls: list[dict[str, Any]]
    without_source: list[str]


class PendingOut(Schema):
    orders: list[PurchaseOrderOut]
    transfers: list[TransferOut]


class CurvePointOut(Schema):
    level: float | None
    fill_rate: float | None
    stock_value: float
    per_point: float | None


class CurveClassOut(Schema):
    project: list[CurvePointOut]
    naive: list[CurvePointOut]
    current: CurvePointOut | None


class CurveOut(Schema):
    levels: list[float]
    months: int
    fit_months: int
    parts: int
    classes: dict[str, CurveClassOut]


# --- look-ups -------------------------------------------------------------------------------


def _key(value: str, max_length: int) -> str | None:
    """A code or number from a path, or None when it cannot name a record (too long, or with
    a NUL character, which PostgreSQL refuses to compare). A look-up that finds nothing names
    the field, never the value: it could be any record's number, a case's included."""
    if not value or len(value) > max_length or "\x00" in value:
        return None
    return value


def _moment(value: dt.datetime, field: str) -> dt.datetime:
    """An input time as an aware UTC datetime (naive: local time); 422 when it lies outside
    what can be stored."""
    try:
        aware = timezone.make_aware(value) if timezone.is_naive(value) else value
        return aware.astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise ApplicationError(
            "invalid_input", "Not a usable time.", details={field: value.isoformat()}, status=422
        ) from exc


def _part(number: str) -> Part:
    key = _key(number, 40)
    part = Part.objects.filter(number=key.upper()).first() if key else None
    if part is None:
        raise NotFound("unknown_part", "No such part.", details={"field": "part"})
    return part


def _location(code: str) -> Location:
    key = _key(code, 30)
    location = Location.objects.filter(code=key.upper()).first() if key else None
    if location is None:
        raise NotFound("unknown_location", "No such location.", details={"field": "location"})
    return location


def _supplier(code: str) -> Supplier:
    key = _key(code, 30)
    supplier = Supplier.objects.filter(code=key.upper()).first() if key else None
    if supplier is None:
        raise NotFound("unknown_supplier", "No such supplier.", details={"field": "supplier"})
    return supplier


def _case(user: User, number: str) -> Case:
    """The case by number within the user's case scope (404 `unknown_case` otherwise)."""
    case = (
        case_queryset_for(user).select_related("customer").filter(number=number.upper()).first()
        if CASE_NUMBER.match(number)
        else None
    )
    if case is None:
        # The number is not echoed: a case outside the scope gives nothing away.
        raise NotFound("unknown_case", "No such case in your reach.")
    return case


def reservation_for(user: User, pk: int) -> Reservation:
    """The reservation `pk` if the user reaches it (see the module docstring), else 404."""
    qs = Reservation.objects.select_related("case", "part", "location")
    reservation = selectors.case_stock_for(user, qs).filter(pk=pk).first()
    if reservation is None:
        raise NotFound("unknown_reservation", "No such reservation.", details={"id": pk})
    return reservation


def _backorder_for(user: User, pk: int) -> Backorder:
    qs = Backorder.objects.select_related("case", "part", "location")
    backorder = selectors.case_stock_for(user, qs).filter(pk=pk).first()
    if backorder is None:
        raise NotFound("unknown_backorder", "No such backorder.", details={"id": pk})
    return backorder


def _transfer(number: str) -> Transfer:
    key = _key(number, 20)
    transfer = (
        Transfer.objects.select_related("source", "destination").filter(number=key.upper()).first()
        if key
        else None
    )
    if transfer is None:
        raise NotFound("unknown_transfer", "No such transfer.", details={"field": "number"})
    return transfer


def _count(number: str) -> CycleCount:
    key = _key(number, 20)
    count = (
        CycleCount.objects.select_related("location").filter(number=key.upper()).first()
        if key
        else None
    )
    if count is None:
        raise NotFound("unknown_count", "No such count.", details={"field": "number"})
    return count


# --- serialisation --------------------------------------------------------------------------


def _ref(user: User | None) -> dict[str, Any] | None:
    return {"id": user.pk, "name": user.label} if user else None


def _part_out(part: Part) -> dict[str, Any]:
    return {
        "number": part.number,
        "name_zh": part.name_zh,
        "name_en": part.name_en,
        "is_critical": part.is_critical,
        "is_repairable": part.is_repairable,
        "is_active": part.is_active,
        "unit_cost": part.unit_cost,
        "currency": part.currency,
        "superseded_by": part.superseded_by.number if part.superseded_by else None,
        "abc_class": part.abc_class,
        "xyz_class": part.xyz_class,
        "sbc_class": part.sbc_class,
    }


def _forecast_summary(part: Part) -> dict[str, Any] | None:
    """The part's network forecast from the latest finished run, month by month."""
    forecast = selectors.forecast_latest(part)
    if forecast is None:
        return None
    return {
        "run_id": forecast.run_id,
        "origin": forecast.run.origin,
        "method": forecast.method,
        "sbc_class": forecast.sbc_class,
        "months": [
            {"month": m["month"], "mean": m["mean"], "p90": m.get("p90")} for m in forecast.months
        ],
    }


def _part_detail(user: User, part: Part) -> dict[str, Any]:
    part = Part.objects.select_related("superseded_by").get(pk=part.pk)
    # Suppliers and their prices are purchasing data: only for those who see suppliers.
    sources = (
        part.sources.select_related("supplier") if user.has_perm("parts.view_supplier") else []
    )
    return {
        **_part_out(part),
        "usage_per_repair": part.usage_per_repair,
        "supersedes": [p.number for p in part.supersedes.order_by("number")],
        "compatible_models": [m.code for m in part.compatible_models.order_by("code")],
        "classified_at": part.classified_at,
        "sources": [
            {
                "supplier": s.supplier.code,
                "supplier_name": s.supplier.name,
                "lead_time_days": s.lead_time_days,
                "min_order_qty": s.min_order_qty,
                "order_multiple": s.order_multiple,
                "unit_price": s.unit_price,
                "is_preferred": s.is_preferred,
            }
            for s in sources
        ],
        "availability": selectors.part_availability(part),
        "forecast": _forecast_summary(part) if user.has_perm("parts.view_forecast") else None,
    }


def _location_out(location: Location) -> dict[str, Any]:
    return {
        "code": location.code,
        "name": location.name,
        "kind": location.kind,
        "region": location.region,
        "supplied_from": location.supplied_from.code if location.supplied_from else None,
        "transfer_days": location.transfer_days,
        "is_active": location.is_active,
    }


def _movements_out(user: User, movements: list[StockMovement]) -> list[dict[str, Any]]:
    """Ledger rows; a row's case number only where the reader reaches the case."""
    case_ids = {m.case_id for m in movements if m.case_id}
    if case_ids and not user.has_perm("parts.move_stock"):
        case_ids = set(case_queryset_for(user).filter(pk__in=case_ids).values_list("pk", flat=True))
    return [
        {
            "id": m.pk,
            "kind": m.kind,
            "part": m.part.number,
            "location": m.location.code,
            "stock_kind": m.stock_kind,
            "quantity": m.quantity,
            "reserved_change": m.reserved_change,
            "in_transit_change": m.in_transit_change,
            "on_hand_after": m.on_hand_after,
            "reserved_after": m.reserved_after,
            "in_transit_after": m.in_transit_after,
            "unit_cost": m.unit_cost,
            "occurred_at": m.occurred_at,
            "actor": _ref(m.actor),
            "case": m.case.number if m.case and m.case_id in case_ids else None,
            "reservation_id": m.reservation_id,
            "transfer": m.transfer.number if m.transfer else None,
            "purchase_order": m.purchase_order.number if m.purchase_order else None,
            "reason": m.reason,
            "note": m.note,
        }
        for m in movements
    ]


_MOVEMENT_RELATED = ("part", "location", "actor", "case", "transfer", "purchase_order")


def _movement_rows(user: User, pks: list[int]) -> list[dict[str, Any]]:
    movements = StockMovement.objects.select_related(*_MOVEMENT_RELATED).filter(pk__in=pks)
    return _movements_out(user, list(movements.order_by("occurred_at", "id")))


def _reservation_out(reservation: Reservation) -> dict[str, Any]:
    r = Reservation.objects.select_related("case", "part", "location").get(pk=reservation.pk)
    return _reservation_row(r)


def _reservation_row(r: Reservation) -> dict[str, Any]:
    return {
        "id": r.pk,
        "case": r.case.number,
        "part": r.part.number,
        "location": r.location.code,
        "stock_kind": r.stock_kind,
        "quantity": r.quantity,
        "issued_quantity": r.issued_quantity,
        "returned_quantity": r.returned_quantity,
        "open_quantity": r.open_quantity,
        "status": r.status,
        "tier": r.tier,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "closed_at": r.closed_at,
    }


def _backorder_row(b: Backorder) -> dict[str, Any]:
    try:
        reservation_id: int | None = b.reservation.pk
    except Reservation.DoesNotExist:
        reservation_id = None  # still waiting, or cancelled
    return {
        "id": b.pk,
        "case": b.case.number,
        "part": b.part.number,
        "location": b.location.code,
        "quantity": b.quantity,
        "tier": b.tier,
        "sla_due_at": b.sla_due_at,
        "kinds": list(b.kinds),
        "status": b.status,
        "created_at": b.created_at,
        "closed_at": b.closed_at,
        "reservation_id": reservation_id,
    }


_BACKORDER_RELATED = ("case", "part", "location", "reservation")


def _backorder_out(backorder: Backorder) -> dict[str, Any]:
    return _backorder_row(
        Backorder.objects.select_related(*_BACKORDER_RELATED).get(pk=backorder.pk)
    )


_TRANSFER_LINES = Prefetch("lines", queryset=TransferLine.objects.select_related("part"))


def _transfer_row(t: Transfer) -> dict[str, Any]:
    """A transfer read with its source, destination and lines (`_TRANSFER_LINES`)."""
    return {
        "number": t.number,
        "source": t.source.code,
        "destination": t.destination.code,
        "status": t.status,
        "created_at": t.created_at,
        "shipped_at": t.shipped_at,
        "received_at": t.received_at,
        "reason": t.reason or {},
        "note": t.note,
        "lines": [
            {
                "id": line.pk,
                "part": line.part.number,
                "stock_kind": line.stock_kind,
                "quantity": line.quantity,
                "received_quantity": line.received_quantity,
            }
            for line in t.lines.all()
        ],
    }


def _transfers(qs: QuerySet[Transfer]) -> QuerySet[Transfer]:
    return qs.select_related("source", "destination").prefetch_related(_TRANSFER_LINES)


def _transfer_out(transfer: Transfer) -> dict[str, Any]:
    return _transfer_row(_transfers(Transfer.objects.filter(pk=transfer.pk)).get())


def _count_out(count: CycleCount) -> dict[str, Any]:
    c = CycleCount.objects.select_related("location").get(pk=count.pk)
    return {
        "number": c.number,
        "location": c.location.code,
        "status": c.status,
        "created_at": c.created_at,
        "posted_at": c.posted_at,
        "lines": [
            {
                "id": line.pk,
                "part": line.part.number,
                "stock_kind": line.stock_kind,
                "expected": line.expected,
                "counted": line.counted,
                "counted_at": line.counted_at,
            }
            for line in c.lines.select_related("part")
        ],
    }


def _movement_created(request: HttpRequest, movement: StockMovement) -> Any:
    return Reply(201, _movement_rows(request_user(request), [movement.pk])[0])


# --- catalogue ------------------------------------------------------------------------------


@router.get("", response=PartListOut, summary="Parts: search by number or name, filter by class")
def part_list(request: HttpRequest, filters: Query[PartQuery]) -> dict[str, Any]:
    require_perm(request_user(request), "parts.view_part")
    qs = selectors.part_search(
        q=filters.q,
        critical=filters.critical,
        abc_class=filters.abc or "",
        sbc_class=filters.sbc or "",
    ).select_related("superseded_by")
    page = qs[filters.offset : filters.offset + filters.limit]
    return {
        "count": qs.count(),
        "items": [
            {
                **_part_out(p),
                **{f: getattr(p, f"stock_{f}") for f in _STOCK_FIGURES},
            }
            for p in page
        ],
    }


@router.post("", response={201: PartDetailOut}, summary="Add a part to the catalogue")
def part_create(request: HttpRequest, payload: PartCreateIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.add_part")
    codes = set(payload.compatible_models)
    models = list(ProductModel.objects.filter(code__in=codes))
    unknown = sorted(codes - {m.code for m in models})
    if unknown:
        raise ApplicationError(
            "unknown_model",
            "No such product model.",
            details={"field": "compatible_models", "unknown": len(unknown)},
            status=422,
        )
    part = services.part_create(
        actor=user,
        number=payload.number,
        name_zh=payload.name_zh,
        name_en=payload.name_en,
        unit_cost=payload.unit_cost,
        is_critical=payload.is_critical,
        is_repairable=payload.is_repairable,
        compatible_models=models,
        usage_per_repair=payload.usage_per_repair,
    )
    return Reply(201, _part_detail(user, part))


# --- locations and the ledger ---------------------------------------------------------------


@router.get("/locations", response=list[LocationOut], summary="Stock locations")
def location_list(request: HttpRequest) -> list[dict[str, Any]]:
    require_perm(request_user(request), "parts.view_location")
    return [_location_out(loc) for loc in Location.objects.select_related("supplied_from")]


@router.get(
    "/locations/{code}/stock", response=list[BalanceOut], summary="Balances at one location"
)
def location_stock(request: HttpRequest, code: str) -> list[dict[str, Any]]:
    require_perm(request_user(request), "parts.view_stockbalance")
    location = _location(code)
    balances = (
        StockBalance.objects.select_related("part")
        .filter(location=location)
        .filter(Q(on_hand__gt=0) | Q(in_transit__gt=0))
        .order_by("part__number", "kind")
    )
    return [
        {
            "part": b.part.number,
            "part_name": b.part.name_en,
            "kind": b.kind,
            "on_hand": b.on_hand,
            "reserved": b.reserved,
            "available": b.available,
            "in_transit": b.in_transit,
        }
        for b in balances
    ]


@router.get("/ledger", response=MovementListOut, summary="Stock movements, newest first")
def ledger(request: HttpRequest, filters: Query[LedgerQuery]) -> dict[str, Any]:
    user = request_user(request)
    require_perm(user, "parts.view_stockmovement")
    qs = StockMovement.objects.select_related(*_MOVEMENT_RELATED).order_by("-occurred_at", "-id")
    if filters.part is not None:
        qs = qs.filter(part=_part(filters.part))
    if filters.location is not None:
        qs = qs.filter(location=_location(filters.location))
    if filters.kind is not None:
        qs = qs.filter(kind=filters.kind)
    if filters.since is not None:
        qs = qs.filter(occurred_at__date__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(occurred_at__date__lte=filters.until)
    page = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "items": _movements_out(user, page)}


# --- reservations and backorders ------------------------------------------------------------


@router.post(
    "/reservations",
    response={201: ReservationOut, 202: BackorderOut},
    summary="Reserve a part for a case (202: short, waiting as a backorder)",
)
def reservation_create(request: HttpRequest, payload: ReserveIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.reserve_part")
    case = _case(user, payload.case)
    result = services.stock_reserve(
        actor=user,
        case=case,
        part=_part(payload.part),
        location=_location(payload.location),
        quantity=payload.quantity,
        kinds=list(payload.kinds) if payload.kinds else None,
        backorder=payload.backorder,
    )
    if result.reservation is not None:
        return Reply(201, _reservation_out(result.reservation))
    assert result.backorder is not None  # the service returns one or the other
    return Reply(202, _backorder_out(result.backorder))


@router.get("/reservations", response=ReservationListOut, summary="Reservations, newest first")
def reservation_list(request: HttpRequest, filters: Query[ReservationQuery]) -> dict[str, Any]:
    user = request_user(request)
    require_perm(user, "parts.view_reservation")
    qs = selectors.case_stock_for(
        user, Reservation.objects.select_related("case", "part", "location")
    )
    if filters.case is not None:
        qs = qs.filter(case=_case(user, filters.case))
    if filters.location is not None:
        qs = qs.filter(location=_location(filters.location))
    if filters.status is not None:
        qs = qs.filter(status=filters.status)
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "items": [_reservation_row(r) for r in page]}


@router.post(
    "/reservations/{reservation_id}/issue",
    response=MovementOut,
    summary="Issue reserved parts to the case's repair",
)
def reservation_issue(request: HttpRequest, reservation_id: RecordId, payload: IssueIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.reserve_part")
    movement = services.stock_issue(
        actor=user, reservation=reservation_for(user, reservation_id), quantity=payload.quantity
    )
    return _movement_rows(user, [movement.pk])[0]


@router.post(
    "/reservations/{reservation_id}/release",
    response=ReservationOut,
    summary="Release what is still reserved",
)
def reservation_release(request: HttpRequest, reservation_id: RecordId) -> Any:
    user = request_user(request)
    require_perm(user, "parts.reserve_part")
    reservation = services.reservation_release(
        actor=user, reservation=reservation_for(user, reservation_id)
    )
    return _reservation_out(reservation)


@router.post(
    "/reservations/{reservation_id}/return",
    response=MovementOut,
    summary="Take unused issued parts back into stock",
)
def reservation_return(request: HttpRequest, reservation_id: RecordId, payload: ReturnIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.reserve_part")
    movement = services.stock_return(
        actor=user, reservation=reservation_for(user, reservation_id), quantity=payload.quantity
    )
    return _movement_rows(user, [movement.pk])[0]


@router.get(
    "/backorders",
    response=BackorderListOut,
    summary="Waiting backorders in the order they are served (VIP first, then SLA due)",
)
def backorder_list(request: HttpRequest, filters: Query[BackorderQuery]) -> dict[str, Any]:
    user = request_user(request)
    require_perm(user, "parts.view_backorder")
    qs = selectors.case_stock_for(
        user,
        Backorder.objects.select_related(*_BACKORDER_RELATED).filter(
            status=Backorder.Status.WAITING
        ),
    )
    if filters.part is not None:
        qs = qs.filter(part=_part(filters.part))
    if filters.location is not None:
        qs = qs.filter(location=_location(filters.location))
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "items": [_backorder_row(b) for b in page]}


@router.post(
    "/backorders/{backorder_id}/cancel", response=BackorderOut, summary="Cancel a backorder"
)
def backorder_cancel(request: HttpRequest, backorder_id: RecordId) -> Any:
    user = request_user(request)
    require_perm(user, "parts.reserve_part")
    backorder = services.backorder_cancel(actor=user, backorder=_backorder_for(user, backorder_id))
    return _backorder_out(backorder)


# --- receipts, adjustments, scrap, defective parts ------------------------------------------


@router.post("/receipts", response={201: MovementOut}, summary="Receive stock")
def receipt_create(request: HttpRequest, payload: ReceiptIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_receive(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        quantity=payload.quantity,
        kind=payload.kind,
        unit_cost=payload.unit_cost,
        supplier=_supplier(payload.supplier) if payload.supplier else None,
        note=payload.note,
    )
    return _movement_created(request, movement)


@router.post("/adjustments", response={201: MovementOut}, summary="Adjust a balance, with reason")
def adjustment_create(request: HttpRequest, payload: AdjustmentIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_adjust(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        kind=payload.kind,
        quantity=payload.quantity,
        reason=AdjustmentReason(payload.reason),
        note=payload.note,
    )
    return _movement_created(request, movement)


@router.post("/scrap", response={201: MovementOut}, summary="Scrap stock")
def scrap_create(request: HttpRequest, payload: ScrapIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_scrap(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        kind=payload.kind,
        quantity=payload.quantity,
        note=payload.note,
    )
    return _movement_created(request, movement)


@router.post(
    "/defective", response={201: MovementOut}, summary="Take a defective part back from repair"
)
def defective_in(request: HttpRequest, payload: DefectiveIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_defective_in(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        quantity=payload.quantity,
        case=_case(user, payload.case) if payload.case else None,
    )
    return _movement_created(request, movement)


@router.post(
    "/defective/return",
    response={201: MovementOut},
    summary="Return defective parts to the supplier",
)
def defective_return(request: HttpRequest, payload: DefectiveReturnIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_defective_return(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        quantity=payload.quantity,
        supplier=_supplier(payload.supplier),
    )
    return _movement_created(request, movement)


@router.post(
    "/refurbish",
    response={201: MovementOut},
    summary="Book repaired defective parts as refurbished stock",
)
def refurbish(request: HttpRequest, payload: RefurbishIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    movement = services.stock_refurbish(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location),
        quantity=payload.quantity,
    )
    return _movement_created(request, movement)


# --- transfers ------------------------------------------------------------------------------


@router.post("/transfers", response={201: TransferOut}, summary="Move stock between locations")
def transfer_create(request: HttpRequest, payload: TransferIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    transfer = services.transfer_create(
        actor=user,
        source=_location(payload.source),
        destination=_location(payload.destination),
        lines=[(_part(line.part), line.kind, line.quantity) for line in payload.lines],
        ship=payload.ship,
        note=payload.note,
    )
    return Reply(201, _transfer_out(transfer))


@router.get("/transfers", response=TransferListOut, summary="Transfers, newest first")
def transfer_list(request: HttpRequest, filters: Query[TransferQuery]) -> dict[str, Any]:
    require_perm(request_user(request), "parts.view_transfer")
    qs = Transfer.objects.all()
    if filters.status is not None:
        qs = qs.filter(status=filters.status)
    if filters.location is not None:
        location = _location(filters.location)
        qs = qs.filter(Q(source=location) | Q(destination=location))
    page = _transfers(qs)[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "items": [_transfer_row(t) for t in page]}


@router.post("/transfers/{number}/ship", response=TransferOut, summary="Ship a transfer")
def transfer_ship(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    return _transfer_out(services.transfer_ship(actor=user, transfer=_transfer(number)))


@router.post(
    "/transfers/{number}/receive",
    response=TransferOut,
    summary="Receive a transfer (short receipts per line)",
)
def transfer_receive(request: HttpRequest, number: str, payload: TransferReceiveIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    received = (
        {line.line: line.quantity for line in payload.received}
        if payload.received is not None
        else None
    )
    transfer = services.transfer_receive(actor=user, transfer=_transfer(number), received=received)
    return _transfer_out(transfer)


@router.post(
    "/transfers/{number}/cancel", response=TransferOut, summary="Cancel a suggested transfer"
)
def transfer_cancel(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    return _transfer_out(services.transfer_cancel(actor=user, transfer=_transfer(number)))


# --- cycle counts ---------------------------------------------------------------------------


@router.post("/counts", response={201: CountOut}, summary="Open a cycle count at a location")
def count_open(request: HttpRequest, payload: CountIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    count = services.count_open(
        actor=user,
        location=_location(payload.location),
        parts=[_part(n) for n in payload.parts] if payload.parts is not None else None,
        kinds=tuple(payload.kinds),
    )
    return Reply(201, _count_out(count))


@router.post(
    "/counts/{number}/lines/{line_id}", response=CountOut, summary="Record a counted quantity"
)
def count_record(request: HttpRequest, number: str, line_id: RecordId, payload: CountLineIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    count = _count(number)
    line = CycleCountLine.objects.filter(count=count, pk=line_id).first()
    if line is None:
        raise NotFound("unknown_count_line", "No such count line.", details={"line": line_id})
    services.count_record(actor=user, line=line, counted=payload.counted)
    return _count_out(count)


@router.post(
    "/counts/{number}/post",
    response=CountPostedOut,
    summary="Post a count: book the differences as adjustments",
)
def count_post(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    count = _count(number)
    movements = services.count_post(actor=user, count=count)
    return {
        "count": _count_out(count),
        "movements": _movement_rows(user, [m.pk for m in movements]),
    }


# --- planning -------------------------------------------------------------------------------


def _run_out(run: ForecastRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "origin": run.origin,
        "horizon": run.horizon,
        "total": run.total,
        "done": run.done,
        "error": run.error,
    }


def _event_out(event: DemandEvent) -> dict[str, Any]:
    e = DemandEvent.objects.select_related("part", "product_model").get(pk=event.pk)
    return {
        "id": e.pk,
        "name": e.name,
        "kind": e.kind,
        "part": e.part.number if e.part else None,
        "product_model": e.product_model.code if e.product_model else None,
        "starts_on": e.starts_on,
        "ends_on": e.ends_on,
        "factor": e.factor,
        "extra_units": e.extra_units,
        "is_active": e.is_active,
        "created_at": e.created_at,
    }


def _override_out(override: ForecastOverride) -> dict[str, Any]:
    o = ForecastOverride.objects.select_related("part", "location", "author").get(pk=override.pk)
    return {
        "id": o.pk,
        "part": o.part.number,
        "location": o.location.code if o.location else None,
        "starts_on": o.starts_on,
        "ends_on": o.ends_on,
        "quantity": o.quantity,
        "reason": o.reason,
        "author": o.author.label,
        "created_at": o.created_at,
        "expires_at": o.expires_at,
        "withdrawn_at": o.withdrawn_at,
    }


@router.post(
    "/classification/run",
    response={201: ClassificationRunOut},
    summary="Classify every part now (ABC, XYZ, demand pattern)",
)
def classification_run(request: HttpRequest) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    run = planning.classification_run(actor=user)
    return Reply(
        201,
        {
            "id": run.pk,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "parts": run.parts,
            "changed": run.changed,
        },
    )


@router.get(
    "/classification/matrix",
    response=MatrixOut,
    summary="Parts and usage value per ABC class and demand pattern / XYZ class",
)
def classification_matrix(request: HttpRequest) -> Any:
    require_perm(request_user(request), "parts.view_stockpolicy")
    return selectors.classification_matrix()


@router.post(
    "/forecasts/run",
    response={201: ForecastRunOut, 202: ForecastQueuedOut},
    summary="Start a forecast run (201 when it ran here, 202 when queued for a worker)",
)
def forecast_start(request: HttpRequest) -> Any:
    require_perm(request_user(request), "parts.plan_parts")
    # Through the task, as the scheduled run. In the embedded default it runs in this process
    # (a failure propagates); with a worker there is no result backend to ask, so the run is
    # found in `GET /forecasts/runs` once it started.
    result = parts_forecast_task.delay()
    if isinstance(result, EagerResult):
        return Reply(201, _run_out(ForecastRun.objects.get(pk=result.result)))
    return Reply(202, {"run_id": None, "status": "queued"})


@router.get("/forecasts/runs", response=list[ForecastRunOut], summary="The latest forecast runs")
def forecast_run_list(request: HttpRequest) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    return [_run_out(run) for run in ForecastRun.objects.order_by("-started_at", "-id")[:20]]


@router.get(
    "/forecasts/runs/{run_id}", response=ForecastRunOut, summary="A forecast run and its progress"
)
def forecast_run_detail(request: HttpRequest, run_id: RecordId) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    run = ForecastRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound("unknown_run", "No such forecast run.", details={"id": run_id})
    return _run_out(run)


@router.post("/events", response={201: DemandEventOut}, summary="Record a demand event")
def event_create(request: HttpRequest, payload: EventIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    model = None
    if payload.product_model is not None:
        model = ProductModel.objects.filter(code=payload.product_model).first()
        if model is None:
            raise NotFound(
                "unknown_model",
                "No such product model.",
                details={"field": "product_model"},
            )
    event = planning.demand_event_create(
        actor=user,
        name=payload.name,
        kind=payload.kind,
        part=_part(payload.part) if payload.part is not None else None,
        product_model=model,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        factor=payload.factor,
        extra_units=payload.extra_units,
    )
    return Reply(201, _event_out(event))


@router.delete("/events/{event_id}", response=DemandEventOut, summary="Withdraw a demand event")
def event_withdraw(request: HttpRequest, event_id: RecordId) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    event = DemandEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("unknown_event", "No such demand event.", details={"id": event_id})
    return _event_out(planning.demand_event_withdraw(actor=user, event=event))


@router.post("/overrides", response={201: OverrideOut}, summary="Override a part's forecast")
def override_create(request: HttpRequest, payload: OverrideIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    override = planning.forecast_override_create(
        actor=user,
        part=_part(payload.part),
        location=_location(payload.location) if payload.location is not None else None,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        quantity=payload.quantity,
        reason=payload.reason,
        expires_at=_moment(payload.expires_at, "expires_at"),
    )
    return Reply(201, _override_out(override))


@router.delete(
    "/overrides/{override_id}", response=OverrideOut, summary="Withdraw a forecast override"
)
def override_withdraw(request: HttpRequest, override_id: RecordId) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    override = ForecastOverride.objects.filter(pk=override_id).first()
    if override is None:
        raise NotFound("unknown_override", "No such override.", details={"id": override_id})
    return _override_out(planning.forecast_override_withdraw(actor=user, override=override))


@router.get(
    "/accuracy",
    response=AccuracyOut,
    summary="Forecast accuracy (1 - WAPE) and bias per group and month",
)
def accuracy(request: HttpRequest, filters: Query[AccuracyQuery]) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    return selectors.accuracy_summary(
        by=filters.by, months=filters.months, lead_months=filters.lead_months
    )


# --- replenishment --------------------------------------------------------------------------


def _order(number: str) -> PurchaseOrder:
    key = _key(number, 20)
    order = PurchaseOrder.objects.filter(number=key.upper()).first() if key else None
    if order is None:
        raise NotFound("unknown_order", "No such purchase order.", details={"field": "number"})
    return order


def _order_row(o: PurchaseOrder) -> dict[str, Any]:
    """A purchase order read with its supplier, location and lines (with their parts)."""
    return {
        "number": o.number,
        "supplier": o.supplier.code,
        "supplier_name": o.supplier.name,
        "location": o.location.code,
        "status": o.status,
        "created_at": o.created_at,
        "approved_at": o.approved_at,
        "expected_on": o.expected_on,
        "currency": o.currency,
        "note": o.note,
        "lines": [
            {
                "id": line.pk,
                "part": line.part.number,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "received_quantity": line.received_quantity,
                "reason": line.reason or {},
            }
            for line in o.lines.all()
        ],
    }


def _order_out(order: PurchaseOrder) -> dict[str, Any]:
    return _order_row(
        PurchaseOrder.objects.select_related("supplier", "location")
        .prefetch_related(
            Prefetch("lines", queryset=PurchaseOrderLine.objects.select_related("part"))
        )
        .get(pk=order.pk)
    )


@router.post(
    "/replenishment/suggest",
    response=SuggestionsOut,
    summary="Propose purchase orders and transfers for parts at or below their reorder point",
)
def replenishment_suggest(request: HttpRequest, payload: SuggestIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.plan_parts")
    targets = replenishment.targets_compute(actor=user) if payload.recompute_targets else None
    result = replenishment.replenishment_suggest(actor=user)
    numbers = dict(Part.objects.filter(pk__in=result.without_source).values_list("pk", "number"))
    return {
        "targets": targets,
        "orders": [o.number for o in result.orders],
        "transfers": [t.number for t in result.transfers],
        "created": result.created,
        "updated": result.updated,
        "removed": result.removed,
        "shortfalls": result.shortfalls,
        "without_source": [numbers[pk] for pk in result.without_source if pk in numbers],
    }


@router.get(
    "/replenishment/pending",
    response=PendingOut,
    summary="Draft purchase orders and suggested transfers waiting for approval",
)
def replenishment_pending(request: HttpRequest) -> Any:
    require_perm(request_user(request), "parts.view_purchaseorder")
    pending = selectors.suggestions_pending()
    return {
        "orders": [_order_row(o) for o in pending["orders"]],
        "transfers": [_transfer_row(t) for t in pending["transfers"]],
    }


@router.post(
    "/purchase-orders/{number}/approve", response=PurchaseOrderOut, summary="Approve a draft"
)
def order_approve(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.approve_replenishment")
    return _order_out(replenishment.purchase_order_approve(actor=user, order=_order(number)))


@router.post(
    "/purchase-orders/{number}/cancel",
    response=PurchaseOrderOut,
    summary="Cancel a draft, or an approved order nothing of which arrived",
)
def order_cancel(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.approve_replenishment")
    return _order_out(replenishment.purchase_order_cancel(actor=user, order=_order(number)))


@router.patch(
    "/purchase-orders/{number}/lines/{line_id}",
    response=PurchaseOrderOut,
    summary="Change a draft line's quantity",
)
def order_line_set(
    request: HttpRequest, number: str, line_id: RecordId, payload: LineQuantityIn
) -> Any:
    user = request_user(request)
    require_perm(user, "parts.approve_replenishment")
    order = _order(number)
    line = PurchaseOrderLine.objects.filter(order=order, pk=line_id).first()
    if line is None:
        raise NotFound("unknown_line", "No such order line.", details={"line": line_id})
    replenishment.purchase_order_line_set(actor=user, line=line, quantity=payload.quantity)
    return _order_out(order)


@router.post(
    "/purchase-orders/{number}/receive",
    response=PurchaseOrderOut,
    summary="Receive goods against an approved order, line by line",
)
def order_receive(request: HttpRequest, number: str, payload: OrderReceiveIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.move_stock")
    received: dict[int, int] = {}
    for line in payload.lines:
        received[line.line] = received.get(line.line, 0) + line.quantity
    order = replenishment.purchase_order_receive(
        actor=user, order=_order(number), received=received
    )
    return _order_out(order)


@router.post(
    "/transfers/{number}/approve",
    response=TransferOut,
    summary="Approve a suggested transfer (it ships at once)",
)
def transfer_approve(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.approve_replenishment")
    transfer = replenishment.transfer_suggestion_approve(actor=user, transfer=_transfer(number))
    return _transfer_out(transfer)


@router.get(
    "/service-curve",
    response=CurveOut,
    summary="Fill rate against stock value, per ABC class: this system's method and a naive one",
)
def service_curve(request: HttpRequest, filters: Query[CurveQuery]) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    curve = replenishment.service_curve(months=filters.months, lead_time=filters.lead_time)
    return {
        "levels": curve.levels,
        "months": curve.months,
        "fit_months": curve.fit_months,
        "parts": curve.parts,
        "classes": curve.classes,
    }


def _target_mode_out(settings: PartsSettings, targets: int | None = None) -> dict[str, Any]:
    return {
        "mode": settings.target_mode,
        "fill_rate": settings.system_fill_rate,
        "updated_at": settings.updated_at,
        "targets": targets,
    }


@router.get(
    "/targets/mode",
    response=TargetModeOut,
    summary="Where stock targets come from: the class policies or one network fill rate",
)
def target_mode(request: HttpRequest) -> Any:
    require_perm(request_user(request), "parts.view_stockpolicy")
    return _target_mode_out(selectors.parts_settings())


@router.put(
    "/targets/mode",
    response=TargetModeOut,
    summary="Set where stock targets come from, and recompute them",
)
def target_mode_set(request: HttpRequest, payload: TargetModeIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.change_partssettings")
    settings, targets = replenishment.target_mode_apply(
        actor=user, mode=payload.mode, fill_rate=payload.fill_rate, recompute=payload.recompute
    )
    return _target_mode_out(settings, targets)


# --- one part (declared last: `/{number}` would match the paths above) ------------------------


@router.get("/{number}", response=PartDetailOut, summary="One part: sources, stock, forecast")
def part_detail(request: HttpRequest, number: str) -> Any:
    user = request_user(request)
    require_perm(user, "parts.view_part")
    return _part_detail(user, _part(number))


@router.post(
    "/{number}/supersede", response=PartDetailOut, summary="Mark a part replaced by another"
)
def part_supersede(request: HttpRequest, number: str, payload: SupersedeIn) -> Any:
    user = request_user(request)
    require_perm(user, "parts.change_part")
    part = services.part_supersede(actor=user, part=_part(number), by=_part(payload.by))
    return _part_detail(user, part)


@router.get(
    "/{number}/demand",
    response=DemandSeriesOut,
    summary="A part's demand per month or week, network-wide or at one location",
)
def part_demand(request: HttpRequest, number: str, filters: Query[DemandQuery]) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    series = selectors.demand_series(
        part=_part(number),
        bucket=filters.bucket,
        periods=filters.periods,
        location=_location(filters.location) if filters.location is not None else None,
    )
    return {
        "part": series.part.number,
        "bucket": series.bucket,
        "location": series.location.code if series.location is not None else None,
        "ledger_since": series.ledger_since,
        "periods": [{"start": start, "quantity": q} for start, q in series.periods],
    }


@router.get(
    "/{number}/forecast",
    response=ForecastChartOut,
    summary="A part's forecast chart: demand history, forecast with quantiles, events, overrides",
)
def part_forecast(request: HttpRequest, number: str) -> Any:
    require_perm(request_user(request), "parts.view_forecast")
    part = _part(number)
    chart = selectors.part_forecast_chart(part)
    return {
        "part": part.number,
        "method": chart["method"],
        "sbc_class": chart["sbc_class"],
        "history": [{"month": m, "quantity": q} for m, q in chart["history"]],
        "forecast": [
            {"month": m, "mean": mean, "p50": p50, "p90": p90, "p95": p95}
            for m, mean, p50, p90, p95 in chart["forecast"]
        ],
        "installed_base": [{"month": m, "mean": mean} for m, mean in chart["installed_base"]],
        "events": chart["events"],
        "overrides": chart["overrides"],
    }
