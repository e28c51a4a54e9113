"""Golden values: every number comes from a publication, a library's documentation or test
suite, or an independent computation written here — never from Docket's own output.

Sources:
* Artstein & Poesio (2008), "Inter-coder agreement for computational linguistics",
  Computational Linguistics 34(4): Table 1 (kappa 0.348) and Table 4 (kappa 0.8013), as
  reproduced in scikit-learn's test suite (sklearn/metrics/tests/test_classification.py).
* scikit-learn's cohen_kappa_score: docstring example (0.6875) and its test suite's weighted
  example (0.9315 / 0.9412 / 0.9541).
* Gwet's irrCAC R package README (K. Gwet, author of AC1): table ``cont3x3abstractors``
  (kappa 0.7964094, pi 0.7962397, AC1 0.8493305, alpha 0.7972585, agreement 0.89), raw data
  ``cac.raw4raters`` (Fleiss 0.76117, alpha 0.74342), distribution ``distrib.6raters`` (Fleiss
  1971's psychiatric data: Fleiss 0.4139265, alpha 0.4204384); its Python port's tests
  (afergadis/irrCAC) for ``cont4x4diagnosis`` (kappa 0.432, pi 0.430, AC1 0.456, linear
  0.407, quadratic 0.383).
* Krippendorff (2011), "Computing Krippendorff's alpha-reliability": the 4 observers x 12
  units example, alpha nominal 0.743, ordinal 0.815, interval 0.849 (also the krippendorff
  package's docstring); that package's docstring example: nominal 0.691358, interval 0.810845.
* Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, kappa 0.210.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics import (
    group_agreement,
    group_sample,
    pair_agreement,
    pair_sample,
    pair_sample_from_table,
)
from core.metrics.pair_metrics import gwet_ac1

NAN = np.nan


def table_metrics(table: list[list[int]], scale: str = "nominal") -> dict[str, float | None]:
    results = pair_agreement(pair_sample_from_table(np.array(table), scale))
    return {name: result.value for name, result in results.items()}


# --- Artstein & Poesio (2008) ----------------------------------------------------------------

def test_artstein_poesio_table_1():
    # Stat/IReq, 100 utterances: A_o = 0.7; kappa 0.348 (A&P Table 1, sklearn's test).
    values = table_metrics([[20, 20], [10, 50]])
    assert values["percent_agreement"] == pytest.approx(0.7)
    assert values["cohen_kappa"] == pytest.approx(0.348, abs=5e-4)
    # pi by hand: pooled shares (40+30)/200 and (60+70)/200.
    expected_pi = (0.7 - (0.35 ** 2 + 0.65 ** 2)) / (1 - (0.35 ** 2 + 0.65 ** 2))
    assert values["scott_pi"] == pytest.approx(expected_pi)
    assert values["scott_pi"] == pytest.approx(0.3407, abs=5e-5)


def test_artstein_poesio_table_4():
    # Stat/IReq/Chck: coder A 46/44/10, coder B 52/32/16, A_o = 0.88; kappa 0.8013.
    table = [[46, 0, 0], [6, 32, 6], [0, 0, 10]]
    values = table_metrics(table)
    assert values["percent_agreement"] == pytest.approx(0.88)
    assert values["cohen_kappa"] == pytest.approx(0.8013, abs=5e-5)
    pooled = np.array([46 + 52, 44 + 32, 10 + 16]) / 200
    assert values["scott_pi"] == pytest.approx((0.88 - (pooled ** 2).sum()) / (1 - (pooled ** 2).sum()))
    assert values["scott_pi"] == pytest.approx(0.7995, abs=5e-5)


# --- scikit-learn's documented examples ------------------------------------------------------

def test_sklearn_docstring_example():
    labels = {"negative": 0, "neutral": 1, "positive": 2}
    y1 = ["negative", "positive", "negative", "neutral", "positive"]
    y2 = ["negative", "positive", "negative", "neutral", "negative"]
    sample = pair_sample(np.array([labels[v] for v in y1], float),
                         np.array([labels[v] for v in y2], float), "nominal", 3)
    assert pair_agreement(sample)["cohen_kappa"].value == pytest.approx(0.6875)


def test_sklearn_weighted_example():
    a = np.array([0] * 46 + [1] * 44 + [2] * 10, float)
    b = np.array([0] * 50 + [1] * 40 + [2] * 10, float)
    results = pair_agreement(pair_sample(a, b, "ordinal", 3))
    assert results["cohen_kappa"].value == pytest.approx(0.9315, abs=5e-5)
    assert results["kappa_linear"].value == pytest.approx(0.9412, abs=5e-5)
    assert results["kappa_quadratic"].value == pytest.approx(0.9541, abs=5e-5)


# --- Gwet's irrCAC ---------------------------------------------------------------------------

CONT3X3_ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
CONT4X4_DIAGNOSIS = [[40, 4, 4, 17], [6, 25, 2, 13], [4, 1, 21, 12], [15, 5, 9, 45]]


def test_irrcac_cont3x3_abstractors():
    values = table_metrics(CONT3X3_ABSTRACTORS)
    assert values["percent_agreement"] == pytest.approx(0.89)
    assert values["cohen_kappa"] == pytest.approx(0.7964094, abs=5e-8)
    assert values["scott_pi"] == pytest.approx(0.7962397, abs=5e-8)
    assert values["gwet_ac1"] == pytest.approx(0.8493305, abs=5e-8)
    assert values["krippendorff_alpha"] == pytest.approx(0.7972585, abs=5e-8)
    ordinal = table_metrics(CONT3X3_ABSTRACTORS, "ordinal")
    assert ordinal["kappa_linear"] == pytest.approx(0.843, abs=5e-4)
    assert ordinal["kappa_quadratic"] == pytest.approx(0.892, abs=5e-4)


def test_irrcac_cont4x4_diagnosis():
    values = table_metrics(CONT4X4_DIAGNOSIS, "ordinal")
    assert values["cohen_kappa"] == pytest.approx(0.432, abs=5e-4)
    assert values["scott_pi"] == pytest.approx(0.430, abs=5e-4)
    assert values["gwet_ac1"] == pytest.approx(0.456, abs=5e-4)
    assert values["kappa_linear"] == pytest.approx(0.407, abs=5e-4)
    assert values["kappa_quadratic"] == pytest.approx(0.383, abs=5e-4)


def independent_ac1(a: np.ndarray, b: np.ndarray, q: int) -> float:
    """Gwet (2008), eq. for two raters, written from the paper's definition."""
    agree = np.mean(a == b)
    pi = np.array([(np.sum(a == k) + np.sum(b == k)) / (2 * len(a)) for k in range(q)])
    chance = np.sum(pi * (1 - pi)) / (q - 1)
    return (agree - chance) / (1 - chance)


