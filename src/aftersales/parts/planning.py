"""Spare-parts planning (备件计划): classification runs, stock policies, demand events and
forecast overrides, forecast runs and their accuracy.

These writes live here (stock targets and replenishment suggestions in `replenishment`); the
maths is in `forecasting` (methods, automatic choice, classification, installed base,
adjustments) and `inventory_policy` (demand distributions).
Demand is read through `selectors.demand_matrix`, so a part's history includes the parts it
supersedes and the history imported from the previous system.

Runs over every part (classification, forecast) read everything first in a few grouped
queries, compute in one batch, then write in chunks of short transactions, so a page can show
their progress and nothing holds locks for the length of a run.
"""

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, Nature
from aftersales.catalog.models import ProductModel, Unit, add_months
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record

from . import forecasting, inventory_policy
from .models import (
    ClassificationChange,
    ClassificationRun,
    DemandEvent,
    Forecast,
    ForecastAccuracy,
    ForecastOverride,
    ForecastRun,
    Part,
    PartsSettings,
    SbcClass,
    StockPolicy,
)
from .selectors import demand_matrix, parts_settings

Progress = Callable[[int, int], None]

# Parts written per transaction (classification) and per progress step (forecast).
CLASSIFY_CHUNK = 500
FORECAST_CHUNK = 200
USAGE_MONTHS = 12
MAX_HORIZON = 36
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))
# Unit ages (whole years since purchase) at and above this share one failure-rate bucket.
MAX_AGE_BUCKET = 10
AUTO = "auto"
INSTALLED_BASE = "installed_base"
# Forecast of a part with too little history and no installed base: its history's mean.
HISTORY_MEAN = "history_mean"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from `start`'s month to `end`'s month (negative when `end` is earlier)."""
    return (end.year - start.year) * 12 + end.month - start.month


def _origin(at: dt.datetime) -> dt.date:
    return month_start(timezone.localdate(at))


def _planning_parts() -> list[Part]:
    """Active parts that are not superseded: the ones planned (their history includes the
    parts they supersede)."""
    return list(Part.objects.filter(is_active=True, superseded_by__isnull=True).order_by("pk"))


def _trim_leading_zeros(demand: Sequence[int]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The history from the first month with demand: the months before a part was used say
    nothing about how often it is needed and would inflate ADI and deflate the level."""
    y = np.asarray(demand, dtype=float)
    nonzero = np.flatnonzero(y > 0)
    return y[nonzero[0] :] if nonzero.size else y[:0]


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _finite(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


# --- classification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Classes:
    abc: str
    xyz: str
    sbc: str
    figures: dict[str, Any]


def _classify(parts: list[Part], settings: PartsSettings, origin: dt.date) -> dict[int, _Classes]:
    """ABC by cumulative share of 12-month usage value, XYZ by the CV of monthly demand over
    those months, SBC over the whole history window (ADI needs more than a year)."""
    months = max(USAGE_MONTHS, settings.history_months)
    demand = demand_matrix(parts=parts, months=months, end=origin)
    usage: dict[int, Decimal] = {}
    for part in parts:
        usage[part.pk] = Decimal(sum(demand[part.pk][-USAGE_MONTHS:])) * part.unit_cost
    total = sum(usage.values(), Decimal(0))
    # Highest usage value first; the part that crosses a cut-off still belongs to the class above.
    ranked = sorted(parts, key=lambda p: (-usage[p.pk], p.number))
    a_share, b_share = float(settings.abc_a_share), float(settings.abc_b_share)
    result: dict[int, _Classes] = {}
    cumulative = Decimal(0)
    for part in ranked:
        value = usage[part.pk]
        before = float(cumulative / total) if total > 0 else 1.0
        cumulative += value
        if value <= 0:
            abc = "C"
        elif before < a_share:
            abc = "A"
        elif before < b_share:
            abc = "B"
        else:
            abc = "C"
        last_year = np.asarray(demand[part.pk][-USAGE_MONTHS:], dtype=float)
        mean = float(last_year.mean())
        xyz = forecasting.xyz_class(
            last_year, x_max=float(settings.xyz_x_cv), y_max=float(settings.xyz_y_cv)
        )
        sbc, adi, cv2 = forecasting.sbc_class(
            _trim_leading_zeros(demand[part.pk]),
            adi_cutoff=float(settings.sbc_adi),
            cv2_cutoff=float(settings.sbc_cv2),
        )
        result[part.pk] = _Classes(
            abc=abc,
            xyz=xyz,
            sbc=sbc,
            figures={
                "usage_value": str(value.quantize(Decimal("0.01"))),
                "share": _finite(float(value / total)) if total > 0 else 0.0,
                "cumulative_share": _finite(float(cumulative / total)) if total > 0 else 0.0,
                "demand_12m": int(last_year.sum()),
                "cv": _finite(float(last_year.std()) / mean) if mean > 0 else None,
                "adi": _finite(adi),
                "cv2": _finite(cv2),
            },
        )
    return result


def classification_run(
    *, actor: User | None = None, at: dt.datetime | None = None, progress: Progress | None = None
) -> ClassificationRun:
    """Classify every active, not superseded part (ABC / XYZ / SBC, 备件分类) and record moves.

    Usage value = issues of the last 12 complete months (supersession and imported history
    included) x unit cost. ABC: parts ranked by usage value; A until the cumulative share
    reaches `abc_a_share`, B until `abc_b_share`, the rest (and parts without usage) C. XYZ: the
    coefficient of variation of the 12 monthly quantities against the settings' cut-offs. SBC:
    ADI and CV² of the history window from the first month with demand (`forecasting.sbc_class`).
    Writes the classes and `classified_at` on every part and one `ClassificationChange` per
    dimension that moved (first classification included), in chunks of `CLASSIFY_CHUNK` parts,
    one transaction each. `run.changed` counts parts with at least one move. `progress(done,
    total)` is called after every chunk.
    """
    require_perm(actor, "parts.plan_parts", system_allowed=True)
    now = at or clock.now()
    settings = parts_settings()
    parts = _planning_parts()
    classes = _classify(parts, settings, _origin(now))
    run = ClassificationRun.objects.create(started_at=now, actor=actor, parts=len(parts))
    total, done, changed = len(parts), 0, 0
    if progress is not None:
        progress(0, total)
    for chunk in _chunks([p.pk for p in parts], CLASSIFY_CHUNK):
        with transaction.atomic():
            locked = list(Part.objects.select_for_update().filter(pk__in=chunk).order_by("pk"))
            changes: list[ClassificationChange] = []
            for part in locked:
                new = classes[part.pk]
                moved = False
                for dimension, old, value in (
                    ("abc", part.abc_class, new.abc),
                    ("xyz", part.xyz_class, new.xyz),
                    ("sbc", part.sbc_class, new.sbc),
                ):
                    if old != value:
                        moved = True
                        changes.append(
                            ClassificationChange(
                                run=run,
                                part=part,
                                dimension=dimension,
                                old=old,
                                new=value,
                                figures=new.figures,
                            )
                        )
                changed += moved
                part.abc_class, part.xyz_class, part.sbc_class = new.abc, new.xyz, new.sbc
                part.classified_at = now
            Part.objects.bulk_update(
                locked, ["abc_class", "xyz_class", "sbc_class", "classified_at"]
            )
            ClassificationChange.objects.bulk_create(changes)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    run.changed = changed
    run.finished_at = clock.now()
    run.save(update_fields=["changed", "finished_at"])
    return run


# --- policies ---------------------------------------------------------------------------------


def policy_for(part: Part, *, policies: Sequence[StockPolicy] | None = None) -> StockPolicy | None:
    """The first active stock policy by rank whose ABC class, demand pattern and critical flag
    match the part (a blank class or a null flag matches any part). `policies` lets a run pass
    the active policies once instead of reading them per part."""
    if policies is None:
        policies = list(StockPolicy.objects.filter(is_active=True).order_by("rank", "id"))
    for policy in policies:
        if not policy.is_active:
            continue
        if policy.abc_class and policy.abc_class != part.abc_class:
            continue
        if policy.sbc_class and policy.sbc_class != part.sbc_class:
            continue
        if policy.critical is not None and policy.critical != part.is_critical:
            continue
        return policy
    return None


# --- demand events and overrides ----------------------------------------------------------------


def _check_period(starts_on: dt.date, ends_on: dt.date) -> None:
    if ends_on < starts_on:
        raise ApplicationError(
            "invalid_period",
            _("The end date must be on or after the start date."),
            details={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()},
        )


def demand_event_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    part: Part | None = None,
    product_model: ProductModel | None = None,
    starts_on: dt.date,
    ends_on: dt.date,
    factor: Decimal | int = 1,
    extra_units: Decimal | int = 0,
) -> DemandEvent:
    """Record a known cause of demand (a recall, a launch, a promotion) for a part or for every
    part compatible with a product model (with both: that part only).

    Forecast runs multiply the forecast of the months the event touches by `factor` and add
    `extra_units` per month (never below zero). Refusals (400): `invalid_name`, `invalid_kind`,
    `event_target_missing`, `invalid_period`, `invalid_factor`.
    """
    require_perm(actor, "parts.plan_parts")
    name = (name or "").strip()
    if not name:
        raise ApplicationError("invalid_name", _("Give the event a name."))
    if kind not in DemandEvent.Kind.values:
        raise ApplicationError(
            "invalid_kind",
            _("Unknown kind of event."),
            details={"kind": kind, "allowed": list(DemandEvent.Kind.values)},
        )
    if part is None and product_model is None:
        raise ApplicationError(
            "event_target_missing", _("Choose the part or the product model the event affects.")
        )
    _check_period(starts_on, ends_on)
    factor, extra_units = Decimal(factor), Decimal(extra_units)
    if factor < 0:
        raise ApplicationError(
            "invalid_factor",
            _("The factor must be 0 or more (1 leaves the forecast as it is)."),
            details={"factor": str(factor)},
        )
    with transaction.atomic():
        event = DemandEvent.objects.create(
            name=name,
            kind=kind,
            part=part,
            product_model=product_model,
            starts_on=starts_on,
            ends_on=ends_on,
            factor=factor,
            extra_units=extra_units,
            created_at=clock.now(),
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="parts.demand_event_created",
            entity="demand_event",
            entity_id=event.pk,
            data={
                "part": part.pk if part else None,
                "product_model": product_model.pk if product_model else None,
                "kind": kind,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "factor": str(factor),
                "extra_units": str(extra_units),
            },
        )
    return event


