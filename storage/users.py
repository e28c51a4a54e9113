"""User accounts: create, change and list users, hash passwords, protect the last admin.

Passwords are hashed with Argon2id (argon2-cffi, RFC 9106 low-memory profile); a plain password
is never stored or logged. Checking a password at sign-in, with its throttling, is
:mod:`storage.sign_in`; the ``DOCKET_AUTH`` setting is :mod:`storage.auth_mode`; web sessions
are :mod:`storage.web_sessions`.

Admin changes that could leave nobody able to administer Docket (demoting or deactivating the
last active admin who has a password) are refused with :class:`LastAdminError`. A password,
role or activation change ends the user's web sessions in the same transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher, profiles
from sqlalchemy import bindparam, delete, func, select, text
from sqlmodel import Session

from core.safe_text import require_safe_text
from storage.authz import ADMIN, OPERATOR, Actor, authorize, credential_stamp
from storage.models import ROLES, AuditLog, UserAccount, WebSession, utcnow

log = logging.getLogger(__name__)

# argon2-cffi's default (t=3, 64 MiB, p=4), named so a library upgrade cannot change it
# unnoticed; stored hashes with other parameters are upgraded at the next sign-in.
PASSWORD_HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")
MAX_NAME_CHARS = 64
MAX_DISPLAY_NAME_CHARS = 200
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
LOCAL_ADMIN_NAME = "local-admin"
_ADMIN_LOCK_KEY = 0x444F4355  # "DOCU": serialises admin-count checks on PostgreSQL



class UserError(ValueError):
    """A user name, role, password or change that is not acceptable; the message says why."""


class LastAdminError(UserError):
    """The change would leave no active admin who can sign in."""


@dataclass(frozen=True)
class UserInfo:
    """A user as the UI and CLI see it: no password hash, safe to keep in session state.

    ``credential_stamp`` changes with every password, role or activation change
    (:func:`storage.authz.credential_stamp`), so a session can notice any of them since it
    signed in.
    """

    id: int
    name: str
    display_name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime
    credential_stamp: str

    @property
    def is_admin(self) -> bool:
        """True for the admin role."""
        return self.role == "admin"

    @property
    def label(self) -> str:
        """The display name if there is one, else the user name."""
        return self.display_name or self.name




def check_name(name: str) -> str:
    """Return ``name`` without surrounding spaces if it is a valid user name.

    Valid: 1-64 characters, letters, digits and ``. _ @ + -``, starting with a letter or digit.
    Raises :class:`UserError` naming the rule that is broken.
    """
    name = str(name).strip()
    if not name:
        raise UserError("user name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise UserError(f"user name is {len(name)} characters long; at most {MAX_NAME_CHARS} allowed")
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(f"user name {name!r} may only contain letters, digits and . _ @ + - "
                        "and must start with a letter or digit")
    return name


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`storage.models.ROLES`; else raise :class:`UserError`."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def check_password(password: str) -> str:
    """Return ``password`` if it is acceptable, else raise :class:`UserError`.

    Acceptable: at least :data:`MIN_PASSWORD_CHARS` and at most :data:`MAX_PASSWORD_CHARS`
    characters, not only spaces. The message never contains the password.
    """
    if not isinstance(password, str) or not password.strip():
        raise UserError("password is empty")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"password is too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"password is too long: at most {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str) -> str:
    """Return the Argon2id hash (PHC string ``$argon2id$...``) of a valid ``password``.

    Raises :class:`UserError` if the password breaks :func:`check_password`.
    """
    return PASSWORD_HASHER.hash(check_password(password))


# --- reading ------------------------------------------------------------------------------


def get_user(*, session: Session, user_id: int) -> UserInfo | None:
    """Return the user with this id, or None if there is none (a primary-key lookup)."""
    # Every click of every page re-reads its user: one prepared Core select, no ORM object.
    row = session.connection().execute(_USER_BY_ID, {"user_id": user_id}).first()
    return _info(row) if row is not None else None


_USER_BY_ID = select(UserAccount.__table__).where(UserAccount.__table__.c.id == bindparam("user_id"))


def find_user(*, session: Session, name: str) -> UserInfo | None:
    """Return the user called exactly ``name`` (surrounding spaces ignored), or None."""
    row = _row_by_name(session, name)
    return _info(row) if row is not None else None


def list_users(*, session: Session) -> list[UserInfo]:
    """Return every user, admins first, then by name."""
    rows = session.execute(select(UserAccount).order_by(UserAccount.role, UserAccount.name)).scalars()
    return [_info(row) for row in rows]


def count_admins(*, session: Session) -> int:
    """Return how many admins can sign in: role admin, active, with a password."""
    query = (select(func.count()).select_from(UserAccount)
             .where(UserAccount.role == "admin", UserAccount.active.is_(True),
                    UserAccount.password_hash.is_not(None)))
    return int(session.execute(query).scalar_one())


def needs_first_admin(*, session: Session) -> bool:
    """True while no admin can sign in: the app then asks for the first admin account."""
    return count_admins(session=session) == 0


def is_last_admin_name(*, session: Session, name: str) -> bool:
    """True if ``name`` is the last active admin who has a password (the one account that
    must never be locked out of a sign-in at the server's own keyboard)."""
    row = _row_by_name(session, name)
    return row is not None and _is_last_admin(session, row)


# --- changing -----------------------------------------------------------------------------


def create_user(*, session: Session, name: str, role: str, password: str | None, actor: Actor,
                display_name: str = "") -> UserInfo:
    """Add a user and return it; ``password`` None makes an account that cannot sign in yet.

    ``actor`` must be an admin (:func:`storage.authz.authorize`, else :class:`NotAllowed`).
    Raises :class:`UserError` for a bad name, role, display name or password, and if a user
    with the same name (ignoring case) exists.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    name = check_name(name)
    role = check_role(role)
    display_name = _check_display_name(display_name)
    password_hash = hash_password(password) if password is not None else None
    taken = session.execute(select(UserAccount.name)
                         .where(func.lower(UserAccount.name) == name.lower())).scalar()
    if taken is not None:
        raise UserError(f"a user named {taken!r} exists already")
    row = UserAccount(name=name, display_name=display_name, role=role, password_hash=password_hash,
                      active=True, created_at=utcnow())
    session.add(row)
    session.flush()
    _audit(session, actor_id, "user_created", row.id, None, role)
    log.info("user %r created with role %s", name, role)
    return _info(row)


def create_first_admin(*, session: Session, name: str, password: str,
                       display_name: str = "") -> UserInfo:
    """Create the first admin and return it; only while :func:`needs_first_admin` is true.

    Raises :class:`UserError` if an admin who can sign in exists already (someone else was
    quicker) or the name, display name or password is bad. If an account with this name
    exists (an imported annotator, say) it is refused as well: pick another name.
    """
    _lock_admins(session)
    if not needs_first_admin(session=session):
        raise UserError("an admin account exists already; sign in instead")
    return create_user(session=session, name=name, role="admin", password=password,
                       display_name=display_name, actor=OPERATOR)


def set_password(*, session: Session, user_id: int, password: str, actor: Actor) -> UserInfo:
    """Replace the user's password (or give one to an imported annotator); return the user.

    The user's sessions end (also in other browsers and server processes: their next click
    finds them gone). ``actor`` must be an admin
    (:class:`NotAllowed` otherwise). Raises :class:`UserError` for an unknown user or a bad
    password.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    row = _row(session, user_id)
    row.password_hash = hash_password(password)
    row.credential_version += 1
    session.add(row)
    _end_sessions(session, row.id)
    _audit(session, actor_id, "password_set", row.id, None, None)
    log.info("password of user %r replaced", row.name)
    return _info(row)


