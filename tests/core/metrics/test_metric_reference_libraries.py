"""Every pair and group metric equals an independent implementation on random data with
missing labels: scikit-learn (kappa, weighted kappa), scipy (Spearman, Kendall tau-b,
Pearson), the krippendorff package (alpha at all three levels) and plain numpy (agreement,
MAE, mean signed difference). Missing labels are dropped pairwise before calling the
references, which is what Docket promises."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy.stats import kendalltau, pearsonr, spearmanr
from sklearn.metrics import cohen_kappa_score

from core.metrics import agreement, group_agreement, group_sample
from core.schema import Dimension, Label


def ordinal(k: int) -> Dimension:
    return Dimension("score", "ordinal", "Score",
                     labels=tuple(Label(str(v), str(v)) for v in range(1, k + 1)))


def nominal(k: int) -> Dimension:
    return Dimension("kind", "nominal", "Kind", labels=tuple(Label(f"l{v}", f"l{v}") for v in range(k)))


INTERVAL = Dimension("score", "interval", "Score", minimum=0, maximum=10)


def correlated_codes(rng: np.random.Generator, n: int, k: int, missing: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, k, n).astype(float)
    b = np.clip(a + rng.integers(-1, 2, n), 0, k - 1).astype(float)
    b = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), b)
    a[rng.random(n) < missing] = np.nan
    b[rng.random(n) < missing] = np.nan
    return a, b


@pytest.mark.parametrize("seed", range(6))
def test_ordinal_pair_metrics_match_reference_libraries(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 7))
    a, b = correlated_codes(rng, int(rng.integers(30, 400)), k, 0.15)
    both = ~(np.isnan(a) | np.isnan(b))
    x, y = a[both], b[both]
    results = agreement(a, b, ordinal(k))
    labels = list(range(k))
    assert results["percent_agreement"].n == both.sum()
    assert results["percent_agreement"].value == pytest.approx(np.mean(x == y))
    assert results["cohen_kappa"].value == pytest.approx(cohen_kappa_score(x, y, labels=labels))
    assert results["kappa_linear"].value == pytest.approx(
        cohen_kappa_score(x, y, labels=labels, weights="linear"))
    assert results["kappa_quadratic"].value == pytest.approx(
        cohen_kappa_score(x, y, labels=labels, weights="quadratic"))
    assert results["spearman"].value == pytest.approx(spearmanr(x, y).statistic)
    assert results["kendall_tau_b"].value == pytest.approx(kendalltau(x, y).statistic)
    assert results["mae"].value == pytest.approx(np.mean(np.abs(x - y)))
    assert results["krippendorff_alpha"].value == pytest.approx(krippendorff.alpha(
        np.vstack([x, y]), level_of_measurement="ordinal", value_domain=labels))


@pytest.mark.parametrize("seed", range(4))
def test_nominal_pair_metrics_match_reference_libraries(seed):
    rng = np.random.default_rng(100 + seed)
    k = int(rng.integers(2, 5))
    a, b = correlated_codes(rng, 300, k, 0.1)
    both = ~(np.isnan(a) | np.isnan(b))
    x, y = a[both], b[both]
    results = agreement(a, b, nominal(k))
    assert set(results) == {"percent_agreement", "cohen_kappa", "scott_pi", "gwet_ac1",
                            "krippendorff_alpha"}
    assert results["cohen_kappa"].value == pytest.approx(cohen_kappa_score(x, y))
    assert results["krippendorff_alpha"].value == pytest.approx(krippendorff.alpha(
        np.vstack([x, y]), level_of_measurement="nominal", value_domain=list(range(k))))


@pytest.mark.parametrize("seed", range(4))
def test_interval_pair_metrics_match_reference_libraries(seed):
    rng = np.random.default_rng(200 + seed)
    n = 250
    a = np.round(rng.uniform(0, 10, n), 1)
    b = np.clip(np.round(a + rng.normal(0.5, 1.5, n), 1), 0, 10)
    a[rng.random(n) < 0.1] = np.nan
    both = ~(np.isnan(a) | np.isnan(b))
    x, y = a[both], b[both]
    results = agreement(a, b, INTERVAL)
    assert set(results) == {"pearson", "spearman", "mae", "mean_signed_difference",
                            "krippendorff_alpha"}
    assert results["pearson"].value == pytest.approx(pearsonr(x, y).statistic)
    assert results["spearman"].value == pytest.approx(spearmanr(x, y).statistic)
    assert results["mae"].value == pytest.approx(np.mean(np.abs(x - y)))
    assert results["mean_signed_difference"].value == pytest.approx(np.mean(y - x))
    assert results["krippendorff_alpha"].value == pytest.approx(
        krippendorff.alpha(np.vstack([x, y]), level_of_measurement="interval"))


@pytest.mark.parametrize(("scale", "seed"), [(s, seed) for s in ("nominal", "ordinal", "interval")
                                             for seed in range(3)])
def test_group_alpha_matches_krippendorff_package(scale, seed):
    rng = np.random.default_rng(300 + seed)
    n_items, n_raters, k = 120, int(rng.integers(3, 7)), 5
    truth = rng.integers(0, k, n_items)
    values = np.column_stack([np.where(rng.random(n_items) < 0.6, truth, rng.integers(0, k, n_items))
                              for _ in range(n_raters)]).astype(float)
    values[rng.random(values.shape) < 0.3] = np.nan
    if scale == "interval":
        values = values * 1.5 + 2
    result = group_agreement(group_sample(values, scale, 0 if scale == "interval" else k))
    domain = None if scale == "interval" else list(range(k))
    expected = krippendorff.alpha(values.T, level_of_measurement=scale, value_domain=domain)
    assert result["krippendorff_alpha"].value == pytest.approx(expected)
    assert result["krippendorff_alpha"].n == int(((~np.isnan(values)).sum(axis=1) >= 2).sum())


def classic_fleiss(counts: np.ndarray) -> float:
    """Fleiss (1971) for a constant number of raters per item (Wikipedia's formulas)."""
    n_items, m = len(counts), counts.sum(axis=1)[0]
    p_j = counts.sum(axis=0) / (n_items * m)
    p_i = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    return (p_i.mean() - (p_j ** 2).sum()) / (1 - (p_j ** 2).sum())


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_with_complete_data_is_classic_fleiss(seed):
    rng = np.random.default_rng(400 + seed)
    k, n_raters = 4, int(rng.integers(2, 8))
    truth = rng.integers(0, k, 200)
    values = np.column_stack([np.where(rng.random(200) < 0.7, truth, rng.integers(0, k, 200))
                              for _ in range(n_raters)]).astype(float)
    counts = np.stack([(values == c).sum(axis=1) for c in range(k)], axis=1)
    result = group_agreement(group_sample(values, "nominal", k))["fleiss_kappa"]
    assert result.value == pytest.approx(classic_fleiss(counts))