def demand_event_withdraw(*, actor: User | None, event: DemandEvent) -> DemandEvent:
    """Withdraw a demand event: later forecast runs ignore it (409 `event_withdrawn` twice)."""
    require_perm(actor, "parts.plan_parts")
    with transaction.atomic():
        event = DemandEvent.objects.select_for_update().get(pk=event.pk)
        if not event.is_active:
            raise Conflict("event_withdrawn", _("This event has already been withdrawn."))
        event.is_active = False
        event.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="parts.demand_event_withdrawn",
            entity="demand_event",
            entity_id=event.pk,
        )
    return event


def forecast_override_create(
    *,
    actor: User | None,
    part: Part,
    location: Any = None,
    starts_on: dt.date,
    ends_on: dt.date,
    quantity: Decimal | int,
    reason: str,
    expires_at: dt.datetime,
) -> ForecastOverride:
    """A planner's own quantity per month for a part's forecast, from `starts_on`'s month to
    `ends_on`'s month (stored as month starts), in force until `expires_at`.

    Forecast runs replace the forecast of those months by `quantity` (the latest override wins
    where two overlap); network forecasts use overrides without a location. Refusals (400):
    `reason_required`, `invalid_quantity`, `invalid_period`, `invalid_expiry` (not in the future).
    """
    require_perm(actor, "parts.plan_parts")
    assert actor is not None  # require_perm refuses the system actor here
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            "reason_required", _("Say why the forecast is overridden (it is shown to others).")
        )
    quantity = Decimal(quantity)
    if quantity < 0:
        raise ApplicationError(
            "invalid_quantity",
            _("The quantity per month must be 0 or more."),
            details={"quantity": str(quantity)},
        )
    starts_on, ends_on = month_start(starts_on), month_start(ends_on)
    _check_period(starts_on, ends_on)
    now = clock.now()
    if expires_at <= now:
        raise ApplicationError(
            "invalid_expiry",
            _("The override must expire in the future."),
            details={"expires_at": expires_at.isoformat()},
        )
    with transaction.atomic():
        override = ForecastOverride.objects.create(
            part=part,
            location=location,
            starts_on=starts_on,
            ends_on=ends_on,
            quantity=quantity,
            reason=reason,
            author=actor,
            created_at=now,
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            action="parts.forecast_override_created",
            entity="forecast_override",
            entity_id=override.pk,
            data={
                "part": part.pk,
                "location": location.pk if location is not None else None,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "quantity": str(quantity),
                "expires_at": expires_at.isoformat(),
            },
        )
    return override


