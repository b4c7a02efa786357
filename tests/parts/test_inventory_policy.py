"""Lead-time demand distribution, order-up-to levels and the stocking simulation."""

import numpy as np
import pytest
from scipy import stats

from aftersales.parts import inventory_policy
from aftersales.parts.inventory_policy import DemandDistribution


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_negative_binomial_quantiles_agree_with_scipy(q: float) -> None:
    dist = DemandDistribution(mean=4.0, dispersion=3.0)
    reference = stats.nbinom(4.0 / 2.0, 1.0 / 3.0)
    assert reference.mean() == pytest.approx(4.0)
    assert reference.var() == pytest.approx(12.0)
    assert dist.quantile(q) == int(reference.ppf(q))
    assert dist.cdf(dist.quantile(q)) >= q > dist.cdf(dist.quantile(q) - 1)


def test_dispersion_at_most_one_is_poisson() -> None:
    dist = DemandDistribution(mean=3.0, dispersion=0.7)
    assert dist.quantile(0.95) == int(stats.poisson(3.0).ppf(0.95))
    assert dist.variance == 3.0
    np.testing.assert_array_equal(
        inventory_policy.quantiles(np.array([3.0, 4.0, 0.0]), np.array([0.7, 3.0, 2.0]), 0.95),
        [stats.poisson(3.0).ppf(0.95), stats.nbinom(2.0, 1 / 3).ppf(0.95), 0.0],
    )


def test_expected_shortage_matches_a_brute_force_sum() -> None:
    dist = DemandDistribution(mean=5.0, dispersion=2.5)
    pmf = stats.nbinom(5.0 / 1.5, 1 / 2.5).pmf(np.arange(400))
    for s in (0, 3, 8, 20):
        brute = float(np.sum(np.maximum(np.arange(400) - s, 0) * pmf))
        assert dist.expected_shortage([s])[0] == pytest.approx(brute, rel=1e-6)


def test_fill_rate_level_is_the_smallest_meeting_the_target() -> None:
    dist = DemandDistribution(mean=4.0, dispersion=3.0)
    s = int(inventory_policy.order_up_to_for_fill_rate(dist, 0.95, review_mean=2.0))

    def expected_fill(level: int) -> float:
        return 1.0 - float(dist.expected_shortage([level])[0]) / 2.0

    assert expected_fill(s) >= 0.95 > expected_fill(s - 1)
    assert inventory_policy.order_up_to_for_fill_rate(dist, 0.95, review_mean=0.0) == 0
    levels = inventory_policy.order_up_to_for_fill_rate(dist, [0.8, 0.95, 0.99], 2.0)
    assert list(levels) == sorted(levels) and levels[1] == s


def test_fill_rate_level_achieves_the_target_on_simulated_demand() -> None:
    # Monthly demand NB(mean 2, dispersion 3); lead time 1 + review 1 -> NB(mean 4, same
    # dispersion) over the cycle.
    rng = np.random.default_rng(2026)
    demand = rng.negative_binomial(1.0, 1 / 3, size=20_000).astype(float)
    dist = DemandDistribution(mean=4.0, dispersion=3.0)
    level = int(inventory_policy.order_up_to_for_fill_rate(dist, 0.95, review_mean=2.0))
    result = inventory_policy.simulate_order_up_to(demand, level, lead_time=1, review=1)
    assert result.fill_rate >= 0.95
    lower = inventory_policy.simulate_order_up_to(demand, level - 3, lead_time=1, review=1)
    assert lower.fill_rate < result.fill_rate


def test_service_level_and_reorder_point_are_quantiles() -> None:
    dist = DemandDistribution(mean=4.0, dispersion=3.0)
    assert inventory_policy.order_up_to_for_service_level(dist, 0.9) == dist.quantile(0.9)
    assert inventory_policy.reorder_point(dist, 0.9) == dist.quantile(0.9)
    assert DemandDistribution(mean=0.0, dispersion=2.0).quantile(0.99) == 0


