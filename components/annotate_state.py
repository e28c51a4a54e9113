"""Where the annotation page keeps its state.

The cursor (project and item) lives in ``st.query_params`` so a reload or a shared link
returns to the same item; everything durable is in the database. Session state holds only
the work in progress on the current item (chosen labels, active dimension, skip/flag mode),
and forgets it when the item changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

PROJECT_PARAM = "project"
ITEM_PARAM = "item"

PREFIX = "annotate"
PROJECT_PICK = f"{PREFIX}.project"
COMPARE = f"{PREFIX}.compare"
GOTO = f"{PREFIX}.goto"
_FLASH = f"{PREFIX}.flash"
_WORK = f"{PREFIX}.work"
_FOCUS = f"{PREFIX}.focus"
_FOCUS_COUNT = f"{PREFIX}.focus_count"

@dataclass
class ItemWork:
    """Unsaved work on one item: chosen labels, the active dimension, the panel mode
    ("label", "skip" or "flag")."""

    item_id: int
    labels: dict[str, str] = field(default_factory=dict)
    active: int = 0
    mode: str = "label"


def comment_key(item_id: int) -> str:
    """Session key of the comment box for one item."""
    return f"{PREFIX}.comment.{item_id}"


def confidence_key(item_id: int) -> str:
    """Session key of the confidence stars for one item (0-4 stars index, None = not given)."""
    return f"{PREFIX}.confidence.{item_id}"


def reference_key(item_id: int) -> str:
    """Session key of the gold reference answer box for one item."""
    return f"{PREFIX}.reference.{item_id}"


def reason_key(item_id: int) -> str:
    """Session key of the revision reason for one item."""
    return f"{PREFIX}.reason.{item_id}"


def interval_key(item_id: int, dimension: str) -> str:
    """Session key of a number input (interval dimension) for one item."""
    return f"{PREFIX}.label.{item_id}.{dimension}"


def skip_note_key(item_id: int) -> str:
    """Session key of the free-text skip reason for one item."""
    return f"{PREFIX}.skip_note.{item_id}"


def flag_note_key(item_id: int) -> str:
    """Session key of the review note for one item."""
    return f"{PREFIX}.flag_note.{item_id}"


def item_work(item_id: int, saved: dict[str, str], *, first_open: int) -> ItemWork:
    """Return the work on ``item_id``, starting it from what is saved when the item changed.

    ``first_open`` is the dimension to make active on a fresh start (the first unlabelled).
    """
    work = st.session_state.get(_WORK)
    if not isinstance(work, ItemWork) or work.item_id != item_id:
        work = ItemWork(item_id=item_id, labels=dict(saved), active=first_open)
        st.session_state[_WORK] = work
    return work


def current_work() -> ItemWork | None:
    """Return the work on the item shown last, or None."""
    work = st.session_state.get(_WORK)
    return work if isinstance(work, ItemWork) else None


def forget_work() -> None:
    """Drop the unsaved work (after a save, skip, or move to another item)."""
    st.session_state.pop(_WORK, None)


def flash(kind: str, message: str) -> None:
    """Leave a message (``kind`` "error", "success" or "info") for the next panel run."""
    st.session_state[_FLASH] = (kind, message)


def take_flash() -> tuple[str, str] | None:
    """Return and clear the pending message."""
    return st.session_state.pop(_FLASH, None)


def request_focus(selector: str | None) -> None:
    """Ask the next panel run to move the keyboard focus: into the element ``selector`` (a CSS
    selector), or with None out of whatever box holds it, back to the page."""
    number = int(st.session_state.get(_FOCUS_COUNT, 0)) + 1
    st.session_state[_FOCUS_COUNT] = number
    st.session_state[_FOCUS] = (selector, number)


def take_focus() -> tuple[str | None, int] | None:
    """Return and clear the pending focus request: ``(selector or None, its number)``."""
    return st.session_state.pop(_FOCUS, None)


def project_param() -> int | None:
    """Return the project id in the URL, or None if absent or not a number."""
    raw = st.query_params.get(PROJECT_PARAM)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def set_project_param(project_id: int, *, keep_item: bool) -> None:
    """Point the URL at ``project_id``; without ``keep_item`` the item cursor goes too."""
    if st.query_params.get(PROJECT_PARAM) != str(project_id):
        st.query_params[PROJECT_PARAM] = str(project_id)
    if not keep_item:
        st.query_params.pop(ITEM_PARAM, None)


def item_param() -> str | None:
    """Return the item id (the id from the import file) in the URL, or None."""
    return st.query_params.get(ITEM_PARAM) or None


def set_item_param(external_id: str | None) -> None:
    """Point the URL at an item; None means "the next item to label"."""
    if external_id is None:
        st.query_params.pop(ITEM_PARAM, None)
    elif st.query_params.get(ITEM_PARAM) != external_id:
        st.query_params[ITEM_PARAM] = external_id



def compare_after_save() -> bool:
    """The annotator's choice: in a blind project, show the judges right after saving (default)
    rather than going straight to the next item."""
    return bool(st.session_state.get(COMPARE, True))


def set_compare_after_save(compare: bool) -> None:
    """Remember the choice of :func:`compare_after_save` for this browser session."""
    st.session_state[COMPARE] = compare
