"""Every write to stock and to the parts catalogue (备品配件): receipts, reservations against
cases, backorders, issues and returns, transfers, adjustments, scrap, defective parts and cycle
counts.

Each function is one transaction. A quantity changes only through `_move`, which changes the
locked balance row and appends the matching ledger row (`StockMovement`) with the balance as
it stands afterwards, so the ledger always explains the balance.

Lock order, so that concurrent requests cannot deadlock: the balance rows of every part and
location touched (all stock kinds there, in primary-key order, missing rows created first),
then reservations and backorders, then other rows, then the case events and the audit log last
(`audit_record` locks the one chain head until commit).

Backorders are served strictly by rank: tier (VIP first), then the case's SLA due time (none:
last), then the time of the request. A backorder that stock cannot fill holds back every stock
kind it accepts: nothing behind it takes stock of those kinds, even a smaller quantity it could
take, so a VIP is never overtaken. Backorders behind it that accept other kinds are still served
(refurbished stock does not sit idle behind a VIP who only takes new parts).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from aftersales.accounts.models import Team, User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.cases.services import case_event_record
from aftersales.catalog.models import ProductModel
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record, number_allocate
from aftersales.customers.models import Tier
from aftersales.sla.models import SlaClock

from . import selectors
from .models import (
    KIND_PREFERENCE,
    TIER_RANK,
    AdjustmentReason,
    Backorder,
    CycleCount,
    CycleCountLine,
    Location,
    LocationKind,
    Part,
    PartsSettings,
    PartSupplier,
    PurchaseOrder,
    Reservation,
    StockBalance,
    StockKind,
    StockMovement,
    Supplier,
    Transfer,
    TransferLine,
)

__all__ = [
    "RESERVABLE_KINDS",
    "ReserveResult",
    "backorder_cancel",
    "count_open",
    "count_post",
    "count_record",
    "location_create",
    "part_create",
    "part_source_set",
    "part_supersede",
    "parts_settings",
    "reservation_release",
    "reservations_expire",
    "stock_adjust",
    "stock_defective_in",
    "stock_defective_return",
    "stock_issue",
    "stock_receive",
    "stock_refurbish",
    "stock_reserve",
    "stock_return",
    "stock_scrap",
    "supplier_create",
    "transfer_cancel",
    "transfer_create",
    "transfer_receive",
    "transfer_ship",
]

# Kinds a case can be given; defective stock only goes back to the supplier or to refurbishing.
RESERVABLE_KINDS = (StockKind.NEW, StockKind.REFURBISHED, StockKind.LOAN)
MAX_COST = Decimal("9999999999.99")
MAX_TEXT = 500
M = StockMovement.Kind
# (tier rank, no SLA due time, due time, requested at, id): smaller is served first.
_LAST = dt.datetime.max.replace(tzinfo=dt.UTC)
Key = tuple[int, bool, dt.datetime, dt.datetime, float]
Pair = tuple[int, int]
BalanceKey = tuple[int, int, str]
Balances = dict[BalanceKey, StockBalance]
# Case events to write at the end of the transaction: (case, event data).
Events = list[tuple[Case, dict[str, Any]]]


@dataclass
class ReserveResult:
    """What a reservation request got: a reservation, or a place in the backorder queue."""

    reservation: Reservation | None
    backorder: Backorder | None


# --- helpers --------------------------------------------------------------------------------


def parts_settings() -> PartsSettings:
    """The parts department's settings row, created with defaults if missing."""
    settings = selectors.parts_settings()
    if settings.pk is None:
        settings.save()
    return settings


def _quantity(value: Any, *, field: str = "quantity") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApplicationError(
            "invalid_quantity",
            _("The quantity must be a whole number of at least 1."),
            details={field: value},
        )
    return value


def _kind(value: str, allowed: Sequence[str] = StockKind.values) -> str:
    if value not in allowed:
        raise ApplicationError(
            "invalid_kind",
            _("Unknown or unusable stock kind %(value)r.") % {"value": value},
            details={"kind": value, "allowed": list(allowed)},
        )
    return str(value)


