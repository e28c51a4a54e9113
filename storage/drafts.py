"""Drafts: what an annotator chose on an item but has not saved, kept on the server.

A draft holds the chosen labels, comment, confidence and reference answer of one annotator
on one item (``label_draft``, one row per pair), so a reload or another device shows the
work in progress. A ranking dimension's draft label may be an unfinished order (``"2,1"``
of four responses, :mod:`core.rank_input`): only the save needs every response ranked. A
draft is not a label: metrics, exports, progress and the adjudication views read
``annotation`` and ``assignment`` only, never this table. Saving the labels
(:func:`storage.annotation.submit_labels`) deletes the draft in the same transaction
(:func:`discard_draft`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.rank_order import RankingError, format_order, parse_partial_order
from core.safe_text import require_safe_text
from core.schema import LabelError, TaskSchema
from storage.authz import Actor, authorize_self
from storage.database import Database
from storage.models import Assignment, Item, LabelDraft, Project, utcnow
from storage.projects import parsed_schema

MAX_NOTE_CHARS = 10_000  # as storage.annotation: a draft holds what a save would accept
MAX_REFERENCE_CHARS = 100_000


class DraftError(ValueError):
    """A draft that cannot be kept: the item is not in the user's queue, or a value is bad."""


@dataclass(frozen=True)
class Draft:
    """Unsaved work on one item: ``labels`` by dimension name (canonical label text), and the
    comment, confidence (1-5) and reference answer, each None when not given."""

    labels: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    confidence: int | None = None
    reference_answer: str | None = None

    @property
    def empty(self) -> bool:
        """True if the draft holds nothing."""
        return not self.labels and self.comment is None and self.confidence is None \
            and self.reference_answer is None


def get_draft(*, session: Session, user_id: int, item_id: int) -> Draft | None:
    """Return ``user_id``'s draft on ``item_id``, or None if there is none."""
    row = session.connection().execute(_draft_query(), {"user_id": user_id,
                                                        "item_id": item_id}).first()
    if row is None:
        return None
    return Draft(labels=json.loads(row.labels_json), comment=row.comment,
                 confidence=row.confidence, reference_answer=row.reference_answer)


def save_draft(db: Database, *, project_id: int, user_id: int, item_id: int, draft: Draft,
               actor: Actor) -> None:
    """Keep ``draft`` as ``user_id``'s unsaved work on ``item_id`` (replacing the one before);
    an empty draft deletes it.

    ``actor`` acts for themselves (:func:`storage.authz.authorize_self`, else
    :class:`~storage.authz.NotAllowed`). Raises :class:`DraftError` when the item is not in
    the user's queue in ``project_id``, a label is not one of the dimension's (a ranking: not
    the beginning of an order of the item's responses), the confidence is not 1-5, or a text
    is too long or holds NUL or a lone surrogate.
    """
    comment = _text(draft.comment, MAX_NOTE_CHARS, "the comment")
    reference = _text(draft.reference_answer, MAX_REFERENCE_CHARS, "the reference answer")
    if draft.confidence is not None and not 1 <= draft.confidence <= 5:
        raise DraftError(f"confidence must be 1 to 5, got {draft.confidence}")
    with db.write() as session:
        authorize_self(session, actor, user_id)
        found = session.execute(
            select(Project.task_json, Project.name).join(Assignment, Assignment.project_id == Project.id)
            .where(Assignment.project_id == project_id, Assignment.user_id == user_id,
                   Assignment.item_id == item_id)).first()
        if found is None:
            raise DraftError("this item is not in your queue")
        schema = parsed_schema(found.task_json, found.name)
        fields = None
        if any(schema.dimension(name).is_ranking for name in draft.labels
               if name in schema.dimension_names):
            fields = json.loads(session.execute(
                select(Item.fields_json).where(Item.id == item_id)).scalar_one())
        labels = draft_labels(schema, draft.labels, fields=fields)
        if not labels and comment is None and draft.confidence is None and reference is None:
            discard_draft(session, user_id=user_id, item_id=item_id)
            return
        values = {"project_id": project_id, "item_id": item_id, "user_id": user_id,
                  "labels_json": json.dumps(labels, ensure_ascii=False, sort_keys=True),
                  "comment": comment, "confidence": draft.confidence,
                  "reference_answer": reference, "updated_at": utcnow()}
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        statement = insert(LabelDraft).values(**values)
        session.execute(statement.on_conflict_do_update(
            index_elements=["user_id", "item_id"],
            set_={name: statement.excluded[name] for name in values
                  if name not in ("user_id", "item_id")}))


def discard_draft(session: Session, *, user_id: int, item_id: int) -> None:
    """Delete ``user_id``'s draft on ``item_id`` in the caller's write transaction (after a
    save, which checked the actor)."""
    session.execute(_discard_statement(), {"user_id": user_id, "item_id": item_id})


def draft_labels(schema: TaskSchema, labels: Mapping[str, Any], *,
                 fields: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The canonical draft labels of ``labels`` (empty values dropped): each dimension's
    canonical label, and for a ranking dimension the canonical text of the order begun so far
    (``"2,1"``), checked against the item's responses in ``fields`` when given.

    Raises :class:`DraftError` naming the dimension for an unknown dimension or a bad label.
    """
    result = {}
    for name, value in labels.items():
        if value is None or value == "" or value == ():
            continue
        if isinstance(value, str):
            require_safe_text(value, what=f"{name}: the label", error=DraftError)
        try:
            dimension = schema.dimension(name)
            if dimension.is_ranking:
                entries = (fields or {}).get(dimension.over or "")
                order = parse_partial_order(
                    value, len(entries) if isinstance(entries, list) else None)
                if order:
                    result[name] = format_order(order)
                continue
            result[name] = dimension.normalize(value)
        except (KeyError, LabelError, RankingError) as exc:
            raise DraftError(f"{name}: {exc.args[0]}") from None
    return result


def _text(value: str | None, limit: int, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise DraftError(f"{what} is too long ({len(value):,} characters, limit {limit:,})")
    return require_safe_text(value, what=what, error=DraftError)


@cache
def _draft_query() -> Any:
    table = LabelDraft.__table__
    return select(table.c.labels_json, table.c.comment, table.c.confidence,
                  table.c.reference_answer).where(table.c.user_id == bindparam("user_id"),
                                                  table.c.item_id == bindparam("item_id"))


@cache
def _discard_statement() -> Any:
    table = LabelDraft.__table__
    return delete(table).where(table.c.user_id == bindparam("user_id"),
                               table.c.item_id == bindparam("item_id"))
