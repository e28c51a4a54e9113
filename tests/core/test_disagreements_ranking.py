"""Disagreements on a ranking dimension, by hand: two orders disagree when their first
responses differ or their Kendall τ is below 0.5; each row shows every annotator's order, the
Borda consensus and each judge's order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from core.disagreements import (
    BOTH,
    HUMANS_SPLIT,
    JUDGE_VS_HUMANS,
    RANKING_MIN_TAU,
    SAMPLES_SPLIT,
    find_disagreements,
    order_agreement,
    sort_disagreements,
)
from core.metrics.batch_ranking import encode_orders
from tests.core.metrics.test_ranking_compare import ratings_of
from tests.ranking_data import HAND_RECORDS, rank_vector


def rows_by_item(frame):
    return {row["item"]: row for row in frame.to_dict("records")}


def test_hand_fixture_rows_orders_and_severities():
    frame = find_disagreements(ratings_of(HAND_RECORDS))
    rows = rows_by_item(frame)

    # i1: everyone gives (1,2,3). i2: ann and bob differ first; gpt reverses the consensus.
    # i3: ann and bob both put 3 first but τ = 1/3 < 0.5; gpt = consensus. i4: ann alone,
    # gpt puts 2 first against her 1.
    assert set(rows) == {"i2", "i3", "i4"}
    i2, i3, i4 = rows["i2"], rows["i3"], rows["i4"]
    assert (i2["kind"], i2["consensus"], i2["judge:gpt"]) == (BOTH, "1,2,3", "3,2,1")
    assert i2["human labels"] == "ann: 2,1,3 · bob: 1,2,3"
    assert (i2["distance"], i2["judges_against"], i2["against"]) == (2.0, 1, "gpt")
    assert i2["human_split"] == pytest.approx(2 / 3)  # 1 − τ(ann, bob) = 1 − 1/3
    assert (i3["kind"], i3["consensus"], i3["judges_against"]) == (HUMANS_SPLIT, "3,1,2", 0)
    assert i3["distance"] == 0 and i3["human_split"] == pytest.approx(2 / 3)
    assert (i4["kind"], i4["consensus"], i4["humans"]) == (JUDGE_VS_HUMANS, "1,3,2", 1)
    assert i4["distance"] == pytest.approx(4 / 3) and i4["human_split"] == 0  # τ = −1/3
    assert list(sort_disagreements(frame)["item"]) == ["i2", "i4", "i3"]
    assert list(sort_disagreements(frame, "human_split")["item"]) == ["i2", "i3", "i4"]


def test_two_orders_disagree_by_first_response_or_tau_below_the_threshold():
    pairs = [((1, 2, 3, 4), (1, 2, 4, 3)),   # one swap below the top: τ = 2/3, agree
             ((1, 2, 3, 4), (2, 1, 3, 4)),   # another first response
             ((1, 2, 3, 4), (1, 3, 4, 2)),   # same first, τ = 1/3
             ((1, 2, 3, 4, 5), (1, 2, 5, 4, 3))]  # same first, τ = 0.4
    tau, differ = order_agreement(encode_orders([a for a, _ in pairs]),
                                  encode_orders([b for _, b in pairs]))
    expected = [kendalltau(rank_vector(a), rank_vector(b)).statistic for a, b in pairs]
    assert tau == pytest.approx(expected)
    assert differ.tolist() == [False, True, True, True] and RANKING_MIN_TAU == 0.5
    tau, differ = order_agreement(np.array([np.nan, 12.0]), np.array([12.0, np.nan]))
    assert np.isnan(tau).all() and not differ.any()


def test_a_judges_samples_that_disagree_list_the_item():
    ratings = ratings_of(HAND_RECORDS[:1])  # i1: everyone agrees
    samples = {"judge:gpt": encode_orders([(1, 2, 3), (3, 2, 1)]).reshape(1, 2)}
    (row,) = find_disagreements(ratings, samples=samples).to_dict("records")
    assert (row["kind"], row["samples split"]) == (SAMPLES_SPLIT, "gpt")
    assert row["samples_split"] == pytest.approx(2.0)  # 1 − τ of a reversed order
    assert math.isnan(find_disagreements(ratings_of(HAND_RECORDS)).set_index("item")
                      .loc["i2", "samples_split"])