def _kinds(values: Sequence[str]) -> list[str]:
    if not values:
        raise ApplicationError("invalid_kind", _("Name at least one stock kind."))
    kinds: list[str] = []
    for value in values:
        kind = _kind(value, RESERVABLE_KINDS)
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def _money(value: Any, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if (
        not amount.is_finite()
        or amount < 0
        or amount > MAX_COST
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise ApplicationError(
            "invalid_amount",
            _("Not an amount of money (0 or more, at most two decimal places)."),
            details={field: str(value)},
        )
    return amount.quantize(Decimal("0.01"))


def _text(value: str, *, field: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if (required and not value) or len(value) > limit:
        raise ApplicationError(
            "invalid_" + field,
            _("%(field)s is required and at most %(n)d characters.") % {"field": field, "n": limit}
            if required
            else _("At most %(n)d characters.") % {"n": limit},
            details={field: value[:50]},
        )
    return value


def _balances_lock(pairs: Iterable[Pair], create: Iterable[BalanceKey] = ()) -> Balances:
    """Lock the balance rows of every stock kind at these (part, location) pairs, creating the
    `create` rows first if missing; keyed (part id, location id, kind)."""
    pairs = set(pairs)
    now = clock.now()
    missing = [
        StockBalance(part_id=p, location_id=loc, kind=k, updated_at=now)
        for p, loc, k in sorted(set(create))
    ]
    if missing:
        StockBalance.objects.bulk_create(missing, ignore_conflicts=True)
    if not pairs:
        return {}
    where = Q()
    for part_id, location_id in sorted(pairs):
        where |= Q(part_id=part_id, location_id=location_id)
    rows = StockBalance.objects.select_for_update().filter(where).order_by("pk")
    return {(b.part_id, b.location_id, b.kind): b for b in rows}


def _available(balances: Balances, part_id: int, location_id: int, kind: str) -> int:
    balance = balances.get((part_id, location_id, kind))
    return 0 if balance is None else balance.available


def _move(
    balance: StockBalance,
    *,
    kind: str,
    at: dt.datetime,
    actor: User | None,
    cost: Decimal,
    quantity: int = 0,
    reserved_change: int = 0,
    in_transit_change: int = 0,
    **links: Any,
) -> StockMovement:
    """Change a locked balance row and append the ledger row that explains it."""
    balance.on_hand += quantity
    balance.reserved += reserved_change
    balance.in_transit += in_transit_change
    balance.updated_at = at
    balance.save(update_fields=["on_hand", "reserved", "in_transit", "updated_at"])
    return StockMovement.objects.create(
        kind=kind,
        part_id=balance.part_id,
        location_id=balance.location_id,
        stock_kind=balance.kind,
        quantity=quantity,
        reserved_change=reserved_change,
        in_transit_change=in_transit_change,
        on_hand_after=balance.on_hand,
        reserved_after=balance.reserved,
        in_transit_after=balance.in_transit,
        unit_cost=cost,
        occurred_at=at,
        actor=actor,
        **links,
    )


def _event(
    events: Events,
    case: Case,
    action: str,
    *,
    part: Part,
    location: Location,
    quantity: int,
    kind: str | None,
    reservation: Reservation | None = None,
    backorder: Backorder | None = None,
) -> None:
    data: dict[str, Any] = {
        "action": action,
        "part": part.number,
        "quantity": quantity,
        "location": location.code,
        "kind": kind,
    }
    if reservation is not None:
        data["reservation"] = reservation.pk
    if backorder is not None:
        data["backorder"] = backorder.pk
    events.append((case, data))


def _events_record(events: Events, *, actor: User | None, at: dt.datetime) -> None:
    """Write the collected case events (each mirrored to the audit log): the last writes."""
    for case, data in events:
        case_event_record(case, kind=CaseEvent.Kind.PARTS, actor=actor, at=at, data=data)


def _audit(actor: User | None, action: str, entity: str, entity_id: int, **data: Any) -> None:
    audit_record(
        actor=actor, action=f"parts.{action}", entity=entity, entity_id=entity_id, data=data
    )


def _rank(backorder: Backorder) -> Key:
    due = backorder.sla_due_at
    return (backorder.tier_rank, due is None, due or _LAST, backorder.created_at, backorder.pk)


def _waiting_lock(part: Part, location: Location) -> list[Backorder]:
    """The waiting backorders of a part at a location, locked, in the order they are served."""
    rows = (
        Backorder.objects.select_for_update(of=("self",))
        .select_related("case")
        .filter(part=part, location=location, status=Backorder.Status.WAITING)
    )
    return sorted(rows, key=_rank)


def _queue_plan(
    queue: Sequence[Backorder], available: dict[str, int]
) -> tuple[list[tuple[Backorder, str]], set[str]]:
    """Which backorders the stock `available` (per kind, updated in place) fills, in queue
    order; and the kinds held back by a backorder it could not fill (see the module doc)."""
    held: set[str] = set()
    filled: list[tuple[Backorder, str]] = []
    for backorder in queue:
        kind = next(
            (
                k
                for k in backorder.kinds
                if k not in held and available.get(k, 0) >= backorder.quantity
            ),
            None,
        )
        if kind is None:
            held.update(backorder.kinds)
            continue
        available[kind] -= backorder.quantity
        filled.append((backorder, kind))
    return filled, held


def _backorders_serve(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    balances: Balances,
    at: dt.datetime,
    events: Events,
) -> list[Reservation]:
    """Fill waiting backorders of this part and location, in rank order, from the available
    stock of the (already locked) balances; each filled one becomes a reservation."""
    queue = _waiting_lock(part, location)
    if not queue:
        return []
    available = {k: _available(balances, part.pk, location.pk, k) for k in StockKind.values}
    filled, _held = _queue_plan(queue, available)
    hours = parts_settings().reservation_hours
    reservations = []
    for backorder, kind in filled:
        reservation = Reservation.objects.create(
            part=part,
            location=location,
            stock_kind=kind,
            case=backorder.case,
            quantity=backorder.quantity,
            tier=backorder.tier,
            created_at=at,
            created_by=actor,
            expires_at=at + dt.timedelta(hours=hours),
            backorder=backorder,
        )
        _move(
            balances[(part.pk, location.pk, kind)],
            kind=M.RESERVE,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            reserved_change=backorder.quantity,
            case=backorder.case,
            reservation=reservation,
        )
        backorder.status = Backorder.Status.FILLED
        backorder.closed_at = at
        backorder.save(update_fields=["status", "closed_at"])
        _event(
            events,
            backorder.case,
            "backorder_filled",
            part=part,
            location=location,
            quantity=backorder.quantity,
            kind=kind,
            reservation=reservation,
            backorder=backorder,
        )
        reservations.append(reservation)
    return reservations


def _sla_due(case: Case) -> dt.datetime | None:
    """The case's earliest running SLA due time (none when no clock runs)."""
    return (
        SlaClock.objects.filter(case=case, state=SlaClock.State.RUNNING, due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def _reservation_refused(reservation: Reservation, code: str, message: str) -> Conflict:
    return Conflict(
        code,
        message,
        details={
            "reservation": reservation.pk,
            "status": reservation.status,
            "open_quantity": reservation.open_quantity,
        },
    )


def _reservation_lock(reservation: Reservation) -> tuple[Reservation, Balances]:
    """Lock the balances of the reservation's part and location, then the reservation."""
    pair = (reservation.part_id, reservation.location_id)
    balances = _balances_lock(
        [pair], [(reservation.part_id, reservation.location_id, reservation.stock_kind)]
    )
    locked = (
        Reservation.objects.select_for_update(of=("self",))
        .select_related("part", "location", "case")
        .get(pk=reservation.pk)
    )
    return locked, balances


def _close(reservation: Reservation, status: str, at: dt.datetime) -> None:
    reservation.status = status
    reservation.closed_at = at
    reservation.save(update_fields=["status", "closed_at"])


# --- catalogue ------------------------------------------------------------------------------


def part_create(
    *,
    actor: User | None,
    number: str,
    name_zh: str,
    name_en: str,
    unit_cost: Decimal,
    is_critical: bool = False,
    is_repairable: bool = False,
    compatible_models: Iterable[ProductModel] = (),
    usage_per_repair: Decimal = Decimal("1"),
) -> Part:
    """Add a part to the catalogue; 409 `duplicate_part` when the number is taken."""
    require_perm(actor, "parts.add_part")
    number = _text(number, field="number", required=True, limit=40).upper()
    name_zh = _text(name_zh, field="name", required=True, limit=200)
    name_en = _text(name_en, field="name", required=True, limit=200)
    cost = _money(unit_cost, field="unit_cost")
    usage = _money(usage_per_repair, field="usage_per_repair")
    if usage <= 0 or usage >= Decimal("10000"):
        raise ApplicationError(
            "invalid_amount",
            _("Parts per repair must be more than 0."),
            details={"usage_per_repair": str(usage_per_repair)},
        )
    with transaction.atomic():
        if Part.objects.filter(number=number).exists():
            raise Conflict(
                "duplicate_part",
                _("Part number %(number)s already exists.") % {"number": number},
                details={"number": number},
            )
        try:
            with transaction.atomic():
                part = Part.objects.create(
                    number=number,
                    name_zh=name_zh,
                    name_en=name_en,
                    unit_cost=cost,
                    is_critical=is_critical,
                    is_repairable=is_repairable,
                    usage_per_repair=usage,
                    created_at=clock.now(),
                )
        except IntegrityError as exc:  # a concurrent request took the number
            raise Conflict(
                "duplicate_part",
                _("Part number %(number)s already exists.") % {"number": number},
                details={"number": number},
            ) from exc
        part.compatible_models.set(list(compatible_models))
        _audit(actor, "part_create", "part", part.pk, number=number, unit_cost=str(cost))
        return part


def part_supersede(*, actor: User | None, part: Part, by: Part) -> Part:
    """Mark `part` as replaced by `by` (its demand then counts for `by`); 400
    `supersession_cycle` for itself or a part that already leads back to it."""
    require_perm(actor, "parts.change_part")
    with transaction.atomic():
        locked = Part.objects.select_for_update().get(pk=part.pk)
        seen = {locked.pk}
        step: Part | None = Part.objects.get(pk=by.pk)
        while step is not None:
            if step.pk in seen:
                raise ApplicationError(
                    "supersession_cycle",
                    _("%(by)s cannot replace %(part)s: the chain would lead back to it.")
                    % {"by": by.number, "part": part.number},
                    details={"part": part.number, "by": by.number},
                )
            seen.add(step.pk)
            step = step.superseded_by
        old = locked.superseded_by_id
        locked.superseded_by = by
        locked.save(update_fields=["superseded_by"])
        _audit(actor, "part_supersede", "part", locked.pk, old=old, new=by.pk)
        return locked


def supplier_create(*, actor: User | None, code: str, name: str, email: str = "") -> Supplier:
    """Add a supplier; 409 `duplicate_supplier` when the code is taken."""
    require_perm(actor, "parts.add_supplier")
    code = _text(code, field="code", required=True, limit=30).upper()
    name = _text(name, field="name", required=True, limit=200)
    email = _text(email, field="email", limit=254)
    with transaction.atomic():
        if Supplier.objects.filter(code=code).exists():
            raise Conflict(
                "duplicate_supplier",
                _("Supplier %(code)s already exists.") % {"code": code},
                details={"code": code},
            )
        supplier = Supplier.objects.create(code=code, name=name, email=email)
        _audit(actor, "supplier_create", "supplier", supplier.pk, code=code)
        return supplier


def part_source_set(
    *,
    actor: User | None,
    part: Part,
    supplier: Supplier,
    lead_time_days: int,
    min_order_qty: int = 1,
    order_multiple: int = 1,
    unit_price: Decimal,
    is_preferred: bool = False,
) -> PartSupplier:
    """Record (or change) who sells a part, at what price and lead time; the preferred source
    replaces any earlier preferred one."""
    require_perm(actor, "parts.change_part")
    if isinstance(lead_time_days, bool) or not isinstance(lead_time_days, int):
        raise ApplicationError("invalid_lead_time", _("The lead time is a whole number of days."))
    if not 0 <= lead_time_days <= 365:
        raise ApplicationError(
            "invalid_lead_time",
            _("The lead time is 0 to 365 days."),
            details={"lead_time_days": lead_time_days},
        )
    _quantity(min_order_qty, field="min_order_qty")
    _quantity(order_multiple, field="order_multiple")
    price = _money(unit_price, field="unit_price")
    with transaction.atomic():
        Part.objects.select_for_update().get(pk=part.pk)
        if is_preferred:
            PartSupplier.objects.filter(part=part, is_preferred=True).exclude(
                supplier=supplier
            ).update(is_preferred=False)
        source, _created = PartSupplier.objects.update_or_create(
            part=part,
            supplier=supplier,
            defaults={
                "lead_time_days": lead_time_days,
                "min_order_qty": min_order_qty,
                "order_multiple": order_multiple,
                "unit_price": price,
                "is_preferred": is_preferred,
            },
        )
        _audit(
            actor,
            "part_source_set",
            "part",
            part.pk,
            supplier=supplier.pk,
            lead_time_days=lead_time_days,
            unit_price=str(price),
            is_preferred=is_preferred,
        )
        return source


def location_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    kind: str,
    region: str = "",
    supplied_from: Location | None = None,
    team: Team | None = None,
    keeper: User | None = None,
    transfer_days: int = 2,
) -> Location:
    """Add a stock location (warehouse, outlet, van); 409 `duplicate_location`."""
    require_perm(actor, "parts.add_location")
    code = _text(code, field="code", required=True, limit=30).upper()
    name = _text(name, field="name", required=True, limit=200)
    if kind not in LocationKind.values:
        raise ApplicationError(
            "invalid_location_kind",
            _("Unknown kind of location %(value)r.") % {"value": kind},
            details={"kind": kind},
        )
    if isinstance(transfer_days, bool) or not isinstance(transfer_days, int):
        raise ApplicationError("invalid_transfer_days", _("Transfer time is a number of days."))
    if not 0 <= transfer_days <= 365:
        raise ApplicationError(
            "invalid_transfer_days",
            _("Transfer time is 0 to 365 days."),
            details={"transfer_days": transfer_days},
        )
    with transaction.atomic():
        if Location.objects.filter(code=code).exists():
            raise Conflict(
                "duplicate_location",
                _("Location %(code)s already exists.") % {"code": code},
                details={"code": code},
            )
        location = Location.objects.create(
            code=code,
            name=name,
            kind=kind,
            region=_text(region, field="region", limit=10),
            supplied_from=supplied_from,
            team=team,
            keeper=keeper,
            transfer_days=transfer_days,
        )
        _audit(actor, "location_create", "location", location.pk, code=code, kind=kind)
        return location


# --- receipts and reservations --------------------------------------------------------------


def stock_receive(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    quantity: int,
    kind: str = StockKind.NEW,
    unit_cost: Decimal | None = None,
    supplier: Supplier | None = None,
    purchase_order: PurchaseOrder | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Book stock received (入库) and serve the backorders waiting for it there."""
    require_perm(actor, "parts.move_stock")
    quantity = _quantity(quantity)
    kind = _kind(kind, RESERVABLE_KINDS)
    cost = part.unit_cost if unit_cost is None else _money(unit_cost, field="unit_cost")
    note = _text(note, field="note")
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)], [(part.pk, location.pk, kind)])
        movement = _move(
            balances[(part.pk, location.pk, kind)],
            kind=M.RECEIPT,
            at=at,
            actor=actor,
            cost=cost,
            quantity=quantity,
            supplier=supplier,
            purchase_order=purchase_order,
            note=note,
        )
        _backorders_serve(
            actor=actor, part=part, location=location, balances=balances, at=at, events=events
        )
        _events_record(events, actor=actor, at=at)
        _audit(
            actor,
            "receive",
            "part",
            part.pk,
            movement=movement.pk,
            location=location.code,
            kind=kind,
            quantity=quantity,
        )
        return movement


def stock_reserve(
    *,
    actor: User | None,
    case: Case,
    part: Part,
    location: Location,
    quantity: int,
    kinds: list[str] | None = None,
    backorder: bool = True,
    at: dt.datetime | None = None,
) -> ReserveResult:
    """Reserve parts for a case (预留), or queue the request as a backorder.

    The first stock kind (in the given order, by default the customer tier's preference) with
    enough available stock is reserved, after the stock that waiting backorders ranking ahead
    of this request would take; one kind per reservation. When none is enough the request
    becomes a backorder, or with `backorder=False` is refused (409 `insufficient_stock`).
    """
    require_perm(actor, "parts.reserve_part")
    quantity = _quantity(quantity)
    case = Case.objects.select_related("customer").get(pk=case.pk)
    tier = case.customer.tier
    kinds = _kinds(KIND_PREFERENCE[tier] if kinds is None else kinds)
    if not case.is_open:
        raise Conflict(
            "case_not_open",
            _("Parts are reserved for open cases; this one is %(status)s.")
            % {"status": str(Status(case.status).label)},
            details={"case": case.number},
        )
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)])
        due = _sla_due(case)
        rank = TIER_RANK[Tier(tier)]
        own: Key = (rank, due is None, due or _LAST, at, float("inf"))
        ahead = [b for b in _waiting_lock(part, location) if _rank(b) < own]
        available = {k: _available(balances, part.pk, location.pk, k) for k in StockKind.values}
        _filled, held = _queue_plan(ahead, available)
        kind = next((k for k in kinds if k not in held and available[k] >= quantity), None)
        if kind is not None:
            reservation = Reservation.objects.create(
                part=part,
                location=location,
                stock_kind=kind,
                case=case,
                quantity=quantity,
                tier=tier,
                created_at=at,
                created_by=actor,
                expires_at=at + dt.timedelta(hours=parts_settings().reservation_hours),
            )
            _move(
                balances[(part.pk, location.pk, kind)],
                kind=M.RESERVE,
                at=at,
                actor=actor,
                cost=part.unit_cost,
                reserved_change=quantity,
                case=case,
                reservation=reservation,
            )
            _event(
                events,
                case,
                "reserve",
                part=part,
                location=location,
                quantity=quantity,
                kind=kind,
                reservation=reservation,
            )
            _events_record(events, actor=actor, at=at)
            return ReserveResult(reservation=reservation, backorder=None)
        usable = max(0 if k in held else available[k] for k in kinds)
        if not backorder:
            raise Conflict(
                "insufficient_stock",
                _("Only %(n)d available for this request.") % {"n": max(usable, 0)},
                details={"available": max(usable, 0), "kinds": kinds, "waiting_ahead": len(ahead)},
            )
        queued = Backorder.objects.create(
            part=part,
            location=location,
            case=case,
            quantity=quantity,
            tier=tier,
            tier_rank=rank,
            sla_due_at=due,
            kinds=kinds,
            created_at=at,
            created_by=actor,
        )
        _event(
            events,
            case,
            "backorder",
            part=part,
            location=location,
            quantity=quantity,
            kind=None,
            backorder=queued,
        )
        _events_record(events, actor=actor, at=at)
        return ReserveResult(reservation=None, backorder=queued)


def _reservation_end(
    *, actor: User | None, reservation: Reservation, status: str, at: dt.datetime
) -> Reservation:
    """Give back the open quantity of a locked, active reservation and serve the queue."""
    events: Events = []
    locked, balances = _reservation_lock(reservation)
    if locked.status != Reservation.Status.ACTIVE:
        raise _reservation_refused(
            locked, "reservation_not_active", _("This reservation is no longer active.")
        )
    released = locked.open_quantity
    expired = status == Reservation.Status.EXPIRED
    _move(
        balances[(locked.part_id, locked.location_id, locked.stock_kind)],
        kind=M.EXPIRE if expired else M.RELEASE,
        at=at,
        actor=actor,
        cost=locked.part.unit_cost,
        reserved_change=-released,
        case=locked.case,
        reservation=locked,
    )
    _close(locked, status, at)
    _event(
        events,
        locked.case,
        "expire" if expired else "release",
        part=locked.part,
        location=locked.location,
        quantity=released,
        kind=locked.stock_kind,
        reservation=locked,
    )
    _backorders_serve(
        actor=actor,
        part=locked.part,
        location=locked.location,
        balances=balances,
        at=at,
        events=events,
    )
    _events_record(events, actor=actor, at=at)
    return locked


def reservation_release(
    *, actor: User | None, reservation: Reservation, at: dt.datetime | None = None
) -> Reservation:
    """Give back what a reservation still holds (the case no longer needs it); the stock goes
    to the next backorder in line. 409 `reservation_not_active`."""
    require_perm(actor, "parts.reserve_part")
    with transaction.atomic():
        return _reservation_end(
            actor=actor,
            reservation=reservation,
            status=Reservation.Status.RELEASED,
            at=at or clock.now(),
        )


def reservations_expire(*, at: dt.datetime | None = None) -> int:
    """Expire active reservations past their time (scheduled, by the system); returns how many.

    One transaction per reservation, so a long sweep holds no lock for long; one that was
    issued or released meanwhile is skipped.
    """
    at = at or clock.now()
    due = Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=at).order_by(
        "expires_at", "pk"
    )
    expired = 0
    for reservation in due:
        try:
            with transaction.atomic():
                _reservation_end(
                    actor=None, reservation=reservation, status=Reservation.Status.EXPIRED, at=at
                )
        except Conflict:
            continue  # issued or released meanwhile
        expired += 1
    return expired


def stock_issue(
    *,
    actor: User | None,
    reservation: Reservation,
    quantity: int | None = None,
    at: dt.datetime | None = None,
) -> StockMovement:
    """Issue reserved parts to the case's repair (出库领用); by default all still open.

    Only an active reservation can be issued (409 `reservation_not_active`), and no more than
    it holds (409 `exceeds_reservation`): stock nobody reserved cannot be issued. These issues
    are the demand history forecasting learns from.
    """
    require_perm(actor, "parts.reserve_part")
    if quantity is not None:
        quantity = _quantity(quantity)
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        locked, balances = _reservation_lock(reservation)
        if locked.status != Reservation.Status.ACTIVE:
            raise _reservation_refused(
                locked, "reservation_not_active", _("This reservation is no longer active.")
            )
        quantity = locked.open_quantity if quantity is None else quantity
        if quantity > locked.open_quantity:
            raise _reservation_refused(
                locked,
                "exceeds_reservation",
                _("Only %(n)d are reserved.") % {"n": locked.open_quantity},
            )
        movement = _move(
            balances[(locked.part_id, locked.location_id, locked.stock_kind)],
            kind=M.ISSUE,
            at=at,
            actor=actor,
            cost=locked.part.unit_cost,
            quantity=-quantity,
            reserved_change=-quantity,
            case=locked.case,
            reservation=locked,
        )
        locked.issued_quantity += quantity
        locked.save(update_fields=["issued_quantity"])
        if locked.open_quantity == 0:
            _close(locked, Reservation.Status.ISSUED, at)
        _event(
            events,
            locked.case,
            "issue",
            part=locked.part,
            location=locked.location,
            quantity=quantity,
            kind=locked.stock_kind,
            reservation=locked,
        )
        _events_record(events, actor=actor, at=at)
        return movement


def stock_return(
    *, actor: User | None, reservation: Reservation, quantity: int, at: dt.datetime | None = None
) -> StockMovement:
    """Take issued parts the repair did not use back into stock (退库); they count against the
    month's demand. 409 `exceeds_issued` for more than was issued and not yet returned."""
    require_perm(actor, "parts.reserve_part")
    quantity = _quantity(quantity)
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        locked, balances = _reservation_lock(reservation)
        returnable = locked.issued_quantity - locked.returned_quantity
        if quantity > returnable:
            raise Conflict(
                "exceeds_issued",
                _("Only %(n)d issued parts can be returned.") % {"n": returnable},
                details={"reservation": locked.pk, "returnable": returnable},
            )
        movement = _move(
            balances[(locked.part_id, locked.location_id, locked.stock_kind)],
            kind=M.RETURN,
            at=at,
            actor=actor,
            cost=locked.part.unit_cost,
            quantity=quantity,
            case=locked.case,
            reservation=locked,
        )
        locked.returned_quantity += quantity
        locked.save(update_fields=["returned_quantity"])
        _event(
            events,
            locked.case,
            "return",
            part=locked.part,
            location=locked.location,
            quantity=quantity,
            kind=locked.stock_kind,
            reservation=locked,
        )
        _backorders_serve(
            actor=actor,
            part=locked.part,
            location=locked.location,
            balances=balances,
            at=at,
            events=events,
        )
        _events_record(events, actor=actor, at=at)
        return movement


def backorder_cancel(
    *, actor: User | None, backorder: Backorder, at: dt.datetime | None = None
) -> Backorder:
    """Withdraw a waiting backorder (the case no longer needs the part); what it held back goes
    to the backorders behind it. 409 `backorder_not_waiting`."""
    require_perm(actor, "parts.reserve_part")
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(backorder.part_id, backorder.location_id)])
        locked = (
            Backorder.objects.select_for_update(of=("self",))
            .select_related("part", "location", "case")
            .get(pk=backorder.pk)
        )
        if locked.status != Backorder.Status.WAITING:
            raise Conflict(
                "backorder_not_waiting",
                _("This backorder is no longer waiting."),
                details={"backorder": locked.pk, "status": locked.status},
            )
        locked.status = Backorder.Status.CANCELLED
        locked.closed_at = at
        locked.save(update_fields=["status", "closed_at"])
        _event(
            events,
            locked.case,
            "backorder_cancelled",
            part=locked.part,
            location=locked.location,
            quantity=locked.quantity,
            kind=None,
            backorder=locked,
        )
        _backorders_serve(
            actor=actor,
            part=locked.part,
            location=locked.location,
            balances=balances,
            at=at,
            events=events,
        )
        _events_record(events, actor=actor, at=at)
        return locked


# --- adjustments, scrap, defective parts ----------------------------------------------------


def stock_adjust(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    kind: str,
    quantity: int,
    reason: AdjustmentReason | str,
    note: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Correct the quantity on hand by a signed, non-zero amount (盘盈/盘亏) with a reason;
    never below what is reserved (409 `below_reserved`). Stock found serves backorders."""
    require_perm(actor, "parts.move_stock")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
        raise ApplicationError(
            "invalid_quantity",
            _("The adjustment is a whole number other than 0."),
            details={"quantity": quantity},
        )
    kind = _kind(kind)
    if reason not in AdjustmentReason.values:
        raise ApplicationError(
            "invalid_reason",
            _("Unknown adjustment reason %(value)r.") % {"value": reason},
            details={"reason": reason},
        )
    note = _text(note, field="note")
    at = at or clock.now()
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)], [(part.pk, location.pk, kind)])
        balance = balances[(part.pk, location.pk, kind)]
        if balance.on_hand + quantity < balance.reserved:
            raise Conflict(
                "below_reserved",
                _("%(n)d are on hand and %(r)d reserved: the stock cannot go below that.")
                % {"n": balance.on_hand, "r": balance.reserved},
                details={"on_hand": balance.on_hand, "reserved": balance.reserved},
            )
        movement = _move(
            balance,
            kind=M.ADJUSTMENT,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=quantity,
            reason=str(reason),
            note=note,
        )
        if quantity > 0:
            _backorders_serve(
                actor=actor, part=part, location=location, balances=balances, at=at, events=events
            )
        _events_record(events, actor=actor, at=at)
        _audit(
            actor,
            "adjust",
            "part",
            part.pk,
            movement=movement.pk,
            location=location.code,
            kind=kind,
            quantity=quantity,
            reason=str(reason),
        )
        return movement


def stock_scrap(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    kind: str,
    quantity: int,
    note: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Write off unusable stock (报废); only what is not reserved (409 `insufficient_stock`)."""
    require_perm(actor, "parts.move_stock")
    quantity = _quantity(quantity)
    kind = _kind(kind)
    note = _text(note, field="note")
    at = at or clock.now()
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)], [(part.pk, location.pk, kind)])
        balance = balances[(part.pk, location.pk, kind)]
        if quantity > balance.available:
            raise Conflict(
                "insufficient_stock",
                _("Only %(n)d can be scrapped (the rest is reserved or not there).")
                % {"n": balance.available},
                details={"available": balance.available},
            )
        movement = _move(
            balance,
            kind=M.SCRAP,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=-quantity,
            note=note,
        )
        _audit(
            actor,
            "scrap",
            "part",
            part.pk,
            movement=movement.pk,
            location=location.code,
            kind=kind,
            quantity=quantity,
        )
        return movement


def stock_defective_in(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    quantity: int,
    case: Case | None = None,
    at: dt.datetime | None = None,
) -> StockMovement:
    """Take back a defective part removed in a repair (旧件回收), as defective stock awaiting
    return to the supplier or refurbishing."""
    require_perm(actor, "parts.move_stock")
    quantity = _quantity(quantity)
    at = at or clock.now()
    key = (part.pk, location.pk, str(StockKind.DEFECTIVE))
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)], [key])
        movement = _move(
            balances[key],
            kind=M.DEFECTIVE_IN,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=quantity,
            case=case,
        )
        if case is not None:
            _event(
                events,
                case,
                "defective_in",
                part=part,
                location=location,
                quantity=quantity,
                kind=StockKind.DEFECTIVE,
            )
            _events_record(events, actor=actor, at=at)
        else:
            _audit(
                actor,
                "defective_in",
                "part",
                part.pk,
                movement=movement.pk,
                location=location.code,
                quantity=quantity,
            )
        return movement


