"""Replenishment (备件补货): stock targets, suggested purchase orders and transfers, their
approval and receipt, and the service-level / stock-cost curve.

Stock targets. A part is stocked where its class policy says (`storage`: central warehouses;
regional = central + regional warehouses; forward = every location; `on_demand` parts hold no
stock and get no target). The latest DONE forecast run's network forecast is split to
locations by their net issues of the part (and of the parts it supersedes) over the last
`SHARE_MONTHS` months, imported history included. Demand at a place that does not stock the
part is served by the nearest stocked place it is replenished from, and a warehouse that
supplies others also carries their demand (it refills them), so a stocked location's share
is the demand of its whole `supplied_from` subtree. Central and regional warehouses without
any issue of the part get a pseudo-count of `WAREHOUSE_PRIOR` units, so a part nobody used
yet is still held there; an outlet or a van never stocks a part it never issued. Demand at
a place with no stocked ancestor is bought on demand. A planner's override at a location
(`ForecastOverride.location`, unexpired, not withdrawn) replaces that location's own share of
the forecast by the override's quantity in the months it covers, and the warehouses that refill
the location carry it too; a location with an override is stocked (where the policy stores
parts there) even if it never issued the part.

Levels. Lead time L = the preferred source's lead time for a location that buys, else the
location's `transfer_days`; review period R = the policy's `review_days`. Demand over L and
over L + R (days, from the location's monthly path prorated by day from today) is negative
binomial with the forecast's monthly dispersion index, which summing independent months keeps;
splitting to a location thins it, which keeps it negative binomial with dispersion
`1 + share x (d - 1)`, `share` being the location's mean demand over the network's (at most 1).
The order-up-to level S is `inventory_policy`'s level over L + R for the policy's fill rate or
cycle service level; the reorder point s is the target quantile of lead-time demand (never
above S). Suggestion runs look at every part each time rather than on a review calendar, so
both stocking methods order when the position falls to s, and R shows in the gap S - s
(about one review period's demand).

Suggestions. The inventory position counts usable stock (new and refurbished): on hand + in
transit + approved, not yet received purchase-order quantities - reserved - waiting
backorders, plus drafts a person made or edited. A system draft is the system's proposal until
someone approves it: each run rewrites it to the current need (a line no longer needed is
removed; an emptied draft order is cancelled, an emptied suggested transfer, which moved
nothing, is deleted), so re-running never duplicates. Lines a person added or edited (`set_by`
in the reason) are left alone and count in the position.

The service-level / stock-cost curve: see `service_curve`.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from scipy import stats

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.catalog.models import add_months
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record, number_allocate

from . import forecasting, inventory_policy, services
from .inventory_policy import DemandDistribution
from .models import (
    Backorder,
    Forecast,
    ForecastOverride,
    ForecastRun,
    Location,
    LocationKind,
    Part,
    PartsSettings,
    PartSupplier,
    PurchaseOrder,
    PurchaseOrderLine,
    StockBalance,
    StockKind,
    StockPolicy,
    StockTarget,
    TargetMode,
    Transfer,
    TransferLine,
)
from .planning import months_between, policy_for
from .selectors import demand_matrix, location_issues, parts_settings

Progress = Callable[[int, int], None]

DAYS_PER_MONTH = 365.25 / 12
SHARE_MONTHS = 12
WAREHOUSE_PRIOR = 0.5
USABLE_KINDS = (StockKind.NEW, StockKind.REFURBISHED)
STORED_AT: dict[str, frozenset[str]] = {
    StockPolicy.Storage.CENTRAL: frozenset({LocationKind.CENTRAL}),
    StockPolicy.Storage.REGIONAL: frozenset({LocationKind.CENTRAL, LocationKind.REGIONAL}),
    StockPolicy.Storage.FORWARD: frozenset(LocationKind.values),
}
_WAREHOUSES = frozenset({LocationKind.CENTRAL, LocationKind.REGIONAL})
MAX_PART_FILL = 0.999  # a part's fill target under the system allocation (StockTarget: 3 places)


# --- stock targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """A part's stock levels at one location and the demand behind them."""

    reorder_point: int
    order_up_to: int
    expected_fill_rate: float
    lead_time_mean: float
    review_mean: float
    dispersion: float


