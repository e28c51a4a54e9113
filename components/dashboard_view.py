"""The Dashboard page: how far each judge agrees with the human experts, and where it fails.

Top to bottom: project, filters (a form), juries, a headline per dimension (one sentence
naming the judge to trust, the forest plot of every judge against the human consensus with
the human–human range, the exact numbers), then one detail view at a time chosen with a
segmented control, so the charts not shown are not computed. A ranking dimension's headline
is Kendall's τ-b beside top-1 agreement, with every rater pair's four ranking metrics in a
table under it; the views defined on labels only say why they do not apply.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from components.audit_view import AUDIT_VIEWS, render_audit_view
from components.dashboard_filters import filter_summary, render_filters, render_juries, stored_juries
from components.estimates_view import render_estimates
from components.review_data import (
    current_version,
    dashboard_data,
    dimension_facets,
    overview_data,
)
from components.review_project import choose_project
from core.charts import figures, model
from core.dashboard import DashboardRequest
from core.metrics import MetricsInputError
from core.metrics.comparison import Comparison, DashboardReport
from core.metrics.ratings import CONSENSUS
from core.rationale_checks import JudgeRationales
from core.safe_text import escape_markdown
from storage.database import Database
from storage.error_tags import error_taxonomy
from storage.projects import ProjectInfo
from storage.rationale_checks import rationale_checks

VIEWS = ("Confusion matrix", "Agreement matrix", "Label distribution", "By group", "By model",
         "Model ranking", "All dimensions", "Estimates", *AUDIT_VIEWS, "Why judges err")
VIEW_KEY = "dashboard.view"
PLOT_CONFIG = {"displaylogo": False}


def render_dashboard(db: Database) -> None:
    """Draw the Dashboard page."""
    st.title("Dashboard", anchor=False)
    project = choose_project(db, key="dashboard.project")
    if project is None:
        return
    version = current_version(db, project.id)

    def facets_for(name: str) -> Any:
        return dimension_facets(db, db.url, project.id, version, name)

    filters, juries = st.columns(2)
    with filters.expander("Filters", icon=":material/filter_alt:"):
        request = render_filters(project, facets_for, stored_juries(db, project.id))
    facets = facets_for(request.dimension)
    with juries.expander(f"Juries ({len(request.juries)})", icon=":material/groups:"):
        render_juries(db, project, facets.judges, request.juries)
    try:
        data = dashboard_data(db, db.url, project.id, version, request)
    except MetricsInputError as exc:
        st.error(f"Cannot compute this view: {escape_markdown(exc)}", icon=":material/error:")
        return
    document = data.document
    if data.juries_dropped:
        st.warning("Left out (a member judge is filtered out): "
                   + escape_markdown(", ".join(data.juries_dropped)), icon=":material/warning:")
    _summary(project, request, data)
    metric, min_pair_items = _headline_options(document.scale)
    second = model.SECOND_METRIC[document.scale]
    _headline(document, metric, second, min_pair_items)
    _ranking_pairs(document)
    _position_consistency(document)
    _self_consistency(document)
    view = st.segmented_control("Details", VIEWS, default=VIEWS[0], key=VIEW_KEY, required=True)
    if view == "Estimates":
        render_estimates(db, project, version, request.dimension, request.binarize_at,
                         facets.judges, request.juries, request.groups, request.models,
                         request.raters)
        return
    _detail(view or VIEWS[0], db, project, version, data, metric)


def _summary(project: ProjectInfo, request: DashboardRequest, data: DashboardReport) -> None:
    document = data.document
    title = project.schema.dimension(request.dimension).title
    binarized = (f" · binarised at ≥ {escape_markdown(document.binarized_at)}"
                 if document.binarized_at is not None else "")
    st.subheader(f"{escape_markdown(title)} ({document.scale}{binarized})", anchor=False)
    st.caption(escape_markdown(filter_summary(request)))
    cells = st.columns(4)
    cells[0].metric("Items", f"{data.items:,}",
                    help=f"{data.items:,} of the project's {data.items_total:,} items "
                         "pass the filters.")
    consensus = document.consensus
    if consensus:
        cells[1].metric("Items with a human consensus", f"{consensus.items:,}",
                        help=f"{consensus.method} of the annotators; {consensus.ties:,} "
                             "tied items have none and are left out of the comparisons.")
    else:
        cells[1].metric("Items with a human consensus", "none", help="No human labels yet.")
    if document.scale == "ranking":
        _human_pairs_cells(document, cells[2], cells[3])
        return
    groups = {group.name: group for group in document.groups}
    for cell, name, label in ((cells[2], "humans", "Humans' α"),
                              (cells[3], "humans+judges", "Humans + judges α")):
        group = groups.get(name)
        if group is None:
            cell.metric(label, "—", help="Needs two or more annotators (and a judge).")
            continue
        value = group.value("krippendorff_alpha")
        reason = group.undefined("krippendorff_alpha")
        cell.metric(label, "undefined" if value is None else f"{value:.3f}",
                    help=(f"Krippendorff's α ({group.alpha_level}) of "
                          f"{len(group.raters)} raters, n = {group.n:,} items. "
                          + (f"Undefined: {reason}" if reason else "")))


def _human_pairs_cells(document: Comparison, *cells: Any) -> None:
    """A ranking's summary: the annotator pairs' mean τ-b and top-1 agreement (a ranking has
    no group α)."""
    for cell, metric in zip(cells, ("kendall_tau_b", "top1_agreement"), strict=True):
        title = model.metric_title(metric)
        ceiling = model.human_ceiling(document, metric, min_items=1)
        if ceiling.mean is None:
            cell.metric(f"Humans' {title}", "—", help=ceiling.reason)
            continue
        cell.metric(f"Humans' {title}", model.format_value(metric, ceiling.mean),
                    help=f"Mean over the {len(ceiling.pairs)} annotator pair(s) of each pair's "
                         f"{title}, averaged over the items both ranked.")


def _headline_options(scale: str) -> tuple[str, int]:
    """The headline's metric and the overlap an annotator pair needs to count in the human
    range (presentation only: changing them recomputes nothing)."""
    choices = model.metrics_for(scale)
    left, middle, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    metric = left.selectbox("Headline metric", choices, key=f"dashboard.metric.{scale}",
                            index=choices.index(model.MAIN_METRIC[scale]),
                            format_func=model.metric_title, width=320)
    min_items = middle.number_input("Human pairs: shared items", min_value=1,
                                    value=model.DEFAULT_MIN_PAIR_ITEMS, step=5,
                                    key="dashboard.min_pair_items", help=model.MIN_PAIR_ITEMS_HELP)
    with right.popover("What do the metrics mean?", icon=":material/help:"):
        shown = model.RANKING_METRICS if scale == "ranking" else choices
        for name in shown:
            st.markdown(f"**{model.metric_title(name)}** (`{name}`)")
            st.caption(model.metric_text(name, scale))
    return metric, int(min_items)


def _headline(document: Comparison, metric: str, second: str, min_pair_items: int) -> None:
    rows = model.headline_rows(document, metric, second)
    ceiling = model.human_ceiling(document, metric, min_items=min_pair_items)
    with st.container(border=True):
        st.markdown(model.verdict_sentence(rows, ceiling, metric))
        if not rows:
            return
        st.plotly_chart(figures.headline_figure(rows, metric, second, ceiling),
                        key="dashboard.headline", config=PLOT_CONFIG)
        st.caption("Dots: each judge against the human consensus, with its 95 % bootstrap CI "
                   "(1,000 resamples of the items). Green band: the range of the same metric "
                   "between pairs of annotators who share enough items (grey squares, with "
                   "their CIs), dashed line their mean. A judge is called within or below the "
                   "human range only when its whole CI says so. "
                   + (model.RANKING_CAPTION if document.scale == "ranking" else
                      "Read κ next to percent agreement: a judge can agree often just because "
                      "one label dominates."))
        table = model.headline_table(rows, metric, second)
        st.dataframe(table, hide_index=True, key="dashboard.headline_table",
                     column_config=_number_columns(metric, second))


def _ranking_pairs(document: Comparison) -> None:
    """Every rater pair's four ranking metrics with their CIs (ranking dimensions only)."""
    if document.scale != "ranking" or not document.pairs:
        return
    st.markdown("**Every pair of raters**: each metric per item, then the mean over the items "
                "both ranked, with its 95 % CI (the normalised Levenshtein distance is lower "
                "for closer orders).")
    st.dataframe(model.ranking_pairs_table(document), hide_index=True,
                 key="dashboard.ranking_pairs",
                 column_config={model.metric_title(m): st.column_config.NumberColumn(
                     format="%.1f %%" if m in model.PROPORTIONS else "%.3f")
                     for m in model.RANKING_METRICS})


