"""Personal API tokens: what a script sends to Docket's HTTP API (``/api/v1``).

A token is a random secret shown once, when it is created; only its SHA-256 digest is
stored (:func:`storage.web_sessions.digest`, as for session ids). It acts as its user with
the user's role *at the time of use*: each request re-reads the account, so a demotion takes
effect at once, and a deactivated account's tokens are refused until it is re-activated. A
revoked token never works again.

A user may create, list and revoke their own tokens; an admin may do so for anyone (the
Users page, ``python cli.py token``). "Last use" is written at most once per
:data:`TOUCH_INTERVAL`, so checking a token is one indexed read.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from core.safe_text import require_safe_text
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.models import ApiToken, AuditLog, UserAccount, utcnow
from storage.users import UserError, UserInfo, user_from_row
from storage.web_sessions import digest

log = logging.getLogger(__name__)

TOKEN_PREFIX = "dkt_"
TOKEN_BYTES = 32  # 256 bits
MAX_TOKEN_NAME_CHARS = 100
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as lists show it: never the secret, only its id and label."""

    id: int
    user_id: int
    user_name: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True unless revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """The token as JSON-ready values (times in ISO 8601)."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None
        return {"id": self.id, "user": self.user_name, "name": self.name,
                "created_at": iso(self.created_at), "last_used_at": iso(self.last_used_at),
                "revoked_at": iso(self.revoked_at)}


@dataclass(frozen=True)
class NewToken:
    """A token just created: its stored row and the secret, which is shown this once."""

    info: TokenInfo
    secret: str


@dataclass(frozen=True)
class TokenUser:
    """A token that may be used now and the account it acts as, re-read from the database."""

    token_id: int
    user: UserInfo


def create_token(*, session: Session, user_id: int, name: str, actor: Actor) -> NewToken:
    """Create a token for ``user_id`` labelled ``name``; return it with its secret (shown once).

    ``actor`` must be the user themselves or an admin (the command line's operator may act for
    anyone). Raises :class:`~storage.authz.NotAllowed` otherwise, and
    :class:`~storage.users.UserError` for an unknown or deactivated user or a bad label.
    """
    actor_id = _authorize_for(session, actor, user_id, "create API tokens for other users")
    row = session.get(UserAccount, user_id)
    if row is None:
        raise UserError(f"no user with id {user_id}")
    if not row.active:
        raise UserError(f"the account {row.name!r} is deactivated: re-activate it first")
    label = _check_name(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(token_hash=digest(secret), user_id=user_id, name=label, created_at=utcnow())
    session.add(token)
    session.flush()
    session.add(AuditLog(at=utcnow(), actor_id=actor_id, action="api_token_created",
                         subject_id=user_id, old_value=None, new_value=label))
    log.info("API token %d (%r) created for %r", token.id, label, row.name)
    return NewToken(info=_info(token, row.name), secret=secret)


def list_tokens(*, session: Session, user_id: int | None = None) -> list[TokenInfo]:
    """Return the tokens of ``user_id`` (None: of every user), newest first, revoked ones too."""
    query = (select(ApiToken, UserAccount.name).join(UserAccount,
                                                     UserAccount.id == ApiToken.user_id)
             .order_by(ApiToken.id.desc()))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [_info(token, user_name) for token, user_name in session.execute(query).all()]


def revoke_token(*, session: Session, token_id: int, actor: Actor) -> TokenInfo:
    """Revoke token ``token_id`` (at once, on every process); return it. Revoking a revoked
    token changes nothing.

    ``actor`` must be the token's user or an admin. Raises
    :class:`~storage.authz.NotAllowed` otherwise and :class:`~storage.users.UserError` for an
    unknown token.
    """
    token = session.get(ApiToken, token_id)
    if token is None:
        raise UserError(f"no API token with id {token_id}")
    actor_id = _authorize_for(session, actor, token.user_id, "revoke other users' API tokens")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.add(AuditLog(at=utcnow(), actor_id=actor_id, action="api_token_revoked",
                             subject_id=token.user_id, old_value=token.name, new_value=None))
        log.info("API token %d (%r) revoked", token.id, token.name)
    owner = session.get(UserAccount, token.user_id)
    return _info(token, owner.name if owner is not None else "")


def check_token(db: Database, *, secret: str, now: datetime | None = None) -> TokenUser | None:
    """Return the token whose secret is ``secret`` and its user, if it may be used now; else
    None (unknown, revoked, or its user deactivated or deleted).

    One indexed read; the last use is written only when the stored one is
    :data:`TOUCH_INTERVAL` old or older (or never written).
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = now or utcnow()
    with db.read() as session:
        row = session.connection().execute(_by_hash(), {"token_hash": digest(secret)}).first()
    if row is None or row.revoked_at is not None:
        return None
    user = user_from_row(row)
    if not user.active:
        return None
    if row.token_last_used_at is None or now - row.token_last_used_at >= TOUCH_INTERVAL:
        with db.write() as session:
            session.connection().execute(_touch(), {"token_id": row.token_id, "now": now})
    return TokenUser(token_id=row.token_id, user=user)


def _authorize_for(session: Session, actor: Actor, user_id: int, action: str) -> int | None:
    acting = authorize(session, actor)
    if acting is not None and acting != user_id:
        return authorize(session, actor, role=ADMIN, action=action)
    return acting


def _check_name(name: str) -> str:
    label = require_safe_text((name or "").strip(), what="token name", error=UserError)
    if not label:
        raise UserError("a token needs a name (what it is for, e.g. 'nightly pipeline')")
    if len(label) > MAX_TOKEN_NAME_CHARS:
        raise UserError(f"token name is {len(label)} characters long; at most "
                        f"{MAX_TOKEN_NAME_CHARS} allowed")
    return label


def _info(token: ApiToken, user_name: str) -> TokenInfo:
    return TokenInfo(id=token.id, user_id=token.user_id, user_name=user_name, name=token.name,
                     created_at=token.created_at, last_used_at=token.last_used_at,
                     revoked_at=token.revoked_at)


# Core statements, built once: the check runs on every API request.
@cache
def _by_hash() -> Any:
    api = ApiToken.__table__
    return select(UserAccount.__table__, api.c.id.label("token_id"),
                  api.c.last_used_at.label("token_last_used_at"), api.c.revoked_at).join_from(
        api, UserAccount.__table__, api.c.user_id == UserAccount.__table__.c.id).where(
        api.c.token_hash == bindparam("token_hash"))


@cache
def _touch() -> Any:
    api = ApiToken.__table__
    return update(api).where(api.c.id == bindparam("token_id")).values(
        last_used_at=bindparam("now"))