def test_simulation_on_a_hand_worked_example() -> None:
    # S = 4, lead time 1: t0 sell 3 (1 left, order 3); t1 receive 3 (4 on hand, order 0);
    # t2 demand 5, sell 4, lose 1 (order 4); t3 receive 4, sell 2 (2 left, order 2).
    result = inventory_policy.simulate_order_up_to([3, 0, 5, 2], 4, lead_time=1)
    np.testing.assert_array_equal(result.filled, [3, 0, 4, 2])
    np.testing.assert_array_equal(result.lost, [0, 0, 1, 0])
    np.testing.assert_array_equal(result.ordered, [3, 0, 4, 2])
    np.testing.assert_array_equal(result.on_hand, [1, 4, 0, 2])
    assert result.fill_rate == pytest.approx(0.9)
    assert result.average_on_hand == pytest.approx(1.75)


def test_simulation_orders_only_on_review_periods_and_sums_over_series() -> None:
    demand = np.array([[2, 2, 2, 2], [0, 0, 0, 0]], dtype=float)
    result = inventory_policy.simulate_order_up_to(demand, [4, 1], lead_time=1, review=2)
    # Series 0: t0 sell 2, order 2 (arrives t1); t1 receive 2, sell 2, no review; t2 sell 2,
    # nothing left, order 4 (arrives t3); t3 receive 4, sell 2.
    np.testing.assert_array_equal(result.ordered[0], [2, 0, 4, 0])
    np.testing.assert_array_equal(result.on_hand[0], [2, 2, 0, 2])
    assert result.fill_rate == pytest.approx(1.0)
    # Stock is summed over series: (2 + 2 + 0 + 2) / 4 + 1.
    assert result.average_on_hand == pytest.approx(2.5)


def test_dispersion_index_from_backtest_errors() -> None:
    forecasts = np.array([[1.0, 1.0, 1.0, 1.0]])
    actuals = np.array([[0.0, 2.0, 0.0, 2.0]])
    index, blocks = inventory_policy.dispersion_index(forecasts, actuals, 1, 1.0)
    # Errors -1, 1, -1, 1: variance 1 at a level of 1 a period.
    assert index[0] == pytest.approx(1.0) and blocks[0] == 4
    index2, blocks2 = inventory_policy.dispersion_index(forecasts, actuals, 2, 2.0)
    assert index2[0] == pytest.approx(0.0) and blocks2[0] == 2  # 2-period sums are exact


def test_lead_time_demand_sums_the_path_and_uses_the_pooled_value_without_evidence() -> None:
    empty = np.full((2, 6), np.nan)
    dist = inventory_policy.lead_time_demand(
        [1.0, 2.0, 3.0], empty, empty, lead_time=3, review=1, pooled=2.5
    )
    assert dist.mean == pytest.approx(1 + 2 + 3 + 3)  # the last value repeats
    assert dist.dispersion == pytest.approx(2.5)


def test_system_levels_reach_the_aggregate_fill_rate_at_less_stock_value() -> None:
    # Two parts with the same demand, one cheap and one dear: to fill 90 % of all units the
    # system approach stocks the cheap part deeper and the dear one thinner than a uniform
    # 90 % target per part, and holds less stock value for the same expected fill.
    dists = [
        inventory_policy.DemandDistribution(mean=4.0, dispersion=2.0),
        inventory_policy.DemandDistribution(mean=4.0, dispersion=2.0),
    ]
    costs = np.array([3.0, 2000.0])
    review = np.array([2.0, 2.0])
    levels = inventory_policy.system_levels(dists, costs, review, [0.9])[:, 0]
    uniform = np.array(
        [int(inventory_policy.order_up_to_for_fill_rate(d, 0.9, 2.0)) for d in dists]
    )

    def fill(s: np.ndarray) -> float:
        short = sum(float(d.expected_shortage([int(x)])[0]) for d, x in zip(dists, s, strict=True))
        return 1.0 - short / review.sum()

    assert fill(levels) >= 0.9
    assert levels[0] > uniform[0] and levels[1] < uniform[1]
    assert levels @ costs < uniform @ costs


def test_system_levels_rise_with_the_target_and_skip_parts_without_demand() -> None:
    dists = [
        inventory_policy.DemandDistribution(mean=3.0, dispersion=1.5),
        inventory_policy.DemandDistribution(mean=0.0, dispersion=1.0),
    ]
    levels = inventory_policy.system_levels(dists, [10.0, 10.0], [1.5, 0.0], [0.7, 0.9, 0.99])
    assert list(levels[1]) == [0, 0, 0]
    assert levels[0, 0] <= levels[0, 1] <= levels[0, 2]
