"""Reads of spare parts: stock per location, part search, and the demand history that
classification and forecasting learn from."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.db.models import Count, F, Min, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Abs, Coalesce, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.cases.selectors import case_queryset_for
from aftersales.core import clock
from aftersales.core.errors import ApplicationError

from .models import (
    Backorder,
    ClassificationChange,
    DemandEvent,
    DemandHistory,
    Forecast,
    ForecastAccuracy,
    ForecastOverride,
    ForecastRun,
    Location,
    Part,
    PartsSettings,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    SbcClass,
    StockBalance,
    StockMovement,
    StockTarget,
    Transfer,
    TransferLine,
)

_CaseStock = TypeVar("_CaseStock", Reservation, Backorder)


def parts_settings() -> PartsSettings:
    """The settings row, or unsaved defaults before `parts_defaults_ensure` ran."""
    return PartsSettings.objects.order_by("pk").first() or PartsSettings()


def case_stock_for(user: User, qs: QuerySet[_CaseStock]) -> QuerySet[_CaseStock]:
    """The reservations or backorders of `qs` a user reaches: all of them for warehouse staff
    (`parts.move_stock`), who serve every case; else those of the cases in the user's scope."""
    if user.has_perm("parts.move_stock"):
        return qs
    return qs.filter(case__in=case_queryset_for(user))


__all__ = [
    "DemandSeries",
    "accuracy_summary",
    "classification_changes",
    "classification_matrix",
    "demand_history",
    "demand_matrix",
    "demand_months",
    "demand_series",
    "demand_weeks",
    "forecast_latest",
    "ledger_since",
    "location_issues",
    "part_availability",
    "part_forecast_chart",
    "part_search",
    "suggestions_pending",
    "targets_for",
]

_DEMAND_KINDS = (StockMovement.Kind.ISSUE, StockMovement.Kind.RETURN)


def part_availability(part: Part) -> list[dict[str, Any]]:
    """The part's stock per location and stock kind (rows where anything is held or coming):
    on hand, reserved, available, in transit; by location code, then kind."""
    rows = (
        StockBalance.objects.filter(part=part)
        .filter(Q(on_hand__gt=0) | Q(reserved__gt=0) | Q(in_transit__gt=0))
        .select_related("location")
        .order_by("location__code", "kind")
    )
    return [
        {
            "location": b.location.code,
            "location_code": b.location.code,
            "location_name": b.location.name,
            "kind": b.kind,
            "on_hand": b.on_hand,
            "reserved": b.reserved,
            "available": b.available,
            "in_transit": b.in_transit,
        }
        for b in rows
    ]


def part_search(
    *, q: str = "", critical: bool | None = None, abc_class: str = "", sbc_class: str = ""
) -> QuerySet[Part]:
    """Parts matching a number or name fragment and class filters, each with its network-wide
    stock (`stock_on_hand`, `stock_reserved`, `stock_available`, `stock_in_transit`)."""
    parts = Part.objects.all()
    q = q.strip()
    if q:
        parts = parts.filter(
            Q(number__icontains=q) | Q(name_zh__icontains=q) | Q(name_en__icontains=q)
        )
    if critical is not None:
        parts = parts.filter(is_critical=critical)
    if abc_class:
        parts = parts.filter(abc_class=abc_class)
    if sbc_class:
        parts = parts.filter(sbc_class=sbc_class)
    return parts.annotate(
        stock_on_hand=Coalesce(Sum("balances__on_hand"), 0),
        stock_reserved=Coalesce(Sum("balances__reserved"), 0),
        stock_in_transit=Coalesce(Sum("balances__in_transit"), 0),
    ).annotate(stock_available=F("stock_on_hand") - F("stock_reserved"))


# --- demand history -------------------------------------------------------------------------


def _month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def demand_months(*, months: int, end: dt.date | None = None) -> list[dt.date]:
    """The first days of the `months` complete months before `end`'s month (default today,
    local time), oldest first."""
    end = end or timezone.localdate(clock.now())
    last = _month_add(end.replace(day=1), -1)
    return [_month_add(last, -i) for i in range(months - 1, -1, -1)]


