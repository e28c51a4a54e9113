"""The annotation panel: one item, its label form, the toolbar and the key legend.

An ``st.fragment``: a label key, "save & next" or any other action reruns only this panel,
not the page. Each run reads what it shows in one short session (:mod:`annotate_data`); each
action is one short write (:mod:`annotate_actions`). The signed-in user is re-checked at the
top of every run, because a fragment rerun does not pass through ``page_setup``.
"""

from __future__ import annotations

import streamlit as st

from components import annotate_actions as actions
from components import annotate_drafts as drafts
from components import annotate_keys as keys
from components import annotate_state as state
from components import annotate_timing as timing
from components.annotate_data import PanelData, load_panel
from components.annotate_focus import render_pending_focus
from components.annotate_form import render_flag_choices, render_label_form, render_skip_choices
from components.annotate_item import render_item
from components.annotate_verdicts import rationale_verdicts, render_rationales
from components.auth import current_user
from components.ranking_input import order_begun, response_count
from core.rank_order import Order
from core.safe_text import escape_markdown
from core.schema import TaskSchema
from storage.database import Database
from storage.projects import ProjectInfo
from storage.rationale_checks import user_rationale_ratings

BODY_KEY = "annotate.body"
TOOLBAR_KEY = "annotate.toolbar"
HIDDEN_NOTE = ("Blind project: the judges' verdicts on this item stay hidden until your label "
               "is saved.")


def first_unlabelled(schema: TaskSchema, saved: dict[str, str]) -> int:
    """Index of the first dimension without a saved label (0 when all have one)."""
    for index, name in enumerate(schema.dimension_names):
        if name not in saved:
            return index
    return 0


@st.fragment
def annotation_panel(db: Database, user_id: int, project: ProjectInfo, total: int) -> None:
    """Draw the user's current item in ``project``; ``total`` is their queue's length."""
    user = current_user(db)
    if user is None or user.id != user_id:
        st.rerun(scope="app")  # signed out or changed: the full page shows the sign-in form
    data = load_panel(db, project_id=project.id, user=user, requested=state.item_param())
    _progress(db, project.id, user_id, data, total)
    _flash()
    if data.refused is not None:
        st.error(f"Item {escape_markdown(data.refused)} is not in your queue; showing your next "
                 "item instead.", icon=":material/block:")
    if data.assignment is None or data.item is None:
        state.set_item_param(None)
        _queue_finished(db, project.id, user_id, data)
        render_pending_focus()
        timing.finish()
        return
    assignment = data.assignment
    state.set_item_param(assignment.external_id)
    key_map = keys.key_map(project.schema)
    saved_reference = assignment.reference_answer or project.schema.given_reference(data.item.fields)
    start = drafts.form_start(assignment.item_id, data.draft, saved=data.saved,
                              comment=assignment.comment, confidence=assignment.confidence,
                              reference=saved_reference)
    work = state.item_work(assignment.item_id, start.labels,
                           first_open=first_unlabelled(project.schema, data.saved))
    target = actions.Target(
        db=db, project=project, user_id=user_id, item_id=assignment.item_id,
        external_id=assignment.external_id, position=assignment.position,
        status=assignment.status, blind=data.settings.blind, n_verdicts=data.n_verdicts,
        verdicts_shown=data.verdicts is not None, flagged=assignment.flagged,
        flag_note=assignment.flag_note, saved=data.saved, reference=saved_reference,
        order_sizes={d.name: response_count(d, data.item.fields)
                     for d in project.schema.dimensions if d.is_ranking})
    _toolbar(target, key_map)
    # Keyed, so the page's style can share the width evenly on narrow screens (annotate_layout).
    left, right = st.container(key=BODY_KEY).columns([3, 2], gap="large")
    with left:
        render_item(project.schema, data.item.fields, trusted=data.settings.trusted_fields,
                    orders=ranked_so_far(project.schema, work.labels, target.order_sizes))
    mode = work.mode if work.mode != "skip" or assignment.status != "done" else "label"
    with right:
        if mode == "skip":
            render_skip_choices(target)
        elif mode == "flag":
            render_flag_choices(target)
        else:
            render_label_form(target, work, key_map, verdicts=data.verdicts,
                              comment=start.comment, confidence=start.confidence,
                              reference=start.reference)
            if data.verdicts:
                with db.read() as session:
                    ratings = user_rationale_ratings(session=session, item_id=assignment.item_id,
                                                     user_id=user_id)
                render_rationales(target, data.verdicts, ratings, key_map)
            elif data.n_verdicts and data.verdicts is None and assignment.status != "done":
                st.caption(HIDDEN_NOTE)
    if mode == "label":
        drafts.sync_draft(target, user, work.labels, drafts.FormStart(
            data.saved, assignment.comment, assignment.confidence, saved_reference))
    _legend(key_map, mode, rationales=bool(data.verdicts and rationale_verdicts(data.verdicts)),
            responses=max(target.order_sizes.values(), default=0),
            skip_reasons=len(actions.skip_reasons(project.schema)))
    render_pending_focus()
    timing.finish()


