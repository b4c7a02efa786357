"""The scoring maths of customer value tiers (客户价值分层): pure functions, no database.

A customer is measured on three dimensions:

- purchase: the amount paid for the customer's registered units bought in the purchase window;
- usage: how often they use the service and the product in the usage window: cases opened plus
  inbound contacts; product usage telemetry, once a channel delivers it, is added to the same
  count (see `Activity.usage`);
- feedback: the value of what they tell us in the same window: cases whose report was marked as
  useful product feedback, plus surveys answered once the survey module records them (see
  `Activity.feedback`).

Each dimension is normalised to 0..1 by percentile rank among the live customers, which is
robust to heavy-tailed amounts (one project buyer cannot squash everybody else to zero). The
rank of a value is the share of the other customers below it, equal values counting half, so
the lowest value ranks 0, the highest 1 and equal values rank equally. A customer with nothing in
a dimension ranks 0 there, however many customers share that position: absence is not a rank.
The score is the weighted sum of the three ranks, 0..1, with six decimals.

The tier follows from two score cut-offs, inclusive: low if score <= low cut-off, else VIP if
score >= VIP cut-off, else regular. In percentile mode the cut-offs are the scores of the customer
at the VIP share from the top and at the low share from the bottom, so equal scores always share
a tier (ties can make a tier slightly larger than its share); in threshold mode they are fixed.
"""

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from .models import Tier

SCORE_PLACES = Decimal("0.000001")
DIMENSIONS = ("purchase", "usage", "feedback")
# Rank tables keep at most this many points per dimension; below it they are exact.
MAX_KNOTS = 2000

Number = Decimal | int | float


@dataclass(frozen=True)
class Activity:
    """A customer's raw values in the three dimensions over the policy's windows."""

    purchase: Decimal = Decimal("0")
    # Cases opened + inbound contacts (+ product usage events, once known).
    usage: int = 0
    # Cases with useful feedback (+ surveys answered, once known).
    feedback: int = 0

    def value(self, dimension: str) -> Number:
        value: Number = getattr(self, dimension)
        return value


@dataclass(frozen=True)
class Weights:
    purchase: Decimal
    usage: Decimal
    feedback: Decimal

    def of(self, dimension: str) -> Decimal:
        weight: Decimal = getattr(self, dimension)
        return weight

    def as_dict(self) -> dict[str, str]:
        return {d: str(self.of(d)) for d in DIMENSIONS}


@dataclass(frozen=True)
class Cutoffs:
    """Score cut-offs; `None` means nobody is in that tier."""

    vip: Decimal | None
    low: Decimal | None


@dataclass(frozen=True)
class Scored:
    """One customer's normalised dimension ranks, total score and tier."""

    ranks: tuple[Decimal, Decimal, Decimal]  # purchase, usage, feedback
    score: Decimal
    tier: str


def quantize(value: Number) -> Decimal:
    """A rank or score as stored: six decimals."""
    return Decimal(str(value)).quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN)


def percentile_ranks(values: Sequence[Number]) -> list[Decimal]:
    """Each value's rank among all `values`, 0..1 (see the module docstring), in input order."""
    n = len(values)
    ranks = [Decimal("0")] * n
    order = sorted(range(n), key=lambda i: values[i])
    below = 0
    for value, group in itertools.groupby(order, key=lambda i: values[i]):
        members = list(group)
        if value > 0:
            rank = quantize(_mid_rank(below, len(members), n))
            for i in members:
                ranks[i] = rank
        below += len(members)
    return ranks


def _mid_rank(below: int, equal: int, population: int) -> float:
    """Share of the other customers below a value, equal ones counting half."""
    if population <= 1:
        return 1.0
    return min(1.0, max(0.0, (below + (equal - 1) / 2) / (population - 1)))