def _defective_take(balances: Balances, key: BalanceKey, quantity: int) -> StockBalance:
    balance = balances.get(key)
    on_hand = 0 if balance is None else balance.on_hand
    if balance is None or quantity > on_hand:
        raise Conflict(
            "insufficient_defective",
            _("Only %(n)d defective parts are here.") % {"n": on_hand},
            details={"defective": on_hand},
        )
    return balance


def stock_defective_return(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    quantity: int,
    supplier: Supplier,
    at: dt.datetime | None = None,
) -> StockMovement:
    """Send defective parts back to the supplier (返厂); no more than are held
    (409 `insufficient_defective`)."""
    require_perm(actor, "parts.move_stock")
    quantity = _quantity(quantity)
    at = at or clock.now()
    key = (part.pk, location.pk, str(StockKind.DEFECTIVE))
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)])
        balance = _defective_take(balances, key, quantity)
        movement = _move(
            balance,
            kind=M.DEFECTIVE_OUT,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=-quantity,
            supplier=supplier,
        )
        _audit(
            actor,
            "defective_return",
            "part",
            part.pk,
            movement=movement.pk,
            location=location.code,
            quantity=quantity,
            supplier=supplier.pk,
        )
        return movement


def stock_refurbish(
    *,
    actor: User | None,
    part: Part,
    location: Location,
    quantity: int,
    at: dt.datetime | None = None,
) -> StockMovement:
    """Turn repaired defective parts into refurbished stock (翻新入库): two ledger rows, the
    defective one out and the refurbished one in (returned). 409 `not_repairable` or
    `insufficient_defective`. Refurbished stock serves backorders that accept it."""
    require_perm(actor, "parts.move_stock")
    quantity = _quantity(quantity)
    if not part.is_repairable:
        raise Conflict(
            "not_repairable",
            _("%(part)s is not a repairable part.") % {"part": part.number},
            details={"part": part.number},
        )
    at = at or clock.now()
    defective = (part.pk, location.pk, str(StockKind.DEFECTIVE))
    refurbished = (part.pk, location.pk, str(StockKind.REFURBISHED))
    events: Events = []
    with transaction.atomic():
        balances = _balances_lock([(part.pk, location.pk)], [refurbished])
        source = _defective_take(balances, defective, quantity)
        _move(
            source,
            kind=M.REFURBISH,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=-quantity,
        )
        movement = _move(
            balances[refurbished],
            kind=M.REFURBISH,
            at=at,
            actor=actor,
            cost=part.unit_cost,
            quantity=quantity,
        )
        _backorders_serve(
            actor=actor, part=part, location=location, balances=balances, at=at, events=events
        )
        _events_record(events, actor=actor, at=at)
        _audit(
            actor,
            "refurbish",
            "part",
            part.pk,
            movement=movement.pk,
            location=location.code,
            quantity=quantity,
        )
        return movement