def _number_columns(metric: str, second: str) -> dict[str, Any]:
    config: dict[str, Any] = {model.metric_title(metric): st.column_config.NumberColumn(format="%.3f"),
                              "n": st.column_config.NumberColumn(format="localized")}
    config[model.metric_title(second)] = st.column_config.NumberColumn(
        format="%.1f %%" if second in model.PROPORTIONS else "%.3f")
    return config


def _detail(view: str, db: Database, project: ProjectInfo, version: str,
            data: DashboardReport, metric: str) -> None:
    document = data.document
    if view in AUDIT_VIEWS:
        render_audit_view(view, db, project, version, document.dimension)
    elif view == "Confusion matrix":
        _confusion(document)
    elif view == "Agreement matrix":
        st.plotly_chart(figures.rater_heatmap(document, metric), key="dashboard.raters",
                        config=PLOT_CONFIG)
        st.caption("Every pair of raters; hover a cell for n and, when undefined, the reason.")
    elif view == "Label distribution":
        _distribution(document)
    elif view in ("By group", "By model"):
        by = "group" if view == "By group" else "model"
        entries = data.slices[by]
        if not entries:
            st.info(f"Needs items of two or more {by}s, human labels and a judge.",
                    icon=":material/info:")
            return
        st.plotly_chart(figures.slices_figure(entries, metric, by), key=f"dashboard.{by}",
                        config=PLOT_CONFIG)
    elif view == "Model ranking":
        _ranking(document)
    elif view == "Why judges err":
        _error_taxonomy(db, project, document.dimension)
    else:
        documents = overview_data(db, db.url, project.id, version, project.schema.dimension_names)
        entries = model.overview_entries(documents)
        if not entries:
            st.info("No dimension has judges and human labels yet.", icon=":material/info:")
            return
        st.plotly_chart(figures.overview_figure(entries), key="dashboard.overview",
                        config=PLOT_CONFIG)
        st.caption("Each dimension's main metric (κ nominal, quadratic κ ordinal, α interval, "
                   "τ-b ranking) against the human consensus, on all items, without filters.")


