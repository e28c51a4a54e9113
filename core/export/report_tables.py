"""The agreement report's tables: flat rows (CSV/JSON) from comparison documents.

The input is a list of documents, one per dimension of a project, each the JSON form of
:func:`core.metrics.compare_dimension`'s result with the key ``project`` added (the
``python cli.py metrics --json`` contract); the tables read them through the typed
:class:`~core.metrics.comparison.Comparison` (``from_dict``). Every table is a list of dicts
with the same keys in every row (the ``*_KEYS`` tuples), so a CSV writer gets a fixed header
even for an empty table. A value is None exactly when it is undefined or does not apply, and
the row says why: a report must never show a bare NaN or a silent 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from core.metrics.comparison import Comparison, GroupComparison
from core.metrics.registry import metric_names_for

PAIR_KEYS = ("dimension", "scale", "binarized_at", "a", "b", "metric", "value", "ci_low",
             "ci_high", "n", "undefined_reason")
GROUP_METRICS = ("fleiss_kappa", "krippendorff_alpha")
GROUP_KEYS = ("dimension", "scale", "group", "raters", "n", *GROUP_METRICS, "alpha_level",
              *(f"{metric}_{end}" for metric in GROUP_METRICS for end in ("ci_low", "ci_high")),
              "undefined_reason")
BIAS_MEASURES = ("positive_rate", "reference_positive_rate", "leniency", "false_positive_rate",
                 "false_negative_rate", "mean_difference")
BIAS_KEYS = ("dimension", "scale", "rater", "labelled", "distribution", "mean", "sd",
             "reference", "positive_label", "n", *BIAS_MEASURES, "undefined_reason")
ERROR_TAXONOMY_KEYS = ("dimension", "rater", "tagged_verdicts", "category", "count")
_DOCUMENT_KEYS = ("dimension", "scale", "raters", "pairs", "groups")
NOT_FINITE = "not a finite number"


def check_documents(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The documents as a list, each checked for the contract's keys (dimension, scale,
    raters, pairs, groups); raises ValueError naming the document and the missing keys."""
    checked = []
    for index, document in enumerate(documents):
        if not isinstance(document, Mapping):
            raise ValueError(f"documents[{index}] must be a comparison document (a mapping), "
                             f"got {type(document).__name__}")
        missing = [key for key in _DOCUMENT_KEYS if key not in document]
        if missing:
            raise ValueError(f"documents[{index}] ({document.get('dimension', '?')!r}) lacks "
                             f"{', '.join(missing)}: pass compare_dimension's output")
        checked.append(document)
    return checked


def _finite(value: Any) -> Any:
    """``value``, with a NaN or infinite float as None (JSON and CSV have no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _interval(ci95: Mapping[str, Sequence[float]], metric: str) -> tuple[Any, Any]:
    bounds = ci95.get(metric)
    if not bounds:
        return None, None
    return _finite(bounds[0]), _finite(bounds[1])


def _reasons(reasons: Mapping[str, str]) -> str | None:
    """``metric: reason`` of every undefined entry, joined; None when there is none."""
    return "; ".join(f"{name}: {reason}" for name, reason in reasons.items()) or None


def _compared(documents: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Comparison]]:
    """Each checked document with its typed comparison (a non-finite value reads as
    undefined, reason :data:`NOT_FINITE`)."""
    return [(document, Comparison.from_dict(document)) for document in check_documents(documents)]


def _bounds(ci95: tuple[float, float] | None) -> tuple[Any, Any]:
    return (None, None) if not ci95 else (_finite(ci95[0]), _finite(ci95[1]))


def pair_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, rater pair, metric) with the keys of :data:`PAIR_KEYS`.

    Only the metrics registered for the dimension's scale that the pair carries appear, in
    registry order (on a ranking dimension the four ranking metrics,
    :func:`core.metrics.registry.metric_names_for`). ``value``, ``ci_low`` and ``ci_high``
    are None when undefined, and then ``undefined_reason`` says why (a NaN that slipped in
    becomes None with the reason :data:`NOT_FINITE`). Raises ValueError when a document
    lacks a key of the contract.
    """
    rows = []
    for _, comparison in _compared(documents):
        metrics = metric_names_for(comparison.scale)
        for pair in comparison.pairs:
            for metric in metrics:
                if not pair.has(metric):
                    continue
                value = pair.value(metric)
                low, high = _bounds(pair.ci95(metric)) if value is not None else (None, None)
                rows.append({
                    "dimension": comparison.dimension, "scale": comparison.scale,
                    "binarized_at": comparison.binarized_at, "a": pair.a, "b": pair.b,
                    "metric": metric, "value": value, "ci_low": low, "ci_high": high,
                    "n": pair.n, "undefined_reason": pair.undefined(metric)})
    return rows


def group_undefined(group: GroupComparison, scale: str) -> dict[str, str]:
    """Why each of a group's metrics (:data:`GROUP_METRICS`) has no value, by metric: its
    reason (:data:`NOT_FINITE` for a NaN read back), or "does not apply" when the scale has
    no such metric (Fleiss' κ on an interval scale). Empty when all are defined."""
    reasons = group.reasons()
    for metric in GROUP_METRICS:
        if metric not in reasons and not group.has(metric):
            reasons[metric] = f"does not apply to {scale} scales"
    return reasons


