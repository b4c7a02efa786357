"""Spare-parts demand forecasting (备件需求预测) over plain arrays of per-period demand.

Pure module: numpy, pandas and statsforecast only, no Django, so services, Celery tasks and the
benchmark (`benchmarks/forecast_carparts.py`) share the same code.

Methods (statsforecast), each fitted per series:

- `Croston` (CrostonClassic, smoothing 0.1), `CrostonOptimized`, `SBA` (Syntetos-Boylan
  approximation of Croston), `TSB` (Teunter-Syntetos-Babai with fixed smoothing
  `alpha_d = TSB_ALPHA_DEMAND` = 0.1 for the demand size and `alpha_p = TSB_ALPHA_PROBABILITY`
  = 0.1 for the demand probability), `ADIDA` and `IMAPA` (temporal aggregation), and `AutoETS`
  (model chosen by AICc; seasonal only when the series holds at least `SEASONAL_MIN_SEASONS`
  full seasons, else non-seasonal, because a seasonal state per period cannot be estimated
  from two or three seasons of mostly zeros). A model that cannot be fitted (e.g. ETS on a
  tiny series) falls back to the historic average. Plus `WindowAverage`: the mean of the last
  season (`season_length` periods, 12 without one), a robust level for slow movers.
- Combinations built from those paths at no extra fitting cost: plain means of several
  methods (`combo:A+B+...`, see `COMBINATIONS`) and an inverse-MSE weighted mean of
  `INVERSE_MSE_METHODS` (`inverse-mse`, weights from the series' own backtest errors; when a
  window is scored, from the older windows' errors before that window's origin only).

Automatic choice (the project's addition): every series' history is cut at a few inner
origins (the last `h` periods, then `step` periods earlier each time, only inside the data
given), every single method is fitted on each cut and compared with the `h` periods that follow
it. The forecast is then a **learned combination** (`stacked`): non-negative weights on the
single methods' forecasts, fitted by non-negative least squares to every inner window of every
series of the batch at once, each series' errors divided by its RMSSE scale (so the fit
minimises the batch's squared scaled error, the quantity RMSSE measures), with a ridge pull of
`PRIOR_ROWS` periods toward the equal-weight mean of `DEFAULT_COMBINATION` so that a small batch
(a single part) stays close to a robust default. The weights need not sum to one: when the
methods systematically over-forecast (demand for ageing parts fades) the fit scales them down.
Weights fitted on thousands of inner windows are stable, where a per-series choice among
candidates from four overlapping windows is mostly noise (on the carparts benchmark's design
origins every per-series choice rule tried lost to the best single pooled candidate). Every
candidate's inner-backtest RMSSE per series is kept for display (`scores`). The data after the
last period given are never seen: the caller cuts the history at the forecast origin.

API:

- `forecast_batch(histories, h=..., season_length=..., n_jobs=...) -> BatchForecast`: all
  series at once (one statsforecast run over a long frame per fit); `BatchForecast.result(key)`
  gives a `SeriesForecast` (chosen method, forecast path, backtest score per candidate, and the
  chosen candidate's backtest forecasts and actuals, which
  `inventory_policy.dispersion_index` turns into a demand distribution).
- `forecast_auto(history, ...) -> SeriesForecast`: one series (pools over nothing, so prefer
  the batch call for many parts).
- `sbc_class`, `xyz_class`: demand classification; `rmsse`, `pinball_loss`, `bias`: accuracy.
- `installed_base_rates`, `installed_base_forecast`: demand from the units in the field.
- `apply_events`, `apply_overrides`: planners' causal adjustments and manual overrides.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

TSB_ALPHA_DEMAND = 0.1
TSB_ALPHA_PROBABILITY = 0.1
SEASONAL_MIN_SEASONS = 4
SINGLE_METHODS: tuple[str, ...] = (
    "Croston",
    "CrostonOptimized",
    "SBA",
    "TSB",
    "ADIDA",
    "IMAPA",
    "AutoETS",
    "WindowAverage",
)
INTERMITTENT_METHODS: tuple[str, ...] = SINGLE_METHODS[:6]
# Chosen on the carparts benchmark's earlier origins (27 and 33 months), never its final year.
COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("IMAPA", "WindowAverage"),
    ("ADIDA", "IMAPA", "TSB", "WindowAverage"),
    ("ADIDA", "CrostonOptimized", "IMAPA", "WindowAverage"),
    ("ADIDA", "CrostonOptimized", "IMAPA", "TSB", "WindowAverage"),
)
INVERSE_MSE = "inverse-mse"
INVERSE_MSE_METHODS: tuple[str, ...] = ("ADIDA", "CrostonOptimized", "IMAPA", "WindowAverage")
# Ridge pull of the learned combination toward `DEFAULT_COMBINATION`, worth this many periods
# of scaled error (negligible for a batch of many parts, about half the say for one part).
PRIOR_ROWS = 24.0
DEFAULT_COMBINATION: tuple[str, ...] = ("ADIDA", "IMAPA", "TSB", "WindowAverage")
STACKED = "stacked"
MIN_TRAIN = 6
# Moving-average window when the caller gives no season length (a year of monthly data).
DEFAULT_WINDOW = 12
# Series shorter than this are forecast by their mean: no model is worth fitting on them.
MIN_HISTORY = 3


def combo_label(methods: Iterable[str]) -> str:
    """The label of the plain mean of `methods`, e.g. ``combo:ADIDA+IMAPA+SBA+TSB``."""
    return "combo:" + "+".join(sorted(methods))


CANDIDATES: tuple[str, ...] = (
    *SINGLE_METHODS,
    *(combo_label(c) for c in COMBINATIONS),
    INVERSE_MSE,
    STACKED,
)


# --- classification ---------------------------------------------------------------------------


def sbc_class(
    demand: npt.ArrayLike, *, adi_cutoff: float = 1.32, cv2_cutoff: float = 0.49
) -> tuple[str, float, float]:
    """Syntetos-Boylan-Croston class of a demand history: (class, ADI, CV²).

    ADI is the number of periods divided by the number of periods with demand; CV² is the
    squared coefficient of variation (population) of the non-zero demands. Classes: smooth
    (ADI < cut-off, CV² < cut-off), erratic (ADI < , CV² >=), intermittent (ADI >=, CV² <),
    lumpy (both >=), and insufficient with fewer than two non-zero periods (ADI and CV² nan).
    """
    y = np.asarray(demand, dtype=float)
    nonzero = y[y > 0]
    if nonzero.size < 2:
        return "insufficient", math.nan, math.nan
    adi = y.size / nonzero.size
    cv2 = float(np.var(nonzero) / np.mean(nonzero) ** 2)
    if adi < adi_cutoff:
        return ("smooth" if cv2 < cv2_cutoff else "erratic"), adi, cv2
    return ("intermittent" if cv2 < cv2_cutoff else "lumpy"), adi, cv2


def xyz_class(demand: npt.ArrayLike, *, x_max: float = 0.5, y_max: float = 1.0) -> str:
    """XYZ class by the coefficient of variation of per-period demand (all periods).

    X: CV <= `x_max`; Y: `x_max` < CV <= `y_max`; Z: CV > `y_max` or no demand at all.
    """
    y = np.asarray(demand, dtype=float)
    mean = float(np.mean(y)) if y.size else 0.0
    if mean <= 0:
        return "Z"
    cv = float(np.std(y)) / mean
    if cv <= x_max:
        return "X"
    return "Y" if cv <= y_max else "Z"


# --- accuracy ---------------------------------------------------------------------------------


def rmsse(actual: npt.ArrayLike, forecast: npt.ArrayLike, insample: npt.ArrayLike) -> float:
    """Root mean squared scaled error (M5): scaled by the in-sample mean squared first difference.

    nan when the scale is zero (a constant history) or undefined; callers skip such series.
    """
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    history = np.asarray(insample, dtype=float)
    if history.size < 2 or y.size == 0:
        return math.nan
    scale = float(np.mean(np.diff(history) ** 2))
    if scale <= 0:
        return math.nan
    return math.sqrt(float(np.mean((y - f) ** 2)) / scale)


def pinball_loss(actual: npt.ArrayLike, quantile: npt.ArrayLike, q: float) -> float:
    """Mean pinball (quantile) loss of `quantile` forecasts at level `q` in (0, 1)."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(quantile, dtype=float)
    diff = y - f
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def bias(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Mean forecast minus mean actual (positive: over-forecast), in units per period."""
    return float(np.mean(np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float)))


# --- fitting ----------------------------------------------------------------------------------


def _models(season_length: int, window: int) -> list[object]:
    from statsforecast.models import (
        ADIDA,
        IMAPA,
        TSB,
        AutoETS,
        CrostonClassic,
        CrostonOptimized,
        CrostonSBA,
        WindowAverage,
    )

    return [
        CrostonClassic(alias="Croston"),
        CrostonOptimized(alias="CrostonOptimized"),
        CrostonSBA(alias="SBA"),
        TSB(alpha_d=TSB_ALPHA_DEMAND, alpha_p=TSB_ALPHA_PROBABILITY, alias="TSB"),
        ADIDA(alias="ADIDA"),
        IMAPA(alias="IMAPA"),
        AutoETS(season_length=season_length, alias="AutoETS"),
        WindowAverage(window_size=window, alias="WindowAverage"),
    ]


def _fit_paths(
    histories: Sequence[FloatArray], h: int, season_length: int, n_jobs: int
) -> FloatArray:
    """Forecast paths of every single method: array (method, series, h)."""
    out = np.zeros((len(SINGLE_METHODS), len(histories), h))
    window = season_length if season_length > 1 else DEFAULT_WINDOW
    lengths = np.array([len(y) for y in histories])
    seasonal = (lengths >= SEASONAL_MIN_SEASONS * season_length) & (season_length > 1)
    fit = lengths >= MIN_HISTORY
    for group, season in ((fit & ~seasonal, 1), (fit & seasonal, season_length)):
        idx = np.flatnonzero(group)
        if idx.size:
            group_histories = [histories[int(i)] for i in idx]
            out[:, idx, :] = _statsforecast(group_histories, h, season, window, n_jobs)
    for i in np.flatnonzero(~fit):
        y = histories[int(i)]
        out[:, i, :] = float(np.mean(y)) if len(y) else 0.0
    # statsforecast's window average is undefined (zero here) for a series shorter than its
    # window: a part first used less than a window ago gets the mean of what it has.
    average = SINGLE_METHODS.index("WindowAverage")
    for i in np.flatnonzero(fit & (lengths < window)):
        out[average, i, :] = float(np.mean(histories[int(i)]))
    # Rates of demand are never negative; ETS on a falling trend can drift below zero.
    np.maximum(out, 0.0, out=out)
    return out


def _statsforecast(
    histories: Sequence[FloatArray], h: int, season_length: int, window: int, n_jobs: int
) -> FloatArray:
    from statsforecast import StatsForecast
    from statsforecast.models import HistoricAverage

    lengths = np.array([len(y) for y in histories])
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(len(histories)), lengths),
            "ds": np.concatenate([np.arange(n) for n in lengths]),
            "y": np.concatenate(histories).astype(float),
        }
    )
    sf = StatsForecast(
        models=_models(season_length, window),
        freq=1,
        n_jobs=n_jobs,
        fallback_model=HistoricAverage(),
    )
    # ETS on an all-zero stretch divides by zero inside statsforecast; the fallback and the
    # nan handling below already cover it, so the warning is only noise on the console.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fc = sf.forecast(df=frame, h=h)
    if "unique_id" not in fc.columns:
        fc = fc.reset_index()
    fc = fc.sort_values(["unique_id", "ds"])
    values = fc[list(SINGLE_METHODS)].to_numpy(dtype=float)
    paths: FloatArray = values.reshape(len(histories), h, len(SINGLE_METHODS)).transpose(2, 0, 1)
    return np.nan_to_num(paths, nan=0.0)


# --- automatic choice -------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series.

    `method`: the chosen candidate's label; `forecast`: its path over the horizon;
    `scores`: mean inner-backtest RMSSE per candidate (nan: not scored); `backtest_forecasts` and
    `backtest_actuals`: the chosen candidate's forecasts and the actual demand at the inner
    origins, arrays (window, h) with nan where a window has no data.
    """

    method: str
    forecast: FloatArray
    scores: dict[str, float]
    backtest_forecasts: FloatArray
    backtest_actuals: FloatArray


@dataclass
class BatchForecast:
    """The forecasts of a batch of series, all candidates kept (arrays indexed by series).

    `paths[c, s, :]` candidate c's forecast of series s; `backtest[c, s, w, :]` its forecasts
    at inner window w; `actuals[s, w, :]` the demand that followed (nan: none);
    `scores[c, s]` mean inner RMSSE; `chosen[s]` the index of the chosen candidate (the
    learned combination); `weights` its weight per single method.
    """

    keys: list[Hashable]
    candidates: tuple[str, ...]
    paths: FloatArray
    backtest: FloatArray
    actuals: FloatArray
    scores: FloatArray
    chosen: npt.NDArray[np.int64]
    weights: dict[str, float] = field(default_factory=dict)
    _index: dict[Hashable, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {k: i for i, k in enumerate(self.keys)}

    def method(self, key: Hashable) -> str:
        """The chosen candidate's label for series `key`."""
        return self.candidates[int(self.chosen[self._index[key]])]

    def result(self, key: Hashable, candidate: str | None = None) -> SeriesForecast:
        """The forecast of series `key` by the chosen candidate (or by `candidate`)."""
        s = self._index[key]
        c = int(self.chosen[s]) if candidate is None else self.candidates.index(candidate)
        return SeriesForecast(
            method=self.candidates[c],
            forecast=self.paths[c, s].copy(),
            scores={label: float(self.scores[i, s]) for i, label in enumerate(self.candidates)},
            backtest_forecasts=self.backtest[c, s].copy(),
            backtest_actuals=self.actuals[s].copy(),
        )

    def chosen_paths(self) -> FloatArray:
        """Array (series, h) of the chosen forecasts."""
        return self.paths[self.chosen, np.arange(len(self.keys))]

    def chosen_backtest(self) -> FloatArray:
        """Array (series, window, h) of the chosen candidates' inner-backtest forecasts."""
        return self.backtest[self.chosen, np.arange(len(self.keys))]


def _combine(single: FloatArray, weights: FloatArray | None, stacked: FloatArray) -> FloatArray:
    """The candidates' arrays from the single methods' arrays (method first, any shape after):
    the singles, the plain means, the inverse-MSE mean (`weights`; equal without) and the
    learned combination (`stacked`, one weight per single method)."""
    names = list(SINGLE_METHODS)
    out = [single[i] for i in range(len(names))]
    for combo in COMBINATIONS:
        out.append(np.mean([single[names.index(m)] for m in combo], axis=0))
    pool = single[[names.index(m) for m in INVERSE_MSE_METHODS]]
    if weights is None:
        out.append(np.mean(pool, axis=0))
    else:
        out.append(np.einsum("m...,m...->...", weights, pool))
    out.append(np.einsum("m,m...->...", stacked, single))
    return np.stack(out)


def _inverse_mse_weights(sq_err: FloatArray, counts: FloatArray) -> FloatArray:
    """Normalised 1/MSE weights per method; equal weights where there is no evidence."""
    mse = np.divide(sq_err, counts, out=np.full_like(sq_err, np.nan), where=counts > 0)
    inv = 1.0 / np.maximum(mse, 1e-9)
    inv = np.where(np.isfinite(inv), inv, np.nan)
    total = np.nansum(inv, axis=0)
    ok = np.isfinite(mse).all(axis=0) & (total > 0)
    weights = np.where(ok, inv / np.where(ok, total, 1.0), 1.0 / sq_err.shape[0])
    return np.nan_to_num(weights, nan=1.0 / sq_err.shape[0])


def forecast_batch(
    histories: Mapping[Hashable, npt.ArrayLike],
    *,
    h: int,
    season_length: int = 1,
    n_windows: int = 4,
    step: int = 3,
    prior_rows: float = PRIOR_ROWS,
    n_jobs: int = 1,
) -> BatchForecast:
    """Forecast every series `h` periods ahead with the combination learned by backtest.

    `histories` maps a key to the series' demand per period up to the forecast origin, oldest
    first, without gaps (drop or impute missing periods first). Inner origins are at
    `len - h - k * step` for k < `n_windows` (skipped when fewer than `MIN_TRAIN` periods would
    remain); candidates are scored by RMSSE on the `h` periods after each origin and the
    combination's weights are fitted to those periods (see the module doc).
    """
    keys = list(histories)
    series = [np.asarray(histories[k], dtype=float) for k in keys]
    singles = _backtest_singles(series, h, season_length, n_windows, step, n_jobs)
    return _choose(keys, singles, step, prior_rows)


@dataclass(frozen=True)
class _Singles:
    """The single methods' forecasts: final paths (method, series, h), inner-backtest forecasts
    (method, series, window, h), the actuals that followed (series, window, h; nan: none) and
    each window's RMSSE scale (series, window; nan: zero or none)."""

    paths: FloatArray
    backtest: FloatArray
    actuals: FloatArray
    scale: FloatArray


def _backtest_singles(
    series: list[FloatArray], h: int, season_length: int, n_windows: int, step: int, n_jobs: int
) -> _Singles:
    n = len(series)
    # Every (series, inner origin) cut becomes one more series of the same statsforecast run.
    cuts: list[FloatArray] = []
    where: list[tuple[int, int, int]] = []
    for s, y in enumerate(series):
        for w in range(n_windows):
            origin = len(y) - h - w * step
            if origin >= MIN_TRAIN:
                where.append((s, w, origin))
                cuts.append(y[:origin])
    fitted = _fit_paths(series + cuts, h, season_length, n_jobs)
    backtest = np.full((len(SINGLE_METHODS), n, n_windows, h), np.nan)
    actuals = np.full((n, n_windows, h), np.nan)
    scale = np.full((n, n_windows), np.nan)
    for j, (s, w, origin) in enumerate(where):
        y = series[s]
        backtest[:, s, w] = fitted[:, n + j]
        actuals[s, w] = y[origin : origin + h]
        scale[s, w] = float(np.mean(np.diff(y[:origin]) ** 2))
    scale[scale <= 0] = np.nan
    return _Singles(paths=fitted[:, :n], backtest=backtest, actuals=actuals, scale=scale)


def stacked_weights(
    backtest: FloatArray, actuals: FloatArray, scale: FloatArray, prior_rows: float = PRIOR_ROWS
) -> FloatArray:
    """Non-negative weights of the single methods that minimise the batch's squared scaled
    inner-backtest error, pulled toward the equal-weight `DEFAULT_COMBINATION` by a ridge
    worth `prior_rows` periods.

    `backtest`: (method, series, window, h); `actuals`: (series, window, h), nan: none;
    `scale`: (series, window) RMSSE scale, nan: not scored.
    """
    from scipy.optimize import nnls

    prior = np.array([1.0 if m in DEFAULT_COMBINATION else 0.0 for m in SINGLE_METHODS])
    prior /= prior.sum()
    ok = np.isfinite(actuals) & np.isfinite(scale)[..., None] & np.isfinite(backtest).all(axis=0)
    if not ok.any():
        return prior
    root = np.sqrt(np.broadcast_to(scale[..., None], actuals.shape)[ok])
    design = backtest[:, ok].T / root[:, None]
    target = actuals[ok] / root
    # The ridge row weight: `prior_rows` periods of an average row's size.
    strength = math.sqrt(prior_rows * float(np.mean(design**2)) + 1e-12)
    design = np.vstack([design, strength * np.eye(len(SINGLE_METHODS))])
    target = np.concatenate([target, strength * prior])
    weights, _residual = nnls(design, target)
    return np.asarray(weights, dtype=float)


def _choose(keys: list[Hashable], singles: _Singles, step: int, prior_rows: float) -> BatchForecast:
    """Build the combinations, score every candidate per series, fit the learned combination
    (see module doc)."""
    actuals = singles.actuals
    n_windows = actuals.shape[1]
    # Inverse-MSE weights. To score window w they come from the errors of the earlier windows
    # (v > w) on the periods before w's origin only, so the score never sees w's future.
    pool = [SINGLE_METHODS.index(m) for m in INVERSE_MSE_METHODS]
    sq = (singles.backtest[pool] - actuals[None]) ** 2
    known = np.isfinite(sq)
    sq_cum = np.cumsum(np.where(known, sq, 0.0), axis=3)
    count_cum = np.cumsum(known, axis=3).astype(float)
    h = actuals.shape[2]
    weights_bt = np.empty(sq.shape[:3])
    for w in range(n_windows):
        sq_sum = np.zeros(sq.shape[:2])
        count = np.zeros(sq.shape[:2])
        for v in range(w + 1, n_windows):
            upto = min((v - w) * step, h)
            sq_sum += sq_cum[:, :, v, upto - 1]
            count += count_cum[:, :, v, upto - 1]
        weights_bt[:, :, w] = _inverse_mse_weights(sq_sum, count)
    weights = stacked_weights(singles.backtest, actuals, singles.scale, prior_rows)
    backtest = _combine(singles.backtest, weights_bt[..., None], weights)
    paths = _combine(
        singles.paths,
        _inverse_mse_weights(sq_cum[..., -1].sum(axis=2), count_cum[..., -1].sum(axis=2))[
            ..., None
        ],
        weights,
    )

    # Windows are whole (h actuals) or empty; empty ones and zero scales give nan and are skipped.
    mse = np.mean((backtest - actuals[None]) ** 2, axis=3)
    err = np.sqrt(
        np.divide(
            mse,
            singles.scale[None],
            out=np.full(mse.shape, np.nan),
            where=np.isfinite(singles.scale[None]) & np.isfinite(mse),
        )
    )
    valid = np.isfinite(err)
    windows = valid.sum(axis=2)
    scores = np.divide(
        np.where(valid, err, 0.0).sum(axis=2),
        windows,
        out=np.full(windows.shape, np.nan),
        where=windows > 0,
    )
    chosen = np.full(len(keys), CANDIDATES.index(STACKED), dtype=np.int64)
    return BatchForecast(
        keys=keys,
        candidates=CANDIDATES,
        paths=paths,
        backtest=backtest,
        actuals=actuals,
        scores=scores,
        chosen=chosen,
        weights={m: float(w) for m, w in zip(SINGLE_METHODS, weights, strict=True)},
    )


def forecast_auto(
    history: npt.ArrayLike, *, h: int, season_length: int = 1, n_windows: int = 4, step: int = 3
) -> SeriesForecast:
    """Forecast one series `h` periods ahead with the automatic choice (see `forecast_batch`).

    With a single series the combination is fitted to that series alone and stays close to
    the equal-weight default (see `PRIOR_ROWS`). Prefer `forecast_batch` for many parts.
    """
    batch = forecast_batch(
        {0: history}, h=h, season_length=season_length, n_windows=n_windows, step=step
    )
    return batch.result(0)


# --- installed base ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureRate:
    """Failures per unit-period of one (product model, age bucket), with its evidence."""

    rate: float
    failures: float
    exposure: float


def installed_base_rates(
    failures: Mapping[tuple[str, str], float],
    exposure: Mapping[tuple[str, str], float],
    *,
    prior_exposure: float = 100.0,
) -> dict[tuple[str, str], FailureRate]:
    """Failure rate per (product model, age bucket) from case history, shrunk to the pooled rate.

    `failures`: failures recorded in cases per key; `exposure`: unit-periods in the field per key
    over the same window. rate = (failures + prior_exposure * pooled) / (exposure +
    prior_exposure), pooled = all failures / all exposure: a gamma-Poisson prior worth
    `prior_exposure` unit-periods, so a bucket with few units stays near the fleet rate.
    """
    total_exposure = sum(exposure.values())
    pooled = sum(failures.values()) / total_exposure if total_exposure > 0 else 0.0
    rates = {}
    for key in set(failures) | set(exposure):
        f = float(failures.get(key, 0.0))
        e = float(exposure.get(key, 0.0))
        rate = (f + prior_exposure * pooled) / (e + prior_exposure) if e + prior_exposure else 0.0
        rates[key] = FailureRate(rate=rate, failures=f, exposure=e)
    return rates


def installed_base_forecast(
    units_in_field: Mapping[tuple[str, str], npt.ArrayLike],
    rates: Mapping[tuple[str, str], FailureRate | float],
    parts_per_failure: Mapping[str, float],
) -> FloatArray:
    """Expected part demand per period from the installed base.

    sum over (product model, age bucket) of units in the field (a number or one value per
    period) x failure rate per unit-period x parts used per failure of that model. Keys
    without a rate contribute nothing.
    """
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in units_in_field.items()}
    periods = max((a.size for a in arrays.values()), default=1)
    total = np.zeros(periods)
    for (model, bucket), units in arrays.items():
        rate = rates.get((model, bucket))
        if rate is None:
            continue
        value = rate.rate if isinstance(rate, FailureRate) else float(rate)
        total = total + units * value * parts_per_failure.get(model, 0.0)
    return total


# --- adjustments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CausalEvent:
    """A known event over periods `start`..`end` (inclusive, 0 = the first forecast period).

    `factor` multiplies the forecast (e.g. 1.3 for a recall campaign), then `units` are added
    (e.g. -5 while a competitor's stock lasts); the result is never below zero.
    """

    start: int
    end: int
    factor: float = 1.0
    units: float = 0.0


def apply_events(forecast: npt.ArrayLike, events: Iterable[CausalEvent]) -> FloatArray:
    """The forecast path with every event applied in order (periods outside the path ignored)."""
    path = np.array(forecast, dtype=float)
    for event in events:
        lo, hi = max(event.start, 0), min(event.end, path.size - 1)
        if lo > hi:
            continue
        path[lo : hi + 1] = np.maximum(path[lo : hi + 1] * event.factor + event.units, 0.0)
    return path


def apply_overrides(forecast: npt.ArrayLike, overrides: Mapping[int, float]) -> FloatArray:
    """The forecast path with a planner's value replacing the period's forecast."""
    path = np.array(forecast, dtype=float)
    for period, value in overrides.items():
        if 0 <= period < path.size:
            path[period] = float(value)
    return path