@dataclass(frozen=True)
class RankTable:
    """One dimension's distribution from a full run, to rank a single value later.

    Points are (value, how many customers below it, how many equal to it) at distinct positive
    values; between points the count below is interpolated, so the table is exact up to
    `MAX_KNOTS` distinct values and close beyond.
    """

    population: int
    values: tuple[float, ...]
    below: tuple[int, ...]
    equal: tuple[int, ...]

    def rank(self, value: Number) -> Decimal:
        """The rank `value` would have had in the run (as one more member of it)."""
        v = float(value)
        if v <= 0 or self.population == 0:
            return Decimal("0")
        i = bisect.bisect_left(self.values, v)
        if i < len(self.values) and self.values[i] == v:
            below, equal = float(self.below[i]), self.equal[i] + 1
        elif i == len(self.values):
            below, equal = float(self.population), 1
        else:
            # Between the previous point (or zero) and this one.
            if i == 0:
                x0, y0 = 0.0, float(self.below[0])
            else:
                x0, y0 = self.values[i - 1], float(self.below[i - 1] + self.equal[i - 1])
            x1, y1 = self.values[i], float(self.below[i])
            below = y0 + (y1 - y0) * (v - x0) / (x1 - x0)
            equal = 1
        # The value joins the run's population as one more customer.
        return quantize(_mid_rank(round(below), equal, self.population + 1))

    def as_json(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "values": list(self.values),
            "below": list(self.below),
            "equal": list(self.equal),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RankTable":
        return cls(
            population=int(data.get("population", 0)),
            values=tuple(float(v) for v in data.get("values", ())),
            below=tuple(int(v) for v in data.get("below", ())),
            equal=tuple(int(v) for v in data.get("equal", ())),
        )


def rank_table(values: Sequence[Number], *, max_knots: int = MAX_KNOTS) -> RankTable:
    """The rank table of one dimension's values (all live customers of a run)."""
    counts: dict[float, int] = {}
    zeros = 0
    for value in values:
        v = float(value)
        if v <= 0:
            zeros += 1
        else:
            counts[v] = counts.get(v, 0) + 1
    points: list[tuple[float, int, int]] = []
    below = zeros
    for v in sorted(counts):
        points.append((v, below, counts[v]))
        below += counts[v]
    if len(points) > max_knots:
        step = (len(points) - 1) / (max_knots - 1)
        keep = sorted({round(k * step) for k in range(max_knots)})
        points = [points[k] for k in keep]
    return RankTable(
        population=len(values),
        values=tuple(p[0] for p in points),
        below=tuple(p[1] for p in points),
        equal=tuple(p[2] for p in points),
    )


def weighted_score(ranks: Sequence[Decimal], weights: Weights) -> Decimal:
    """The weighted sum of the dimension ranks (in `DIMENSIONS` order), six decimals."""
    total = sum((weights.of(d) * r for d, r in zip(DIMENSIONS, ranks, strict=True)), Decimal("0"))
    return quantize(total)


def _share_count(share: Decimal, population: int) -> int:
    return int((share * population).to_integral_value(rounding=ROUND_HALF_UP))


def percentile_cutoffs(
    scores: Sequence[Decimal], *, vip_share: Decimal, low_share: Decimal
) -> Cutoffs:
    """Cut-offs that put `vip_share` of the customers in VIP and `low_share` in low.

    The VIP cut-off is the score of the customer at that position from the top, the low one at
    that position from the bottom; customers with equal scores fall on the same side.
    """
    ordered = sorted(scores)
    n = len(ordered)
    vip_n, low_n = _share_count(vip_share, n), _share_count(low_share, n)
    return Cutoffs(
        vip=ordered[n - vip_n] if vip_n else None,
        low=ordered[low_n - 1] if low_n else None,
    )


def tier_for(score: Decimal, cutoffs: Cutoffs) -> str:
    """The tier of a score: low at or below the low cut-off, VIP at or above the VIP one."""
    if cutoffs.low is not None and score <= cutoffs.low:
        return str(Tier.LOW)
    if cutoffs.vip is not None and score >= cutoffs.vip:
        return str(Tier.VIP)
    return str(Tier.REGULAR)


def crossed_cutoff(tier: str, cutoffs: Cutoffs) -> Decimal | None:
    """The cut-off that decided a tier: VIP's or low's, or the VIP one a regular stays under."""
    if tier == Tier.LOW:
        return cutoffs.low
    return cutoffs.vip


@dataclass(frozen=True)
class Population:
    """A full run's result: each customer's ranks, score and tier, the cut-offs and tables."""

    scored: dict[int, Scored]
    cutoffs: Cutoffs
    tables: dict[str, RankTable]


def score_population(
    activities: Mapping[int, Activity],
    *,
    weights: Weights,
    percentile: bool,
    vip_share: Decimal = Decimal("0"),
    low_share: Decimal = Decimal("0"),
    thresholds: Cutoffs | None = None,
) -> Population:
    """Score every customer (id → activity) and tier them by percentile shares or thresholds."""
    ids = list(activities)
    columns = {d: [activities[i].value(d) for i in ids] for d in DIMENSIONS}
    ranks = {d: percentile_ranks(columns[d]) for d in DIMENSIONS}
    scores = [weighted_score([ranks[d][k] for d in DIMENSIONS], weights) for k in range(len(ids))]
    if percentile:
        cutoffs = percentile_cutoffs(scores, vip_share=vip_share, low_share=low_share)
    else:
        cutoffs = thresholds or Cutoffs(vip=None, low=None)
    scored = {
        customer_id: Scored(
            ranks=(ranks["purchase"][k], ranks["usage"][k], ranks["feedback"][k]),
            score=scores[k],
            tier=tier_for(scores[k], cutoffs),
        )
        for k, customer_id in enumerate(ids)
    }
    return Population(
        scored=scored,
        cutoffs=cutoffs,
        tables={d: rank_table(columns[d]) for d in DIMENSIONS},
    )


def score_one(
    activity: Activity,
    *,
    weights: Weights,
    tables: Mapping[str, RankTable],
    cutoffs: Cutoffs,
    previous: tuple[Activity, Sequence[Decimal]] | None = None,
) -> Scored:
    """Score one customer against the last full run's rank tables and cut-offs.

    `previous` is the customer's activity and ranks from their last score: a dimension whose
    value has not changed keeps its rank, so re-scoring after a purchase moves the purchase rank
    only.
    """
    ranks = tuple(
        previous[1][k]
        if previous is not None and previous[0].value(d) == activity.value(d)
        else tables[d].rank(activity.value(d))
        for k, d in enumerate(DIMENSIONS)
    )
    score = weighted_score(ranks, weights)
    return Scored(
        ranks=(ranks[0], ranks[1], ranks[2]),
        score=score,
        tier=tier_for(score, cutoffs),
    )
