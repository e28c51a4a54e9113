"""Web sessions on SQLite and PostgreSQL: tickets, fresh ids, hashes only, idle and absolute
expiry, the throttled last use, and the ways a session ends (sign-out, password reset, role
change, deactivation)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

import storage.users as users
from storage.authz import OPERATOR, NotAllowed
from storage.database import Database
from storage.models import UserAccount, WebSession, WebSessionTicket, utcnow
from storage.users import change_role, create_user, set_active, set_password
from storage.web_sessions import (
    TICKET_LIFETIME,
    TOUCH_INTERVAL,
    SessionConfigError,
    SessionLifetimes,
    check_session,
    count_sessions,
    end_session,
    redeem_ticket,
    session_lifetimes,
    start_session,
)

BROWSER = "b" * 64
OTHER_BROWSER = "c" * 64
LIFETIMES = SessionLifetimes(idle=timedelta(hours=12), absolute=timedelta(days=7))


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    monkeypatch.setattr(users, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                                 parallelism=1))


@pytest.fixture
def people(db):
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password="admin password 1",
                            actor=OPERATOR)
        ann = create_user(session=session, name="ann", role="annotator",
                          password="annotator password 1", actor=OPERATOR)
    return admin, ann


def signed_in(db, user, now=None):
    """A session of ``user`` whose ticket was redeemed: (row id, cookie value)."""
    now = now or utcnow()
    new = start_session(db, actor=user, browser=BROWSER, now=now, lifetimes=LIFETIMES)
    cookie = redeem_ticket(db, ticket=new.ticket, browser=BROWSER, now=now, lifetimes=LIFETIMES)
    assert cookie is not None
    return new.session_id, cookie.token


def stored(db):
    with db.read() as session:
        return session.execute(select(WebSession)).scalars().all()


def test_a_redeemed_ticket_gives_a_fresh_id_that_is_stored_only_as_its_hash(db, people):
    _, ann = people
    now = utcnow()
    new = start_session(db, actor=ann, browser=BROWSER, now=now, lifetimes=LIFETIMES)
    (row,) = stored(db)
    assert row.token_hash is None  # no id a browser could present before the exchange
    with db.read() as session:
        (ticket_row,) = session.execute(select(WebSessionTicket)).scalars().all()
    assert ticket_row.ticket_hash == hashlib.sha256(new.ticket.encode()).hexdigest()

    cookie = redeem_ticket(db, ticket=new.ticket, browser=BROWSER, now=now, lifetimes=LIFETIMES)
    assert cookie is not None and cookie.token != new.ticket and len(cookie.token) >= 43
    (row,) = stored(db)
    assert row.token_hash == hashlib.sha256(cookie.token.encode()).hexdigest()
    assert cookie.token not in {row.token_hash, str(row.id)}
    assert cookie.expires_at == now + timedelta(days=7)
    assert (row.created_at, row.last_used_at, row.expires_at) == (now, now, now + timedelta(days=7))

    found = check_session(db, token=cookie.token, now=now, lifetimes=LIFETIMES)
    assert (found.session_id, found.user.name) == (new.session_id, "ann")
    assert check_session(db, session_id=new.session_id, now=now, lifetimes=LIFETIMES).user.id == ann.id


def test_a_ticket_works_once_within_a_minute_and_only_in_the_browser_that_signed_in(db, people):
    _, ann = people
    now = utcnow()

    def ticket():
        return start_session(db, actor=ann, browser=BROWSER, now=now, lifetimes=LIFETIMES).ticket

    first = ticket()
    assert redeem_ticket(db, ticket=first, browser=BROWSER, now=now, lifetimes=LIFETIMES)
    assert redeem_ticket(db, ticket=first, browser=BROWSER, now=now, lifetimes=LIFETIMES) is None
    other = ticket()
    assert redeem_ticket(db, ticket=other, browser=OTHER_BROWSER, now=now, lifetimes=LIFETIMES) is None
    # ... and that attempt used it up: the right browser cannot redeem it afterwards.
    assert redeem_ticket(db, ticket=other, browser=BROWSER, now=now, lifetimes=LIFETIMES) is None
    assert redeem_ticket(db, ticket=ticket(), browser=None, now=now, lifetimes=LIFETIMES) is None
    late = now + TICKET_LIFETIME
    assert redeem_ticket(db, ticket=ticket(), browser=BROWSER, now=late, lifetimes=LIFETIMES) is None
    assert redeem_ticket(db, ticket="made up", browser=BROWSER, now=now, lifetimes=LIFETIMES) is None


def test_idle_and_absolute_limits(db, people):
    _, ann = people
    start = utcnow()
    _, token = signed_in(db, ann, start)
    # Used every 11 hours: the idle limit (12 h) never strikes, the absolute one (7 days) does.
    now = start
    while now + timedelta(hours=11) < start + timedelta(days=7):
        now += timedelta(hours=11)
        assert check_session(db, token=token, now=now, lifetimes=LIFETIMES) is not None, now - start
    assert check_session(db, token=token, now=start + timedelta(days=7),
                         lifetimes=LIFETIMES) is None

    idle_id, idle_token = signed_in(db, ann, start)
    later = start + timedelta(hours=12)
    assert check_session(db, token=idle_token, now=later - timedelta(seconds=1),
                         lifetimes=LIFETIMES) is not None
    used = later - timedelta(seconds=1)
    assert check_session(db, token=idle_token, now=used + timedelta(hours=12) - timedelta(seconds=1),
                         lifetimes=LIFETIMES) is not None  # the check before counted as a use
    assert check_session(db, token=idle_token, now=used + timedelta(hours=36),
                         lifetimes=LIFETIMES) is None
    assert check_session(db, session_id=idle_id, now=used + timedelta(hours=36),
                         lifetimes=LIFETIMES) is None


def test_the_last_use_is_written_at_most_once_per_interval(db, people):
    _, ann = people
    start = utcnow()
    session_id, token = signed_in(db, ann, start)
    for seconds in (1, 30, 59):
        check_session(db, token=token, now=start + timedelta(seconds=seconds), lifetimes=LIFETIMES)
    assert stored(db)[0].last_used_at == start  # no write for clicks within the minute
    check_session(db, session_id=session_id, now=start + TOUCH_INTERVAL, lifetimes=LIFETIMES)
    assert stored(db)[0].last_used_at == start + TOUCH_INTERVAL


def test_sign_out_ends_only_that_session(db, people):
    _, ann = people
    first_id, first_token = signed_in(db, ann)
    second_id, second_token = signed_in(db, ann)
    assert end_session(db, token=first_token)
    assert not end_session(db, session_id=first_id)  # already gone
    assert check_session(db, token=first_token) is None
    assert check_session(db, session_id=first_id) is None
    assert check_session(db, token=second_token).session_id == second_id
    assert end_session(db, session_id=second_id)
    assert check_session(db, token=second_token) is None


@pytest.mark.parametrize("change", ["password", "deactivate", "role"])
def test_an_admin_change_ends_every_session_of_the_user_and_no_other(db, people, change):
    admin, ann = people
    _, ann_token = signed_in(db, ann)
    _, ann_other_device = signed_in(db, ann)
    _, admin_token = signed_in(db, admin)
    with db.write() as session:
        if change == "password":
            set_password(session=session, user_id=ann.id, password="a new password 1",
                         actor=admin)
        elif change == "deactivate":
            set_active(session=session, user_id=ann.id, active=False, actor=admin)
        else:
            change_role(session=session, user_id=ann.id, role="admin", actor=admin)
    assert check_session(db, token=ann_token) is None
    assert check_session(db, token=ann_other_device) is None
    with db.read() as session:
        assert count_sessions(session=session, user_id=ann.id) == 0
    assert check_session(db, token=admin_token).user.name == "ada"


def test_a_deactivated_user_cannot_start_or_resume_a_session(db, people):
    admin, ann = people
    new = start_session(db, actor=ann, browser=BROWSER)
    with db.write() as session:
        set_active(session=session, user_id=ann.id, active=False, actor=admin)
    assert redeem_ticket(db, ticket=new.ticket, browser=BROWSER) is None
    with pytest.raises(NotAllowed, match="deactivated"):
        start_session(db, actor=ann, browser=BROWSER)


def test_a_session_of_a_user_set_inactive_behind_its_back_is_not_usable(db, people):
    """Even if a row survived (written by an older Docket), an inactive user's session is refused."""
    _, ann = people
    session_id, token = signed_in(db, ann)
    with db.write() as session:
        session.execute(update(UserAccount).where(UserAccount.id == ann.id).values(active=False))
    assert check_session(db, token=token) is None
    assert check_session(db, session_id=session_id) is None


