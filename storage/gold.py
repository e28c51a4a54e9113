"""Gold: the adjudicated label per item and dimension, and the gold reference answer.

An admin decides the gold label of a dimension (or clears it) and, for a task whose schema
has ``gold_reference`` (the correctness template), the gold reference answer. The answer is
stored on the gold row of the schema's first dimension (:func:`reference_dimension`), so a row
may hold a reference answer without a label. Every change writes an audit row with the old
and the new value and the note; ``decided_by``/``decided_at`` say who made the row's latest
decision. :func:`adjudicate` checks that its actor is an admin and, given the revision the
form was drawn from (:func:`gold_revision`), refuses to overwrite a newer decision
(:class:`~storage.revisions.StaleEdit`: "changed by A at 14:02 ... reload to see it").

Functions take ``session=`` keyword-only; :func:`adjudicate` expects a write session
(``Database.write``) and locks the item on PostgreSQL, so two admins deciding the same item at
once are serialised (SQLite's ``BEGIN IMMEDIATE`` already is).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import pandas as pd
from sqlalchemy import delete, select
from sqlmodel import Session

from core.safe_text import require_safe_text
from core.schema import LabelError, TaskSchema
from storage.authz import ADMIN, Actor, authorize
from storage.models import AuditLog, Gold, Item, UserAccount, utcnow
from storage.projects import project_by_id
from storage.revisions import Revision, check_revision, latest_revision

MAX_NOTE_CHARS = 10_000
MAX_REFERENCE_CHARS = 100_000
METHOD = "adjudicated"
LABEL_ACTION = "gold"
REFERENCE_ACTION = "gold_reference"
NOTE_ACTION = "gold_note"
GOLD_ACTIONS = (LABEL_ACTION, REFERENCE_ACTION, NOTE_ACTION)


class GoldError(ValueError):
    """An adjudication cannot be stored as given; the message names the dimension or field."""


class Keep(Enum):
    """Marker for "leave the gold reference answer as it is"."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class GoldRecord:
    """The decided gold of one item and dimension."""

    dimension: str
    label: str | None
    reference_answer: str | None
    note: str | None
    method: str
    decided_by: str | None
    decided_at: datetime


@dataclass(frozen=True)
class GoldChange:
    """One change an adjudication made: ``what`` is ``label``, ``reference_answer`` or ``note``."""

    dimension: str
    what: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class GoldEvent:
    """One entry of an item's gold history (from the audit log)."""

    at: datetime
    actor: str | None
    action: str
    dimension: str | None
    old: str | None
    new: str | None
    note: str | None


def reference_dimension(schema: TaskSchema) -> str | None:
    """The dimension whose gold row holds the gold reference answer: the schema's first, when
    the schema has ``gold_reference``; None otherwise."""
    if not schema.gold_reference or not schema.dimensions:
        return None
    return schema.dimensions[0].name


def item_gold(*, session: Session, item_id: int) -> dict[str, GoldRecord]:
    """Return the item's gold records by dimension (empty when nothing was decided)."""
    query = (select(Gold.dimension, Gold.label, Gold.reference_answer, Gold.note, Gold.method,
                    UserAccount.name, Gold.decided_at)
             .outerjoin(UserAccount, UserAccount.id == Gold.decided_by)
             .where(Gold.item_id == item_id).order_by(Gold.dimension))
    return {row[0]: GoldRecord(*row) for row in session.execute(query)}


