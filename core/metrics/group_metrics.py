"""Agreement among many raters with missing labels, vectorised over samples.

Functions take a :class:`~core.metrics.samples.GroupSample` (B weight rows over distinct item
patterns) and return B values, NaN where undefined.
"""

from __future__ import annotations

import numpy as np

from core.metrics.pair_metrics import alpha_from_coincidences, alpha_interval, safe_ratio
from core.metrics.samples import GroupSample


def fleiss_kappa(sample: GroupSample) -> np.ndarray:
    """Fleiss' kappa in Gwet's (2014) form for a varying number of raters per item.

    p_a averages, over items with m_i >= 2 labels, sum_k r_ik (r_ik - 1) / (m_i (m_i - 1));
    pi_k averages r_ik / m_i over items with at least one label; p_e = sum_k pi_k^2.
    With the same m for every item this is exactly Fleiss (1971).
    """
    counts = sample.patterns
    m = counts.sum(axis=1)
    pairable = m >= 2
    safe_m = np.where(m > 0, m, 1.0)
    agreement = np.where(pairable, (counts * (counts - 1)).sum(axis=1)
                         / np.where(pairable, m * (m - 1), 1.0), 0.0)
    w = sample.weights
    observed = safe_ratio(w @ agreement, w @ pairable.astype(float))
    shares = safe_ratio(w @ (counts / safe_m[:, None]), w.sum(axis=1)[:, None])
    expected = (shares ** 2).sum(axis=1)
    return safe_ratio(observed - expected, 1.0 - expected)


def group_alpha(sample: GroupSample) -> np.ndarray:
    """Krippendorff's alpha of all raters at the sample's level (nominal/ordinal/interval).

    Items with fewer than two labels carry no pairable values and are left out, as in
    Krippendorff (2011).
    """
    w = sample.weights
    if sample.scale == "interval":
        m, centred_sum, centred_squares, spread, low, high = sample.patterns.T
        used = w > 0
        varies = (np.where(used, high, -np.inf).max(axis=1)
                  > np.where(used, low, np.inf).min(axis=1))
        return alpha_interval(w @ m, w @ centred_sum, w @ centred_squares, w @ spread, varies)
    counts = sample.patterns
    k = sample.n_labels
    m = counts.sum(axis=1)
    pairable = m >= 2
    # Coincidences of one item: (c c^T - diag(c)) / (m - 1).
    per_item = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(k)[None]
    per_item = np.where(pairable[:, None, None],
                        per_item / np.where(pairable, m - 1, 1.0)[:, None, None], 0.0)
    coincidences = (w @ per_item.reshape(len(counts), k * k)).reshape(len(w), k, k)
    return alpha_from_coincidences(coincidences, sample.scale)
