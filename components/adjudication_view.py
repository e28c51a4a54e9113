"""One item under review: its fields, every human label and note, every judge verdict with
its rationale side by side, and the gold form (admins) with the gold's history.

All item, label, comment and rationale text comes from files or LLMs and is drawn as text
(``st.text`` or table cells), never as markdown or HTML. A ranking dimension's gold is set
with the Annotate page's ranking input, starting from the annotators' Borda consensus if the
admin likes; the save checks that it orders every response of the item. The gold is saved in the same script
run that :func:`components.layout.page_setup` checked the admin in (not in a widget callback,
which would run before that check).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import pandas as pd
import streamlit as st

from components.annotate_item import render_item
from components.annotate_verdicts import UNPARSEABLE, judge_name
from components.auth import refused
from components.error_tags_view import render_error_tags
from components.frames import plural
from components.ranking_input import (
    UNFINISHED,
    order_begun,
    render_ranking_input,
    response_count,
    unfinished,
)
from core.metrics.batch_ranking import borda_consensus, kendall_tau_b
from core.rank_input import order_text
from core.rank_order import Order, RankingError, format_order, parse_ranking
from core.safe_text import escape_markdown
from core.schema import Dimension, TaskSchema
from storage.authz import NotAllowed
from storage.database import Database
from storage.error_tags import item_error_tags
from storage.gold import KEEP, GoldError, adjudicate, gold_revision, reference_dimension
from storage.projects import ProjectInfo
from storage.review import ItemReview, find_item_id, item_review
from storage.revisions import StaleEdit
from storage.users import UserInfo

FLASH_KEY = "disagreements.flash"
NO_GOLD = "— no gold —"
RATIONALE_HEIGHT = 220


def gold_key(item_id: int, name: str) -> str:
    """Session key of one widget of the gold form of an item."""
    return f"disagreements.gold.{item_id}.{name}"


def render_item_review(db: Database, user: UserInfo, project: ProjectInfo, external_id: str) -> None:
    """Draw the item ``external_id`` of ``project`` for review and adjudication by ``user``."""
    with db.read() as session:
        item_id = find_item_id(session=session, project_id=project.id, external_id=external_id)
        review = item_review(session=session, item_id=item_id) if item_id is not None else None
    if review is None or item_id is None:
        st.warning(f"There is no item {escape_markdown(external_id)} in this project.",
                   icon=":material/warning:")
        return
    schema = project.schema
    with st.container(border=True):
        st.subheader(f"Item {escape_markdown(external_id)}", anchor=False)
        facts = [f"{what}: {value}" for what, value in (("group", review.item.group),
                                                        ("model", review.item.model)) if value]
        if facts:
            st.text(" · ".join(facts))
        render_item(schema, review.item.fields)
    humans, judges = st.columns(2, gap="large")
    with humans:
        _human_labels(review, schema)
    with judges:
        _judge_verdicts(db, user, project, item_id, review)
    _gold(db, user, schema, item_id, review)


def human_label_table(review: ItemReview, schema: TaskSchema) -> pd.DataFrame:
    """One row per annotator: their label on each dimension and their confidence."""
    annotators = list(dict.fromkeys([h.annotator for h in review.humans]
                                    + [n.annotator for n in review.notes if n.status == "done"]))
    confidence = {n.annotator: n.confidence for n in review.notes}
    labels = {(h.annotator, h.dimension): h.label for h in review.humans}
    rows = [{"annotator": name,
             **{d.name: labels.get((name, d.name)) for d in schema.dimensions},
             "confidence": confidence.get(name)} for name in annotators]
    columns = ["annotator", *schema.dimension_names, "confidence"]
    table = pd.DataFrame(rows, columns=columns).astype({**{c: "str" for c in columns[:-1]},
                                                        "confidence": "Int64"})
    return table if table["confidence"].notna().any() else table.drop(columns="confidence")


def _human_labels(review: ItemReview, schema: TaskSchema) -> None:
    st.markdown("**Human labels**")
    table = human_label_table(review, schema)
    if table.empty:
        st.caption("No human labels on this item.")
        return
    st.dataframe(table, hide_index=True, key="disagreements.humans")
    for human in review.humans:
        if human.comment:
            st.caption(f"{escape_markdown(human.annotator)} on {escape_markdown(human.dimension)}:")
            st.text(human.comment)
    proposed = dict(review.proposed_references())
    for note in review.notes:
        for title, text in (("comment", note.comment),
                            ("proposed reference answer", proposed.get(note.annotator)),
                            ("flagged", note.flag_note if note.flagged else None),
                            ("skipped", note.skip_reason)):
            if text:
                st.caption(f"{escape_markdown(note.annotator)} · {title}:")
                st.text(text)
    kept = review.kept_reference()
    if kept:
        st.caption(f"Kept the item's reference answer as given (no proposal): "
                   f"{escape_markdown(', '.join(kept))}.")


def _judge_verdicts(db: Database, user: UserInfo, project: ProjectInfo, item_id: int,
                    review: ItemReview) -> None:
    st.markdown("**Judge verdicts**")
    if not review.verdicts:
        st.caption("No judge verdicts on this item.")
        return
    with db.read() as session:
        tags = item_error_tags(session=session, item_id=item_id)
    judges = list(dict.fromkeys(v.judge for v in review.verdicts))
    for judge in judges:
        verdicts = [v for v in review.verdicts if v.judge == judge]
        with st.container(border=True):
            labels = " · ".join(f"{v.dimension}{f' [sample {v.sample_index}]' if v.sample_index else ''}"
                                f": {v.label or UNPARSEABLE}" for v in verdicts)
            st.markdown(f"**{escape_markdown(judge)}**")
            st.text(labels)
            for verdict in verdicts:
                if verdict.rationale:
                    box = (st.container(height=RATIONALE_HEIGHT) if len(verdict.rationale) > 600
                           else st.container())
                    box.text(verdict.rationale)
            render_error_tags(db, user, project, item_id, judge,
                              list(dict.fromkeys(v.dimension for v in verdicts)), tags)


def _gold(db: Database, user: UserInfo, schema: TaskSchema, item_id: int, review: ItemReview) -> None:
    st.markdown("### Gold", help="The decided truth for this item, shipped by the exports.")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        getattr(st, flash[0])(flash[1])
    if review.gold:
        st.dataframe(gold_table(review), hide_index=True, key="disagreements.gold_table")
    else:
        st.caption("No gold decided for this item yet.")
    drawn_from = st.session_state.setdefault(gold_key(item_id, "revision"), review.revision.id)
    if drawn_from != review.revision.id:
        st.warning(f"This item's gold was {escape_markdown(review.revision.describe())}, after "
                   "you opened it. Reload to see it before you decide.",
                   icon=":material/sync_problem:")
        st.button("Reload the gold", key=gold_key(item_id, "reload"), icon=":material/refresh:",
                  on_click=_reload_gold, args=(item_id, schema))
    rankings = [d for d in schema.dimensions if d.is_ranking]
    orders = {d.name: _ranking_gold(item_id, d, review, shortcuts=len(rankings) == 1)
              for d in rankings}
    with st.form(f"disagreements.gold_form.{item_id}"):
        chosen = {d.name: _ranking_line(d, *orders[d.name]) if d.is_ranking
                  else _gold_widget(item_id, d, review) for d in schema.dimensions}
        reference = None
        reference_dim = reference_dimension(schema)
        if reference_dim is not None:
            reference = st.text_area("Gold reference answer",
                                     value=_reference_prefill(review, schema),
                                     key=gold_key(item_id, "reference"), height=120,
                                     help="Prefilled with the gold so far, else the first answer "
                                          "an annotator wrote or edited, else the item's own.")
        note = st.text_input("Note", key=gold_key(item_id, "note"),
                             placeholder="why this decision (kept with it and in the history)")
        saved = st.form_submit_button("Save gold", type="primary", icon=":material/gavel:",
                                      key=gold_key(item_id, "save"))
    missing = [unfinished(d.title, *orders[d.name]) for d in rankings]
    missing = [gap for gap in missing if gap is not None]
    if saved and missing:
        st.error(UNFINISHED.format("; ".join(missing)), icon=":material/error:")
    elif saved:
        _save(db, user, item_id, chosen, KEEP if reference_dim is None else reference, note)
    if review.history:
        with st.expander(f"History ({len(review.history)})", icon=":material/history:"):
            st.dataframe(history_table(review), hide_index=True, key="disagreements.history")


def _gold_widget(item_id: int, dimension: Dimension, review: ItemReview) -> str | None:
    current = review.gold.get(dimension.name)
    label = current.label if current is not None else None
    title = f"{dimension.title} ({dimension.name})"
    hint = label_hint(review, dimension.name)
    if dimension.scale == "interval":
        text = st.text_input(title, value=label or "", key=gold_key(item_id, dimension.name),
                             placeholder="no gold", help=hint)
        return text.strip() or None
    options = [None, *dimension.label_values]
    displays = {label.value: label.display for label in dimension.labels}
    return st.selectbox(title, options, index=options.index(label) if label in options else 0,
                        key=gold_key(item_id, dimension.name), help=hint,
                        format_func=lambda v: NO_GOLD if v is None else displays.get(v, v))


@dataclass(frozen=True)
class RaterOrder:
    """One rater's ranking of the item: ``kind`` is "human" or "judge"."""

    rater: str
    kind: str
    order: Order


