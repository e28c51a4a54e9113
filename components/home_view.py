"""The first screen: what Docket is, the projects, and a one-click demo."""

from __future__ import annotations

import logging

import streamlit as st

from components.frames import projects_frame
from core.importing import ImportFileError, ImportRejected
from core.safe_text import escape_markdown
from storage.database import Database
from storage.demo import demo_files, load_demo
from storage.projects import ProjectError, project_summaries

log = logging.getLogger(__name__)

IMPORT_PAGE = "pages/1_Import.py"
_DEMO_NOTICE = "home.demo_notice"

INTRO = """\
Docket checks **LLM judges against human experts**. You import items — a prompt, a model's
response, and the verdicts one or more LLM judges gave — and experts label the same items in
the browser, **blind** to what the judges said. Docket then compares judges with humans
(Cohen's κ, Krippendorff's α, percent agreement) so you can see which judge you can trust,
and exports the experts' labels and **gold reference answers** for your own evaluations.
"""


def render_home(db: Database, *, can_manage: bool = True) -> None:
    """Draw the home page: the introduction, then the project list or the first steps.

    ``can_manage`` (admins) adds the demo button and the links to Import; without it the page
    only reads.
    """
    st.title("Docket", anchor=False)
    st.markdown(INTRO)
    notice = st.session_state.pop(_DEMO_NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    with db.read() as session:
        summaries = project_summaries(session=session)
    if not summaries and not can_manage:
        st.info("There are no projects yet. An admin imports the items to label.",
                icon=":material/info:")
        return
    if not summaries:
        _first_steps(db)
        return
    st.subheader("Projects", anchor=False)
    st.dataframe(projects_frame(summaries), hide_index=True, width="content")
    if not can_manage:
        return
    st.page_link(IMPORT_PAGE, label="Import more data", icon=":material/upload_file:")
    with st.expander("Demo data"):
        st.caption("Adds (or refreshes) one small demo project per built-in template.")
        if st.button("Load demo data", key="home.load_demo", icon=":material/science:"):
            _load_demo(db)


def _first_steps(db: Database) -> None:
    st.info("There are no projects yet. Load the demo data to look around, or import your own "
            "file.", icon=":material/info:")
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        clicked = st.button("Load demo data", key="home.load_demo", type="primary",
                            icon=":material/science:", width="stretch")
    with right:
        st.page_link(IMPORT_PAGE, label="Import your own data", icon=":material/upload_file:")
    if clicked:
        _load_demo(db)


def _load_demo(db: Database) -> None:
    """Load the demo projects with a progress bar; on success rerun to show them."""
    missing = [path for path in demo_files().values() if not path.is_file()]
    if missing:
        names = ", ".join(path.name for path in missing)
        st.error(f"The demo data is not installed: missing {escape_markdown(names)} in "
                 f"`{missing[0].parent}`.", icon=":material/error:")
        return
    with st.status("Loading demo data…", expanded=True) as status:
        bar = st.progress(0.0)

        def report(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        try:
            summaries = load_demo(db, progress=report)
        except (ImportFileError, ImportRejected, ProjectError) as exc:
            log.exception("loading the demo data failed")
            status.update(label="Loading the demo data failed", state="error")
            st.error(escape_markdown(exc), icon=":material/error:")
            return
        status.update(label="Demo data loaded", state="complete")
    added = sum(s.added for s in summaries)
    st.session_state[_DEMO_NOTICE] = (f"Demo data loaded: {len(summaries)} projects, {added} new "
                                      "items.")
    st.rerun()