def test_signing_in_sweeps_expired_sessions_and_tickets(db, people):
    _, ann = people
    start = utcnow()
    signed_in(db, ann, start)
    start_session(db, actor=ann, browser=BROWSER, now=start, lifetimes=LIFETIMES)  # never redeemed
    start_session(db, actor=ann, browser=BROWSER, now=start + timedelta(days=8), lifetimes=LIFETIMES)
    assert len(stored(db)) == 1
    with db.read() as session:
        assert len(session.execute(select(WebSessionTicket)).all()) == 1


def test_deleting_a_user_deletes_their_sessions(db, people):
    _, ann = people
    signed_in(db, ann)
    with db.write() as session:
        session.connection().exec_driver_sql(f"DELETE FROM user_account WHERE id = {ann.id}")
    assert stored(db) == []


@pytest.mark.parametrize(("idle", "absolute", "expected"), [
    ("", "", SessionLifetimes(timedelta(hours=12), timedelta(days=7))),
    ("0.5", "30", SessionLifetimes(timedelta(minutes=30), timedelta(days=30))),
])
def test_lifetimes_come_from_the_environment(monkeypatch, idle, absolute, expected):
    monkeypatch.setenv("DOCKET_SESSION_IDLE_HOURS", idle)
    monkeypatch.setenv("DOCKET_SESSION_MAX_DAYS", absolute)
    assert session_lifetimes() == expected


