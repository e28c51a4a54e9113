"""Tables and figures of the dashboard's Bias card and Win rates views, and of the report's
audit section (pure: from an :class:`~core.audit.AuditReport` to DataFrames and plotly
figures). An undefined figure is never drawn as 0: its row says "undefined" and why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.audit import AuditReport, Figure, JudgeAudit, WinRates
from core.charts.model import short_name
from core.metrics.ratings import CONSENSUS

# The card's groups and figures in display order, with one line on how to read each.
CARD_GROUPS = (("position", "Position"), ("length", "Length"),
               ("self_preference", "Self-preference"), ("leniency", "Leniency"),
               ("error_rates", "Error rates"), ("answerable_split", "Could it answer?"),
               ("reference_effect", "Reference effect"),
               ("consistency_probes", "Consistency probes"))
MEANINGS = {
    "consistency": "same verdict with the responses swapped (1 = order never matters)",
    "first_position_rate": "share of A/B verdicts for the response shown first (0.5 = none)",
    "flip_rate": "verdict changed by the swap, where the humans say A or B",
    "longer_rate": "picks the longer response where the humans chose a tie or the shorter",
    "human_longer_rate": "the annotators' own rate on the same items",
    "difference": "judge − annotators (> 0: prefers length)",
    "length_correlation": "Spearman ρ of (judge − humans) with response length",
    "judge_own": "judge's win rate (or mean score) for its own family's responses",
    "humans_own": "the humans' for the same responses",
    "self_preference": "judge − humans on its own family (scales: less the same on others)",
    "leniency": "judge's positive-label rate − the humans' on the same items",
    "mean_difference": "mean (judge − humans) in label steps or score units",
    "false_positive_rate": "positive where the humans say negative",
    "false_negative_rate": "negative where the humans say positive",
    "answered": "agreement (main metric) where its model answered the question correctly",
    "not_answered": "agreement on the other items",
    "delta": "Δ main metric, with a reference − without (paired)",
    "delta_answered": "the same Δ where its model answered correctly",
    "delta_not_answered": "the same Δ on the other items",
    "answerable_split.difference": "answered − not answered",
    "label_agreement": "pairs of question paraphrases given the same label (1 = never changes)",
    "unanimous_rate": "probed items with one label on every paraphrase",
    "text_similarity": "mean TF-IDF cosine of its rationales across the paraphrases",
}


def meaning(group: str, figure: str) -> str:
    """How to read ``figure`` of the card's ``group``."""
    return MEANINGS.get(f"{group}.{figure}", MEANINGS.get(figure, ""))
CARD_COLUMNS = ["group", "figure", "value", "ci_low", "ci_high", "n", "undefined", "meaning"]
WIN_COLUMNS = ["model", "win_rate", "win_low", "win_high", "bt_strength", "bt_low", "bt_high",
               "comparisons", "undefined"]
