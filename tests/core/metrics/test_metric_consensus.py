"""Human consensus, juries, the binarised view, swapped judges: small hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics import MetricsInputError, binarize, human_consensus, jury_verdict, ratings_from_columns
from core.metrics.consensus import majority, mean_score, median_label
from core.metrics.views import align_swapped, is_preference, positive_label, swapped_pairs
from core.schema import Dimension, Label
from core.templates import TEMPLATES

NAN = np.nan
CORRECT = TEMPLATES["correctness"].dimension("correct")
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")  # ordinal 1-5
PREFERENCE = TEMPLATES["pairwise"].dimension("preference")  # A / B / tie
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)


def codes(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=float)


def test_majority_reports_ties_and_leaves_them_out():
    votes = codes([[0, 0, 1], [0, 1, NAN], [1, NAN, NAN], [NAN, NAN, NAN], [0, 1, 2], [2, 2, 1]])
    result = majority(votes, 3)
    assert np.array_equal(result.values, [0, NAN, 1, NAN, NAN, 2], equal_nan=True)
    assert (result.items, result.ties) == (3, 2)  # item 4 has no labels: neither value nor tie


def test_median_of_an_even_count_with_different_middles_is_a_tie():
    votes = codes([[0, 2, 4], [1, 2, NAN], [3, 3, NAN], [0, 1, 2], [1, 3, 3]])
    result = median_label(votes)
    assert np.array_equal(result.values, [2, NAN, 3, 1, 3], equal_nan=True)
    assert (result.items, result.ties) == (4, 1)
    four = median_label(codes([[1, 2, 2, 4], [1, 2, 3, 4]]))
    assert np.array_equal(four.values, [2, NAN], equal_nan=True) and four.ties == 1


def test_mean_uses_the_available_scores():
    result = mean_score(codes([[1, 2, NAN], [NAN, NAN, NAN], [4, 4.5, 5]]))
    assert np.array_equal(result.values, [1.5, NAN, 4.5], equal_nan=True)
    assert (result.items, result.ties) == (2, 0)


def test_human_consensus_per_scale():
    ratings = ratings_from_columns(ALIGNMENT, ["i1", "i2", "i3"], {
        "human:a": ["2", "3", "5"], "human:b": ["2", "4", None], "judge:j": ["1", "1", "1"]})
    consensus = human_consensus(ratings)  # ordinal: majority, not median
    assert np.array_equal(consensus.values, [1, NAN, 4], equal_nan=True)
    assert (consensus.method, consensus.ties) == ("majority", 1)
    scores = ratings_from_columns(SCORE, ["i1", "i2"], {"human:a": ["2", "7"], "human:b": ["3", None]})
    assert np.array_equal(human_consensus(scores).values, [2.5, 7.0])


def test_an_annotator_called_consensus_is_refused():
    ratings = ratings_from_columns(CORRECT, ["i1"], {"human:consensus": ["correct"]})
    with pytest.raises(MetricsInputError, match="annotator named 'consensus'"):
        human_consensus(ratings)


def test_jury_by_scale_and_membership_errors():
    nominal = ratings_from_columns(CORRECT, ["i1", "i2", "i3"], {
        "judge:x": ["correct", "correct", "incorrect"], "judge:y": ["incorrect", "correct", None],
        "judge:z": ["correct", "incorrect", None]})
    verdict = jury_verdict(nominal, ["x", "y", "z"])
    assert np.array_equal(verdict.values, [0, 0, 1])
    assert (verdict.method, verdict.items, verdict.ties) == ("majority", 3, 0)
    pair = jury_verdict(nominal, ["judge:x", "judge:y"])
    assert np.array_equal(pair.values, [NAN, 0, 1], equal_nan=True) and pair.ties == 1
    ordinal = ratings_from_columns(ALIGNMENT, ["i1"], {"judge:x": ["1"], "judge:y": ["4"]})
    assert jury_verdict(ordinal, ["x", "y"]).method == "median"
    with pytest.raises(MetricsInputError, match=r"unknown judge 'w' in jury \(judges: x, y, z\)"):
        jury_verdict(nominal, ["x", "w"])
    with pytest.raises(MetricsInputError, match="at least two different judges"):
        jury_verdict(nominal, ["x", "judge:x"])


def test_binarize_ordinal_puts_the_positive_side_first():
    ratings = ratings_from_columns(ALIGNMENT, ["i1", "i2", "i3", "i4"], {
        "human:a": ["1", "3", "4", None], "judge:j": ["5", "2", "3", "3"]})
    view = binarize(ratings, "3 · Partial")  # any spelling the dimension accepts
    assert view.dimension.scale == "nominal"
    assert view.dimension.label_values == (">=3", "<3")
    assert positive_label(view.dimension) == ">=3"
    assert np.array_equal(view.values, codes([[1, 0], [0, 1], [0, 0], [NAN, 0]]), equal_nan=True)


def test_binarize_interval_and_errors():
    ratings = ratings_from_columns(SCORE, ["i1", "i2"], {"human:a": ["2.5", "7"]})
    assert np.array_equal(binarize(ratings, "5").values, [[1.0], [0.0]])
    with pytest.raises(MetricsInputError, match="give a number"):
        binarize(ratings, "high")
    nominal = ratings_from_columns(CORRECT, ["i1"], {"human:a": ["correct"]})
    with pytest.raises(MetricsInputError, match="it is nominal"):
        binarize(nominal, "correct")
    ordinal = ratings_from_columns(ALIGNMENT, ["i1"], {"human:a": ["1"]})
    with pytest.raises(MetricsInputError, match="lowest label"):
        binarize(ordinal, "1")
    with pytest.raises(MetricsInputError, match="unknown label '9'"):
        binarize(ordinal, "9")


def test_positive_labels():
    assert positive_label(CORRECT) == "correct"
    assert positive_label(ALIGNMENT) == "5"
    assert positive_label(PREFERENCE) is None
    assert positive_label(SCORE) is None


def test_swapped_judges_are_flipped_on_preference_dimensions_only():
    ratings = ratings_from_columns(PREFERENCE, ["i1", "i2", "i3"], {
        "judge:g": ["A", "B", "tie"], "judge:g@swapped": ["B", "B", "tie"],
        "judge:lonely@swapped": ["A", None, None]})
    assert is_preference(PREFERENCE) and not is_preference(CORRECT)
    assert swapped_pairs(ratings) == [("judge:g", "judge:g@swapped")]
    aligned = align_swapped(ratings)
    a, b, tie = (PREFERENCE.rank(v) for v in ("A", "B", "tie"))
    assert np.array_equal(aligned.column("judge:g@swapped"), [a, a, tie])
    assert np.array_equal(aligned.column("judge:lonely@swapped"), [b, NAN, NAN], equal_nan=True)
    assert np.array_equal(aligned.column("judge:g"), ratings.column("judge:g"))
    other = ratings_from_columns(CORRECT, ["i1"], {"judge:g@swapped": ["correct"]})
    assert align_swapped(other) is other


def test_unknown_labels_and_bad_shapes_are_reported():
    with pytest.raises(MetricsInputError, match=r"rater 'judge:j': unknown label 'maybe'"):
        ratings_from_columns(CORRECT, ["i1"], {"judge:j": ["maybe"]})
    with pytest.raises(MetricsInputError, match="rater 'judge:j' has 1 labels for 2 items"):
        ratings_from_columns(CORRECT, ["i1", "i2"], {"judge:j": ["correct"]})
    with pytest.raises(MetricsInputError, match="must start with one of"):
        ratings_from_columns(CORRECT, ["i1"], {"gpt": ["correct"]})
    with pytest.raises(MetricsInputError, match="is not a number"):
        ratings_from_columns(SCORE, ["i1"], {"human:a": ["high"]})


def test_categories_keep_models_sorted_with_none_for_missing():
    ratings = ratings_from_columns(CORRECT, ["i1", "i2", "i3"], {"judge:j": ["correct"] * 3},
                                   models=["zeta", None, "alpha"])
    assert ratings.models.names == ("alpha", "zeta")
    assert ratings.models.values() == ["zeta", None, "alpha"]
    assert ratings.groups.names == () and (ratings.groups.codes == -1).all()


def test_label_codes_are_validated():
    dimension = Dimension("d", "nominal", "D", labels=(Label("x", "x"), Label("y", "y")))
    base = ratings_from_columns(dimension, ["i1"], {"human:a": ["x"]})
    with pytest.raises(MetricsInputError, match=r"integers 0\.\.1"):
        base.replace(values=np.array([[2.0]]))
    with pytest.raises(MetricsInputError, match=r"integers 0\.\.1"):
        base.replace(values=np.array([[0.5]]))


def test_one_majority_rule_for_the_consensus_and_the_gold_export():
    """"Majority wins; a tie decides nothing": the metrics' consensus and the gold export's
    majority policy decide the same items the same way (one rule, core.metrics.consensus)."""
    import numpy as np

    from core.export.gold import GoldPolicy, decide_counts
    from core.metrics.consensus import majority, top_label

    counts = np.array([[3, 1, 0], [2, 2, 0], [0, 0, 0], [0, 1, 1], [0, 0, 4], [1, 0, 0]])
    found = top_label(counts)
    assert found.code.tolist() == [0, -1, -1, -1, 2, 0]
    assert found.tied.tolist() == [False, True, False, True, False, False]
    # The same items as codes (one column per vote, NaN for none).
    votes = np.full((len(counts), 4), np.nan)
    for item, row in enumerate(counts):
        codes = np.repeat(np.arange(3), row)
        votes[item, :len(codes)] = codes
    consensus = majority(votes, 3).values
    gold = decide_counts(counts, GoldPolicy("majority", min_labels=1)).label
    assert np.where(np.isnan(consensus), -1, consensus).tolist() == gold.tolist() == \
        found.code.tolist()
