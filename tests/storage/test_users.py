"""User accounts on SQLite and PostgreSQL: Argon2id hashes, sign-in, last-admin rule, throttling.

Most tests hash with cheap Argon2id parameters (``cheap_hasher``); the ones about the real
parameters and about upgrading old hashes use the module's own hasher.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

import storage.users as users
from storage.authz import OPERATOR
from storage.database import Database
from storage.migrations import SCHEMA_VERSION, migrate
from storage.models import AuditLog, SignInAttempt, UserAccount, utcnow
from storage.sign_in import PAIR_FREE_FAILURES, SIGN_IN_FAILED, authenticate, lock_delay, sign_in
from storage.users import (
    LastAdminError,
    UserError,
    change_role,
    check_name,
    check_password,
    count_admins,
    create_first_admin,
    create_user,
    ensure_local_admin,
    find_user,
    list_users,
    needs_first_admin,
    set_active,
    set_password,
)
from tests.storage.legacy_schema import recreate_as_version_1

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery"


class CountingHasher(PasswordHasher):
    """Argon2id with cheap parameters that counts how often a hash is verified."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, hash, password):
        with self._lock:
            self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def cheap_hasher(monkeypatch) -> CountingHasher:
    hasher = CountingHasher()
    monkeypatch.setattr(users, "PASSWORD_HASHER", hasher)
    return hasher


def add(db, name: str, role: str = "annotator", password: str | None = PASSWORD, *,
        actor=OPERATOR):
    with db.write() as session:
        return create_user(session=session, name=name, role=role, password=password, actor=actor)


def stored_hash(db, name: str) -> str | None:
    with db.read() as session:
        return session.execute(select(UserAccount.password_hash)
                               .where(UserAccount.name == name)).scalar_one()


def attempt_rows(db) -> list[SignInAttempt]:
    with db.read() as session:
        return list(session.execute(select(SignInAttempt).order_by(SignInAttempt.id)).scalars())


# --- hashing and validation -------------------------------------------------------------


def test_password_is_stored_as_an_argon2id_hash_with_the_rfc9106_parameters(db):
    user = add(db, "maria", "admin")
    stored = stored_hash(db, "maria")
    # RFC 9106 §4 second recommended option: Argon2id, t=3, 64 MiB, p=4.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)  # an independent hasher accepts it
    assert user.has_password and user.role == "admin" and user.active


def test_two_users_with_the_same_password_get_different_hashes(db, cheap_hasher):
    add(db, "a1")
    add(db, "a2")
    assert stored_hash(db, "a1") != stored_hash(db, "a2")  # random salt


@pytest.mark.parametrize(("name", "problem"), [
    ("", "user name is empty"),
    ("   ", "user name is empty"),
    ("a" * 65, "user name is 65 characters long; at most 64 allowed"),
    ("maria smith", "may only contain letters, digits and . _ @ + -"),
    ("-maria", "must start with a letter or digit"),
    ("<script>", "may only contain"),
])
def test_bad_user_names_are_refused_with_the_rule(name, problem):
    with pytest.raises(UserError, match=re.escape(problem)):
        check_name(name)


def test_good_user_names_are_accepted_and_trimmed():
    assert check_name("  maria@example.org ") == "maria@example.org"
    assert check_name("a.b_c+d-9") == "a.b_c+d-9"


@pytest.mark.parametrize(("password", "problem"), [
    ("", "password is empty"),
    ("          ", "password is empty"),
    ("short pw1", "password is too short: at least 10 characters"),
    ("x" * 1025, "password is too long: at most 1024 characters"),
])
def test_bad_passwords_are_refused_without_echoing_them(password, problem):
    with pytest.raises(UserError) as caught:
        check_password(password)
    assert str(caught.value) == problem
    assert not password.strip() or password not in str(caught.value)


