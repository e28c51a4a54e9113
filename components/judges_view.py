"""The Judges page (admins): define judges, and the prompt lab.

Top to bottom: the judges (never a key: only the name of the variable holding it) and the form
that defines one; then, for a chosen project and judge, the prompt editor beside the live
preview of the exact messages for a chosen item (and a try on that item), the run form, the
project's runs with their progress, and every prompt version with its agreement with the
human consensus and whether each edit made a detectable difference.
"""

from __future__ import annotations

import streamlit as st

from components.judges_define import render_define_form, render_judge_list
from components.judges_prompt import render_prompt_lab
from components.judges_runs import render_run_form, render_runs
from components.judges_versions import render_versions
from components.review_project import choose_project
from storage.database import Database
from storage.judges import JudgeInfo, list_judges

JUDGE_KEY = "judges.judge"
# Below 1440 px Streamlit's 5 rem page padding leaves the editor and the preview ~250 px each
# beside the sidebar at 1024 px; 1.5 rem (as on Annotate, components/annotate_layout.py) gives
# them ~320 px. Measured in tests/e2e/test_judges_browser.py.
CSS = """<style>
@media (max-width: 1439.98px) {
  .stMain .stMainBlockContainer { padding-left: 1.5rem; padding-right: 1.5rem; }
}
</style>"""


def render_judges(db: Database) -> None:
    """Draw the Judges page."""
    st.html(CSS)
    st.title("Judges", anchor=False)
    st.markdown("LLM judges on any OpenAI-compatible endpoint, and offline lexical judges. "
                "Write a judge's prompt, preview it on an item, try it, run it on the items "
                "with human labels, and see whether each prompt version agrees better with the "
                "experts.")
    with db.read() as session:
        judges = list_judges(session=session)
    render_judge_list(judges)
    with st.expander("Define a judge", icon=":material/add_circle:", expanded=not judges):
        render_define_form(db)
    if not judges:
        return
    st.header("Prompt lab", anchor=False, divider="gray")
    project_column, judge_column = st.columns(2)
    with project_column:
        project = choose_project(db, key="judges.project")
    if project is None:
        return
    with judge_column:
        judge = _choose_judge(judges)
    if judge.spec.kind == "llm":
        render_prompt_lab(db, project, judge)
    else:
        st.caption(f"{judge.name} is a lexical judge ({judge.spec.lexical}): it has no prompt.")
    st.subheader("Run", anchor=False)
    render_run_form(db, project, judge)
    render_runs(db, project)
    st.subheader("Prompt versions against the human consensus", anchor=False)
    render_versions(db, project, judge)


def _choose_judge(judges: list[JudgeInfo]) -> JudgeInfo:
    by_name = {judge.name: judge for judge in judges}
    name = st.selectbox("Judge", list(by_name), key=JUDGE_KEY, bind="query-params", width=360)
    return by_name.get(name) or judges[0]