@pytest.mark.parametrize("value", ["0", "-1", "twelve", "nan", "inf"])
def test_a_bad_lifetime_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("DOCKET_SESSION_IDLE_HOURS", value)
    with pytest.raises(SessionConfigError, match=f"DOCKET_SESSION_IDLE_HOURS must be a positive "
                                                 f"number; got '{value}'"):
        session_lifetimes()


def test_sessions_are_shared_by_every_server_process(db, people):
    # A second engine on the same database stands for another app process behind the proxy
    # (tests/e2e/test_several_processes.py does it with two real processes and nginx).
    admin, ann = people
    other = Database(db.url)
    try:
        new = start_session(db, actor=ann, browser=BROWSER, lifetimes=LIFETIMES)
        cookie = redeem_ticket(other, ticket=new.ticket, browser=BROWSER, lifetimes=LIFETIMES)
        assert cookie is not None
        assert redeem_ticket(db, ticket=new.ticket, browser=BROWSER) is None  # used once, anywhere
        assert check_session(other, token=cookie.token).user.name == "ann"
        assert check_session(db, session_id=new.session_id).user.name == "ann"
        # An admin's deactivation through one process ends the session on the other.
        with other.write() as session:
            set_active(session=session, user_id=ann.id, active=False, actor=admin)
        assert check_session(db, token=cookie.token) is None
        # A sign-out through one process ends a session used through the other.
        _, admin_token = signed_in(db, admin)
        assert check_session(other, token=admin_token) is not None
        assert end_session(other, token=admin_token)
        assert check_session(db, token=admin_token) is None
    finally:
        other.dispose()