# --- transfers ------------------------------------------------------------------------------


def _require_shipper(actor: User | None) -> None:
    """Warehouse staff ship and cancel transfers; an approver of replenishment does the same
    when approving or turning down a suggested one."""
    if actor is None or not actor.is_active or not actor.has_perm("parts.approve_replenishment"):
        require_perm(actor, "parts.move_stock")


def _transfer_refused(transfer: Transfer, action: str) -> Conflict:
    return Conflict(
        "invalid_transfer_state",
        _("This is not possible while the transfer is %(status)s.")
        % {"status": str(Transfer.Status(transfer.status).label)},
        details={"transfer": transfer.number, "status": transfer.status, "action": action},
    )


def _transfer_lines_check(lines: Sequence[tuple[Part, str, int]]) -> dict[tuple[Part, str], int]:
    if not lines:
        raise ApplicationError("invalid_transfer", _("A transfer moves at least one part."))
    merged: dict[tuple[Part, str], int] = {}
    for part, kind, quantity in lines:
        key = (part, _kind(kind, RESERVABLE_KINDS))
        merged[key] = merged.get(key, 0) + _quantity(quantity)
    return merged


def _transfer_balances(
    source_id: int, destination_id: int, lines: Iterable[tuple[int, str]]
) -> Balances:
    """Lock (creating) the balances a transfer's (part id, kind) lines move at both ends."""
    keys = [(p, loc, k) for p, k in lines for loc in (source_id, destination_id)]
    return _balances_lock([(p, loc) for p, loc, _k in keys], keys)