def test_create_user_refuses_a_taken_name_ignoring_case_and_an_unknown_role(db, cheap_hasher):
    add(db, "Maria")
    with pytest.raises(UserError, match="a user named 'Maria' exists already"):
        add(db, "maria")
    with pytest.raises(UserError, match="role must be one of admin, annotator; got 'root'"):
        add(db, "root", role="root")
    with db.read() as session:
        assert [u.name for u in list_users(session=session)] == ["Maria"]


def test_user_changes_are_in_the_audit_log_without_passwords(db, cheap_hasher):
    boss = add(db, "boss", "admin")
    ann = add(db, "ann", actor=boss)
    with db.write() as session:
        change_role(session=session, user_id=ann.id, role="admin", actor=boss)
        set_password(session=session, user_id=ann.id, password="another password", actor=boss)
        set_active(session=session, user_id=ann.id, active=False, actor=boss)
    with db.read() as session:
        rows = session.execute(select(AuditLog.actor_id, AuditLog.action, AuditLog.subject_id,
                                      AuditLog.old_value, AuditLog.new_value)
                               .where(AuditLog.subject_id == ann.id).order_by(AuditLog.id)).all()
    assert [tuple(row) for row in rows] == [
        (boss.id, "user_created", ann.id, None, "annotator"),
        (boss.id, "role_changed", ann.id, "annotator", "admin"),
        (boss.id, "password_set", ann.id, None, None),
        (boss.id, "user_deactivated", ann.id, "true", "false"),
    ]


# --- authenticate -------------------------------------------------------------------------


def test_authenticate_accepts_only_the_right_password_of_an_active_user(db, cheap_hasher):
    maria = add(db, "maria")
    assert authenticate(db, name="maria", password=PASSWORD) == maria
    assert authenticate(db, name=" maria ", password=PASSWORD) == maria
    assert authenticate(db, name="maria", password=WRONG) is None
    assert authenticate(db, name="Maria", password=PASSWORD) is None  # names are exact
    assert authenticate(db, name="nobody", password=PASSWORD) is None
    with db.write() as session:
        set_active(session=session, user_id=maria.id, active=False, actor=OPERATOR)
    assert authenticate(db, name="maria", password=PASSWORD) is None


def test_imported_annotator_without_password_cannot_sign_in(db, cheap_hasher):
    add(db, "imported", password=None)
    assert authenticate(db, name="imported", password="") is None
    assert authenticate(db, name="imported", password=PASSWORD) is None


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "no password", "inactive"])
def test_every_failure_costs_exactly_one_hash_verification(db, cheap_hasher, case):
    # Same work whether or not the user exists: the time taken must not reveal the name.
    add(db, "maria")
    add(db, "imported", password=None)
    sleeper = add(db, "sleeper")
    with db.write() as session:
        set_active(session=session, user_id=sleeper.id, active=False, actor=OPERATOR)
    name, password = {"wrong password": ("maria", WRONG), "unknown user": ("nobody", PASSWORD),
                      "no password": ("imported", PASSWORD), "inactive": ("sleeper", PASSWORD)}[case]
    cheap_hasher.verified = 0
    assert authenticate(db, name=name, password=password) is None
    assert cheap_hasher.verified == 1


def test_a_hash_with_old_parameters_is_upgraded_at_the_next_sign_in(db, monkeypatch):
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(users, "PASSWORD_HASHER", old)
    add(db, "maria")
    old_hash = stored_hash(db, "maria")
    assert old_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.undo()  # back to the real parameters

    assert authenticate(db, name="maria", password=WRONG) is None
    assert stored_hash(db, "maria") == old_hash  # a wrong password changes nothing
    user = authenticate(db, name="maria", password=PASSWORD)
    assert user is not None
    new_hash = stored_hash(db, "maria")
    assert new_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert authenticate(db, name="maria", password=PASSWORD) is not None
    assert stored_hash(db, "maria") == new_hash  # current parameters: no further rehash


def test_a_new_password_changes_the_credential_stamp(db, cheap_hasher):
    maria = add(db, "maria")
    with db.write() as session:
        renewed = set_password(session=session, user_id=maria.id, password="a new password", actor=OPERATOR)
    assert renewed.credential_stamp != maria.credential_stamp
    assert authenticate(db, name="maria", password=PASSWORD) is None
    assert authenticate(db, name="maria", password="a new password") == renewed


