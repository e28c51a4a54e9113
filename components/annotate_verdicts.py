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
from core.metrics.batch_ranking import kendall_tau_b
from core.rank_input import order_text
from core.rank_order import Order, RankingError, parse_ranking
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


@dataclass(frozen=True)
class JudgeOrder:
    """One judge's ranking of the item beside the expert's: the order as shown and Kendall's
    τ-b between the two (None: no order to compare, e.g. an unparseable verdict)."""

    judge: str
    order: str
    tau_b: float | None


def judge_orders(dimension: Dimension, verdicts: Sequence[VerdictView], expert: str | None,
                 n: int) -> list[JudgeOrder]:
    """Each judge's order on the ranking ``dimension`` and its τ-b with the expert's complete
    order ``expert`` (canonical text; None or unfinished: no τ-b)."""
    mine = _complete_order(expert, n)
    result = []
    for verdict in verdicts:
        if verdict.dimension != dimension.name:
            continue
        theirs = _complete_order(verdict.label, n)
        if theirs is None:
            result.append(JudgeOrder(judge_name(verdict), display_label(dimension, verdict.label),
                                     None))
            continue
        result.append(JudgeOrder(judge_name(verdict), order_text(theirs, n),
                                 kendall_tau_b(mine, theirs) if mine is not None else None))
    return result


def _complete_order(label: str | None, n: int) -> Order | None:
    if label is None:
        return None
    try:
        return parse_ranking(label, n)
    except RankingError:
        return None


def render_ranking_verdicts(dimension: Dimension, verdicts: Sequence[VerdictView],
                            chosen: str | None, saved: str | None, n: int) -> None:
    """Draw each judge's ranking beside the expert's, with Kendall's τ-b between them (+1 the
    same order, −1 the reverse): against the order chosen when it is complete, else the saved."""
    mine = chosen if _complete_order(chosen, n) is not None else saved
    orders = judge_orders(dimension, verdicts, mine, n)
    if not orders:
        st.caption("No judge ranked these responses.")
        return
    expert = _complete_order(mine, n)
    unsaved = expert is not None and mine != saved
    whose = "your unsaved order" if unsaved else "yours"
    st.markdown(f"**The judges' rankings** · τ-b with {whose}",
                help="Kendall's τ-b between two orders: +1 the same order, 0 as many response "
                     "pairs in the same as in the opposite order, −1 the reverse.")
    rows = [f"- :material/person: You — **{order_text(expert, n)}**"] if expert else []
    for entry in orders:
        tau = "" if entry.tau_b is None else f" · τ-b **{entry.tau_b:+.2f}**"
        rows.append(f"- :material/smart_toy: {escape_markdown(entry.judge)} — "
                    f"**{escape_markdown(entry.order)}**{tau}")
    st.markdown("\n".join(rows))
    taus = [entry.tau_b for entry in orders if entry.tau_b is not None]
    if len(taus) > 1:
        st.caption(f"Mean τ-b with the judges: {sum(taus) / len(taus):+.2f}")


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
