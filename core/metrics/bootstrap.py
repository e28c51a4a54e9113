"""Bootstrap confidence intervals without a Python loop over resamples.

Resampling n items with replacement draws each distinct cell (a contingency-table cell, a
distinct value pair, or a distinct item pattern) a Multinomial(n, count / n) number of times,
so B resamples are one ``rng.multinomial`` call giving a B x U weight matrix (DESIGN.md §4).
Every metric is a vectorised function of the weights, including the rank correlations
(weighted mid-ranks, :func:`core.metrics.pair_metrics.weighted_midranks`) and Krippendorff's
alpha (coincidences or pooled sums of squares are linear in the weights). The interval is the
percentile interval of the resampled values; resamples on which the metric is undefined (for
instance every resampled item got the same label) are left out of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, Self

import numpy as np

# Largest resamples x cells weight block computed at once (~32 MB of float64).
MAX_BLOCK = 4_000_000
# Above this many items per occupied cell, rng.multinomial beats drawing items (measured:
# ~90 ns per resample and cell against ~10 ns per resample and item).
ITEMS_PER_CELL = 9


class Weighted(Protocol):
    """A sample with a B x U weight matrix (PairSample or GroupSample)."""

    weights: np.ndarray

    def with_weights(self, weights: np.ndarray) -> Self: ...


def resample_weights(counts: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """B x U multinomial draws of ``sum(counts)`` items over cells with these counts.

    ``rng.multinomial`` costs about one binomial draw per resample and occupied cell; when
    the cells are many and the items few (distinct interval value pairs) drawing the items
    themselves and counting them per cell is cheaper, and has exactly the same distribution.
    """
    counts = np.asarray(counts, dtype=float)
    n = round(counts.sum())
    if n == 0:
        return np.zeros((n_resamples, counts.size))
    occupied = np.count_nonzero(counts)
    if n > ITEMS_PER_CELL * occupied:
        return rng.multinomial(n, counts / counts.sum(), size=n_resamples).astype(float)
    cell_of_item = np.repeat(np.arange(counts.size), np.rint(counts).astype(np.int64))
    drawn = cell_of_item[rng.integers(0, n, size=(n_resamples, n))]
    drawn += (np.arange(n_resamples) * counts.size)[:, None]
    return np.bincount(drawn.ravel(), minlength=n_resamples * counts.size).reshape(
        n_resamples, counts.size).astype(float)


def bootstrap_values(sample: Weighted, metrics: Mapping[str, Callable[[Weighted], np.ndarray]],
                     n_resamples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each metric on ``n_resamples`` resamples of ``sample`` (row 0 of its weights)."""
    counts = sample.weights[0]
    block = max(1, min(n_resamples, MAX_BLOCK // max(counts.size, 1)))
    values: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    done = 0
    while done < n_resamples:
        size = min(block, n_resamples - done)
        resample = sample.with_weights(resample_weights(counts, size, rng))
        for name, metric in metrics.items():
            values[name].append(metric(resample))
        done += size
    return {name: np.concatenate(parts) for name, parts in values.items()}


def percentile_intervals(values: dict[str, np.ndarray], confidence: float = 0.95
                         ) -> dict[str, tuple[float, float] | None]:
    """The percentile interval of each metric's defined (non-NaN) resampled values, or None
    for a metric with none defined; all metrics in one numpy call."""
    if not values:
        return {}
    tail = (1.0 - confidence) / 2 * 100
    stacked = np.vstack(list(values.values()))
    defined = ~np.isnan(stacked).all(axis=1)
    bounds = np.full((len(stacked), 2), np.nan)
    if defined.any():
        rows = stacked[defined]
        if np.isnan(rows).any():
            bounds[defined] = np.nanpercentile(rows, [tail, 100 - tail], axis=1).T
        else:
            bounds[defined] = np.percentile(rows, [tail, 100 - tail], axis=1).T
    return {name: (float(low), float(high)) if ok else None
            for (name, ok, (low, high)) in zip(values, defined, bounds, strict=True)}
