"""The paired difference of two raters against one reference (core/metrics/paired.py).

Point values: contingency tables written by hand (their κ worked out in the comments), checked
against scikit-learn's ``cohen_kappa_score`` and the ``krippendorff`` package. Interval: a
naive loop that resamples the items once per round and scores both raters on them with a
textbook formula, the oracle of the vectorised paired bootstrap. Real data: LLMBar's GPT-4
with two prompt strategies on the same items (../shared/data/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from core.metrics import MetricsInputError, encode_labels
from core.metrics.paired import PairedDifference, paired_difference, score_in_sequence
from core.metrics.ratings import Ratings
from core.schema import Dimension
from core.templates import TEMPLATES

CORRECT = TEMPLATES["correctness"].dimension("correct")  # nominal: correct, incorrect
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")  # ordinal 1-5
PREFERENCE = TEMPLATES["pairwise"].dimension("preference")  # nominal A, B, tie
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)


def items_from_tables(reference_old: list[list[int]], new_of: list[int]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items realising the reference x old table (rows = reference), each item's new label
    given in ``new_of`` in the same item order (row-major over the table's cells)."""
    reference, old = [], []
    for r, row in enumerate(reference_old):
        for o, count in enumerate(row):
            reference += [r] * count
            old += [o] * count
    assert len(new_of) == len(reference)
    return np.array(reference, float), np.array(old, float), np.array(new_of, float)