# --- admins -------------------------------------------------------------------------------


def test_the_last_admin_can_be_neither_demoted_nor_deactivated(db, cheap_hasher):
    boss = add(db, "boss", "admin")
    with db.write() as session, pytest.raises(LastAdminError) as caught:
        change_role(session=session, user_id=boss.id, role="annotator", actor=OPERATOR)
    assert str(caught.value) == ("'boss' is the last active admin; make another user admin "
                                 "first, then change this one")
    with db.write() as session, pytest.raises(LastAdminError, match="cannot be deactivated"):
        set_active(session=session, user_id=boss.id, active=False, actor=OPERATOR)
    with db.read() as session:
        assert count_admins(session=session) == 1
        (row,) = list_users(session=session)
    assert (row.role, row.active) == ("admin", True)


def test_with_two_admins_one_may_go_but_not_the_second(db, cheap_hasher):
    one = add(db, "one", "admin")
    two = add(db, "two", "admin")
    with db.write() as session:
        change_role(session=session, user_id=one.id, role="annotator", actor=OPERATOR)
    with db.write() as session, pytest.raises(LastAdminError):
        set_active(session=session, user_id=two.id, active=False, actor=OPERATOR)
    with db.write() as session:
        change_role(session=session, user_id=one.id, role="admin", actor=OPERATOR)
        set_active(session=session, user_id=two.id, active=False, actor=OPERATOR)
    with db.read() as session:
        assert count_admins(session=session) == 1


def test_admins_who_cannot_sign_in_do_not_count(db, cheap_hasher):
    boss = add(db, "boss", "admin")
    add(db, "no_password", "admin", password=None)
    sleeper = add(db, "sleeper", "admin")
    with db.write() as session:
        set_active(session=session, user_id=sleeper.id, active=False, actor=OPERATOR)
    with db.read() as session:
        assert count_admins(session=session) == 1
    with db.write() as session, pytest.raises(LastAdminError):
        change_role(session=session, user_id=boss.id, role="annotator", actor=OPERATOR)


def test_the_first_admin_only_while_there_is_none(db, cheap_hasher):
    add(db, "imported", password=None)  # annotators from an import do not count
    with db.read() as session:
        assert needs_first_admin(session=session)
    with db.write() as session:
        first = create_first_admin(session=session, name="first", password=PASSWORD)
    assert first.role == "admin"
    with db.read() as session:
        assert not needs_first_admin(session=session)
    with db.write() as session, pytest.raises(UserError, match="an admin account exists already"):
        create_first_admin(session=session, name="second", password=PASSWORD)


def test_concurrent_demotions_leave_one_admin(db, cheap_hasher):
    # Two admins demote each other at the same moment: exactly one change may succeed.
    admins = [add(db, f"admin{i}", "admin") for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(user_id: int) -> None:
        barrier.wait()
        try:
            with db.write() as session:
                change_role(session=session, user_id=user_id, role="annotator", actor=OPERATOR)
            outcomes.append("ok")
        except LastAdminError:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(a.id,)) for a in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    with db.read() as session:
        assert count_admins(session=session) == 1


def test_local_admin_of_single_user_mode(db, cheap_hasher):
    with db.write() as session:
        local = ensure_local_admin(session=session)
    assert (local.name, local.role, local.active, local.has_password) == (
        "local-admin", "admin", True, False)
    with db.write() as session:
        change_role(session=session, user_id=local.id, role="annotator",
                    actor=OPERATOR)  # no password: allowed
    with db.write() as session:
        again = ensure_local_admin(session=session)
    assert again.id == local.id and again.role == "admin"
    with db.read() as session:
        assert needs_first_admin(session=session)  # it cannot sign in, so it is no admin for that


# --- throttling ---------------------------------------------------------------------------


