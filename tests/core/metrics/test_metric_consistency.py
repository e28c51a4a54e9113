"""Self-consistency across a judge's samples (hand-computed and krippendorff package), and
jury rules per scale."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from core.metrics import MetricsInputError, jury_verdict, ratings_from_columns
from core.metrics.compare import compare_dimension
from core.metrics.consensus import Jury
from core.metrics.consistency import consistency_report, self_consistency
from core.schema import Dimension
from core.templates import TEMPLATES

NAN = np.nan
CORRECT = TEMPLATES["correctness"].dimension("correct")
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")  # ordinal 1-5
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)


def test_fleiss_kappa_of_the_samples_by_hand():
    # Per-item agreement P_i = sum n_ij (n_ij - 1) / (3 * 2): 1, 1, 1/3, 1/3 -> mean 2/3.
    # Label shares 6/12 and 6/12 -> P_e = 1/2; kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    samples = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]], dtype=float)
    result = self_consistency("judge:j", samples, CORRECT)
    assert result.results["fleiss_kappa"].value == pytest.approx(1 / 3)
    assert (result.samples, result.items, result.results["fleiss_kappa"].n) == (3, 4, 4)
    assert result.results["krippendorff_alpha"].value == pytest.approx(
        krippendorff.alpha(samples.T, level_of_measurement="nominal", value_domain=[0, 1]))


@pytest.mark.parametrize("seed", range(3))
def test_ordinal_alpha_with_missing_samples_matches_the_package(seed):
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, 5, size=(60, 4)).astype(float)
    samples[rng.random(samples.shape) < 0.2] = NAN
    result = self_consistency("judge:j", samples, ALIGNMENT, n_resamples=200,
                              rng=np.random.default_rng(0))
    alpha = result.results["krippendorff_alpha"]
    assert alpha.value == pytest.approx(krippendorff.alpha(
        samples.T, level_of_measurement="ordinal", value_domain=list(range(5))))
    assert alpha.ci95 is not None and alpha.ci95[0] <= alpha.value <= alpha.ci95[1]
    assert alpha.n == int(((~np.isnan(samples)).sum(axis=1) >= 2).sum())


def test_a_judge_that_always_repeats_itself_is_perfectly_consistent_and_one_sample_is_undefined():
    perfect = self_consistency("judge:j", np.array([[0, 0], [1, 1], [0, 0.]]), CORRECT)
    assert perfect.results["fleiss_kappa"].value == pytest.approx(1.0)
    single = self_consistency("judge:j", np.array([[0, NAN], [1, NAN]]), CORRECT)
    assert single.results["fleiss_kappa"].value is None
    assert "fewer than 2 items" in single.results["fleiss_kappa"].undefined_reason
    with pytest.raises(MetricsInputError, match=r"integers 0\.\.1"):
        self_consistency("judge:j", np.array([[0, 2.0]]), CORRECT)


def test_binarised_report_and_only_the_raters_asked_for():
    samples = {"judge:a": np.array([[4, 3], [0, 1], [2, 4], [1, 1.]]),
               "judge:b": np.array([[0, 0], [1, 1.]])}
    entries = consistency_report(samples, ALIGNMENT, raters=("judge:a",), binarize_at="4")
    assert [e.rater for e in entries] == ["judge:a"]
    # >= "4" (code 3): [pos, pos], [neg, neg], [neg, pos], [neg, neg]
    binary = np.array([[0, 0], [1, 1], [1, 0], [1, 1.]])
    assert entries[0].results["krippendorff_alpha"].value == pytest.approx(
        krippendorff.alpha(binary.T, level_of_measurement="nominal", value_domain=[0, 1]))
    assert entries[0].to_dict()["krippendorff_alpha"]["n"] == 4


def test_jury_rules_apply_only_to_their_scales():
    ratings = ratings_from_columns(SCORE, ["i1", "i2"], {"judge:a": ["1", "2"], "judge:b": ["3", "8"],
                                                         "judge:c": ["4", "9"]})
    assert np.array_equal(jury_verdict(ratings, Jury(("a", "b", "c"), "median")).values, [3, 8])
    assert np.allclose(jury_verdict(ratings, Jury(("a", "b", "c"), "mean")).values, [8 / 3, 19 / 3])
    with pytest.raises(MetricsInputError, match="'majority' applies to nominal and ordinal"):
        jury_verdict(ratings, Jury(("a", "b"), "majority"))
    with pytest.raises(MetricsInputError, match="not one of majority, median, mean"):
        Jury(("a", "b"), "vote")
    nominal = ratings_from_columns(CORRECT, ["i1"], {"judge:a": ["correct"], "judge:b": ["correct"]})
    with pytest.raises(MetricsInputError, match="jury 'x': jury rule 'mean' applies to interval"):
        compare_dimension(nominal, juries={"x": Jury(("a", "b"), "mean")}).to_dict()


def test_a_binarised_view_takes_the_majority_of_any_jury():
    ratings = ratings_from_columns(ALIGNMENT, ["i1", "i2", "i3"], {
        "human:h": ["5", "1", "4"], "judge:a": ["5", "2", "4"], "judge:b": ["4", "1", "1"],
        "judge:c": ["1", "1", "5"]})
    document = compare_dimension(ratings, juries={"m": Jury(("a", "b", "c"), "median")},
                                 binarize_at="4").to_dict()
    jury, = document["juries"]
    assert jury["method"] == "majority"
    pair = next(p for p in document["pairs"] if p["a"] == "human:consensus" and p["b"] == "jury:m")
    # binarised >=4: a [+,-,+], b [+,-,-], c [-,-,+] -> majority [+,-,+] = the human's.
    assert pair["percent_agreement"] == 1.0