PLOT_COLORS = ("#2ca02c", "#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _cells(figure: Figure) -> dict[str, Any]:
    low, high = figure.ci95 if figure.ci95 else (None, None)
    return {"value": figure.value, "ci_low": low, "ci_high": high, "n": figure.n,
            "undefined": figure.undefined or ""}


def card_figures(card: JudgeAudit) -> Iterator[tuple[str, str, str, Figure]]:
    """Every figure of a judge's card in display order: ``(group attribute, group title,
    figure name, figure)``; the Dashboard, the report's HTML and its CSV all walk it so."""
    for attribute, title in CARD_GROUPS:
        group = getattr(card, attribute)
        for field in fields(group):
            value = getattr(group, field.name)
            if isinstance(value, Figure):
                yield attribute, title, field.name, value


def bias_card_table(card: JudgeAudit) -> pd.DataFrame:
    """One row per figure of a judge's card: group, figure, value, CI, n, meaning, and the
    reason when undefined."""
    rows = [{"group": title, "figure": name.replace("_", " "),
             "meaning": meaning(attribute, name), **_cells(value)}
            for attribute, title, name, value in card_figures(card)]
    return pd.DataFrame(rows, columns=CARD_COLUMNS)


def bias_card_figure(card: JudgeAudit) -> go.Figure:
    """The card's defined figures as dots with their 95 % CIs (one row each); undefined ones
    are left to the table, which says why."""
    table = bias_card_table(card)
    shown = table[table["value"].notna()].iloc[::-1]
    labels = [f"{group} · {name}" for group, name in zip(shown["group"], shown["figure"],
                                                         strict=True)]
    low = (shown["value"] - shown["ci_low"]).fillna(0)
    high = (shown["ci_high"] - shown["value"]).fillna(0)
    fig = go.Figure(go.Scatter(
        x=shown["value"], y=labels, mode="markers",
        error_x={"type": "data", "array": high.tolist(), "arrayminus": low.tolist()},
        marker={"size": 11, "color": PLOT_COLORS[1]}, customdata=shown["n"],
        hovertemplate="%{y}: %{x:.3f} (n = %{customdata})<extra></extra>"))
    fig.add_vline(x=0, line={"color": "#999", "dash": "dot"})
    fig.update_layout(height=120 + 32 * max(len(shown), 2), margin={"l": 10, "r": 10, "t": 20,
                                                                   "b": 10},
                      xaxis_title=f"{short_name(card.rater)}: value with 95 % CI",
                      showlegend=False)
    return fig


def win_rates_table(wins: WinRates, rater: str) -> pd.DataFrame:
    """One row per generator model under ``rater``: win rate and Bradley–Terry strength with
    their CIs, comparisons, and why a strength is undefined."""
    rows = []
    for entry in wins.by_rater[rater]:
        win, bt = _cells(entry.win_rate), _cells(entry.bt_strength)
        rows.append({"model": entry.model, "win_rate": win["value"], "win_low": win["ci_low"],
                     "win_high": win["ci_high"], "bt_strength": bt["value"],
                     "bt_low": bt["ci_low"], "bt_high": bt["ci_high"],
                     "comparisons": entry.comparisons,
                     "undefined": win["undefined"] or bt["undefined"]})
    frame = pd.DataFrame(rows, columns=WIN_COLUMNS)
    return frame.sort_values("bt_strength", ascending=False, na_position="last",
                             ignore_index=True)


def rankings_figure(report: AuditReport) -> go.Figure:
    """Both rankings at once: each model's Bradley–Terry strength (95 % CI) by the human
    consensus and by each judge, models ordered by the humans' strength."""
    wins = report.win_rates
    assert wins is not None
    raters = list(wins.by_rater)
    reference = wins.by_rater.get(CONSENSUS) or wins.by_rater[raters[0]]
    order = [e.model for e in sorted(reference, key=lambda e: (e.bt_strength.value is None,
                                                               -(e.bt_strength.value or 0)))]
    taus = {r.rater: r.kendall_tau_b for r in wins.ranking}
    fig = go.Figure()
    for index, rater in enumerate(raters):
        by_model = {e.model: e.bt_strength for e in wins.by_rater[rater]}
        models = [m for m in order if by_model[m].value is not None]
        values = [by_model[m].value for m in models]
        low = [v - (by_model[m].ci95 or (v, v))[0] for m, v in zip(models, values, strict=True)]
        high = [(by_model[m].ci95 or (v, v))[1] - v for m, v in zip(models, values, strict=True)]
        tau = taus.get(rater)
        name = short_name(rater) + (f" (τ-b {tau.value:.2f})" if tau and tau.value is not None
                                    else "")
        fig.add_trace(go.Scatter(
            x=values, y=models, mode="markers", name=name,
            error_x={"type": "data", "array": high, "arrayminus": low},
            marker={"size": 12 if rater == CONSENSUS else 9,
                    "symbol": "diamond" if rater == CONSENSUS else "circle",
                    "color": PLOT_COLORS[index % len(PLOT_COLORS)]},
            hovertemplate=f"{name}<br>%{{y}}: θ %{{x:.3f}}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], type="category")
    fig.update_layout(height=140 + 40 * max(len(order), 3),
                      margin={"l": 10, "r": 10, "t": 20, "b": 10},
                      xaxis_title="Bradley–Terry strength θ (95 % CI)",
                      legend={"orientation": "h", "y": -0.25})
    return fig