def test_lock_delay_doubles_from_15_seconds_to_at_most_15_minutes():
    delays = [lock_delay(n, 5).total_seconds() for n in range(1, 15)]
    assert delays == [0, 0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900, 900]
    assert lock_delay(10_000, 5) == timedelta(minutes=15)


def test_failed_sign_ins_lock_the_name_and_client_pair_in_the_database(db, cheap_hasher):
    add(db, "maria")
    start = utcnow()
    results = [sign_in(db, name="maria", password=WRONG, now=start + timedelta(seconds=i))
               for i in range(6)]
    assert [r.message for r in results] == [SIGN_IN_FAILED] * 6
    assert all(r.retry_after_s == 0 and not r.ok for r in results)

    (row,) = attempt_rows(db)
    sixth = start + timedelta(seconds=5)
    assert (row.scope, row.failures, row.last_failure_at, row.locked_until) == (
        "pair", 6, sixth, sixth + timedelta(seconds=15))

    # Locked: even the right password is refused, without checking it and without counting.
    cheap_hasher.verified = 0
    locked = sign_in(db, name="maria", password=PASSWORD, now=sixth + timedelta(seconds=5))
    assert (locked.ok, locked.retry_after_s) == (False, 10)
    assert locked.message == "Too many failed sign-ins. Try again in 10 seconds."
    assert cheap_hasher.verified == 0
    assert attempt_rows(db)[0].failures == 6

    # After the window one more try; a 7th failure locks for twice as long.
    seventh = sixth + timedelta(seconds=15)
    assert sign_in(db, name="maria", password=WRONG, now=seventh).message == SIGN_IN_FAILED
    assert attempt_rows(db)[0].locked_until == seventh + timedelta(seconds=30)
    assert sign_in(db, name="maria", password=PASSWORD,
                   now=seventh + timedelta(seconds=29)).retry_after_s == 1

    # The right password after the lock signs in and clears the name's counter.
    ok = sign_in(db, name="Maria ", password=WRONG, now=seventh + timedelta(seconds=31))
    assert not ok.ok and attempt_rows(db)[0].failures == 8  # names are counted case-insensitively
    ok = sign_in(db, name="maria", password=PASSWORD, now=seventh + timedelta(minutes=2))
    assert ok.ok and ok.user.name == "maria"
    assert attempt_rows(db) == []


def test_a_long_lock_is_reported_in_minutes(db, cheap_hasher):
    add(db, "maria")
    now = utcnow()
    for _ in range(12):
        now += timedelta(minutes=16)
        sign_in(db, name="maria", password=WRONG, now=now)
    result = sign_in(db, name="maria", password=PASSWORD, now=now)
    assert result.retry_after_s == 900
    assert result.message == "Too many failed sign-ins. Try again in 15 minutes."


def test_unknown_and_existing_names_are_throttled_alike(db, cheap_hasher):
    add(db, "maria")
    start = utcnow()

    def sequence(name: str) -> list[tuple[str, int]]:
        return [(r.message, r.retry_after_s) for r in
                (sign_in(db, name=name, password=WRONG, now=start + timedelta(seconds=i))
                 for i in range(8))]

    known = sequence("maria")
    assert known == sequence("nobody")
    assert known == [(SIGN_IN_FAILED, 0)] * 6 + [
        ("Too many failed sign-ins. Try again in 14 seconds.", 14),
        ("Too many failed sign-ins. Try again in 13 seconds.", 13)]


def test_the_typed_names_are_not_stored(db, cheap_hasher):
    sign_in(db, name="my secret password typed as a name", password=WRONG)
    (row,) = attempt_rows(db)
    assert len(row.key) == 64 and "secret" not in row.key


def test_failures_are_forgotten_after_an_hour(db, cheap_hasher):
    add(db, "maria")
    start = utcnow()
    for i in range(5):
        sign_in(db, name="maria", password=WRONG, now=start + timedelta(seconds=i))
    later = start + timedelta(hours=1, seconds=5)
    assert sign_in(db, name="maria", password=WRONG, now=later).retry_after_s == 0
    assert attempt_rows(db)[0].failures == 1  # counted from scratch, so no lock
    sign_in(db, name="other", password=WRONG, now=later + timedelta(hours=2))
    assert [r.failures for r in attempt_rows(db)] == [1]  # maria's stale row was removed


