"""The Dashboard's Estimates view: each model's human-level score from expert labels plus a
judge (PPI++) beside the expert labels alone, the labels a judge is worth, and the label
budgets, with a sentence saying what the interval means and assumes."""

from __future__ import annotations

import streamlit as st

from core.charts.estimates import budgets_table, estimates_figure, estimates_table
from core.estimate.budget import budget_sentence
from core.estimate.ppi import EstimateError
from core.estimate.report import (
    EstimateReport,
    assumption_sentence,
    estimates_not_applicable,
    small_sample_warning,
)
from core.metrics import MetricsInputError
from core.metrics.consensus import Jury
from core.safe_text import escape_markdown
from storage.database import Database
from storage.estimates import estimate, project_budget
from storage.projects import ProjectInfo, project_by_id

# Estimates also depend on the queues' draw shares, which a rebuild changes without touching
# the labels' data version: a short time-to-live bounds how stale they can be.
ESTIMATE_TTL_S = 60
BY_CHOICES = {"model": "per model", "group": "per group", None: "overall only"}


@st.cache_data(ttl=ESTIMATE_TTL_S, max_entries=32, show_spinner="Estimating…")
def estimate_data(_db: Database, db_url: str, project_id: int, version: str, judge: str,
                  dimension: str, binarize_at: str | None, by: str | None,
                  juries: tuple[tuple[str, Jury], ...] = (),
                  groups: tuple[str, ...] | None = None,
                  models: tuple[str, ...] | None = None,
                  raters: tuple[str, ...] | None = None) -> EstimateReport:
    """:func:`storage.estimates.estimate` for these options (a frozen dataclass)."""
    with _db.read() as session:
        project = project_by_id(session=session, project_id=project_id)
        return estimate(session=session, project=project, judge=judge, dimension=dimension,
                        binarize_at=binarize_at, by=by, juries=dict(juries), groups=groups,
                        models=models, raters=raters)


@st.cache_data(ttl=ESTIMATE_TTL_S, max_entries=64, show_spinner=False)
def budget_data(_db: Database, db_url: str, project_id: int, version: str
                ) -> tuple[int | None, float]:
    """:func:`storage.estimates.project_budget`: labels to go and the target."""
    with _db.read() as session:
        return project_budget(session=session, project_id=project_id)


def budget_line(db: Database, project_id: int, version: str) -> str | None:
    """The project's label-budget sentence ("≈ 140 labels to go for ±0.05" or "enough labels
    for ±0.05"), or None before there are judges and human labels."""
    needed, target = budget_data(db, db.url, project_id, version)
    return None if needed is None else budget_sentence(needed, target)


def render_estimates(db: Database, project: ProjectInfo, version: str, dimension: str,
                     binarize_at: str | None, judges: tuple[str, ...],
                     juries: tuple[tuple[str, Jury], ...] = (),
                     groups: tuple[str, ...] | None = None,
                     models: tuple[str, ...] | None = None,
                     raters: tuple[str, ...] | None = None) -> None:
    """Draw the Estimates view for one dimension of ``project``; ``juries`` (the project's
    stored ones whose members are all among ``judges``) may power the estimate too. The
    Dashboard's filters apply: ``groups``/``models`` restrict it to those items, ``raters``
    (None: all) to those annotators and judges. On a dimension estimates do not apply to (a
    ranking) it says so instead."""
    not_applicable = estimates_not_applicable(dimension, project.schema.dimension(dimension).scale)
    if not_applicable is not None:
        st.info(escape_markdown(not_applicable.sentence()), icon=":material/info:")
        return
    if raters is not None:
        judges = tuple(name for name in judges if name in raters)
    if not judges:
        st.info("Estimates need a judge's verdicts on the items.", icon=":material/info:")
        return
    present = {name.removeprefix("judge:") for name in judges}
    juries = tuple((name, jury) for name, jury in juries
                   if {m.removeprefix("judge:") for m in jury.members} <= present)
    choices = [*judges, *(f"jury:{name}" for name, _ in juries)]
    left, right = st.columns(2)
    judge = left.selectbox("Judge or jury powering the estimate", choices, key="estimates.judge",
                           format_func=lambda name: name.removeprefix("judge:"), width=320)
    by = right.segmented_control("Split", list(BY_CHOICES), default="model",
                                 format_func=BY_CHOICES.get, key="estimates.by")
    try:
        report = estimate_data(db, db.url, project.id, version, judge, dimension, binarize_at,
                               by, juries, groups, models, raters)
    except (EstimateError, MetricsInputError) as exc:
        # NoDesignError says in one sentence why no label can be used.
        st.warning(escape_markdown(exc), icon=":material/warning:")
        return
    with st.container(border=True):
        st.markdown(escape_markdown(assumption_sentence(report)))
        if groups is not None or models is not None:
            chosen = [*(f"group {g}" for g in groups or ()), *(f"model {m}" for m in models or ())]
            st.caption(escape_markdown(f"Only the items of {', '.join(chosen)} (the filters "
                                       "above): the mean over those items, from the labels "
                                       "drawn among them."))
        warning = small_sample_warning(report)
        if warning:
            st.caption(escape_markdown(warning))
        design = ("a uniform random sample" if report.design_kind == "uniform"
                  else "an active sample (weighted back by its recorded probabilities)")
        st.caption(f"Labels used: {report.labelled - report.refused:,} of {report.labelled:,} "
                   f"labelled items, {design}, from the "
                   f"{'queue' if report.design_source == 'queue' else 'import'}. "
                   + escape_markdown(report.design_note))
        st.plotly_chart(estimates_figure(report), key="estimates.forest",
                        config={"displaylogo": False})
        st.dataframe(estimates_table(report), hide_index=True, key="estimates.table",
                     column_config={"λ": st.column_config.NumberColumn(format="%.2f"),
                                    "effective labels": st.column_config.NumberColumn(
                                        format="%.0f")})
        st.caption("Effective labels: how many expert labels alone would give the PPI++ "
                   "interval's width. Budget: further labels (same design) until the PPI++ "
                   f"interval is ±{report.target:g}, from the error shrinking as 1/√n.")
    st.markdown("**Label budgets of the judges and juries** (κ or the scale's main metric against the "
                "human consensus, all labels)")
    st.dataframe(budgets_table(report), hide_index=True, key="estimates.budgets",
                 column_config={"value": st.column_config.NumberColumn(format="%.3f"),
                                "95 % half-width": st.column_config.NumberColumn(format="%.3f")})
