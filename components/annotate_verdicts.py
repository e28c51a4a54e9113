"""The judges' verdicts next to the expert's label, agreements and disagreements marked.

Drawn only when :func:`components.annotate_data.verdicts_allowed` says so. Judge names,
labels and rationales are file content: escaped or drawn with ``st.text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from components.annotate_item import SCROLL_HEIGHT, is_long
from core.safe_text import escape_markdown
from core.schema import Dimension
from storage.annotation import VerdictView


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


def render_rationales(verdicts: Sequence[VerdictView]) -> None:
    """Draw each judge's rationale once (a rationale is repeated on every dimension row)."""
    seen: set[tuple[str, str]] = set()
    shown = False
    for verdict in verdicts:
        if not verdict.rationale:
            continue
        name = judge_name(verdict)
        if (name, verdict.rationale) in seen:
            continue
        seen.add((name, verdict.rationale))
        if not shown:
            st.markdown("**The judges' rationales**")
            shown = True
        with st.container(border=True, gap="small"):
            st.caption(escape_markdown(name))
            if is_long(verdict.rationale):
                with st.container(height=SCROLL_HEIGHT // 2):
                    st.text(verdict.rationale)
            else:
                st.text(verdict.rationale)
