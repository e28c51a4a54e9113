"""A readable plain-text report of :func:`core.metrics.compare_dimension` (the CLI's table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.metrics.comparison import (
    BiasReport,
    Comparison,
    Measured,
    PreferenceReport,
    RankingReport,
)
from core.metrics.consistency import SelfConsistency
from core.metrics.registry import REGISTRY, metric_names_for
from core.metrics.results import MetricResult

SHORT_NAMES = {
    "percent_agreement": "agree", "cohen_kappa": "kappa", "scott_pi": "pi", "gwet_ac1": "AC1",
    "kappa_linear": "kappa_lin", "kappa_quadratic": "kappa_quad", "spearman": "rho",
    "kendall_tau_b": "tau_b", "pearson": "r", "mae": "MAE", "mean_signed_difference": "bias",
    "krippendorff_alpha": "alpha", "fleiss_kappa": "fleiss", "top1_agreement": "top1",
    "normalized_levenshtein": "lev",
}


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _cell(entry: Measured, metric: str) -> str:
    text = _number(entry.value(metric))
    interval = entry.ci95(metric)
    return f"{text} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else text


def _result_cell(result: MetricResult) -> str:
    text = _number(result.value)
    interval = result.ci95
    return f"{text} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(str(cell).rjust(w) if i >= right_from else str(cell).ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return [line(header), *map(line, rows)]


def _undefined_lines(entries: Sequence[Measured], label: Callable[[Any], str]) -> list[str]:
    lines = []
    for entry in entries:
        for metric, reason in entry.reasons().items():
            lines.append(f"  {label(entry)} {SHORT_NAMES.get(metric, metric)}: {reason}")
    return lines


def format_comparison(document: Comparison, project: str = "?") -> str:
    """The comparison as aligned text tables: pairs, groups, consensus, bias, ranking."""
    scale = document.scale
    binarized = (f", binarised at {document.binarized_at}"
                 if document.binarized_at is not None else "")
    lines = [f"{project} · dimension {document.dimension} ({scale}{binarized})"]
    consensus = document.consensus
    if consensus:
        lines.append(f"human:consensus = {consensus.method} of the humans: "
                     f"{consensus.items} items, {consensus.ties} tied (left out)")
    for jury in document.juries:
        lines.append(f"{jury.name} = {jury.aggregate.method} of {', '.join(jury.members)}: "
                     f"{jury.aggregate.items} items, {jury.aggregate.ties} tied (left out)")
    for entry in document.verdicts:
        if entry.unparseable:
            lines.append(f"{entry.rater}: {entry.parsed} parsed of "
                         f"{entry.parsed + entry.unparseable} verdicts "
                         f"({entry.unparseable} unparseable, left out)")

    pairs = document.pairs
    if scale == "ranking":
        metrics = [m for m in metric_names_for(scale) if pairs and pairs[0].has(m)]
        lines += ["", "per item, then the mean over the items both raters ranked: tau_b (the "
                      "headline), rho, top1 = same best response, lev = normalised Levenshtein "
                      "distance of the orders (lower is better)"]
    else:
        metrics = [m for m in REGISTRY if pairs and pairs[0].has(m) and m != "fleiss_kappa"]
    lines += ["", "pairs (value [95% CI]; — = undefined, reasons below)"]
    lines += _table(["a", "b", "n", *(SHORT_NAMES[m] for m in metrics)],
                    [[p.a, p.b, str(p.n), *(_cell(p, m) for m in metrics)] for p in pairs],
                    right_from=2)
    groups = document.groups
    if groups:
        group_metrics = [m for m in ("fleiss_kappa", "krippendorff_alpha") if groups[0].has(m)]
        lines += ["", "groups"]
        lines += _table(["group", "raters", "n", *(SHORT_NAMES[m] for m in group_metrics)],
                        [[g.name, str(len(g.raters)), str(g.n),
                          *(_cell(g, m) for m in group_metrics)] for g in groups],
                        right_from=1)
    undefined = (_undefined_lines(pairs, lambda p: f"{p.a} × {p.b}")
                 + _undefined_lines(groups, lambda g: f"group {g.name}"))
    if undefined:
        lines += ["", "undefined", *undefined]
    lines += _bias_lines(document.bias)
    lines += _ranking_lines(document.ranking)
    lines += _preference_lines(document.preference)
    lines += _consistency_lines(document.self_consistency)
    return "\n".join(lines)


def _consistency_lines(entries: Sequence[SelfConsistency]) -> list[str]:
    if not entries:
        return []
    metrics = [m for m in ("fleiss_kappa", "krippendorff_alpha") if m in entries[0].results]
    rows = [[e.rater, str(e.samples), str(e.items),
             *(_result_cell(e.results[m]) for m in metrics)] for e in entries]
    lines = ["", "self-consistency across samples (agreement of a judge's samples; its metrics "
                 "above use the per-item majority)",
             *_table(["judge", "samples", "n", *(SHORT_NAMES[m] for m in metrics)], rows,
                     right_from=1)]
    for entry in entries:
        for metric in metrics:
            if entry.results[metric].undefined_reason:
                lines.append(f"  {entry.rater} {SHORT_NAMES[metric]}: "
                             f"{entry.results[metric].undefined_reason}")
    return lines


def _value(result: MetricResult | None) -> str:
    return "—" if result is None else _number(result.value)


def _bias_lines(bias: BiasReport | None) -> list[str]:
    if not bias or not bias.raters:
        return []
    columns = [key for key in ("positive_rate", "reference_positive_rate", "leniency",
                               "false_positive_rate", "false_negative_rate", "mean_difference")
               if key in bias.raters[0].measures]
    positive = f" (positive label {bias.positive_label!r})" if bias.positive_label else ""
    return ["", f"bias against {bias.reference}{positive}",
            *_table(["rater", "n", *columns],
                    [[r.rater, str(r.n), *(_value(r.measures.get(c)) for c in columns)]
                     for r in bias.raters], right_from=1)]


def _ranking_lines(ranking: RankingReport | None) -> list[str]:
    if not ranking:
        return []
    rows = [[rater, _value(tau), str(tau.n), tau.undefined_reason or ""]
            for rater, tau in ranking.kendall_tau.items()]
    return ["", f"model ranking ({len(ranking.models)} models by {ranking.score}) vs "
                f"{ranking.reference}",
            *_table(["rater", "tau_b", "models", ""], rows, right_from=1)]


def _preference_lines(preference: PreferenceReport | None) -> list[str]:
    if not preference:
        return []
    lines = ["", "pairwise preference"]
    for rater, result in preference.accuracy.items():
        lines.append(f"  {rater}: accuracy vs human:consensus {_value(result)} (n = {result.n})")
    for judge, entry in preference.position_consistency.items():
        lines.append(f"  {judge}: position consistency with {entry.swapped} "
                     f"{_value(entry.result)} (n = {entry.result.n})")
    return lines
