"""The judges' verdicts next to the expert's label, agreements and disagreements marked.

Drawn only when :func:`components.annotate_data.verdicts_allowed` says so. Judge names,
labels and rationales are file content: escaped or drawn with ``st.text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from components import annotate_actions as actions
from components import annotate_keys as keys
from components.annotate_item import SCROLL_HEIGHT, is_long
from core.rationale_checks import RATIONALE_RATINGS
from core.safe_text import escape_markdown
from core.schema import Dimension
from storage.annotator_view import VerdictView


@dataclass(frozen=True)
class JudgeMark:
    """One judge's label on one dimension compared with the expert's."""

    judge: str
    label: str
    agrees: bool | None  # None: the expert has no label on this dimension


def judge_name(verdict: VerdictView) -> str:
    """The judge's name, with the sample number when a judge was sampled several times."""
    if verdict.sample_index == 0:
        return verdict.judge
    return f"{verdict.judge} (sample {verdict.sample_index + 1})"


UNPARSEABLE = "unparseable output (no label)"


def display_label(dimension: Dimension, value: str | None) -> str:
    """The display name of a label value (the value itself for numbers or unknown labels;
    :data:`UNPARSEABLE` for a verdict whose output did not parse)."""
    if value is None:
        return UNPARSEABLE
    for label in dimension.labels:
        if label.value == value:
            return label.display
    return value


def judge_marks(dimension: Dimension, verdicts: Sequence[VerdictView], expert: str | None
                ) -> list[JudgeMark]:
    """Return each judge's verdict on ``dimension`` and whether it matches ``expert`` (None
    when there is nothing to compare: no expert label, or an unparseable verdict)."""
    return [JudgeMark(judge_name(v), display_label(dimension, v.label),
                      None if expert is None or v.label is None else v.label == expert)
            for v in verdicts if v.dimension == dimension.name]


def agreement_line(marks: Sequence[JudgeMark], *, saved_marks: Sequence[JudgeMark] | None = None
                   ) -> str:
    """A short summary such as "2 of 3 judges agree with you".

    ``saved_marks`` (the same judges against the saved label) says the marks are of a label
    chosen but not saved yet: the line says so, and how the saved label fared.
    """
    compared = [m for m in marks if m.agrees is not None]
    if not compared:
        return f"{len(marks)} judge verdict{'s' if len(marks) != 1 else ''}"
    agree = sum(m.agrees for m in compared)
    judges = f"judge{'s' if len(compared) != 1 else ''}"
    if saved_marks is None:
        return f"{agree} of {len(compared)} {judges} agree with you"
    before = sum(bool(m.agrees) for m in saved_marks)
    return (f"{agree} of {len(compared)} {judges} agree with your unsaved label "
            f"({before} with the saved one)")


def render_dimension_verdicts(dimension: Dimension, verdicts: Sequence[VerdictView],
                              chosen: str | None, saved: str | None) -> None:
    """Draw the judges' labels on one dimension against the expert's ``chosen`` label (the
    ``saved`` one unless they are revising it)."""
    marks = judge_marks(dimension, verdicts, chosen)
    if not marks:
        st.caption("No judge labelled this dimension.")
        return
    unsaved = saved is not None and chosen != saved
    st.caption(agreement_line(
        marks, saved_marks=judge_marks(dimension, verdicts, saved) if unsaved else None))
    for mark in marks:
        if mark.agrees is None:
            icon = ":gray[:material/remove:]"
        elif mark.agrees:
            icon = ":green[:material/check_circle:]"
        else:
            icon = ":red[:material/cancel:]"
        st.markdown(f"{icon} {escape_markdown(mark.judge)} — **{escape_markdown(mark.label)}**")


def rationale_verdicts(verdicts: Sequence[VerdictView]) -> list[VerdictView]:
    """The verdicts whose rationale is drawn: one per judge sample with a rationale (the
    rationale is repeated on every dimension row), in display order."""
    seen: set[tuple[str, int]] = set()
    shown = []
    for verdict in verdicts:
        if verdict.rationale and (verdict.judge, verdict.sample_index) not in seen:
            seen.add((verdict.judge, verdict.sample_index))
            shown.append(verdict)
    return shown


def render_rationales(target: actions.Target, verdicts: Sequence[VerdictView],
                      ratings: dict[tuple[str, int], str], key_map: keys.KeyMap) -> None:
    """Draw each judge's rationale once with the annotator's rating of it (sound, flawed,
    hallucinated: optional, by click or by the rating keys, which rate the next unrated one)."""
    shown = rationale_verdicts(verdicts)
    if not shown:
        return
    st.markdown("**The judges' rationales**",
                help="Rate each one if you like: *sound*, *flawed* (wrong or beside the point) or "
                     "*hallucinated* (claims what the item does not say). Counted per judge on "
                     "the Dashboard.")
    unrated = [(v.judge, v.sample_index) for v in shown
               if (v.judge, v.sample_index) not in ratings]
    for verdict in shown:
        key = actions.rationale_key(target.item_id, verdict.judge, verdict.sample_index)
        if key not in st.session_state:
            st.session_state[key] = ratings.get((verdict.judge, verdict.sample_index))
        with st.container(border=True, gap="small"):
            st.caption(escape_markdown(judge_name(verdict)))
            if is_long(verdict.rationale or ""):
                with st.container(height=SCROLL_HEIGHT // 2):
                    st.text(verdict.rationale)
            else:
                st.text(verdict.rationale)
            st.segmented_control(
                f"Rationale of {judge_name(verdict)}", RATIONALE_RATINGS, key=key,
                label_visibility="collapsed", on_change=actions.on_rate,
                args=(target, verdict.judge, verdict.sample_index))
    rate_keys = key_map.rate or {}
    with st.container(horizontal=True, gap="xsmall"):
        for rating in RATIONALE_RATINGS:
            shortcut = rate_keys.get(rating)
            st.button(f"Next: {rating}", key=f"annotate.rate_next.{rating}", type="tertiary",
                      shortcut=shortcut, disabled=not unrated, on_click=actions.on_rate_next,
                      args=(target, rating, unrated),
                      help=f"Rate the next unrated rationale {rating}"
                           + (f" (key {shortcut})" if shortcut else ""))
