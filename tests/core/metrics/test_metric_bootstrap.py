"""The vectorised bootstrap against the naive one, which is the oracle.

Naive: draw item indices with replacement B times and compute each metric on the resampled
items with an independent implementation (scikit-learn, scipy, the krippendorff package, or
the textbook formula written here). Docket: multinomial weights over table cells / value
pairs / item patterns, all B at once. With the same B and independent random streams the
95% percentile bounds must agree within 0.005; B and n are chosen so that the Monte-Carlo
standard error of a bound (about 0.001 here) is well below that. The slowest reference
implementations (sklearn's kappa ~1.5 ms, krippendorff's interval alpha ~4 ms per call) are
used where they check a resampling path once; elsewhere the textbook formula keeps the suite
fast.
"""

from __future__ import annotations

from collections.abc import Callable

import krippendorff
import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata
from sklearn.metrics import cohen_kappa_score

from core.metrics import group_agreement, group_sample, pair_agreement, pair_sample, resample_weights

RESAMPLES = 2000
TOLERANCE = 0.005

Metric = Callable[[np.ndarray, np.ndarray], float]


def naive_bounds(a: np.ndarray, b: np.ndarray, metrics: dict[str, Metric], seed: int,
                 resamples: int = RESAMPLES) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    values = {name: np.empty(resamples) for name in metrics}
    for index in range(resamples):
        pick = rng.integers(0, len(a), len(a))
        for name, metric in metrics.items():
            values[name][index] = metric(a[pick], b[pick])
    return {name: tuple(np.nanpercentile(v, [2.5, 97.5])) for name, v in values.items()}


def assert_close(fast: dict, naive: dict[str, tuple[float, float]]) -> None:
    for name, (low, high) in naive.items():
        interval = fast[name].ci95
        assert interval is not None, name
        assert interval[0] == pytest.approx(low, abs=TOLERANCE), (name, interval, (low, high))
        assert interval[1] == pytest.approx(high, abs=TOLERANCE), (name, interval, (low, high))


