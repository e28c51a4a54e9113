"""Is one rater really closer to the reference than another? The paired bootstrap difference.

Two raters (typically two prompt versions of one judge) are scored against the same reference
(the human consensus) on the items all three labelled, with the scale's main metric (Cohen's κ
for nominal labels, quadratically weighted κ for ordinal scales, Krippendorff's α for interval
scores; :data:`core.metrics.registry.MAIN_METRIC`). The difference ``new - old`` gets a
*paired* percentile bootstrap: each resample draws the items once and both metrics are computed
on that same resample, so what the two raters share (the items' difficulty) cancels out and the
interval is far narrower than two separate intervals would suggest.

As in :mod:`core.metrics.bootstrap`, resampling items only changes how often each distinct
(reference, old, new) triple occurs: the triples are counted once and B resamples are one
multinomial draw over them. Nominal/ordinal triples are then summed into the two k x k
contingency tables (reference x old, reference x new), interval triples are the value pairs
themselves, and the registry's vectorised metric functions do the rest. Resamples on which
either metric is undefined are left out of the interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.metrics.agreement import MIN_ITEMS, agreement, check_bootstrap, pair_undefined_reason
from core.metrics.bootstrap import MAX_BLOCK, percentile_intervals, resample_weights
from core.metrics.compare import with_derived_raters
from core.metrics.ratings import CONSENSUS, MetricsInputError, Ratings
from core.metrics.registry import MAIN_METRIC, REGISTRY, pair_metrics_for
from core.metrics.results import MetricResult
from core.metrics.samples import PairSample, table_cells
from core.schema import Dimension

DEFAULT_RESAMPLES = 2000
# How the sentence names the difference of each metric (Δκ, Δα); others use the registry title.
SYMBOLS = {"cohen_kappa": "κ", "kappa_quadratic": "κw", "krippendorff_alpha": "α"}
Direction = Literal["better", "worse", "no difference", "undecided", "undefined"]


@dataclass(frozen=True)
class PairedDifference:
    """``new - old`` of one metric against the same reference, on the items all three labelled.

    ``old`` and ``new`` are the two raters' values on those ``n`` common items (None when
    undefined there). ``delta`` is None exactly when ``undefined_reason`` says why. ``ci95`` is
    the paired bootstrap percentile interval at ``confidence`` (None without resamples, or
    when no resample had both metrics defined).
    """

    metric: str
    n: int
    old: float | None
    new: float | None
    delta: float | None
    ci95: tuple[float, float] | None
    undefined_reason: str | None
    confidence: float = 0.95

    @property
    def direction(self) -> Direction:
        """``better`` / ``worse`` when the whole interval lies above / below 0, ``no
        difference`` when it contains 0, ``undecided`` without an interval, ``undefined``
        without a difference."""
        if self.delta is None:
            return "undefined"
        if self.ci95 is None:
            return "undecided"
        low, high = self.ci95
        if low > 0:
            return "better"
        if high < 0:
            return "worse"
        return "no difference"

    def figure(self) -> str:
        """The difference as the sentence shows it: ``Δκ +0.08 [0.03, 0.13]``."""
        if self.delta is None:
            return "—"
        text = f"Δ{SYMBOLS.get(self.metric, ' ' + REGISTRY[self.metric].title)} {self.delta:+.2f}"
        if self.ci95 is not None:
            text += f" [{self.ci95[0]:.2f}, {self.ci95[1]:.2f}]"
        return text

    def sentence(self, new: str, old: str) -> str:
        """A plain verdict naming the raters: "v3 is better than v2 (Δκ +0.08 [0.03, 0.13])",
        "v3 is worse than v2 (...)", "no detectable difference (Δκ +0.01 [-0.04, 0.06])"."""
        direction = self.direction
        if direction == "undefined":
            return f"no comparison of {new} with {old}: {self.undefined_reason}"
        if direction == "better":
            return f"{new} is better than {old} ({self.figure()})"
        if direction == "worse":
            return f"{new} is worse than {old} ({self.figure()})"
        if direction == "no difference":
            return f"no detectable difference ({self.figure()})"
        return f"{new} − {old}: {self.figure()} (no confidence interval: too few resamples were defined)"


def paired_difference(reference: Sequence[float] | np.ndarray, old: Sequence[float] | np.ndarray,
                      new: Sequence[float] | np.ndarray, dimension: Dimension, *,
                      metric: str | None = None, names: tuple[str, str, str] = ("reference", "old", "new"),
                      n_resamples: int = DEFAULT_RESAMPLES, seed: int | None = 0,
                      confidence: float = 0.95) -> PairedDifference:
    """Return ``metric(reference, new) - metric(reference, old)`` with its paired bootstrap CI.

    The three vectors are encoded labels of the same items (label codes or interval values, NaN
    = not labelled; :func:`core.metrics.ratings.encode_labels`); only items all three labelled
    count. ``metric`` defaults to the scale's main metric. ``names`` (reference, old, new) only
    shape the reasons. Raises :class:`MetricsInputError` for vectors of different lengths, a
    metric that does not apply to the scale, or a bad bootstrap setting.
    """
    check_bootstrap(n_resamples, confidence)
    scale = dimension.scale
    metric = metric or MAIN_METRIC[scale]
    if metric not in {d.name for d in pair_metrics_for(scale)}:
        raise MetricsInputError(f"metric {metric!r} does not apply to the {scale} scale (metrics: "
                                f"{', '.join(d.name for d in pair_metrics_for(scale))})")
    columns = [np.asarray(column, dtype=float) for column in (reference, old, new)]
    if len({len(column) for column in columns}) != 1:
        raise MetricsInputError(f"reference, old and new must label the same items; got "
                                f"{', '.join(str(len(column)) for column in columns)} labels")
    common = ~np.isnan(np.column_stack(columns)).any(axis=1)
    cells, counts = _distinct_triples(np.column_stack(columns)[common])
    n = int(counts.sum())
    if n < MIN_ITEMS:
        return PairedDifference(metric, n, None, None, None, None,
                                f"fewer than {MIN_ITEMS} items labelled by {names[0]}, {names[1]} "
                                f"and {names[2]} (n = {n})", confidence)
    function = REGISTRY[metric].pair
    k = len(dimension.labels)
    old_sample, new_sample = _pair_samples(cells, counts[None, :], scale, k)
    values = {}
    for rater, sample in ((names[1], old_sample), (names[2], new_sample)):
        value = float(function(sample)[0])
        if np.isnan(value):
            reason = pair_undefined_reason(sample, (names[0], rater), dimension.label_values)
            return PairedDifference(metric, n, *_known(values, names), None, None,
                                    f"{REGISTRY[metric].title} of {rater} is undefined on the "
                                    f"{n} common items: {reason}", confidence)
        values[rater] = value
    old_value, new_value = values[names[1]], values[names[2]]
    interval = None
    if n_resamples:
        deltas = _resampled_deltas(cells, counts, scale, k, function, n_resamples,
                                   np.random.default_rng(seed))
        interval = percentile_intervals({"delta": deltas}, confidence)["delta"]
    return PairedDifference(metric, n, old_value, new_value, new_value - old_value, interval,
                            None, confidence)


def _known(values: dict[str, float], names: tuple[str, str, str]) -> tuple[float | None, float | None]:
    return values.get(names[1]), values.get(names[2])


def _distinct_triples(triples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (reference, old, new) rows and how many items have each."""
    if not len(triples):
        return np.empty((0, 3)), np.empty(0)
    cells, counts = np.unique(triples, axis=0, return_counts=True)
    return cells, counts.astype(float)


