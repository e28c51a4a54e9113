"""User accounts: create, change and list users, check passwords, throttle failed sign-ins.

Passwords are hashed with Argon2id (argon2-cffi, RFC 9106 low-memory profile); a plain password
is never stored or logged. :func:`sign_in` is the one way the UI and the CLI check a password:
it throttles repeated failures per (user name, client) pair and per client in the
``sign_in_attempt`` table (so every server process sees the same counters), and it does the
same work and gives the same answer whether or not the user exists.

Admin changes that could leave nobody able to administer Docket (demoting or deactivating the
last active admin who has a password) are refused with :class:`LastAdminError`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.safe_text import require_safe_text, unsafe_text_reason
from storage.authz import ADMIN, OPERATOR, Actor, authorize, credential_stamp
from storage.database import Database
from storage.models import ROLES, AuditLog, SignInAttempt, UserAccount, WebSession, utcnow

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

# Throttling (see sign_in): failures beyond the free ones lock a (user name, client) pair (or
# a client, across names) for FIRST_LOCK, doubling with every further failure up to MAX_LOCK.
# Counters are forgotten after FORGET_AFTER without a failure; a successful sign-in clears the
# pair's counter.
PAIR_FREE_FAILURES = 5
CLIENT_FREE_FAILURES = 20
FIRST_LOCK = timedelta(seconds=15)
MAX_LOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)

SIGN_IN_FAILED = "Wrong user name or password."
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


@dataclass(frozen=True)
class SignInResult:
    """The outcome of :func:`sign_in`: the user, or a message and (if throttled) the wait."""

    user: UserInfo | None
    message: str = ""
    retry_after_s: int = 0

    @property
    def ok(self) -> bool:
        """True if the password was right and the account may sign in."""
        return self.user is not None


# --- validation ---------------------------------------------------------------------------


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


AUTH_ENV = "DOCKET_AUTH"
AUTH_MODES = ("password", "none")


class AuthConfigError(ValueError):
    """``DOCKET_AUTH`` has a value Docket does not know."""


def auth_mode() -> str:
    """Return ``"password"`` (default) or ``"none"`` (single-user mode) from ``$DOCKET_AUTH``.

    Raises :class:`AuthConfigError` for any other value, so a typo never switches sign-in off.
    """
    value = os.environ.get(AUTH_ENV, "").strip().lower() or "password"
    if value not in AUTH_MODES:
        raise AuthConfigError(f"{AUTH_ENV} must be one of {', '.join(AUTH_MODES)} (or unset); "
                              f"got {os.environ[AUTH_ENV]!r}")
    return value


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


# --- signing in ---------------------------------------------------------------------------


def authenticate(db: Database, *, name: str, password: str) -> UserInfo | None:
    """Return the active user ``name`` if ``password`` is theirs, else None. No throttling.

    Does one Argon2 verification whether or not the user exists (against a dummy hash if
    not, or if the account has no password), so the time taken does not tell whether a name
    exists. A hash made with older parameters is replaced (rehash) after a success. The
    verification runs outside any transaction, so it never holds SQLite's write lock.
    """
    with db.read() as session:
        # A name PostgreSQL cannot even compare (NUL) belongs to nobody.
        row = _row_by_name(session, name) if unsafe_text_reason(name) is None else None
        found = (row.id, row.password_hash, row.active) if row is not None else None
    user_id, stored, active = found if found is not None else (None, None, False)
    if not _verify(stored or _dummy_hash(), password) or stored is None or not active:
        return None
    with db.write() as session:
        row = session.get(UserAccount, user_id)
        if row is None or not row.active or row.password_hash != stored:
            return None  # changed while we were verifying
        if PASSWORD_HASHER.check_needs_rehash(stored):
            row.password_hash = PASSWORD_HASHER.hash(password)
            session.add(row)
            log.info("password hash of user %r upgraded to the current parameters", row.name)
        return _info(row)


def sign_in(db: Database, *, name: str, password: str, client: str | None = None,
            local: bool = False, now: datetime | None = None) -> SignInResult:
    """Check a sign-in with throttling; return the user, or the message to show.

    Failures are counted per (user name, client) pair — the name case-insensitively, existing
    or not; ``client`` is e.g. an IP address, None when unknown — and per client across all
    names. Failures from elsewhere never lock a user out, and one client cannot try many
    names. The attempt is counted *before* the password is checked, so parallel guesses
    cannot slip past the counter; a success takes the count back. After
    :data:`PAIR_FREE_FAILURES` failures of a pair (:data:`CLIENT_FREE_FAILURES` of a client)
    each further failure locks it for :data:`FIRST_LOCK`, doubling up to :data:`MAX_LOCK`;
    attempts while locked are refused without checking the password and without extending
    the lock. ``local`` (someone at the server's own keyboard, no proxy) never locks out the
    last active admin: their attempts are still counted, but always checked. The messages are
    the same whether or not the user exists. Never raises for a wrong name or password.
    """
    now = now or utcnow()
    keys = [("pair", _attempt_key(f"{name.strip().lower()}\n{client or ''}"))]
    if client:
        keys.append(("client", _attempt_key(client)))
    with db.write() as session:
        # Row locks (PostgreSQL) / the write lock (SQLite) are held from here to the commit, so
        # concurrent attempts on one name see each other's counts.
        rows = [_attempt_for_update(session, scope, key, now) for scope, key in keys]
        wait = max(_seconds_locked(row, now) for row in rows)
        if wait > 0 and not (local and _is_last_admin_name(session, name)):
            return SignInResult(None, f"Too many failed sign-ins. Try again in {_duration(wait)}.",
                                wait)
        for row in rows:
            _count_failure(session, row, now)
        _forget_old_attempts(session, now)
    user = authenticate(db, name=name, password=password)
    if user is None:
        log.info("failed sign-in")  # neither the name nor the password: logs are read widely
        return SignInResult(None, SIGN_IN_FAILED)
    with db.write() as session:
        for scope, key in keys:
            _take_back_failure(session, scope, key, clear=scope == "pair")
    log.info("user %r signed in", user.name)
    return SignInResult(user)


def lock_delay(failures: int, free: int) -> timedelta:
    """Return how long ``failures`` failed sign-ins lock a pair or client (0 up to ``free``)."""
    if failures <= free:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** min(failures - free - 1, 32), MAX_LOCK)


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


def _is_last_admin_name(session: Session, name: str) -> bool:
    row = _row_by_name(session, name)
    return row is not None and _is_last_admin(session, row)


def _audit(session: Session, actor_id: int | None, action: str, subject_id: int | None,
           old: str | None, new: str | None) -> None:
    session.add(AuditLog(at=utcnow(), actor_id=actor_id, action=action, subject_id=subject_id,
                         old_value=old, new_value=new))


def _verify(stored: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        log.warning("a stored password hash could not be checked (corrupt or unsupported)")
        return False


def _dummy_hash() -> str:
    """A hash made with the current parameters, verified when there is no real one."""
    params = PASSWORD_HASHER
    return _dummy_hash_for(params.time_cost, params.memory_cost, params.parallelism,
                           params.hash_len, params.salt_len)


@cache
def _dummy_hash_for(time_cost: int, memory_cost: int, parallelism: int, hash_len: int,
                    salt_len: int) -> str:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                          hash_len=hash_len, salt_len=salt_len).hash("docket-dummy-password")


def _attempt_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _attempt(session: Session, scope: str, key: str) -> SignInAttempt | None:
    query = (select(SignInAttempt).where(SignInAttempt.scope == scope, SignInAttempt.key == key)
             .with_for_update())
    return session.execute(query).scalar()


def _attempt_for_update(session: Session, scope: str, key: str, now: datetime) -> SignInAttempt:
    """The counter row of ``(scope, key)``, created if missing, locked until the commit."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(SignInAttempt).values(scope=scope, key=key, failures=0,
                                                 last_failure_at=now)
                    .on_conflict_do_nothing(index_elements=["scope", "key"]))
    row = _attempt(session, scope, key)
    assert row is not None  # inserted above or by a concurrent attempt
    return row


def _seconds_locked(row: SignInAttempt, now: datetime) -> int:
    if row.locked_until is None or row.locked_until <= now:
        return 0
    return max(1, math.ceil((row.locked_until - now).total_seconds()))


def _count_failure(session: Session, row: SignInAttempt, now: datetime) -> None:
    if now - row.last_failure_at > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    delay = lock_delay(row.failures, _free_failures(row.scope))
    row.locked_until = now + delay if delay else None
    session.add(row)


def _take_back_failure(session: Session, scope: str, key: str, *, clear: bool) -> None:
    row = _attempt(session, scope, key)
    if row is None:
        return
    if clear:
        session.delete(row)
        return
    row.failures = max(0, row.failures - 1)
    if not lock_delay(row.failures, _free_failures(scope)):
        row.locked_until = None
    session.add(row)


def _forget_old_attempts(session: Session, now: datetime) -> None:
    session.execute(delete(SignInAttempt).where(SignInAttempt.last_failure_at < now - FORGET_AFTER))


def _free_failures(scope: str) -> int:
    return CLIENT_FREE_FAILURES if scope == "client" else PAIR_FREE_FAILURES


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