def pooled_chance(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    return np.array([(np.sum(a == c) + np.sum(b == c)) / (2 * len(a)) for c in range(k)])


def scott_pi(a: np.ndarray, b: np.ndarray, k: int = 3) -> float:
    pi = pooled_chance(a, b, k)
    return (np.mean(a == b) - np.sum(pi ** 2)) / (1 - np.sum(pi ** 2))


def gwet_ac1(a: np.ndarray, b: np.ndarray, k: int = 3) -> float:
    pi = pooled_chance(a, b, k)
    chance = np.sum(pi * (1 - pi)) / (k - 1)
    return (np.mean(a == b) - chance) / (1 - chance)


def labelled(rng: np.random.Generator, n: int, k: int, agree: float) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.choice(k, n, p=np.linspace(2, 1, k) / np.linspace(2, 1, k).sum())
    def noisy() -> np.ndarray:
        return np.where(rng.random(n) < agree, truth, rng.integers(0, k, n)).astype(float)
    return noisy(), noisy()


@pytest.mark.slow
def test_nominal_bootstrap_matches_the_naive_loop():
    a, b = labelled(np.random.default_rng(7), 2000, 3, 0.7)
    domain = [0, 1, 2]
    naive = naive_bounds(a, b, {
        "percent_agreement": lambda x, y: np.mean(x == y),
        "cohen_kappa": cohen_kappa_score,
        "scott_pi": scott_pi,
        "gwet_ac1": gwet_ac1,
        "krippendorff_alpha": lambda x, y: krippendorff.alpha(
            np.vstack([x, y]), level_of_measurement="nominal", value_domain=domain),
    }, seed=1)
    fast = pair_agreement(pair_sample(a, b, "nominal", 3), n_resamples=RESAMPLES,
                          rng=np.random.default_rng(2))
    assert_close(fast, naive)


def linear_kappa(x: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Cohen (1968) with disagreement weights |i - j|, from the item vectors."""
    observed = np.mean(np.abs(x - y))
    expected = np.mean(np.abs(x[:, None] - np.arange(k)[None, :]) @ np.bincount(
        y.astype(int), minlength=k)) / len(y)
    return 1 - observed / expected


def ranked_correlation(x: np.ndarray, y: np.ndarray) -> float:
    return np.corrcoef(rankdata(x), rankdata(y))[0, 1]


@pytest.mark.slow
def test_ordinal_bootstrap_matches_the_naive_loop():
    a, b = labelled(np.random.default_rng(8), 3000, 5, 0.5)
    b = np.clip(b + (np.random.default_rng(9).random(3000) < 0.2), 0, 4)
    labels = list(range(5))
    naive = naive_bounds(a, b, {
        "kappa_linear": linear_kappa,
        "kappa_quadratic": lambda x, y: cohen_kappa_score(x, y, labels=labels, weights="quadratic"),
        "spearman": ranked_correlation,
        "kendall_tau_b": lambda x, y: kendalltau(x, y).statistic,
        # MAE runs the same weighted-cell code as on interval data, checked below; in label
        # steps its spread (~0.09 here) would need far more resamples for a 0.005 tolerance.
        "krippendorff_alpha": lambda x, y: krippendorff.alpha(
            np.vstack([x, y]), level_of_measurement="ordinal", value_domain=labels),
    }, seed=3, resamples=1500)
    fast = pair_agreement(pair_sample(a, b, "ordinal", 5), n_resamples=1500,
                          rng=np.random.default_rng(4))
    assert_close(fast, naive)


def interval_alpha(x: np.ndarray, y: np.ndarray) -> float:
    """Krippendorff's definition for two coders: 1 - D_o / D_e over all pairable values."""
    values = np.concatenate([x, y])
    n = len(values)
    observed = np.sum(2 * (x - y) ** 2) / n
    expected = 2 * n * np.sum((values - values.mean()) ** 2) / (n * (n - 1))
    return 1 - observed / expected


@pytest.mark.slow
def test_interval_bootstrap_matches_the_naive_loop():
    rng = np.random.default_rng(10)
    a = rng.integers(3, 16, 1500) / 3  # 1..5 in thirds, like means of three 1-5 ratings
    b = np.clip(np.round((a + rng.normal(0.3, 0.8, 1500)) * 3) / 3, 1, 5)
    assert interval_alpha(a, b) == pytest.approx(
        krippendorff.alpha(np.vstack([a, b]), level_of_measurement="interval"))
    naive = naive_bounds(a, b, {
        "pearson": lambda x, y: np.corrcoef(x, y)[0, 1],
        "spearman": ranked_correlation,
        "mae": lambda x, y: np.mean(np.abs(x - y)),
        "mean_signed_difference": lambda x, y: np.mean(y - x),
        "krippendorff_alpha": interval_alpha,
    }, seed=5)
    fast = pair_agreement(pair_sample(a, b, "interval", 0), n_resamples=RESAMPLES,
                          rng=np.random.default_rng(6))
    assert_close(fast, naive)


def classic_fleiss(values: np.ndarray, k: int) -> float:
    counts = np.stack([(values == c).sum(axis=1) for c in range(k)], axis=1)
    m = counts.sum(axis=1)[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    return (p_i.mean() - (p_j ** 2).sum()) / (1 - (p_j ** 2).sum())


@pytest.mark.slow
def test_group_bootstrap_matches_the_naive_loop():
    rng = np.random.default_rng(11)
    k, n = 3, 1500
    truth = rng.integers(0, k, n)
    values = np.column_stack([np.where(rng.random(n) < 0.75, truth, rng.integers(0, k, n))
                              for _ in range(4)]).astype(float)
    items = np.arange(n, dtype=float)
    naive = naive_bounds(items, items, {
        "fleiss_kappa": lambda pick, _: classic_fleiss(values[pick.astype(int)], k),
        "krippendorff_alpha": lambda pick, _: krippendorff.alpha(
            values[pick.astype(int)].T, level_of_measurement="nominal", value_domain=[0, 1, 2]),
    }, seed=12)
    fast = group_agreement(group_sample(values, "nominal", k), n_resamples=RESAMPLES,
                           rng=np.random.default_rng(13))
    assert_close(fast, naive)


def test_resampled_tables_are_multinomial():
    counts = np.array([30.0, 0.0, 50.0, 20.0])
    draws = resample_weights(counts, 100_000, np.random.default_rng(0))
    assert (draws.sum(axis=1) == 100).all() and (draws[:, 1] == 0).all()
    p = counts / 100
    assert draws.mean(axis=0) == pytest.approx(100 * p, abs=0.1)
    expected_cov = 100 * (np.diag(p) - np.outer(p, p))
    assert np.cov(draws.T) == pytest.approx(expected_cov, abs=0.35)


def test_no_confidence_interval_without_resamples_or_for_undefined_metrics():
    a = np.array([0, 1, 0, 1, 1], float)
    constant = np.zeros(5)
    results = pair_agreement(pair_sample(a, constant, "nominal", 2), n_resamples=200,
                             rng=np.random.default_rng(0))
    assert results["percent_agreement"].ci95 is not None
    assert all(r.ci95 is None for r in pair_agreement(pair_sample(a, a, "nominal", 2)).values())
    both_constant = pair_agreement(pair_sample(constant, constant, "nominal", 2), n_resamples=200,
                                   rng=np.random.default_rng(0))
    assert both_constant["cohen_kappa"].value is None and both_constant["cohen_kappa"].ci95 is None
