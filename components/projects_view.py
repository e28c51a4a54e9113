"""The Projects page (admins): annotation settings, annotators, progress and flagged items.

"Apply" stores the settings and the team in one transaction and then re-plans the pending
queue slots (labelled and skipped work never moves), so a new member, a changed overlap or a
new order takes effect at once. The form remembers the revision it was first drawn from: if
another admin applied since, "Apply" is refused with who and when, and a Reload button
brings their settings into the form (optimistic concurrency, storage/revisions.py).
"""

from __future__ import annotations

import streamlit as st

from components.auth import acting_user, refused
from components.flash import flash, show_flash
from components.frames import projects_frame
from components.projects_frames import flagged_frame, progress_frame
from core.queues import MAX_OVERLAP, QUEUE_ORDERS
from core.safe_text import escape_markdown
from storage.annotation_settings import (
    AnnotationError,
    ProjectSettings,
    get_settings,
    member_ids,
    set_members,
    settings_revision,
    update_settings,
)
from storage.authz import NotAllowed
from storage.database import Database
from storage.projects import ProjectInfo, find_project, project_summaries
from storage.queues import flagged_items, progress, rebuild_queues
from storage.revisions import StaleEdit
from storage.users import UserInfo, list_users

PICK = "projects.pick"
_FLASH = "projects.flash"
IMPORT_PAGE = "pages/1_Import.py"
BLIND_HELP = ("Blind: an annotator sees the judges' verdicts only after saving their own label. "
              "Without it, agreement between experts and judges is biased towards the judges "
              "(the experts saw them), and every label records that it was not blind.")
TRUSTED_HELP = ("Trusted fields are drawn as markdown (headings, lists, links, and images from "
                "any address, which the annotator's browser will load). Raw HTML stays off. "
                "Leave empty unless you wrote the text yourself.")


def setting_key(project_id: int, name: str) -> str:
    """Session key of one settings widget of one project."""
    return f"projects.{name}.{project_id}"


def revision_key(project_id: int) -> str:
    """Session key of the settings revision the form's values come from."""
    return f"projects.revision.{project_id}"


def render_projects(db: Database) -> None:
    """Draw the Projects page (for admins: "Apply" re-checks who acts)."""
    st.title("Projects", anchor=False)
    show_flash(_FLASH)
    with db.read() as session:
        summaries = project_summaries(session=session)
    if not summaries:
        st.info("There are no projects yet: import items first.", icon=":material/info:")
        st.page_link(IMPORT_PAGE, label="Import", icon=":material/upload_file:")
        return
    st.dataframe(projects_frame(summaries), hide_index=True, width="content")
    names = [summary.name for summary in summaries]
    name = st.selectbox("Project", names, key=PICK, width=360)
    with db.read() as session:
        project = find_project(session=session, name=name)
        if project is None:  # deleted since the list was read
            st.rerun()
        settings = get_settings(session=session, project_id=project.id)
        revision = settings_revision(session=session, project_id=project.id)
        members = member_ids(session=session, project_id=project.id)
        users = list_users(session=session)
        rows = progress(session=session, project_id=project.id)
        flagged = flagged_items(session=session, project_id=project.id)
    left, right = st.columns([2, 3], gap="large")
    with left:
        drawn_from = st.session_state.setdefault(revision_key(project.id), revision.id)
        if drawn_from != revision.id:
            _changed_elsewhere(project.id, revision.describe())
        _settings_form(db, project, settings, members, users)
    with right:
        _progress(rows, flagged)


def _changed_elsewhere(project_id: int, change: str) -> None:
    """Another admin applied settings since this form was filled: say so, offer a reload."""
    st.warning(f"These settings were {escape_markdown(change)}, after you opened them. Reload "
               "to see them before you apply.", icon=":material/sync_problem:")
    st.button("Reload the settings", key=f"projects.reload.{project_id}",
              icon=":material/refresh:", on_click=_reload, args=(project_id,))


def _reload(project_id: int) -> None:
    for name in ("blind", "members", "overlap", "order", "seed", "trusted", "target"):
        st.session_state.pop(setting_key(project_id, name), None)
    st.session_state.pop(revision_key(project_id), None)


