"""The first screen: what Docket is, your own queues, and (admins) the projects and a
one-click demo."""

from __future__ import annotations

import logging

import streamlit as st

from components.auth import refused
from components.estimates_view import budget_line
from components.frames import projects_frame
from core.importing import ImportFileError, ImportRejected
from core.safe_text import escape_markdown
from storage.authz import NotAllowed
from storage.database import Database
from storage.demo import demo_files, load_demo
from storage.projects import ProjectError, project_summaries
from storage.queues import QueueSummary, member_queues
from storage.users import UserInfo
from storage.versioning import data_version

log = logging.getLogger(__name__)

IMPORT_PAGE = "pages/1_Import.py"
ANNOTATE_PAGE = "pages/3_Annotate.py"
_DEMO_NOTICE = "home.demo_notice"
NO_QUEUES = "You are not annotating any project yet. An admin adds you to a project."

INTRO = """\
Docket checks **LLM judges against human experts**. You import items — a prompt, a model's
response, and the verdicts one or more LLM judges gave — and experts label the same items in
the browser, **blind** to what the judges said. Docket then compares judges with humans
(Cohen's κ, Krippendorff's α, percent agreement) so you can see which judge you can trust,
and exports the experts' labels and **gold reference answers** for your own evaluations.
"""


def render_home(db: Database, user: UserInfo) -> None:
    """Draw the home page for ``user``: the introduction, their own queues (with progress and
    a link to go on labelling), then for admins the project list or the first steps, the
    demo button and the links to Import."""
    st.title("Docket", anchor=False)
    st.markdown(INTRO)
    notice = st.session_state.pop(_DEMO_NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    with db.read() as session:
        queues = member_queues(session=session, user_id=user.id)
        summaries = project_summaries(session=session) if user.is_admin else []
    if queues:
        _queues(queues)
        _budgets(db, queues)
    if not user.is_admin:
        if not queues:
            st.info(NO_QUEUES, icon=":material/info:")
        return
    if not summaries:
        _first_steps(db, user)
        return
    st.subheader("Projects", anchor=False)
    st.dataframe(projects_frame(summaries), hide_index=True, width="content")
    st.page_link(IMPORT_PAGE, label="Import more data", icon=":material/upload_file:")
    with st.expander("Demo data"):
        st.caption("Adds (or refreshes) one small demo project per built-in template.")
        if st.button("Load demo data", key="home.load_demo", icon=":material/science:"):
            _load_demo(db, user)


def _queues(queues: list[QueueSummary]) -> None:
    """One row per queue: the project, its progress bar and a link to the Annotate page."""
    st.subheader("Your queues", anchor=False)
    for queue in queues:
        name, bar, link = st.container(border=True).columns([3, 4, 2], vertical_alignment="center")
        name.markdown(f"**{escape_markdown(queue.project)}**")
        if queue.total:
            skipped = f" · {queue.skipped:,} skipped" if queue.skipped else ""
            bar.progress((queue.done + queue.skipped) / queue.total,
                         text=f"{queue.done:,} of {queue.total:,} labelled{skipped}")
        else:
            bar.caption("No items in your queue yet: an admin builds the queues.")
        finished = queue.total > 0 and not queue.pending
        link.page_link(ANNOTATE_PAGE, label="Revise" if finished else "Continue",
                       icon=":material/edit_note:", query_params={"project": str(queue.project_id)},
                       disabled=not queue.total)


def _budgets(db: Database, queues: list[QueueSummary]) -> None:
    """The label budget of each project the user annotates ("≈ 140 labels to go for ±0.05"
    or "enough labels for ±0.05"), when it has judges and human labels."""
    lines = []
    for queue in queues:
        with db.read() as session:
            version = data_version(session=session, project_id=queue.project_id)
        line = budget_line(db, queue.project_id, version)
        if line is not None:
            lines.append(f"**{escape_markdown(queue.project)}**: {line}")
    if lines:
        st.caption("Label budget (until every judge's κ is known to the project's target): "
                   + " · ".join(lines), help="From the bootstrap CI of each judge's κ against "
                   "the human consensus; the error shrinks as 1/√n.")


def _first_steps(db: Database, user: UserInfo) -> None:
    st.info("There are no projects yet. Load the demo data to look around, or import your own "
            "file.", icon=":material/info:")
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        clicked = st.button("Load demo data", key="home.load_demo", type="primary",
                            icon=":material/science:", width="stretch")
    with right:
        st.page_link(IMPORT_PAGE, label="Import your own data", icon=":material/upload_file:")
    if clicked:
        _load_demo(db, user)


def _load_demo(db: Database, user: UserInfo) -> None:
    """Load the demo projects for ``user`` (an admin) with a progress bar; on success rerun
    to show them."""
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
            summaries = load_demo(db, actor=user, progress=report)
        except NotAllowed as exc:
            refused(exc)
            st.rerun()
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