def _ship(
    *,
    actor: User | None,
    transfer: Transfer,
    lines: Sequence[TransferLine],
    balances: Balances,
    at: dt.datetime,
) -> None:
    """Take the lines' stock out at the source and book it in transit to the destination
    (balances locked by the caller). 409 `insufficient_stock` before anything moves."""
    short = [
        {
            "part": line.part.number,
            "kind": line.stock_kind,
            "quantity": line.quantity,
            "available": _available(balances, line.part_id, transfer.source_id, line.stock_kind),
        }
        for line in lines
        if line.quantity > _available(balances, line.part_id, transfer.source_id, line.stock_kind)
    ]
    if short:
        raise Conflict(
            "insufficient_stock",
            _("Not enough available stock at %(source)s to ship this transfer.")
            % {"source": transfer.source.code},
            details={"lines": short},
        )
    for line in lines:
        _move(
            balances[(line.part_id, transfer.source_id, line.stock_kind)],
            kind=M.TRANSFER_OUT,
            at=at,
            actor=actor,
            cost=line.part.unit_cost,
            quantity=-line.quantity,
            transfer=transfer,
        )
        _move(
            balances[(line.part_id, transfer.destination_id, line.stock_kind)],
            kind=M.TRANSFER_OUT,
            at=at,
            actor=actor,
            cost=line.part.unit_cost,
            in_transit_change=line.quantity,
            transfer=transfer,
        )


