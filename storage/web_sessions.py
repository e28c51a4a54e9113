"""Sign-ins that survive a reload: server-side web sessions and the tickets that set their cookie.

A sign-in (password checked by :func:`storage.sign_in.sign_in`) starts a session row here and a
one-time ticket. The page that signed in hands the ticket to its browser, which exchanges it
(:func:`redeem_ticket`, an HTTP endpoint of the server) for a fresh random session id in an
``HttpOnly`` cookie; the ticket is never the session id, so the id never passes through page
scripts, and no value the browser held before the sign-in becomes a session id (no fixation).

Only SHA-256 digests of session ids and tickets are stored. A session ends when it has not
been used for the idle time, at its absolute limit (:func:`session_lifetimes`), at sign-out
(:func:`end_session`), or when the user's password, role or activation changes (the rows are
deleted by :mod:`storage.users` in the same transaction). All of it is in the database, so
every server process sees a sign-out or a deactivation at the user's next click.

"Last use" is written at most once per :data:`TOUCH_INTERVAL`: checking a session on a click
is one indexed read, not a write (bench/session_bench.py measures it).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlmodel import Session

from storage.auth_mode import AuthConfigError
from storage.authz import SignedIn, authorize
from storage.database import Database
from storage.models import UserAccount, WebSession, WebSessionTicket, utcnow
from storage.users import UserInfo, user_from_row

IDLE_ENV = "DOCKET_SESSION_IDLE_HOURS"
ABSOLUTE_ENV = "DOCKET_SESSION_MAX_DAYS"
DEFAULT_IDLE = timedelta(hours=12)
DEFAULT_ABSOLUTE = timedelta(days=7)
TICKET_LIFETIME = timedelta(seconds=60)
TOUCH_INTERVAL = timedelta(seconds=60)
TOKEN_BYTES = 32  # 256 bits, as the browser cookie


class SessionConfigError(AuthConfigError):
    """``DOCKET_SESSION_IDLE_HOURS`` or ``DOCKET_SESSION_MAX_DAYS`` is not a positive number."""


@dataclass(frozen=True)
class SessionLifetimes:
    """How long a session lives: ``idle`` without a click, ``absolute`` after its sign-in."""

    idle: timedelta = DEFAULT_IDLE
    absolute: timedelta = DEFAULT_ABSOLUTE


@dataclass(frozen=True)
class NewSession:
    """A session just started: its row id (kept by the page that signed in) and the one-time
    ticket its browser exchanges for the cookie."""

    session_id: int
    ticket: str


@dataclass(frozen=True)
class SessionCookie:
    """What the browser is given for a redeemed ticket: the session id and when it ends."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ValidSession:
    """A session that may be used now, with its user re-read from the database."""

    session_id: int
    user: UserInfo
    expires_at: datetime


def session_lifetimes() -> SessionLifetimes:
    """Return the lifetimes from ``$DOCKET_SESSION_IDLE_HOURS`` (default 12) and
    ``$DOCKET_SESSION_MAX_DAYS`` (default 7); fractions are allowed.

    Raises :class:`SessionConfigError` naming the variable whose value is not a positive number.
    """
    return _lifetimes(os.environ.get(IDLE_ENV, ""), os.environ.get(ABSOLUTE_ENV, ""))


@cache
def _lifetimes(idle: str, absolute: str) -> SessionLifetimes:
    return SessionLifetimes(idle=_duration(IDLE_ENV, idle, DEFAULT_IDLE, hours=1),
                            absolute=_duration(ABSOLUTE_ENV, absolute, DEFAULT_ABSOLUTE, days=1))


def _duration(name: str, text: str, default: timedelta, **unit: int) -> timedelta:
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise SessionConfigError(f"{name} must be a positive number; got {text!r}")
    return timedelta(**unit) * value


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest under which a session id or ticket is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(db: Database, *, actor: SignedIn, browser: str, now: datetime | None = None,
                  lifetimes: SessionLifetimes | None = None) -> NewSession:
    """Start a session for ``actor`` (who has just proved their password) and return it with
    a one-time ticket that only the browser whose cookie digest is ``browser`` can redeem.

    The session has no id a browser could present until the ticket is redeemed. Sessions and
    tickets that have expired are deleted on the way. Raises
    :class:`~storage.authz.NotAllowed` if the account is deactivated or changed since the
    sign-in checked it.
    """
    now = now or utcnow()
    lifetimes = lifetimes or session_lifetimes()
    ticket = secrets.token_urlsafe(TOKEN_BYTES)
    with db.write() as session:
        user_id = authorize(session, actor, action="sign in")
        _forget_expired(session, now, lifetimes)
        row = WebSession(user_id=user_id, created_at=now, last_used_at=now,
                         expires_at=now + lifetimes.absolute)
        session.add(row)
        session.flush()
        session.add(WebSessionTicket(ticket_hash=digest(ticket), session_id=row.id,
                                     browser=browser, expires_at=now + TICKET_LIFETIME))
        return NewSession(session_id=row.id, ticket=ticket)


