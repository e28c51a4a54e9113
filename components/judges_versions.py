"""Every prompt version of a judge against the human consensus, and whether each edit helped.

One row per version (rater ``NAME`` for v1, ``NAME@v2``, ...): the scale's main metric
against the human consensus with its bootstrap CI, n, the unparseable outputs, and the paired
difference to the previous version with its verdict sentence
(:func:`core.metrics.paired.score_in_sequence`). Cached like the dashboard's read models, keyed
on the project's data version, so a finished run shows at the next rerun.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from components.review_data import CACHE_TTL_S, RESULT_ENTRIES, current_version, dimension_ratings
from core.metrics import REGISTRY, MetricsInputError
from core.metrics.paired import RaterScore, score_in_sequence
from core.metrics.ratings import JUDGE
from core.metrics.registry import MAIN_METRIC
from core.safe_text import escape_markdown
from storage.database import Database
from storage.judges import JudgeInfo, PromptInfo, prompt_versions, rater_name
from storage.projects import ProjectInfo

RESAMPLES = 1000


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RESULT_ENTRIES, show_spinner="Comparing the prompt versions…")
def version_scores(_db: Database, db_url: str, project_id: int, version: str, dimension: str,
                   raters: tuple[str, ...]) -> list[RaterScore]:
    """:func:`core.metrics.paired.score_in_sequence` of ``raters`` on one dimension."""
    ratings = dimension_ratings(_db, db_url, project_id, version, dimension)
    return score_in_sequence(ratings, raters, n_resamples=RESAMPLES)


def version_raters(judge: JudgeInfo, versions: Sequence[PromptInfo]) -> list[tuple[str, str]]:
    """``(label, rater)`` per prompt version, oldest first: ``("v2", "judge:NAME@v2")``; a
    lexical judge (no prompt) is one row ``("—", "judge:NAME")``."""
    if judge.spec.kind != "llm":
        return [("—", f"{JUDGE}:{judge.name}")]
    return [(f"v{info.version}", f"{JUDGE}:{rater_name(judge.name, info.version)}")
            for info in versions]


def versions_frame(labels: Sequence[str], scores: Sequence[RaterScore], metric: str) -> pd.DataFrame:
    """The versions table: version, rater, metric, CI, n, unparseable, vs the previous one."""
    rows = []
    for index, (label, score) in enumerate(zip(labels, scores, strict=True)):
        result = score.score
        value = "—" if result.value is None else f"{result.value:.3f}"
        ci = "" if result.ci95 is None else f"[{result.ci95[0]:.3f}, {result.ci95[1]:.3f}]"
        verdicts = score.parsed + score.unparseable
        previous = ("" if score.previous is None
                    else score.previous.sentence(label, labels[index - 1]))
        if result.value is None:
            previous = previous or result.undefined_reason or ""
        rows.append((label, score.rater.removeprefix(f"{JUDGE}:"), value, ci, result.n,
                     f"{score.unparseable:,} of {verdicts:,}" if verdicts else "",
                     previous))
    title = REGISTRY[metric].title
    return pd.DataFrame(rows, columns=["version", "rater", title, "95% CI", "n",
                                       "unparseable", "vs the previous version"])


def render_versions(db: Database, project: ProjectInfo, judge: JudgeInfo) -> None:
    """The table of the judge's prompt versions for the project's task, with their agreement."""
    with db.read() as session:
        versions = prompt_versions(session=session, judge_id=judge.id, task=project.schema.name)
    named = version_raters(judge, versions)
    if not named:
        st.caption("No prompt version yet: save the prompt or start a run.")
        return
    dimensions = {d.name: d for d in project.schema.dimensions}
    name = next(iter(dimensions))
    if len(dimensions) > 1:
        name = st.selectbox("Dimension", list(dimensions), key=f"judges.versions.dimension.{project.id}",
                            format_func=lambda key: dimensions[key].title, width=360)
    if dimensions[name].is_ranking:  # their own metrics (τ-b, top-1 ...), on the Dashboard
        st.caption(f"Prompt versions are compared here on label dimensions; "
                   f"{escape_markdown(dimensions[name].title)} is a ranking: see the judges' "
                   "ranking agreement on the Dashboard.")
        return
    metric = MAIN_METRIC[dimensions[name].scale]
    labels = [label for label, _ in named]
    try:
        scores = version_scores(db, db.url, project.id, current_version(db, project.id), name,
                                tuple(rater for _, rater in named))
    except MetricsInputError as exc:
        st.error(f"Cannot compare the versions: {escape_markdown(exc)}", icon=":material/error:")
        return
    st.dataframe(versions_frame(labels, scores, metric), hide_index=True,
                 key=f"judges.versions.table.{judge.id}")
    newest = scores[-1]
    if newest.previous is not None:
        st.markdown("**" + escape_markdown(newest.previous.sentence(labels[-1], labels[-2])) + "**")
    st.caption(f"{REGISTRY[metric].title} against the human consensus with its 95 % bootstrap CI; "
               "the difference to the previous version resamples the items both versions and "
               f"the consensus labelled, {RESAMPLES:,} times, and is called real only when its "
               "interval excludes 0. Unparseable outputs are left out of every metric.")