def test_one_client_guessing_many_names_is_locked(db, cheap_hasher):
    add(db, "maria")
    start = utcnow()
    for i in range(20):
        result = sign_in(db, name=f"user{i}", password=WRONG, client="203.0.113.9",
                         now=start + timedelta(seconds=i))
        assert result.retry_after_s == 0
    twenty_first = start + timedelta(seconds=20)
    assert sign_in(db, name="user20", password=WRONG, client="203.0.113.9",
                   now=twenty_first).retry_after_s == 0
    locked = sign_in(db, name="maria", password=PASSWORD, client="203.0.113.9", now=twenty_first)
    assert (locked.ok, locked.retry_after_s) == (False, 15)
    # Another client is not affected.
    assert sign_in(db, name="maria", password=PASSWORD, client="198.51.100.7", now=twenty_first).ok


def test_a_success_takes_back_its_count_but_does_not_reset_the_client(db, cheap_hasher):
    add(db, "maria")
    start = utcnow()
    for i in range(3):
        sign_in(db, name=f"guess{i}", password=WRONG, client="203.0.113.9",
                now=start + timedelta(seconds=i))
    assert sign_in(db, name="maria", password=PASSWORD, client="203.0.113.9", now=start).ok
    with db.read() as session:
        client = session.execute(select(SignInAttempt.failures)
                                 .where(SignInAttempt.scope == "client")).scalar_one()
    assert client == 3


def test_throttling_is_shared_by_every_server_process(db, cheap_hasher):
    # A second engine on the same database stands for another server process.
    other = Database(db.url)
    try:
        add(db, "maria")
        now = utcnow()
        for _ in range(6):
            sign_in(db, name="maria", password=WRONG, now=now)
        assert sign_in(other, name="maria", password=PASSWORD, now=now).retry_after_s == 15
    finally:
        other.dispose()


def test_parallel_guesses_cannot_slip_past_the_counter(db, cheap_hasher):
    add(db, "maria")
    now = utcnow()
    barrier = threading.Barrier(12)
    results = []

    def guess() -> None:
        barrier.wait()
        results.append(sign_in(db, name="maria", password=WRONG, now=now))

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly the 5 free failures and the one that set the lock reached the password check.
    assert cheap_hasher.verified == PAIR_FREE_FAILURES + 1
    assert sum(r.retry_after_s > 0 for r in results) == 12 - PAIR_FREE_FAILURES - 1
    assert attempt_rows(db)[0].failures == PAIR_FREE_FAILURES + 1


# --- schema migration ---------------------------------------------------------------------


def test_a_version_1_database_gets_the_sign_in_table_and_keeps_its_data(db):
    recreate_as_version_1(db)
    with db.engine.begin() as connection:  # some data in the tables of schema version 1
        connection.execute(text("INSERT INTO user_account (name, display_name, role, password_hash,"
                                " active, created_at) VALUES ('old_admin', 'Old', 'admin', NULL, "
                                "TRUE, CURRENT_TIMESTAMP)"))

    assert migrate(db) == 1

    with db.read() as session:
        versions = list(session.execute(text("SELECT version FROM schema_version "
                                             "ORDER BY version")).scalars())
        assert [u.name for u in list_users(session=session)] == ["old_admin"]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    with db.write() as session:  # the new table works like a freshly created one
        set_password(session=session, user_id=find_user(session=session, name="old_admin").id,
                     password=PASSWORD, actor=OPERATOR)
    assert sign_in(db, name="old_admin", password=WRONG).message == SIGN_IN_FAILED
    assert attempt_rows(db)[0].failures == 1
    assert sign_in(db, name="old_admin", password=PASSWORD).ok