def _confusion(document: Comparison) -> None:
    if document.scale == "ranking":
        st.info("A ranking has no confusion matrix: orders are compared by the metrics in the "
                "table above (τ-b, ρ, top-1 agreement, Levenshtein).", icon=":material/info:")
        return
    if document.scale == "interval":
        st.info("A confusion matrix needs labels: binarise the scale in the filters to see one.",
                icon=":material/info:")
        return
    rows = model.headline_rows(document, model.MAIN_METRIC[document.scale], None)
    if not rows:
        st.info("Needs human labels and a judge.", icon=":material/info:")
        return
    judge = st.selectbox("Judge", [row.rater for row in rows], key="dashboard.confusion_judge",
                         format_func=model.short_name, width=320)
    pair = model.find_pair(document, CONSENSUS, judge)
    assert pair is not None and pair.confusion_matrix is not None
    st.plotly_chart(figures.confusion_figure(pair.confusion_matrix, CONSENSUS, judge),
                    key="dashboard.confusion", config=PLOT_CONFIG, width="content")


def _position_consistency(document: Comparison) -> None:
    consistency = document.preference.position_consistency if document.preference else {}
    if not consistency:
        return
    st.markdown("**Position consistency**: how often a judge gives the same verdict when the two "
                "responses are shown in the other order.")
    st.dataframe(model.consistency_table(consistency), hide_index=True,
                 key="dashboard.consistency")


def _self_consistency(document: Comparison) -> None:
    entries = document.self_consistency
    if not entries:
        return
    st.markdown("**Self-consistency across samples**: how far each judge run with several "
                "samples per item agrees with itself (its samples as raters). Its scores above "
                "use the per-item majority of its samples (mean for scores); a tie gives no label.")
    st.dataframe(model.self_consistency_table(entries), hide_index=True,
                 key="dashboard.self_consistency")


