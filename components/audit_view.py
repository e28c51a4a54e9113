"""The Dashboard's Bias card and Win rates views (the judge audit of one dimension).

The audit runs on the filters' dimension over all items (item and rater filters do not apply:
a position or length figure needs every paired verdict). It is cached per data version, so
it is computed once per write, and only when one of these two views is open.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.audit import AuditOptions, AuditReport, audit_dimension
from core.audit.probes import label_agreement
from core.charts.audit import bias_card_figure, bias_card_table, rankings_figure, win_rates_table
from core.charts.model import short_name
from core.metrics import MetricsInputError
from core.safe_text import escape_markdown
from storage.audit import load_answered, load_audit_inputs
from storage.database import Database
from storage.probes import item_probes, probe_items
from storage.projects import ProjectInfo, project_by_id

AUDIT_VIEWS = ("Bias card", "Win rates")
PLOT_CONFIG = {"displaylogo": False}
CACHE_TTL_S = 15 * 60
RESAMPLES = 1000
TAU_FORMAT = {name: st.column_config.NumberColumn(format="%.3f")
              for name in ("kendall_tau_b", "ci_low", "ci_high")}


@st.cache_data(ttl=CACHE_TTL_S, max_entries=32, show_spinner="Auditing the judges…")
def audit_data(_db: Database, db_url: str, project_id: int, version: str, dimension: str,
               n_resamples: int = RESAMPLES, seed: int = 0) -> AuditReport:
    """:func:`core.audit.audit_dimension` of one dimension with the judges' families."""
    with _db.read() as session:
        schema = project_by_id(session=session, project_id=project_id).schema
        inputs = load_audit_inputs(session=session, project_id=project_id,
                                   dimension=schema.dimension(dimension))
        answered = load_answered(session=session, project_id=project_id,
                                 item_ids=[str(i) for i in inputs.ratings.item_ids],
                                 raters=inputs.ratings.raters)
        probes = probe_items(session=session, project_id=project_id, dimension=dimension)
    return audit_dimension(inputs.ratings, inputs.facts,
                           AuditOptions(n_resamples, seed, inputs.families, answered,
                                        probes=probes))


def _report(db: Database, project: ProjectInfo, version: str, dimension: str
            ) -> AuditReport | None:
    try:
        return audit_data(db, db.url, project.id, version, dimension)
    except MetricsInputError as exc:
        st.error(f"Cannot audit this dimension: {escape_markdown(exc)}", icon=":material/error:")
        return None


def render_audit_view(view: str, db: Database, project: ProjectInfo, version: str,
                      dimension: str) -> None:
    """Draw ``view`` (one of :data:`AUDIT_VIEWS`) for ``dimension``."""
    report = _report(db, project, version, dimension)
    if report is None:
        return
    if report.not_applicable is not None:
        st.info(escape_markdown(report.not_applicable.sentence()), icon=":material/info:")
        return
    if view == AUDIT_VIEWS[0]:
        chosen = _bias_card(report)
        if chosen is not None:
            _probes(db, project, dimension, chosen)
    else:
        _win_rates(report)


def _bias_card(report: AuditReport) -> str | None:
    """Draw the chosen judge's card; return that judge (None without judges)."""
    if not report.judges:
        st.info("No judge has verdicts on this dimension.", icon=":material/info:")
        return None
    names = [card.rater for card in report.judges]
    chosen = st.selectbox("Judge", names, key="dashboard.bias_judge", format_func=short_name,
                          width=320)
    card = report.judges[names.index(chosen)]
    family = card.self_preference.family
    st.caption(f"Bias card of {escape_markdown(short_name(card.rater))} against the human "
               f"consensus on all items of this dimension · model family: "
               f"{escape_markdown(family) if family else 'none (self-preference undefined)'}. "
               "Each figure with its 95 % bootstrap CI and n; an undefined figure says why.")
    table = bias_card_table(card)
    if table["value"].notna().any():
        st.plotly_chart(bias_card_figure(card), key="dashboard.bias_card_chart",
                        config=PLOT_CONFIG)
    st.dataframe(table, hide_index=True, key="dashboard.bias_card",
                 column_config={name: st.column_config.NumberColumn(format="%.3f")
                                for name in ("value", "ci_low", "ci_high")})
    return chosen


def _probes(db: Database, project: ProjectInfo, dimension: str, rater: str | None) -> None:
    """The chosen judge's consistency probes, item by item (one row per wording)."""
    with db.read() as session:
        probes = item_probes(session=session, project=project.name)
    rows = []
    for probe in probes:
        verdicts = {v.position: v for v in probe.verdicts.get(rater or "", {}).get(dimension, ())}
        if not verdicts:
            continue
        agreement = label_agreement([v.label for v in verdicts.values()])
        for position, question, source in probe.variants:
            found = verdicts.get(position)
            rows.append({"item": probe.external_id, "wording": position, "source": source,
                         "question": question,
                         "label": (found.label or "unparseable") if found else "not run",
                         "item label agreement": agreement})
    if not rows:
        return
    st.markdown("**Consistency probes**: the judge's verdict on each wording of the question "
                "(0 = as given); label agreement = pairs of wordings with the same label.")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="dashboard.probes",
                 column_config={"item label agreement":
                                st.column_config.NumberColumn(format="%.2f")})


def _win_rates(report: AuditReport) -> None:
    wins = report.win_rates
    if wins is None:
        st.info("Win rates need a pairwise A/B dimension whose items name both models "
                "(model_a and model_b in the import file).", icon=":material/info:")
        if report.ranking:
            st.markdown("**Ranking agreement** (models by mean score, Kendall τ-b with the "
                        "humans' ranking)")
            st.dataframe(_ranking_rows(report), hide_index=True, key="dashboard.score_ranking",
                         column_config=TAU_FORMAT)
        return
    st.plotly_chart(rankings_figure(report), key="dashboard.win_rates_chart", config=PLOT_CONFIG)
    st.caption("Each generator model's Bradley–Terry strength by the human consensus "
               "(diamonds) and by each judge, with 95 % CIs; τ-b in the legend is the judge's "
               "rank agreement with the humans. A tie counts as half a win.")
    raters = list(wins.by_rater)
    rater = st.selectbox("Rater", raters, key="dashboard.win_rater", format_func=short_name,
                         width=320)
    st.dataframe(win_rates_table(wins, rater), hide_index=True, key="dashboard.win_rates",
                 column_config={name: st.column_config.NumberColumn(format="%.3f") for name in
                                ("win_rate", "win_low", "win_high", "bt_strength", "bt_low",
                                 "bt_high")})
    if wins.ranking:
        st.dataframe(_ranking_rows(report), hide_index=True, key="dashboard.ranking_agreement",
                     column_config=TAU_FORMAT)


def _ranking_rows(report: AuditReport) -> list[dict[str, object]]:
    rows = []
    for entry in report.ranking:
        figure = entry.kendall_tau_b
        low, high = figure.ci95 if figure.ci95 else (None, None)
        rows.append({"judge": short_name(entry.rater), "kendall_tau_b": figure.value,
                     "ci_low": low, "ci_high": high, "models": figure.n,
                     "undefined": figure.undefined or ""})
    return rows
