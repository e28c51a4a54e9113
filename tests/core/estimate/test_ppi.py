"""PPI++ against ``ppi_py`` (the authors' package, a test-only oracle) and the weighted form
against a hand computation written out item by item."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.estimate.ppi import (
    EstimateError,
    classical_mean,
    classical_mean_weighted,
    ppi_mean,
    ppi_mean_weighted,
    tuned_lambda,
)

ppi_py = pytest.importorskip("ppi_py")


def _data(seed: int, n: int, big_n: int, quality: float, binary: bool):
    rng = np.random.default_rng(seed)
    truth = rng.random(n + big_n) < 0.6 if binary else rng.normal(3, 1, n + big_n)
    truth = truth.astype(float)
    noise = rng.random(n + big_n) < quality if binary else rng.normal(0, 1, n + big_n)
    predicted = np.where(noise, truth, 1 - truth) if binary else quality * truth + noise
    return truth[:n], predicted[:n], predicted[n:]


CASES = [(seed, n, big_n, quality, binary)
         for seed, (n, big_n) in enumerate([(30, 3570), (60, 340), (200, 200), (400, 3200)])
         for quality, binary in ((0.9, True), (0.55, True), (0.1, True), (1.0, False), (0.0, False))]


@pytest.mark.parametrize(("seed", "n", "big_n", "quality", "binary"), CASES)
def test_ppi_mean_equals_ppi_py(seed, n, big_n, quality, binary):
    y, f, f_unlabelled = _data(seed, n, big_n, quality, binary)
    ours = ppi_mean(y, f, f_unlabelled, alpha=0.05)
    low, high = ppi_py.ppi_mean_ci(y, f, f_unlabelled, alpha=0.05)
    point = ppi_py.ppi_mean_pointestimate(y, f, f_unlabelled)
    assert ours.estimate == pytest.approx(float(np.ravel(point)[0]), abs=1e-9)
    assert ours.ci[0] == pytest.approx(float(np.ravel(low)[0]), abs=1e-9)
    assert ours.ci[1] == pytest.approx(float(np.ravel(high)[0]), abs=1e-9)
    # λ: the package's own tuning, reached through its GLM helper on the mean's gradients.
    from ppi_py.ppi import _calc_lam_glm
    theta = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, f, f_unlabelled, lam=1))[0])
    lam = _calc_lam_glm((y - theta)[:, None], (f - theta)[:, None],
                        (f_unlabelled - theta)[:, None], np.eye(1), clip=True)
    assert ours.lam == pytest.approx(float(lam), abs=1e-9)
    assert 0.0 <= ours.lam <= 1.0


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_fixed_lambda_equals_ppi_py(lam):
    y, f, f_unlabelled = _data(7, 80, 900, 0.8, True)
    ours = ppi_mean(y, f, f_unlabelled, lam=lam, alpha=0.1)
    low, high = ppi_py.ppi_mean_ci(y, f, f_unlabelled, alpha=0.1, lam=lam)
    assert ours.ci == pytest.approx((float(np.ravel(low)[0]), float(np.ravel(high)[0])), abs=1e-9)


def test_classical_is_lambda_zero_and_the_textbook_interval():
    y = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    result = classical_mean(y)
    # Hand: mean 0.75, population sd sqrt(0.75 * 0.25), z = 1.959963984540054.
    se = math.sqrt(0.75 * 0.25) / math.sqrt(8)
    assert result.estimate == 0.75
    assert result.ci == pytest.approx((0.75 - 1.959963984540054 * se, 0.75 + 1.959963984540054 * se),
                                      abs=1e-12)
    y2, f, rest = _data(3, 50, 500, 0.8, True)
    assert ppi_mean(y2, f, rest, lam=0.0).ci == pytest.approx(classical_mean(y2).ci, abs=1e-12)


def test_useless_judge_gives_lambda_zero_and_the_classical_interval():
    y, _, _ = _data(5, 100, 0, 0.0, True)
    rng = np.random.default_rng(9)
    f, rest = rng.random(100) < 0.5, rng.random(1000) < 0.5  # noise unrelated to y
    result = ppi_mean(y, f.astype(float), rest.astype(float))
    assert result.halfwidth <= classical_mean(y).halfwidth * 1.02
    constant = ppi_mean(y, np.ones(100), np.ones(1000))
    assert constant.lam == 0.0 and constant.ci == pytest.approx(classical_mean(y).ci)


def test_weighted_form_by_hand():
    # Five items, two labelled with probabilities 0.5 and 0.25; written out term by term.
    f_all = [1.0, 0.0, 1.0, 1.0, 0.0]
    labelled = [True, False, False, True, False]
    y = [1.0, 0.0]
    pi = [0.5, 0.4, 0.4, 0.25, 0.4]
    lam = 0.5
    z = []
    ys = {0: 1.0, 3: 0.0}
    for i in range(5):
        xi = 1.0 if labelled[i] else 0.0
        yi = ys.get(i, 0.0)
        z.append(lam * f_all[i] + (yi - lam * f_all[i]) * xi / pi[i])
    mean = sum(z) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in z) / 5)
    result = ppi_mean_weighted(f_all, labelled, y, pi, lam=lam)
    assert z == pytest.approx([1.5, 0.0, 0.5, -1.5, 0.0])  # 0.5 + 0.5/0.5; 0.5 - 0.5/0.25
    assert result.estimate == pytest.approx(mean, abs=1e-12)
    assert result.se == pytest.approx(sd / math.sqrt(5), abs=1e-12)
    assert result.ci == pytest.approx((mean - 1.959963984540054 * sd / math.sqrt(5),
                                       mean + 1.959963984540054 * sd / math.sqrt(5)), abs=1e-12)
    # Tuned λ minimises the variance of Z over λ (checked on a fine grid by hand).
    tuned = ppi_mean_weighted(f_all, labelled, y, pi)
    grid = np.linspace(0, 1, 10001)
    variances = [np.var([g * f_all[i] + (ys.get(i, 0.0) - g * f_all[i])
                         * (1.0 if labelled[i] else 0.0) / pi[i] for i in range(5)]) for g in grid]
    assert tuned.lam == pytest.approx(grid[int(np.argmin(variances))], abs=1e-4)
    # λ = 0 is Horvitz–Thompson: (1/0.5 + 0/0.25) / 5 = 0.4.
    assert classical_mean_weighted(labelled, y, pi).estimate == pytest.approx(0.4)


def test_weighted_form_is_unbiased_over_all_draws():
    # Exact expectation over every subset of a 6-item population under Poisson sampling.
    from itertools import product
    truth = np.array([1, 0, 1, 1, 0, 1], dtype=float)
    f_all = np.array([0.9, 0.2, 0.4, 1.0, 0.0, 0.6])
    pi = np.array([0.9, 0.5, 0.7, 0.3, 0.6, 0.8])
    expected = 0.0
    for draw in product([False, True], repeat=6):
        mask = np.array(draw)
        weight = np.prod(np.where(mask, pi, 1 - pi))
        z = 0.7 * f_all + (truth - 0.7 * f_all) * mask / pi
        expected += weight * z.mean()
    assert expected == pytest.approx(truth.mean(), abs=1e-12)
    # and our function computes that Z for a draw
    mask = np.array([True, False, True, False, False, True])
    ours = ppi_mean_weighted(f_all, mask, truth[mask], pi, lam=0.7).estimate
    assert ours == pytest.approx((0.7 * f_all + (truth - 0.7 * f_all) * mask / pi).mean())


def test_bad_inputs_name_the_problem():
    with pytest.raises(EstimateError, match="y has 2 labels but f has 3"):
        ppi_mean([1, 0], [1, 0, 1], [1.0])
    with pytest.raises(EstimateError, match="at least 2 labels"):
        ppi_mean([1], [1], [1.0])
    with pytest.raises(EstimateError, match="unlabelled item"):
        ppi_mean([1, 0], [1, 0], [])
    with pytest.raises(EstimateError, match="NaN"):
        classical_mean([1, float("nan")])
    with pytest.raises(EstimateError, match=r"\(0, 1\]"):
        ppi_mean_weighted([1, 0, 1], [True, True, False], [1, 0], [0.5, 0.0, 0.2])
    with pytest.raises(EstimateError, match="alpha"):
        classical_mean([1, 0], alpha=1.5)
    assert tuned_lambda(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([1.0])) == 0.0
