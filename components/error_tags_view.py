"""Tagging why a judge was wrong (the error taxonomy), and the project's list of categories.

Both save in the script run that :func:`components.layout.page_setup` checked the admin in
(a form's submit, not a widget callback), like the gold form beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
from sqlmodel import Session

from components.auth import refused
from core.error_taxonomy import DEFAULT_ERROR_CATEGORIES, ErrorTaxonomyError
from core.safe_text import escape_markdown
from storage.authz import NotAllowed
from storage.database import Database
from storage.error_tags import error_categories, set_error_categories, set_error_tags
from storage.projects import ProjectInfo
from storage.users import UserInfo

FLASH_KEY = "disagreements.error_tags.flash"


def tag_key(item_id: int, judge: str, name: str) -> str:
    """Session key of one widget of a judge's error-tag form on an item."""
    return f"disagreements.error_tags.{item_id}.{judge}.{name}"


def render_error_tags(db: Database, user: UserInfo, project: ProjectInfo, item_id: int,
                      judge: str, dimensions: Sequence[str],
                      tags: dict[tuple[str, str], tuple[str, ...]]) -> None:
    """Draw the form where an admin tags why ``judge``'s verdicts on ``dimensions`` of the item
    were wrong, pre-set to the stored ``tags``; save it when submitted."""
    with db.read() as session:
        categories = error_categories(session=session, project_id=project.id)
    flash = st.session_state.pop(tag_key(item_id, judge, "flash"), None)
    if flash:
        st.success(flash, icon=":material/check:")
    with st.form(tag_key(item_id, judge, "form"), border=False):
        chosen = {}
        for dimension in dimensions:
            stored = tags.get((judge, dimension), ())
            chosen[dimension] = st.multiselect(
                f"Why was it wrong? ({dimension})", [*categories,
                                                     *(c for c in stored if c not in categories)],
                default=list(stored), key=tag_key(item_id, judge, dimension),
                placeholder="no error tagged",
                help="The error taxonomy: counted per judge on the Dashboard and in the report.")
        saved = st.form_submit_button("Save error tags", icon=":material/sell:",
                                      key=tag_key(item_id, judge, "save"))
    if saved:
        _save_tags(db, user, item_id, judge, chosen)


def _saved(db: Database, change: Callable[[Session], object], flash_key: str,
           message: str) -> None:
    """Make ``change`` in one transaction; on success keep ``message`` for the next run and
    rerun, else say why (a revoked admin is signed out)."""
    try:
        with db.write() as session:
            change(session)
    except NotAllowed as exc:
        refused(exc)
        st.rerun()
    except ErrorTaxonomyError as exc:
        st.error(f"Not saved: {escape_markdown(exc)}", icon=":material/error:")
        return
    st.session_state[flash_key] = message
    st.rerun()


def _save_tags(db: Database, user: UserInfo, item_id: int, judge: str,
               chosen: dict[str, list[str]]) -> None:
    def change(session: Session) -> None:
        for dimension, categories in chosen.items():
            set_error_tags(session=session, item_id=item_id, judge=judge,
                           dimension=dimension, categories=categories, actor=user)

    total = sum(len(categories) for categories in chosen.values())
    _saved(db, change, tag_key(item_id, judge, "flash"),
           f"Error tags of {judge} saved ({total})." if total else f"No error tagged on {judge}.")


def render_error_categories(db: Database, user: UserInfo, project: ProjectInfo) -> None:
    """Draw the editor of the project's error categories (one per line) and save it."""
    with db.read() as session:
        categories = error_categories(session=session, project_id=project.id)
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check:")
    with st.form(f"disagreements.error_categories.{project.id}", border=False):
        text = st.text_area("One category per line", value="\n".join(categories),
                            key=f"disagreements.error_categories.text.{project.id}", height=200,
                            help="The defaults are the error kinds of Judging the Judges: "
                                 + escape_markdown("; ".join(DEFAULT_ERROR_CATEGORIES)) + ".")
        saved = st.form_submit_button("Save categories", icon=":material/save:")
    if not saved:
        return
    lines = [line for line in text.splitlines() if line.strip()]
    _saved(db, lambda session: set_error_categories(session=session, project_id=project.id,
                                                    categories=lines, actor=user),
           FLASH_KEY, f"Saved {len(lines)} error categories.")  # a valid list keeps every line