def item_heading(external_id: str, status: str, *, flagged: bool) -> str:
    """The item's id with badges for its state in the queue (one markdown element)."""
    badge = {"done": ":green-badge[:material/check: Labelled]",
             "skipped": ":gray-badge[:material/redo: Skipped]"}.get(status, ":blue-badge[To label]")
    flag = " :orange-badge[:material/flag: Flagged]" if flagged else ""
    return f"**Item {escape_markdown(external_id)}** {badge}{flag}"


def _progress(db: Database, project_id: int, user_id: int, data: PanelData, total: int) -> None:
    """The queue's progress bar with the go-to box beside it."""
    done, skipped = data.finished.get("done", 0), data.finished.get("skipped", 0)
    if total <= 0:
        return
    skipped_text = f" · {skipped:,} skipped" if skipped else ""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        st.progress(min(1.0, (done + skipped) / total),
                    text=f"{done:,} of {total:,} labelled{skipped_text}")
        _goto_box(db, project_id, user_id)


def _flash() -> None:
    message = state.take_flash()
    if message is None:
        return
    kind, text = message
    if kind == "error":
        st.error(text, icon=":material/error:")
    elif kind == "success":
        st.success(text, icon=":material/check_circle:")
    else:
        st.info(text, icon=":material/info:")


def _toolbar(target: actions.Target, key_map: keys.KeyMap) -> None:
    # One row at any width: the heading takes what the buttons leave and ends in "…" if a
    # long item id needs more (the full id is in the URL and the go-to box).
    with st.container(horizontal=True, vertical_alignment="center", gap="xsmall", wrap=False,
                      key=TOOLBAR_KEY):
        st.markdown(item_heading(target.external_id, target.status, flagged=target.flagged),
                    width="stretch", wrap=False)
        st.button("Back", key="annotate.back", icon=":material/arrow_back:", type="tertiary",
                  shortcut=keys.BACK_KEY, on_click=actions.on_back, args=(target,))
        st.button("Next", key="annotate.next", icon=":material/arrow_forward:", type="tertiary",
                  shortcut=keys.NEXT_KEY, on_click=actions.on_next, args=(target,))
        st.button("Skip", key="annotate.skip", icon=":material/redo:", type="tertiary",
                  shortcut=keys.SKIP_KEY, disabled=target.status == "done",
                  help="Labelled items cannot be skipped" if target.status == "done" else None,
                  on_click=actions.on_mode, args=(target, "skip"))
        st.button("Flag", key="annotate.flag", icon=":material/flag:", type="tertiary",
                  shortcut=key_map.flag, on_click=actions.on_mode, args=(target, "flag"))
        # Enabled until the verdicts are shown, so V always answers (on_reveal says why not).
        st.button("Judges", key="annotate.reveal", icon=":material/visibility:",
                  type="tertiary", shortcut=keys.REVEAL_KEY, disabled=target.verdicts_shown,
                  help=_reveal_help(target), on_click=actions.on_reveal, args=(target,))


def _reveal_help(target: actions.Target) -> str:
    if not target.n_verdicts:
        return "No judge verdicts on this item."
    if target.verdicts_shown:
        return "The judges' verdicts are shown."
    if target.status != "done":
        return "Save your label first: this project is blind."
    return "Show the judges' verdicts next to your label."


def _goto_box(db: Database, project_id: int, user_id: int) -> None:
    st.text_input("Go to item", key=state.GOTO, placeholder="Go to item id",
                  label_visibility="collapsed", width=170, on_change=actions.on_goto,
                  args=(db, project_id, user_id))


def _queue_finished(db: Database, project_id: int, user_id: int, data: PanelData) -> None:
    done, skipped = data.finished.get("done", 0), data.finished.get("skipped", 0)
    st.success(f"Your queue is finished: {done:,} labelled, {skipped:,} skipped. Go back to "
               "revise an item, or jump to one by its id.", icon=":material/task_alt:")
    st.button("Back to the last item", key="annotate.back", icon=":material/arrow_back:",
              shortcut=keys.BACK_KEY, on_click=actions.on_back_from_end,
              args=(db, project_id, user_id))


MODE_LEGENDS = {
    "skip": [("Enter", "skip with the typed reason"), ("Esc", "cancel")],
    "flag": [("Enter", "flag for review"), ("Esc", "cancel")],
}


def ranked_so_far(schema: TaskSchema, labels: dict[str, str], sizes: dict[str, int]
                  ) -> dict[str, Order]:
    """Per ranked field (a ranking dimension's ``over``), the order begun in ``labels``, for
    the rank badges beside the responses."""
    return {d.over: order_begun(labels.get(d.name), sizes.get(d.name, 0))
            for d in schema.dimensions if d.is_ranking and d.over}


def _legend(key_map: keys.KeyMap, mode: str, *, rationales: bool, responses: int,
            skip_reasons: int) -> None:
    if mode == "skip":  # the preset reasons' keys: 1-3, or 1-4 with "all equally bad"
        entries = [(f"1–{skip_reasons}", "skip with that reason"), *MODE_LEGENDS["skip"]]
    else:
        entries = MODE_LEGENDS.get(mode) or key_map.legend(rationales=rationales,
                                                           responses=responses)
    parts = [f"**{escape_markdown(combo)}** {what}" for combo, what in entries]
    st.caption("Keys: " + " · ".join(parts) + ". In a text box, Tab leaves it.")
