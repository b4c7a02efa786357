"""Spare-parts forecasting on the carparts data: point accuracy, quantiles and stock for service.

    .venv/bin/python benchmarks/forecast_carparts.py
    .venv/bin/python benchmarks/forecast_carparts.py --quick          # 200 series
    .venv/bin/python benchmarks/forecast_carparts.py --data path/to/carparts_long.csv

Data: 2,674 monthly series, 51 months (1998-01 .. 2002-03), `y` empty where missing
(`CARPARTS_CSV` or `--data` overrides the path). Horizon 12, rolling origin: the models are fitted
on the months before each outer origin (27, 33 and 39 months of history by default), scored on
the 12 months after it; the last origin holds out the final 12 months. The automatic choice at
each origin backtests only inside the months before that origin. Missing months are dropped
from the history (the 165 series with missing months keep their first 14 months); a series is
scored at an origin only when its 12 test months are all known and its RMSSE scale is not zero.

Per method, at each origin:

- RMSSE: mean over the scored series.
- Pinball loss at 0.5 / 0.9 / 0.95 of per-month quantiles, scaled per series by its mean
  monthly demand in the history, mean over the scored series. The quantiles of every method come
  from the same machinery (`inventory_policy.quantiles`: negative binomial around the method's
  own forecast with the dispersion of the method's own inner-backtest errors).
- Fill rate against stock: every scored series runs a periodic-review order-up-to policy with
  lost sales (`inventory_policy.simulate_order_up_to`, review 1 month, lead time 1 and 2 months)
  over its 12 test months, with S set once at the origin from the method's lead-time demand
  distribution for a target fill rate; the target is swept to trace a curve. Fill rate = units
  filled from stock / units demanded, summed over all parts; stock = average on-hand units at
  month end, summed over all parts. "stock@95%" interpolates the curve at a 95 % fill rate.

MASE is not reported: on data this sparse a forecast of zero wins any MAE-based score.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Last on the path: this directory's `queue.py` must not shadow the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]
sys.path.insert(0, str(_HERE.parent / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import _cpu_model, _ram_gib, table  # noqa: E402
from tqdm import tqdm  # noqa: E402

from aftersales.parts import forecasting, inventory_policy  # noqa: E402

DEFAULT_DATA = "/work/shared/data/parts/carparts_long.csv"
H = 12
REVIEW = 1
LEAD_TIMES = (1, 2)
QUANTILES = (0.5, 0.9, 0.95)
FILL_TARGETS = np.array(
    [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995,
     0.998, 0.999]
)  # fmt: skip
AUTO = "auto"


def load(path: str) -> tuple[list[str], np.ndarray]:
    """Series ids and the demand matrix (series, month), nan where missing."""
    frame = pd.read_csv(path, dtype={"unique_id": str})
    wide = frame.pivot(index="unique_id", columns="month", values="y").sort_index(axis=1)
    return [str(k) for k in wide.index], wide.to_numpy(dtype=float)


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    import scipy
    import statsforecast

    return [
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} logical"),
        ("RAM", f"{_ram_gib():.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("statsforecast", statsforecast.__version__),
        ("numpy / pandas / scipy", f"{np.__version__} / {pd.__version__} / {scipy.__version__}"),
    ]


def fmt(metric: str, value: float) -> str:
    """Three decimals for scores, one for stock in units."""
    return f"{value:,.1f}" if metric.startswith("stock") else f"{value:.3f}"


def stock_at(fill: np.ndarray, stock: np.ndarray, target: float = 0.95) -> float:
    """Stock on the (fill, stock) curve at `target` fill rate, linear interpolation; nan if
    the curve never reaches it."""
    order = np.argsort(fill)
    f, s = fill[order], stock[order]
    if f[-1] < target:
        return float("nan")
    if f[0] >= target:
        return float(s[0])
    return float(np.interp(target, f, s))


def evaluate(
    label: str,
    paths: np.ndarray,
    backtest: np.ndarray,
    actuals: np.ndarray,
    histories: list[np.ndarray],
    test: np.ndarray,
    scored: np.ndarray,
) -> dict[str, float]:
    """RMSSE, scaled pinball losses and stock at 95 % fill rate of one method at one origin."""
    idx = np.flatnonzero(scored)
    out: dict[str, float] = {}
    out["RMSSE"] = float(np.mean([forecasting.rmsse(test[i], paths[i], histories[i]) for i in idx]))
    # Per-month dispersion around each month's forecast: the index against the mean month.
    d1, n1 = inventory_policy.dispersion_index(
        backtest[idx], actuals[idx], 1, paths[idx].mean(axis=1)
    )
    disp1 = inventory_policy.shrink_dispersion(d1, n1, inventory_policy.pooled_dispersion(d1))
    level = np.array([histories[i].mean() for i in idx])
    for q in QUANTILES:
        qs = inventory_policy.quantiles(paths[idx], disp1[:, None], q)
        diff = test[idx] - qs
        loss = np.maximum(q * diff, (q - 1) * diff).mean(axis=1) / level
        out[f"pinball {q:g}"] = float(loss.mean())
    out["bias"] = float(np.mean(paths[idx].mean(axis=1) - test[idx].mean(axis=1)))
    for lead in LEAD_TIMES:
        k = lead + REVIEW
        dk, nk = inventory_policy.dispersion_index(
            backtest[idx], actuals[idx], k, paths[idx, :k].sum(axis=1)
        )
        dispk = inventory_policy.shrink_dispersion(dk, nk, inventory_policy.pooled_dispersion(dk))
        levels = np.zeros((idx.size, FILL_TARGETS.size))
        for row, i in enumerate(idx):
            dist = inventory_policy.DemandDistribution(
                mean=float(paths[i, :k].sum()), dispersion=float(dispk[row])
            )
            review_mean = float(paths[i, :k].mean()) * REVIEW
            levels[row] = inventory_policy.order_up_to_for_fill_rate(
                dist, FILL_TARGETS, review_mean
            )
        fills, stocks = [], []
        for j in range(FILL_TARGETS.size):
            sim = inventory_policy.simulate_order_up_to(test[idx], levels[:, j], lead_time=lead)
            fills.append(sim.fill_rate)
            stocks.append(sim.average_on_hand)
        out[f"stock@95% L={lead}"] = stock_at(np.array(fills), np.array(stocks))
        out[f"max fill L={lead}"] = float(max(fills))
    return out


def run_origin(
    origin: int,
    ids: list[str],
    matrix: np.ndarray,
    *,
    n_jobs: int,
    extra: Sequence[str],
) -> tuple[dict[str, dict[str, float]], float, int, dict[str, int]]:
    """Fit at `origin`, evaluate every method; (rows, fit seconds, scored series, choices)."""
    histories = []
    for row in matrix[:, :origin]:
        histories.append(row[np.isfinite(row)])
    started = time.perf_counter()
    batch = forecasting.forecast_batch(
        dict(zip(ids, histories, strict=True)), h=H, season_length=12, n_jobs=n_jobs
    )
    seconds = time.perf_counter() - started
    test = matrix[:, origin : origin + H]
    complete = np.isfinite(test).all(axis=1) & np.isfinite(matrix[:, :origin]).all(axis=1)
    scale = np.array(
        [np.mean(np.diff(h) ** 2) if h.size > 1 else 0.0 for h in histories], dtype=float
    )
    scored = complete & (scale > 0)
    rows: dict[str, dict[str, float]] = {}
    labels = [*forecasting.SINGLE_METHODS, *extra, AUTO]
    for label in tqdm(labels, desc=f"origin {origin}: methods", file=sys.stderr, leave=False):
        if label == AUTO:
            paths, backtest = batch.chosen_paths(), batch.chosen_backtest()
        else:
            c = batch.candidates.index(label)
            paths, backtest = batch.paths[c], batch.backtest[c]
        rows[label] = evaluate(
            label, paths, backtest, batch.actuals, histories, np.nan_to_num(test), scored
        )
    choices: dict[str, int] = {}
    for c in batch.chosen:
        choices[batch.candidates[c]] = choices.get(batch.candidates[c], 0) + 1
    return rows, seconds, int(scored.sum()), choices


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", default=os.environ.get("CARPARTS_CSV", DEFAULT_DATA))
    parser.add_argument("--quick", action="store_true", help="the first 200 series only")
    parser.add_argument("--series", type=int, default=0, help="the first N series only")
    parser.add_argument(
        "--origins", type=int, nargs="+", default=[27, 33, 39], help="months of history"
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[forecasting.combo_label(forecasting.COMBINATIONS[0])],
        help="other candidates to report (for reference)",
    )
    args = parser.parse_args(argv)

    ids, matrix = load(args.data)
    limit = 200 if args.quick else args.series
    if limit:
        ids, matrix = ids[:limit], matrix[:limit]
    print()
    print("=" * 78)
    print(f"Spare-parts forecasting on carparts ({len(ids):,} series x {matrix.shape[1]} months)")
    print("=" * 78)
    print(table(["machine", ""], machine()))
    print()
    print(
        "Definitions: RMSSE and pinball (per-month quantile, divided by the series' mean monthly "
        "demand in the history) are means over the scored series. Quantiles and lead-time "
        "distributions of every method come from the same machinery "
        "(inventory_policy: negative binomial around the method's own forecast, dispersion from "
        "the method's own inner-backtest errors, shrunk to the pooled median). Fill rate = units "
        "filled from stock / units demanded, summed over all scored parts; stock = average "
        "month-end on-hand units summed over all scored parts; periodic review 1 month, "
        "lost sales, S set at the origin for a swept target fill rate; stock@95% interpolates "
        "the curve. MASE is not reported (a zero forecast wins it on this data)."
    )
    summary: dict[str, dict[str, list[float]]] = {}
    for origin in args.origins:
        rows, seconds, scored, choices = run_origin(
            origin, ids, matrix, n_jobs=args.n_jobs, extra=args.extra
        )
        last = origin + H >= matrix.shape[1]
        print()
        print(
            f"Origin {origin} ({origin} months of history, test months {origin + 1}..."
            f"{origin + H}{', the final 12' if last else ''}): {scored:,} of {len(ids):,} series "
            f"scored; auto-selection fit {seconds:.1f} s wall (n_jobs={args.n_jobs})"
        )
        metrics = list(next(iter(rows.values())))
        print(
            table(
                ["method", *metrics],
                [[label, *(fmt(m, rows[label][m]) for m in metrics)] for label in rows],
            )
        )
        top = sorted(choices.items(), key=lambda kv: -kv[1])
        print("auto choices: " + ", ".join(f"{k} {v}" for k, v in top))
        for label, row in rows.items():
            for m, v in row.items():
                summary.setdefault(label, {}).setdefault(m, []).append(v)
    means = {
        label: {m: float(np.mean(v)) for m, v in row.items()} for label, row in summary.items()
    }
    if len(args.origins) > 1:
        print()
        print(f"Mean over the {len(args.origins)} origins (the rolling-origin score)")
        metrics = list(next(iter(summary.values())))
        print(
            table(
                ["method", *metrics],
                [
                    [label, *(fmt(m, float(np.mean(v[m]))) for m in metrics)]
                    for label, v in summary.items()
                ],
            )
        )
    print()
    verdict(means)
    return 0


def verdict(means: dict[str, dict[str, float]]) -> None:
    """Whether the automatic choice beats every single statsforecast method on the rolling-origin
    score: lower RMSSE and less stock for a 95 % fill rate (a method that never reaches 95 %
    needs unbounded stock)."""
    singles = [m for m in forecasting.SINGLE_METHODS if m in means]
    for metric in ["RMSSE", *(f"stock@95% L={lead}" for lead in LEAD_TIMES)]:
        ours = means[AUTO][metric]
        rivals = {m: means[m][metric] for m in singles}
        finite = {m: v for m, v in rivals.items() if np.isfinite(v)}
        best = min(finite, key=lambda m: finite[m]) if finite else None
        beats = all(not np.isfinite(v) or ours < v for v in rivals.values())
        gap = ""
        if best is not None:
            gap = f"{(ours / finite[best] - 1) * 100:+.1f} % against the best single method, "
            gap += f"{best} ({fmt(metric, finite[best])})"
        print(
            f"auto {metric}: {fmt(metric, ours)}, {gap}: "
            f"{'beats every single method' if beats else 'does NOT beat every single method'}"
        )


if __name__ == "__main__":
    sys.exit(main())
