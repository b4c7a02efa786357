"""Lead-time demand distribution and stocking policy for spare parts (备件库存策略).

Pure module (numpy, scipy), no Django.

Distribution. Demand over k periods (lead time + review period) is counted in whole parts and is
far from normal for slow movers, so it is modelled as a negative binomial with mean = the sum of
the forecast over those k periods and variance = dispersion x mean. The dispersion index
(variance / mean) comes from the forecasting method's own inner-backtest errors
(`dispersion_index`): the mean squared error (actual - forecast, bias included on purpose) of
the k-period sums over every block of k consecutive periods in every backtest window, divided by
the demand level it was observed at (see `dispersion_index`). It is shrunk toward a pooled value
(the median over the series of the batch) with weight `n / (n + prior_blocks)`, n the number of
non-overlapping blocks seen, so short evidence borrows from the other parts. Dispersion <= 1
means Poisson. An empirical bootstrap of lead-time demand (Willemain) was not implemented: with
four overlapping inner windows per series there are too few independent blocks to resample,
while the negative binomial needs one number per series. A first version that divided the
squared errors by the backtest's own forecasts gave indices in the thousands for parts whose
forecast was near zero (order-up-to levels of 10,000 parts for a part selling 4 a year in the
benchmark); dividing by the largest observed level fixed that.

Policy. Periodic review every R periods, order-up-to level S, lead time L. Service targets:

- cycle service level: S = the smallest integer with P(D_{L+R} <= S) >= target;
- fill rate: S = the smallest integer with 1 - E[(D_{L+R} - S)^+] / E[D_R] >= target, the
  expected shortage per cycle approximated by the shortage of the whole L+R demand (slightly
  conservative: it ignores the stock that is already short at the start of the cycle).

API:

- `DemandDistribution(mean, dispersion)`: `.quantile(q)`, `.cdf(x)`, `.expected_shortage(S)`.
- `lead_time_demand(path, backtest_forecasts, backtest_actuals, lead_time=, review=, ...)`:
  the distribution over the L+R periods that follow the origin.
- `order_up_to_for_service_level`, `order_up_to_for_fill_rate`, `reorder_point`.
- `system_levels(dists, costs, review_means, targets)`: the levels that reach an aggregate
  fill rate at the least stock value (marginal allocation by price per yuan).
- `quantiles(mean, dispersion, q)`: vectorised per-period quantiles (for quantile losses).
- `simulate_order_up_to(demand, order_up_to, lead_time, review)`: the periodic-review
  order-up-to simulation with lost sales that the service-level / stock curves use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
PRIOR_BLOCKS = 6.0
# Tail probability left out when the distribution is tabulated for shortage sums.
TAIL = 1e-9


@dataclass(frozen=True)
class DemandDistribution:
    """Negative binomial demand with `mean` and variance `dispersion * mean` (Poisson if <= 1)."""

    mean: float
    dispersion: float

    def _frozen(self) -> stats.rv_discrete:
        if self.dispersion <= 1.0:
            return stats.poisson(self.mean)
        return stats.nbinom(self.mean / (self.dispersion - 1.0), 1.0 / self.dispersion)

    @property
    def variance(self) -> float:
        return self.mean * max(self.dispersion, 1.0)

    def quantile(self, q: float) -> int:
        """The smallest integer x with P(D <= x) >= q."""
        if self.mean <= 0:
            return 0
        return int(self._frozen().ppf(q))

    def cdf(self, x: float) -> float:
        """P(D <= x)."""
        if self.mean <= 0:
            return 1.0 if x >= 0 else 0.0
        return float(self._frozen().cdf(x))

    def expected_shortage(self, levels: npt.ArrayLike) -> FloatArray:
        """E[(D - S)^+] for each stock level S (non-negative integers)."""
        s = np.asarray(levels, dtype=np.int64)
        if self.mean <= 0:
            return np.zeros(s.shape)
        table = self._shortage_table(max(int(np.max(s, initial=0)), 0))
        return table[np.minimum(s, table.size - 1)]

    def _shortage_table(self, at_least: int) -> FloatArray:
        """E[(D - S)^+] for S = 0 .. max(at_least, the 1 - TAIL quantile) + 1."""
        top = max(int(self._frozen().ppf(1.0 - TAIL)), at_least) + 1
        survival = self._frozen().sf(np.arange(top + 1))
        # E[(D - S)^+] = sum over x >= S of P(D > x)
        return np.asarray(np.cumsum(survival[::-1])[::-1], dtype=float)


def dispersion_index(
    backtest_forecasts: npt.ArrayLike,
    backtest_actuals: npt.ArrayLike,
    periods: int,
    mean: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Dispersion index (variance / mean) of k-period demand, from inner-backtest errors.

    `backtest_forecasts`, `backtest_actuals`: arrays (series, window, h) or (window, h), nan
    where missing; `mean`: the k-period demand now expected per series. The variance is the
    mean squared error of the k-period sums over every block of k consecutive periods in every
    window; the index divides it by the demand level it was observed at: the largest of the
    backtest's mean block forecast, its mean block demand and `mean`. Neither a near-zero
    backtest forecast before a part's first demands nor a near-zero forecast now that a part
    has died can then blow the index up (nan when nothing is known).
    Returns (index, blocks): blocks = the number of non-overlapping k-blocks behind it.
    """
    f = np.asarray(backtest_forecasts, dtype=float)
    y = np.asarray(backtest_actuals, dtype=float)
    if f.ndim == 2:
        f, y = f[None], y[None]
    h = f.shape[-1]
    k = min(max(int(periods), 1), h)
    block_f = np.lib.stride_tricks.sliding_window_view(f, k, axis=2).sum(axis=3)
    block_y = np.lib.stride_tricks.sliding_window_view(y, k, axis=2).sum(axis=3)
    ok = np.isfinite(block_f) & np.isfinite(block_y)
    count = ok.sum(axis=(1, 2))
    sq = np.where(ok, (block_y - block_f) ** 2, 0.0).sum(axis=(1, 2))
    variance = np.divide(sq, count, out=np.full(sq.shape, np.nan), where=count > 0)
    mu = np.broadcast_to(np.asarray(mean, dtype=float), variance.shape)
    seen_f = np.divide(np.where(ok, block_f, 0.0).sum(axis=(1, 2)), np.maximum(count, 1))
    seen_y = np.divide(np.where(ok, block_y, 0.0).sum(axis=(1, 2)), np.maximum(count, 1))
    level = np.maximum(np.maximum(seen_f, seen_y), mu)
    index = np.divide(variance, level, out=np.full(sq.shape, np.nan), where=level > 1e-9)
    windows = np.isfinite(y).all(axis=2).sum(axis=1)
    return index, (windows * (h // k)).astype(float)


def pooled_dispersion(index: npt.ArrayLike) -> float:
    """The pooled dispersion of a batch: the median of the finite indices (1.0 if none)."""
    values = np.asarray(index, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else 1.0


def shrink_dispersion(
    index: npt.ArrayLike, blocks: npt.ArrayLike, pooled: float, prior_blocks: float = PRIOR_BLOCKS
) -> FloatArray:
    """Shrink each series' dispersion toward `pooled` by its evidence (nan: pooled)."""
    d = np.asarray(index, dtype=float)
    n = np.where(np.isfinite(d), np.asarray(blocks, dtype=float), 0.0)
    return np.asarray((np.nan_to_num(d) * n + pooled * prior_blocks) / (n + prior_blocks))


def lead_time_demand(
    forecast: npt.ArrayLike,
    backtest_forecasts: npt.ArrayLike,
    backtest_actuals: npt.ArrayLike,
    *,
    lead_time: int,
    review: int = 1,
    pooled: float = 1.0,
    prior_blocks: float = PRIOR_BLOCKS,
) -> DemandDistribution:
    """Demand over the `lead_time + review` periods after the origin, for one series.

    Mean: the forecast summed over those periods (the last value repeats past the path's end).
    Dispersion: `dispersion_index` of the method's own backtest, shrunk toward `pooled`.
    """
    k = lead_time + review
    path = np.asarray(forecast, dtype=float)
    mean = float(np.sum(path[:k])) + max(k - path.size, 0) * float(path[-1] if path.size else 0)
    index, blocks = dispersion_index(backtest_forecasts, backtest_actuals, k, mean)
    d = float(shrink_dispersion(index, blocks, pooled, prior_blocks)[0])
    return DemandDistribution(mean=mean, dispersion=d)


def quantiles(mean: npt.ArrayLike, dispersion: npt.ArrayLike, q: float) -> FloatArray:
    """Vectorised q-quantiles of negative binomial (Poisson where dispersion <= 1) demand."""
    mu = np.asarray(mean, dtype=float)
    d = np.broadcast_to(np.asarray(dispersion, dtype=float), mu.shape)
    nb = d > 1.0
    out = np.zeros(mu.shape)
    positive = mu > 0
    pois = positive & ~nb
    out[pois] = stats.poisson.ppf(q, mu[pois])
    neg = positive & nb
    out[neg] = stats.nbinom.ppf(q, mu[neg] / (d[neg] - 1.0), 1.0 / d[neg])
    return out


def order_up_to_for_service_level(dist: DemandDistribution, target: float) -> int:
    """Order-up-to level S for a cycle service level: P(D_{L+R} <= S) >= target."""
    return dist.quantile(target)


def reorder_point(lead_time_dist: DemandDistribution, target: float) -> int:
    """Reorder point for continuous review: the `target` quantile of lead-time demand."""
    return lead_time_dist.quantile(target)


def order_up_to_for_fill_rate(
    dist: DemandDistribution, target: float | npt.ArrayLike, review_mean: float
) -> npt.NDArray[np.int64]:
    """Smallest S with expected fill rate 1 - E[(D_{L+R} - S)^+] / `review_mean` >= target.

    `dist`: demand over lead time + review; `review_mean`: expected demand per review period.
    Vectorised over targets (returns an array of the same shape). S = 0 without demand.
    """
    targets = np.asarray(target, dtype=float)
    if dist.mean <= 0 or review_mean <= 0:
        return np.zeros(targets.shape, dtype=np.int64)
    table = dist._shortage_table(0)
    fill = 1.0 - table / review_mean
    # `fill` rises with S; the table ends past the 1 - TAIL quantile where fill is ~1.
    levels = np.searchsorted(fill, targets - 1e-12, side="left")
    return np.minimum(levels, table.size - 1).astype(np.int64)


def system_levels(
    dists: list[DemandDistribution],
    costs: npt.ArrayLike,
    review_means: npt.ArrayLike,
    targets: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """Order-up-to levels that reach each aggregate fill rate in `targets` at the least stock
    value (the system approach of service-parts planning), array (part, target).

    Raising part i's level from S to S + 1 fills P(D_i > S) more units per cycle for
    `costs[i]` more stock, and that gain falls as S rises, so the cheapest way to a given
    number of filled units takes every step whose gain per yuan is at least some price
    `lam`: S_i(lam) = the number of levels with P(D_i > S) >= lam * c_i. For each target the
    price is found by bisection so that the expected units filled, sum(E[D_R,i] -
    E[(D_i - S_i)^+]) / sum(E[D_R,i]), reach the target. A uniform target per part spends
    the same service on a ¥2,000 board as on a ¥3 screw; this spends it where it is cheap.
    """
    c = np.maximum(np.asarray(costs, dtype=float), 1e-6)
    review = np.asarray(review_means, dtype=float)
    goals = np.atleast_1d(np.asarray(targets, dtype=float))
    n = len(dists)
    out = np.zeros((n, goals.size), dtype=np.int64)
    active = [i for i, d in enumerate(dists) if d.mean > 0 and review[i] > 0]
    if not active:
        return out
    # Per part: survival P(D > S) and expected shortage E[(D - S)^+] for S = 0 .. top.
    survival = []
    shortage = []
    for i in active:
        table = dists[i]._shortage_table(0)
        shortage.append(table)
        survival.append(np.append(-np.diff(table), 0.0))
    demand = float(review[active].sum())

    def levels(lam: float) -> npt.NDArray[np.int64]:
        # sf falls with S: the count of steps still worth lam per yuan.
        return np.array(
            [
                int(np.count_nonzero(sf >= lam * c[i]))
                for sf, i in zip(survival, active, strict=True)
            ],
            dtype=np.int64,
        )

    def fill(s: npt.NDArray[np.int64]) -> float:
        short = sum(
            float(table[min(int(level), table.size - 1)])
            for table, level in zip(shortage, s, strict=True)
        )
        return 1.0 - short / demand

    top = float(max(1.0 / c[i] for i in active)) * 2.0
    for j, goal in enumerate(goals):
        lo, hi = 0.0, top  # lam = 0 stocks everything to the tail; lam = top stocks nothing
        for _ in range(40):
            mid = (lo + hi) / 2.0
            if fill(levels(mid)) >= goal:
                lo = mid
            else:
                hi = mid
        out[active, j] = levels(lo)
    return out


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of `simulate_order_up_to`, per series (arrays) and over all series (floats).

    `fill_rate`: units filled from stock / units demanded, all series together (nan without
    demand); `average_on_hand`: sum over series of the average end-of-period stock.
    """

    fill_rate: float
    average_on_hand: float
    demand: FloatArray
    filled: FloatArray
    lost: FloatArray
    on_hand: FloatArray
    ordered: FloatArray


def simulate_order_up_to(
    demand: npt.ArrayLike,
    order_up_to: npt.ArrayLike,
    lead_time: int,
    review: int = 1,
    start_on_hand: npt.ArrayLike | None = None,
) -> SimulationResult:
    """Periodic-review order-up-to policy with lost sales, over one or many series.

    `demand`: array (periods) or (series, periods); `order_up_to`: a number, one per series, or
    one per (series, period). Each period t: (1) the order placed at t - lead_time arrives;
    (2) demand is filled from stock on hand, the rest is lost (spare-parts customers source
    elsewhere or wait outside the system: not backordered); (3) on a review period (t % review
    == 0) an order brings the inventory position (on hand + on order) up to S_t, arriving
    `lead_time` periods later (lead time 0: at once). Stock on hand starts at `start_on_hand`
    (default S of the first period) with nothing on order. Stock held = on hand at the end of
    each period, after any zero-lead-time receipt.
    """
    d = np.asarray(demand, dtype=float)
    single = d.ndim == 1
    d = np.atleast_2d(d)
    n, periods = d.shape
    levels = np.broadcast_to(
        np.asarray(order_up_to, dtype=float).reshape((n, -1) if np.ndim(order_up_to) else (1, 1)),
        (n, periods),
    )
    on_hand = (
        levels[:, 0].copy()
        if start_on_hand is None
        else np.broadcast_to(np.asarray(start_on_hand, dtype=float), (n,)).copy()
    )
    pipeline = np.zeros((n, periods + lead_time + 1))
    on_order = np.zeros(n)
    filled = np.zeros((n, periods))
    ordered = np.zeros((n, periods))
    stock = np.zeros((n, periods))
    for t in range(periods):
        on_hand += pipeline[:, t]
        on_order -= pipeline[:, t]
        filled[:, t] = np.minimum(on_hand, d[:, t])
        on_hand -= filled[:, t]
        if t % review == 0:
            ordered[:, t] = np.maximum(levels[:, t] - on_hand - on_order, 0.0)
            if lead_time == 0:
                on_hand += ordered[:, t]
            else:
                pipeline[:, t + lead_time] += ordered[:, t]
                on_order += ordered[:, t]
        stock[:, t] = on_hand
    lost = d - filled
    total = float(d.sum())
    fill_rate = float(filled.sum()) / total if total > 0 else math.nan
    average = float(stock.mean(axis=1).sum())
    if single:
        return SimulationResult(fill_rate, average, d[0], filled[0], lost[0], stock[0], ordered[0])
    return SimulationResult(fill_rate, average, d, filled, lost, stock, ordered)