def transfer_create(
    *,
    actor: User | None,
    source: Location,
    destination: Location,
    lines: list[tuple[Part, str, int]],
    ship: bool = True,
    reason: dict[str, Any] | None = None,
    note: str = "",
    suggested: bool = False,
) -> Transfer:
    """Create a transfer (调拨) of (part, stock kind, quantity) lines between two locations,
    shipped at once unless `ship=False`; `suggested` ones (by replenishment, possibly the
    system) wait for approval and are never shipped here. 400 `same_location`."""
    require_perm(actor, "parts.move_stock", system_allowed=suggested)
    if source.pk == destination.pk:
        raise ApplicationError(
            "same_location",
            _("A transfer goes between two different locations."),
            details={"location": source.code},
        )
    merged = _transfer_lines_check(lines)
    note = _text(note, field="note")
    at = clock.now()
    shipping = ship and not suggested
    with transaction.atomic():
        # Balances first (the lock order), before the numbering row.
        balances = (
            _transfer_balances(source.pk, destination.pk, [(p.pk, k) for p, k in merged])
            if shipping
            else {}
        )
        transfer = Transfer.objects.create(
            number=number_allocate(prefix="TR"),
            source=source,
            destination=destination,
            status=Transfer.Status.SUGGESTED,
            created_at=at,
            created_by=actor,
            reason=reason or {},
            note=note,
        )
        created = TransferLine.objects.bulk_create(
            [
                TransferLine(transfer=transfer, part=part, stock_kind=kind, quantity=quantity)
                for (part, kind), quantity in merged.items()
            ]
        )
        if shipping:
            for line, (part, _kind) in zip(created, merged, strict=True):
                line.part = part
            _ship(actor=actor, transfer=transfer, lines=created, balances=balances, at=at)
            transfer.status = Transfer.Status.IN_TRANSIT
            transfer.shipped_at, transfer.shipped_by = at, actor
            transfer.save(update_fields=["status", "shipped_at", "shipped_by"])
            _audit(actor, "transfer_ship", "transfer", transfer.pk, number=transfer.number)
        return transfer


