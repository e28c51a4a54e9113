"""Label budgets (SE ∝ 1/√n) and the sampling designs' shares and orders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.estimate.budget import budget_sentence, effective_labels, labels_needed
from core.estimate.design import (
    design_order,
    draw_shares,
    inclusion_probabilities,
    uniform_draw,
    verdict_uncertainty,
)


def test_labels_needed_from_one_over_root_n():
    # ±0.10 on 60 labels -> ±0.05 needs 4x the labels: 240, so 180 more.
    assert labels_needed(0.10, 60, 0.05) == 180
    assert labels_needed(0.05, 60, 0.05) == 0
    assert labels_needed(0.04, 60, 0.05) == 0
    # ±0.07 on 100: 100 * 1.96 = 196 -> 96 more.
    assert labels_needed(0.07, 100, 0.05) == 96
    with pytest.raises(ValueError, match="positive"):
        labels_needed(0.1, 10, 0)


def test_effective_labels_and_sentences():
    assert effective_labels(0.04, 0.02, 60) == pytest.approx(240)
    assert effective_labels(0.02, 0.02, 60) == pytest.approx(60)
    assert math.isinf(effective_labels(0.02, 0.0, 60))
    assert budget_sentence(140, 0.05) == "≈ 140 labels to go for ±0.05"
    assert budget_sentence(0, 0.05) == "enough labels for ±0.05"


def test_shares_mix_in_at_least_a_fifth_uniform():
    shares = draw_shares([0.0, 0.0, 1.0, 3.0])
    assert shares.sum() == pytest.approx(1.0)
    assert shares == pytest.approx([0.05, 0.05, 0.05 + 0.2, 0.05 + 0.6])
    assert draw_shares([0, 0, 0]) == pytest.approx([1 / 3] * 3)
    with pytest.raises(ValueError, match="uniform share"):
        draw_shares([1, 2], uniform_share=0.1)
    assert inclusion_probabilities(np.array([0.05, 0.65]), 2) == pytest.approx([0.1, 1.0])


def test_uniform_order_is_a_seeded_permutation_and_stable():
    items = list(range(1, 501))
    order = design_order(items, seed=3)
    assert sorted(order) == items and order != items
    assert design_order(items, seed=3) == order
    assert design_order(items, seed=4) != order
    # an item keeps its relative place when others are added
    more = design_order([*items, 9999], seed=3)
    assert [i for i in more if i != 9999] == order
    assert 0 < uniform_draw(0, 1) < 1


def test_active_order_first_n_match_inclusion_probabilities():
    # Sequential Poisson sampling: over many seeds, how often an item is among the first n
    # is close to min(1, n p_i).
    rng = np.random.default_rng(0)
    scores = rng.random(200) ** 3
    shares = draw_shares(scores)
    items = list(range(200))
    n = 40
    hits = np.zeros(200)
    seeds = 400
    for seed in range(seeds):
        for item in design_order(items, seed=seed, shares=shares)[:n]:
            hits[item] += 1
    expected = inclusion_probabilities(shares, n)
    assert np.abs(hits / seeds - expected).max() < 0.1
    assert abs((hits / seeds).mean() - expected.mean()) < 0.01


def test_verdict_uncertainty_is_the_spread():
    spread = verdict_uncertainty({1: [1, 1, 1], 2: [1, 0], 3: [1.0]})
    assert spread == {1: 0.0, 2: 0.5, 3: 0.0}


def test_queue_design_orders():
    from core.queues import QueueError, design_shares, judge_uncertainty, order_items
    items = list(range(10, 30))
    uniform = design_shares(items, order="estimation", uncertainty={10: 5.0})
    assert list(uniform.values()) == pytest.approx([1 / 20] * 20)
    scores = judge_uncertainty({10: {"c": ["a", "b"]}, 11: {"c": ["a", "a", "a"]}})
    assert scores == {10: 1.0, 11: 0.0}
    active = design_shares(items, order="active", uncertainty=scores)
    assert active[10] == pytest.approx(0.2 / 20 + 0.8) and active[11] == pytest.approx(0.01)
    assert order_items(items, order="estimation", seed=1) == design_order(items, seed=1)
    assert order_items(items, order="active", seed=1, shares=active) == design_order(
        items, seed=1, shares=[active[i] for i in items])
    with pytest.raises(QueueError, match="no sampling design"):
        design_shares(items, order="random")


def test_recorded_active_shares_are_kept_and_added_items_put_on_their_scale():
    from core.queues import design_shares
    recorded = {10: 0.5, 11: 0.3, 12: 0.2}  # an active design under way over three items
    scores = {10: 1.0, 11: 0.0, 12: 0.5, 13: 2.0, 14: 0.0}  # the judges' spread today
    shares = design_shares([10, 11, 12, 13, 14], order="active", uncertainty=scores,
                           recorded=recorded)
    # By hand: fresh shares 0.04 + 0.8 * s / 3.5; the recorded items' fresh shares sum to
    # 0.12 + 0.8 * 1.5 / 3.5, their recorded ones to 1, so new items scale by 1 / that.
    fresh = {i: 0.2 / 5 + 0.8 * s / 3.5 for i, s in scores.items()}
    scale = 1.0 / (fresh[10] + fresh[11] + fresh[12])
    sizes = {10: 0.5, 11: 0.3, 12: 0.2, 13: fresh[13] * scale, 14: fresh[14] * scale}
    total = sum(sizes.values())
    assert shares == pytest.approx({i: v / total for i, v in sizes.items()}, abs=1e-12)
    # Equal recorded shares are the estimation design's: switching to active starts afresh.
    restart = design_shares([10, 11, 12, 13, 14], order="active", uncertainty=scores,
                            recorded={10: 1 / 3, 11: 1 / 3, 12: 1 / 3})
    assert restart == pytest.approx(fresh, abs=1e-12)
    # Under estimation the recorded shares never matter (1/N; the order is by draw alone).
    assert design_shares([10, 11, 12, 13], order="estimation", recorded=recorded) == \
        pytest.approx({i: 0.25 for i in (10, 11, 12, 13)})
