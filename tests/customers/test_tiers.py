"""The scoring maths of the value tiers (`customers.tiers`): ranks, weights, cut-offs, ties."""

from decimal import Decimal

import pytest

from aftersales.customers.tiers import (
    Activity,
    Cutoffs,
    Weights,
    percentile_cutoffs,
    percentile_ranks,
    rank_table,
    score_one,
    score_population,
    tier_for,
    weighted_score,
)

D = Decimal
EQUAL = Weights(purchase=D("0.5"), usage=D("0.3"), feedback=D("0.2"))


class TestPercentileRanks:
    def test_lowest_ranks_0_highest_1_and_the_rest_evenly(self) -> None:
        assert percentile_ranks([10, 40, 20, 30, 50]) == [
            D("0"),
            D("0.75"),
            D("0.25"),
            D("0.5"),
            D("1"),
        ]

    def test_a_heavy_tail_does_not_squash_the_others(self) -> None:
        # One project buyer with 1,000x the amount: the others keep their evenly spread ranks.
        ranks = percentile_ranks([D("1000"), D("2000"), D("3000"), D("3000000")])

        assert ranks == [D("0"), D("0.333333"), D("0.666667"), D("1")]

    def test_equal_values_rank_equally_at_their_middle(self) -> None:
        ranks = percentile_ranks([5, 7, 7, 9])

        assert ranks[1] == ranks[2] == D("0.5")
        assert (ranks[0], ranks[3]) == (D("0"), D("1"))

    def test_nothing_in_a_dimension_ranks_0_however_common(self) -> None:
        ranks = percentile_ranks([0, 0, 0, 0, 3, 8])

        assert ranks[:4] == [D("0")] * 4
        # Above the four customers with nothing, and below the one with more.
        assert ranks[4] == D("0.8")
        assert ranks[5] == D("1")

    def test_a_single_customer_with_something_ranks_1(self) -> None:
        assert percentile_ranks([D("99")]) == [D("1")]
        assert percentile_ranks([]) == []


class TestWeightedScore:
    def test_weights_multiply_the_ranks(self) -> None:
        assert weighted_score([D("1"), D("0"), D("0")], EQUAL) == D("0.5")
        assert weighted_score([D("0"), D("1"), D("1")], EQUAL) == D("0.5")
        assert weighted_score([D("0.5"), D("0.5"), D("0.5")], EQUAL) == D("0.5")
        assert weighted_score([D("1"), D("1"), D("1")], EQUAL) == D("1")

    def test_purchase_only_weights_ignore_usage_and_feedback(self) -> None:
        purchase_only = Weights(purchase=D("1"), usage=D("0"), feedback=D("0"))

        assert weighted_score([D("0.25"), D("1"), D("1")], purchase_only) == D("0.25")


class TestCutoffs:
    def test_percentile_shares_pick_the_top_and_bottom(self) -> None:
        scores = [D(n) / 100 for n in range(100)]  # 0.00 .. 0.99

        cutoffs = percentile_cutoffs(scores, vip_share=D("0.28"), low_share=D("0.30"))

        assert cutoffs == Cutoffs(vip=D("0.72"), low=D("0.29"))
        tiers = [tier_for(s, cutoffs) for s in scores]
        assert (tiers.count("vip"), tiers.count("regular"), tiers.count("low")) == (28, 42, 30)

    def test_ties_at_a_cut_off_share_the_tier(self) -> None:
        scores = [D("0.1"), D("0.2"), D("0.5"), D("0.5"), D("0.5"), D("0.9")]

        cutoffs = percentile_cutoffs(scores, vip_share=D("0.34"), low_share=D("0.17"))

        # Two VIP places, but the second one is a three-way tie: all three are VIP.
        assert cutoffs.vip == D("0.5")
        assert [tier_for(s, cutoffs) for s in scores] == [
            "low",
            "regular",
            "vip",
            "vip",
            "vip",
            "vip",
        ]

    def test_a_zero_share_puts_nobody_in_the_tier(self) -> None:
        cutoffs = percentile_cutoffs([D("0.1"), D("0.9")], vip_share=D("0"), low_share=D("0"))

        assert cutoffs == Cutoffs(vip=None, low=None)
        assert tier_for(D("0.9"), cutoffs) == "regular"

    def test_everyone_without_activity_is_low_not_vip(self) -> None:
        scores = [D("0")] * 10

        cutoffs = percentile_cutoffs(scores, vip_share=D("0.28"), low_share=D("0.30"))

        assert {tier_for(s, cutoffs) for s in scores} == {"low"}

    def test_thresholds_are_inclusive(self) -> None:
        cutoffs = Cutoffs(vip=D("0.7"), low=D("0.2"))

        assert tier_for(D("0.7"), cutoffs) == "vip"
        assert tier_for(D("0.699999"), cutoffs) == "regular"
        assert tier_for(D("0.2"), cutoffs) == "low"
        assert tier_for(D("0.200001"), cutoffs) == "regular"


