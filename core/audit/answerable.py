"""Could the judge answer it? (No Free Labels) and the reference effect.

* The *answerable split*: a judge's agreement with the human consensus (the scale's main
  metric: Cohen's κ, quadratically weighted κ, Krippendorff's α) on the items whose question
  its own model answered correctly (imported ``answered_correctly``) and on the rest, and the
  difference. The two sets of items are disjoint, so the bootstrap resamples each within its
  own set (a stratified bootstrap) and the difference's interval comes from the paired draws.
* The *reference effect*: a judge without a reference and its counterpart with one (two
  imported judges, or two prompt versions, linked with ``--pair-with``): the paired Δ of the
  main metric (with − without) on the items all three labelled
  (:func:`core.metrics.paired.paired_difference`), overall and within the two sets above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.audit.figures import Bootstrap, Figure
from core.metrics.agreement import MIN_ITEMS, pair_undefined_reason
from core.metrics.bootstrap import bootstrap_values, percentile_intervals
from core.metrics.paired import paired_difference
from core.metrics.ratings import CONSENSUS, Ratings
from core.metrics.registry import MAIN_METRIC, REGISTRY
from core.metrics.samples import pair_sample

NO_ANSWERS = ("no answered_correctly imported for this judge (judge.<name>.answered_correctly "
              "in the import file)")


@dataclass(frozen=True)
class AnswerableSplit:
    """The judge's ``metric`` against the consensus where it answered correctly itself, on the
    rest, and the difference (answered − rest)."""

    metric: str
    answered: Figure
    not_answered: Figure
    difference: Figure

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``metric`` and the three figures."""
        return {"metric": self.metric, "answered": self.answered.to_dict(),
                "not_answered": self.not_answered.to_dict(),
                "difference": self.difference.to_dict()}


@dataclass(frozen=True)
class ReferenceEffect:
    """Δ of the main metric, judge with a reference (``with_reference``) − without, overall
    and on the items the judge could / could not answer itself."""

    with_reference: str | None
    metric: str
    delta: Figure
    delta_answered: Figure
    delta_not_answered: Figure

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``with_reference``, ``metric`` and the three Δ figures."""
        return {"with_reference": self.with_reference, "metric": self.metric,
                "delta": self.delta.to_dict(), "delta_answered": self.delta_answered.to_dict(),
                "delta_not_answered": self.delta_not_answered.to_dict()}


def _split_values(ratings: Ratings, judge: str, mask: np.ndarray, boot: Bootstrap,
                  metric: str) -> tuple[Figure, np.ndarray | None]:
    """The metric on the items of ``mask`` as a figure, and its resampled values."""
    sample = pair_sample(ratings.column(CONSENSUS)[mask], ratings.column(judge)[mask],
                         ratings.dimension.scale, ratings.n_labels)
    n = round(sample.n[0]) if sample.weights.size else 0
    if n < MIN_ITEMS:
        return Figure.missing(f"fewer than {MIN_ITEMS} items labelled by the judge and the "
                              f"humans (n = {n})", n), None
    function = REGISTRY[metric].pair
    value = float(function(sample)[0])  # type: ignore[misc]
    if np.isnan(value):
        return Figure.missing(pair_undefined_reason(sample, (CONSENSUS, judge),
                                                    ratings.dimension.label_values), n), None
    drawn = None
    interval = None
    if boot.n_resamples:
        drawn = bootstrap_values(sample, {"x": function}, boot.n_resamples, boot.rng)["x"]  # type: ignore[dict-item]
        interval = percentile_intervals({"x": drawn}, boot.confidence)["x"]
    return Figure(value, n, interval), drawn


def answerable_split(ratings: Ratings, judge: str, answered: np.ndarray | None,
                     boot: Bootstrap) -> AnswerableSplit:
    """The split of ``judge`` (prepared ratings) by ``answered`` (per item 1/0/NaN, or None
    when nothing was imported for this judge)."""
    metric = MAIN_METRIC[ratings.dimension.scale]
    if answered is None or np.isnan(answered).all():
        missing = Figure.missing(NO_ANSWERS)
        return AnswerableSplit(metric, missing, missing, missing)
    if CONSENSUS not in ratings.raters:
        missing = Figure.missing("no human labels: there is no human consensus to compare with")
        return AnswerableSplit(metric, missing, missing, missing)
    yes, no = answered == 1, answered == 0
    first, first_drawn = _split_values(ratings, judge, yes, boot, metric)
    second, second_drawn = _split_values(ratings, judge, no, boot, metric)
    if first.value is None or second.value is None:
        difference = Figure.missing("the metric is undefined on one of the two sets of items",
                                    first.n + second.n)
    else:
        interval = None
        if first_drawn is not None and second_drawn is not None:
            interval = percentile_intervals({"x": first_drawn - second_drawn},
                                            boot.confidence)["x"]
        difference = Figure(first.value - second.value, first.n + second.n, interval)
    return AnswerableSplit(metric, first, second, difference)


def reference_effect(ratings: Ratings, judge: str, partner: str | None,
                     answered: np.ndarray | None, boot: Bootstrap, seed: int) -> ReferenceEffect:
    """Δ (``partner`` − ``judge``) of the main metric against the consensus; ``partner`` is
    the same judge given a reference (None: not paired, every figure undefined)."""
    metric = MAIN_METRIC[ratings.dimension.scale]
    if partner is None:
        missing = Figure.missing("not paired: link the judge with its with-reference "
                                 "counterpart (--pair-with JUDGE=OTHER)")
        return ReferenceEffect(None, metric, missing, missing, missing)
    if CONSENSUS not in ratings.raters:
        missing = Figure.missing("no human labels: there is no human consensus to compare with")
        return ReferenceEffect(partner, metric, missing, missing, missing)
    reference, old, new = (ratings.column(r) for r in (CONSENSUS, judge, partner))

    def delta(mask: np.ndarray, stream: int) -> Figure:
        found = paired_difference(reference[mask], old[mask], new[mask], ratings.dimension,
                                  names=(CONSENSUS, judge, partner),
                                  n_resamples=boot.n_resamples, seed=[seed, stream])  # type: ignore[arg-type]
        if found.delta is None:
            return Figure.missing(found.undefined_reason or "undefined", found.n)
        return Figure(found.delta, found.n, found.ci95)

    everything = np.ones(len(reference), dtype=bool)
    if answered is None or np.isnan(answered).all():
        missing = Figure.missing(NO_ANSWERS)
        return ReferenceEffect(partner, metric, delta(everything, 0), missing, missing)
    return ReferenceEffect(partner, metric, delta(everything, 0), delta(answered == 1, 1),
                           delta(answered == 0, 2))