def test_nominal_delta_from_hand_computed_tables():
    # reference x old = [[4, 1], [2, 3]]: p_o = 7/10, rows (5, 5), cols (6, 4),
    #   p_e = (5*6 + 5*4)/100 = 0.5, κ_old = (0.7 - 0.5) / 0.5 = 0.4.
    # new: the items in that order get c c c c c | c i i | i i, so reference x new =
    #   [[5, 0], [1, 4]]: p_o = 9/10, cols (6, 4), p_e = 0.5, κ_new = 0.8; Δκ = +0.4.
    reference, old, new = items_from_tables([[4, 1], [2, 3]], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert cohen_kappa_score(reference, old) == pytest.approx(0.4)
    assert cohen_kappa_score(reference, new) == pytest.approx(0.8)

    result = paired_difference(reference, old, new, CORRECT, n_resamples=0)

    assert (result.metric, result.n) == ("cohen_kappa", 10)
    assert result.old == pytest.approx(cohen_kappa_score(reference, old))
    assert result.new == pytest.approx(cohen_kappa_score(reference, new))
    assert result.delta == pytest.approx(0.4)
    assert result.ci95 is None and result.direction == "undecided"


def test_only_items_all_three_labelled_count():
    reference, old, new = items_from_tables([[4, 1], [2, 3]], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    nan = np.nan
    # Three more items, each missing one of the three labels: they must change nothing.
    reference = np.r_[reference, nan, 1, 0]
    old = np.r_[old, 0, nan, 1]
    new = np.r_[new, 1, 0, nan]

    result = paired_difference(reference, old, new, CORRECT, n_resamples=0)

    assert result.n == 10
    assert result.delta == pytest.approx(0.4)


def test_ordinal_uses_quadratically_weighted_kappa_over_the_whole_scale():
    # Codes 0..4 of a 1-5 scale; label 5 (code 4) is never used, but the weights span it.
    reference = np.array([0, 1, 2, 3, 1, 2, 0, 3, 2, 1], float)
    old = np.array([1, 1, 3, 3, 0, 2, 0, 2, 2, 3], float)
    new = np.array([0, 1, 2, 3, 1, 3, 0, 3, 1, 1], float)
    full = [0, 1, 2, 3, 4]
    expected_old = cohen_kappa_score(reference, old, weights="quadratic", labels=full)
    expected_new = cohen_kappa_score(reference, new, weights="quadratic", labels=full)

    result = paired_difference(reference, old, new, ALIGNMENT, n_resamples=0)

    assert result.metric == "kappa_quadratic"
    assert result.old == pytest.approx(expected_old)
    assert result.new == pytest.approx(expected_new)
    assert result.delta == pytest.approx(expected_new - expected_old)


def test_interval_uses_krippendorffs_alpha():
    reference = np.array([1.0, 2.5, 3.0, 4.0, 5.5, 6.0, 7.5, 9.0])
    old = np.array([2.0, 2.0, 4.0, 3.0, 6.0, 5.0, 8.0, 7.0])
    new = np.array([1.0, 3.0, 3.0, 4.5, 5.0, 6.5, 7.0, 9.0])

    def alpha(a, b):
        return krippendorff.alpha(reliability_data=np.vstack([a, b]),
                                  level_of_measurement="interval")

    result = paired_difference(reference, old, new, SCORE, n_resamples=0)

    assert result.metric == "krippendorff_alpha"
    assert result.old == pytest.approx(alpha(reference, old))
    assert result.new == pytest.approx(alpha(reference, new))
    assert result.delta == pytest.approx(alpha(reference, new) - alpha(reference, old))


def kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Textbook Cohen's κ from the k x k table (NaN when chance agreement is 1)."""
    table = np.bincount((a * k + b).astype(int), minlength=k * k).reshape(k, k) / len(a)
    observed, expected = np.trace(table), table.sum(axis=1) @ table.sum(axis=0)
    return np.nan if expected == 1 else (observed - expected) / (1 - expected)


def three_raters(seed: int, n: int, k: int, old_accuracy: float, new_accuracy: float):
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, k, n).astype(float)

    def rater(accuracy: float) -> np.ndarray:
        return np.where(rng.random(n) < accuracy, reference, rng.integers(0, k, n)).astype(float)

    return reference, rater(old_accuracy), rater(new_accuracy)


def test_paired_bootstrap_matches_a_naive_loop_over_items():
    # The oracle draws the items once per round and scores both raters on those same items.
    reference, old, new = three_raters(3, 2000, 3, 0.70, 0.75)
    rng = np.random.default_rng(11)
    deltas = np.empty(2000)
    for index in range(len(deltas)):
        pick = rng.integers(0, len(reference), len(reference))
        deltas[index] = kappa(reference[pick], new[pick], 3) - kappa(reference[pick], old[pick], 3)
    low, high = np.percentile(deltas, [2.5, 97.5])

    result = paired_difference(reference, old, new, PREFERENCE, n_resamples=2000, seed=5)

    assert result.delta == pytest.approx(kappa(reference, new, 3) - kappa(reference, old, 3))
    # Monte-Carlo error of each bound (B = 2000, n = 2000 items) is about 0.0015.
    assert result.ci95[0] == pytest.approx(low, abs=0.007)
    assert result.ci95[1] == pytest.approx(high, abs=0.007)


def quadratic_kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Textbook quadratically weighted κ over k labels: 1 - Σ w O / Σ w E."""
    observed = np.bincount((a * k + b).astype(int), minlength=k * k).reshape(k, k) / len(a)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weights = (np.subtract.outer(np.arange(k), np.arange(k)) / (k - 1)) ** 2
    return 1 - (weights * observed).sum() / (weights * expected).sum()


def interval_alpha(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook interval α of two raters who both scored every item: 1 - D_o / D_e, with
    D_o = Σ_u 2 (a_u - b_u)² / N and D_e = Σ_{i≠j} (v_i - v_j)² / (N (N - 1)) over all N values."""
    values = np.r_[a, b]
    big_n = len(values)
    observed = 2 * ((a - b) ** 2).sum() / big_n
    expected = (2 * big_n * (values ** 2).sum() - 2 * values.sum() ** 2) / (big_n * (big_n - 1))
    return 1 - observed / expected


@pytest.mark.parametrize("scale", ["ordinal", "interval"])
def test_paired_bootstrap_of_ordinal_and_interval_scales_matches_the_naive_loop(scale):
    reference, old, new = three_raters(6, 1500, 5, 0.55, 0.65)
    if scale == "ordinal":
        dimension = ALIGNMENT
        def metric(a, b):
            return quadratic_kappa(a, b, 5)
        oracle = cohen_kappa_score(reference, old, weights="quadratic", labels=list(range(5)))
    else:
        dimension = SCORE
        noise = np.random.default_rng(2).normal(0, 0.3, (2, len(reference)))
        old, new = old + noise[0], new + noise[1]
        metric = interval_alpha
        # The package builds an items x values² matrix: check the formula on 100 items.
        oracle = krippendorff.alpha(reliability_data=np.vstack([reference[:100], old[:100]]),
                                    level_of_measurement="interval")
    checked = 100 if scale == "interval" else len(reference)
    assert metric(reference[:checked], old[:checked]) == pytest.approx(oracle)  # formula right
    rng = np.random.default_rng(21)
    deltas = np.empty(2000)
    for index in range(len(deltas)):
        pick = rng.integers(0, len(reference), len(reference))
        deltas[index] = metric(reference[pick], new[pick]) - metric(reference[pick], old[pick])
    low, high = np.percentile(deltas, [2.5, 97.5])

    result = paired_difference(reference, old, new, dimension, n_resamples=2000, seed=3)

    assert result.delta == pytest.approx(metric(reference, new) - metric(reference, old))
    assert result.ci95[0] == pytest.approx(low, abs=0.008)
    assert result.ci95[1] == pytest.approx(high, abs=0.008)


def test_the_bootstrap_is_paired():
    # The new rater differs from the old one on 6 of 400 items only. Resampled apart, the two
    # κ would each move by about ±0.08; resampled together their difference barely moves.
    reference, old, _ = three_raters(8, 400, 2, 0.8, 0.8)
    new = old.copy()
    wrong = np.flatnonzero(old != reference)[:6]
    new[wrong] = reference[wrong]

    result = paired_difference(reference, old, new, CORRECT, n_resamples=1000, seed=1)

    assert result.delta == pytest.approx(kappa(reference, new, 2) - kappa(reference, old, 2))
    assert 0 < result.ci95[0] <= result.delta <= result.ci95[1] < 0.07
    assert result.direction == "better"
    identical = paired_difference(reference, old, old, CORRECT, n_resamples=500)
    assert (identical.delta, identical.ci95) == (0.0, (0.0, 0.0))
    assert identical.direction == "no difference"


def test_same_seed_same_interval():
    reference, old, new = three_raters(4, 300, 3, 0.6, 0.7)
    first = paired_difference(reference, old, new, PREFERENCE, n_resamples=300, seed=9)
    again = paired_difference(reference, old, new, PREFERENCE, n_resamples=300, seed=9)
    assert first == again


@pytest.mark.parametrize(("ci", "sentence"), [
    ((0.03, 0.13), "v3 is better than v2 (Δκ +0.08 [0.03, 0.13])"),
    ((-0.13, -0.03), "v3 is worse than v2 (Δκ +0.08 [-0.13, -0.03])"),
    ((-0.04, 0.06), "no detectable difference (Δκ +0.08 [-0.04, 0.06])"),
])
def test_verdict_sentences(ci, sentence):
    result = PairedDifference("cohen_kappa", 50, 0.5, 0.58, 0.08, ci, None)
    assert result.sentence("v3", "v2") == sentence


def test_verdict_sentence_names_the_metric_of_the_scale():
    ordinal = PairedDifference("kappa_quadratic", 50, 0.6, 0.59, -0.01, (-0.05, 0.02), None)
    interval = PairedDifference("krippendorff_alpha", 50, 0.6, 0.7, 0.1, (0.02, 0.2), None)
    assert ordinal.sentence("v2", "v1") == "no detectable difference (Δκw -0.01 [-0.05, 0.02])"
    assert interval.sentence("v2", "v1") == "v2 is better than v1 (Δα +0.10 [0.02, 0.20])"


def test_too_few_common_items_is_undefined_with_the_reason():
    result = paired_difference([0, 1, np.nan], [0, np.nan, 1], [0, 1, 1], CORRECT,
                               names=("human consensus", "v1", "v2"))
    assert (result.n, result.delta, result.ci95) == (1, None, None)
    assert result.undefined_reason == ("fewer than 2 items labelled by human consensus, v1 and "
                                       "v2 (n = 1)")
    assert result.sentence("v2", "v1") == (
        "no comparison of v2 with v1: fewer than 2 items labelled by human consensus, v1 and v2 "
        "(n = 1)")


def test_a_metric_undefined_for_one_rater_says_which():
    # The reference and v1 give every common item "correct": κ of v1 is 0/0.
    result = paired_difference([0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 1], CORRECT,
                               names=("consensus", "v1", "v2"))
    assert result.delta is None and result.old is None
    assert result.undefined_reason == (
        "Cohen's κ of v1 is undefined on the 4 common items: both raters gave every pairable "
        "item the same label ('correct'): there is no variation to agree on")
    assert result.direction == "undefined"


def test_bad_input_is_refused_with_what_is_wrong():
    with pytest.raises(MetricsInputError, match="same items; got 3, 2, 3 labels"):
        paired_difference([0, 1, 0], [0, 1], [0, 1, 1], CORRECT)
    with pytest.raises(MetricsInputError, match="'pearson' does not apply to the nominal scale"):
        paired_difference([0, 1], [0, 1], [0, 1], CORRECT, metric="pearson")
    with pytest.raises(MetricsInputError, match="bootstrap resamples"):
        paired_difference([0, 1], [0, 1], [0, 1], CORRECT, n_resamples=-1)


# --- a sequence of prompt versions against the human consensus ---------------------------------

def versions_ratings(with_humans: bool = True) -> Ratings:
    c, i, nan = 0.0, 1.0, np.nan
    humans = {  # the consensus is the majority of three: c c i i c i c i
        "human:a": [c, c, i, i, c, i, c, i],
        "human:b": [c, i, i, i, c, i, c, c],
        "human:c": [c, c, c, i, i, i, c, i],
    }
    judges = {
        "judge:gpt": [c, i, c, i, c, c, i, i],
        "judge:gpt@v2": [c, c, i, i, c, nan, c, i],  # item 5 unparseable
    }
    columns = {**(humans if with_humans else {}), **judges}
    values = np.column_stack([np.array(v) for v in columns.values()])
    unparseable = np.zeros(values.shape, dtype=bool)
    unparseable[5, list(columns).index("judge:gpt@v2")] = True
    return Ratings(CORRECT, tuple(columns), values, np.array([f"q{n}" for n in range(8)]),
                   unparseable=unparseable)


def test_score_in_sequence_scores_each_version_and_compares_it_with_the_one_before():
    consensus = ["c", "c", "i", "i", "c", "i", "c", "i"]
    v1 = ["c", "i", "c", "i", "c", "c", "i", "i"]
    v2 = ["c", "c", "i", "i", "c", None, "c", "i"]
    kept = [n for n in range(8) if v2[n] is not None]

    first, second, third = score_in_sequence(versions_ratings(),
                                             ["judge:gpt", "judge:gpt@v2", "judge:gpt@v3"],
                                             n_resamples=200)

    assert first.score.value == pytest.approx(cohen_kappa_score(consensus, v1))
    assert (first.score.n, first.parsed, first.unparseable, first.previous) == (8, 8, 0, None)
    assert first.score.ci95 is not None
    assert second.score.value == pytest.approx(cohen_kappa_score(
        [consensus[n] for n in kept], [v2[n] for n in kept]))  # 1.0: v2 agrees on every parsed item
    assert (second.score.n, second.parsed, second.unparseable) == (7, 7, 1)
    assert second.previous.n == 7
    assert second.previous.delta == pytest.approx(
        cohen_kappa_score([consensus[n] for n in kept], [v2[n] for n in kept])
        - cohen_kappa_score([consensus[n] for n in kept], [v1[n] for n in kept]))
    assert (third.score.value, third.score.undefined_reason, third.previous) == (
        None, "no verdicts yet", None)


def test_score_in_sequence_without_human_labels_says_so():
    [only] = score_in_sequence(versions_ratings(with_humans=False), ["judge:gpt"], n_resamples=0)
    assert (only.score.value, only.score.undefined_reason, only.parsed) == (
        None, "no human labels on this dimension yet", 8)


# --- LLMBar: GPT-4 with two prompt strategies on the same items --------------------------------

WINNER = {"1": "A", "2": "B", 1: "A", 2: "B"}


def llmbar(shared_data: Path, subset: str) -> tuple[list[str], dict[str, list[str | None]]]:
    """Gold (label 1/2 as A/B) and GPT-4's unswapped verdict per strategy (None = unparseable)."""
    folder = shared_data / "LLMBar" / subset
    gold = [WINNER[record["label"]] for record in json.loads((folder / "dataset.json").read_text())]
    verdicts = {}
    for strategy in ("Vanilla_NoRules", "Metrics_Reference"):
        records = json.loads((folder / "evaluators" / "GPT-4" / strategy / "result.json").read_text())
        winners = [record["results"][-1]["swap = False"]["winner"] for record in records]
        verdicts[strategy] = [WINNER.get(winner) for winner in winners]
    return gold, verdicts


@pytest.mark.shared_data
def test_llmbar_faireval_strategies_match_the_published_kappas(shared_data):
    gold, verdicts = llmbar(shared_data, "FairEval")
    codes = {name: encode_labels(PREFERENCE, labels) for name, labels in
             {"gold": gold, **verdicts}.items()}

    result = paired_difference(codes["gold"], codes["Vanilla_NoRules"],
                               codes["Metrics_Reference"], PREFERENCE, n_resamples=2000)

    # README: κ 0.5133 (Vanilla_NoRules) and 0.3308 (Metrics_Reference), all 66 items parsed.
    assert result.n == 66
    assert result.old == pytest.approx(0.5133, abs=1e-4)
    assert result.new == pytest.approx(0.3308, abs=1e-4)
    assert result.delta == pytest.approx(
        cohen_kappa_score(gold, verdicts["Metrics_Reference"])
        - cohen_kappa_score(gold, verdicts["Vanilla_NoRules"]))
    reference, old, new = codes["gold"], codes["Vanilla_NoRules"], codes["Metrics_Reference"]
    rng = np.random.default_rng(17)
    deltas = np.empty(2000)
    for index in range(len(deltas)):
        pick = rng.integers(0, 66, 66)
        deltas[index] = kappa(reference[pick], new[pick], 3) - kappa(reference[pick], old[pick], 3)
    low, high = np.nanpercentile(deltas, [2.5, 97.5])
    # 66 items: a bound's Monte-Carlo error is about 0.006 per loop.
    assert result.ci95[0] == pytest.approx(low, abs=0.03)
    assert result.ci95[1] == pytest.approx(high, abs=0.03)
    assert low < 0 < high  # 66 items cannot tell the two strategies apart
    assert result.sentence("Metrics_Reference", "Vanilla_NoRules").startswith(
        "no detectable difference (Δκ -0.18 [")


@pytest.mark.shared_data
def test_llmbar_llmeval2_leaves_unparseable_verdicts_out(shared_data):
    gold, verdicts = llmbar(shared_data, "LLMEval^2")
    vanilla, metrics = verdicts["Vanilla_NoRules"], verdicts["Metrics_Reference"]
    both = [i for i in range(len(gold)) if vanilla[i] is not None and metrics[i] is not None]
    # README: 6 and 4 of the 200 verdicts are unparseable; at least 190 items remain.
    assert 190 <= len(both) < 200

    result = paired_difference(encode_labels(PREFERENCE, gold), encode_labels(PREFERENCE, vanilla),
                               encode_labels(PREFERENCE, metrics), PREFERENCE, n_resamples=0)

    pick = [gold[i] for i in both]
    assert result.n == len(both)
    assert result.old == pytest.approx(cohen_kappa_score(pick, [vanilla[i] for i in both]))
    assert result.new == pytest.approx(cohen_kappa_score(pick, [metrics[i] for i in both]))
    assert result.delta == pytest.approx(result.new - result.old)
