"""Who may change what: every state-changing storage function checks its actor itself.

A page's button callback runs before the page re-checks who is signed in, and a click can sit
in a browser while another admin deactivates, demotes or resets the clicker. So the check
that counts is made inside the write transaction of the change: :func:`authorize` re-reads
the acting user there (on PostgreSQL with a share lock, so a concurrent revocation waits for
the change or the change sees it; SQLite's ``BEGIN IMMEDIATE`` already serialises writers)
and refuses with :class:`NotAllowed` unless the account is active, its credentials are the
ones the session signed in with, and it has the role the change needs.

The credential stamp covers the password hash and ``credential_version``, which every
password, role or activation change bumps: a session that began before any of them never
acts again, even if the change is undone (re-activated, promoted back).

The command line acts as :data:`OPERATOR`: whoever runs ``cli.py`` holds the database (its
file or URL) and needs no sign-in there; the one command that signs in (``export``) passes
the signed-in admin instead. Pages always pass the signed-in user.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlmodel import Session

from storage.models import UserAccount

ADMIN = "admin"


class NotAllowed(PermissionError):
    """The actor may not make this change; the message says why (shown to them)."""


class SignedIn(Protocol):
    """What a session knows about its user (``storage.users.UserInfo`` is one)."""

    id: int
    name: str
    credential_stamp: str


@dataclass(frozen=True)
class Operator:
    """The person at the command line, who holds the database itself."""

    name: str = "the command line"


OPERATOR = Operator()
Actor = SignedIn | Operator


def credential_stamp(password_hash: str | None, credential_version: int) -> str:
    """The stamp a session keeps from its sign-in: changes with the password hash and with
    every password, role or activation change (``credential_version``)."""
    text = f"{password_hash or ''}\n{credential_version}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def authorize(session: Session, actor: Actor, *, role: str | None = None,
              action: str = "do this") -> int | None:
    """Check ``actor`` inside ``session``'s transaction; return their user id (None for the
    :data:`OPERATOR`).

    ``role`` ``"admin"`` needs an admin; None any active account. Raises :class:`NotAllowed`
    when the account is gone or deactivated, when its password, role or activation changed
    since the session signed in, or when it lacks ``role`` (the message names ``action``).
    """
    if isinstance(actor, Operator):
        return None
    query = (select(UserAccount.active, UserAccount.role, UserAccount.password_hash,
                    UserAccount.credential_version).where(UserAccount.id == actor.id))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    row = session.execute(query).first()
    if row is None or not row.active:
        raise NotAllowed(f"the account {actor.name!r} is deactivated or deleted")
    if credential_stamp(row.password_hash, row.credential_version) != actor.credential_stamp:
        raise NotAllowed(f"the account {actor.name!r} was changed since it signed in (password, "
                         "role or activation): sign in again")
    if role == ADMIN and row.role != ADMIN:
        raise NotAllowed(f"{actor.name!r} is not an admin: only admins may {action}")
    return actor.id


def authorize_self(session: Session, actor: Actor, user_id: int) -> None:
    """Check that ``actor`` may act on the queue of ``user_id``: as themselves (any role).

    Raises :class:`NotAllowed` as :func:`authorize` does, and when a signed-in actor acts for
    another user (the operator may act for anyone).
    """
    acting = authorize(session, actor)
    if acting is not None and acting != user_id:
        raise NotAllowed(f"{actor.name!r} may label only in their own queue")