def rater_orders(review: ItemReview, dimension: Dimension, n: int) -> list[RaterOrder]:
    """Every annotator's and every judge's (first sample) order of the item's ``n`` responses
    on the ranking ``dimension``; a label that is not an order of ``n`` is left out."""
    found = [(h.annotator, "human", h.label) for h in review.humans if h.dimension == dimension.name]
    found += [(judge_name(v), "judge", v.label) for v in review.verdicts
              if v.dimension == dimension.name and v.sample_index == 0 and v.label is not None]
    orders = []
    for rater, kind, label in found:
        try:
            orders.append(RaterOrder(rater, kind, parse_ranking(label, n)))
        except RankingError:
            continue
    return orders


def orders_table(orders: Sequence[RaterOrder], consensus: Order | None, n: int) -> pd.DataFrame:
    """One row per rater: their order as shown, and Kendall's τ-b with the Borda consensus."""
    rows = [(o.rater, o.kind, order_text(o.order, n),
             None if consensus is None else round(kendall_tau_b(o.order, consensus), 3))
            for o in orders]
    return pd.DataFrame(rows, columns=["rater", "kind", "order", "τ-b with consensus"])


def _ranking_gold(item_id: int, dimension: Dimension, review: ItemReview, *, shortcuts: bool
                  ) -> tuple[Order, int]:
    """The gold ranking's input, outside the form (its buttons rerun the page): the raters'
    orders, their Borda consensus to start from, and the order being set. Returns that order
    (empty: no gold) and the item's number of responses."""
    n = response_count(dimension, review.item.fields)
    key = gold_key(item_id, dimension.name)
    if key not in st.session_state:
        current = review.gold.get(dimension.name)
        st.session_state[key] = order_begun(current.label if current else None, n)
    orders = rater_orders(review, dimension, n)
    humans = [o.order for o in orders if o.kind == "human"]
    consensus = borda_consensus(humans)
    st.markdown(f"**{escape_markdown(dimension.title)}: gold ranking**",
                help="Best first. Press the response numbers (or click them) from best to worst; "
                     "the last one is implied.")
    if orders:
        st.dataframe(orders_table(orders, consensus, n), hide_index=True,
                     key=gold_key(item_id, f"{dimension.name}.orders"))
    if consensus is None:
        st.caption("No annotator ranked this item: no consensus to start from.")
    else:
        st.caption(f"Borda consensus of {plural(len(humans), 'annotator')}: "
                   f"**{order_text(consensus, n)}** (a response scores n − rank points from each "
                   "order; ties go to the response ranked first more often, then to the earlier "
                   "response).")
        st.button("Start from the consensus", key=gold_key(item_id, f"{dimension.name}.borda"),
                  icon=":material/how_to_vote:", on_click=_set_order, args=(key, consensus))
    render_ranking_input(key=gold_key(item_id, f"{dimension.name}.input"), n=n,
                         order=st.session_state[key], on_edit=partial(_edit_order, key),
                         shortcuts=shortcuts)
    return st.session_state[key], n


