"""Self-consistency: how far a judge agrees with itself across repeated samples of one item.

A judge run with ``--samples K`` answers every item K times. Treating the K samples as K
raters, the group metrics measure their agreement: Fleiss' κ (nominal, ordinal) and
Krippendorff's α at the dimension's level, over the items with two or more parsed samples,
with a bootstrap CI over items (:func:`core.metrics.agreement.group_agreement`). 1 means the
judge always repeats itself; near 0, its samples agree no more than chance given its label
mix. Which sample came first does not matter: only each item's label counts (or scores) enter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.metrics.agreement import check_bootstrap, group_agreement
from core.metrics.ratings import MetricsInputError, Ratings
from core.metrics.results import MetricResult
from core.metrics.samples import group_sample
from core.metrics.views import binarize
from core.schema import Dimension

_SEED_OFFSET = 2_000_000  # rng stream of the index-th judge: [seed, offset + index]


@dataclass(frozen=True)
class SelfConsistency:
    """One judge's agreement with itself: ``samples`` = most samples of an item, ``items`` =
    items with two or more parsed samples, ``results`` = group metric name -> result."""

    rater: str
    samples: int
    items: int
    results: Mapping[str, MetricResult]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: rater, samples, items and each metric's result."""
        return {"rater": self.rater, "samples": self.samples, "items": self.items,
                **{name: result.to_dict() for name, result in self.results.items()}}


def self_consistency(rater: str, samples: np.ndarray, dimension: Dimension, *,
                     n_resamples: int = 0, rng: np.random.Generator | None = None,
                     confidence: float = 0.95) -> SelfConsistency:
    """The self-consistency of ``rater`` from its ``samples`` (items x K: label codes on
    ``dimension``'s scale, or scores; NaN = no sample or unparseable).

    Raises :class:`MetricsInputError` for a matrix that is not 2-D, codes off the scale or a
    bad bootstrap setting.
    """
    check_bootstrap(n_resamples, confidence)
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        raise MetricsInputError(f"samples of {rater!r} must be items x samples, got shape "
                                f"{samples.shape}")
    k = len(dimension.labels)
    if dimension.scale != "interval" and samples.size:
        present = samples[~np.isnan(samples)]
        if present.size and (present.min() < 0 or present.max() > k - 1
                             or (np.rint(present) != present).any()):
            raise MetricsInputError(f"samples of {rater!r}: label codes must be integers 0..{k - 1}")
    sample = group_sample(samples, dimension.scale, k)
    results = group_agreement(sample, labels=dimension.label_values, n_resamples=n_resamples,
                              rng=rng, confidence=confidence)
    items = int((np.sum(~np.isnan(samples), axis=1) >= 2).sum())
    return SelfConsistency(rater, int(samples.shape[1]), items, results)


def consistency_report(samples: Mapping[str, np.ndarray], dimension: Dimension, *,
                       raters: tuple[str, ...] | None = None, binarize_at: str | None = None,
                       n_resamples: int = 0, seed: int = 0, confidence: float = 0.95
                       ) -> list[SelfConsistency]:
    """:func:`self_consistency` of every judge in ``samples`` (those in ``raters`` when
    given), by name; with ``binarize_at`` on the binarised scale. Judge ``i`` (in name order)
    draws its resamples from ``default_rng([seed, 2_000_000 + i])``. Empty on a ranking
    dimension: Fleiss' κ and α are defined on labels, not on orders."""
    entries: list[SelfConsistency] = []
    if dimension.is_ranking:
        return entries
    for index, rater in enumerate(sorted(samples)):
        if raters is not None and rater not in raters:
            continue
        values, shown = np.asarray(samples[rater], dtype=float), dimension
        if binarize_at is not None:
            columns = tuple(f"judge:sample{j}" for j in range(values.shape[1]))
            view = binarize(Ratings(dimension, columns, values,
                                    np.arange(len(values)).astype(object)), binarize_at)
            values, shown = view.values, view.dimension
        entries.append(self_consistency(rater, values, shown, n_resamples=n_resamples,
                                        rng=np.random.default_rng([seed, _SEED_OFFSET + index]),
                                        confidence=confidence))
    return entries
