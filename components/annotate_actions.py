"""What the annotation panel's buttons do (Streamlit callbacks, run before the panel redraws).

Each action is one short database call from ``storage.annotation``, made for the signed-in
user as re-read when the click arrives (:func:`components.auth.acting_user`: a click that
waited while the account was reset or deactivated saves nothing and signs out). A failure
(the item left the queue, a label is missing) becomes a message at the top of the panel,
never an exception. Moving to another item only changes the URL's ``item``
parameter; the panel then reads what to show.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from components import annotate_drafts as drafts
from components import annotate_state as state
from components import annotate_timing as timing
from components.annotate_focus import widget_selector
from components.auth import acting_user, refused
from components.ranking_input import UNFINISHED, order_begun, unfinished
from core.rank_input import ALL_EQUALLY_BAD, is_complete
from core.rank_order import Order, format_order
from core.safe_text import escape_markdown
from core.schema import TaskSchema
from storage.annotation import normalize_labels, reveal_verdicts, set_flag, skip_item, submit_labels
from storage.annotation_settings import AnnotationError
from storage.authz import NotAllowed
from storage.database import Database
from storage.projects import ProjectInfo
from storage.queues import find_assignment, following_assignment, previous_assignment
from storage.rationale_checks import rate_rationale

SKIP_REASONS = ("Outside my expertise", "The item is broken or unreadable", "I cannot decide")
# With a ranking dimension, the skip menu offers "all equally bad" too (core.rank_input).
RANKING_SKIP_REASONS = (*SKIP_REASONS, ALL_EQUALLY_BAD)
_END_OF_QUEUE = 2**62


@dataclass(frozen=True, eq=False)
class Target:
    """The item an action applies to, as the panel last showed it."""

    db: Database
    project: ProjectInfo
    user_id: int
    item_id: int
    external_id: str
    position: int
    status: str
    blind: bool
    n_verdicts: int
    verdicts_shown: bool
    flagged: bool
    flag_note: str | None
    reference: str | None = None
    saved: dict[str, str] = field(default_factory=dict)
    # Per ranking dimension, the number of responses it orders on this item.
    order_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def compare_after_save(self) -> bool:
        """True if saving should stay on the item and show the judges (blind projects)."""
        return (self.blind and self.n_verdicts > 0 and not self.verdicts_shown
                and state.compare_after_save())


def changed_labels(saved: dict[str, str], labels: dict[str, str]) -> list[str]:
    """Names of the dimensions whose saved label ``labels`` would replace with another."""
    return [name for name, label in labels.items() if name in saved and saved[name] != label]


# --- labels and dimensions ----------------------------------------------------------------

def on_label(target: Target, index: int, value: str) -> None:
    """Choose ``value`` on dimension ``index`` and make the next dimension active."""
    timing.start("label")
    work = state.current_work()
    if work is None or work.item_id != target.item_id:
        return
    dimensions = target.project.schema.dimensions
    was_revising = bool(changed_labels(target.saved, work.labels))
    work.labels[dimensions[index].name] = value
    work.active = min(index + 1, len(dimensions) - 1)
    if target.status == "done" and not was_revising and changed_labels(target.saved, work.labels):
        # A saved label changed: the reason box opens, with the focus in it.
        state.request_focus(widget_selector(state.reason_key(target.item_id)))


def on_rank(target: Target, index: int, edit: Callable[[Order], Order]) -> None:
    """Apply ``edit`` (a press, undo or clear of :mod:`core.rank_input`) to the order of the
    ranking dimension ``index``; a complete order makes the next dimension active, so the
    digits go to the ranking until it is complete and then to the next dimension's labels."""
    timing.start("rank")
    work = state.current_work()
    if work is None or work.item_id != target.item_id:
        return
    dimensions = target.project.schema.dimensions
    name = dimensions[index].name
    n = target.order_sizes.get(name, 0)
    order = edit(order_begun(work.labels.get(name), n))
    if order:
        work.labels[name] = format_order(order)
    else:
        work.labels.pop(name, None)
    complete = is_complete(order, n)
    work.active = min(index + 1, len(dimensions) - 1) if complete else index
    if target.status == "done" and complete and changed_labels(target.saved, work.labels):
        # A finished new order on a saved item: the reason box opens with the focus in it
        # (not before: the digits would type into it).
        state.request_focus(widget_selector(state.reason_key(target.item_id)))


def unfinished_rankings(target: Target, labels: dict[str, Any]) -> list[str]:
    """What is missing from each ranking in ``labels`` that is begun but does not place every
    response ("Ranking: 2 of 4 ranked", :func:`components.ranking_input.unfinished`)."""
    notes = []
    for dimension in target.project.schema.dimensions:
        value = labels.get(dimension.name)
        if not dimension.is_ranking or value in (None, ""):
            continue
        n = target.order_sizes.get(dimension.name, 0)
        note = unfinished(dimension.title, order_begun(value, n), n)
        if note is not None:
            notes.append(note)
    return notes


