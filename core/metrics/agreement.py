"""Score two raters, or a group of raters: every applicable metric with n, CI and reasons.

These functions turn the registry's vectorised metrics into :class:`MetricResult` values: a
NaN becomes ``value=None`` plus a sentence saying why, and a bootstrap adds percentile CIs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.metrics.bootstrap import bootstrap_values, percentile_intervals
from core.metrics.ratings import MetricsInputError
from core.metrics.registry import group_metrics_for, pair_metrics_for
from core.metrics.results import ConfusionMatrix, MetricResult
from core.metrics.samples import GroupSample, PairSample, pair_sample
from core.schema import Dimension, format_number

MIN_ITEMS = 2


def check_bootstrap(n_resamples: int, confidence: float) -> None:
    """Raise :class:`MetricsInputError` for a negative resample count or a confidence
    outside (0, 1)."""
    if n_resamples < 0:
        raise MetricsInputError(f"bootstrap resamples must be 0 (no CI) or more, got {n_resamples}")
    if not 0 < confidence < 1:
        raise MetricsInputError(f"confidence must be between 0 and 1, got {confidence}")


def _show(value: float, labels: Sequence[str]) -> str:
    return repr(labels[int(value)]) if labels else format_number(float(value))


def pair_undefined_reason(sample: PairSample, names: tuple[str, str], labels: Sequence[str]
                          ) -> str:
    """Why a pair metric is undefined on this sample (row 0): which rater did not vary."""
    n = round(sample.n[0])
    if n < MIN_ITEMS:
        return f"fewer than {MIN_ITEMS} pairable items (n = {n})"
    used = sample.weights[0] > 0
    xs, ys = np.unique(sample.x[used]), np.unique(sample.y[used])
    a, b = names
    what = "label" if labels else "score"
    if len(xs) == 1 and len(ys) == 1:
        if xs[0] == ys[0]:
            return (f"both raters gave every pairable item the same {what} "
                    f"({_show(xs[0], labels)}): there is no variation to agree on")
        return (f"{a} gave every pairable item {_show(xs[0], labels)} and {b} gave every one "
                f"{_show(ys[0], labels)}: neither varies")
    if len(xs) == 1:
        return f"{a} gave the same {what} ({_show(xs[0], labels)}) to every pairable item"
    if len(ys) == 1:
        return f"{b} gave the same {what} ({_show(ys[0], labels)}) to every pairable item"
    return "not defined on these labels"


def group_undefined_reason(sample: GroupSample, labels: Sequence[str]) -> str:
    """Why a group metric is undefined on this sample (row 0)."""
    n = round(sample.n_pairable[0])
    if n < MIN_ITEMS:
        return f"fewer than {MIN_ITEMS} items with labels from two or more of these raters (n = {n})"
    used = sample.weights[0] > 0
    if sample.scale == "interval":
        values = np.unique(sample.patterns[used][:, 4:6])
    else:
        values = np.flatnonzero(sample.patterns[used].sum(axis=0))
    if len(values) == 1:
        what = "label" if labels else "score"
        return (f"every {what} given is {_show(values[0], labels)}: "
                "there is no variation to agree on")
    return "not defined on these labels"


def _results(point: dict[str, float], n: int, reasons: dict[str, str],
             intervals: dict[str, tuple[float, float] | None]) -> dict[str, MetricResult]:
    results = {}
    for name, value in point.items():
        if np.isnan(value):
            results[name] = MetricResult.undefined(n, reasons[name])
        else:
            results[name] = MetricResult(float(value), n, None, intervals.get(name))
    return results


def pair_agreement(sample: PairSample, *, names: tuple[str, str] = ("a", "b"),
                   labels: Sequence[str] = (), n_resamples: int = 0,
                   rng: np.random.Generator | None = None, confidence: float = 0.95
                   ) -> dict[str, MetricResult]:
    """Every pair metric of the sample's scale, keyed by registry name, in registry order.

    ``labels`` (the scale's label values) and ``names`` only shape the undefined reasons.
    With ``n_resamples`` > 0, defined metrics get a percentile bootstrap CI drawn with
    ``rng``. Raises :class:`MetricsInputError` for a negative resample count.
    """
    check_bootstrap(n_resamples, confidence)
    definitions = pair_metrics_for(sample.scale)
    n = round(sample.n[0]) if sample.weights.size else 0
    if n < MIN_ITEMS:
        reason = f"fewer than {MIN_ITEMS} pairable items (n = {n})"
        return {d.name: MetricResult.undefined(n, reason) for d in definitions}
    point = {d.name: float(d.pair(sample)[0]) for d in definitions}  # type: ignore[misc]
    reasons = {name: pair_undefined_reason(sample, names, labels)
               for name, value in point.items() if np.isnan(value)}
    intervals: dict[str, tuple[float, float] | None] = {}
    if n_resamples:
        wanted = {d.name: d.pair for d in definitions if d.bootstrap and not np.isnan(point[d.name])}
        drawn = bootstrap_values(sample, wanted, n_resamples,  # type: ignore[arg-type]
                                 rng or np.random.default_rng())
        intervals = percentile_intervals(drawn, confidence)
    return _results(point, n, reasons, intervals)


def group_agreement(sample: GroupSample, *, labels: Sequence[str] = (), n_resamples: int = 0,
                    rng: np.random.Generator | None = None, confidence: float = 0.95
                    ) -> dict[str, MetricResult]:
    """Every group metric of the sample's scale (Fleiss' κ, Krippendorff's α), with
    ``n`` = items labelled by two or more of the raters. See :func:`pair_agreement`."""
    check_bootstrap(n_resamples, confidence)
    definitions = group_metrics_for(sample.scale)
    n = round(sample.n_pairable[0]) if sample.weights.size else 0
    if n < MIN_ITEMS:
        reason = f"fewer than {MIN_ITEMS} items with labels from two or more of these raters (n = {n})"
        return {d.name: MetricResult.undefined(n, reason) for d in definitions}
    point = {d.name: float(d.group(sample)[0]) for d in definitions}  # type: ignore[misc]
    reasons = {name: group_undefined_reason(sample, labels)
               for name, value in point.items() if np.isnan(value)}
    intervals: dict[str, tuple[float, float] | None] = {}
    if n_resamples:
        wanted = {d.name: d.group for d in definitions
                  if d.bootstrap and not np.isnan(point[d.name])}
        drawn = bootstrap_values(sample, wanted, n_resamples,  # type: ignore[arg-type]
                                 rng or np.random.default_rng())
        intervals = percentile_intervals(drawn, confidence)
    return _results(point, n, reasons, intervals)


def confusion_matrix(sample: PairSample, labels: Sequence[str]) -> ConfusionMatrix:
    """The contingency table of a nominal/ordinal sample (row 0), rows = rater a's labels."""
    if sample.scale == "interval":
        raise MetricsInputError("a confusion matrix needs a nominal or ordinal dimension")
    table = np.rint(sample.table()[0]).astype(int)
    return ConfusionMatrix(tuple(labels), tuple(tuple(int(c) for c in row) for row in table))


def agreement(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
              dimension: Dimension, *, names: tuple[str, str] = ("a", "b"), n_resamples: int = 0,
              seed: int | None = None, confidence: float = 0.95) -> dict[str, MetricResult]:
    """Pair metrics of two encoded label vectors (see :func:`core.metrics.ratings.encode_labels`;
    NaN = missing) on a dimension. Convenience wrapper of :func:`pair_agreement`."""
    sample = pair_sample(np.asarray(a, dtype=float), np.asarray(b, dtype=float), dimension.scale,
                         len(dimension.labels))
    return pair_agreement(sample, names=names, labels=dimension.label_values,
                          n_resamples=n_resamples, rng=np.random.default_rng(seed),
                          confidence=confidence)