def _demand_between(path: Sequence[float], start: float, days: float) -> float:
    """Expected demand from day `start` for `days` days of a monthly forecast path (the last
    month repeats past the path's end)."""
    if not path or days <= 0:
        return 0.0
    total, t, end = 0.0, start, start + days
    while t < end:
        month = int(t // DAYS_PER_MONTH)
        step = min(end, (month + 1) * DAYS_PER_MONTH) - t
        total += float(path[min(month, len(path) - 1)]) * step / DAYS_PER_MONTH
        t += step
    return total


def stock_levels(
    path: Sequence[float],
    *,
    start_day: float = 0.0,
    share: float = 1.0,
    dispersion: float,
    lead_days: int,
    review_days: int,
    measure: str,
    target: float,
) -> Levels:
    """Reorder point and order-up-to level for a location whose expected demand per month is
    `path`; `share` is that demand's fraction of the network forecast, which thins the
    network's `dispersion` (see module doc)."""
    lead_mean = _demand_between(path, start_day, lead_days)
    review_mean = _demand_between(path, start_day + lead_days, review_days)
    spread = 1.0 + share * (dispersion - 1.0)
    over_lead = DemandDistribution(mean=lead_mean, dispersion=spread)
    over_cycle = DemandDistribution(mean=lead_mean + review_mean, dispersion=spread)
    if measure == StockPolicy.Measure.FILL_RATE:
        up_to = int(inventory_policy.order_up_to_for_fill_rate(over_cycle, target, review_mean))
    else:
        up_to = inventory_policy.order_up_to_for_service_level(over_cycle, target)
    rop = min(inventory_policy.reorder_point(over_lead, target), up_to)
    fill = 1.0
    if review_mean > 0:
        short = float(over_cycle.expected_shortage([up_to])[0])
        fill = min(max(1.0 - short / review_mean, 0.0), 1.0)
    return Levels(rop, up_to, fill, lead_mean, review_mean, spread)


def _chain_end(part_id: int, successor: Mapping[int, int | None]) -> int:
    seen = {part_id}
    while (nxt := successor.get(part_id)) is not None and nxt not in seen:
        seen.add(nxt)
        part_id = nxt
    return part_id


def _ancestors(location: Location, by_id: dict[int, Location]) -> list[Location]:
    """The location and every place up its `supplied_from` chain (a loop stops it)."""
    chain, seen = [location], {location.pk}
    parent = by_id.get(location.supplied_from_id or 0)
    while parent is not None and parent.pk not in seen:
        seen.add(parent.pk)
        chain.append(parent)
        parent = by_id.get(parent.supplied_from_id or 0)
    return chain


def location_weights(
    issues: Mapping[int, float], locations: Sequence[Location], stocked: Iterable[int]
) -> dict[int, float]:
    """Each location's own weight in the network's demand: its net issues of the part, and
    `WAREHOUSE_PRIOR` for a central or regional warehouse that stocks it but never issued it."""
    stocked_ids = set(stocked)
    weight = {loc.pk: max(float(issues.get(loc.pk, 0.0)), 0.0) for loc in locations}
    for loc in locations:
        if loc.pk in stocked_ids and loc.kind in _WAREHOUSES and weight[loc.pk] <= 0:
            weight[loc.pk] = WAREHOUSE_PRIOR
    return weight


def location_shares(
    issues: Mapping[int, float], locations: Sequence[Location], stocked: Iterable[int]
) -> dict[int, float]:
    """Share of the network demand each stocked location carries (see module doc).

    `issues`: net issues per location id; `stocked`: ids of the locations that hold the part.
    """
    path = location_paths([1.0], issues, locations, stocked)
    return {pk: months[0] for pk, months in path.items()}


def location_paths(
    path: Sequence[float],
    issues: Mapping[int, float],
    locations: Sequence[Location],
    stocked: Iterable[int],
    overrides: Mapping[int, Mapping[int, float]] | None = None,
) -> dict[int, list[float]]:
    """Expected demand per month each stocked location carries (see module doc).

    `path`: the network forecast per month; `issues`: net issues per location id;
    `stocked`: ids of the locations that hold the part; `overrides`: per location id, the
    planner's quantity per forecast month (0 = the path's first month), replacing that
    location's own share of those months.
    """
    stocked_ids = set(stocked)
    overrides = overrides or {}
    by_id = {loc.pk: loc for loc in locations}
    weight = location_weights(issues, locations, stocked_ids)
    total = sum(weight.values())
    carried: dict[int, list[float]] = {}
    for loc in locations:
        own_months = overrides.get(loc.pk, {})
        if weight[loc.pk] <= 0 and not own_months:
            continue
        scale = weight[loc.pk] / total if total > 0 else 0.0
        own = [float(value) * scale for value in path]
        for period, quantity in own_months.items():
            if 0 <= period < len(own):
                own[period] = float(quantity)
        for place in _ancestors(loc, by_id):
            if place.pk in stocked_ids:
                row = carried.setdefault(place.pk, [0.0] * len(own))
                for month, value in enumerate(own):
                    row[month] += value
    return carried


def _sources(parts: Iterable[int]) -> dict[int, PartSupplier]:
    """Each part's preferred source (else its fastest), from active suppliers."""
    result: dict[int, PartSupplier] = {}
    found = (
        PartSupplier.objects.filter(part_id__in=list(parts), supplier__is_active=True)
        .select_related("supplier")
        .order_by("part_id", "-is_preferred", "lead_time_days", "pk")
    )
    for source in found:
        result.setdefault(source.part_id, source)
    return result


def targets_compute(
    *, actor: User | None = None, at: dt.datetime | None = None, progress: Progress | None = None
) -> int:
    """Recompute every active part's reorder point and order-up-to level at every active
    location that stocks it (see module doc); returns the number of targets written.

    Targets no longer computed (a part moved to on-demand, a location that no longer stocks
    it, a part without a source to buy from) are removed, so suggestions never act on stale
    levels. 409 `no_forecast` before the first finished forecast run.
    """
    require_perm(actor, "parts.plan_parts", system_allowed=True)
    now = at or clock.now()
    today = timezone.localdate(now)
    run = (
        ForecastRun.objects.filter(status=ForecastRun.Status.DONE)
        .order_by("-started_at", "-id")
        .first()
    )
    if run is None:
        raise Conflict("no_forecast", _("Run a demand forecast before computing stock targets."))
    forecasts = {
        f.part_id: f
        for f in Forecast.objects.filter(
            run=run,
            location__isnull=True,
            part__is_active=True,
            part__superseded_by__isnull=True,
        )
        .select_related("part")
        .order_by("part_id")
    }
    parts = [f.part for f in forecasts.values()]
    locations = list(Location.objects.filter(is_active=True).order_by("pk"))
    policies = list(StockPolicy.objects.filter(is_active=True).order_by("rank", "id"))
    successor = dict(Part.objects.values_list("pk", "superseded_by_id"))
    issues: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for (part_id, location_id), quantity in location_issues(months=SHARE_MONTHS, end=today).items():
        issues[_chain_end(part_id, successor)][location_id] += quantity
    sources = _sources(forecasts)
    overrides = _location_overrides(run, successor, now)
    start_day = float((today - run.origin).days)
    stocked: dict[int, StockPolicy] = {}
    for part in parts:
        policy = policy_for(part, policies=policies)
        if policy is not None and policy.method != StockPolicy.Method.ON_DEMAND:
            stocked[part.pk] = policy
    goals: dict[int, tuple[str, float]] = {
        pk: (policy.service_measure, float(policy.service_target)) for pk, policy in stocked.items()
    }
    settings = parts_settings()
    if settings.target_mode == TargetMode.SYSTEM:
        goals.update(
            system_fill_targets(
                [forecasts[pk] for pk in stocked],
                stocked,
                sources,
                start_day,
                float(settings.system_fill_rate),
            )
        )
    rows: list[StockTarget] = []
    if progress is not None:
        progress(0, len(parts))
    for done, part in enumerate(parts, start=1):
        policy = stocked.get(part.pk)
        if policy is not None:
            rows.extend(
                _part_targets(
                    part,
                    policy,
                    goals[part.pk],
                    forecasts[part.pk],
                    issues[part.pk],
                    overrides.get(part.pk, {}),
                    locations,
                    sources,
                    now,
                    start_day,
                )
            )
        if progress is not None and (done % 200 == 0 or done == len(parts)):
            progress(done, len(parts))
    keep = {(t.part_id, t.location_id) for t in rows}
    with transaction.atomic():
        stale = [
            pk
            for pk, part_id, location_id in StockTarget.objects.values_list(
                "pk", "part_id", "location_id"
            )
            if (part_id, location_id) not in keep
        ]
        StockTarget.objects.filter(pk__in=stale).delete()
        StockTarget.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["part", "location"],
            update_fields=[
                "policy",
                "reorder_point",
                "order_up_to",
                "lead_time_days",
                "service_target",
                "expected_fill_rate",
                "forecast",
                "computed_at",
            ],
        )
        audit_record(
            actor=actor,
            action="parts.targets_computed",
            entity="forecast_run",
            entity_id=run.pk,
            data={"targets": len(rows), "removed": len(stale)},
        )
    return len(rows)


