"""Estimates of a dimension's human mean, overall and per model or group, from one judge.

The target is the mean of the human consensus label on a dimension: a two-label nominal
scale as 1 for its positive (first) label and 0 otherwise, an ordinal or interval scale as
numbers (an ordinal label's number when it is one, else its rank + 1), or binarised. The
prediction is one rater's column (a judge, a jury) or the mean of a judge's samples.

Only labels gathered under a known design (:class:`Design`) enter an estimate; the design
says which items those are and with which probabilities they were drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.estimate.budget import effective_labels, labels_needed
from core.estimate.design import ACTIVE, UNIFORM, inclusion_probabilities
from core.estimate.ppi import (
    MIN_LABELS,
    EstimateError,
    MeanEstimate,
    classical_mean,
    classical_mean_weighted,
    ppi_mean,
    ppi_mean_weighted,
)
from core.metrics.agreement import pair_agreement
from core.metrics.consensus import human_consensus
from core.metrics.ratings import CONSENSUS, MetricsInputError, Ratings
from core.metrics.registry import MAIN_METRIC
from core.metrics.samples import pair_sample
from core.metrics.views import binarize, positive_label

ALL = "all"


@dataclass(frozen=True, eq=False)
class Design:
    """Which items' labels an estimate may use, and how they were drawn.

    ``kind`` is ``uniform`` (a simple random sample) or ``active`` (drawn with ``shares``,
    inclusion probability min(1, ``drawn`` · share)). ``usable`` marks the items whose
    labels the design covers (the labelled prefix of the queue); ``refused`` counts labelled
    items it does not cover and ``note`` says so in one sentence (empty when none).
    """

    kind: str
    usable: np.ndarray
    drawn: int
    shares: np.ndarray | None = None
    refused: int = 0
    note: str = ""
    population: np.ndarray | None = None  # the items the design samples from (None: all)

    def __post_init__(self) -> None:
        if self.kind not in (UNIFORM, ACTIVE):
            raise EstimateError(f"unknown design {self.kind!r} (designs: {UNIFORM}, {ACTIVE})")
        if self.kind == ACTIVE and (self.shares is None or len(self.shares) != len(self.usable)):
            raise EstimateError("an active design needs a draw share for every item")


@dataclass(frozen=True)
class SliceEstimate:
    """One slice's estimates: classical and PPI++ (None with a ``reason`` when there are too
    few labels), the labels a judge is worth, and the labels still needed for the target."""

    slice: str
    n_labelled: int
    n_total: int
    classical: MeanEstimate | None
    ppi: MeanEstimate | None
    effective_labels: float | None
    labels_needed: int | None
    reason: str | None = None


@dataclass(frozen=True)
class JudgeBudget:
    """A rater's main metric against the human consensus, its 95 % half-width (bootstrap)
    and the further labels projected to reach the target half-width (None if undefined)."""

    rater: str
    metric: str
    value: float | None
    halfwidth: float | None
    n: int
    labels_needed: int | None


def _label_numbers(ratings: Ratings) -> np.ndarray:
    labels = ratings.dimension.label_values
    try:
        return np.array([float(value) for value in labels])
    except ValueError:
        return np.arange(1, len(labels) + 1, dtype=float)


def as_numbers(ratings: Ratings, values: np.ndarray) -> np.ndarray:
    """Label codes (or interval values) of ``ratings``' dimension as the numbers averaged:
    1/0 for a two-label nominal scale's positive label, label numbers for ordinal, values
    for interval. Raises :class:`MetricsInputError` for a nominal scale of more than two
    labels (binarise it or pick another dimension)."""
    dimension = ratings.dimension
    if dimension.scale == "interval":
        return values.astype(float)
    if dimension.scale == "nominal":
        positive = positive_label(dimension)
        if positive is None:
            raise MetricsInputError(
                f"dimension {dimension.name!r} is nominal with {len(dimension.labels)} labels; "
                "a mean needs two labels (or an ordinal/interval scale)")
        code = dimension.rank(positive)
        return np.where(np.isnan(values), np.nan, (values == code).astype(float))
    numbers = _label_numbers(ratings)
    result = np.full(values.shape, np.nan)
    known = ~np.isnan(values)
    result[known] = numbers[values[known].astype(int)]
    return result


def prepared(ratings: Ratings, binarize_at: str | None) -> Ratings:
    """``ratings`` binarised at ``binarize_at`` (when given); raises MetricsInputError."""
    return binarize(ratings, binarize_at) if binarize_at is not None else ratings


def target_values(ratings: Ratings) -> np.ndarray:
    """The human consensus per item as numbers (NaN: no human label, or a tie)."""
    return as_numbers(ratings, human_consensus(ratings).values)


def prediction_values(ratings: Ratings, rater: str, samples: Sequence[np.ndarray] = ()
                      ) -> np.ndarray:
    """``rater``'s predictions as numbers; with ``samples`` (its values on further samples)
    the mean over the samples it has. Items it has no verdict on get its mean prediction: a
    fixed stand-in that keeps the estimate unbiased (PPI allows any prediction) without
    dropping the item from the population. Raises MetricsInputError for an unknown rater or
    one with no verdict at all."""
    if rater not in ratings.raters:
        raise MetricsInputError(f"unknown rater {rater!r} (raters: {', '.join(ratings.raters)})")
    columns = [ratings.column(rater), *samples]
    stacked = np.column_stack([as_numbers(ratings, np.asarray(c, dtype=float)) for c in columns])
    present = ~np.isnan(stacked)
    counts = present.sum(axis=1)
    if not counts.any():
        raise MetricsInputError(f"{rater} has no verdict on dimension {ratings.dimension.name!r}")
    means = np.where(counts > 0, np.where(present, stacked, 0.0).sum(axis=1)
                     / np.maximum(counts, 1), np.nan)
    return np.where(np.isnan(means), np.nanmean(means), means)


def _one_slice(name: str, y: np.ndarray, f: np.ndarray, design: Design, members: np.ndarray,
               target: float, alpha: float) -> SliceEstimate:
    if design.population is not None:
        members = members & design.population
    usable = design.usable & members & ~np.isnan(y)
    n, total = int(usable.sum()), int(members.sum())
    if n < MIN_LABELS:
        return SliceEstimate(name, n, total, None, None, None, None,
                             f"fewer than {MIN_LABELS} labels from the design in this slice "
                             f"(n = {n})")
    if design.kind == UNIFORM:
        classical = classical_mean(y[usable], alpha=alpha)
        rest = members & ~usable
        if rest.any():
            ppi = ppi_mean(y[usable], f[usable], f[rest], alpha=alpha)
        else:  # every item is labelled: the labels' mean is the exact answer
            ppi = MeanEstimate(classical.estimate, classical.ci, classical.se, 0.0, n, 0)
    else:
        assert design.shares is not None
        pi = inclusion_probabilities(design.shares[members], design.drawn)
        mask = usable[members]
        classical = classical_mean_weighted(mask, y[usable], pi, alpha=alpha)
        ppi = ppi_mean_weighted(f[members], mask, y[usable], pi, alpha=alpha)
    worth = effective_labels(classical.se, ppi.se, n)
    return SliceEstimate(name, n, total, classical, ppi,
                         None if not np.isfinite(worth) else float(worth),
                         labels_needed(ppi.halfwidth, n, target))


def estimate_slices(y: np.ndarray, f: np.ndarray, design: Design, *, target: float,
                    slices: Mapping[str, np.ndarray] | None = None, alpha: float = 0.05
                    ) -> list[SliceEstimate]:
    """The estimate over all items (slice ``all``) or per slice (``slices`` maps a name to
    its item mask), with the labels needed for a PPI++ half-width of ``target``.

    Raises :class:`EstimateError` for arrays of different lengths.
    """
    if not len(y) == len(f) == len(design.usable):
        raise EstimateError(f"y, f and the design must cover the same items, got {len(y)}, "
                            f"{len(f)} and {len(design.usable)}")
    chosen = slices if slices is not None else {ALL: np.ones(len(y), dtype=bool)}
    return [_one_slice(name, y, f, design, np.asarray(mask, dtype=bool), target, alpha)
            for name, mask in chosen.items()]


def judge_budgets(ratings: Ratings, raters: Sequence[str], *, target: float,
                  n_resamples: int = 1000, seed: int = 0) -> list[JudgeBudget]:
    """For each rater, the scale's main metric against the human consensus (all labels,
    whatever their design: agreement needs no sampling design), the half-width of its
    bootstrap 95 % interval, and the labels needed to reach ``target`` (SE ∝ 1/√n)."""
    consensus = human_consensus(ratings)
    metric = MAIN_METRIC[ratings.dimension.scale]
    budgets = []
    for index, rater in enumerate(raters):
        sample = pair_sample(consensus.values, ratings.column(rater), ratings.dimension.scale,
                             ratings.n_labels)
        result = pair_agreement(sample, names=(CONSENSUS, rater),
                                labels=ratings.dimension.label_values, n_resamples=n_resamples,
                                rng=np.random.default_rng([seed, index]))[metric]
        halfwidth = (result.ci95[1] - result.ci95[0]) / 2 if result.ci95 else None
        needed = (labels_needed(halfwidth, result.n, target)
                  if halfwidth is not None and result.n > 0 else None)
        budgets.append(JudgeBudget(rater, metric, result.value, halfwidth, result.n, needed))
    return budgets