def _pair_samples(cells: np.ndarray, weights: np.ndarray, scale: str, k: int
                  ) -> tuple[PairSample, PairSample]:
    """(reference x old, reference x new) samples of triples weighted B x U."""
    reference, old, new = cells.T
    if scale == "interval":
        return (PairSample(scale, 0, reference, old, weights),
                PairSample(scale, 0, reference, new, weights))
    x, y = table_cells(k)
    codes = cells.astype(np.int64)
    return tuple(PairSample(scale, k, x, y, _collapse(weights, codes[:, 0] * k + codes[:, column], k * k))
                 for column in (1, 2))  # type: ignore[return-value]


def _collapse(weights: np.ndarray, target: np.ndarray, size: int) -> np.ndarray:
    """Sum the weight columns (B x U) that share a target cell into a B x ``size`` table."""
    order = np.argsort(target, kind="stable")
    sorted_target = target[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_target) != 0])
    table = np.zeros((len(weights), size))
    table[:, sorted_target[starts]] = np.add.reduceat(weights[:, order], starts, axis=1)
    return table


def _resampled_deltas(cells: np.ndarray, counts: np.ndarray, scale: str, k: int,
                      function: Callable[[PairSample], np.ndarray], n_resamples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``new - old`` on each of ``n_resamples`` item resamples (NaN where either is undefined)."""
    block = max(1, min(n_resamples, MAX_BLOCK // max(len(counts), k * k, 1)))
    parts = []
    done = 0
    while done < n_resamples:
        size = min(block, n_resamples - done)
        old_sample, new_sample = _pair_samples(cells, resample_weights(counts, size, rng), scale, k)
        parts.append(function(new_sample) - function(old_sample))
        done += size
    return np.concatenate(parts)


@dataclass(frozen=True)
class RaterScore:
    """One rater of a sequence (e.g. a judge's prompt versions) against the reference.

    ``score`` is the main metric against the reference with its bootstrap CI (undefined, with
    the reason, when the rater or the reference labelled nothing). ``parsed`` and
    ``unparseable`` count the rater's labels and its outputs that did not parse (left out of
    every metric). ``previous`` is the paired difference to the rater before it in the
    sequence (None for the first).
    """

    rater: str
    score: MetricResult
    parsed: int
    unparseable: int
    previous: PairedDifference | None


def score_in_sequence(ratings: Ratings, raters: Sequence[str], *, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = 0, confidence: float = 0.95) -> list[RaterScore]:
    """Score each of ``raters`` (prefixed names, e.g. ``judge:gpt``, ``judge:gpt@v2``) against
    the human consensus on the scale's main metric, and each against the one before it with
    :func:`paired_difference`. A rater without labels on the dimension gets an undefined score
    (and no comparison). Raises :class:`MetricsInputError` for a bad bootstrap setting.
    """
    check_bootstrap(n_resamples, confidence)
    ratings = with_derived_raters(ratings, {})[0]
    dimension = ratings.dimension
    metric = MAIN_METRIC[dimension.scale]
    has_reference = CONSENSUS in ratings.raters
    reference = ratings.column(CONSENSUS) if has_reference else None
    scores: list[RaterScore] = []
    for index, rater in enumerate(raters):
        present = rater in ratings.raters
        column = ratings.column(rater) if present else None
        if reference is None or column is None:
            why = "no human labels on this dimension yet" if reference is None else "no verdicts yet"
            score = MetricResult.undefined(0, why)
        else:
            score = agreement(reference, column, dimension, names=("human consensus", _short(rater)),
                              n_resamples=n_resamples, seed=seed + index,
                              confidence=confidence)[metric]
        previous = None
        if index and reference is not None and column is not None and raters[index - 1] in ratings.raters:
            previous = paired_difference(
                reference, ratings.column(raters[index - 1]), column, dimension,
                names=("human consensus", _short(raters[index - 1]), _short(rater)),
                n_resamples=n_resamples, seed=seed + index, confidence=confidence)
        parsed = 0 if column is None else int((~np.isnan(column)).sum())
        unparseable = ratings.unparseable_count(rater) if present else 0
        scores.append(RaterScore(rater, score, parsed, unparseable, previous))
    return scores


def _short(rater: str) -> str:
    return rater.split(":", 1)[-1]