def transfer_ship(*, actor: User | None, transfer: Transfer) -> Transfer:
    """Ship a transfer not yet shipped: out of the source, in transit to the destination.
    409 `insufficient_stock` or `invalid_transfer_state`."""
    _require_shipper(actor)
    at = clock.now()
    with transaction.atomic():
        lines = list(TransferLine.objects.filter(transfer=transfer).select_related("part"))
        balances = _transfer_balances(
            transfer.source_id,
            transfer.destination_id,
            [(li.part_id, li.stock_kind) for li in lines],
        )
        locked = (
            Transfer.objects.select_for_update(of=("self",))
            .select_related("source", "destination")
            .get(pk=transfer.pk)
        )
        if locked.status != Transfer.Status.SUGGESTED:
            raise _transfer_refused(locked, "ship")
        _ship(actor=actor, transfer=locked, lines=lines, balances=balances, at=at)
        locked.status = Transfer.Status.IN_TRANSIT
        locked.shipped_at, locked.shipped_by = at, actor
        locked.save(update_fields=["status", "shipped_at", "shipped_by"])
        _audit(actor, "transfer_ship", "transfer", locked.pk, number=locked.number)
        return locked


def transfer_receive(
    *, actor: User | None, transfer: Transfer, received: dict[int, int] | None = None
) -> Transfer:
    """Receive a shipped transfer at the destination; `received` maps line ids to what
    arrived (default: everything). A short line is booked as received and noted
    ("short_received"); what is missing leaves the books as in transit. Backorders waiting
    at the destination are served."""
    require_perm(actor, "parts.move_stock")
    received = dict(received or {})
    at = clock.now()
    events: Events = []
    with transaction.atomic():
        lines = list(TransferLine.objects.filter(transfer=transfer).select_related("part"))
        unknown = sorted(set(received) - {line.pk for line in lines})
        if unknown:
            raise ApplicationError(
                "unknown_line",
                _("These lines are not on the transfer."),
                details={"lines": unknown},
            )
        for line in lines:
            got = received.get(line.pk, line.quantity)
            if isinstance(got, bool) or not isinstance(got, int) or not 0 <= got <= line.quantity:
                raise ApplicationError(
                    "invalid_quantity",
                    _("Received quantities are 0 up to what was shipped."),
                    details={"line": line.pk, "shipped": line.quantity, "received": got},
                )
        balances = _balances_lock([(line.part_id, transfer.destination_id) for line in lines])
        locked = (
            Transfer.objects.select_for_update(of=("self",))
            .select_related("destination")
            .get(pk=transfer.pk)
        )
        if locked.status != Transfer.Status.IN_TRANSIT:
            raise _transfer_refused(locked, "receive")
        short = []
        for line in lines:
            got = received.get(line.pk, line.quantity)
            missing = line.quantity - got
            if missing:
                short.append({"part": line.part.number, "shipped": line.quantity, "received": got})
            _move(
                balances[(line.part_id, locked.destination_id, line.stock_kind)],
                kind=M.TRANSFER_IN,
                at=at,
                actor=actor,
                cost=line.part.unit_cost,
                quantity=got,
                in_transit_change=-line.quantity,
                transfer=locked,
                reason="short_received" if missing else "",
                note=_("%(n)d not received") % {"n": missing} if missing else "",
            )
            line.received_quantity = got
        TransferLine.objects.bulk_update(lines, ["received_quantity"])
        locked.status = Transfer.Status.RECEIVED
        locked.received_at, locked.received_by = at, actor
        locked.save(update_fields=["status", "received_at", "received_by"])
        for part in {line.part for line in lines}:
            _backorders_serve(
                actor=actor,
                part=part,
                location=locked.destination,
                balances=balances,
                at=at,
                events=events,
            )
        _events_record(events, actor=actor, at=at)
        _audit(actor, "transfer_receive", "transfer", locked.pk, number=locked.number, short=short)
        return locked