def redeem_ticket(db: Database, *, ticket: str, browser: str | None, now: datetime | None = None,
                  lifetimes: SessionLifetimes | None = None) -> SessionCookie | None:
    """Exchange a ticket of :func:`start_session` for a fresh session id; None if it is not
    valid now.

    A ticket works once (it is deleted by any attempt), within :data:`TICKET_LIFETIME`, from
    the browser that signed in (``browser``, the digest of its cookie), and while its session
    may still be used. A new random id is made at every redemption; only its digest is stored.
    """
    now = now or utcnow()
    lifetimes = lifetimes or session_lifetimes()
    with db.write() as session:
        found = session.execute(select(WebSessionTicket).where(
            WebSessionTicket.ticket_hash == digest(ticket))).scalar()
        if found is None:
            return None
        session_id, expected, expires_at = found.session_id, found.browser, found.expires_at
        session.delete(found)
        if (expires_at <= now or browser is None
                or not hmac.compare_digest(expected, browser)):
            return None
        row = session.get(WebSession, session_id)
        if row is None or not _usable(session, row, now, lifetimes):
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        row.token_hash = digest(token)
        session.add(row)
        return SessionCookie(token=token, expires_at=row.expires_at)


def check_session(db: Database, *, session_id: int | None = None, token: str | None = None,
                  now: datetime | None = None, lifetimes: SessionLifetimes | None = None
                  ) -> ValidSession | None:
    """Return the session with row id ``session_id`` or cookie value ``token`` (give one) and
    its user, if it may be used now; else None.

    Not usable: unknown or ended, idle longer than the idle time, past its absolute limit, or
    its user deactivated or deleted. One indexed read; the last use is written only when the
    stored one is :data:`TOUCH_INTERVAL` old or older.
    """
    if (session_id is None) == (token is None):
        raise ValueError("give either session_id or token")
    now = now or utcnow()
    lifetimes = lifetimes or session_lifetimes()
    with db.read() as session:
        if session_id is not None:
            row = session.connection().execute(_by_id(), {"session_id": session_id}).first()
        else:
            row = session.connection().execute(_by_token(), {"token_hash": digest(token)}).first()
    if row is None or not _fresh(row.last_used_at, row.session_expires_at, now, lifetimes):
        return None
    user = user_from_row(row)
    if not user.active:
        return None
    if now - row.last_used_at >= TOUCH_INTERVAL:
        with db.write() as session:
            session.connection().execute(_touch(), {"session_id": row.web_session_id, "now": now})
    return ValidSession(session_id=row.web_session_id, user=user,
                        expires_at=row.session_expires_at)


def end_session(db: Database, *, session_id: int | None = None, token: str | None = None) -> bool:
    """End the session with row id ``session_id`` or cookie value ``token`` (sign-out); return
    True if there was one.

    Takes no actor: holding the session is the right to end it, and a deactivated or changed
    account must be able to sign out too.
    """
    if (session_id is None) == (token is None):
        raise ValueError("give either session_id or token")
    condition = (WebSession.id == session_id if session_id is not None
                 else WebSession.token_hash == digest(token))
    with db.write() as session:
        return session.execute(delete(WebSession).where(condition)).rowcount > 0


def count_sessions(*, session: Session, user_id: int) -> int:
    """Return how many sessions of ``user_id`` are stored (ended ones are deleted; expired
    ones linger until the next sign-in sweeps them)."""
    return len(session.execute(select(WebSession.id).where(WebSession.user_id == user_id)).all())


def _usable(session: Session, row: WebSession, now: datetime, lifetimes: SessionLifetimes) -> bool:
    user = session.get(UserAccount, row.user_id)
    return user is not None and bool(user.active) and _fresh(row.last_used_at, row.expires_at,
                                                             now, lifetimes)


def _fresh(last_used_at: datetime, expires_at: datetime, now: datetime,
           lifetimes: SessionLifetimes) -> bool:
    return now < expires_at and now < last_used_at + lifetimes.idle


def _forget_expired(session: Session, now: datetime, lifetimes: SessionLifetimes) -> None:
    session.execute(delete(WebSessionTicket).where(WebSessionTicket.expires_at <= now))
    session.execute(delete(WebSession).where(or_(WebSession.expires_at <= now,
                                                 WebSession.last_used_at <= now - lifetimes.idle)))


# Core statements, built once: the check runs on every click of every page.
@cache
def _checked_columns() -> Any:
    web = WebSession.__table__
    return select(UserAccount.__table__, web.c.id.label("web_session_id"), web.c.last_used_at,
                  web.c.expires_at.label("session_expires_at")).join_from(
        web, UserAccount.__table__, web.c.user_id == UserAccount.__table__.c.id)


@cache
def _by_id() -> Any:
    return _checked_columns().where(WebSession.__table__.c.id == bindparam("session_id"))


@cache
def _by_token() -> Any:
    return _checked_columns().where(WebSession.__table__.c.token_hash == bindparam("token_hash"))


@cache
def _touch() -> Any:
    web = WebSession.__table__
    return update(web).where(web.c.id == bindparam("session_id")).values(
        last_used_at=bindparam("now"))
