"""Signing in: check a password, and throttle failed sign-ins in the database.

:func:`sign_in` is the one way the UI and the CLI check a password: it throttles repeated
failures per (user name, client) pair and per client in the ``sign_in_attempt`` table (so every
server process sees the same counters), and it does the same work and gives the same answer
whether or not the user exists. Passwords are verified with :data:`storage.users.PASSWORD_HASHER`
(read from that module at each call, so one setting serves hashing and checking).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.safe_text import unsafe_text_reason
from storage import users
from storage.database import Database
from storage.models import SignInAttempt, UserAccount, utcnow
from storage.users import UserInfo, is_last_admin_name, user_from_row

log = logging.getLogger(__name__)

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
        if users.PASSWORD_HASHER.check_needs_rehash(stored):
            row.password_hash = users.PASSWORD_HASHER.hash(password)
            session.add(row)
            log.info("password hash of user %r upgraded to the current parameters", row.name)
        return user_from_row(row)


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
        if wait > 0 and not (local and is_last_admin_name(session=session, name=name)):
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


def _verify(stored: str, password: str) -> bool:
    try:
        return users.PASSWORD_HASHER.verify(stored, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        log.warning("a stored password hash could not be checked (corrupt or unsupported)")
        return False


def _dummy_hash() -> str:
    """A hash made with the current parameters, verified when there is no real one."""
    params = users.PASSWORD_HASHER
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


def _row_by_name(session: Session, name: str) -> UserAccount | None:
    return session.execute(select(UserAccount).where(UserAccount.name == str(name).strip())).scalar()
