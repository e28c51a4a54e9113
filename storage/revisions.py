"""Optimistic concurrency for forms two admins may edit at once: an item's gold and a
project's settings.

A form remembers the revision it was drawn from: the id of the newest audit entry of the
thing it edits (0 when nothing was ever changed). Saving passes it back; if a newer entry
exists, someone else saved in between and the save is refused with who and when
(:class:`StaleEdit`), instead of silently replacing their decision. The audit log already
records every such change with its actor and time, so it is the version: nothing else to keep
in step, and a deleted gold row (cleared label) still leaves its entry behind.

Callers check inside their write transaction, after taking the lock that serialises the
writers of the same thing (the item's row on PostgreSQL for gold, the project's row for
settings; SQLite's ``BEGIN IMMEDIATE`` serialises every writer).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from storage.models import AuditLog, UserAccount


@dataclass(frozen=True)
class Revision:
    """The newest change of something: its audit entry id (0: never changed), who made it
    and when (None for a change made from the command line, or never)."""

    id: int
    by: str | None = None
    at: datetime | None = None

    def describe(self) -> str:
        """``changed by maria at 2026-12-03 14:02 UTC`` (or without the name)."""
        who = f" by {self.by}" if self.by else ""
        when = f" at {self.at:%Y-%m-%d %H:%M} UTC" if self.at is not None else ""
        return f"changed{who}{when}"


class StaleEdit(ValueError):
    """The form was drawn from an older revision; the message says who changed it, when."""

    def __init__(self, what: str, current: Revision) -> None:
        super().__init__(f"{what}: {current.describe()}, after you opened it; nothing was "
                         "saved — reload to see it")
        self.current = current


def latest_revision(*, session: Session, actions: Collection[str], item_id: int | None = None,
                    subject_id: int | None = None) -> Revision:
    """The newest audit entry with one of ``actions`` for ``item_id`` (or ``subject_id``)."""
    query = (select(AuditLog.id, UserAccount.name, AuditLog.at)
             .outerjoin(UserAccount, UserAccount.id == AuditLog.actor_id)
             .where(AuditLog.action.in_(list(actions)))
             .order_by(AuditLog.id.desc()).limit(1))
    if item_id is not None:
        query = query.where(AuditLog.item_id == item_id)
    if subject_id is not None:
        query = query.where(AuditLog.subject_id == subject_id)
    row = session.execute(query).first()
    return Revision(*row) if row is not None else Revision(0)


def check_revision(*, session: Session, expected: int | None, what: str,
                   actions: Collection[str], item_id: int | None = None,
                   subject_id: int | None = None) -> None:
    """Raise :class:`StaleEdit` if a change newer than ``expected`` exists (None: no check,
    for scripts that mean to overwrite)."""
    if expected is None:
        return
    current = latest_revision(session=session, actions=actions, item_id=item_id,
                              subject_id=subject_id)
    if current.id != expected:
        raise StaleEdit(what, current)
