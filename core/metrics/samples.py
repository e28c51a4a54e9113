"""Weighted samples: the compact form every metric and every bootstrap resample works on.

Resampling items with replacement only changes *how often* each distinct observation occurs,
so a sample is stored as its distinct cells plus a weight matrix with one row per (re)sample:

* :class:`PairSample` — two raters on their common items. Nominal/ordinal: the k x k cells of
  the contingency table (``x`` = a's code, ``y`` = b's code). Interval: the distinct
  ``(a, b)`` value pairs.
* :class:`GroupSample` — many raters with missing labels. Items are reduced to distinct
  *patterns*: for nominal/ordinal the count of each label among the item's raters, for
  interval the item's label count, centred sum, centred sum of squares and within-item
  spread.

Row 0 of ``weights`` holds the observed counts; a bootstrap replaces it with B multinomial
draws (:mod:`core.metrics.bootstrap`). Every metric is a vectorised function of a sample, so
the point estimate and the resamples run the very same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.metrics.ratings import MetricsInputError

RANKING_SAMPLES = ("a ranking dimension's orders are compared with core.metrics.batch_ranking "
                   "(Kendall τ-b, Spearman ρ, top-1 agreement, Levenshtein), not as labels")


@dataclass(frozen=True, eq=False)
class PairSample:
    """Two raters' labels on the items both labelled, as weighted distinct cells.

    ``x``/``y`` (shape U) are rater a's and b's label code (nominal/ordinal) or value
    (interval) of each cell; ``weights`` (B x U) how many items fall in each cell, per sample.
    """

    scale: str
    n_labels: int
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray

    @property
    def n(self) -> np.ndarray:
        """Items per sample (B,)."""
        return self.weights.sum(axis=1)

    def table(self) -> np.ndarray:
        """The contingency tables (B x k x k), rows = a's label; nominal/ordinal only."""
        k = self.n_labels
        return self.weights.reshape(len(self.weights), k, k)

    @cached_property
    def proportions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Table proportions P (B x k x k) and a's and b's label shares (B x k), computed once
        for all the table-based metrics of this sample."""
        table = self.table()
        p = table / table.sum(axis=(1, 2))[:, None, None]
        return p, p.sum(axis=2), p.sum(axis=1)

    @cached_property
    def constant(self) -> tuple[np.ndarray, np.ndarray]:
        """Per weight row, whether a and whether b gave one value to every pairable item."""
        used = self.weights > 0

        def constant(values: np.ndarray) -> np.ndarray:
            low = np.where(used, values[None, :], np.inf).min(axis=1)
            high = np.where(used, values[None, :], -np.inf).max(axis=1)
            return low == high

        return constant(self.x), constant(self.y)

    def with_weights(self, weights: np.ndarray) -> PairSample:
        """The same cells with other weights (a resample)."""
        return PairSample(self.scale, self.n_labels, self.x, self.y, weights)


def table_cells(n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column code of each cell of a k x k table, in row-major order."""
    codes = np.arange(n_labels, dtype=float)
    return np.repeat(codes, n_labels), np.tile(codes, n_labels)


def pair_sample_from_table(table: np.ndarray, scale: str) -> PairSample:
    """A nominal/ordinal :class:`PairSample` from one k x k count table (rows = rater a)."""
    table = np.asarray(table, dtype=float)
    k = table.shape[0]
    x, y = table_cells(k)
    return PairSample(scale, k, x, y, table.reshape(1, k * k))