def _distribution(document: Comparison) -> None:
    bias = document.bias
    if document.scale == "ranking":
        st.info("A ranking has no label distribution or leniency: each label is an order of "
                "the item's responses.", icon=":material/info:")
        return
    if bias is None:
        st.info("Needs human labels.", icon=":material/info:")
        return
    humans = model.human_raters(document)
    raters = [CONSENSUS, *(["humans"] if len(humans) > 1 else []), *humans,
              *model.scored_raters(document)]
    labels = [] if document.scale == "interval" else list(document.labels)
    st.plotly_chart(figures.distribution_figure(bias.distributions, labels, raters,
                                                ordered=document.scale == "ordinal"),
                    key="dashboard.distribution", config=PLOT_CONFIG)
    table = model.bias_table(bias)
    if len(table.columns) > 3:  # more than rater, n and reasons: the scale has a leniency
        positive = escape_markdown(bias.positive_label or "")
        st.caption(f"Leniency: a judge's rate of {positive!s} minus the consensus's rate on the "
                   "same items (positive: the judge says it more often).")
        st.dataframe(table, hide_index=True, key="dashboard.bias")


def _error_taxonomy(db: Database, project: ProjectInfo, dimension: str) -> None:
    with db.read() as session:
        taxonomy = error_taxonomy(session=session, project_id=project.id, dimension=dimension)
        rationales = rationale_checks(session=session, project_id=project.id)
    _rationale_checks(rationales)
    if taxonomy.empty:
        st.info("No judge verdict on this dimension is tagged yet. Tag why a judge was wrong "
                "on Disagreements (open an item; each judge's verdicts have the categories).",
                icon=":material/info:")
        return
    document = taxonomy.to_dict()
    st.plotly_chart(figures.error_taxonomy_figure(document), key="dashboard.error_taxonomy",
                    config=PLOT_CONFIG)
    table = pd.DataFrame([{"judge": judge.rater, "tagged verdicts": judge.tagged_verdicts,
                           **dict(judge.counts)} for judge in taxonomy.judges])
    st.dataframe(table, hide_index=True, key="dashboard.error_taxonomy_table")
    st.caption("Why judges were wrong, as admins tagged their verdicts on Disagreements (the "
               "error kinds of Judging the Judges by default; a verdict may have several).")


def _rationale_checks(judges: tuple[JudgeRationales, ...]) -> None:
    if not judges:
        st.info("No judge rationale is rated yet: annotators rate them (sound, flawed, "
                "hallucinated) after revealing the judges on Annotate.", icon=":material/info:")
        return
    table = pd.DataFrame([{"judge": judge.rater, "rated": judge.rated, **dict(judge.counts),
                           "unsound": judge.unsound_share,
                           "unsound 95% CI": "[{:.0%}, {:.0%}]".format(*judge.unsound_ci95)}
                          for judge in judges])
    st.markdown("**Rationale check**")
    st.dataframe(table, hide_index=True, key="dashboard.rationale_checks",
                 column_config={"unsound": st.column_config.NumberColumn(format="percent")})
    st.caption("Judge rationales as annotators rated them after revealing (all dimensions): "
               "unsound = flawed or hallucinated, with its Wilson 95 % interval.")


def _ranking(document: Comparison) -> None:
    ranking = document.ranking
    if document.scale == "ranking":
        st.info("Model ranking scores each item's model on a label scale; a ranking dimension "
                "orders responses within each item instead (see the pairs table above).",
                icon=":material/info:")
        return
    if ranking is None:
        st.info("Model ranking needs items of two or more models and a scale with a score "
                "(not a nominal scale with more than two labels).", icon=":material/info:")
        return
    st.plotly_chart(figures.ranking_figure(ranking), key="dashboard.ranking", config=PLOT_CONFIG)
    st.caption(f"Models ranked by {escape_markdown(ranking.score)} per rater (1 = best). "
               "Kendall's τ-b with the human consensus's ranking under each judge: a judge can "
               "rank models well with a low κ, and the reverse.")
