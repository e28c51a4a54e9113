"""The Disagreements page: where judges and humans part ways, worst first, and adjudication.

The table lists items where a judge is against the human consensus or the humans split
(:mod:`core.disagreements`; on a ranking dimension each annotator's order, the Borda consensus
and each judge's order), filtered by dimension, judge, group and kind and sorted by the
chosen severity. Choosing a row (or an item in the picker below it, which is kept in the URL)
opens the item with every label side by side and the gold form.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import pandas as pd
import streamlit as st

from components.adjudication_view import render_item_review
from components.error_tags_view import render_error_categories
from components.review_data import current_version, dimension_facets, disagreements_data
from components.review_project import choose_project
from core.disagreements import (
    KINDS,
    RANKING_MIN_TAU,
    SEVERITIES,
    SEVERITY_TITLES,
    sort_disagreements,
)
from storage.database import Database
from storage.projects import ProjectInfo
from storage.users import UserInfo

ALL = "(all dimensions)"
# A select's width in px for its longest choice: ~7.5 px a character of the UI font (a
# generous average) plus the padding and the arrow.
SELECT_CHAR_PX = 7.5
SELECT_CHROME_PX = 64
SELECT_MIN_PX = 160
MAX_ROWS = 1000
TABLE_KEY = "disagreements.table"
ITEM_KEY = "disagreements.item"
SHOWN_COLUMNS = ["item", "dimension", "kind", "consensus", "human labels", "judges_against",
                 "against", "distance", "human_split", "samples split", "group", "model"]


def render_disagreements(db: Database, user: UserInfo) -> None:
    """Draw the Disagreements page for the admin ``user``."""
    st.title("Disagreements", anchor=False)
    project = choose_project(db, key="disagreements.project")
    if project is None:
        return
    version = current_version(db, project.id)
    with st.expander("Error categories", icon=":material/sell:"):
        st.caption("Why judges err, for tagging their wrong verdicts below (each judge's "
                   "verdicts on an opened item).")
        render_error_categories(db, user, project)
    frame, has_humans = _filtered_table(db, project, version)
    total = len(frame)
    if not has_humans:
        st.info("No human labels yet: disagreements are measured against the experts' labels. "
                "Import earlier labels or let the annotators label first.", icon=":material/info:")
    elif total == 0:
        st.success("No disagreements with these filters: every judge agrees with the human "
                   "consensus and the humans agree among themselves.", icon=":material/check:")
    else:
        shown = frame.head(MAX_ROWS)
        st.caption(f"{total:,} disagreements" + (f"; the {MAX_ROWS:,} most severe are shown"
                                                 if total > MAX_ROWS else "")
                   + ". Choose a row to open the item.")
        st.dataframe(shown, hide_index=True, key=TABLE_KEY, on_select=partial(_on_row, shown),
                     selection_mode="single-row", column_order=_columns(shown),
                     column_config=_column_config(shown), height=min(38 + 35 * len(shown), 460))
        items = list(dict.fromkeys(shown["item"]))
        chosen = st.selectbox("Open item", items, index=None, key=ITEM_KEY, bind="query-params",
                              placeholder="choose a row above, or an item id", width=360)
        if chosen is not None:
            render_item_review(db, user, project, chosen)


def _filtered_table(db: Database, project: ProjectInfo, version: str) -> tuple[pd.DataFrame, bool]:
    """The filter widgets, and the filtered, sorted disagreements with whether any dimension
    has human labels at all."""
    schema = project.schema
    pid = project.id
    judges: set[str] = set()
    groups: tuple[str, ...] = ()
    has_humans = False
    for name in schema.dimension_names:
        facets = dimension_facets(db, db.url, pid, version, name)
        judges.update(j.split(":", 1)[1] for j in facets.judges)
        groups = facets.groups
        has_humans = has_humans or bool(facets.humans)
    # Selects as wide as their longest choice at any screen width (in a fifth of one row the
    # sort was cut to a few letters at 1024 px); the judge and group lists share the rest.
    with st.container(horizontal=True, vertical_alignment="bottom"):
        dimension = st.selectbox("Dimension", [ALL, *schema.dimension_names],
                                 key=f"disagreements.dimension.{pid}",
                                 width=_select_width([ALL, *schema.dimension_names]))
        chosen_judges = st.multiselect("Judges", sorted(judges),
                                       key=f"disagreements.judges.{pid}", placeholder="all judges",
                                       help="Only items where one of these judges is against "
                                            "the humans (and items where the humans split).")
        chosen_groups = st.multiselect("Groups", groups, key=f"disagreements.groups.{pid}",
                                       placeholder="all groups")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        kinds = st.pills("Show", KINDS, selection_mode="multi", default=list(KINDS),
                         key=f"disagreements.kinds.{pid}")
        sort_by = st.selectbox("Most severe by", SEVERITIES, key="disagreements.sort",
                               format_func=SEVERITY_TITLES.__getitem__,
                               width=_select_width(SEVERITY_TITLES.values()))
    dimensions = schema.dimension_names if dimension == ALL else (dimension,)
    frame = disagreements_data(db, db.url, pid, version, tuple(dimensions),
                               tuple(chosen_judges) or None, tuple(chosen_groups) or None)
    if frame.empty:
        return frame, has_humans
    return sort_disagreements(frame[frame["kind"].isin(kinds)], sort_by), has_humans


def _select_width(choices: Iterable[str]) -> int:
    """Pixels a select needs to show the longest of ``choices`` uncut."""
    longest = max((len(choice) for choice in choices), default=0)
    return max(SELECT_MIN_PX, round(longest * SELECT_CHAR_PX) + SELECT_CHROME_PX)


def _columns(frame: pd.DataFrame) -> list[str]:
    judges = [c for c in frame.columns if c.startswith("judge:")]
    shown = [c for c in SHOWN_COLUMNS if c in frame.columns]
    if frame["dimension"].nunique() <= 1:
        shown.remove("dimension")
    if not frame["samples split"].astype(bool).any():  # no judge was sampled several times
        shown.remove("samples split")
    return shown + judges


def _column_config(frame: pd.DataFrame) -> dict[str, object]:
    judges = {c: st.column_config.TextColumn(c.split(":", 1)[1]) for c in frame.columns
              if c.startswith("judge:")}
    return judges | {
        "judges_against": st.column_config.NumberColumn(
            "judges against", format="%d",
            help="Judges whose label differs from the human consensus (on a ranking: another "
                 f"first response, or Kendall τ below {RANKING_MIN_TAU:g})"),
        "distance": st.column_config.NumberColumn(
            "distance", format="%.2f",
            help="Largest distance of a judge to the consensus: 1 for a different nominal "
                 "label, label steps on an ordinal scale, the difference of interval scores, "
                 "1 − Kendall τ with the Borda order on a ranking (2: reversed)"),
        "human_split": st.column_config.NumberColumn(
            "human split", format="%.2f",
            help="1 − the share of the humans' most frequent label (0: all agree); on an "
                 "interval scale, the range of their scores; on a ranking, 1 − the lowest "
                 "Kendall τ between two annotators' orders"),
        "human labels": st.column_config.TextColumn("human labels"),
    }


def _on_row(shown: pd.DataFrame) -> None:
    rows = st.session_state[TABLE_KEY].selection.rows
    if rows:
        st.session_state[ITEM_KEY] = str(shown.iloc[rows[0]]["item"])
