"""Drafts on the annotation page: unsaved choices written to the server, restored on reload.

At the end of every panel run in label mode, what the form holds (chosen labels, interval
values, a ranking's order so far, comment, confidence stars, reference answer) is compared
with what is saved: if it differs, it is the draft (:mod:`storage.drafts`). The draft is
written only when it changed since the last write of this browser session, so a click that
changes nothing unsaved writes nothing. A label button is a choice (one write per choice); a
text box commits its value when it loses the focus (or with Ctrl+Enter), not per keystroke,
which is the debounce of typed text. A reload, another tab or another device starts the form
from the draft.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import streamlit as st

from components import annotate_state as state
from storage.authz import NotAllowed
from storage.drafts import Draft, DraftError, draft_labels, save_draft
from storage.users import UserInfo

log = logging.getLogger(__name__)

_SYNCED = f"{state.PREFIX}.draft"


@dataclass(frozen=True)
class FormStart:
    """What the label form starts from on an item: the draft if there is one, else the saved
    values (``reference`` None: the item's own reference, or none)."""

    labels: dict[str, str]
    comment: str | None
    confidence: int | None
    reference: str | None


def form_start(item_id: int, draft: Draft | None, *, saved: dict[str, str], comment: str | None,
               confidence: int | None, reference: str | None) -> FormStart:
    """Return where the form of ``item_id`` starts, and remember ``draft`` as the one stored
    (when this browser session has not shown the item yet)."""
    synced = st.session_state.get(_SYNCED)
    if not (isinstance(synced, tuple) and synced[0] == item_id):
        st.session_state[_SYNCED] = (item_id, draft)
    if draft is None:
        return FormStart(dict(saved), comment, confidence, reference)
    return FormStart(labels={**saved, **draft.labels}, comment=draft.comment,
                     confidence=draft.confidence,
                     reference=draft.reference_answer if draft.reference_answer is not None
                     else reference)


def mark_saved(item_id: int) -> None:
    """Note that the save just deleted the item's draft (no write needed to delete it)."""
    st.session_state[_SYNCED] = (item_id, None)


def sync_draft(target: Any, user: UserInfo, labels: dict[str, str], baseline: FormStart) -> None:
    """Write the form's unsaved state of ``target``'s item (an ``annotate_actions.Target``)
    as the draft if it changed since the last write; ``baseline`` is what is saved (the draft
    goes when the form equals it)."""
    current = _current(target, labels)
    if current is None:
        return  # a label the schema refuses: the save will say so, the draft stays as it was
    references = target.project.schema.gold_reference
    saved = Draft(labels=_canonical(target, baseline.labels) or {},
                  comment=_blank(baseline.comment), confidence=baseline.confidence,
                  reference_answer=_blank(baseline.reference) if references else None)
    wanted = None if current == saved else current
    synced = st.session_state.get(_SYNCED)
    last = synced[1] if isinstance(synced, tuple) and synced[0] == target.item_id else None
    if wanted == last:
        return
    try:
        save_draft(target.db, project_id=target.project.id, user_id=target.user_id,
                   item_id=target.item_id, draft=wanted or Draft(), actor=user)
    except (NotAllowed, DraftError) as exc:  # the next click signs out, or the save explains
        log.info("draft not kept: %s", exc)
        return
    st.session_state[_SYNCED] = (target.item_id, wanted)


def _current(target: Any, labels: dict[str, str]) -> Draft | None:
    item_id = target.item_id
    chosen: dict[str, object] = dict(labels)
    for dimension in target.project.schema.dimensions:
        if dimension.scale == "interval":
            value = st.session_state.get(state.interval_key(item_id, dimension.name))
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                chosen[dimension.name] = value
    canonical = _canonical(target, chosen)
    if canonical is None:
        return None
    stars = st.session_state.get(state.confidence_key(item_id))
    reference = (_blank(st.session_state.get(state.reference_key(item_id)))
                 if target.project.schema.gold_reference else None)
    return Draft(labels=canonical, comment=_blank(st.session_state.get(state.comment_key(item_id))),
                 confidence=None if stars is None else int(stars) + 1, reference_answer=reference)


def _canonical(target: Any, labels: dict[str, object]) -> dict[str, str] | None:
    # A ranking's unfinished order is kept as it is (the draft's rules, not the save's).
    try:
        return draft_labels(target.project.schema, labels)
    except DraftError:
        return None


def _blank(text: object) -> str | None:
    return text if isinstance(text, str) and text.strip() else None
