"""compare_dimension: the shape of its output and hand-checked values of every section."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau
from sklearn.metrics import cohen_kappa_score

from core.metrics import REGISTRY, MetricsInputError, compare_dimension, ratings_from_columns
from core.schema import Dimension
from core.templates import TEMPLATES

CORRECT = TEMPLATES["correctness"].dimension("correct")
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")
PREFERENCE = TEMPLATES["pairwise"].dimension("preference")
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)

ITEMS = [f"i{n}" for n in range(8)]
MODELS = ["m1", "m1", "m1", "m1", "m2", "m2", "m2", "m2"]
Y, N = "correct", "incorrect"
HUMANS = {
    "human:ann": [Y, Y, N, N, Y, Y, N, None],
    "human:bob": [Y, N, N, N, Y, Y, Y, N],
    "human:cy": [Y, Y, N, Y, None, Y, N, N],
}
JUDGES = {
    "judge:lenient": [Y, Y, Y, N, Y, Y, Y, Y],
    "judge:strict": [Y, N, N, N, N, Y, N, N],
    "judge:silent": [None] * 8,
}
# Majority of the humans: Y, Y, N, N, Y, Y, N, N (item 7: bob and cy say N; ann missing).
CONSENSUS = [Y, Y, N, N, Y, Y, N, N]


def correctness_ratings():
    return ratings_from_columns(CORRECT, ITEMS, {**HUMANS, **JUDGES}, models=MODELS)


def pair(document, a, b):
    return next(p for p in document["pairs"] if (p["a"], p["b"]) == (a, b))


def test_raters_pairs_and_groups_in_order():
    document = compare_dimension(correctness_ratings(), juries={"duo": ["lenient", "strict"]}).to_dict()
    # Humans, the consensus, judges (each in input order), then juries.
    assert document["raters"] == ["human:ann", "human:bob", "human:cy", "human:consensus",
                                  "judge:lenient", "judge:strict", "judge:silent", "jury:duo"]
    raters = document["raters"]
    assert [(p["a"], p["b"]) for p in document["pairs"]] == [
        (raters[i], raters[j]) for i in range(len(raters)) for j in range(i + 1, len(raters))]
    assert [g["name"] for g in document["groups"]] == ["humans", "humans+judges"]
    assert document["groups"][1]["raters"] == ["human:ann", "human:bob", "human:cy",
                                               "judge:lenient", "judge:strict", "judge:silent"]
    assert document["consensus"] == {"method": "majority", "items": 8, "ties": 0}
    assert document["juries"] == [{"name": "jury:duo", "members": ["lenient", "strict"],
                                   "method": "majority", "items": 3, "ties": 5}]
    json.dumps(document, allow_nan=False)  # plain data, no NaN anywhere


def test_nominal_pair_keys_values_and_confusion_matrix():
    document = compare_dimension(correctness_ratings()).to_dict()
    entry = pair(document, "human:consensus", "judge:lenient")
    nominal = [d.name for d in REGISTRY.values() if d.pair and "nominal" in d.scales]
    assert set(entry) == {"a", "b", "n", "ci95", "undefined", "confusion_matrix", *nominal}
    assert entry["n"] == 8
    lenient = JUDGES["judge:lenient"]
    assert entry["cohen_kappa"] == pytest.approx(cohen_kappa_score(CONSENSUS, lenient))
    assert entry["percent_agreement"] == pytest.approx(5 / 8)
    assert entry["confusion_matrix"] == {"labels": [Y, N], "counts": [[4, 0], [3, 1]]}
    assert entry["undefined"] == {} and entry["ci95"] == {}


def test_a_rater_without_labels_gives_reasons_not_values():
    document = compare_dimension(correctness_ratings(), n_resamples=50).to_dict()
    entry = pair(document, "human:ann", "judge:silent")
    assert entry["n"] == 0
    assert all(entry[m] is None for m in entry["undefined"])
    assert set(entry["undefined"].values()) == {"fewer than 2 pairable items (n = 0)"}
    assert entry["ci95"] == {}


def test_bootstrap_is_reproducible_with_the_seed():
    ratings = correctness_ratings()
    first = compare_dimension(ratings, n_resamples=300, seed=5).to_dict()
    again = compare_dimension(ratings, n_resamples=300, seed=5).to_dict()
    other = compare_dimension(ratings, n_resamples=300, seed=6).to_dict()
    key = ("human:bob", "judge:strict")
    assert pair(first, *key)["ci95"] == pair(again, *key)["ci95"]
    assert pair(first, *key)["ci95"] != pair(other, *key)["ci95"]
    low, high = pair(first, *key)["ci95"]["cohen_kappa"]
    assert low <= pair(first, *key)["cohen_kappa"] <= high
    assert set(first["groups"][0]["ci95"]) == {"fleiss_kappa", "krippendorff_alpha"}


def test_bias_against_the_consensus_by_hand():
    bias = compare_dimension(correctness_ratings()).to_dict()["bias"]
    assert bias["reference"] == "human:consensus" and bias["positive_label"] == Y
    assert bias["distributions"]["judge:lenient"] == {Y: 7, N: 1}
    assert bias["distributions"]["humans"] == {Y: 12, N: 10}
    lenient = next(r for r in bias["raters"] if r["rater"] == "judge:lenient")
    assert lenient["positive_rate"] == {"value": 7 / 8, "n": 8}
    assert lenient["reference_positive_rate"] == {"value": 4 / 8, "n": 8}
    assert lenient["leniency"]["value"] == pytest.approx(3 / 8)
    assert lenient["false_positive_rate"] == {"value": 3 / 4, "n": 4}  # 3 of 4 consensus-N said Y
    assert lenient["false_negative_rate"] == {"value": 0.0, "n": 4}
    silent = next(r for r in bias["raters"] if r["rater"] == "judge:silent")
    assert silent["n"] == 0 and "undefined" in silent["positive_rate"]


def test_model_ranking_by_hand():
    ranking = compare_dimension(correctness_ratings()).to_dict()["ranking"]
    assert ranking["models"] == ["m1", "m2"]
    assert ranking["scores"]["human:consensus"] == {"m1": 0.5, "m2": 0.5}
    assert ranking["scores"]["judge:strict"] == {"m1": 0.25, "m2": 0.25}
    # Equal human scores: no order to agree with.
    assert "same score" in ranking["kendall_tau"]["judge:strict"]["undefined"]


def test_model_ranking_tau_with_three_models():
    models = ["a", "a", "b", "b", "c", "c"]
    ratings = ratings_from_columns(CORRECT, ITEMS[:6], {
        "human:h": [Y, Y, Y, N, N, N], "judge:same": [Y, Y, Y, N, N, N],
        "judge:reverse": [N, N, Y, N, Y, Y]}, models=models)
    ranking = compare_dimension(ratings).to_dict()["ranking"]
    assert ranking["kendall_tau"]["judge:same"] == {"value": pytest.approx(1.0), "n": 3}
    expected = kendalltau([1.0, 0.5, 0.0], [0.0, 0.5, 1.0]).statistic
    assert ranking["kendall_tau"]["judge:reverse"]["value"] == pytest.approx(expected)


def test_ordinal_keys_and_binarised_view():
    ratings = ratings_from_columns(ALIGNMENT, ITEMS[:6], {
        "human:a": ["1", "2", "3", "4", "5", "3"], "human:b": ["1", "3", "3", "4", "4", "2"],
        "judge:j": ["2", "2", "4", "5", "5", "3"]})
    document = compare_dimension(ratings).to_dict()
    ordinal = {d.name for d in REGISTRY.values() if d.pair and "ordinal" in d.scales}
    assert ordinal <= set(pair(document, "human:a", "judge:j"))
    assert "pearson" not in pair(document, "human:a", "judge:j")
    assert document["bias"]["raters"][0]["mean_difference"]["value"] is not None
    binary = compare_dimension(ratings, binarize_at="4").to_dict()
    assert (binary["scale"], binary["binarized_at"], binary["labels"]) == ("nominal", "4", [">=4", "<4"])
    entry = pair(binary, "human:a", "judge:j")
    assert "kappa_linear" not in entry
    a = [x >= 4 for x in (1, 2, 3, 4, 5, 3)]
    j = [x >= 4 for x in (2, 2, 4, 5, 5, 3)]
    assert entry["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, j))


def test_interval_keys_and_bias_sign():
    ratings = ratings_from_columns(SCORE, ITEMS[:5], {
        "human:a": ["1", "2", "3", "4", "5"], "human:b": ["2", "2", "4", "4", "6"],
        "judge:kind": ["3", "4", "5", "6", "7.5"]})
    document = compare_dimension(ratings).to_dict()
    entry = pair(document, "human:consensus", "judge:kind")
    assert set(entry) == {"a", "b", "n", "ci95", "undefined", "pearson", "spearman", "mae",
                          "mean_signed_difference", "krippendorff_alpha"}
    consensus = np.array([1.5, 2, 3.5, 4, 5.5])
    assert entry["mean_signed_difference"] == pytest.approx(np.mean([3, 4, 5, 6, 7.5] - consensus))
    assert entry["mean_signed_difference"] > 0  # the judge scores higher: lenient
    assert [g.get("fleiss_kappa", "absent") for g in document["groups"]] == ["absent", "absent"]
    assert document["groups"][0]["alpha_level"] == "interval"


def test_preference_accuracy_and_position_consistency():
    ratings = ratings_from_columns(PREFERENCE, ITEMS[:4], {
        "human:a": ["A", "B", "tie", "A"], "human:b": ["A", "B", "tie", "B"],
        "judge:g": ["A", "B", "A", "A"],
        # The swapped run saw B's text first: its "B" means the original A.
        "judge:g@swapped": ["B", "B", "tie", "B"]})
    document = compare_dimension(ratings).to_dict()
    preference = document["preference"]
    # Consensus: A, B, tie, (tie between A and B -> no value).
    assert preference["accuracy"]["judge:g"] == {"value": 2 / 3, "n": 3}
    assert preference["accuracy"]["judge:g@swapped"] == {"value": 2 / 3, "n": 3}
    consistency = preference["position_consistency"]["judge:g"]
    assert consistency == {"swapped": "judge:g@swapped", "value": 0.5, "n": 4}
    assert document["consensus"]["ties"] == 1
    assert compare_dimension(correctness_ratings()).to_dict()["preference"] is None


def test_option_errors():
    ratings = correctness_ratings()
    with pytest.raises(MetricsInputError, match="bootstrap resamples must be 0"):
        compare_dimension(ratings, n_resamples=-1).to_dict()
    with pytest.raises(MetricsInputError, match="jury name"):
        compare_dimension(ratings, juries={"a:b": ["lenient", "strict"]}).to_dict()
    with pytest.raises(MetricsInputError, match="unknown judge 'nobody'"):
        compare_dimension(ratings, juries={"x": ["lenient", "nobody"]}).to_dict()
    with pytest.raises(MetricsInputError, match="it is nominal"):
        compare_dimension(ratings, binarize_at="correct").to_dict()


def test_judges_only_project_has_no_consensus_sections():
    ratings = ratings_from_columns(CORRECT, ITEMS[:3], {"judge:x": [Y, N, Y], "judge:y": [Y, Y, Y]})
    document = compare_dimension(ratings).to_dict()
    assert document["raters"] == ["judge:x", "judge:y"]
    assert document["groups"] == [] and document["consensus"] is None
    assert document["bias"] is None and document["ranking"] is None
