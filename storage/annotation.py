"""Annotation: the writes of one expert's labels (submit, skip, flag, reveal) and their audit
trail. Settings and members are :mod:`storage.annotation_settings`, queues and navigation
:mod:`storage.queues`, what the annotator sees :mod:`storage.annotator_view`.

Every label write is one short transaction (``Database.write``: ``BEGIN IMMEDIATE`` on
SQLite; a row lock on the assignment on PostgreSQL) and an idempotent upsert keyed by
(item, annotator, dimension): a double click, two tabs or many experts at once can neither
lose nor duplicate a label. A changed label keeps its old value, new value and reason in the
audit log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.safe_text import require_safe_text
from core.schema import LabelError, TaskSchema
from storage.annotation_settings import AnnotationError, get_settings
from storage.authz import Actor, authorize_self
from storage.database import Database
from storage.drafts import discard_draft
from storage.models import Annotation, Assignment, AuditLog, Item, Project, UserAccount, utcnow
from storage.projects import parsed_schema

MAX_NOTE_CHARS = 10_000


MAX_REFERENCE_CHARS = 100_000


@dataclass(frozen=True)
class SubmitResult:
    """What a submit changed: the dimensions whose label is new or different."""

    changed: tuple[str, ...]
    first_submit: bool


def _locked_assignment(session: Session, project_id: int, user_id: int, item_id: int
                       ) -> Assignment:
    """The user's assignment row for the item, locked for this transaction."""
    query = select(Assignment).where(Assignment.project_id == project_id,
                                     Assignment.user_id == user_id, Assignment.item_id == item_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    assignment = session.execute(query).scalars().first()
    if assignment is None:
        raise AnnotationError("this item is not in your queue")
    user = session.get(UserAccount, user_id)
    if user is None or not user.active:
        raise AnnotationError("your account is not active")
    return assignment


def _text(value: str | None, limit: int, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise AnnotationError(f"{what} is too long ({len(value):,} characters, limit {limit:,})")
    return require_safe_text(value, what=what, error=AnnotationError)


def normalize_labels(schema: TaskSchema, labels: Mapping[str, Any], *, complete: bool
                     ) -> dict[str, str]:
    """Return canonical labels for ``labels`` (empty values dropped).

    With ``complete``, every required dimension must have a label. Raises AnnotationError
    naming the dimension.
    """
    result = {}
    for name, value in labels.items():
        if value is None or value == "":
            continue
        if isinstance(value, str):
            require_safe_text(value, what=f"{name}: the label", error=AnnotationError)
        try:
            dimension = schema.dimension(name)
            result[name] = dimension.normalize(value)
        except (KeyError, LabelError) as exc:
            raise AnnotationError(f"{name}: {exc.args[0]}") from None
    if complete:
        missing = [d.title for d in schema.dimensions if d.required and d.name not in result]
        if missing:
            raise AnnotationError(f"choose a label for: {', '.join(missing)}")
    return result


def submit_labels(db: Database, *, project_id: int, user_id: int, item_id: int, actor: Actor,
                  labels: Mapping[str, Any], comment: str | None = None,
                  confidence: int | None = None, reference_answer: str | None = None,
                  reason: str | None = None) -> SubmitResult:
    """Store one annotator's labels for one item and mark it done in their queue.

    Idempotent: the same submit twice changes nothing the second time. A label that replaces
    a different one is logged (old, new, ``reason``) and bumps the revision; once the item is
    done, such a revision needs a ``reason``. A ``reference_answer`` (tasks with gold
    references) is stored with whether the annotator wrote or edited it, or kept the item's own
    reference (the same text, spaces trimmed): only written or edited ones are their proposals
    (``reference_edited``). ``actor`` acts for themselves (:func:`storage.authz.authorize_self`,
    else :class:`~storage.authz.NotAllowed`). Raises AnnotationError when the item is not in
    the user's queue, the account is inactive, a label is invalid (a ranking that does not
    order every response of the item), a required dimension has none, or a revision has no
    reason.
    """
    if confidence is not None and not 1 <= confidence <= 5:
        raise AnnotationError(f"confidence must be 1 to 5, got {confidence}")
    comment = _text(comment, MAX_NOTE_CHARS, "the comment")
    reference_answer = _text(reference_answer, MAX_REFERENCE_CHARS, "the reference answer")
    reason = _text(reason, MAX_NOTE_CHARS, "the reason")
    with db.write() as session:
        authorize_self(session, actor, user_id)
        # Core statements, not ORM objects: this runs on every "save & next" (issue 3).
        connection = session.connection()
        head = _submit_head(connection, project_id, user_id, item_id)
        schema = parsed_schema(head.task_json, head.project_name)
        canonical = normalize_labels(schema, labels, complete=True)
        _check_orders(connection, schema, item_id, canonical)
        blind = head.blind and not head.verdicts_seen
        before = dict(connection.execute(_saved_labels_query(),
                                         {"item_id": item_id, "user_id": user_id}).all())
        changed = tuple(name for name, label in canonical.items() if before.get(name) != label)
        replaced = [name for name in changed if name in before]
        if head.status == "done" and replaced and reason is None:
            # E.g. a second tab still showing the old form: a revision must say why.
            raise AnnotationError(
                f"you already labelled this item ({', '.join(f'{n}: {before[n]}' for n in replaced)});"
                " give a reason to change it")
        now = utcnow()
        postgres = connection.dialect.name == "postgresql"
        if changed:
            connection.execute(_upsert_labels_statement(postgres), [
                {"item_id": item_id, "user_id": user_id, "dimension": name,
                 "label": canonical[name], "blind": blind, "source": "ui", "revision": 1,
                 "created_at": now, "updated_at": now} for name in changed])
        if replaced:
            connection.execute(AuditLog.__table__.insert(), [
                {"at": now, "actor_id": user_id, "action": "revise", "item_id": item_id,
                 "subject_id": user_id, "dimension": name, "old_value": before[name],
                 "new_value": canonical[name], "reason": reason} for name in replaced])
        values: dict[str, Any] = {"assignment": head.assignment_id, "status": "done",
                                  "skip_reason": None, "submitted_at": head.submitted_at or now,
                                  "comment": comment, "confidence": confidence,
                                  "updated_at": now}
        if schema.gold_reference:
            values["reference_answer"] = reference_answer
            values["reference_edited"] = (None if reference_answer is None else
                                          _edited(connection, schema, item_id, reference_answer))
        # The SET clause is the parameters named after columns (``assignment`` is the key).
        connection.execute(_done_statement(), values)
        discard_draft(session, user_id=user_id, item_id=item_id)  # saved: no longer a draft
        return SubmitResult(changed, head.status != "done")


def _check_orders(connection: Any, schema: TaskSchema, item_id: int,
                  labels: Mapping[str, str]) -> None:
    """Raise AnnotationError unless each ranking label orders all of the item's responses
    (read only when a ranking is saved: one more primary-key lookup)."""
    rankings = [schema.dimension(name) for name in labels if schema.dimension(name).is_ranking]
    if not rankings:
        return
    fields = json.loads(connection.execute(_item_fields_query(), {"item_id": item_id}).scalar_one())
    for dimension in rankings:
        try:
            dimension.check_order_length(labels[dimension.name], fields)
        except LabelError as exc:
            raise AnnotationError(f"{dimension.name}: {exc.args[0]}") from None


def _edited(connection: Any, schema: TaskSchema, item_id: int, answer: str) -> bool:
    """True unless ``answer`` is the item's own reference as given (spaces trimmed)."""
    fields_json = connection.execute(_item_fields_query(), {"item_id": item_id}).scalar_one()
    given = schema.given_reference(json.loads(fields_json))
    return given is None or answer.strip() != given.strip()


@cache
def _item_fields_query() -> Any:
    return select(Item.fields_json).where(Item.id == bindparam("item_id"))


@cache
def _saved_labels_query() -> Any:
    return select(Annotation.dimension, Annotation.label).where(
        Annotation.item_id == bindparam("item_id"), Annotation.user_id == bindparam("user_id"))


@cache
def _done_statement() -> Any:
    table = Assignment.__table__
    return update(table).where(table.c.id == bindparam("assignment"))


@dataclass(frozen=True)
class _SubmitHead:
    assignment_id: int
    status: str
    verdicts_seen: bool
    submitted_at: datetime | None
    task_json: str
    project_name: str
    blind: bool


def _submit_head(connection: Any, project_id: int, user_id: int, item_id: int) -> _SubmitHead:
    """The user's assignment of the item (locked on PostgreSQL) with its project, in one query.

    Raises AnnotationError like :func:`_locked_assignment`.
    """
    query = _submit_head_query(connection.dialect.name == "postgresql")
    row = connection.execute(query, {"project_id": project_id, "user_id": user_id,
                                     "item_id": item_id}).first()
    if row is None:
        raise AnnotationError("this item is not in your queue")
    if not row[-1]:
        raise AnnotationError("your account is not active")
    return _SubmitHead(*row[:-1])


@cache
def _submit_head_query(postgres: bool) -> Any:
    user_id = bindparam("user_id")
    active = select(UserAccount.active).where(UserAccount.id == user_id).scalar_subquery()
    query = (select(Assignment.id, Assignment.status, Assignment.verdicts_seen,
                    Assignment.submitted_at, Project.task_json, Project.name, Project.blind,
                    active)
             .join(Project, Project.id == Assignment.project_id)
             .where(Assignment.project_id == bindparam("project_id"),
                    Assignment.user_id == user_id, Assignment.item_id == bindparam("item_id")))
    return query.with_for_update(of=Assignment) if postgres else query


@cache
def _upsert_labels_statement(postgres: bool) -> Any:
    table = Annotation.__table__
    insert = (pg_insert if postgres else sqlite_insert)(table)
    # The WHERE keeps a repeated identical submit (double click, second tab) a no-op.
    return insert.on_conflict_do_update(
        index_elements=["item_id", "user_id", "dimension"],
        set_={"label": insert.excluded.label, "blind": insert.excluded.blind, "source": "ui",
              "updated_at": insert.excluded.updated_at, "revision": table.c.revision + 1},
        where=table.c.label != insert.excluded.label)


def skip_item(db: Database, *, project_id: int, user_id: int, item_id: int, reason: str,
              actor: Actor) -> None:
    """Skip an item with a reason (kept); it leaves the pending queue. Raises AnnotationError
    without a reason, when the item is not in the queue, or is already labelled, and
    :class:`~storage.authz.NotAllowed` unless ``actor`` acts for themselves."""
    reason_text = _text(reason, MAX_NOTE_CHARS, "the reason")
    if reason_text is None:
        raise AnnotationError("say why you skip this item")
    with db.write() as session:
        authorize_self(session, actor, user_id)
        assignment = _locked_assignment(session, project_id, user_id, item_id)
        if assignment.status == "done":
            raise AnnotationError("this item is already labelled; revise it instead of skipping")
        assignment.status = "skipped"
        assignment.skip_reason = reason_text
        assignment.updated_at = utcnow()


def set_flag(db: Database, *, project_id: int, user_id: int, item_id: int, flagged: bool,
             actor: Actor, note: str | None = None) -> None:
    """Flag an item for review (with an optional note) or clear the flag. Raises
    :class:`~storage.authz.NotAllowed` unless ``actor`` acts for themselves."""
    note_text = _text(note, MAX_NOTE_CHARS, "the note")
    with db.write() as session:
        authorize_self(session, actor, user_id)
        assignment = _locked_assignment(session, project_id, user_id, item_id)
        assignment.flagged = flagged
        assignment.flag_note = note_text if flagged else None
        assignment.updated_at = utcnow()


def reveal_verdicts(db: Database, *, project_id: int, user_id: int, item_id: int,
                    actor: Actor) -> None:
    """Record that the judges' verdicts are shown to the user for this item.

    In a blind project this is allowed only after the user's label is submitted. Raises
    AnnotationError otherwise, and :class:`~storage.authz.NotAllowed` unless ``actor`` acts
    for themselves.
    """
    with db.write() as session:
        authorize_self(session, actor, user_id)
        assignment = _locked_assignment(session, project_id, user_id, item_id)
        settings = get_settings(session=session, project_id=project_id)
        if settings.blind and assignment.status != "done":
            raise AnnotationError("submit your label first: this project is blind")
        if not assignment.verdicts_seen:
            assignment.verdicts_seen = True
            assignment.updated_at = utcnow()


def audit_trail(*, session: Session, item_id: int, user_id: int | None = None
                ) -> list[tuple[datetime, str, str | None, str | None, str | None, str | None]]:
    """Return ``(at, action, dimension, old, new, reason)`` of the item's label changes."""
    query = (select(AuditLog.at, AuditLog.action, AuditLog.dimension, AuditLog.old_value,
                    AuditLog.new_value, AuditLog.reason)
             .where(AuditLog.item_id == item_id).order_by(AuditLog.id))
    if user_id is not None:
        query = query.where(AuditLog.subject_id == user_id)
    return [tuple(row) for row in session.execute(query)]