def pair_sample(a: np.ndarray, b: np.ndarray, scale: str, n_labels: int) -> PairSample:
    """A :class:`PairSample` of two label vectors (codes or values, NaN = missing).

    Items missing from either rater are left out (pairwise exclusion, never imputation).
    Raises :class:`MetricsInputError` on a ranking scale (orders are not labels).
    """
    if scale == "ranking":
        raise MetricsInputError(RANKING_SAMPLES)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if scale != "interval":
        k = n_labels
        counts = np.bincount((a * k + b).astype(np.int64), minlength=k * k)
        x, y = table_cells(k)
        return PairSample(scale, k, x, y, counts.reshape(1, k * k).astype(float))
    # Distinct (a, b) value pairs and their counts, via the distinct values of each rater.
    ux, ix = np.unique(a, return_inverse=True)
    uy, iy = np.unique(b, return_inverse=True)
    width = max(len(uy), 1)
    keys, counts = np.unique(ix.astype(np.int64) * width + iy, return_counts=True)
    return PairSample(scale, 0, ux[keys // width], uy[keys % width],
                      counts.reshape(1, -1).astype(float))


def missing_as_code(values: np.ndarray, n_labels: int) -> np.ndarray:
    """Integer label codes with a missing label (NaN) as the extra code ``n_labels``.

    Integer input is taken to be in that form already (see ``Ratings.codes``) and returned
    as it is."""
    if np.issubdtype(values.dtype, np.integer):
        return values
    return np.where(np.isnan(values), n_labels, values).astype(np.int64)


def pair_tables(values: np.ndarray, n_labels: int) -> np.ndarray:
    """All raters' pairwise contingency tables: (R x R x k x k) counts, [i, j] rows = rater i.

    ``values`` is items x raters of codes (NaN = missing, or integer codes with ``n_labels``
    for missing). Each pair is one ``bincount`` over a (k + 1) x (k + 1) table whose extra row
    and column (a missing label) are dropped, so items missing from either rater contribute
    nothing to that pair's table.
    """
    k = n_labels
    codes = np.ascontiguousarray(missing_as_code(values, k).T)
    n_raters = len(codes)
    tables = np.zeros((n_raters, n_raters, k, k))
    for i in range(n_raters):
        scaled = codes[i] * (k + 1)
        for j in range(i + 1, n_raters):
            full = np.bincount(scaled + codes[j], minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
            tables[i, j] = full[:k, :k]
            tables[j, i] = full[:k, :k].T
    return tables


def label_counts(values: np.ndarray, n_labels: int) -> np.ndarray:
    """Items x labels: how many of the columns gave each label (codes, NaN or ``n_labels`` =
    missing)."""
    n_items = values.shape[0]
    k = n_labels
    keys = missing_as_code(values, k) + (np.arange(n_items, dtype=np.int64) * (k + 1))[:, None]
    counts = np.bincount(keys.ravel(), minlength=n_items * (k + 1)).reshape(n_items, k + 1)
    return counts[:, :k]


@dataclass(frozen=True, eq=False)
class GroupSample:
    """Many raters' labels as weighted distinct item patterns.

    Nominal/ordinal: ``patterns`` is U x k, the number of raters who gave each label (items
    with at least one label). Interval: U x 6 columns ``m``, ``sum(v - c)``,
    ``sum((v - c)^2)``, ``m * SS_within / (m - 1)``, lowest and highest value, for items with
    two or more labels, with ``c`` the overall mean (centring keeps the sums of squares
    accurate for large values; lowest/highest decide exactly whether any value varies).
    ``weights`` is B x U.
    """

    scale: str
    n_labels: int
    patterns: np.ndarray
    weights: np.ndarray

    @property
    def raters_per_item(self) -> np.ndarray:
        """Number of labels of each pattern (U,)."""
        if self.scale == "interval":
            return self.patterns[:, 0]
        return self.patterns.sum(axis=1)

    @property
    def n_pairable(self) -> np.ndarray:
        """Items with two or more labels, per sample (B,)."""
        return self.weights @ (self.raters_per_item >= 2).astype(float)

    def with_weights(self, weights: np.ndarray) -> GroupSample:
        """The same patterns with other weights (a resample)."""
        return GroupSample(self.scale, self.n_labels, self.patterns, weights)


def group_sample(values: np.ndarray, scale: str, n_labels: int) -> GroupSample:
    """A :class:`GroupSample` of an items x raters matrix (codes or values, NaN = missing;
    integer codes with ``n_labels`` = missing are accepted too). Raises
    :class:`MetricsInputError` on a ranking scale."""
    if scale == "ranking":
        raise MetricsInputError(RANKING_SAMPLES)
    values = np.asarray(values)
    if scale == "interval":
        patterns, frequency = _interval_patterns(values.astype(float))
        return GroupSample(scale, 0, patterns, frequency.reshape(1, -1).astype(float))
    counts = label_counts(values, n_labels)
    patterns, frequency = _unique_rows(counts[counts.sum(axis=1) >= 1])
    return GroupSample(scale, n_labels, patterns.astype(float), frequency.reshape(1, -1).astype(float))


def _interval_patterns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct per-item statistics of the items with two or more scores, and their counts."""
    present = ~np.isnan(values)
    pairable = present.sum(axis=1) >= 2
    values, present = values[pairable], present[pairable]
    if not len(values):
        return np.empty((0, 6)), np.empty(0, dtype=np.int64)
    m = present.sum(axis=1).astype(float)
    centred = np.where(present, values - values[present].mean(), 0.0)
    total = centred.sum(axis=1)
    squares = (centred ** 2).sum(axis=1)
    # m * SS_within / (m - 1); rounding must not make it negative.
    spread = np.maximum(m * (squares - total ** 2 / m) / (m - 1), 0.0)
    low = np.where(present, values, np.inf).min(axis=1)
    high = np.where(present, values, -np.inf).max(axis=1)
    return np.unique(np.column_stack([m, total, squares, spread, low, high]), axis=0,
                     return_counts=True)


def _unique_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a small non-negative integer matrix and how often each occurs."""
    if counts.size == 0:
        return counts.reshape(0, counts.shape[1]), np.empty(0, dtype=np.int64)
    base = int(counts.max()) + 1
    if base ** counts.shape[1] < 2 ** 62:
        # One integer per row (mixed radix) sorts ~10x faster than np.unique(axis=0).
        powers = base ** np.arange(counts.shape[1], dtype=np.int64)
        _, first, frequency = np.unique(counts.astype(np.int64) @ powers, return_index=True,
                                        return_counts=True)
        return counts[first], frequency
    patterns, frequency = np.unique(counts, axis=0, return_counts=True)
    return patterns, frequency