def change_role(*, session: Session, user_id: int, role: str, actor: Actor) -> UserInfo:
    """Give the user ``role`` and return the user (their sessions end: sign in again).

    ``actor`` must be an admin (:class:`NotAllowed` otherwise). Raises :class:`UserError` for
    an unknown user or role, and :class:`LastAdminError` if this would demote the last active
    admin who can sign in.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    role = check_role(role)
    _lock_admins(session)
    row = _row(session, user_id)
    if row.role == role:
        return _info(row)
    if role != "admin" and _is_last_admin(session, row):
        raise LastAdminError(f"{row.name!r} is the last active admin; make another user admin "
                             "first, then change this one")
    _audit(session, actor_id, "role_changed", row.id, row.role, role)
    row.role = role
    row.credential_version += 1
    session.add(row)
    _end_sessions(session, row.id)
    log.info("user %r now has role %s", row.name, role)
    return _info(row)


def set_active(*, session: Session, user_id: int, active: bool, actor: Actor) -> UserInfo:
    """Activate or deactivate the user and return it; a deactivated user cannot sign in, and
    sessions that began before either change never act again.

    ``actor`` must be an admin (:class:`NotAllowed` otherwise). Raises :class:`UserError` for
    an unknown user and :class:`LastAdminError` if this would deactivate the last active admin
    who can sign in.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    _lock_admins(session)
    row = _row(session, user_id)
    if row.active == active:
        return _info(row)
    if not active and _is_last_admin(session, row):
        raise LastAdminError(f"{row.name!r} is the last active admin and cannot be deactivated; "
                             "make another user admin first")
    _audit(session, actor_id, "user_activated" if active else "user_deactivated", row.id,
           str(row.active).lower(), str(active).lower())
    row.active = active
    row.credential_version += 1
    session.add(row)
    _end_sessions(session, row.id)
    log.info("user %r %s", row.name, "activated" if active else "deactivated")
    return _info(row)


