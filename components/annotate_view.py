"""The Annotate page: choose one of your projects, see your progress, label in the panel.

The page body runs on a full rerun only (load, reload, switching projects); everything a
label key or "save & next" touches is in the panel fragment. The project is in the URL
(``?project=<id>``) next to the item, so a reload or a shared link opens the same item.
"""

from __future__ import annotations

import streamlit as st

from components import annotate_state as state
from components.annotate_layout import apply_layout
from components.annotate_panel import annotation_panel
from core.safe_text import escape_markdown
from storage.annotation_settings import get_settings, member_projects
from storage.database import Database
from storage.projects import ProjectInfo
from storage.queues import queue_counts
from storage.users import UserInfo

BLIND_NOTE = ("**Blind project.** The judges' verdicts stay hidden until you save your label; "
              "then you may compare and revise (with a reason).")
OPEN_NOTE = ("**Not blind.** The judges' verdicts are shown from the start, and your labels are "
             "recorded as made with them in view.")


def render_annotate(db: Database, user: UserInfo) -> None:
    """Draw the Annotate page for ``user``."""
    st.title("Annotate", anchor=False)
    with db.read() as session:
        projects = member_projects(session=session, user_id=user.id)
    if not projects:
        hint = " Add yourself as an annotator on **Projects**." if user.is_admin else (
            " An admin adds you to a project.")
        st.info(f"You are not annotating any project yet.{hint}", icon=":material/info:")
        return
    picker, header = st.columns([1, 2], vertical_alignment="bottom")
    with picker:
        project = _chosen_project(projects)
    with db.read() as session:
        settings = get_settings(session=session, project_id=project.id)
        total = sum(queue_counts(session=session, project_id=project.id, user_id=user.id).values())
    with header:
        st.caption(f"{escape_markdown(project.schema.title)} · "
                   + (BLIND_NOTE if settings.blind else OPEN_NOTE))
    apply_layout()
    annotation_panel(db, user.id, project, total)


def _chosen_project(projects: list[ProjectInfo]) -> ProjectInfo:
    by_id = {project.id: project for project in projects}
    wanted = state.project_param()
    if wanted is not None and wanted not in by_id:
        st.error("The project in the link is not one of yours; showing your first project.",
                 icon=":material/block:")
        state.set_project_param(projects[0].id, keep_item=False)
        wanted = projects[0].id
    elif wanted is None:
        wanted = projects[0].id
        state.set_project_param(wanted, keep_item=True)
    if len(projects) > 1:
        st.session_state[state.PROJECT_PICK] = wanted  # the URL decides (reload, shared link)
        st.selectbox("Project", list(by_id), key=state.PROJECT_PICK,
                     format_func=lambda project_id: by_id[project_id].name,
                     on_change=_on_pick)
    else:
        st.markdown(f"Project **{escape_markdown(by_id[wanted].name)}**")
    return by_id[wanted]


def _on_pick() -> None:
    state.forget_work()
    state.request_focus(None)  # out of the select box, so the label keys work at once
    state.set_project_param(st.session_state[state.PROJECT_PICK], keep_item=False)