def _location_overrides(
    run: ForecastRun, successor: Mapping[int, int | None], now: dt.datetime
) -> dict[int, dict[int, dict[int, float]]]:
    """Unexpired, not withdrawn location overrides over the run's horizon: per part (the end of
    its supersession chain), per location id, the quantity per forecast month (the latest
    override wins where two overlap)."""
    end = add_months(run.origin, run.horizon)
    result: dict[int, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for override in ForecastOverride.objects.filter(
        location__isnull=False,
        withdrawn_at__isnull=True,
        expires_at__gt=now,
        starts_on__lt=end,
        ends_on__gte=run.origin,
    ).order_by("created_at", "id"):
        assert override.location_id is not None  # the filter's location__isnull=False
        first = max(months_between(run.origin, override.starts_on), 0)
        last = min(months_between(run.origin, override.ends_on), run.horizon - 1)
        months = result[_chain_end(override.part_id, successor)][override.location_id]
        for period in range(first, last + 1):
            months[period] = float(override.quantity)
    return result


def system_fill_targets(
    forecasts: Sequence[Forecast],
    policies: Mapping[int, StockPolicy],
    sources: Mapping[int, PartSupplier],
    start_day: float,
    goal: float,
) -> dict[int, tuple[str, float]]:
    """Per part, the fill rate that spends one network fill rate `goal` at the least stock
    value (`inventory_policy.system_levels`, as the service curve's project method).

    Each part's network demand over its preferred source's lead time plus its policy's review
    period (negative binomial, the forecast's dispersion) gets the order-up-to level of the
    cost-aware allocation; its expected fill rate at that level becomes the part's target.
    Critical parts keep at least their class policy's target. Returns (measure, target) per
    part id, the measure always the fill rate.
    """
    dists: list[DemandDistribution] = []
    review_means: list[float] = []
    for forecast in forecasts:
        policy = policies[forecast.part_id]
        source = sources.get(forecast.part_id)
        lead = source.lead_time_days if source is not None else DEFAULT_LEAD_DAYS
        path = [float(m["mean"]) for m in forecast.months]
        review = _demand_between(path, start_day + lead, policy.review_days)
        cycle = _demand_between(path, start_day, lead) + review
        dists.append(DemandDistribution(mean=cycle, dispersion=forecast.dispersion))
        review_means.append(review)
    if not dists:
        return {}
    costs = [float(f.part.unit_cost) for f in forecasts]
    levels = inventory_policy.system_levels(dists, costs, review_means, [goal])[:, 0]
    result: dict[int, tuple[str, float]] = {}
    for forecast, dist, review, level in zip(forecasts, dists, review_means, levels, strict=True):
        policy = policies[forecast.part_id]
        fill = goal
        if review > 0:
            short = float(dist.expected_shortage([int(level)])[0])
            fill = min(max(1.0 - short / review, 0.0), MAX_PART_FILL)
        if forecast.part.is_critical:
            fill = max(fill, float(policy.service_target))
        result[forecast.part_id] = (StockPolicy.Measure.FILL_RATE, round(fill, 3))
    return result


def target_mode_set(
    *, actor: User | None, mode: str, fill_rate: Decimal | float | str | None = None
) -> PartsSettings:
    """Choose where stock targets come from: each class policy's own target (`class`) or one
    network fill rate allocated where it fills the most units per yuan (`system`, with
    `fill_rate`; without one the current rate stays). Takes effect at the next
    `targets_compute`. 400 `invalid_mode`, `invalid_target` (not strictly between 0.5 and 1).
    """
    require_perm(actor, "parts.change_partssettings")
    if mode not in TargetMode.values:
        raise ApplicationError(
            "invalid_mode",
            _("Stock targets come from the class policies or from one network fill rate."),
            details={"mode": mode, "allowed": list(TargetMode.values)},
        )
    rate: Decimal | None = None
    if fill_rate is not None:
        try:
            rate = Decimal(str(fill_rate))
            rate = rate.quantize(Decimal("0.001")) if rate.is_finite() else None
        except ArithmeticError:
            rate = None
        if rate is None or not Decimal("0.5") < rate < 1:
            raise ApplicationError(
                "invalid_target",
                _("Service levels lie strictly between 0.5 and 1."),
                details={"fill_rate": str(fill_rate)},
            )
    with transaction.atomic():
        pk = services.parts_settings().pk
        settings = PartsSettings.objects.select_for_update().get(pk=pk)
        before = {"mode": settings.target_mode, "fill_rate": str(settings.system_fill_rate)}
        settings.target_mode = mode
        if rate is not None:
            settings.system_fill_rate = rate
        settings.save(update_fields=["target_mode", "system_fill_rate", "updated_at"])
        audit_record(
            actor=actor,
            action="parts.target_mode_set",
            entity="parts_settings",
            entity_id=settings.pk,
            data={
                "before": before,
                "after": {"mode": mode, "fill_rate": str(settings.system_fill_rate)},
            },
        )
    return settings


def target_mode_apply(
    *,
    actor: User,
    mode: str,
    fill_rate: Decimal | float | str | None = None,
    recompute: bool = True,
) -> tuple[PartsSettings, int | None]:
    """`target_mode_set`, then, when asked and the actor may plan, `targets_compute` in the
    same transaction (a failing computation keeps the old mode). Returns the settings and the
    number of targets written (None when not recomputed, or before the first forecast)."""
    with transaction.atomic():
        settings = target_mode_set(actor=actor, mode=mode, fill_rate=fill_rate)
        if not recompute or not actor.has_perm("parts.plan_parts"):
            return settings, None
        try:
            return settings, targets_compute(actor=actor)
        except Conflict as exc:
            if exc.code != "no_forecast":
                raise
            return settings, None


def _part_targets(
    part: Part,
    policy: StockPolicy,
    goal: tuple[str, float],
    forecast: Forecast,
    issues: dict[int, float],
    overrides: Mapping[int, Mapping[int, float]],
    locations: list[Location],
    sources: dict[int, PartSupplier],
    now: dt.datetime,
    start_day: float,
) -> list[StockTarget]:
    stocked = [loc.pk for loc in locations if loc.kind in STORED_AT[policy.storage]]
    network = [float(m["mean"]) for m in forecast.months]
    paths = location_paths(network, issues, locations, stocked, overrides)
    network_mean = sum(network) / len(network) if network else 0.0
    source = sources.get(part.pk)
    rows = []
    for loc in locations:
        path = paths.get(loc.pk)
        if path is None:
            continue
        mean = sum(path) / len(path) if path else 0.0
        share = min(mean / network_mean, 1.0) if network_mean > 0 else 1.0
        if loc.supplied_from_id is not None:
            lead = loc.transfer_days
        elif source is not None:
            lead = source.lead_time_days
        else:
            continue
        levels = stock_levels(
            path,
            start_day=start_day,
            share=share,
            dispersion=forecast.dispersion,
            lead_days=lead,
            review_days=policy.review_days,
            measure=goal[0],
            target=goal[1],
        )
        rows.append(
            StockTarget(
                part=part,
                location=loc,
                policy=policy,
                reorder_point=levels.reorder_point,
                order_up_to=levels.order_up_to,
                lead_time_days=lead,
                service_target=Decimal(str(goal[1])).quantize(Decimal("0.001")),
                expected_fill_rate=round(levels.expected_fill_rate, 4),
                forecast=forecast,
                computed_at=now,
            )
        )
    return rows


# --- suggestions ------------------------------------------------------------------------------


def order_quantity(need: int, *, min_order_qty: int, order_multiple: int) -> int:
    """`need` raised to the minimum order quantity, then up to a whole order multiple."""
    quantity = max(need, min_order_qty, 1)
    return -(-quantity // order_multiple) * order_multiple


@dataclass
class Suggestions:
    """What one replenishment run proposed: the draft orders and suggested transfers it wrote
    or rewrote, line counts, the needs a source could not spare, and parts with no supplier."""

    orders: list[PurchaseOrder] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    removed: int = 0
    shortfalls: list[dict[str, int]] = field(default_factory=list)
    without_source: list[int] = field(default_factory=list)


@dataclass
class _Need:
    target: StockTarget
    position: int
    quantity: int
    reason: dict[str, Any]


Key = tuple[int, int]


def _positions(targets: list[StockTarget]) -> dict[Key, dict[str, int]]:
    """Position components per (part, location): on hand, in transit, reserved, usable kinds;
    waiting backorders; approved purchase-order quantities not yet received."""
    parts = {t.part_id for t in targets}
    out: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in StockBalance.objects.filter(part_id__in=parts, kind__in=USABLE_KINDS):
        row = out[(b.part_id, b.location_id)]
        row["on_hand"] += b.on_hand
        row["in_transit"] += b.in_transit
        row["reserved"] += b.reserved
        if b.kind == StockKind.NEW:
            row["new_available"] += b.on_hand - b.reserved
    for bo in Backorder.objects.filter(part_id__in=parts, status=Backorder.Status.WAITING):
        out[(bo.part_id, bo.location_id)]["backorders"] += bo.quantity
    for line in PurchaseOrderLine.objects.filter(
        part_id__in=parts, order__status=PurchaseOrder.Status.APPROVED
    ).select_related("order"):
        out[(line.part_id, line.order.location_id)]["on_order"] += (
            line.quantity - line.received_quantity
        )
    return out


def _is_system_line(line: PurchaseOrderLine) -> bool:
    return "rop" in line.reason and "set_by" not in line.reason


def _depth(location: Location, by_id: dict[int, Location]) -> int:
    return len(_ancestors(location, by_id))


def replenishment_suggest(
    *, actor: User | None = None, at: dt.datetime | None = None
) -> Suggestions:
    """Propose replenishment for every part and location at or below its reorder point: order
    up to the order-up-to level (see module doc for the position and for re-runs).

    Locations replenished from another get one SUGGESTED transfer per (source, destination),
    limited to what the source can spare above its own reorder point (available new stock
    less its waiting backorders and what this run already sends elsewhere; the rest is a
    shortfall noted on the transfer). Locations that buy get DRAFT purchase-order lines
    grouped per (supplier, location), from the preferred source, rounded up to its minimum
    order quantity and order multiple, at its price, expected after its lead time. Deepest
    locations are served first, so a warehouse's own need counts what it ships out.
    """
    require_perm(actor, "parts.plan_parts", system_allowed=True)
    now = at or clock.now()
    today = timezone.localdate(now)
    targets = list(
        StockTarget.objects.filter(part__is_active=True, location__is_active=True).select_related(
            "part", "location"
        )
    )
    by_id = {loc.pk: loc for loc in Location.objects.all()}
    rop_at = {(t.part_id, t.location_id): t.reorder_point for t in targets}
    sources = _sources({t.part_id for t in targets})
    result = Suggestions()
    with transaction.atomic():
        # Runs are serialised on the settings row (two runs would each draft the same need),
        # and the drafts a run may rewrite are locked, so an approval cannot slip in between.
        list(PartsSettings.objects.select_for_update().order_by("pk")[:1])
        drafts = list(
            PurchaseOrder.objects.select_for_update()
            .filter(status=PurchaseOrder.Status.DRAFT)
            .order_by("pk")
        )
        suggested = list(
            Transfer.objects.select_for_update()
            .filter(status=Transfer.Status.SUGGESTED)
            .order_by("pk")
        )
        position = _positions(targets)
        system_po: dict[Key, PurchaseOrderLine] = {}
        for line in PurchaseOrderLine.objects.filter(order__in=drafts).select_related("order"):
            key = (line.part_id, line.order.location_id)
            if _is_system_line(line):
                system_po[key] = line
            else:
                position[key]["drafted"] += line.quantity
        system_tl: dict[Key, TransferLine] = {}
        sending: dict[Key, int] = defaultdict(int)
        for tl in TransferLine.objects.filter(transfer__in=suggested).select_related("transfer"):
            t = tl.transfer
            if t.reason.get("auto"):
                system_tl[(tl.part_id, t.destination_id)] = tl
            else:
                position[(tl.part_id, t.destination_id)]["drafted"] += tl.quantity
                sending[(tl.part_id, t.source_id)] += tl.quantity
        transfer_needs: dict[tuple[int, int], list[_Need]] = defaultdict(list)
        order_needs: dict[tuple[int, int], list[_Need]] = defaultdict(list)
        ordered = sorted(
            targets,
            key=lambda t: (-_depth(t.location, by_id), t.location.code, t.part.number),
        )
        for target in ordered:
            key = (target.part_id, target.location_id)
            p = position[key]
            pos = (
                p["on_hand"]
                + p["in_transit"]
                + p["on_order"]
                + p["drafted"]
                - p["reserved"]
                - p["backorders"]
                - sending[key]
            )
            if pos > target.reorder_point or pos >= target.order_up_to:
                continue
            need = target.order_up_to - pos
            reason: dict[str, Any] = {
                "position": pos,
                "rop": target.reorder_point,
                "out": target.order_up_to,
                "need": need,
            }
            source_id = target.location.supplied_from_id
            if source_id is not None:
                src_key = (target.part_id, source_id)
                s = position[src_key]
                spare = max(
                    s["new_available"]
                    - s["backorders"]
                    - rop_at.get(src_key, 0)
                    - sending[src_key],
                    0,
                )
                quantity = min(need, spare)
                reason["shortfall"] = need - quantity
                if need > quantity:
                    result.shortfalls.append(
                        {
                            "part": target.part_id,
                            "location": target.location_id,
                            "source": source_id,
                            "quantity": need - quantity,
                        }
                    )
                if quantity > 0:
                    sending[src_key] += quantity
                    transfer_needs[(source_id, target.location_id)].append(
                        _Need(target, pos, quantity, reason)
                    )
            else:
                source = sources.get(target.part_id)
                if source is None:
                    result.without_source.append(target.part_id)
                    continue
                quantity = order_quantity(
                    need, min_order_qty=source.min_order_qty, order_multiple=source.order_multiple
                )
                reason["rounded_from"] = need
                order_needs[(source.supplier_id, target.location_id)].append(
                    _Need(target, pos, quantity, reason)
                )
        _write_orders(actor, now, today, order_needs, sources, system_po, drafts, result)
        _write_transfers(actor, transfer_needs, system_tl, by_id, result)
        if result.created or result.updated or result.removed:
            audit_record(
                actor=actor,
                action="parts.replenishment_suggested",
                entity="replenishment",  # a run has no row of its own: data names its documents
                entity_id=0,
                data={
                    "orders": [o.pk for o in result.orders],
                    "transfers": [t.pk for t in result.transfers],
                    "created": result.created,
                    "updated": result.updated,
                    "removed": result.removed,
                    "shortfalls": len(result.shortfalls),
                },
            )
    return result


def _write_orders(
    actor: User | None,
    now: dt.datetime,
    today: dt.date,
    needs: dict[tuple[int, int], list[_Need]],
    sources: dict[int, PartSupplier],
    system_lines: dict[Key, PurchaseOrderLine],
    drafts: list[PurchaseOrder],
    result: Suggestions,
) -> None:
    """Create or rewrite the draft purchase-order lines for `needs`; drop the system lines no
    longer needed and cancel the system drafts left empty."""
    touched: dict[int, PurchaseOrder] = {}
    kept: set[int] = set()
    open_draft = {(o.supplier_id, o.location_id): o for o in drafts}
    for (supplier_id, location_id), group in sorted(needs.items()):
        for need in group:
            key = (need.target.part_id, location_id)
            source = sources[need.target.part_id]
            line = system_lines.get(key)
            if line is not None and line.order.supplier_id != supplier_id:
                line = None
            if line is not None:
                kept.add(line.pk)
                if line.quantity != need.quantity or line.reason != need.reason:
                    line.quantity, line.reason = need.quantity, need.reason
                    line.unit_price = source.unit_price
                    line.save(update_fields=["quantity", "reason", "unit_price"])
                    result.updated += 1
                order = line.order
            else:
                order = open_draft.get((supplier_id, location_id)) or _draft_create(
                    actor, now, source, need.target.location
                )
                open_draft[(supplier_id, location_id)] = order
                if order.lines.filter(part_id=need.target.part_id).exists():
                    continue
                created = PurchaseOrderLine.objects.create(
                    order=order,
                    part_id=need.target.part_id,
                    quantity=need.quantity,
                    unit_price=source.unit_price,
                    reason=need.reason,
                )
                kept.add(created.pk)
                result.created += 1
            expected = today + dt.timedelta(days=source.lead_time_days)
            if order.expected_on is None or order.expected_on < expected:
                order.expected_on = expected
                order.save(update_fields=["expected_on"])
            touched[order.pk] = order
    emptied: dict[int, PurchaseOrder] = {}
    for line in system_lines.values():
        if line.pk not in kept:
            emptied[line.order_id] = line.order
            line.delete()
            result.removed += 1
    for order in emptied.values():
        if order.pk not in touched and not order.lines.exists():
            _po_set_status(actor, order, PurchaseOrder.Status.CANCELLED, {"emptied": True})
    result.orders = sorted(touched.values(), key=lambda o: o.pk)


def _draft_create(
    actor: User | None, now: dt.datetime, source: PartSupplier, location: Location
) -> PurchaseOrder:
    order = PurchaseOrder.objects.create(
        number=number_allocate(prefix="PO"),
        supplier_id=source.supplier_id,
        location=location,
        status=PurchaseOrder.Status.DRAFT,
        created_at=now,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="parts.po_drafted",
        entity="purchase_order",
        entity_id=order.pk,
        data={"number": order.number, "supplier": source.supplier_id, "location": location.pk},
    )
    return order


def _write_transfers(
    actor: User | None,
    needs: dict[tuple[int, int], list[_Need]],
    system_lines: dict[Key, TransferLine],
    by_id: dict[int, Location],
    result: Suggestions,
) -> None:
    """Create or rewrite the suggested transfers for `needs` (one per source and destination);
    drop system lines no longer needed and withdraw system suggestions left empty."""
    touched: dict[int, Transfer] = {}
    kept: set[int] = set()
    for (source_id, destination_id), group in sorted(needs.items()):
        existing = [
            system_lines[(n.target.part_id, destination_id)]
            for n in group
            if (n.target.part_id, destination_id) in system_lines
            and system_lines[(n.target.part_id, destination_id)].transfer.source_id == source_id
        ]
        transfer = existing[0].transfer if existing else None
        fresh: list[_Need] = []
        for need in group:
            line = system_lines.get((need.target.part_id, destination_id))
            if transfer is None or line is None or line.transfer_id != transfer.pk:
                fresh.append(need)
                continue
            kept.add(line.pk)
            if line.quantity != need.quantity:
                line.quantity = need.quantity
                line.save(update_fields=["quantity"])
                result.updated += 1
        reasons = {str(n.target.part_id): n.reason for n in group}
        if transfer is None:
            transfer = services.transfer_create(
                actor=actor,
                source=by_id[source_id],
                destination=by_id[destination_id],
                lines=[(n.target.part, StockKind.NEW, n.quantity) for n in fresh],
                ship=False,
                reason={"auto": True, "lines": reasons},
                suggested=True,
            )
            kept.update(transfer.lines.values_list("pk", flat=True))
            result.created += len(fresh)
        else:
            for need in fresh:
                if transfer.lines.filter(part_id=need.target.part_id).exists():
                    continue
                created = TransferLine.objects.create(
                    transfer=transfer,
                    part_id=need.target.part_id,
                    stock_kind=StockKind.NEW,
                    quantity=need.quantity,
                )
                kept.add(created.pk)
                result.created += 1
            transfer.reason = {"auto": True, "lines": reasons}
            transfer.save(update_fields=["reason"])
        touched[transfer.pk] = transfer
    emptied: dict[int, Transfer] = {}
    for line in system_lines.values():
        if line.pk not in kept:
            emptied[line.transfer_id] = line.transfer
            line.delete()
            result.removed += 1
    # A suggestion nobody acted on moved nothing and has no history: an emptied one goes.
    for transfer in emptied.values():
        if transfer.pk not in touched and not transfer.lines.exists():
            transfer.delete()
    result.transfers = sorted(touched.values(), key=lambda t: t.pk)


# --- approval and receipt ---------------------------------------------------------------------

_PO_NEXT: dict[str, frozenset[str]] = {
    PurchaseOrder.Status.DRAFT: frozenset(
        {PurchaseOrder.Status.APPROVED, PurchaseOrder.Status.CANCELLED}
    ),
    PurchaseOrder.Status.APPROVED: frozenset(
        {PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED}
    ),
}


def _po_lock(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().get(pk=order.pk)


def _po_set_status(
    actor: User | None, order: PurchaseOrder, status: str, data: dict[str, Any] | None = None
) -> PurchaseOrder:
    """The one place a purchase order changes status: checks the transition, writes the audit
    row. The caller holds the order's row lock."""
    if status not in _PO_NEXT.get(order.status, frozenset()):
        raise Conflict(
            f"not_{'draft' if status == PurchaseOrder.Status.APPROVED else 'open'}",
            _("Purchase order %(number)s is %(status)s.")
            % {"number": order.number, "status": order.get_status_display()},
            details={"status": order.status},
        )
    before = order.status
    order.status = status
    fields = ["status"]
    if status == PurchaseOrder.Status.APPROVED:
        order.approved_by, order.approved_at = actor, clock.now()
        fields += ["approved_by", "approved_at"]
    order.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"parts.po_{status}",
        entity="purchase_order",
        entity_id=order.pk,
        data={"number": order.number, "before": before, "after": status, **(data or {})},
    )
    return order


def purchase_order_approve(*, actor: User, order: PurchaseOrder) -> PurchaseOrder:
    """Approve a draft purchase order (DRAFT -> APPROVED): it is then on order and counts in
    the inventory position. 409 `not_draft` otherwise, `empty_order` without lines."""
    require_perm(actor, "parts.approve_replenishment")
    with transaction.atomic():
        locked = _po_lock(order)
        if locked.status == PurchaseOrder.Status.DRAFT and not locked.lines.exists():
            raise Conflict("empty_order", _("A purchase order needs at least one line."))
        lines = list(locked.lines.values_list("part_id", "quantity"))
        return _po_set_status(
            actor, locked, PurchaseOrder.Status.APPROVED, {"lines": [list(x) for x in lines]}
        )


def purchase_order_cancel(*, actor: User, order: PurchaseOrder) -> PurchaseOrder:
    """Cancel a draft, or an approved order nothing of which was received yet. 409
    `not_open` for received or cancelled orders, `partly_received` once goods arrived."""
    require_perm(actor, "parts.approve_replenishment")
    with transaction.atomic():
        locked = _po_lock(order)
        if locked.lines.filter(received_quantity__gt=0).exists():
            raise Conflict(
                "partly_received",
                _("Part of purchase order %(number)s was received; it cannot be cancelled.")
                % {"number": locked.number},
            )
        return _po_set_status(actor, locked, PurchaseOrder.Status.CANCELLED)


def _whole_quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApplicationError(
            "invalid_quantity",
            _("Quantities are whole numbers of at least 1."),
            details={"quantity": str(value)},
        )
    return value


def purchase_order_line_set(
    *, actor: User, line: PurchaseOrderLine, quantity: int
) -> PurchaseOrderLine:
    """Change a draft line's quantity. It must respect the supplier's minimum order quantity
    (400 `below_moq`) and order multiple (400 `not_order_multiple`); 409 `not_draft` once the
    order left draft. The line then belongs to the person: later runs leave it alone."""
    require_perm(actor, "parts.approve_replenishment")
    quantity = _whole_quantity(quantity)
    with transaction.atomic():
        order = _po_lock(line.order)
        if order.status != PurchaseOrder.Status.DRAFT:
            raise Conflict(
                "not_draft",
                _("Only a draft purchase order can be changed."),
                details={"status": order.status},
            )
        locked = PurchaseOrderLine.objects.get(pk=line.pk, order=order)
        source = PartSupplier.objects.filter(
            part_id=locked.part_id, supplier_id=order.supplier_id
        ).first()
        moq = source.min_order_qty if source else 1
        multiple = source.order_multiple if source else 1
        if quantity < moq:
            raise ApplicationError(
                "below_moq",
                _("The supplier's minimum order quantity is %(moq)d.") % {"moq": moq},
                details={"min_order_qty": moq, "quantity": quantity},
            )
        if quantity % multiple:
            raise ApplicationError(
                "not_order_multiple",
                _("The supplier sells in multiples of %(n)d.") % {"n": multiple},
                details={"order_multiple": multiple, "quantity": quantity},
            )
        before = locked.quantity
        locked.quantity = quantity
        locked.reason = {**locked.reason, "set_by": actor.pk, "set_from": before}
        locked.save(update_fields=["quantity", "reason"])
        audit_record(
            actor=actor,
            action="parts.po_line_set",
            entity="purchase_order",
            entity_id=order.pk,
            data={"line": locked.pk, "part": locked.part_id, "before": before, "after": quantity},
        )
    return locked


def purchase_order_receive(
    *,
    actor: User,
    order: PurchaseOrder,
    received: dict[int, int],
    at: dt.datetime | None = None,
) -> PurchaseOrder:
    """Receive goods against an approved order: `received` maps line ids to quantities.

    Each line is booked through `services.stock_receive` (a RECEIPT movement at the order's
    location, at the line's price, linked to the order and supplier; waiting backorders there
    are served). The order is RECEIVED when every line is complete. Refusals change nothing:
    409 `not_approved`, 400 `nothing_received`, `unknown_line`, `invalid_quantity`,
    `over_receipt` (more than a line still expects).
    """
    require_perm(actor, "parts.move_stock")
    if not received:
        raise ApplicationError("nothing_received", _("Enter at least one received quantity."))
    wanted = {int(k): _whole_quantity(v) for k, v in received.items()}
    with transaction.atomic():
        # The order and its lines are locked before the stock rows: no one locks them after
        # a balance row, and two receipts of one order must not both pass the check.
        locked = _po_lock(order)
        if locked.status != PurchaseOrder.Status.APPROVED:
            raise Conflict(
                "not_approved",
                _("Goods are received only against an approved purchase order."),
                details={"status": locked.status},
            )
        lines = {
            line.pk: line
            for line in PurchaseOrderLine.objects.select_for_update()
            .filter(order=locked)
            .select_related("part")
            .order_by("pk")
        }
        unknown = sorted(set(wanted) - set(lines))
        if unknown:
            raise ApplicationError(
                "unknown_line",
                _("These lines are not on purchase order %(number)s.") % {"number": locked.number},
                details={"lines": unknown},
            )
        over = {
            pk: lines[pk].quantity - lines[pk].received_quantity
            for pk, q in wanted.items()
            if lines[pk].received_quantity + q > lines[pk].quantity
        }
        if over:
            raise ApplicationError(
                "over_receipt",
                _("More was entered than the order still expects."),
                details={"open": {str(pk): left for pk, left in over.items()}},
            )
        for pk in sorted(wanted):
            line = lines[pk]
            services.stock_receive(
                actor=actor,
                part=line.part,
                location=locked.location,
                quantity=wanted[pk],
                unit_cost=line.unit_price,
                supplier=locked.supplier,
                purchase_order=locked,
                at=at,
            )
            line.received_quantity += wanted[pk]
            line.save(update_fields=["received_quantity"])
        complete = all(line.received_quantity >= line.quantity for line in lines.values())
        data = {"received": {str(pk): q for pk, q in wanted.items()}}
        if complete:
            _po_set_status(actor, locked, PurchaseOrder.Status.RECEIVED, data)
        else:
            audit_record(
                actor=actor,
                action="parts.po_partly_received",
                entity="purchase_order",
                entity_id=locked.pk,
                data={"number": locked.number, **data},
            )
    return locked


def transfer_suggestion_approve(*, actor: User, transfer: Transfer) -> Transfer:
    """Approve a suggested transfer: it is shipped at once through `services.transfer_ship`
    (which needs the stock to be there: 409 `insufficient_stock`). 409 `not_suggested` for
    any other transfer."""
    require_perm(actor, "parts.approve_replenishment")
    current = Transfer.objects.get(pk=transfer.pk)
    if current.status != Transfer.Status.SUGGESTED:
        raise Conflict(
            "not_suggested",
            _("Only a suggested transfer can be approved."),
            details={"status": current.status},
        )
    with transaction.atomic():
        # `transfer_ship` locks the balances, then the transfer, and checks its status again
        # under the lock; locking the transfer here first would invert that order.
        shipped = services.transfer_ship(actor=actor, transfer=current)
        audit_record(
            actor=actor,
            action="parts.transfer_suggestion_approved",
            entity="transfer",
            entity_id=shipped.pk,
            data={"number": shipped.number},
        )
    return shipped


# --- the service-level / stock-cost curve -----------------------------------------------------

CURVE_LEVELS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995)
CURVE_PART_LIMIT = 300
CURVE_MONTHS = (12, 60)
DEFAULT_LEAD_DAYS = 30
PROJECT = "project"
NAIVE = "naive"
ALL = "all"


@dataclass(frozen=True)
class CurveResult:
    """Fill rate against average stock value, per ABC class and overall (`ALL`), for the
    project's method and the naive one, with where today's policies sit.

    `classes[c]` holds `project` and `naive`: one point per level, `{"level", "fill_rate",
    "stock_value", "per_point"}` (`per_point`: extra stock value per +1 point of fill rate
    from the previous point), and `current`: today's policies' point, its `per_point` being
    the cost of moving up to the next point of the project's curve. Fill rates are 0..1 (None
    without demand), values in the parts' currency, simulated averages (not booked money).
    """

    levels: list[float]
    months: int
    fit_months: int
    parts: int
    classes: dict[str, dict[str, Any]]

    def chart(self) -> dict[str, Any]:
        """ECharts-ready: one line per class and method (x: stock value, y: fill rate in %),
        and one marker per class for today's policies."""
        series = []
        markers = []
        for name, data in self.classes.items():
            for method in (PROJECT, NAIVE):
                series.append(
                    {
                        "name": f"{name} {method}",
                        "class": name,
                        "method": method,
                        "type": "line",
                        "data": [
                            [p["stock_value"], round(p["fill_rate"] * 100, 2)]
                            for p in data[method]
                            if p["fill_rate"] is not None
                        ],
                    }
                )
            current = data["current"]
            if current is not None and current["fill_rate"] is not None:
                markers.append(
                    {
                        "class": name,
                        "value": [current["stock_value"], round(current["fill_rate"] * 100, 2)],
                        "per_point": current["per_point"],
                    }
                )
        return {"series": series, "markers": markers}


def _per_point(value: float, fill: float | None, before: dict[str, Any] | None) -> float | None:
    if before is None or fill is None or before["fill_rate"] is None:
        return None
    gain = (fill - before["fill_rate"]) * 100
    return round((value - before["stock_value"]) / gain, 2) if gain > 1e-9 else None


def _point(level: float | None, served: float, demanded: float, value: float) -> dict[str, Any]:
    return {
        "level": level,
        "fill_rate": round(served / demanded, 5) if demanded > 0 else None,
        "stock_value": round(value, 2),
        "per_point": None,
    }


def _curve_parts(parts: Sequence[Part] | None) -> list[Part]:
    if parts is None:
        return list(
            Part.objects.filter(is_active=True, superseded_by__isnull=True).order_by("number")[
                :CURVE_PART_LIMIT
            ]
        )
    chosen = list(parts)
    if len(chosen) > CURVE_PART_LIMIT:
        raise ApplicationError(
            "too_many_parts",
            _("The curve is computed for at most %(n)d parts at a time.") % {"n": CURVE_PART_LIMIT},
            details={"limit": CURVE_PART_LIMIT, "parts": len(chosen)},
        )
    return chosen


def _project_levels(
    train: np.ndarray[Any, np.dtype[np.float64]],
    protection: np.ndarray[Any, np.dtype[np.int64]],
    levels: np.ndarray[Any, np.dtype[np.float64]],
    current: list[tuple[str, float] | None],
    costs: np.ndarray[Any, np.dtype[np.float64]],
    system_goal: float | None = None,
    critical: Sequence[bool] = (),
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Order-up-to levels by the project's method: the automatic forecast fitted on `train`,
    the negative-binomial demand over each part's protection interval (dispersion from the
    forecast's backtest, pooled per interval length), and per grid level the levels that reach
    that aggregate fill rate at the least stock value (`inventory_policy.system_levels`); and
    today's policy level per part: its class target alone, or under the system allocation
    (`system_goal`) the allocation's level for that network fill rate, critical parts at least
    their class target's; 0 where it holds no stock."""
    n = train.shape[0]
    horizon = int(protection.max())
    histories: dict[Hashable, np.ndarray[Any, np.dtype[np.float64]]] = dict(enumerate(train))
    batch = forecasting.forecast_batch(histories, h=horizon, season_length=12)
    backtest, actuals = batch.chosen_backtest(), batch.actuals
    paths = batch.chosen_paths()
    pooled = {}
    for k in np.unique(protection):
        rows = protection == k
        index, _blocks = inventory_policy.dispersion_index(
            backtest[rows], actuals[rows], int(k), paths[rows, :k].sum(axis=1)
        )
        pooled[int(k)] = inventory_policy.pooled_dispersion(index)
    today = np.zeros(n, dtype=np.int64)
    dists: list[inventory_policy.DemandDistribution] = []
    review_means = np.zeros(n)
    for i in range(n):
        k = int(protection[i])
        series = batch.result(i)
        dist = inventory_policy.lead_time_demand(
            series.forecast,
            series.backtest_forecasts,
            series.backtest_actuals,
            lead_time=k - 1,
            review=1,
            pooled=pooled[k],
        )
        per_period = dist.mean / k
        dists.append(dist)
        review_means[i] = per_period
        policy = current[i]
        if policy is None:
            continue
        measure, target = policy
        if measure == StockPolicy.Measure.FILL_RATE:
            today[i] = int(inventory_policy.order_up_to_for_fill_rate(dist, target, per_period))
        else:
            today[i] = inventory_policy.order_up_to_for_service_level(dist, target)
    grid = inventory_policy.system_levels(dists, costs, review_means, levels)
    if system_goal is not None:
        allocated = inventory_policy.system_levels(dists, costs, review_means, [system_goal])[:, 0]
        for i in range(n):
            if current[i] is not None:
                floor = today[i] if i < len(critical) and critical[i] else 0
                today[i] = max(int(allocated[i]), int(floor))
    return grid, today


def _naive_levels(
    train: np.ndarray[Any, np.dtype[np.float64]],
    protection: np.ndarray[Any, np.dtype[np.int64]],
    levels: np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """What a min/max user sets: the mean of the fit months times the protection interval
    plus z(level) standard deviations of monthly demand times its square root, rounded up."""
    mean = train.mean(axis=1)
    sd = train.std(axis=1, ddof=1) if train.shape[1] > 1 else np.zeros(train.shape[0])
    z = stats.norm.ppf(levels)
    k = protection.astype(float)[:, None]
    raw = mean[:, None] * k + z[None, :] * sd[:, None] * np.sqrt(k)
    levels_out: np.ndarray[Any, np.dtype[np.int64]] = np.maximum(np.ceil(raw - 1e-9), 0).astype(
        np.int64
    )
    return levels_out


def service_curve(
    *,
    parts: Sequence[Part] | None = None,
    targets: Sequence[float] = CURVE_LEVELS,
    months: int = 24,
    lead_time: int | None = None,
    end: dt.date | None = None,
) -> CurveResult:
    """The service-level / stock-cost curve, simulated on the parts' own history.

    The last `months` complete months of demand (`demand_matrix`) are cut in two: both
    methods are fitted on the first half only and their order-up-to levels are simulated
    (`inventory_policy.simulate_order_up_to`, monthly review, lost sales) on the second half,
    which neither has seen. One fit instead of one per simulated month keeps the page fast
    (a few hundred parts in seconds) at the price of levels that do not follow the demand
    within the simulated year; both methods pay that price alike. Lead time: `lead_time` days
    for every part, else each part's preferred source's (`DEFAULT_LEAD_DAYS` without one),
    as whole months (at least one); an order placed at the end of a month is in stock for
    the months from the next one on, so the protection interval is that many months.

    For each grid level: the project's method sets S for that fill rate from the
    negative-binomial lead-time demand of the automatic forecast choice; the naive one uses
    a 12-month moving average with a normal distribution, S = mean x k + z x sd x sqrt(k).
    Each method's points are (units served / units demanded, sum of average on hand x unit
    cost) per ABC class and overall; today's point uses the targets in force with the
    project's method: each part's class policy target, or the system allocation's levels for
    the settings' network fill rate (`target_mode_set`; on-demand parts hold nothing).
    Default parts: the first `CURVE_PART_LIMIT` active, not superseded parts by number; more
    are refused (400 `too_many_parts`). 400 `invalid_months` outside 12..60, `invalid_target`
    outside (0.5, 1).
    """
    if not CURVE_MONTHS[0] <= months <= CURVE_MONTHS[1]:
        raise ApplicationError(
            "invalid_months",
            _("Use between %(lo)d and %(hi)d months of history.")
            % {"lo": CURVE_MONTHS[0], "hi": CURVE_MONTHS[1]},
            details={"months": months},
        )
    grid = sorted({float(t) for t in targets})
    if not grid or not all(0.5 < t < 1 for t in grid):
        raise ApplicationError(
            "invalid_target",
            _("Service levels lie strictly between 0.5 and 1."),
            details={"targets": grid},
        )
    chosen = _curve_parts(parts)
    fit = months // 2
    result = CurveResult(levels=grid, months=months, fit_months=fit, parts=len(chosen), classes={})
    if not chosen:
        return result
    demand = demand_matrix(parts=chosen, months=months, end=end)
    history = np.array([demand[p.pk] for p in chosen], dtype=float)
    train, test = history[:, :fit], history[:, fit:]
    sources = _sources(p.pk for p in chosen)
    days = np.array(
        [
            lead_time
            if lead_time is not None
            else (sources[p.pk].lead_time_days if p.pk in sources else DEFAULT_LEAD_DAYS)
            for p in chosen
        ],
        dtype=float,
    )
    protection = np.maximum(np.ceil(days / DAYS_PER_MONTH - 1e-9), 1).astype(np.int64)
    policies = list(StockPolicy.objects.filter(is_active=True).order_by("rank", "id"))
    current: list[tuple[str, float] | None] = []
    for part in chosen:
        policy = policy_for(part, policies=policies)
        stocked = policy is not None and policy.method != StockPolicy.Method.ON_DEMAND
        current.append(
            (policy.service_measure, float(policy.service_target)) if stocked and policy else None
        )
    levels = np.array(grid)
    cost = np.array([float(p.unit_cost) for p in chosen])
    settings = parts_settings()
    system_goal = (
        float(settings.system_fill_rate) if settings.target_mode == TargetMode.SYSTEM else None
    )
    project, today = _project_levels(
        train,
        protection,
        levels,
        current,
        cost,
        system_goal=system_goal,
        critical=[p.is_critical for p in chosen],
    )
    naive = _naive_levels(train, protection, levels)
    # Columns: project levels, naive levels, today's policy.
    stock = np.concatenate([project, naive, today[:, None]], axis=1)
    served = np.zeros(stock.shape)
    held = np.zeros(stock.shape)
    for k in np.unique(protection):
        rows = np.flatnonzero(protection == k)
        columns = stock.shape[1]
        sim = inventory_policy.simulate_order_up_to(
            np.repeat(test[rows], columns, axis=0),
            stock[rows].reshape(-1),
            lead_time=int(k),
            review=1,
        )
        served[rows] = sim.filled.sum(axis=1).reshape(rows.size, columns)
        held[rows] = sim.on_hand.mean(axis=1).reshape(rows.size, columns)
    value = held * cost[:, None]
    demanded = test.sum(axis=1)
    groups: dict[str, np.ndarray[Any, np.dtype[np.bool_]]] = {ALL: np.ones(len(chosen), bool)}
    for name in sorted({p.abc_class or "-" for p in chosen}):
        groups[name] = np.array([(p.abc_class or "-") == name for p in chosen])
    for name, mask in groups.items():
        total = float(demanded[mask].sum())
        curves: dict[str, Any] = {}
        for method, offset in ((PROJECT, 0), (NAIVE, len(grid))):
            points: list[dict[str, Any]] = []
            for j, level in enumerate(grid):
                point = _point(
                    level,
                    float(served[mask, offset + j].sum()),
                    total,
                    float(value[mask, offset + j].sum()),
                )
                point["per_point"] = _per_point(
                    point["stock_value"], point["fill_rate"], points[-1] if points else None
                )
                points.append(point)
            curves[method] = points
        curves["current"] = None
        if not any(current[i] is not None for i in np.flatnonzero(mask)):
            result.classes[name] = curves
            continue
        now_point = _point(None, float(served[mask, -1].sum()), total, float(value[mask, -1].sum()))
        above = [
            p
            for p in curves[PROJECT]
            if p["fill_rate"] is not None
            and now_point["fill_rate"] is not None
            and p["fill_rate"] > now_point["fill_rate"]
        ]
        if above:
            nxt = above[0]
            now_point["per_point"] = _per_point(nxt["stock_value"], nxt["fill_rate"], now_point)
        curves["current"] = now_point
        result.classes[name] = curves
    return result
