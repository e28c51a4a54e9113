"""A ranking dimension through compare_dimension (issue 18): every rater pair carries mean
per-item Kendall τ-b, Spearman ρ, top-1 agreement and normalised Levenshtein distance with
bootstrap CIs, the human consensus is the Borda order, and the label-scale parts are empty.
Expected values are hand-computed (tests/ranking_data.py) or recomputed with scipy and
rapidfuzz, never read from Docket's output."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from core.metrics import MetricsInputError, Ratings, compare_dimension, ratings_from_columns
from core.metrics.batch_ranking import (
    agreement_of_codes,
    code_order,
    encode_orders,
    is_order_code,
    order_code,
)
from core.metrics.compare import with_derived_raters
from core.metrics.comparison import Comparison
from core.metrics.consensus import Jury, human_consensus
from core.metrics.paired import score_in_sequence
from core.metrics.registry import RANKING_REGISTRY, metric_definition, metric_names_for
from core.metrics.report import format_comparison
from core.metrics.slices import slice_agreement
from core.rank_order import format_order
from tests.ranking_data import (
    CONSENSUS,
    HAND_BORDA,
    HAND_EXPECTED,
    HAND_RECORDS,
    METRICS,
    RANKING,
    oracle,
    oracle_pairs,
    orders_by_rater,
    random_records,
    rank_vector,
)

DIMENSION = RANKING.dimension("ranking")


def ratings_of(records, **extra) -> Ratings:
    """The records' orders as Ratings built from label text, as storage stores them."""
    raters = {name: orders for name, orders in orders_by_rater(records).items()
              if name != CONSENSUS}
    items = [r["id"] for r in records]
    names = sorted(r for r in raters if r.startswith("human:")) + sorted(
        r for r in raters if r.startswith("judge:"))
    columns = {name: [format_order(raters[name][i]) if i in raters[name] else None
                      for i in items] for name in names}
    return ratings_from_columns(DIMENSION, items, columns,
                                groups=[r.get("group") for r in records],
                                models=[r.get("model") for r in records], **extra)


def test_order_codes_round_trip_and_refuse_what_is_no_order():
    assert order_code((2, 1, 4, 3)) == 2143 and code_order(2143.0) == (2, 1, 4, 3)
    assert order_code(tuple(range(9, 0, -1))) == 987654321  # exact in a float64
    assert [is_order_code(c) for c in (12, 21, 2143, 11, 1, 124, 12.5, 0)] == [
        True, True, True, False, False, False, False, False]
    assert np.isnan(encode_orders([None, (1, 2)])[0])


def test_hand_fixture_pairs_consensus_and_empty_label_parts():
    document = compare_dimension(ratings_of(HAND_RECORDS), n_resamples=200, seed=1)

    assert document.scale == "ranking" and document.labels == () and document.groups == ()
    assert document.raters == ("human:ann", "human:bob", CONSENSUS, "judge:gpt")
    assert (document.bias, document.ranking, document.preference) == (None, None, None)
    assert document.consensus is not None and (document.consensus.method,
                                                document.consensus.items,
                                                document.consensus.ties) == ("borda", 4, 0)
    for (a, b), expected in HAND_EXPECTED.items():
        pair = document.pair(a, b)
        assert pair is not None and pair.n == expected["n"] and pair.confusion_matrix is None
        for metric in METRICS:
            assert pair.value(metric) == pytest.approx(expected[metric]), (a, b, metric)
            low, high = pair.ci95(metric)
            assert low <= pair.value(metric) <= high, (a, b, metric)
    consensus = human_consensus(ratings_of(HAND_RECORDS))
    assert [format_order(code_order(c)) for c in consensus.values] == [
        format_order(HAND_BORDA[i]) for i in ("i1", "i2", "i3", "i4")]


def test_json_pairs_carry_the_four_metrics_each_with_its_ci():
    data = compare_dimension(ratings_of(HAND_RECORDS), n_resamples=100).to_dict()

    assert data["scale"] == "ranking" and data["consensus"]["method"] == "borda"
    for pair in data["pairs"]:
        assert set(pair) == {"a", "b", "n", *METRICS, "ci95", "undefined"}
        assert list(pair["ci95"]) == list(METRICS)
        assert pair["undefined"] == {}
    # The typed form reads its JSON back unchanged.
    assert Comparison.from_dict(data).to_dict() == data


@pytest.mark.parametrize("seed", range(3))
def test_every_pair_equals_scipy_on_random_orders(seed):
    records = random_records(seed, 60, ["ann", "bob", "cy"], ["gpt", "llama"])
    document = compare_dimension(ratings_of(records))
    expected = oracle_pairs(records)

    assert [(p.a, p.b) for p in document.pairs] == list(expected)
    for pair in document.pairs:
        wanted = expected[(pair.a, pair.b)]
        assert pair.n == wanted["n"]
        for metric in METRICS:
            assert pair.value(metric) == pytest.approx(wanted[metric], abs=1e-12), (
                pair.a, pair.b, metric)


