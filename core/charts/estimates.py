"""Plotly figure and table of the Estimates view: per slice, the classical interval from the
expert labels alone and the PPI++ interval side by side (a forest plot). Pure functions from
:class:`core.estimate.report.EstimateReport` to ``go.Figure`` / DataFrame."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.estimate.budget import budget_sentence
from core.estimate.ppi import MeanEstimate
from core.estimate.report import EstimateReport

CLASSICAL = "Expert labels alone (classical)"
PPI = "Experts + judge (PPI++)"
COLORS = {CLASSICAL: "#9e9e9e", PPI: "#1f77b4"}


def estimates_figure(report: EstimateReport) -> go.Figure:
    """One row per slice, two intervals each (classical above, PPI++ below), point estimate
    as a dot; slices without enough labels are left out (the table says why)."""
    shown = [s for s in report.estimates if s.ppi is not None and s.classical is not None]
    figure = go.Figure()
    for name, offset in ((CLASSICAL, 0.15), (PPI, -0.15)):
        xs, ys, lows, highs, texts = [], [], [], [], []
        for index, entry in enumerate(reversed(shown)):
            result = entry.classical if name == CLASSICAL else entry.ppi
            assert result is not None
            xs.append(result.estimate)
            ys.append(index + offset)
            lows.append(result.estimate - result.ci[0])
            highs.append(result.ci[1] - result.estimate)
            texts.append(f"{entry.slice}: {result.estimate:.3f} "
                         f"[{result.ci[0]:.3f}, {result.ci[1]:.3f}], n = {entry.n_labelled} "
                         f"of {entry.n_total}")
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="markers", name=name, marker={"color": COLORS[name], "size": 9},
            error_x={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows,
                     "thickness": 2, "width": 0},
            hovertext=texts, hoverinfo="text"))
    figure.update_layout(
        xaxis_title=f"mean {report.dimension} (95 % CI)",
        yaxis={"tickmode": "array", "tickvals": list(range(len(shown))),
               "ticktext": [s.slice for s in reversed(shown)]},
        height=120 + 48 * len(shown), margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.08})
    return figure


def estimates_table(report: EstimateReport) -> pd.DataFrame:
    """One row per slice: n/N, both intervals, λ, effective labels and the budget line."""
    def interval(result: MeanEstimate | None) -> str:
        if result is None:
            return "—"
        return f"{result.estimate:.3f} [{result.ci[0]:.3f}, {result.ci[1]:.3f}]"

    rows = []
    for entry in report.estimates:
        rows.append({
            "slice": entry.slice, "labelled": entry.n_labelled, "items": entry.n_total,
            "classical": interval(entry.classical), "PPI++": interval(entry.ppi),
            "λ": None if entry.ppi is None else entry.ppi.lam,
            "effective labels": entry.effective_labels,
            "budget": entry.reason or budget_sentence(entry.labels_needed, report.target),
        })
    return pd.DataFrame(rows)


def budgets_table(report: EstimateReport) -> pd.DataFrame:
    """One row per judge: its main metric against the consensus, the CI half-width, the
    labels it rests on and the budget line."""
    return pd.DataFrame([{
        "judge": b.rater.removeprefix("judge:"), "metric": b.metric, "value": b.value,
        "95 % half-width": b.halfwidth, "n": b.n,
        "budget": budget_sentence(b.labels_needed, report.target)} for b in report.judges])
