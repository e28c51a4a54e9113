"""The right-hand side of the panel: the label form, or the skip and flag choices.

One box per dimension with a button per label. Only the *active* dimension's buttons carry
keyboard shortcuts (the schema's keys, e.g. 1-5), so every dimension can use the same digits;
choosing a label moves on to the next dimension, and Up/Down move by hand. The active box is
the one with a border and the marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import streamlit as st

from components import annotate_actions as actions
from components import annotate_keys as keys
from components import annotate_state as state
from components.annotate_verdicts import render_dimension_verdicts, render_ranking_verdicts
from components.ranking_input import order_begun, render_ranking_input
from core.rank_input import ALL_EQUALLY_BAD
from core.rank_order import MIN_RESPONSES
from core.safe_text import escape_markdown
from core.schema import Dimension, TaskSchema
from storage.annotator_view import VerdictView


def render_label_form(target: actions.Target, work: state.ItemWork, key_map: keys.KeyMap, *,
                      verdicts: Sequence[VerdictView] | None, comment: str | None,
                      confidence: int | None, reference: str | None = None) -> None:
    """Draw every dimension, the optional fields and the save button for ``target``.

    ``comment``, ``confidence`` and ``reference`` are what the boxes start from (the draft or
    what is saved; ``reference`` None: ``target.reference``). A committed box reruns the panel,
    which keeps the unsaved state as the draft (:mod:`components.annotate_drafts`).
    """
    schema = target.project.schema
    dimensions = schema.dimensions
    active = min(work.active, len(dimensions) - 1)
    if key_map.move_dimension:
        _dimension_stepper(target, active, len(dimensions))
    for index, dimension in enumerate(dimensions):
        _dimension_box(target, work, index, dimension, index == active,
                       key_map.labels[dimension.name], verdicts)
    if schema.gold_reference:
        # As tall as its text: a long reference is read whole, not through a 3-line slot.
        st.text_area("Gold reference answer",
                     value=(reference if reference is not None else target.reference) or "",
                     key=state.reference_key(target.item_id), height="content",
                     on_change=actions.on_draft_input, help=reference_help(schema))
    st.text_area("Comment (optional)", value=comment or "", key=state.comment_key(target.item_id),
                 height=68, on_change=actions.on_draft_input,
                 placeholder="Anything a reviewer should know")
    _confidence(target, confidence)
    revised = actions.changed_labels(target.saved, work.labels)
    if target.status == "done" and revised:
        st.text_input("Why do you change your label? (required, kept in the audit log)",
                      key=state.reason_key(target.item_id), on_change="ignore")
    _save_row(target, bool(revised))


def reference_help(schema: TaskSchema) -> str:
    """The reference box's help: where it starts from and what counts as the annotator's."""
    spec = next((f for f in schema.fields if f.name == schema.gold_reference_field), None)
    if spec is None:
        return "The answer a judge should grade against; what you write is your proposal."
    return (f"The answer a judge should grade against. It starts from the item's "
            f"“{escape_markdown(spec.title)}”: kept as it is, it stays the item's; fixed or "
            "rewritten, it is your proposal.")


def _dimension_stepper(target: actions.Target, active: int, count: int) -> None:
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.caption(f"Dimension {active + 1} of {count}")
        st.button("Previous", key="annotate.dimension.up", type="tertiary",
                  icon=":material/keyboard_arrow_up:", shortcut=keys.PREVIOUS_DIMENSION_KEY,
                  disabled=active == 0, on_click=actions.on_activate, args=(target, -1))
        st.button("Next", key="annotate.dimension.down", type="tertiary",
                  icon=":material/keyboard_arrow_down:", shortcut=keys.NEXT_DIMENSION_KEY,
                  disabled=active == count - 1, on_click=actions.on_activate, args=(target, 1))


def _dimension_box(target: actions.Target, work: state.ItemWork, index: int,
                   dimension: Dimension, is_active: bool, label_keys: dict[str, str],
                   verdicts: Sequence[VerdictView] | None) -> None:
    chosen = work.labels.get(dimension.name)
    title = escape_markdown(dimension.title)
    optional = "" if dimension.required else " :gray[(optional)]"
    with st.container(border=is_active, key=f"annotate.dim.{dimension.name}"):
        marker = ":material/arrow_right: " if is_active and len(target.project.schema.dimensions) > 1 \
            else ""
        st.markdown(f"{marker}**{title}**{optional}",
                    help=escape_markdown(dimension.description) if dimension.description else None)
        if dimension.is_ranking:
            _ranking_input(target, index, dimension, chosen, is_active=is_active)
        elif dimension.scale == "interval":
            _interval_input(target, dimension, work.labels.get(dimension.name))
        else:
            _label_buttons(target, index, dimension, chosen, label_keys if is_active else {},
                           expanded=is_active)
        if verdicts is not None and dimension.is_ranking:
            render_ranking_verdicts(dimension, verdicts, chosen, target.saved.get(dimension.name),
                                    target.order_sizes.get(dimension.name, 0))
        elif verdicts is not None:
            render_dimension_verdicts(dimension, verdicts, chosen, target.saved.get(dimension.name))


def _label_buttons(target: actions.Target, index: int, dimension: Dimension, chosen: str | None,
                   label_keys: dict[str, str], *, expanded: bool) -> None:
    """One button per label. The active dimension lists them one per line with their
    descriptions (when the schema has any); the others are a compact row."""
    described = expanded and any(label.description for label in dimension.labels)
    row = st.container(horizontal=not described, gap="small")
    for position, label in enumerate(dimension.labels):
        text = escape_markdown(label.display)
        if described and label.description:
            text = f"**{text}** — {escape_markdown(label.description)}"
        row.button(text, key=f"annotate.label.{dimension.name}.{position}",
                   type="primary" if chosen == label.value else "secondary",
                   shortcut=label_keys.get(label.value),
                   width="stretch" if described else "content",
                   help=None if described or not label.description
                   else escape_markdown(label.description),
                   on_click=actions.on_label, args=(target, index, label.value))


def _ranking_input(target: actions.Target, index: int, dimension: Dimension, chosen: str | None,
                   *, is_active: bool) -> None:
    """The order typed so far and the response buttons; the digits and Backspace are the
    active dimension's only, so a ranking takes them until it is complete (then the next
    dimension becomes active). With "all equally bad", the item is skipped with that reason."""
    n = target.order_sizes.get(dimension.name, 0)
    if n < MIN_RESPONSES:
        st.caption(f"This item has no {escape_markdown(dimension.over or '')} to rank.")
        return
    render_ranking_input(key=f"annotate.rank.{dimension.name}", n=n, order=order_begun(chosen, n),
                         on_edit=partial(actions.on_rank, target, index), shortcuts=is_active)
    done = target.status == "done"
    st.button(ALL_EQUALLY_BAD, key=f"annotate.rank.{dimension.name}.all_bad", type="tertiary",
              icon=":material/block:", disabled=done,
              help="A labelled item cannot be skipped." if done else
              "Skip the item with this reason: no ranking is stored, so it counts in no "
              "agreement figure.", on_click=actions.on_skip, args=(target, ALL_EQUALLY_BAD))


def _interval_input(target: actions.Target, dimension: Dimension, start: str | None) -> None:
    st.number_input(escape_markdown(dimension.title), min_value=dimension.minimum,
                    max_value=dimension.maximum, value=float(start) if start is not None else None,
                    key=state.interval_key(target.item_id, dimension.name),
                    on_change=actions.on_draft_input,
                    label_visibility="collapsed", placeholder="Type a number")


def _save_row(target: actions.Target, revised: bool) -> None:
    choose = target.blind and target.n_verdicts > 0 and target.status != "done"
    if revised and target.status == "done":
        label = "Save revision"
    elif choose:
        label = "Save"  # the choice next to it says what follows
    else:
        label = "Save & next"
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button(label, key="annotate.submit", type="primary", shortcut=keys.SUBMIT_KEY,
                  icon=":material/check:", on_click=actions.on_submit, args=(target,))
        if choose:
            _after_save_choice()


def _confidence(target: actions.Target, saved: int | None) -> None:
    # Stars (buttons that let Enter through); a click reruns the panel, which keeps the draft.
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.caption("Confidence (optional)", width="content",
                   help="1 star = a guess, 5 stars = certain.")
        st.feedback("stars", key=state.confidence_key(target.item_id),
                    on_change=actions.on_draft_input,
                    default=saved - 1 if saved is not None else None)


# A choice that must not swallow the keys is an st.button: a checkbox, radio or segmented
# control keeps the focus after a click and then takes the label keys or Enter for itself.
def _after_save_choice() -> None:
    compare = state.compare_after_save()
    st.button("then show the judges" if compare else "then go to the next item",
              key="annotate.after_save", type="tertiary", icon=":material/swap_horiz:",
              on_click=actions.on_after_save, args=(not compare,),
              help="Click to switch. Blind project: the judges' verdicts stay hidden until your "
                   "label is saved; going straight on is faster, and V shows them later.")


def render_skip_choices(target: actions.Target) -> None:
    """Draw the reasons to skip (keys 1-3, or 1-4 with a ranking), a free-text reason, and
    cancel (Esc)."""
    st.markdown("**Why do you skip this item?**")
    for number, reason in enumerate(actions.skip_reasons(target.project.schema), start=1):
        st.button(reason, key=f"annotate.skip.reason.{number}", shortcut=str(number),
                  on_click=actions.on_skip, args=(target, reason), width="stretch")
    st.text_input("Another reason", key=state.skip_note_key(target.item_id), on_change="ignore")
    with st.container(horizontal=True):
        st.button("Skip with this reason", key="annotate.skip.typed", type="primary",
                  shortcut=keys.SUBMIT_KEY, on_click=actions.on_skip, args=(target, None))
        st.button("Cancel", key="annotate.skip.cancel", shortcut=keys.CANCEL_KEY,
                  on_click=actions.on_mode, args=(target, "label"))


def render_flag_choices(target: actions.Target) -> None:
    """Draw the review note, flag (Enter), remove the flag, and cancel (Esc)."""
    st.markdown("**Flag this item for review**")
    st.text_input("Note for the reviewer (optional)", value=target.flag_note or "",
                  key=state.flag_note_key(target.item_id), on_change="ignore")
    with st.container(horizontal=True):
        st.button("Save flag" if target.flagged else "Flag for review", key="annotate.flag.set",
                  type="primary", icon=":material/flag:", shortcut=keys.SUBMIT_KEY,
                  on_click=actions.on_flag, args=(target, True))
        if target.flagged:
            st.button("Remove flag", key="annotate.flag.clear", on_click=actions.on_flag,
                      args=(target, False))
        st.button("Cancel", key="annotate.flag.cancel", shortcut=keys.CANCEL_KEY,
                  on_click=actions.on_mode, args=(target, "label"))
