"""Batch-ranking agreement against independent implementations: scipy's Kendall τ and
Spearman ρ, rapidfuzz's Levenshtein distance, and hand-computed means, Borda orders and
parse errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein
from scipy.stats import kendalltau, spearmanr

from core.metrics.batch_ranking import (
    RANKING_METRICS,
    borda_consensus,
    kendall_tau_b,
    normalized_levenshtein,
    ranking_agreement,
    ranks,
    spearman,
)
from core.rank_order import RankingError


def _random_orders(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 10))
        yield tuple(int(x) + 1 for x in rng.permutation(n)), tuple(int(x) + 1
                                                                    for x in rng.permutation(n))


@pytest.mark.parametrize("seed", range(5))
def test_per_item_metrics_equal_scipy_and_rapidfuzz(seed):
    for a, b in _random_orders(seed, 60):
        assert kendall_tau_b(a, b) == pytest.approx(kendalltau(ranks(a), ranks(b)).statistic,
                                                    abs=1e-12)
        assert spearman(a, b) == pytest.approx(spearmanr(ranks(a), ranks(b)).statistic,
                                               abs=1e-12)
        assert normalized_levenshtein(a, b) == pytest.approx(
            Levenshtein.distance(list(a), list(b)) / len(a), abs=1e-12)


def test_hand_values():
    # (2, 1, 3): response 2 best; its ranks by response are [2, 1, 3].
    assert list(ranks((2, 1, 3))) == [2, 1, 3] and list(ranks((3, 1, 2))) == [2, 3, 1]
    assert kendall_tau_b((1, 2, 3, 4), (4, 3, 2, 1)) == -1.0
    assert spearman((1, 2, 3), (2, 1, 3)) == pytest.approx(0.5)  # 1 - 6 * 2 / 24
    # Moving response 1 from first to last: delete it in front, insert it at the end.
    assert normalized_levenshtein((1, 2, 3), (2, 3, 1)) == pytest.approx(2 / 3)
    assert normalized_levenshtein((1, 2, 3, 4), (2, 1, 3, 4)) == 0.5  # two substitutions


def test_agreement_means_and_intervals_over_items():
    humans = [(1, 2, 3), (2, 1, 3), (3, 2, 1), None]
    judge = [(1, 2, 3), (1, 2, 3), (1, 2, 3), (2, 1, 3)]
    result = ranking_agreement(humans, judge, n_resamples=2000)
    # By hand, per item: τ = 1, 1/3, -1; ρ = 1, 0.5, -1; top-1 = 1, 0, 0; Lev = 0, 2/3, 2/3.
    assert result.kendall_tau_b.value == pytest.approx((1 + 1 / 3 - 1) / 3)
    assert result.spearman.value == pytest.approx(0.5 / 3)
    assert result.top1_agreement.value == pytest.approx(1 / 3)
    assert result.normalized_levenshtein.value == pytest.approx(4 / 9)
    assert {getattr(result, name).n for name in RANKING_METRICS} == {3}
    low, high = result.kendall_tau_b.ci95
    assert -1 <= low < result.kendall_tau_b.value < high <= 1
    assert list(result.to_dict()) == list(RANKING_METRICS)
    assert ranking_agreement(humans, judge, n_resamples=0).spearman.ci95 is None
    none = ranking_agreement([None, (1, 2)], [(1, 2), None])
    assert none.spearman.value is None and "no item was ranked by both" in \
        none.spearman.undefined_reason
    with pytest.raises(RankingError, match="different lengths"):
        ranking_agreement([(1, 2)], [(1, 2, 3)])


def test_borda_consensus_and_its_tie_rule():
    assert borda_consensus([(2, 1, 3), (2, 3, 1), (1, 2, 3)]) == (2, 1, 3)  # points 4, 5, 0
    # A tie in points (responses 1 and 3: 4 each) goes to the one ranked first more often ...
    assert borda_consensus([(1, 2, 3), (3, 1, 2), (3, 1, 2)]) == (3, 1, 2)
    # ... and a full tie to the earlier response.
    assert borda_consensus([(1, 2), (2, 1)]) == (1, 2)
    assert borda_consensus([]) is None
    with pytest.raises(RankingError):
        borda_consensus([(1, 2), (1, 2, 3)])


def test_borda_ranks_every_permutation_profile_consistently():
    # Unanimity: all raters giving one order yields that order, for every order of 4.
    for order in itertools.permutations(range(1, 5)):
        assert borda_consensus([order] * 3) == order