def ensure_local_admin(*, session: Session) -> UserInfo:
    """Return the account of single-user mode (``DOCKET_AUTH=none``), creating it if needed.

    It is an active admin named :data:`LOCAL_ADMIN_NAME` without a password, so it can never
    sign in once sign-in is switched back on. If an account of that name exists with another
    role or deactivated, it is made an active admin again (and that is logged).
    """
    row = _row_by_name(session, LOCAL_ADMIN_NAME)
    if row is None:
        row = UserAccount(name=LOCAL_ADMIN_NAME, display_name="Local admin", role="admin",
                          password_hash=None, active=True, created_at=utcnow())
        session.add(row)
        session.flush()
        log.warning("single-user mode: created the account %r", LOCAL_ADMIN_NAME)
    elif row.role != "admin" or not row.active:
        log.warning("single-user mode: made %r an active admin again", LOCAL_ADMIN_NAME)
        row.role, row.active = "admin", True
        row.credential_version += 1
        session.add(row)
    return _info(row)


# --- helpers ------------------------------------------------------------------------------


def user_from_row(row: Any) -> UserInfo:
    """Return the :class:`UserInfo` of a ``user_account`` row (an ORM object or a Core row
    with its columns under their own names)."""
    return _info(row)


def _end_sessions(session: Session, user_id: int) -> None:
    """End every web session of the user (storage.web_sessions), in the caller's transaction."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def _info(row: UserAccount) -> UserInfo:
    stamp = credential_stamp(row.password_hash, row.credential_version)
    return UserInfo(id=row.id, name=row.name, display_name=row.display_name or "", role=row.role,
                    active=bool(row.active), has_password=row.password_hash is not None,
                    created_at=row.created_at, credential_stamp=stamp)


def _row(session: Session, user_id: int) -> UserAccount:
    row = session.get(UserAccount, user_id)
    if row is None:
        raise UserError(f"no user with id {user_id}")
    return row


def _row_by_name(session: Session, name: str) -> UserAccount | None:
    return session.execute(select(UserAccount).where(UserAccount.name == str(name).strip())).scalar()


def _check_display_name(display_name: str) -> str:
    display_name = require_safe_text((display_name or "").strip(), what="display name",
                                     error=UserError)
    if len(display_name) > MAX_DISPLAY_NAME_CHARS:
        raise UserError(f"display name is {len(display_name)} characters long; at most "
                        f"{MAX_DISPLAY_NAME_CHARS} allowed")
    return display_name


def _lock_admins(session: Session) -> None:
    # SQLite write sessions already hold the database's write lock (BEGIN IMMEDIATE); on
    # PostgreSQL two admins demoting each other at once must not both see "another admin".
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMIN_LOCK_KEY})


def _is_last_admin(session: Session, row: UserAccount) -> bool:
    usable = row.role == "admin" and row.active and row.password_hash is not None
    return usable and count_admins(session=session) <= 1


def _audit(session: Session, actor_id: int | None, action: str, subject_id: int | None,
           old: str | None, new: str | None) -> None:
    session.add(AuditLog(at=utcnow(), actor_id=actor_id, action=action, subject_id=subject_id,
                         old_value=old, new_value=new))