@pytest.mark.parametrize("seed", range(5))
def test_gwet_ac1_matches_an_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(2, 6))
    a = rng.integers(0, q, 200).astype(float)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, q, 200)).astype(float)
    assert gwet_ac1(pair_sample(a, b, "nominal", q))[0] == pytest.approx(independent_ac1(a, b, q))


# --- Many raters: Krippendorff (2011), irrCAC, Fleiss (1971), Wikipedia -----------------------

# Krippendorff (2011): 4 observers (rows) x 12 units, values 1-5 (codes 0-4 here).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]).T - 1


@pytest.mark.parametrize(("scale", "expected"), [("nominal", 0.743), ("ordinal", 0.815),
                                                 ("interval", 0.849)])
def test_krippendorff_2011_example(scale, expected):
    values = KRIPPENDORFF_2011 + (1 if scale == "interval" else 0)
    result = group_agreement(group_sample(values, scale, 5))["krippendorff_alpha"]
    assert result.value == pytest.approx(expected, abs=5e-4)
    assert result.n == 11  # unit 12 has a single value and no pairable pair


def test_irrcac_raw4raters():
    # irrCAC's cac.raw4raters: the same data with unit 12's single value by rater 3.
    results = group_agreement(group_sample(KRIPPENDORFF_2011, "nominal", 5))
    assert results["fleiss_kappa"].value == pytest.approx(0.76117, abs=5e-6)
    assert results["krippendorff_alpha"].value == pytest.approx(0.74342, abs=5e-6)


def test_krippendorff_package_docstring_example():
    data = np.array([
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]).T
    nominal = group_agreement(group_sample(data - 1, "nominal", 4))["krippendorff_alpha"]
    interval = group_agreement(group_sample(data, "interval", 0))["krippendorff_alpha"]
    assert nominal.value == pytest.approx(0.691358, abs=5e-7)
    assert interval.value == pytest.approx(0.810845, abs=5e-7)


def ratings_from_distribution(counts: list[list[int]]) -> np.ndarray:
    """Items x raters codes from per-item label counts (rater identity is irrelevant here)."""
    rows = [np.repeat(np.arange(len(row)), row).astype(float) for row in counts]
    width = max(len(r) for r in rows)
    return np.array([np.pad(r, (0, width - len(r)), constant_values=NAN) for r in rows])


FLEISS_1971 = [  # irrCAC distrib.6raters: 15 patients, 6 psychiatrists, 5 diagnoses
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
]
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_1971_data_as_in_irrcac():
    results = group_agreement(group_sample(ratings_from_distribution(FLEISS_1971), "nominal", 5))
    assert results["fleiss_kappa"].value == pytest.approx(0.4139265, abs=5e-8)
    assert results["krippendorff_alpha"].value == pytest.approx(0.4204384, abs=5e-8)


def test_wikipedia_fleiss_example():
    results = group_agreement(group_sample(ratings_from_distribution(WIKIPEDIA_FLEISS),
                                           "nominal", 5))
    assert results["fleiss_kappa"].value == pytest.approx(0.210, abs=5e-4)
    assert results["fleiss_kappa"].n == 10
