"""Agreement between two raters, vectorised over samples.

Every function takes a :class:`~core.metrics.samples.PairSample` with B weight rows and
returns B values, NaN where the metric is undefined for that row (the callers turn NaN into a
reason; nothing here returns a silent 0). Table-based metrics read the k x k contingency
table; correlations use weighted mid-ranks, which equal scipy's average ranks on the
expanded items, so resampled tables need no per-resample sorting.
"""

from __future__ import annotations

import numpy as np

from core.metrics.samples import PairSample

# 1 - p_e below this is "chance agreement is 1": the coefficient is 0/0.
EPSILON = 1e-12


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where |denominator| <= EPSILON."""
    ok = np.abs(denominator) > EPSILON
    return np.where(ok, numerator / np.where(ok, denominator, 1.0), np.nan)


def percent_agreement(sample: PairSample) -> np.ndarray:
    """Share of pairable items with the same label: trace(P)."""
    p, _, _ = sample.proportions
    return np.trace(p, axis1=1, axis2=2)


def cohen_kappa(sample: PairSample) -> np.ndarray:
    """Cohen's kappa: (p_o - p_e) / (1 - p_e), p_e = sum_k row_k * col_k."""
    p, rows, cols = sample.proportions
    observed = np.trace(p, axis1=1, axis2=2)
    expected = (rows * cols).sum(axis=1)
    return safe_ratio(observed - expected, 1.0 - expected)


def scott_pi(sample: PairSample) -> np.ndarray:
    """Scott's pi: chance from the pooled label distribution, p_e = sum_k ((row_k+col_k)/2)^2."""
    p, rows, cols = sample.proportions
    observed = np.trace(p, axis1=1, axis2=2)
    expected = (((rows + cols) / 2) ** 2).sum(axis=1)
    return safe_ratio(observed - expected, 1.0 - expected)


def gwet_ac1(sample: PairSample) -> np.ndarray:
    """Gwet's AC1: p_e = sum_k pi_k (1 - pi_k) / (q - 1), q = labels on the scale."""
    p, rows, cols = sample.proportions
    observed = np.trace(p, axis1=1, axis2=2)
    pooled = (rows + cols) / 2
    expected = (pooled * (1 - pooled)).sum(axis=1) / (sample.n_labels - 1)
    return safe_ratio(observed - expected, 1.0 - expected)


def _disagreement_weights(k: int, power: int) -> np.ndarray:
    codes = np.arange(k, dtype=float)
    return (np.abs(codes[:, None] - codes[None, :]) / (k - 1)) ** power


def _weighted_kappa(sample: PairSample, power: int) -> np.ndarray:
    p, rows, cols = sample.proportions
    w = _disagreement_weights(sample.n_labels, power)
    observed = (p * w).sum(axis=(1, 2))
    expected = (rows[:, :, None] * cols[:, None, :] * w).sum(axis=(1, 2))
    return 1.0 - safe_ratio(observed, expected)


def kappa_linear(sample: PairSample) -> np.ndarray:
    """Linearly weighted kappa: 1 - sum(w O) / sum(w E), w_ij = |i - j| / (k - 1)."""
    return _weighted_kappa(sample, 1)


def kappa_quadratic(sample: PairSample) -> np.ndarray:
    """Quadratically weighted kappa: w_ij = ((i - j) / (k - 1))^2."""
    return _weighted_kappa(sample, 2)


