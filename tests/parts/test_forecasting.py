"""Demand classification, accuracy measures, automatic choice, installed base, adjustments."""

import math

import numpy as np
import pytest

from aftersales.parts import forecasting
from aftersales.parts.forecasting import CausalEvent, FailureRate


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        ([5, 6] * 6, "smooth"),
        ([1, 10] * 6, "erratic"),
        ([0, 0, 3] * 6, "intermittent"),
        ([0, 0, 1, 0, 0, 20] * 3, "lumpy"),
        ([0, 0, 4, 0, 0, 0], "insufficient"),
    ],
)
def test_sbc_class_of_hand_made_series(demand: list[int], expected: str) -> None:
    label, adi, cv2 = forecasting.sbc_class(demand)
    assert label == expected
    if expected == "insufficient":
        assert math.isnan(adi) and math.isnan(cv2)


def test_sbc_class_reports_adi_and_cv2() -> None:
    # Non-zero demands 1 and 20 in 6 of 18 periods: ADI 3, CV² = 90.25 / 10.5².
    label, adi, cv2 = forecasting.sbc_class([0, 0, 1, 0, 0, 20] * 3)
    assert (label, adi) == ("lumpy", 3.0)
    assert cv2 == pytest.approx(90.25 / 10.5**2)


def test_xyz_class_uses_the_cut_offs() -> None:
    steady = [10, 11, 9, 10]
    assert forecasting.xyz_class(steady) == "X"
    assert forecasting.xyz_class([0, 2, 1, 3]) == "Y"  # CV = 1.118 / 1.5 = 0.745
    assert forecasting.xyz_class([0, 0, 0, 8]) == "Z"
    assert forecasting.xyz_class([0, 0, 0]) == "Z"
    assert forecasting.xyz_class([0, 2, 1, 3], x_max=0.8) == "X"


def test_rmsse_on_hand_computed_values() -> None:
    # Scale: first differences 2 and -1 of the history -> (4 + 1) / 2 = 2.5.
    # Errors 1 and 3 -> MSE 5 -> sqrt(5 / 2.5).
    assert forecasting.rmsse([2, 4], [1, 1], [1, 3, 2]) == pytest.approx(math.sqrt(2))


def test_rmsse_is_nan_for_a_constant_history() -> None:
    assert math.isnan(forecasting.rmsse([1, 2], [1, 1], [3, 3, 3]))


def test_pinball_loss_and_bias_on_hand_computed_values() -> None:
    # q = 0.9: under-forecast by 5 costs 4.5, over-forecast by 5 costs 0.5.
    assert forecasting.pinball_loss([0, 10], [5, 5], 0.9) == pytest.approx(2.5)
    assert forecasting.pinball_loss([0, 10], [5, 5], 0.5) == pytest.approx(2.5)
    assert forecasting.bias([1, 3], [4, 4]) == pytest.approx(2.0)


def test_auto_forecast_follows_a_level_shift_and_scores_every_candidate() -> None:
    # Two units a month, then a steady twenty: the long-run methods lag far behind, so the
    # learned combination must lean on the methods that have caught up.
    history = np.array([2.0] * 24 + [20.0] * 24)
    result = forecasting.forecast_auto(history, h=6)
    assert result.method == forecasting.STACKED
    assert set(result.scores) == set(forecasting.CANDIDATES)
    assert result.forecast.shape == (6,)
    assert np.all(np.abs(result.forecast - 20.0) < 2.0)
    assert result.scores["Croston"] > result.scores[forecasting.STACKED]


def test_stacked_weights_recover_the_combination_behind_the_actuals() -> None:
    rng = np.random.default_rng(3)
    methods = len(forecasting.SINGLE_METHODS)
    backtest = rng.gamma(2.0, 1.0, (methods, 400, 3, 6))
    truth = np.zeros(methods)
    truth[forecasting.SINGLE_METHODS.index("IMAPA")] = 0.5
    truth[forecasting.SINGLE_METHODS.index("TSB")] = 0.3
    actuals = np.einsum("m,mswh->swh", truth, backtest)
    scale = np.ones((400, 3))
    weights = forecasting.stacked_weights(backtest, actuals, scale)
    np.testing.assert_allclose(weights, truth, atol=0.01)
    # The weights need not sum to one: a batch that is over-forecast is scaled down.
    assert weights.sum() == pytest.approx(0.8, abs=0.01)


def test_stacked_weights_without_evidence_are_the_default_combination() -> None:
    methods = len(forecasting.SINGLE_METHODS)
    backtest = np.ones((methods, 2, 3, 6))
    actuals = np.full((2, 3, 6), np.nan)
    weights = forecasting.stacked_weights(backtest, actuals, np.ones((2, 3)))
    expected = [
        0.25 if m in forecasting.DEFAULT_COMBINATION else 0.0 for m in forecasting.SINGLE_METHODS
    ]
    np.testing.assert_allclose(weights, expected)


