"""The agreement report's tables: flat rows (CSV/JSON) from comparison documents.

The input is a list of documents, one per dimension of a project, each exactly as
:func:`core.metrics.compare_dimension` returns it with the key ``project`` added (the
``python cli.py metrics --json`` contract). Every table is a list of dicts with the same keys
in every row (the ``*_KEYS`` tuples), so a CSV writer gets a fixed header even for an empty
table. A value is None exactly when it is undefined or does not apply, and the row says why:
a report must never show a bare NaN or a silent 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from core.metrics import pair_metrics_for

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


def pair_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, rater pair, metric) with the keys of :data:`PAIR_KEYS`.

    Only the metrics registered for the dimension's scale that the pair carries appear, in
    registry order. ``value``, ``ci_low`` and ``ci_high`` are None when undefined, and then
    ``undefined_reason`` says why (a NaN that slipped in becomes None with the reason
    :data:`NOT_FINITE`). Raises ValueError when a document lacks a key of the contract.
    """
    rows = []
    for document in check_documents(documents):
        metrics = [d.name for d in pair_metrics_for(document["scale"])]
        for pair in document["pairs"]:
            undefined = pair.get("undefined", {})
            for metric in metrics:
                if metric not in pair and metric not in undefined:
                    continue
                value = _finite(pair.get(metric))
                reason = undefined.get(metric)
                if value is None and reason is None:
                    reason = NOT_FINITE if pair.get(metric) is not None else "no value given"
                low, high = _interval(pair.get("ci95", {}), metric) if value is not None else (
                    None, None)
                rows.append({
                    "dimension": document["dimension"], "scale": document["scale"],
                    "binarized_at": document.get("binarized_at"), "a": pair["a"], "b": pair["b"],
                    "metric": metric, "value": value, "ci_low": low, "ci_high": high,
                    "n": pair["n"], "undefined_reason": reason})
    return rows


def group_undefined(group: Mapping[str, Any], scale: str) -> dict[str, str]:
    """Why each of a group entry's metrics (:data:`GROUP_METRICS`) has no value, by metric:
    the document's reason, "does not apply" when the scale has no such metric (Fleiss' κ on
    an interval scale), or :data:`NOT_FINITE`. Empty when all are defined; never raises."""
    reasons = dict(group.get("undefined", {}))
    for metric in GROUP_METRICS:
        if metric in reasons:
            continue
        if metric not in group:
            reasons[metric] = f"does not apply to {scale} scales"
        elif _finite(group[metric]) is None:
            reasons[metric] = NOT_FINITE
    return reasons


def group_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dimension, rater group) with the keys of :data:`GROUP_KEYS`: the group's
    name, its raters joined by ``;``, n, Fleiss' κ and Krippendorff's α (at ``alpha_level``)
    with their CIs, and ``undefined_reason`` (``metric: reason``, see
    :func:`group_undefined`). Raises ValueError when a document lacks a key of the contract."""
    rows = []
    for document in check_documents(documents):
        for group in document["groups"]:
            row: dict[str, Any] = {
                "dimension": document["dimension"], "scale": document["scale"],
                "group": group["name"], "raters": ";".join(group["raters"]), "n": group["n"]}
            row.update({metric: _finite(group.get(metric)) for metric in GROUP_METRICS})
            row["alpha_level"] = group.get("alpha_level")
            for metric in GROUP_METRICS:
                low, high = (_interval(group.get("ci95", {}), metric) if row[metric] is not None
                             else (None, None))
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
            row["undefined_reason"] = _reasons(group_undefined(group, document["scale"]))
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
    for document in check_documents(documents):
        bias = document.get("bias")
        if not bias:
            continue
        labels = [] if document["scale"] == "interval" else list(document.get("labels", []))
        distributions = bias.get("distributions", {})
        measured = {entry["rater"]: entry for entry in bias.get("raters", [])}
        names = [r for r in document["raters"] if r in distributions or r in measured]
        names += [r for r in (*distributions, *measured) if r not in names]
        for rater in names:
            entry = measured.get(rater, {})
            reasons = {}
            measures: dict[str, Any] = {}
            for measure in BIAS_MEASURES:
                result = entry.get(measure)
                measures[measure] = None if result is None else _finite(result.get("value"))
                if result is not None and result.get("undefined"):
                    reasons[measure] = result["undefined"]
                elif result is not None and measures[measure] is None:
                    reasons[measure] = NOT_FINITE
            rows.append({
                "dimension": document["dimension"], "scale": document["scale"], "rater": rater,
                **_distribution_fields(distributions.get(rater), labels),
                "reference": bias.get("reference") if entry else None,
                "positive_label": entry.get("positive_label", bias.get("positive_label"))
                if entry else None,
                "n": entry.get("n"), **measures, "undefined_reason": _reasons(reasons)})
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