def _ranking_line(dimension: Dimension, order: Order, n: int) -> str | None:
    """Say in the form which gold ranking it saves (set above it); return its canonical text
    (None: no gold)."""
    shown = order_text(order, n) if order else NO_GOLD
    st.caption(f"{escape_markdown(dimension.title)}: **{shown}** (set above)")
    return format_order(order) if order else None


def _set_order(key: str, order: Order) -> None:
    st.session_state[key] = order


def _edit_order(key: str, edit: Callable[[Order], Order]) -> None:
    st.session_state[key] = edit(st.session_state.get(key, ()))


def label_hint(review: ItemReview, dimension: str) -> str | None:
    """What the humans and the judges said on the dimension, for the gold widget's help
    (markdown-escaped: labels and names come from files)."""
    humans = Counter(h.label for h in review.humans if h.dimension == dimension)
    judges = [f"{v.judge} {v.label}" for v in review.verdicts
              if v.dimension == dimension and v.sample_index == 0]
    parts = []
    if humans:
        parts.append("Humans: " + ", ".join(f"{label} ×{n}" for label, n in humans.most_common()))
    if judges:
        parts.append("Judges: " + ", ".join(judges))
    return escape_markdown(". ".join(parts)) if parts else None


def _reference_prefill(review: ItemReview, schema: TaskSchema) -> str:
    for record in review.gold.values():
        if record.reference_answer:
            return record.reference_answer
    proposals = review.proposed_references()
    if proposals:
        return proposals[0][1]
    return schema.given_reference(review.item.fields) or ""


