"""Plotly figures of the judge dashboard: pure functions from plain data to ``go.Figure``.

No Streamlit here, so tests assert on ``fig.data`` and ``fig.layout``. An undefined value is
never drawn as 0 or left as a bare gap: the forest plot writes its reason beside the rater,
heatmap cells say "undefined" with the reason on hover, and ``n`` is in every label or hover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots
from scipy.stats import rankdata

from core.charts.model import (
    OVERVIEW_METRIC,
    PROPORTIONS,
    Ceiling,
    HeadlineRow,
    RangeVerdict,
    compare_with_range,
    find_pair,
    format_value,
    metric_title,
    short_name,
)
from core.metrics.comparison import Comparison, PairComparison, RankingReport
from core.metrics.ratings import rater_kind
from core.metrics.registry import metric_definition
from core.metrics.results import ConfusionMatrix

ROW_HEIGHT = 46
JUDGE_COLOR = "#1f77b4"
CEILING_COLOR = "rgba(44, 160, 44, 0.15)"
CEILING_LINE = "#2ca02c"
REASON_CHARS = 120
LABEL_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac")
FONT = {"size": 13}
# A horizontal legend at the bottom edge of the figure, below the x axis and its title
# (within the figure's bottom margin, so they cannot overlap).
BOTTOM_LEGEND = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0}


def _finish(fig: go.Figure, *, grid: bool = True, **layout: Any) -> go.Figure:
    """``fig`` with ``layout``, the shared font, and room made for every axis's labels;
    ``grid=False`` hides the grid lines (a heatmap's would cross its empty cells).

    automargin on every axis: the small fixed margins are a minimum that grows to fit the
    tick labels (rater names) and axis titles, whatever plotly template is the default (the
    "plotly" template turns automargin on, Streamlit's, set on import, does not).
    """
    axes: dict[str, Any] = {"automargin": True} | ({} if grid else {"showgrid": False})
    fig.update_layout(font=FONT, **layout)
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    return fig


def _scaled(metric: str, value: float | None) -> float | None:
    """Proportions in percent, everything else as it is."""
    if value is None:
        return None
    return 100 * value if metric in PROPORTIONS else value


def _clip(text: str, limit: int = REASON_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rater_label(rater: str, n: int) -> str:
    """Axis label of a rater with its n."""
    return f"{short_name(rater)} (n={n:,})"


def _bounded(metric: str) -> bool:
    return metric_definition(metric).bounds in ((-1.0, 1.0), (0.0, 1.0))


TIER_COLORS = {
    RangeVerdict.WITHIN: "#2ca02c",
    RangeVerdict.NOT_DISTINGUISHABLE: "#ff7f0e",
    RangeVerdict.BELOW: "#d62728",
    RangeVerdict.NO_RANGE: JUDGE_COLOR,
}
TIERS = tuple((verdict.value, color) for verdict, color in TIER_COLORS.items())
SYMBOLS = {"judge": "circle", "jury": "diamond"}
HUMAN_PAIR_COLOR = "#7f7f7f"


def tier(row: HeadlineRow, ceiling: Ceiling) -> str:
    """The legend name of how a headline value compares with the human range
    (:func:`core.charts.model.compare_with_range`, judged by the CI)."""
    return compare_with_range(row, ceiling).value


def _error_bars(cells: Sequence[tuple[float, tuple[float, float] | None]]) -> dict[str, Any]:
    """Asymmetric error bars of (value, CI) pairs; a value without a CI gets none."""
    return {"type": "data", "symmetric": False, "thickness": 2,
            "array": [(ci[1] - value) if ci else 0 for value, ci in cells],
            "arrayminus": [(value - ci[0]) if ci else 0 for value, ci in cells]}


def headline_figure(rows: Sequence[HeadlineRow], metric: str, second: str | None,
                    ceiling: Ceiling) -> go.Figure:
    """Forest plot of each judge's/jury's ``metric`` against the consensus with its 95% CI,
    best at the top, coloured by how it compares with the human–human range (green band,
    dashed mean) judged by its CI; the annotator pairs that make the band are grey squares
    with their CIs below the judges. A bar chart of ``second`` beside it. Undefined raters sit
    at the bottom of the judges with their reason. One scatter trace per (colour tier,
    judge/jury), one for the annotator pairs, and one bar trace."""
    columns = 2 if second else 1
    # Two lines: one line ran into the bar chart's title on a 1024 px screen.
    titles = [f"{metric_title(metric)} vs human consensus<br>95% CI"]
    if second:
        titles.append(metric_title(second) + (" (%)" if second in PROPORTIONS else ""))
    fig = make_subplots(rows=1, cols=columns, shared_yaxes=True, horizontal_spacing=0.03,
                        column_widths=[0.7, 0.3] if second else [1.0], subplot_titles=titles)
    labels = [rater_label(row.rater, row.main.n) for row in rows]
    pair_labels = [f"{short_name(p.a)} × {short_name(p.b)} (n={p.cell.n:,})" for p in ceiling.pairs]
    defined = [(label, row) for label, row in zip(labels, rows, strict=True)
               if row.main.value is not None]
    colors = dict(TIERS)
    for name in colors:
        for kind, symbol in SYMBOLS.items():
            points = [(label, row) for label, row in defined
                      if rater_kind(row.rater) == kind and tier(row, ceiling) == name]
            if not points:
                continue
            values = [row.main.value for _, row in points]
            fig.add_trace(go.Scatter(
                x=values, y=[label for label, _ in points], mode="markers+text",
                name=name if kind == "judge" else f"{name} (jury)",
                marker={"size": 14, "color": colors[name], "symbol": symbol},
                text=[f"{v:.2f}" for v in values], textposition="top center",
                error_x=_error_bars([(row.main.value, row.main.ci95) for _, row in points])
                | {"color": colors[name]},
                customdata=[format_value(metric, row.main.value) for _, row in points],
                hovertemplate="%{y}<br>" + metric_title(metric) + " %{customdata}<extra></extra>"),
                row=1, col=1)
    for label, row in zip(labels, rows, strict=True):
        if row.main.value is None:
            fig.add_annotation(x=0, xref="x domain", xanchor="left", y=label, yref="y",
                               text=f"undefined: {_clip(row.main.reason or '')}",
                               hovertext=f"undefined: {row.main.reason}",
                               showarrow=False, font={"color": "#a33", "size": 12})
    if ceiling.mean is not None:
        fig.add_vrect(x0=ceiling.low, x1=ceiling.high, fillcolor=CEILING_COLOR, line_width=0,
                      layer="below", row=1, col=1)
        fig.add_vline(x=ceiling.mean, line={"dash": "dash", "color": CEILING_LINE}, row=1, col=1)
        # A legend entry for the band and line (shapes have none).
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="lines", line={"dash": "dash", "color": CEILING_LINE, "width": 2},
            name=f"humans among themselves: mean {ceiling.mean:.2f}, "
                 f"range {ceiling.low:.2f}–{ceiling.high:.2f}"), row=1, col=1)
        # The pairs that make the band, with their CIs: a band of two pairs on 20 items each
        # is far less certain than its edges suggest.
        values = [p.cell.value for p in ceiling.pairs]
        fig.add_trace(go.Scatter(
            x=values, y=pair_labels, mode="markers", name="annotator pair (in the range)",
            marker={"size": 10, "color": HUMAN_PAIR_COLOR, "symbol": "square"},
            error_x=_error_bars([(p.cell.value, p.cell.ci95) for p in ceiling.pairs])
            | {"color": HUMAN_PAIR_COLOR},
            customdata=[format_value(metric, v) for v in values],
            hovertemplate="%{y}<br>" + metric_title(metric) + " %{customdata}<extra></extra>"),
            row=1, col=1)
    if second:
        bars = [(label, row.second) for label, row in zip(labels, rows, strict=True)
                if row.second is not None and row.second.value is not None]
        values = [_scaled(second, cell.value) for _, cell in bars]
        intervals = [None if cell.ci95 is None else (_scaled(second, cell.ci95[0]),
                                                     _scaled(second, cell.ci95[1]))
                     for _, cell in bars]
        fig.add_trace(go.Bar(
            x=values, y=[label for label, _ in bars], orientation="h", name=metric_title(second),
            marker={"color": "#c9d3df"}, showlegend=False,
            text=[format_value(second, cell.value) for _, cell in bars],
            textposition="inside", insidetextanchor="start",
            error_x=_error_bars(list(zip(values, intervals, strict=True))) | {"color": "#555"},
            hovertemplate="%{y}<br>%{text}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(categoryorder="array", categoryarray=labels + pair_labels,
                     autorange="reversed", row=1, col=1)
    lows = [row.main.ci95[0] if row.main.ci95 else row.main.value for _, row in defined]
    lows += [p.cell.ci95[0] if p.cell.ci95 else p.cell.value for p in ceiling.pairs]
    if _bounded(metric):
        low_end = min([0.0, *(v for v in lows if v is not None)]) - 0.05
        fig.update_xaxes(range=[low_end, 1.05], row=1, col=1)
    if second in PROPORTIONS:
        fig.update_xaxes(range=[0, 105], row=1, col=2)
    return _finish(fig, height=180 + ROW_HEIGHT * max(len(rows) + len(pair_labels), 2),
                   legend=BOTTOM_LEGEND, margin={"l": 10, "r": 10, "t": 40, "b": 64})


def _cell_text(metric: str, entry: PairComparison | None) -> tuple[float | None, str, str]:
    """(value, text, hover) of one heatmap cell."""
    if entry is None:
        return None, "", ""
    value = entry.value(metric)
    n = entry.n
    if value is None:
        reason = entry.undefined(metric) or ""
        return None, "undefined", f"n = {n:,}<br>undefined: {reason}"
    return value, f"{value:.2f}", f"{format_value(metric, value)}<br>n = {n:,}"


def rater_heatmap(document: Comparison, metric: str,
                  raters: Sequence[str] | None = None) -> go.Figure:
    """Rater x rater heatmap of ``metric`` for ``raters`` (default: all of the document's);
    the diagonal is empty, undefined cells say so (reason on hover)."""
    names = list(raters if raters is not None else document.raters)
    z, text, hover = [], [], []
    for a in names:
        row_z, row_text, row_hover = [], [], []
        for b in names:
            value, label, tip = _cell_text(metric, None if a == b else find_pair(document, a, b))
            row_z.append(value)
            row_text.append(label)
            row_hover.append(tip)
        z.append(row_z)
        text.append(row_text)
        hover.append(row_hover)
    axis = [short_name(name) for name in names]
    bounded = _bounded(metric)
    fig = go.Figure(go.Heatmap(
        z=z, x=axis, y=axis, text=text, texttemplate="%{text}", customdata=hover,
        hovertemplate="%{y} × %{x}<br>%{customdata}<extra></extra>",
        colorscale="RdYlGn" if bounded else "Viridis", reversescale=not bounded,
        zmin=0 if bounded else None, zmax=1 if bounded else None,
        colorbar={"title": {"text": metric_title(metric)}}))
    fig.update_yaxes(autorange="reversed")
    size = 90 + 48 * len(names)
    return _finish(fig, grid=False, height=max(size, 320), margin={"l": 10, "r": 10, "t": 30, "b": 10})


def confusion_figure(matrix: ConfusionMatrix, rows_rater: str, columns_rater: str) -> go.Figure:
    """Heatmap of a confusion matrix (rows = ``rows_rater``): each cell shows its count and
    the share of its row."""
    labels = list(matrix.labels)
    counts = [list(row) for row in matrix.counts]
    totals = [sum(row) for row in counts]
    text = [[f"{c:,}<br>{100 * c / t:.0f} %" if t else f"{c:,}" for c in row]
            for row, t in zip(counts, totals, strict=True)]
    fig = go.Figure(go.Heatmap(z=counts, x=labels, y=labels, text=text, texttemplate="%{text}",
                               colorscale="Blues", showscale=False,
                               hovertemplate=(f"{short_name(rows_rater)}: %{{y}}<br>"
                                              f"{short_name(columns_rater)}: %{{x}}<br>"
                                              "%{z} items<extra></extra>")))
    fig.update_xaxes(title_text=f"{short_name(columns_rater)} says", side="top", type="category")
    fig.update_yaxes(title_text=f"{short_name(rows_rater)} says", autorange="reversed",
                     type="category")
    size = 140 + 60 * len(labels)
    return _finish(fig, grid=False, height=max(size, 300), width=max(size + 120, 420),
                   margin={"l": 10, "r": 10, "t": 60, "b": 10})


def label_colors(labels: Sequence[str], ordered: bool) -> list[str]:
    """One colour per label: light to dark blue along an ordered scale (no "good" end is
    assumed: a higher difficulty is not better), distinct hues otherwise."""
    if ordered and len(labels) > 1:
        return sample_colorscale("Blues", [0.25 + 0.75 * i / (len(labels) - 1)
                                           for i in range(len(labels))])
    return [LABEL_COLORS[i % len(LABEL_COLORS)] for i in range(len(labels))]


def _distribution_axis(rater: str, n: int) -> str:
    # "humans" is the pooled row of every human label, not a rater name.
    return f"all human labels (n={n:,})" if rater == "humans" else rater_label(rater, n)


def distribution_figure(distributions: Mapping[str, Mapping[str, Any]], labels: Sequence[str],
                        raters: Sequence[str], *, ordered: bool = False) -> go.Figure:
    """Each rater's label distribution as stacked shares (nominal/ordinal, ``labels`` in
    scale order; ``ordered``: shades of one colour) or mean ± sd (interval, ``labels``
    empty); n in every rater's label."""
    names = [r for r in raters if r in distributions]
    if not labels:
        points = [(r, distributions[r]) for r in names if distributions[r].get("mean") is not None]
        fig = go.Figure(go.Scatter(
            x=[d["mean"] for _, d in points], y=[_distribution_axis(r, d["n"]) for r, d in points],
            mode="markers", marker={"size": 11, "color": JUDGE_COLOR},
            error_x={"type": "data", "array": [d["sd"] or 0 for _, d in points]},
            hovertemplate="%{y}<br>mean %{x:.2f}<extra></extra>"))
        fig.update_xaxes(title_text="mean score ± sd")
    else:
        totals = {r: sum(distributions[r].get(label, 0) for label in labels) for r in names}
        axis = [_distribution_axis(r, totals[r]) for r in names]
        fig = go.Figure()
        colors = label_colors(labels, ordered)
        for index, label in enumerate(labels):
            shares = [100 * distributions[r].get(label, 0) / totals[r] if totals[r] else 0.0
                      for r in names]
            fig.add_trace(go.Bar(
                x=shares, y=axis, orientation="h", name=label,
                marker={"color": colors[index]},
                text=[f"{s:.0f} %" if s >= 4 else "" for s in shares], textposition="inside",
                customdata=[distributions[r].get(label, 0) for r in names],
                hovertemplate=f"%{{y}}<br>{label}: %{{x:.1f}} % (%{{customdata}} items)<extra></extra>"))
        fig.update_layout(barmode="stack", legend=BOTTOM_LEGEND | {"traceorder": "normal"})
        fig.update_xaxes(title_text="share of the rater's labels (%)", range=[0, 100])
    fig.update_yaxes(autorange="reversed")
    return _finish(fig, height=130 + ROW_HEIGHT * max(len(names), 2),
                   margin={"l": 10, "r": 10, "t": 20, "b": 64})


def _grid_heatmap(entries: Sequence[PairComparison], metric: str, *, title: str,
                  bounded: bool, axis_name: str) -> go.Figure:
    """Heatmap of ``metric`` with one row per entry ``slice`` and one column per rater ``b``;
    each cell shows its value and n, an undefined cell says so (reason on hover)."""
    slices = list(dict.fromkeys(entry.slice for entry in entries))
    raters = list(dict.fromkeys(entry.b for entry in entries))
    lookup = {(entry.slice, entry.b): entry for entry in entries}
    z, text, hover = [], [], []
    for name in slices:
        row = [_cell_text(metric, lookup.get((name, rater))) for rater in raters]
        z.append([value for value, _, _ in row])
        text.append([f"{label}<br>n={lookup[(name, rater)].n:,}" if (name, rater) in lookup
                     else "" for (_, label, _), rater in zip(row, raters, strict=True)])
        hover.append([tip for _, _, tip in row])
    fig = go.Figure(go.Heatmap(
        z=z, x=[short_name(r) for r in raters], y=slices, text=text, texttemplate="%{text}",
        customdata=hover, hovertemplate=f"{axis_name} %{{y}} · %{{x}}<br>%{{customdata}}<extra></extra>",
        colorscale="RdYlGn" if bounded else "Viridis", reversescale=not bounded,
        zmin=0 if bounded else None, zmax=1 if bounded else None,
        colorbar={"title": {"text": title}}))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    return _finish(fig, grid=False, height=max(120 + 44 * len(slices), 300),
                   margin={"l": 10, "r": 10, "t": 40, "b": 10})


def slices_figure(entries: Sequence[PairComparison], metric: str, by: str) -> go.Figure:
    """Heatmap of ``metric`` per slice (rows: the groups or models) and judge (columns),
    from :func:`core.metrics.slices.slice_agreement` entries."""
    return _grid_heatmap(entries, metric, title=metric_title(metric), bounded=_bounded(metric),
                         axis_name=by)


def overview_figure(entries: Sequence[PairComparison]) -> go.Figure:
    """Heatmap of each dimension's main metric (rows) per judge (columns), from
    :func:`core.charts.model.overview_entries` (the metric under the name ``value``)."""
    return _grid_heatmap(entries, OVERVIEW_METRIC, title="main metric", bounded=True,
                         axis_name="dimension")


def model_ranks(scores: Mapping[str, float | None]) -> dict[str, float]:
    """Rank of each scored model, 1 = highest score; tied models share the lowest rank."""
    scored = {model: value for model, value in scores.items() if value is not None}
    if not scored:
        return {}
    ranks = rankdata([-value for value in scored.values()], method="min")
    return {model: float(rank) for model, rank in zip(scored, ranks, strict=True)}


def ranking_figure(ranking: RankingReport) -> go.Figure:
    """Bump chart: the models' rank (1 = best) by the reference (the human consensus) and by
    each judge, one line per model; each judge's Kendall τ-b with the reference under its name."""
    reference = ranking.reference
    raters = [reference, *ranking.kendall_tau]
    axis = [short_name(reference)]
    for rater, tau in ranking.kendall_tau.items():
        shown = f"τ {tau.value:.2f}" if tau.value is not None else "τ undefined"
        axis.append(f"{short_name(rater)}<br>{shown}")
    ranks = {rater: model_ranks(ranking.scores[rater]) for rater in raters}
    fig = go.Figure()
    for index, model in enumerate(ranking.models):
        xs = [label for label, rater in zip(axis, raters, strict=True) if model in ranks[rater]]
        ys = [ranks[rater][model] for rater in raters if model in ranks[rater]]
        scores = [ranking.scores[rater][model] for rater in raters if model in ranks[rater]]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=model,
            line={"color": LABEL_COLORS[index % len(LABEL_COLORS)], "width": 3},
            marker={"size": 12}, customdata=scores,
            hovertemplate=f"{model}<br>%{{x}}<br>rank %{{y:.0f}} · score %{{customdata:.3f}}"
                          "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="rank (1 = best)", dtick=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=axis)
    return _finish(fig, height=140 + 34 * max(len(ranking.models), 4),
                   margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend={"title": {"text": "model"}})


def _most(judges: Sequence[Mapping[str, Any]]) -> int:
    """The largest stacked bar: a judge's counts summed over categories."""
    return max((sum(judge["counts"].values()) for judge in judges), default=0)


def error_taxonomy_figure(taxonomy: Mapping[str, Any]) -> go.Figure:
    """Each tagged judge's error counts as stacked bars, one colour per category (the JSON
    form of :class:`core.error_taxonomy.ErrorTaxonomy`); the judge's tagged verdicts in its
    label."""
    judges = taxonomy["judges"]
    categories = [c for c in taxonomy["categories"]
                  if any(judge["counts"].get(c, 0) for judge in judges)]
    axis = [f"{judge['rater']} ({judge['tagged_verdicts']:,} tagged)" for judge in judges]
    colors = label_colors(categories, False)
    fig = go.Figure()
    for index, category in enumerate(categories):
        fig.add_trace(go.Bar(
            x=[judge["counts"].get(category, 0) for judge in judges], y=axis, orientation="h",
            name=category, marker={"color": colors[index]},
            hovertemplate="%{y}<br>%{fullData.name}: %{x} verdicts<extra></extra>"))
    # The legend names the categories even when only one is used.
    fig.update_layout(barmode="stack", showlegend=True,
                      legend=BOTTOM_LEGEND | {"traceorder": "normal"})
    fig.update_xaxes(title_text="tagged verdicts per category (a verdict may have several)",
                     tickformat="d", rangemode="tozero", dtick=1 if _most(judges) <= 10 else None)
    fig.update_yaxes(autorange="reversed")
    return _finish(fig, height=130 + ROW_HEIGHT * max(len(judges), 2),
                   margin={"l": 10, "r": 10, "t": 20, "b": 64})