def weighted_midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) of each cell's value, per weight row.

    A cell of weight w at a level holding W items, after C items of lower value, gets rank
    C + (W + 1) / 2 — exactly what scipy.stats.rankdata(method="average") gives each of
    those items in the expanded sample.
    """
    if values.size == 0:
        return np.zeros_like(weights)
    _, level = np.unique(values, return_inverse=True)
    order = np.argsort(level, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(level[order]) != 0])
    level_weight = np.add.reduceat(weights[:, order], starts, axis=1)
    up_to = np.cumsum(level_weight, axis=1)
    return (up_to - (level_weight - 1) / 2)[:, level]


def _weighted_correlation(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of x and y (U or B x U) under weights (B x U)."""
    n = weights.sum(axis=1)
    dx = x - ((weights * x).sum(axis=1) / n)[:, None]
    dy = y - ((weights * y).sum(axis=1) / n)[:, None]
    sxx = (weights * dx * dx).sum(axis=1)
    syy = (weights * dy * dy).sum(axis=1)
    sxy = (weights * dx * dy).sum(axis=1)
    ok = (sxx > 0) & (syy > 0)
    r = np.where(ok, sxy / np.sqrt(np.where(ok, sxx * syy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def _agree_everywhere(sample: PairSample) -> np.ndarray:
    """True per row where a and b gave the same value on every pairable item."""
    used = sample.weights > 0
    return np.where(used, sample.x == sample.y, True).all(axis=1)


def _correlation_defined(sample: PairSample) -> np.ndarray:
    constant_a, constant_b = sample.constant
    return ~(constant_a | constant_b)


def pearson(sample: PairSample) -> np.ndarray:
    """Pearson's r of the two raters' values."""
    r = _weighted_correlation(np.broadcast_to(sample.x, sample.weights.shape),
                              np.broadcast_to(sample.y, sample.weights.shape), sample.weights)
    return np.where(_correlation_defined(sample), r, np.nan)


def spearman(sample: PairSample) -> np.ndarray:
    """Spearman's rho: Pearson's r of the average ranks."""
    ranks_x = weighted_midranks(sample.x, sample.weights)
    ranks_y = weighted_midranks(sample.y, sample.weights)
    r = _weighted_correlation(ranks_x, ranks_y, sample.weights)
    return np.where(_correlation_defined(sample), r, np.nan)


def kendall_tau_b(sample: PairSample) -> np.ndarray:
    """Kendall's tau-b from the contingency table (ordinal scales).

    Concordant pairs P = sum_ij n_ij * (items strictly below-right), discordant Q likewise
    below-left; tau_b = (P - Q) / sqrt((n0 - n1)(n0 - n2)) with n0 = n(n-1)/2 and n1, n2 the
    pairs tied on a and on b.
    """
    table = sample.table()
    below = np.cumsum(table[:, ::-1, :], axis=1)[:, ::-1, :] - table  # rows strictly below
    right = np.cumsum(below[:, :, ::-1], axis=2)[:, :, ::-1] - below  # ... and columns right
    left = np.cumsum(below, axis=2) - below
    concordant = (table * right).sum(axis=(1, 2))
    discordant = (table * left).sum(axis=(1, 2))
    n = table.sum(axis=(1, 2))
    rows, cols = table.sum(axis=2), table.sum(axis=1)
    pairs = n * (n - 1) / 2
    untied_a = pairs - (rows * (rows - 1) / 2).sum(axis=1)
    untied_b = pairs - (cols * (cols - 1) / 2).sum(axis=1)
    denominator = np.sqrt(np.maximum(untied_a * untied_b, 0.0))
    return np.clip(safe_ratio(concordant - discordant, denominator), -1.0, 1.0)


def mae(sample: PairSample) -> np.ndarray:
    """Mean absolute difference |a - b| (label steps for ordinal, units for interval)."""
    return (sample.weights * np.abs(sample.x - sample.y)).sum(axis=1) / sample.n


def mean_signed_difference(sample: PairSample) -> np.ndarray:
    """Mean of b - a: positive when b scores higher than a (b is more lenient)."""
    return (sample.weights * (sample.y - sample.x)).sum(axis=1) / sample.n


def nominal_distance(k: int) -> np.ndarray:
    """Krippendorff's nominal difference: 0 on the diagonal, 1 elsewhere."""
    return 1.0 - np.eye(k)


def ordinal_distance(marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal difference for label totals n_g (B x k) -> B x k x k.

    delta(c, d) = (sum_{g=c..d} n_g - (n_c + n_d) / 2)^2 for c <= d, symmetric.
    """
    k = marginals.shape[1]
    codes = np.arange(k)
    low, high = np.minimum.outer(codes, codes), np.maximum.outer(codes, codes)
    cumulative = np.cumsum(marginals, axis=1)
    between = cumulative[:, high] - cumulative[:, low] + marginals[:, low]
    return (between - (marginals[:, low] + marginals[:, high]) / 2) ** 2


def alpha_from_coincidences(coincidences: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's alpha from coincidence matrices (B x k x k) at a nominal/ordinal level.

    alpha = 1 - (n - 1) * sum(o_cd delta_cd) / sum(n_c n_d delta_cd), n = total pairable values.
    """
    marginals = coincidences.sum(axis=2)
    n = marginals.sum(axis=1)
    if level == "ordinal":
        delta = ordinal_distance(marginals)
    else:
        delta = nominal_distance(coincidences.shape[1])[None, :, :]
    observed = (coincidences * delta).sum(axis=(1, 2))
    expected = (marginals[:, :, None] * marginals[:, None, :] * delta).sum(axis=(1, 2))
    return 1.0 - safe_ratio((n - 1) * observed, expected)


def alpha_interval(n_values: np.ndarray, centred_sum: np.ndarray, centred_squares: np.ndarray,
                   spread: np.ndarray, varies: np.ndarray) -> np.ndarray:
    """Krippendorff's interval alpha from pooled sums (all B-vectors).

    With n pairable values, SS_total = sum (v - mean)^2 and, per item u with m_u values,
    spread_u = m_u * SS_u / (m_u - 1): alpha = 1 - (n - 1) * sum(spread_u) / (n * SS_total).
    ``varies`` is False where all pairable values are equal (alpha is 0/0 there); it is
    decided exactly by the caller rather than by comparing a rounded SS_total with zero.
    """
    total = centred_squares - centred_sum ** 2 / np.where(n_values > 0, n_values, 1.0)
    ok = varies & (total > 0)
    alpha = 1.0 - (n_values - 1) * spread / np.where(ok, n_values * total, 1.0)
    return np.where(ok, alpha, np.nan)


def krippendorff_alpha(sample: PairSample) -> np.ndarray:
    """Krippendorff's alpha between the two raters at the sample's level of measurement."""
    if sample.scale == "interval":
        w = sample.weights
        centre = ((w * (sample.x + sample.y)).sum(axis=1) / (2 * sample.n))[:, None]
        x, y = sample.x - centre, sample.y - centre
        constant_a, constant_b = sample.constant
        varies = ~(constant_a & constant_b & _agree_everywhere(sample))
        return alpha_interval(2 * sample.n, (w * (x + y)).sum(axis=1),
                              (w * (x * x + y * y)).sum(axis=1),
                              (w * (sample.x - sample.y) ** 2).sum(axis=1), varies)
    table = sample.table()
    # Each item gives the ordered pairs (a, b) and (b, a), weighted 1 / (m - 1) = 1.
    return alpha_from_coincidences(table + table.transpose(0, 2, 1), sample.scale)
