"""The judge audit in the agreement report: flat rows for CSV, an HTML section per dimension.

Rows come from :class:`~core.audit.AuditReport` (typed), one per figure: every bias-card
figure of every judge (table ``bias_card``) and every generator model's win rate and
Bradley–Terry strength per rater (table ``win_rates``), plus each judge's ranking τ-b
(table ``ranking_agreement``). A value is None exactly when undefined, with the reason. A
dimension the audit does not apply to (a ranking) has one ``bias_card`` row without a rater
whose ``undefined_reason`` says why.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import plotly.graph_objects as go

from core.audit import AuditReport, Figure
from core.charts.audit import card_figures, meaning, rankings_figure
from core.charts.model import short_name

AUDIT_KEYS = {
    "bias_card": ("dimension", "rater", "group", "figure", "value", "ci_low", "ci_high", "n",
                  "undefined_reason"),
    "win_rates": ("dimension", "rater", "model", "comparisons", "figure", "value", "ci_low",
                  "ci_high", "n", "undefined_reason"),
    "ranking_agreement": ("dimension", "rater", "figure", "value", "ci_low", "ci_high", "n",
                          "undefined_reason"),
}


def _figure_fields(figure: Figure) -> dict[str, Any]:
    low, high = figure.ci95 if figure.ci95 else (None, None)
    return {"value": figure.value, "ci_low": low, "ci_high": high, "n": figure.n,
            "undefined_reason": figure.undefined}


def audit_rows(audits: Iterable[AuditReport]) -> dict[str, list[dict[str, Any]]]:
    """The rows of the three audit tables (:data:`AUDIT_KEYS`) over ``audits``."""
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in AUDIT_KEYS}
    for report in audits:
        if report.not_applicable is not None:
            tables["bias_card"].append({
                "dimension": report.dimension, "rater": None, "group": None,
                "figure": "not_applicable", "value": None, "ci_low": None, "ci_high": None,
                "n": None, "undefined_reason": report.not_applicable.sentence()})
        for card in report.judges:
            for attribute, _, name, value in card_figures(card):
                tables["bias_card"].append({
                    "dimension": report.dimension, "rater": card.rater,
                    "group": attribute, "figure": name, **_figure_fields(value)})
        if report.win_rates:
            for rater, entries in report.win_rates.by_rater.items():
                for entry in entries:
                    for name in ("win_rate", "bt_strength"):
                        tables["win_rates"].append({
                            "dimension": report.dimension, "rater": rater, "model": entry.model,
                            "comparisons": entry.comparisons, "figure": name,
                            **_figure_fields(getattr(entry, name))})
        for ranking in report.ranking:
            tables["ranking_agreement"].append({
                "dimension": report.dimension, "rater": ranking.rater,
                "figure": "kendall_tau_b", **_figure_fields(ranking.kendall_tau_b)})
    return tables


def _show(figure: Figure) -> str:
    if figure.value is None:
        return f'<td class="undefined">undefined: {html.escape(figure.undefined or "")}</td>'
    interval = (f" [{figure.ci95[0]:.3f}, {figure.ci95[1]:.3f}]" if figure.ci95 else "")
    return f'<td class="number">{figure.value:.3f}{interval}</td>'


def _table(header: Iterable[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for title in header)
    return (f'<div class="wide"><table class="audit"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def audit_html(report: AuditReport, prefix: str,
               draw: Callable[[go.Figure, str, str, str | None], str]) -> str:
    """The audit section of one dimension: a bias card per judge (every figure with its CI
    and n, or why it is undefined) and, on pairwise items with both models, the generator
    win rates with both rankings drawn by ``draw`` (the report's figure writer); on a
    dimension the audit does not apply to, why."""
    if report.not_applicable is not None:
        return ('<h3>Judge audit</h3><p class="note not-applicable">'
                f"{html.escape(report.not_applicable.sentence())}</p>")
    parts = ['<h3>Judge audit: bias cards</h3>',
             '<p class="note">Every figure against the human consensus, with its 95 % '
             "bootstrap CI and n; see the README's Judge audit section for each one.</p>"]
    for card in report.judges:
        family = card.self_preference.family
        parts.append(f"<h4>{html.escape(short_name(card.rater))} (model family: "
                     f"{html.escape(family) if family else 'none'})</h4>")
        rows = [f"<tr><td>{html.escape(title)}</td>"
                f"<td>{html.escape(name.replace('_', ' '))}</td>"
                f"{_show(value)}<td class=\"number\">{value.n}</td>"
                f"<td>{html.escape(meaning(attribute, name))}</td></tr>"
                for attribute, title, name, value in card_figures(card)]
        parts.append(_table(("group", "figure", "value [95 % CI]", "n", "meaning"), rows))
    if report.win_rates:
        parts.append("<h3>Generator win rates</h3>")
        parts.append(draw(rankings_figure(report), "win-rates", f"{prefix}-win-rates",
                          "Bradley–Terry strength of each generator model by the human "
                          "consensus and by each judge (95 % CIs); a tie is half a win."))
        rows = []
        for rater, entries in report.win_rates.by_rater.items():
            for entry in entries:
                rows.append(f"<tr><td>{html.escape(short_name(rater))}</td>"
                            f"<td>{html.escape(entry.model)}</td>{_show(entry.win_rate)}"
                            f"{_show(entry.bt_strength)}"
                            f'<td class="number">{entry.comparisons}</td></tr>')
        parts.append(_table(("rater", "model", "win rate", "Bradley–Terry strength",
                             "comparisons"), rows))
    if report.ranking:
        parts.append("<h3>Ranking agreement with the humans (Kendall τ-b)</h3>")
        parts.append(_table(("judge", "τ-b [95 % CI]", "models"), (
            f"<tr><td>{html.escape(short_name(r.rater))}</td>{_show(r.kendall_tau_b)}"
            f'<td class="number">{r.kendall_tau_b.n}</td></tr>' for r in report.ranking)))
    return "\n".join(parts)