def on_draft_input() -> None:
    """A text box, the stars or a number committed a value: the panel reruns and keeps the
    unsaved state as the draft (components/annotate_drafts.py)."""
    timing.start("draft")


def on_after_save(compare: bool) -> None:
    """Choose what follows a save in a blind project: the judges, or the next item."""
    timing.start("after_save")
    state.set_compare_after_save(compare)


def on_activate(target: Target, step: int) -> None:
    """Move the active dimension up (-1) or down (+1)."""
    timing.start("dimension")
    work = state.current_work()
    if work is None or work.item_id != target.item_id:
        return
    work.active = max(0, min(work.active + step, len(target.project.schema.dimensions) - 1))


def _confidence(item_id: int) -> int | None:
    stars = st.session_state.get(state.confidence_key(item_id))  # 0-4, the stars' index
    return None if stars is None else int(stars) + 1


def _collected_labels(target: Target, work: state.ItemWork) -> dict[str, Any]:
    labels: dict[str, Any] = dict(work.labels)
    for dimension in target.project.schema.dimensions:
        if dimension.scale == "interval":
            value = st.session_state.get(state.interval_key(target.item_id, dimension.name))
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                labels[dimension.name] = value
    return labels


def on_submit(target: Target) -> None:
    """Save the labels; then show the judges (blind, first save) or go to the next item."""
    compare = target.compare_after_save and target.status != "done"
    work = state.current_work()
    if work is None or work.item_id != target.item_id:
        return
    labels = _collected_labels(target, work)
    missing = unfinished_rankings(target, labels)
    if missing:
        timing.start("save_refused")
        state.flash("error", UNFINISHED.format("; ".join(missing)))
        return
    try:
        canonical = normalize_labels(target.project.schema, labels, complete=False)
    except AnnotationError:
        canonical = {}  # submit_labels below refuses the bad label and says which
    revised = changed_labels(target.saved, canonical)
    timing.start("save_compare" if compare else ("revise" if revised else "save_next"))
    reason = (st.session_state.get(state.reason_key(target.item_id)) or "").strip()
    if target.status == "done" and revised and not reason:
        state.flash("error", "Say why you change your label: the reason is kept with the old "
                             "and the new label in the audit log.")
        return
    actor = acting_user(target.db)
    if actor is None:
        return
    try:
        result = submit_labels(
            target.db, project_id=target.project.id, user_id=target.user_id,
            item_id=target.item_id, actor=actor, labels=labels,
            comment=st.session_state.get(state.comment_key(target.item_id)),
            confidence=_confidence(target.item_id),
            reference_answer=st.session_state.get(state.reference_key(target.item_id)),
            reason=reason or None)
        if compare:
            reveal_verdicts(target.db, project_id=target.project.id, user_id=target.user_id,
                            item_id=target.item_id, actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except AnnotationError as exc:
        state.flash("error", f"Not saved: {escape_markdown(exc)}.")
        return
    drafts.mark_saved(target.item_id)
    if compare:
        state.flash("success", "Saved. Here is what the judges said. Press Enter for the next "
                               "item, or change your label and give a reason to revise it.")
        return
    if result.changed and not result.first_submit:
        state.flash("success", f"Revised {escape_markdown(target.external_id)}.")
    state.forget_work()
    state.set_item_param(None)


# --- moving around --------------------------------------------------------------------------

def _go_to(external_id: str | None) -> None:
    state.forget_work()
    state.set_item_param(external_id)


def on_next(target: Target) -> None:
    """Go to the item after this one in the queue (or the next to label at the end)."""
    timing.start("next")
    with target.db.read() as session:
        following = following_assignment(session=session, project_id=target.project.id,
                                         user_id=target.user_id, position=target.position)
    _go_to(following.external_id if following is not None else None)


def on_back(target: Target) -> None:
    """Go to the item before this one in the queue."""
    timing.start("back")
    with target.db.read() as session:
        previous = previous_assignment(session=session, project_id=target.project.id,
                                       user_id=target.user_id, position=target.position)
    if previous is None:
        state.flash("info", "This is the first item of your queue.")
        return
    _go_to(previous.external_id)


def on_back_from_end(db: Database, project_id: int, user_id: int) -> None:
    """From "queue finished", go to the last item of the queue."""
    timing.start("back")
    with db.read() as session:
        last = previous_assignment(session=session, project_id=project_id, user_id=user_id,
                                   position=_END_OF_QUEUE)
    if last is not None:
        _go_to(last.external_id)


def on_goto(db: Database, project_id: int, user_id: int) -> None:
    """Jump to the item whose id was typed, if it is in the user's own queue."""
    timing.start("goto")
    wanted = (st.session_state.get(state.GOTO) or "").strip()
    st.session_state[state.GOTO] = ""
    state.request_focus(None)  # out of the box, so the keys work on the item shown
    if not wanted:
        return
    with db.read() as session:
        found = find_assignment(session=session, project_id=project_id, user_id=user_id,
                                external_id=wanted)
    if found is None:
        state.flash("error", f"Item {escape_markdown(wanted)} is not in your queue.")
        return
    _go_to(found.external_id)


BLIND_UNTIL_SAVED = ("Blind project: the judges' verdicts appear once your label on this item "
                     "is saved.")
NO_VERDICTS = "No judge gave a verdict on this item."


def on_reveal(target: Target) -> None:
    """Show the judges' verdicts on this item (after the label is saved, in a blind project);
    when they cannot be shown, say why."""
    timing.start("reveal")
    if not target.n_verdicts:
        state.flash("info", NO_VERDICTS)
        return
    if target.blind and target.status != "done":
        state.flash("info", BLIND_UNTIL_SAVED)
        return
    actor = acting_user(target.db)
    if actor is None:
        return
    try:
        reveal_verdicts(target.db, project_id=target.project.id, user_id=target.user_id,
                        item_id=target.item_id, actor=actor)
    except NotAllowed as exc:
        refused(exc)
    except AnnotationError as exc:
        state.flash("error", f"{escape_markdown(exc).capitalize()}.")


# --- rating the judges' rationales -----------------------------------------------------------

def rationale_key(item_id: int, judge: str, sample_index: int) -> str:
    """Session key of the rating control of one judge rationale on an item."""
    return f"annotate.rationale.{item_id}.{judge}.{sample_index}"


def on_rate(target: Target, judge: str, sample_index: int, rating: str | None = None) -> None:
    """Store the annotator's rating of a rationale: ``rating``, or (from its control) the
    control's value; a click the server refuses is undone on the control."""
    key = rationale_key(target.item_id, judge, sample_index)
    chosen = rating if rating is not None else st.session_state.get(key)
    actor = acting_user(target.db)
    if actor is None:
        return
    try:
        rate_rationale(target.db, project_id=target.project.id, user_id=target.user_id,
                       item_id=target.item_id, judge=judge, sample_index=sample_index,
                       rating=chosen, actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except AnnotationError as exc:
        st.session_state.pop(key, None)
        state.flash("error", f"{escape_markdown(exc).capitalize()}.")
        return
    st.session_state[key] = chosen


def on_rate_next(target: Target, rating: str, unrated: list[tuple[str, int]]) -> None:
    """Rate the first rationale of ``unrated`` (in display order) ``rating``: the keyboard's
    way; with none left, say so."""
    if not unrated:
        state.flash("info", "Every rationale on this item is rated; change one with its buttons.")
        return
    on_rate(target, *unrated[0], rating=rating)


# --- skip and flag --------------------------------------------------------------------------

def on_mode(target: Target, mode: str) -> None:
    """Switch the panel between labelling, skipping and flagging (Esc goes back to labels)."""
    timing.start(mode)
    work = state.current_work()
    if work is not None and work.item_id == target.item_id:
        work.mode = mode


def skip_reasons(schema: TaskSchema) -> tuple[str, ...]:
    """The preset skip reasons offered for ``schema`` (keys 1, 2, ...): with a ranking
    dimension, "all responses are equally bad" is one."""
    if any(dimension.is_ranking for dimension in schema.dimensions):
        return RANKING_SKIP_REASONS
    return SKIP_REASONS


def on_skip(target: Target, preset: str | None) -> None:
    """Skip the item with a preset reason, or the typed one when ``preset`` is None."""
    timing.start("skip")
    reason = preset or (st.session_state.get(state.skip_note_key(target.item_id)) or "").strip()
    if not reason:
        state.flash("error", "Say why you skip this item: choose a reason or type one.")
        return
    actor = acting_user(target.db)
    if actor is None:
        return
    try:
        skip_item(target.db, project_id=target.project.id, user_id=target.user_id,
                  item_id=target.item_id, reason=reason, actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except AnnotationError as exc:
        state.flash("error", f"Not skipped: {escape_markdown(exc)}.")
        return
    state.flash("info", f"Skipped {escape_markdown(target.external_id)}: {escape_markdown(reason)}.")
    _go_to(None)


def on_flag(target: Target, flagged: bool) -> None:
    """Flag the item for review with the typed note, or clear the flag."""
    timing.start("flag")
    note = st.session_state.get(state.flag_note_key(target.item_id))
    actor = acting_user(target.db)
    if actor is None:
        return
    try:
        set_flag(target.db, project_id=target.project.id, user_id=target.user_id,
                 item_id=target.item_id, flagged=flagged, note=note, actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except AnnotationError as exc:
        state.flash("error", f"Not flagged: {escape_markdown(exc)}.")
        return
    work = state.current_work()
    if work is not None:
        work.mode = "label"
    state.flash("info", "Flagged for review." if flagged else "Flag removed.")