def transfer_cancel(*, actor: User | None, transfer: Transfer) -> Transfer:
    """Cancel a transfer that was not shipped (a suggestion turned down); nothing moved."""
    _require_shipper(actor)
    with transaction.atomic():
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.status != Transfer.Status.SUGGESTED:
            raise _transfer_refused(locked, "cancel")
        locked.status = Transfer.Status.CANCELLED
        locked.save(update_fields=["status"])
        _audit(actor, "transfer_cancel", "transfer", locked.pk, number=locked.number)
        return locked


# --- cycle counts ---------------------------------------------------------------------------


def _count_refused(count: CycleCount) -> Conflict:
    return Conflict(
        "count_not_open",
        _("This count is no longer open."),
        details={"count": count.number, "status": count.status},
    )


def count_open(
    *,
    actor: User | None,
    location: Location,
    parts: Sequence[Part] | None = None,
    kinds: Sequence[str] = (StockKind.NEW,),
) -> CycleCount:
    """Open a cycle count (盘点) at a location: one line per part and stock kind with the book
    quantity at this moment; without `parts`, every part with a balance there."""
    require_perm(actor, "parts.move_stock")
    kinds = [_kind(k) for k in dict.fromkeys(kinds)]
    if not kinds:
        raise ApplicationError("invalid_kind", _("Name at least one stock kind."))
    at = clock.now()
    with transaction.atomic():
        balances = StockBalance.objects.filter(location=location, kind__in=kinds)
        if parts is not None:
            balances = balances.filter(part__in=parts)
        on_hand = {(b.part_id, b.kind): b.on_hand for b in balances}
        part_ids = (
            sorted({p.pk for p in parts})
            if parts is not None
            else sorted({part_id for part_id, _kind in on_hand})
        )
        if not part_ids:
            raise ApplicationError(
                "nothing_to_count",
                _("There is nothing to count at %(location)s.") % {"location": location.code},
            )
        count = CycleCount.objects.create(
            number=number_allocate(prefix="CC"),
            location=location,
            created_at=at,
            created_by=actor,
        )
        CycleCountLine.objects.bulk_create(
            [
                CycleCountLine(
                    count=count, part_id=p, stock_kind=k, expected=on_hand.get((p, k), 0)
                )
                for p in part_ids
                for k in kinds
            ]
        )
        return count


def count_record(*, actor: User | None, line: CycleCountLine, counted: int) -> CycleCountLine:
    """Record what was found for one line of an open count (may be corrected until posted)."""
    require_perm(actor, "parts.move_stock")
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise ApplicationError(
            "invalid_quantity",
            _("The counted quantity is a whole number, 0 or more."),
            details={"counted": counted},
        )
    with transaction.atomic():
        count = CycleCount.objects.select_for_update().get(pk=line.count_id)
        if count.status != CycleCount.Status.OPEN:
            raise _count_refused(count)
        locked = CycleCountLine.objects.select_for_update().get(pk=line.pk)
        locked.counted, locked.counted_at, locked.counted_by = counted, clock.now(), actor
        locked.save(update_fields=["counted", "counted_at", "counted_by"])
        return locked


def count_post(*, actor: User | None, count: CycleCount) -> list[StockMovement]:
    """Post a finished count: each difference from the book quantity at opening is booked as
    a cycle-count adjustment (none for no difference). 409 `count_incomplete` while a line is
    not counted, `below_reserved` if a result would fall below what is reserved,
    `count_not_open` once posted."""
    require_perm(actor, "parts.move_stock")
    at = clock.now()
    events: Events = []
    with transaction.atomic():
        lines = list(CycleCountLine.objects.filter(count=count).select_related("part"))
        location = Location.objects.get(pk=count.location_id)
        balances = _balances_lock(
            [(line.part_id, location.pk) for line in lines],
            [(line.part_id, location.pk, line.stock_kind) for line in lines],
        )
        locked = CycleCount.objects.select_for_update().get(pk=count.pk)
        if locked.status != CycleCount.Status.OPEN:
            raise _count_refused(locked)
        lines = list(CycleCountLine.objects.filter(count=locked).select_related("part"))
        uncounted = [line.pk for line in lines if line.counted is None]
        if uncounted:
            raise Conflict(
                "count_incomplete",
                _("%(n)d lines are not counted yet.") % {"n": len(uncounted)},
                details={"lines": uncounted},
            )
        changes = []
        for line in lines:
            variance = (line.counted or 0) - line.expected
            balance = balances[(line.part_id, location.pk, line.stock_kind)]
            if variance and balance.on_hand + variance < balance.reserved:
                raise Conflict(
                    "below_reserved",
                    _("%(part)s: the count leaves less than is reserved.")
                    % {"part": line.part.number},
                    details={
                        "part": line.part.number,
                        "on_hand": balance.on_hand,
                        "reserved": balance.reserved,
                        "variance": variance,
                    },
                )
            if variance:
                changes.append((line, balance, variance))
        movements = [
            _move(
                balance,
                kind=M.ADJUSTMENT,
                at=at,
                actor=actor,
                cost=line.part.unit_cost,
                quantity=variance,
                count=locked,
                reason=AdjustmentReason.CYCLE_COUNT,
            )
            for line, balance, variance in changes
        ]
        locked.status = CycleCount.Status.POSTED
        locked.posted_at, locked.posted_by = at, actor
        locked.save(update_fields=["status", "posted_at", "posted_by"])
        for part in {line.part for line, _b, variance in changes if variance > 0}:
            _backorders_serve(
                actor=actor, part=part, location=location, balances=balances, at=at, events=events
            )
        _events_record(events, actor=actor, at=at)
        _audit(
            actor,
            "count_post",
            "cycle_count",
            locked.pk,
            number=locked.number,
            variances=[
                [line.part.number, line.stock_kind, variance] for line, _b, variance in changes
            ],
        )
        return movements