def _predecessors(part_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each part, itself and every part it supersedes, directly or down the chain."""
    replaced_by: dict[int, list[int]] = defaultdict(list)
    for old, new in Part.objects.filter(superseded_by__isnull=False).values_list(
        "pk", "superseded_by_id"
    ):
        replaced_by[new].append(old)
    closure: dict[int, set[int]] = {}
    for part_id in part_ids:
        found = {part_id}
        todo = [part_id]
        while todo:
            for old in replaced_by.get(todo.pop(), ()):
                if old not in found:
                    found.add(old)
                    todo.append(old)
        closure[part_id] = found
    return closure


def demand_weeks(*, weeks: int, end: dt.date | None = None) -> list[dt.date]:
    """The Mondays of the `weeks` complete weeks (Monday to Sunday) before `end`'s week
    (default today, local time), oldest first."""
    end = end or timezone.localdate(clock.now())
    this_week = end - dt.timedelta(days=end.weekday())
    return [this_week - dt.timedelta(weeks=i) for i in range(weeks, 0, -1)]


def _local_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


Bucket = Literal["month", "week"]


def _demand(
    part_ids: list[int],
    *,
    location: Location | None,
    periods: int,
    end: dt.date | None,
    bucket: Bucket = "month",
) -> tuple[list[dt.date], dict[int, list[int]]]:
    if bucket == "week":
        calendar = demand_weeks(weeks=periods, end=end)
        after_last = calendar[-1] + dt.timedelta(weeks=1) if calendar else None
    else:
        calendar = demand_months(months=periods, end=end)
        after_last = _month_add(calendar[-1], 1) if calendar else None
    if not part_ids or after_last is None:
        return calendar, {p: [0] * len(calendar) for p in part_ids}
    closure = _predecessors(part_ids)
    sources = set().union(*closure.values())
    ledger = StockMovement.objects.filter(
        kind__in=_DEMAND_KINDS,
        part_id__in=sources,
        occurred_at__gte=_local_start(calendar[0]),
        occurred_at__lt=_local_start(after_last),
    )
    if location is not None:
        ledger = ledger.filter(location=location)
    # Per source part and period: the ledger's net issues (issues are negative quantities).
    trunc = TruncWeek if bucket == "week" else TruncMonth
    net: dict[tuple[int, dt.date], int] = {}
    for row in (
        ledger.annotate(period=trunc("occurred_at"))
        .values("part_id", "period")
        .annotate(total=Sum("quantity"))
    ):
        net[(row["part_id"], timezone.localtime(row["period"]).date())] = -row["total"]
    if bucket == "month":
        # Imported history fills the months the ledger has nothing for (before go-live). It is
        # monthly: weeks before go-live are unknown (see `demand_series`).
        imported = DemandHistory.objects.filter(
            part_id__in=sources, month__gte=calendar[0], month__lte=calendar[-1]
        )
        if location is not None:
            imported = imported.filter(location=location)
        for part_id, month, total in imported.values_list("part_id", "month").annotate(
            total=Sum("quantity")
        ):
            net.setdefault((part_id, month), total)
    counts_for: dict[int, list[int]] = defaultdict(list)
    for part_id, found in closure.items():
        for source in found:
            counts_for[source].append(part_id)
    index = {start: i for i, start in enumerate(calendar)}
    series = {part_id: [0] * len(calendar) for part_id in part_ids}
    for (source, start), quantity in net.items():
        if start in index:
            for part_id in counts_for[source]:
                series[part_id][index[start]] += quantity
    # Returns can outweigh a period's issues; demand is never negative.
    return calendar, {p: [max(v, 0) for v in values] for p, values in series.items()}


def demand_history(
    *, part: Part, location: Location | None = None, months: int, end: dt.date | None = None
) -> list[tuple[dt.date, int]]:
    """Monthly demand of a part: issues minus returns of it and of every part it supersedes,
    for the `months` complete months before `end` (default today), oldest first, months
    without demand as 0. A month the ledger has no issue or return of a part for takes the
    imported history (`DemandHistory`, from before go-live) instead; network-wide unless
    `location` is given."""
    calendar, series = _demand([part.pk], location=location, periods=months, end=end)
    return list(zip(calendar, series[part.pk], strict=True))


def demand_matrix(
    *, parts: Iterable[Part], months: int, end: dt.date | None = None
) -> dict[int, list[int]]:
    """`demand_history` (network-wide) for many parts at once: part id -> monthly demand,
    oldest first, in one ledger query (plus one of imported history and one of the
    supersession chains), for classification and forecast runs over every part."""
    part_ids = sorted({p.pk for p in parts})
    _calendar, series = _demand(part_ids, location=None, periods=months, end=end)
    return series


DEMAND_PERIODS_DEFAULT: dict[str, int] = {"month": 24, "week": 26}


@dataclass(frozen=True)
class DemandSeries:
    """A part's demand per month or week. `quantity` is None for a week the stock ledger did
    not yet record: history imported from before go-live is monthly and cannot be split."""

    part: Part
    bucket: Bucket
    location: Location | None
    ledger_since: dt.date | None
    periods: list[tuple[dt.date, int | None]]


def ledger_since() -> dt.date | None:
    """The local day of the stock ledger's first movement (go-live), None while it is empty."""
    first = StockMovement.objects.aggregate(first=Min("occurred_at"))["first"]
    return timezone.localtime(first).date() if first is not None else None


def demand_series(
    *,
    part: Part,
    bucket: Bucket = "month",
    periods: int | None = None,
    location: Location | None = None,
    end: dt.date | None = None,
) -> DemandSeries:
    """A part's demand (issues minus returns, with the parts it supersedes) for the `periods`
    complete months or Monday-to-Sunday weeks before `end` (default today), oldest first,
    network-wide or at one `location`. Months before go-live take the imported history, as in
    `demand_history`; weeks before the ledger's first week are unknown (None), not zero."""
    count = periods or DEMAND_PERIODS_DEFAULT[bucket]
    calendar, series = _demand([part.pk], location=location, periods=count, end=end, bucket=bucket)
    since = ledger_since()
    values: list[int | None] = list(series[part.pk])
    if bucket == "week":
        first_week = since - dt.timedelta(days=since.weekday()) if since is not None else None
        values = [
            None if first_week is None or start < first_week else value
            for start, value in zip(calendar, values, strict=True)
        ]
    return DemandSeries(
        part=part,
        bucket=bucket,
        location=location,
        ledger_since=since,
        periods=list(zip(calendar, values, strict=True)),
    )


# --- planning -------------------------------------------------------------------------------
# Reads of planning: forecasts, classification, accuracy. (Writes live in `parts.planning`.)

CHART_HISTORY_MONTHS = 24
ACCURACY_GROUPS = {"sbc": "sbc_class", "abc": "abc_class", "method": "method"}


def forecast_latest(part: Part) -> Forecast | None:
    """The part's network forecast from the latest finished forecast run, if any."""
    return (
        Forecast.objects.filter(
            part=part, location__isnull=True, run__status=ForecastRun.Status.DONE
        )
        .select_related("run")
        .order_by("-run__origin", "-run__started_at", "-run_id")
        .first()
    )


def part_forecast_chart(part: Part) -> dict[str, Any]:
    """What a part's forecast chart shows: monthly demand of the last 24 complete months (past
    an older forecast's origin, so its months can be compared with what was issued), the latest
    forecast per month (mean, p50, p90, p95), its method and demand pattern, the installed-base
    estimate, and the events and overrides in force over its horizon (each a dict ready for a
    template or JSON)."""
    fc = forecast_latest(part)
    history = demand_history(part=part, months=CHART_HISTORY_MONTHS)
    if fc is None:
        return {
            "history": history,
            "forecast": [],
            "method": "",
            "sbc_class": part.sbc_class,
            "installed_base": [],
            "events": [],
            "overrides": [],
        }
    horizon_end = _month_add(fc.run.origin, fc.run.horizon)
    model_ids = list(part.compatible_models.values_list("pk", flat=True))
    events = DemandEvent.objects.filter(
        Q(part=part) | Q(part__isnull=True, product_model_id__in=model_ids),
        is_active=True,
        starts_on__lt=horizon_end,
        ends_on__gte=fc.run.origin,
    ).order_by("starts_on", "id")
    overrides = ForecastOverride.objects.filter(
        part=part,
        withdrawn_at__isnull=True,
        expires_at__gt=clock.now(),
        starts_on__lt=horizon_end,
        ends_on__gte=fc.run.origin,
    ).select_related("author", "location")
    return {
        "history": history,
        "forecast": [
            (
                dt.date.fromisoformat(m["month"]),
                float(m["mean"]),
                int(m["p50"]),
                int(m["p90"]),
                int(m["p95"]),
            )
            for m in fc.months
        ],
        "method": fc.method,
        "sbc_class": fc.sbc_class,
        "installed_base": [
            (dt.date.fromisoformat(m["month"]), float(m["mean"])) for m in fc.installed_base
        ],
        "events": [
            {
                "id": e.pk,
                "name": e.name,
                "kind": e.kind,
                "starts_on": e.starts_on,
                "ends_on": e.ends_on,
                "factor": e.factor,
                "extra_units": e.extra_units,
                "for_model": e.part_id is None,
            }
            for e in events
        ],
        "overrides": [
            {
                "id": o.pk,
                "starts_on": o.starts_on,
                "ends_on": o.ends_on,
                "quantity": o.quantity,
                "reason": o.reason,
                "author": o.author.get_username(),
                "location": o.location.code if o.location else None,
                "expires_at": o.expires_at,
            }
            for o in overrides
        ],
    }


def classification_matrix() -> dict[str, Any]:
    """Active, not superseded parts per (ABC, demand pattern) and per (ABC, XYZ) cell, with
    their usage value (issues of the last 12 complete months x unit cost).

    Returns `{"abc_sbc": [cell...], "abc_xyz": [cell...], "parts": n, "usage_value": total}`,
    each cell `{"abc", "other", "parts", "usage_value", "share"}` (share of the total usage
    value), every combination of A/B/C with the classes listed even when empty; parts not yet
    classified appear under a blank class.
    """
    parts = list(Part.objects.filter(is_active=True, superseded_by__isnull=True))
    demand = demand_matrix(parts=parts, months=12, end=clock.today().replace(day=1))
    value = {p.pk: Decimal(sum(demand.get(p.pk, []))) * p.unit_cost for p in parts}
    total = sum(value.values(), Decimal(0))

    def cells(attr: str, others: list[str]) -> list[dict[str, Any]]:
        grid: dict[tuple[str, str], dict[str, Any]] = {
            (abc, other): {"abc": abc, "other": other, "parts": 0, "usage_value": Decimal(0)}
            for abc in ("A", "B", "C")
            for other in others
        }
        for part in parts:
            key = (part.abc_class, getattr(part, attr))
            cell = grid.setdefault(
                key, {"abc": key[0], "other": key[1], "parts": 0, "usage_value": Decimal(0)}
            )
            cell["parts"] += 1
            cell["usage_value"] += value[part.pk]
        for cell in grid.values():
            cell["share"] = float(cell["usage_value"] / total) if total > 0 else 0.0
        return list(grid.values())

    return {
        "abc_sbc": cells("sbc_class", list(SbcClass.values)),
        "abc_xyz": cells("xyz_class", ["X", "Y", "Z"]),
        "parts": len(parts),
        "usage_value": total,
    }


def classification_changes(limit: int = 50) -> list[ClassificationChange]:
    """The latest class moves of parts, newest run first."""
    return list(
        ClassificationChange.objects.select_related("part", "run").order_by(
            "-run__started_at", "-run_id", "part__number", "dimension"
        )[:limit]
    )


def accuracy_summary(
    *, by: str = "sbc", months: int = 12, lead_months: int | None = 0
) -> dict[str, Any]:
    """Forecast accuracy per group (demand pattern, ABC class or method) and month.

    Measured as WAPE = sum |forecast - actual| / sum actual (the error as a share of what was
    issued: zeros cannot blow it up as they do a per-part percentage error, and many slow parts
    weigh as much as their units), "accuracy" = 1 - WAPE (floored at 0), and bias = (sum
    forecast - sum actual) / sum actual (positive: over-forecast). All three are None where
    nothing was issued. `lead_months` picks the forecast made that many months before the
    month (0: made at the start of the month; None: every lead pooled); `months`: the last
    complete months scored. Returns `{"by", "months": [date...], "groups": [{"key",
    "by_month": [{"month", "actual", "forecast", "wape", "accuracy", "bias", "rows"}],
    "total": {...}}]}`.
    """
    field = ACCURACY_GROUPS.get(by)
    if field is None:
        raise ApplicationError(
            "invalid_group",
            _("Group accuracy by demand pattern, ABC class or method."),
            details={"by": by, "allowed": list(ACCURACY_GROUPS)},
        )
    end = clock.today().replace(day=1)
    start = _month_add(end, -months)
    rows = ForecastAccuracy.objects.filter(month__gte=start, month__lt=end)
    if lead_months is not None:
        rows = rows.filter(lead_months=lead_months)
    figures = (
        rows.values(field, "month")
        .annotate(
            n=Count("id"),
            issued=Sum("actual"),
            forecast_sum=Sum("forecast"),
            error=Sum(Abs(F("forecast") - F("actual"))),
        )
        .order_by(field, "month")
    )

    def measures(actual: float, forecast: float, error: float, n: int) -> dict[str, Any]:
        wape = error / actual if actual > 0 else None
        return {
            "actual": round(actual, 2),
            "forecast": round(forecast, 2),
            "wape": None if wape is None else round(wape, 4),
            "accuracy": None if wape is None else round(max(0.0, 1.0 - wape), 4),
            "bias": round((forecast - actual) / actual, 4) if actual > 0 else None,
            "rows": n,
        }

    groups: dict[str, dict[str, Any]] = {}
    sums: dict[str, list[float]] = {}
    for row in figures:
        key = row[field]
        group = groups.setdefault(key, {"key": key, "by_month": []})
        group["by_month"].append(
            {
                "month": row["month"],
                **measures(row["issued"], row["forecast_sum"], row["error"], row["n"]),
            }
        )
        total = sums.setdefault(key, [0.0, 0.0, 0.0, 0])
        total[0] += row["issued"]
        total[1] += row["forecast_sum"]
        total[2] += row["error"]
        total[3] += row["n"]
    for key, group in groups.items():
        actual, forecast, error, n = sums[key]
        group["total"] = measures(actual, forecast, error, int(n))
    return {
        "by": by,
        "months": [_month_add(start, m) for m in range(months)],
        "groups": list(groups.values()),
    }


# --- replenishment --------------------------------------------------------------------------


def location_issues(*, months: int, end: dt.date | None = None) -> dict[tuple[int, int], int]:
    """Net issues (issues minus returns) per (part id, location id) over the `months` complete
    months before `end` (default today), every part, in one ledger query plus one of imported
    history; imported months count only where the ledger has nothing for that part, place and
    month. Parts are not followed down their supersession chains (the caller maps them)."""
    calendar = demand_months(months=months, end=end)
    start, stop = _local_start(calendar[0]), _local_start(_month_add(calendar[-1], 1))
    net: dict[tuple[int, int, dt.date], int] = {}
    for row in (
        StockMovement.objects.filter(
            kind__in=_DEMAND_KINDS, occurred_at__gte=start, occurred_at__lt=stop
        )
        .annotate(month=TruncMonth("occurred_at"))
        .values("part_id", "location_id", "month")
        .annotate(total=Sum("quantity"))
    ):
        month = timezone.localtime(row["month"]).date().replace(day=1)
        net[(row["part_id"], row["location_id"], month)] = -row["total"]
    for part_id, location_id, month, quantity in DemandHistory.objects.filter(
        location__isnull=False, month__gte=calendar[0], month__lte=calendar[-1]
    ).values_list("part_id", "location_id", "month", "quantity"):
        net.setdefault((part_id, location_id, month), quantity)
    result: dict[tuple[int, int], int] = defaultdict(int)
    for (part, location, _month), total in net.items():
        result[(part, location)] += total
    return {key: value for key, value in result.items() if value > 0}


def suggestions_pending() -> dict[str, Any]:
    """What waits for a warehouse user's approval: draft purchase orders with their lines,
    supplier and location, and suggested transfers with their lines, oldest first."""
    orders = (
        PurchaseOrder.objects.filter(status=PurchaseOrder.Status.DRAFT)
        .select_related("supplier", "location", "created_by")
        .prefetch_related(
            Prefetch("lines", queryset=PurchaseOrderLine.objects.select_related("part"))
        )
        .order_by("created_at", "pk")
    )
    transfers = (
        Transfer.objects.filter(status=Transfer.Status.SUGGESTED)
        .select_related("source", "destination", "created_by")
        .prefetch_related(Prefetch("lines", queryset=TransferLine.objects.select_related("part")))
        .order_by("created_at", "pk")
    )
    return {"orders": list(orders), "transfers": list(transfers)}


def targets_for(part: Part) -> list[StockTarget]:
    """A part's stock targets per location (reorder point, order-up-to level, the policy and
    forecast behind them), by location code."""
    return list(
        StockTarget.objects.filter(part=part)
        .select_related("location", "policy", "forecast")
        .order_by("location__code")
    )