def _settings_form(db: Database, project: ProjectInfo, settings: ProjectSettings,
                   members: list[int], users: list[UserInfo]) -> None:
    st.subheader("Annotation settings", anchor=False)
    key = project.id
    choices = {user.id: user for user in users if user.active or user.id in members}
    orders = list(QUEUE_ORDERS)
    with st.form(f"projects.settings.{key}", border=True):
        st.toggle("Blind: hide the judges until the expert's label is saved",
                  value=settings.blind, key=setting_key(key, "blind"), help=BLIND_HELP)
        if not settings.blind:
            st.warning("This project is not blind: agreement between experts and judges measured "
                       "on its labels is biased towards the judges.", icon=":material/warning:")
        st.multiselect("Annotators", list(choices), default=[m for m in members if m in choices],
                       key=setting_key(key, "members"),
                       format_func=lambda user_id: _describe(choices[user_id]),
                       help="Active users who label this project. Removing someone keeps their "
                            "labels; their unlabelled items go to the others.")
        st.number_input("Overlap: distinct annotators per item", min_value=1,
                        max_value=MAX_OVERLAP, value=settings.overlap, step=1,
                        key=setting_key(key, "overlap"),
                        help="1 = each item is labelled once; 2 or more lets you measure "
                             "agreement between experts. Capped by the number of annotators.")
        st.selectbox("Queue order", orders, index=orders.index(settings.queue_order),
                     key=setting_key(key, "order"),
                     format_func=lambda order: f"{order}: {QUEUE_ORDERS[order]}")
        st.number_input("Seed (random order)", min_value=0, max_value=2**31 - 1,
                        value=settings.queue_seed, step=1, key=setting_key(key, "seed"),
                        help="The same seed gives the same order.")
        st.number_input("Target CI half-width (label budgets)", min_value=0.001,
                        max_value=1000.0, value=float(settings.target_halfwidth), step=0.01,
                        format="%.3f", key=setting_key(key, "target"),
                        help="How tight the 95 % intervals should be: the Dashboard and the "
                             "annotators' Home say how many labels remain until each judge's κ "
                             "and each estimate reach ±this. The estimation and active orders "
                             "record sampling probabilities so estimates are valid.")
        titles = {spec.name: spec.title for spec in project.schema.fields}
        st.multiselect("Trusted fields (markdown)", list(titles),
                       default=list(settings.trusted_fields), key=setting_key(key, "trusted"),
                       format_func=lambda name: f"{titles[name]} ({name})", help=TRUSTED_HELP)
        st.form_submit_button("Apply and rebuild queues", key=f"projects.apply.{key}",
                              type="primary", icon=":material/published_with_changes:",
                              on_click=_on_apply, args=(db, project.id, project.name))


def _describe(user: UserInfo) -> str:
    state = "" if user.active else ", inactive: remove"
    return f"{user.name} ({user.role}{state})"


def _progress(rows, flagged) -> None:
    st.subheader("Progress", anchor=False)
    if not rows:
        st.info("Nobody annotates this project yet: choose annotators and apply.",
                icon=":material/info:")
    else:
        table = progress_frame(rows)
        totals = table.iloc[-1]
        st.progress(min(1.0, totals["done %"] / 100),
                    text=f"{totals['labelled'] + totals['skipped']:,} of {totals['queue']:,} "
                         f"queue items done ({totals['done %']:.1f} %)")
        st.dataframe(table, hide_index=True, width="content")
    st.subheader("Flagged for review", anchor=False)
    if not flagged:
        st.caption("No item is flagged.")
    else:
        st.dataframe(flagged_frame(flagged), hide_index=True, width="stretch")


def _on_apply(db: Database, project_id: int, name: str) -> None:
    def value(setting: str):
        return st.session_state[setting_key(project_id, setting)]

    actor = acting_user(db, role="admin")
    if actor is None:
        return
    settings = ProjectSettings(blind=bool(value("blind")), overlap=int(value("overlap")),
                               queue_order=value("order"), queue_seed=int(value("seed")),
                               trusted_fields=tuple(value("trusted")),
                               target_halfwidth=float(value("target")))
    try:
        with db.write() as session:
            update_settings(session=session, project_id=project_id, settings=settings,
                            actor=actor,
                            expected_revision=st.session_state.get(revision_key(project_id)))
            set_members(session=session, project_id=project_id, user_ids=list(value("members")),
                        actor=actor)
            st.session_state[revision_key(project_id)] = settings_revision(
                session=session, project_id=project_id).id
        pending = rebuild_queues(db, project_id=project_id, actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except (AnnotationError, StaleEdit) as exc:
        flash(_FLASH, "error", f"Not applied: {escape_markdown(exc)}.")
        return
    flash(_FLASH, "success", f"Applied to {escape_markdown(name)}: {pending:,} "
                                           "items are waiting in the annotators' queues.")