def _reload_gold(item_id: int, schema: TaskSchema) -> None:
    """Forget the form's values and its revision: it is drawn again from the stored gold."""
    for name in (*schema.dimension_names, "reference", "note", "revision"):
        st.session_state.pop(gold_key(item_id, name), None)


def _save(db: Database, user: UserInfo, item_id: int, labels: dict[str, str | None],
          reference: object, note: str) -> None:
    """Save the form's decision, refused if the gold changed since the form was drawn."""
    try:
        with db.write() as session:
            changes = adjudicate(session=session, item_id=item_id, actor=user,
                                 labels=labels, reference_answer=reference,  # type: ignore[arg-type]
                                 note=note,
                                 expected_revision=st.session_state.get(gold_key(item_id, "revision")))
            revision = gold_revision(session=session, item_id=item_id)
    except NotAllowed as exc:
        refused(exc)
        st.rerun()
    except (GoldError, StaleEdit) as exc:
        st.error(f"Not saved: {escape_markdown(exc)}", icon=":material/error:")
        return
    st.session_state[gold_key(item_id, "revision")] = revision.id
    message = (f"Gold saved: {plural(len(changes), 'change')}." if changes
               else "Nothing changed: this is already the gold.")
    st.session_state[FLASH_KEY] = ("success" if changes else "info", message)
    st.rerun()


def gold_table(review: ItemReview) -> pd.DataFrame:
    """The item's gold, one row per dimension."""
    rows = [(r.dimension, r.label, r.reference_answer, r.note, r.decided_by, r.decided_at)
            for r in review.gold.values()]
    return pd.DataFrame(rows, columns=["dimension", "label", "reference answer", "note",
                                       "decided by", "decided at"])


def history_table(review: ItemReview) -> pd.DataFrame:
    """Every gold decision on the item, oldest first."""
    rows = [(e.at, e.actor, e.action, e.dimension, e.old, e.new, e.note) for e in review.history]
    return pd.DataFrame(rows, columns=["at", "by", "action", "dimension", "old", "new", "note"])