def _clean(value: str | None, limit: int, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise GoldError(f"{what} is too long ({len(value):,} characters, limit {limit:,})")
    return require_safe_text(value, what=what, error=GoldError)


def _canonical_labels(schema: TaskSchema, labels: Mapping[str, str | None]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for name, value in labels.items():
        try:
            dimension = schema.dimension(name)
        except KeyError as exc:
            raise GoldError(exc.args[0]) from None
        if value is None or (isinstance(value, str) and not value.strip()):
            result[name] = None
            continue
        if isinstance(value, str):
            require_safe_text(value, what=f"{name}: the label", error=GoldError)
        try:
            result[name] = dimension.normalize(value)
        except LabelError as exc:
            raise GoldError(f"{name}: {exc.args[0]}") from None
    return result


def _check_orders(schema: TaskSchema, labels: Mapping[str, str | None], fields_json: str) -> None:
    """Raise GoldError unless each gold ranking orders all of the item's responses."""
    rankings = [name for name, label in labels.items()
                if label is not None and schema.dimension(name).is_ranking]
    if not rankings:
        return
    fields = json.loads(fields_json)
    for name in rankings:
        try:
            schema.dimension(name).check_order_length(labels[name] or "", fields)
        except LabelError as exc:
            raise GoldError(f"{name}: {exc.args[0]}") from None


def gold_revision(*, session: Session, item_id: int) -> Revision:
    """The newest gold decision on the item (id 0 when none): what a form remembers."""
    return latest_revision(session=session, actions=GOLD_ACTIONS, item_id=item_id)


def adjudicate(*, session: Session, item_id: int, actor: Actor,
               labels: Mapping[str, str | None] | None = None,
               reference_answer: str | Keep | None = KEEP, note: str | None = None,
               expected_revision: int | None = None) -> list[GoldChange]:
    """Set or clear gold labels and the gold reference answer of one item; return the changes.

    ``labels`` maps dimensions to their gold label (any spelling the dimension accepts) or
    None to clear it; dimensions not named keep their gold. ``reference_answer`` is the new
    gold reference answer (None or blank clears it; :data:`KEEP`, the default, leaves it).
    The ``note`` is stored on every row this decision changes and in each audit entry. When
    nothing else changes, a new (non-blank) note replaces the note of the item's gold rows. Rows left
    with neither label nor reference answer are deleted. Idempotent: the same call twice
    changes nothing the second time.

    ``actor`` must be an admin (:class:`~storage.authz.NotAllowed` otherwise). With
    ``expected_revision`` (:func:`gold_revision` when the form was drawn), a decision made
    since by someone else is refused with :class:`~storage.revisions.StaleEdit`; None
    overwrites (scripts). Raises :class:`GoldError` for an unknown item or dimension, a label
    not on the scale (a ranking that does not order every response of the item), a reference
    answer on a task without gold references, or a text over its length limit.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    note = _clean(note, MAX_NOTE_CHARS, "the note")
    item_query = select(Item.project_id, Item.fields_json).where(Item.id == item_id)
    if session.get_bind().dialect.name == "postgresql":
        item_query = item_query.with_for_update()
    found = session.execute(item_query).first()
    if found is None:
        raise GoldError(f"no item with id {item_id}")
    project_id = found.project_id
    check_revision(session=session, expected=expected_revision, what="this item's gold",
                   actions=GOLD_ACTIONS, item_id=item_id)
    schema = project_by_id(session=session, project_id=project_id).schema
    wanted = _canonical_labels(schema, labels or {})
    _check_orders(schema, wanted, found.fields_json)
    reference_dim = reference_dimension(schema)
    if not isinstance(reference_answer, Keep):
        if reference_dim is None:
            raise GoldError(f"task {schema.name!r} has no gold reference answer")
        reference_answer = _clean(reference_answer, MAX_REFERENCE_CHARS, "the reference answer")

    rows = {row.dimension: row for row in session.execute(
        select(Gold).where(Gold.item_id == item_id)).scalars()}
    changes: list[GoldChange] = []
    for name, label in wanted.items():
        old = rows[name].label if name in rows else None
        if old != label:
            changes.append(GoldChange(name, "label", old, label))
    if not isinstance(reference_answer, Keep) and reference_dim is not None:
        old_reference = rows[reference_dim].reference_answer if reference_dim in rows else None
        if old_reference != reference_answer:
            changes.append(GoldChange(reference_dim, "reference_answer", old_reference,
                                      reference_answer))
    if not changes:
        return [] if note is None else _replace_note(session, item_id, actor_id, rows, note)

    now = utcnow()
    for change in changes:
        row = rows.get(change.dimension)
        if row is None:
            row = rows[change.dimension] = Gold(item_id=item_id, dimension=change.dimension)
            session.add(row)
        setattr(row, change.what, change.new)
        row.note, row.method, row.decided_by, row.decided_at = note, METHOD, actor_id, now
        session.add(AuditLog(at=now, actor_id=actor_id,
                             action=LABEL_ACTION if change.what == "label" else REFERENCE_ACTION,
                             item_id=item_id, dimension=change.dimension, old_value=change.old,
                             new_value=change.new, reason=note))
    session.flush()
    empty = [name for name, row in rows.items() if row.label is None and row.reference_answer is None]
    if empty:
        session.execute(delete(Gold).where(Gold.item_id == item_id, Gold.dimension.in_(empty)))
    return changes


def _replace_note(session: Session, item_id: int, actor_id: int | None, rows: Mapping[str, Gold],
                  note: str) -> list[GoldChange]:
    """A decision that changes only the note: new note on every gold row of the item."""
    changes = []
    now = utcnow()
    for name, row in sorted(rows.items()):
        if row.note == note:
            continue
        changes.append(GoldChange(name, "note", row.note, note))
        session.add(AuditLog(at=now, actor_id=actor_id, action=NOTE_ACTION, item_id=item_id,
                             dimension=name, old_value=row.note, new_value=note, reason=note))
        row.note = note
    return changes


def gold_history(*, session: Session, item_id: int) -> list[GoldEvent]:
    """Return every gold decision on the item, oldest first, with who made it."""
    query = (select(AuditLog.at, UserAccount.name, AuditLog.action, AuditLog.dimension,
                    AuditLog.old_value, AuditLog.new_value, AuditLog.reason)
             .outerjoin(UserAccount, UserAccount.id == AuditLog.actor_id)
             .where(AuditLog.item_id == item_id, AuditLog.action.in_(GOLD_ACTIONS))
             .order_by(AuditLog.id))
    return [GoldEvent(*row) for row in session.execute(query)]


GOLD_COLUMNS = ["id", "dimension", "label", "reference_answer", "note", "method", "decided_by",
                "decided_at"]


def gold_frame(*, session: Session, project_id: int) -> pd.DataFrame:
    """Return the project's gold, one row per item and dimension: ``id`` (the item's id in
    the file), ``dimension``, ``label``, ``reference_answer``, ``note``, ``method``,
    ``decided_by`` (user name), ``decided_at``; ordered by item and dimension."""
    query = (select(Item.external_id, Gold.dimension, Gold.label, Gold.reference_answer, Gold.note,
                    Gold.method, UserAccount.name, Gold.decided_at)
             .join(Item, Item.id == Gold.item_id)
             .outerjoin(UserAccount, UserAccount.id == Gold.decided_by)
             .where(Item.project_id == project_id).order_by(Item.id, Gold.dimension))
    return pd.DataFrame(session.execute(query).all(), columns=GOLD_COLUMNS)
