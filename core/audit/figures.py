"""One audit figure (value, 95 % CI, n, or the reason it is undefined) and its bootstrap.

Most audit figures are functions of a few per-item sums (a rate is hits / eligible items, a
difference of rates is two such ratios), so an item contributes only its row of numbers. Items
with the same row are interchangeable when resampling, so the bootstrap draws the counts of
the distinct rows (:func:`core.metrics.bootstrap.resample_weights`, one multinomial call) and
the statistic runs on the resampled column sums, vectorised over the resamples. Resamples on
which a figure is undefined (NaN: no eligible item drawn) are left out of its interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.metrics.bootstrap import percentile_intervals, resample_weights
from core.metrics.pair_metrics import spearman
from core.metrics.samples import pair_sample

Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Figure:
    """An audit figure: ``value`` with its percentile ``ci95`` (None without a bootstrap) and
    the ``n`` it rests on, or ``value`` None and ``undefined`` saying why."""

    value: float | None
    n: int
    ci95: tuple[float, float] | None = None
    undefined: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.undefined is None):
            raise ValueError("a figure has either a value or an undefined reason")
        if self.value is not None and not np.isfinite(self.value):
            raise ValueError(f"a figure value must be finite, got {self.value!r}")

    @classmethod
    def missing(cls, reason: str, n: int = 0) -> Figure:
        """An undefined figure with its reason."""
        return cls(None, n, undefined=reason)

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "ci95", "n"}`` or ``{"value": None, "undefined", "n"}`` (JSON-ready)."""
        if self.value is None:
            return {"value": None, "undefined": self.undefined, "n": self.n}
        return {"value": self.value, "ci95": list(self.ci95) if self.ci95 else None, "n": self.n}


@dataclass(frozen=True)
class Bootstrap:
    """Resampling settings: ``n_resamples`` (0: no CI), the generator and the confidence."""

    n_resamples: int
    rng: np.random.Generator
    confidence: float = 0.95

    @classmethod
    def seeded(cls, n_resamples: int, seed: int, *stream: int) -> Bootstrap:
        """Settings whose generator depends on ``seed`` and a stream id only, so one figure's
        interval does not change when other figures are added or left out."""
        return cls(n_resamples, np.random.default_rng([seed, *stream]))


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    return percentile_intervals({"x": values}, confidence)["x"]


def sum_figures(rows: np.ndarray, statistics: dict[str, Statistic], n: int,
                empty: str, boot: Bootstrap) -> dict[str, Figure]:
    """Figures that are functions of the column sums of ``rows`` (items x k).

    Each statistic maps sums (B x k) to values (B,), NaN where undefined; ``empty`` is the
    reason when a value is NaN on the data itself. ``n`` is the number of items shown.
    """
    rows = np.asarray(rows, dtype=float).reshape(len(rows), -1)
    point = rows.sum(axis=0)[None, :]
    values = {name: statistic(point)[0] for name, statistic in statistics.items()}
    intervals: dict[str, tuple[float, float] | None] = {name: None for name in statistics}
    if boot.n_resamples and len(rows):
        distinct, counts = np.unique(rows, axis=0, return_counts=True)
        weights = resample_weights(counts, boot.n_resamples, boot.rng)
        sums = weights @ distinct
        intervals = {name: _interval(statistic(sums), boot.confidence)
                     for name, statistic in statistics.items()}
    return {name: (Figure(float(values[name]), n, intervals[name]) if np.isfinite(values[name])
                   else Figure.missing(empty, n)) for name in statistics}


def ratio(numerator: int, denominator: int) -> Statistic:
    """sums[:, numerator] / sums[:, denominator], NaN where the denominator is 0."""
    def statistic(sums: np.ndarray) -> np.ndarray:
        den = sums[:, denominator]
        return np.where(den > 0, sums[:, numerator] / np.where(den > 0, den, 1.0), np.nan)
    return statistic


def difference(first: Statistic, second: Statistic) -> Statistic:
    """first − second."""
    return lambda sums: first(sums) - second(sums)


def spearman_figure(x: np.ndarray, y: np.ndarray, boot: Bootstrap) -> Figure:
    """Spearman's ρ of x and y over the items where both are present (weighted mid-ranks,
    resampled like the agreement metrics)."""
    sample = pair_sample(x, y, "interval", 0)
    n = round(sample.n[0]) if sample.weights.size else 0
    if n < 3:
        return Figure.missing(f"fewer than 3 items with both values (n = {n})", n)
    value = spearman(sample)[0]
    if not np.isfinite(value):
        return Figure.missing("one of the two variables is constant", n)
    interval = None
    if boot.n_resamples:
        weights = resample_weights(sample.weights[0], boot.n_resamples, boot.rng)
        interval = _interval(spearman(sample.with_weights(weights)), boot.confidence)
    return Figure(float(value), n, interval)