def test_a_pair_without_common_items_is_undefined_with_its_reason():
    records = [{"id": "x", "responses": ["a", "b"], "humans": {"ann": {"ranking": [1, 2]}},
                "judges": {}},
               {"id": "y", "responses": ["a", "b"], "humans": {"bob": {"ranking": [2, 1]}},
                "judges": {}}]
    document = compare_dimension(ratings_of(records), n_resamples=50)
    pair = document.pair("human:ann", "human:bob")

    assert pair.n == 0
    assert pair.reasons() == dict.fromkeys(METRICS, "no item was ranked by both raters")
    assert "no item was ranked by both raters" in format_comparison(document)


def test_bootstrap_interval_equals_a_naive_item_resampling_loop():
    records = random_records(7, 2000, ["ann"], ["gpt"], missing=0.0)
    ratings = ratings_of(records)
    a, b = ratings.column("human:ann"), ratings.column("judge:gpt")
    fast = agreement_of_codes(a, b, n_resamples=2000, rng=np.random.default_rng(3))
    # Naive: per-item values from scipy, items drawn with replacement, mean per resample.
    per_item = np.array([
        kendalltau(rank_vector(code_order(x)), rank_vector(code_order(y))).statistic
        for x, y in zip(a, b, strict=True)])
    rng = np.random.default_rng(11)
    means = [per_item[rng.integers(0, len(per_item), len(per_item))].mean()
             for _ in range(2000)]
    low, high = np.percentile(means, [2.5, 97.5])
    assert fast.kendall_tau_b.ci95 == pytest.approx((low, high), abs=0.005)


def test_what_a_ranking_refuses():
    records = random_records(3, 30, ["ann", "bob"], ["gpt", "llama", "qwen"])
    ratings = ratings_of(records)
    # Juries combine labels (storage refuses to store one on a ranking project, too).
    for jury in (("gpt", "llama"), Jury(("gpt", "llama"), "majority")):
        with pytest.raises(MetricsInputError, match="juries combine the labels"):
            compare_dimension(ratings, juries={"panel": jury})
    with pytest.raises(MetricsInputError, match=r"cannot binarise .* it is a ranking"):
        compare_dimension(ratings, binarize_at="2")
    with pytest.raises(MetricsInputError, match="orders, not label codes"):
        _ = ratings.codes
    with pytest.raises(MetricsInputError, match="must be order codes"):
        Ratings(DIMENSION, ("human:ann",), np.array([[11.0]]), np.array(["x"], dtype=object))
    with pytest.raises(MetricsInputError, match=r"rater 'human:ann'.*ranking"):
        ratings_from_columns(DIMENSION, ["x"], {"human:ann": ["1,1,2"]})
    # Label-scale code handed a ranking (the prompt lab's version scores) refuses it by name.
    with pytest.raises(MetricsInputError, match=r"compared with core\.metrics\.batch_ranking"):
        score_in_sequence(ratings, ["judge:gpt"])


def test_slices_per_group_equal_the_oracle_on_each_group():
    records = random_records(5, 45, ["ann", "bob"], ["gpt"])
    ratings = ratings_of(records)
    derived, _, _ = with_derived_raters(ratings, {})
    entries = slice_agreement(derived, by="group", reference=CONSENSUS, raters=["judge:gpt"],
                              n_resamples=50)
    raters = orders_by_rater(records)
    assert [e.slice for e in entries] == ["g0", "g1", "g2"]
    for entry in entries:
        items = {r["id"] for r in records if r["group"] == entry.slice}
        expected = oracle({i: o for i, o in raters[CONSENSUS].items() if i in items},
                          raters["judge:gpt"])
        assert entry.n == expected["n"]
        for metric in METRICS:
            assert entry.value(metric) == pytest.approx(expected[metric]), (entry.slice, metric)


def test_registry_and_text_report_name_the_ranking_metrics():
    assert metric_names_for("ranking") == list(METRICS) == list(RANKING_REGISTRY)
    assert metric_definition("kendall_tau_b", "ranking").definition.startswith("Per item")
    assert metric_definition("kendall_tau_b").scales == ("ordinal",)  # the label-scale one
    assert metric_definition("top1_agreement").bounds == (0.0, 1.0)
    text = format_comparison(compare_dimension(ratings_of(HAND_RECORDS)), "p")
    assert "tau_b" in text and "top1" in text and "lev" in text and "(lower is better)" in text
    line = next(row for row in text.splitlines() if row.split()[:2] == [CONSENSUS, "judge:gpt"])
    assert line.split()[2:] == ["4", "0.167", "0.125", "0.500", "0.333"]


def test_spearman_of_one_item_is_scipys():
    # The smallest case: two orders of four responses.
    a, b = (2, 1, 4, 3), (1, 2, 3, 4)
    found = agreement_of_codes(encode_orders([a]), encode_orders([b]), n_resamples=0)
    assert found.spearman.value == pytest.approx(spearmanr(rank_vector(a), rank_vector(b)).statistic)
    assert found.kendall_tau_b.value == pytest.approx(1 / 3)  # 4 concordant, 2 discordant of 6