def forecast_override_withdraw(
    *, actor: User | None, override: ForecastOverride
) -> ForecastOverride:
    """Withdraw an override: later forecast runs ignore it (409 `override_withdrawn` twice)."""
    require_perm(actor, "parts.plan_parts")
    with transaction.atomic():
        override = ForecastOverride.objects.select_for_update().get(pk=override.pk)
        if override.withdrawn_at is not None:
            raise Conflict("override_withdrawn", _("This override has already been withdrawn."))
        override.withdrawn_at = clock.now()
        override.save(update_fields=["withdrawn_at"])
        audit_record(
            actor=actor,
            action="parts.forecast_override_withdrawn",
            entity="forecast_override",
            entity_id=override.pk,
        )
    return override


# --- installed base -----------------------------------------------------------------------------


def _age_bucket(age_months: int) -> str:
    return str(min(age_months // 12, MAX_AGE_BUCKET))


def _installed_base(
    parts: list[Part],
    models_of: dict[int, list[int]],
    origin: dt.date,
    horizon: int,
    settings: PartsSettings,
) -> dict[int, np.ndarray[Any, np.dtype[np.float64]]]:
    """Expected demand per forecast month from the units in the field, per part with units.

    Failure rates per (model, age in whole years) are hardware cases on registered units over
    the history window divided by the unit-months in the field in those months (shrunk to the
    fleet rate by `forecasting.installed_base_rates`); the units registered now age month by
    month over the horizon; demand = units x rate x the part's `usage_per_repair`. An age no
    unit has reached yet gets the fleet's rate.
    """
    window_start = add_months(origin, -settings.history_months)
    # Units by model and purchase month (ages are counted in whole months).
    cohorts: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for cohort in (
        Unit.objects.filter(purchase_date__lt=origin)
        .annotate(bought=TruncMonth("purchase_date"))
        .values("model_id", "bought")
        .annotate(n=Count("id"))
    ):
        cohorts[cohort["model_id"]].append((cohort["bought"], cohort["n"]))
    if not cohorts:
        return {}
    failures: dict[tuple[str, str], float] = defaultdict(float)
    for row in (
        Case.objects.filter(
            nature=Nature.HARDWARE,
            unit__isnull=False,
            created_at__gte=timezone.make_aware(dt.datetime.combine(window_start, dt.time())),
            created_at__lt=timezone.make_aware(dt.datetime.combine(origin, dt.time())),
        )
        .annotate(month=TruncMonth("created_at"), bought=TruncMonth("unit__purchase_date"))
        .values("unit__model_id", "month", "bought")
        .annotate(n=Count("id"))
    ):
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        age = months_between(row["bought"], month)
        if age >= 0:
            failures[(str(row["unit__model_id"]), _age_bucket(age))] += row["n"]
    exposure: dict[tuple[str, str], float] = defaultdict(float)
    window = [add_months(window_start, i) for i in range(settings.history_months)]
    for model_id, groups in cohorts.items():
        for bought, n in groups:
            for month in window:
                age = months_between(bought, month)
                if age >= 0:
                    exposure[(str(model_id), _age_bucket(age))] += n
    # Units in the field per (model, age) over the horizon, as they age month by month.
    in_field_of: dict[int, dict[tuple[str, str], np.ndarray[Any, np.dtype[np.float64]]]] = {}
    for model_id, groups in cohorts.items():
        in_field: dict[tuple[str, str], np.ndarray[Any, np.dtype[np.float64]]] = {}
        for bought, n in groups:
            for m in range(horizon):
                key = (str(model_id), _age_bucket(months_between(bought, origin) + m))
                in_field.setdefault(key, np.zeros(horizon))[m] += n
        in_field_of[model_id] = in_field
        # An age reached only during the horizon has no exposure yet: the fleet's rate.
        for key in in_field:
            exposure[key] += 0.0
    rates = forecasting.installed_base_rates(failures, exposure)
    # Per model, the demand of a part used once per failure; a part's estimate is the sum over
    # its models times its `usage_per_repair`.
    per_model = {
        model_id: forecasting.installed_base_forecast(in_field, rates, {str(model_id): 1.0})
        for model_id, in_field in in_field_of.items()
    }
    result: dict[int, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for part in parts:
        models = [per_model[m] for m in models_of.get(part.pk, []) if m in per_model]
        if models:
            result[part.pk] = np.sum(models, axis=0) * float(part.usage_per_repair)
    return result


# --- forecast runs ------------------------------------------------------------------------------


@dataclass
class _PartForecast:
    method: str
    sbc: str
    base: np.ndarray[Any, np.dtype[np.float64]]
    backtest: dict[str, Any]
    backtest_forecasts: np.ndarray[Any, np.dtype[np.float64]] | None = None
    backtest_actuals: np.ndarray[Any, np.dtype[np.float64]] | None = None


def _statistical(
    parts: list[Part],
    demand: dict[int, list[int]],
    settings: PartsSettings,
    horizon: int,
    ib: dict[int, np.ndarray[Any, np.dtype[np.float64]]],
) -> dict[int, _PartForecast]:
    """Each part's base forecast: one batch of the automatic choice for every part with enough
    history (the class policy's fixed method where it names one), the installed base for parts
    with too little history (or whose policy asks for it), else the history's mean."""
    policies = list(StockPolicy.objects.filter(is_active=True).order_by("rank", "id"))
    histories: dict[Hashable, np.ndarray[Any, np.dtype[np.float64]]] = {}
    sbc: dict[int, str] = {}
    fixed: dict[int, str] = {}
    for part in parts:
        y = _trim_leading_zeros(demand[part.pk])
        sbc[part.pk] = forecasting.sbc_class(
            y, adi_cutoff=float(settings.sbc_adi), cv2_cutoff=float(settings.sbc_cv2)
        )[0]
        policy = policy_for(part, policies=policies)
        method = policy.forecast_method if policy is not None else AUTO
        if method != AUTO:
            fixed[part.pk] = method
        if sbc[part.pk] != SbcClass.INSUFFICIENT:
            histories[part.pk] = y
    batch = (
        forecasting.forecast_batch(histories, h=horizon, season_length=12) if histories else None
    )
    result: dict[int, _PartForecast] = {}
    for part in parts:
        method = fixed.get(part.pk, AUTO)
        if batch is not None and part.pk in histories and method != INSTALLED_BASE:
            # A fixed method the library does not know falls back to the automatic choice.
            candidate = method if method in forecasting.CANDIDATES else None
            series = batch.result(part.pk, candidate)
            result[part.pk] = _PartForecast(
                method=series.method,
                sbc=sbc[part.pk],
                base=series.forecast,
                backtest={
                    "scores": {k: _finite(v) for k, v in series.scores.items()},
                    "fixed": candidate is not None,
                },
                backtest_forecasts=series.backtest_forecasts,
                backtest_actuals=series.backtest_actuals,
            )
        elif part.pk in ib:
            result[part.pk] = _PartForecast(
                method=INSTALLED_BASE, sbc=sbc[part.pk], base=ib[part.pk], backtest={}
            )
        else:
            y = _trim_leading_zeros(demand[part.pk])
            level = float(y.mean()) if y.size else 0.0
            result[part.pk] = _PartForecast(
                method=HISTORY_MEAN, sbc=sbc[part.pk], base=np.full(horizon, level), backtest={}
            )
    return result


def _dispersions(forecasts: dict[int, _PartForecast]) -> dict[int, float]:
    """Monthly dispersion index per part from its method's backtest errors, shrunk toward the
    batch's pooled value; parts without a backtest get the pooled value."""
    keys = [k for k, f in forecasts.items() if f.backtest_forecasts is not None]
    if not keys:
        return dict.fromkeys(forecasts, 1.0)
    index, blocks = inventory_policy.dispersion_index(
        np.stack([forecasts[k].backtest_forecasts for k in keys]),  # type: ignore[misc]
        np.stack([forecasts[k].backtest_actuals for k in keys]),  # type: ignore[misc]
        1,
        np.array([float(forecasts[k].base.mean()) for k in keys]),
    )
    pooled = inventory_policy.pooled_dispersion(index)
    shrunk = inventory_policy.shrink_dispersion(index, blocks, pooled)
    result = dict.fromkeys(forecasts, pooled)
    result.update({k: float(d) for k, d in zip(keys, shrunk, strict=True)})
    return result


def _adjustments(
    parts: list[Part],
    models_of: dict[int, list[int]],
    origin: dt.date,
    horizon: int,
    now: dt.datetime,
) -> tuple[dict[int, list[forecasting.CausalEvent]], dict[int, dict[int, float]]]:
    """Active demand events and overrides over the horizon, as forecast periods per part.

    Returns (events per part, override quantity per period per part). An
    event touches every month its dates overlap; overlapping overrides: the latest wins.
    """
    end = add_months(origin, horizon)
    part_ids = {p.pk for p in parts}
    parts_of_model: dict[int, list[int]] = defaultdict(list)
    for part_id, model_ids in models_of.items():
        for model_id in model_ids:
            parts_of_model[model_id].append(part_id)
    events: dict[int, list[forecasting.CausalEvent]] = defaultdict(list)
    for event in DemandEvent.objects.filter(
        is_active=True, starts_on__lt=end, ends_on__gte=origin
    ).order_by("starts_on", "id"):
        targets = (
            [event.part_id]
            if event.part_id is not None
            else parts_of_model.get(event.product_model_id or 0, [])
        )
        causal = forecasting.CausalEvent(
            start=months_between(origin, event.starts_on),
            end=months_between(origin, event.ends_on),
            factor=float(event.factor),
            units=float(event.extra_units),
        )
        for part_id in targets:
            if part_id in part_ids:
                events[part_id].append(causal)
    overrides: dict[int, dict[int, float]] = defaultdict(dict)
    for override in ForecastOverride.objects.filter(
        part_id__in=part_ids,
        location__isnull=True,
        withdrawn_at__isnull=True,
        expires_at__gt=now,
        starts_on__lt=end,
        ends_on__gte=origin,
    ).order_by("created_at", "id"):
        first = max(months_between(origin, override.starts_on), 0)
        last = min(months_between(origin, override.ends_on), horizon - 1)
        for period in range(first, last + 1):
            overrides[override.part_id][period] = float(override.quantity)
    return events, overrides


def _compatible_models(parts: list[Part]) -> dict[int, list[int]]:
    through = Part.compatible_models.through
    models_of: dict[int, list[int]] = defaultdict(list)
    for part_id, model_id in through.objects.filter(part_id__in=[p.pk for p in parts]).values_list(
        "part_id", "productmodel_id"
    ):
        models_of[part_id].append(model_id)
    return models_of


def forecast_run(
    *,
    actor: User | None = None,
    at: dt.datetime | None = None,
    horizon: int | None = None,
    progress: Progress | None = None,
) -> ForecastRun:
    """Forecast every active, not superseded part's monthly demand (备件需求预测), network-wide.

    Origin: the first day of the current month; history: `history_months` complete months before
    it (`demand_matrix`), from each part's first month with demand. One batch of
    `forecasting.forecast_batch` chooses a method per part by backtest (or uses the class
    policy's `forecast_method` when it is not "auto"); parts with too little history (SBC
    "insufficient") get the installed-base forecast (`_installed_base`), or their history's mean
    when no registered unit uses them. Active demand events, then unexpired overrides, adjust the
    base; p50/p90/p95 per month are negative-binomial quantiles around the adjusted mean with
    the part's dispersion (`inventory_policy`). One `Forecast` per part, written with the run's
    `done` count every `FORECAST_CHUNK` parts in short transactions; the run ends DONE (then
    `forecast_accuracy_record` scores earlier runs) or FAILED with the error, which is raised
    again. 400 `invalid_horizon` outside 1..36 months.
    """
    require_perm(actor, "parts.plan_parts", system_allowed=True)
    now = at or clock.now()
    settings = parts_settings()
    horizon = settings.forecast_horizon if horizon is None else horizon
    if not 1 <= horizon <= MAX_HORIZON:
        raise ApplicationError(
            "invalid_horizon",
            _("The horizon must be between 1 and %(max)d months.") % {"max": MAX_HORIZON},
            details={"horizon": horizon},
        )
    origin = _origin(now)
    parts = _planning_parts()
    run = ForecastRun.objects.create(
        started_at=now,
        actor=actor,
        origin=origin,
        horizon=horizon,
        total=len(parts),
        status=ForecastRun.Status.RUNNING,
    )
    try:
        _forecast_store(run, parts, settings, now, progress)
    except Exception as exc:
        ForecastRun.objects.filter(pk=run.pk).update(
            status=ForecastRun.Status.FAILED,
            finished_at=clock.now(),
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        raise
    run.refresh_from_db()
    forecast_accuracy_record(run)
    return run


def _forecast_store(
    run: ForecastRun,
    parts: list[Part],
    settings: PartsSettings,
    now: dt.datetime,
    progress: Progress | None,
) -> None:
    origin, horizon = run.origin, run.horizon
    if progress is not None:
        progress(0, len(parts))
    demand = demand_matrix(parts=parts, months=settings.history_months, end=origin)
    models_of = _compatible_models(parts)
    ib = _installed_base(parts, models_of, origin, horizon, settings)
    forecasts = _statistical(parts, demand, settings, horizon, ib)
    dispersion = _dispersions(forecasts)
    events, overrides = _adjustments(parts, models_of, origin, horizon, now)
    months = [add_months(origin, m).isoformat() for m in range(horizon)]
    done = 0
    for chunk in _chunks(parts, FORECAST_CHUNK):
        means = np.stack(
            [
                forecasting.apply_overrides(
                    forecasting.apply_events(forecasts[p.pk].base, events.get(p.pk, [])),
                    overrides.get(p.pk, {}),
                )
                for p in chunk
            ]
        )
        spread = np.array([[dispersion[p.pk]] for p in chunk])
        levels = {name: inventory_policy.quantiles(means, spread, q) for name, q in QUANTILES}
        rows = []
        for i, part in enumerate(chunk):
            fc = forecasts[part.pk]
            path = [
                {
                    "month": months[m],
                    "base": round(float(fc.base[m]), 3),
                    "mean": round(float(means[i, m]), 3),
                    **{name: int(levels[name][i, m]) for name, _q in QUANTILES},
                }
                for m in range(horizon)
            ]
            installed = ib.get(part.pk)
            rows.append(
                Forecast(
                    run=run,
                    part=part,
                    method=fc.method,
                    sbc_class=fc.sbc,
                    months=path,
                    backtest=fc.backtest,
                    dispersion=round(dispersion[part.pk], 4),
                    installed_base=[]
                    if installed is None
                    else [
                        {"month": months[m], "mean": round(float(installed[m]), 3)}
                        for m in range(horizon)
                    ],
                )
            )
        done += len(chunk)
        with transaction.atomic():
            Forecast.objects.bulk_create(rows)
            ForecastRun.objects.filter(pk=run.pk).update(done=done)
        if progress is not None:
            progress(done, len(parts))
    ForecastRun.objects.filter(pk=run.pk).update(
        status=ForecastRun.Status.DONE, finished_at=clock.now(), done=done
    )


def forecast_accuracy_record(run: ForecastRun) -> int:
    """Score earlier forecasts against what was issued; returns the rows written.

    The months to score are the complete months since the previous DONE run's origin (that run
    scored everything before it) up to `run.origin`. For every earlier origin, the latest DONE
    run of that origin is scored: each of its network forecast months in that span gets one
    `ForecastAccuracy` row with the forecast mean (after events and overrides: what planning
    acted on), the actual demand (`demand_matrix`: net issues, supersession and imports
    included), the lead in months from the run's origin, and the part's ABC class, demand
    pattern and method. Rows that exist are skipped, so calling it again writes nothing.
    """
    since = (
        ForecastRun.objects.filter(status=ForecastRun.Status.DONE, origin__lte=run.origin)
        .exclude(pk=run.pk)
        .order_by("-origin")
        .values_list("origin", flat=True)
        .first()
    )
    if since is None or since >= run.origin:
        return 0
    latest: dict[dt.date, ForecastRun] = {}
    for earlier in ForecastRun.objects.filter(
        status=ForecastRun.Status.DONE, origin__lt=run.origin
    ).order_by("origin", "started_at", "id"):
        if add_months(earlier.origin, earlier.horizon) > since:
            latest[earlier.origin] = earlier
    runs = list(latest.values())
    forecasts = list(
        Forecast.objects.filter(run__in=runs, location__isnull=True).select_related("part", "run")
    )
    existing = set(
        ForecastAccuracy.objects.filter(run__in=runs, month__gte=since).values_list(
            "part_id", "run_id", "month"
        )
    )
    span = months_between(since, run.origin)
    actual = demand_matrix(parts=list({f.part for f in forecasts}), months=span, end=run.origin)
    rows = []
    for fc in forecasts:
        for entry in fc.months:
            month = dt.date.fromisoformat(entry["month"])
            if not since <= month < run.origin or (fc.part_id, fc.run_id, month) in existing:
                continue
            rows.append(
                ForecastAccuracy(
                    part_id=fc.part_id,
                    run_id=fc.run_id,
                    month=month,
                    lead_months=months_between(fc.run.origin, month),
                    forecast=float(entry["mean"]),
                    actual=float(actual[fc.part_id][months_between(since, month)]),
                    abc_class=fc.part.abc_class,
                    sbc_class=fc.sbc_class,
                    method=fc.method,
                )
            )
    with transaction.atomic():
        ForecastAccuracy.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)