def test_a_series_without_evidence_gets_the_batch_weights_on_its_own_forecasts() -> None:
    rng = np.random.default_rng(7)
    histories = {i: rng.poisson(3.0, 36).astype(float) for i in range(5)}
    histories[99] = np.array([0.0, 0.0, 4.0, 0.0])  # too short for any inner window
    batch = forecasting.forecast_batch(histories, h=6)
    short = batch.result(99)
    assert short.method == forecasting.STACKED
    assert all(math.isnan(v) for v in short.scores.values())
    assert np.all(np.isnan(short.backtest_actuals))
    singles = np.stack([batch.result(99, m).forecast for m in forecasting.SINGLE_METHODS])
    weights = np.array([batch.weights[m] for m in forecasting.SINGLE_METHODS])
    np.testing.assert_allclose(short.forecast, weights @ singles)


def test_a_part_younger_than_the_window_gets_its_own_mean_as_window_average() -> None:
    batch = forecasting.forecast_batch({"young": np.array([0.0, 3.0, 0.0, 1.0])}, h=3)
    np.testing.assert_allclose(batch.result("young", "WindowAverage").forecast, [1.0] * 3)


def test_inner_backtest_never_sees_demand_after_its_origin() -> None:
    rng = np.random.default_rng(1)
    base = rng.poisson(2.0, 40).astype(float)
    changed = base.copy()
    changed[-6:] = 500.0  # only the last inner window's test periods differ
    a = forecasting.forecast_batch({"p": base}, h=6)
    b = forecasting.forecast_batch({"p": changed}, h=6)
    # Window 0 starts at the last 6 periods: every method's and fixed combination's forecast
    # there (including the inverse-MSE weights) must be built from the same data in both
    # runs. (The learned combination's weights are fitted to every window of the batch.)
    fixed = [forecasting.CANDIDATES.index(c) for c in forecasting.CANDIDATES[:-1]]
    np.testing.assert_allclose(a.backtest[fixed, 0, 0], b.backtest[fixed, 0, 0])
    np.testing.assert_allclose(a.actuals[0, 0], base[-6:])
    np.testing.assert_allclose(b.actuals[0, 0], changed[-6:])
    assert not np.allclose(a.paths, b.paths)


def test_installed_base_rates_shrink_toward_the_pooled_rate() -> None:
    failures = {("A", "0-1y"): 2.0, ("A", "1-2y"): 0.0, ("B", "0-1y"): 8.0}
    exposure = {("A", "0-1y"): 100.0, ("A", "1-2y"): 100.0, ("B", "0-1y"): 200.0}
    rates = forecasting.installed_base_rates(failures, exposure, prior_exposure=100.0)
    # Pooled 10 / 400 = 0.025, worth 100 unit-periods.
    assert rates[("A", "0-1y")].rate == pytest.approx((2 + 2.5) / 200)
    assert rates[("A", "1-2y")].rate == pytest.approx(2.5 / 200)
    assert rates[("B", "0-1y")].rate == pytest.approx(10.5 / 300)
    assert rates[("B", "0-1y")].failures == 8.0


def test_installed_base_forecast_on_a_hand_computed_example() -> None:
    rates = {
        ("A", "0-1y"): FailureRate(rate=0.0225, failures=2, exposure=100),
        ("A", "1-2y"): 0.0125,
        ("B", "0-1y"): 0.035,
    }
    units = {("A", "0-1y"): 50, ("A", "1-2y"): [40, 60], ("B", "0-1y"): 10, ("C", "0-1y"): 9}
    demand = forecasting.installed_base_forecast(units, rates, {"A": 2.0, "B": 1.0})
    # 50 x 0.0225 x 2 + 40 x 0.0125 x 2 + 10 x 0.035 x 1; model C has no rate.
    np.testing.assert_allclose(demand, [3.6, 4.1])


def test_causal_events_apply_in_order_and_never_go_negative() -> None:
    path = [10.0, 10.0, 10.0, 10.0]
    events = [
        CausalEvent(start=1, end=2, factor=1.5),
        CausalEvent(start=2, end=9, units=-20.0),
        CausalEvent(start=7, end=9, factor=3.0),  # after the path: ignored
    ]
    np.testing.assert_allclose(forecasting.apply_events(path, events), [10, 15, 0, 0])
    assert path == [10.0, 10.0, 10.0, 10.0]


def test_overrides_replace_the_period_value() -> None:
    adjusted = forecasting.apply_overrides([1.0, 2.0, 3.0], {1: 7.0, 5: 9.0})
    np.testing.assert_allclose(adjusted, [1.0, 7.0, 3.0])