def group_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, rater group) with the keys of :data:`GROUP_KEYS`: the group's
    name, its raters joined by ``;``, n, Fleiss' κ and Krippendorff's α (at ``alpha_level``)
    with their CIs, and ``undefined_reason`` (``metric: reason``, see
    :func:`group_undefined`). Raises ValueError when a document lacks a key of the contract."""
    rows = []
    for _, comparison in _compared(documents):
        for group in comparison.groups:
            row: dict[str, Any] = {
                "dimension": comparison.dimension, "scale": comparison.scale,
                "group": group.name, "raters": ";".join(group.raters), "n": group.n}
            row.update({metric: group.value(metric) for metric in GROUP_METRICS})
            row["alpha_level"] = group.alpha_level or None
            for metric in GROUP_METRICS:
                low, high = (_bounds(group.ci95(metric)) if row[metric] is not None
                             else (None, None))
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
            row["undefined_reason"] = _reasons(group_undefined(group, comparison.scale))
            rows.append(row)
    return rows


def _distribution_fields(distribution: Mapping[str, Any] | None, labels: Sequence[str]
                         ) -> dict[str, Any]:
    """labelled, distribution (label counts as JSON text), mean and sd of one rater."""
    if distribution is None:
        return {"labelled": None, "distribution": None, "mean": None, "sd": None}
    if "mean" in distribution:  # an interval scale: n, mean and sd instead of counts
        return {"labelled": distribution.get("n"), "distribution": None,
                "mean": _finite(distribution.get("mean")), "sd": _finite(distribution.get("sd"))}
    counts = ({label: distribution.get(label, 0) for label in labels} if labels
              else dict(distribution))
    # JSON text keeps the cell flat and unambiguous whatever characters a label contains.
    return {"labelled": sum(counts.values()),
            "distribution": json.dumps(counts, ensure_ascii=False), "mean": None, "sd": None}


def bias_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, rater) with the keys of :data:`BIAS_KEYS`, from
    ``document["bias"]``: every rater's label distribution (``labelled``, ``distribution`` as
    JSON text of label counts, or ``mean``/``sd`` on an interval scale; the rater
    ``"humans"`` pools all human labels) and, for each judge and jury, its ``n`` and measures
    against the ``reference`` (the human consensus): positive rate, the reference's rate,
    leniency, false positive/negative rates (two-label scales) and mean difference
    (ordinal/interval). A measure that does not apply is None; an undefined one is None with
    ``measure: reason`` in ``undefined_reason``. A dimension without human labels (``bias``
    None) has no rows. Raises ValueError when a document lacks a key of the contract."""
    rows = []
    for _, comparison in _compared(documents):
        bias = comparison.bias
        if not bias:
            continue
        labels = [] if comparison.scale == "interval" else list(comparison.labels)
        distributions = bias.distributions
        measured = {entry.rater: entry for entry in bias.raters}
        names = [r for r in comparison.raters if r in distributions or r in measured]
        names += [r for r in (*distributions, *measured) if r not in names]
        for rater in names:
            entry = measured.get(rater)
            results = entry.measures if entry is not None else {}
            measures = {measure: results[measure].value if measure in results else None
                        for measure in BIAS_MEASURES}
            reasons = {measure: results[measure].undefined_reason for measure in BIAS_MEASURES
                       if measure in results and results[measure].undefined_reason}
            rows.append({
                "dimension": comparison.dimension, "scale": comparison.scale, "rater": rater,
                **_distribution_fields(distributions.get(rater), labels),
                "reference": bias.reference if entry is not None else None,
                "positive_label": (entry.positive_label or bias.positive_label)
                if entry is not None else None,
                "n": entry.n if entry is not None else None, **measures,
                "undefined_reason": _reasons(reasons)})
    return rows


def error_taxonomy_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, judge, category) with the keys of :data:`ERROR_TAXONOMY_KEYS`,
    from ``document["error_taxonomy"]`` (:meth:`core.error_taxonomy.ErrorTaxonomy.to_dict`):
    how many of the judge's verdicts an admin tagged, and how many with the category (zeros
    included). A document without that key, or without tags, has no rows."""
    rows = []
    for document in check_documents(documents):
        for judge in (document.get("error_taxonomy") or {}).get("judges", []):
            rows.extend({"dimension": document["dimension"], "rater": judge["rater"],
                         "tagged_verdicts": judge["tagged_verdicts"], "category": category,
                         "count": count} for category, count in judge["counts"].items())
    return rows


REPORT_TABLES: dict[str, Callable[[Iterable[Mapping[str, Any]]], list[dict[str, Any]]]] = {
    "pairs": pair_rows,
    "groups": group_rows,
    "bias": bias_rows,
    "error_taxonomy": error_taxonomy_rows,
}
REPORT_KEYS = {"pairs": PAIR_KEYS, "groups": GROUP_KEYS, "bias": BIAS_KEYS,
               "error_taxonomy": ERROR_TAXONOMY_KEYS}


def _json_safe(value: Any) -> Any:
    """A deep copy of plain data with NaN/infinite floats as None and tuples as lists."""
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return _finite(value)


def report_json(documents: Iterable[Mapping[str, Any]], metadata: Mapping[str, Any]
                ) -> dict[str, Any]:
    """``{"metadata": metadata, "dimensions": documents}`` as a fresh copy that
    ``json.dumps(..., allow_nan=False)`` accepts: a NaN or infinite float anywhere becomes
    None. Metadata values must already be JSON types (e.g. the export time as ISO text).
    Raises ValueError when a document lacks a key of the contract."""
    return {"metadata": _json_safe(metadata), "dimensions": _json_safe(check_documents(documents))}