class TestScorePopulation:
    def test_scores_and_tiers_every_customer(self) -> None:
        activities = {
            1: Activity(purchase=D("20000"), usage=6, feedback=2),
            2: Activity(purchase=D("8000"), usage=2, feedback=0),
            3: Activity(purchase=D("3000"), usage=1, feedback=0),
            4: Activity(purchase=D("500"), usage=0, feedback=0),
        }

        population = score_population(
            activities, weights=EQUAL, percentile=True, vip_share=D("0.25"), low_share=D("0.25")
        )

        scored = population.scored
        assert scored[1].ranks == (D("1"), D("1"), D("1"))
        assert scored[1].score == D("1")
        assert scored[4].score == D("0")
        assert [scored[i].tier for i in (1, 2, 3, 4)] == ["vip", "regular", "regular", "low"]
        assert population.cutoffs == Cutoffs(vip=D("1"), low=D("0"))

    def test_threshold_mode_uses_the_fixed_cut_offs(self) -> None:
        activities = {1: Activity(purchase=D("100")), 2: Activity(purchase=D("200"))}

        population = score_population(
            activities,
            weights=Weights(purchase=D("1"), usage=D("0"), feedback=D("0")),
            percentile=False,
            thresholds=Cutoffs(vip=D("0.9"), low=D("0.1")),
        )

        assert population.cutoffs == Cutoffs(vip=D("0.9"), low=D("0.1"))
        assert (population.scored[1].tier, population.scored[2].tier) == ("low", "vip")


class TestRankTable:
    def test_ranks_a_known_value_as_one_more_customer(self) -> None:
        table = rank_table([0, 0, 10, 20, 30])

        assert table.rank(0) == D("0")
        # Below it: two zeros and 10; equal: 20 and itself, so 3.5 of the 5 others.
        assert table.rank(20) == D("0.7")
        assert table.rank(1000) == D("1")

    def test_interpolates_between_points_when_thinned(self) -> None:
        values = list(range(1, 10001))
        exact = rank_table(values)
        thin = rank_table(values, max_knots=50)

        assert len(thin.values) == 50
        for probe in (17, 2500, 7777):
            assert abs(exact.rank(probe) - thin.rank(probe)) < D("0.001")

    def test_survives_a_round_trip_through_json(self) -> None:
        table = rank_table([D("3999.00"), D("12999.50"), 0])

        assert type(table).from_json(table.as_json()) == table


class TestScoreOne:
    def test_a_purchase_moves_only_the_purchase_rank(self) -> None:
        activities = {
            i: Activity(purchase=D(1000 * i), usage=i % 4, feedback=i % 2) for i in range(1, 41)
        }
        population = score_population(
            activities, weights=EQUAL, percentile=True, vip_share=D("0.28"), low_share=D("0.3")
        )
        before = population.scored[5]
        bought = Activity(purchase=D("50000"), usage=activities[5].usage, feedback=1)

        after = score_one(
            bought,
            weights=EQUAL,
            tables=population.tables,
            cutoffs=population.cutoffs,
            previous=(activities[5], before.ranks),
        )

        assert after.ranks[0] == D("1")
        assert after.ranks[1] == before.ranks[1]
        assert after.ranks[2] == before.ranks[2]
        assert after.score > before.score

    def test_unchanged_values_give_the_same_score_and_tier(self) -> None:
        activities = {i: Activity(purchase=D(i * 7 % 13), usage=i % 5) for i in range(1, 30)}
        population = score_population(
            activities, weights=EQUAL, percentile=True, vip_share=D("0.28"), low_share=D("0.3")
        )

        for pk, result in population.scored.items():
            again = score_one(
                activities[pk],
                weights=EQUAL,
                tables=population.tables,
                cutoffs=population.cutoffs,
                previous=(activities[pk], result.ranks),
            )
            assert again == result

    @pytest.mark.parametrize("purchase", [D("0"), D("1"), D("6"), D("12"), D("100")])
    def test_a_new_customer_ranks_close_to_the_full_run(self, purchase: Decimal) -> None:
        others = {i: Activity(purchase=D(i % 13)) for i in range(1, 200)}
        population = score_population(
            others, weights=EQUAL, percentile=True, vip_share=D("0.28"), low_share=D("0.3")
        )
        joined = score_population(
            {**others, 999: Activity(purchase=purchase)},
            weights=EQUAL,
            percentile=True,
            vip_share=D("0.28"),
            low_share=D("0.3"),
        )

        alone = score_one(
            Activity(purchase=purchase),
            weights=EQUAL,
            tables=population.tables,
            cutoffs=population.cutoffs,
        )

        assert abs(alone.ranks[0] - joined.scored[999].ranks[0]) < D("0.01")
