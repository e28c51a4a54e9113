"""Judge bias against the humans: label distributions, leniency, false positive/negative rates.

Leniency compares a rater's rate of the positive label (``correct``/``yes``, the "≥ t" side
of a binarised scale, the top label of an ordinal scale; see
:func:`core.metrics.views.positive_label`) with the human consensus's rate *on the same
items*, so a judge that skipped hard items is not credited for it. Ordinal and interval scales
also get the mean difference (rater − consensus) in label steps or score units. Binary scales
get the false-positive rate (positive when the consensus says negative) and the
false-negative rate against the consensus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.metrics.comparison import BiasReport, RaterBias
from core.metrics.pair_metrics import mean_signed_difference
from core.metrics.ratings import CONSENSUS, HUMAN, Ratings, rater_kind
from core.metrics.results import MetricResult
from core.metrics.samples import PairSample, missing_as_code
from core.metrics.views import positive_label
from core.schema import Dimension


def _rate(hits: float, n: float, empty_reason: str) -> MetricResult:
    if n == 0:
        return MetricResult.undefined(0, empty_reason)
    return MetricResult(float(hits / n), round(n))


def label_distribution(ratings: Ratings, column: np.ndarray) -> dict[str, Any]:
    """Counts per label (nominal/ordinal; codes as in ``Ratings.codes`` or NaN-coded) or
    n/mean/sd (interval) of one label column (or several columns pooled)."""
    if ratings.dimension.scale == "interval":
        values = column[~np.isnan(column)]
        return {"n": int(values.size),
                "mean": float(values.mean()) if values.size else None,
                "sd": float(values.std(ddof=1)) if values.size > 1 else None}
    k = ratings.n_labels
    counts = np.bincount(missing_as_code(column, k).ravel(), minlength=k + 1)[:k]
    return {label: int(count) for label, count in zip(ratings.dimension.label_values, counts,
                                                      strict=True)}


def distributions(ratings: Ratings) -> dict[str, dict[str, Any]]:
    """Every rater's label distribution, plus ``humans``: all human labels pooled."""
    source = ratings.values if ratings.dimension.scale == "interval" else ratings.codes
    result = {name: label_distribution(ratings, source[:, i])
              for i, name in enumerate(ratings.raters)}
    humans = [i for i, name in enumerate(ratings.raters)
              if rater_kind(name) == HUMAN and name != CONSENSUS]
    if humans:
        result["humans"] = label_distribution(ratings, source[:, humans])
    return result


def rater_bias(sample: PairSample, dimension: Dimension, rater: str, reference: str
               ) -> RaterBias:
    """Leniency and error rates of ``rater`` against ``reference`` on the items both labelled.

    ``sample`` pairs the two (a = reference, b = rater). Each applicable measure is a
    :class:`MetricResult` (value, n, and the reason when undefined).
    """
    n = float(sample.n[0]) if sample.weights.size else 0.0
    measures: dict[str, MetricResult] = {}
    none = f"no item labelled by both {rater} and {reference}"
    positive = None
    if dimension.scale != "interval":
        table = sample.table()[0]
        positive = positive_label(dimension)
        if positive is not None:
            code = dimension.rank(positive)
            mine = _rate(table[:, code].sum(), n, none)
            theirs = _rate(table[code, :].sum(), n, none)
            measures["positive_rate"] = mine
            measures["reference_positive_rate"] = theirs
            measures["leniency"] = (MetricResult(mine.value - theirs.value, mine.n)
                                    if mine.value is not None and theirs.value is not None
                                    else MetricResult.undefined(0, none))
        if dimension.scale == "nominal" and len(dimension.labels) == 2:
            # Code 0 is the positive label of a two-label nominal scale.
            measures["false_positive_rate"] = _rate(
                table[1, 0], table[1].sum(),
                f"{reference} gave no pairable item the negative label")
            measures["false_negative_rate"] = _rate(
                table[0, 1], table[0].sum(),
                f"{reference} gave no pairable item the positive label")
    if dimension.scale in ("ordinal", "interval"):
        measures["mean_difference"] = (
            MetricResult(float(mean_signed_difference(sample)[0]), round(n)) if n
            else MetricResult.undefined(0, none))
    return RaterBias(rater, round(n), measures, positive)


def bias_report(ratings: Ratings, samples: Mapping[str, PairSample], reference: str
                ) -> BiasReport:
    """Distributions of all raters and the bias of each rater in ``samples`` (rater -> its
    pair sample with ``reference`` as rater a) against ``reference``."""
    return BiasReport(reference, positive_label(ratings.dimension), distributions(ratings),
                      tuple(rater_bias(sample, ratings.dimension, rater, reference)
                            for rater, sample in samples.items()))
