"""Issue item 3: sign-in throttling locks (user, client) pairs, reads the client behind trusted
proxies only, and never locks the last active admin out of a sign-in at the server itself.

Before: five failures for a name locked that name for everyone, admins included, for up to
15 minutes (anyone could lock anyone out), and clients on loopback were not counted at all,
so behind a proxy on the same host one client could try every name.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import components.browser
import storage.users as users
from core.client_address import (
    ClientAddress,
    ServerTrust,
    parse_trusted_proxies,
    resolve_client,
)
from storage.authz import OPERATOR
from storage.database import Database
from storage.models import SignInAttempt
from storage.sign_in import CLIENT_FREE_FAILURES, PAIR_FREE_FAILURES, SIGN_IN_FAILED, sign_in
from storage.users import create_user, set_active, utcnow
from tests.app import conftest as app_conftest
from tests.app.apptest_helpers import open_page, sign_in_through_the_form
from tests.e2e import conftest as e2e
from tests.event_loops import run_async
from tests.security.web_helpers import as_browser, signed_in, ws_session

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery"
FREE = PAIR_FREE_FAILURES


@pytest.fixture
def cheap_hashing(monkeypatch):
    monkeypatch.setattr(users, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                                 parallelism=1))


def add(db, name: str, role: str = "annotator"):
    with db.write() as session:
        return create_user(session=session, name=name, role=role, password=PASSWORD, actor=OPERATOR)


def fail(db, name: str, times: int, *, client: str | None, local: bool = False, start=None):
    """``times`` wrong passwords for ``name``; return the time after the last one."""
    now = start or utcnow()
    for _ in range(times):
        sign_in(db, name=name, password=WRONG, client=client, local=local, now=now)
        now += timedelta(seconds=1)
    return now


# --- storage: what is locked (SQLite and PostgreSQL) ------------------------------------------


def test_failures_from_one_client_do_not_lock_the_user_out_elsewhere(db, cheap_hashing):
    add(db, "maria")
    now = fail(db, "maria", FREE + 3, client="203.0.113.9")
    locked = sign_in(db, name="maria", password=PASSWORD, client="203.0.113.9", now=now)
    assert not locked.ok and locked.retry_after_s > 0
    # The same user from her own address signs in at once.
    assert sign_in(db, name="maria", password=PASSWORD, client="198.51.100.7", now=now).ok


def test_one_client_is_still_capped_across_names(db, cheap_hashing):
    add(db, "maria")
    now = utcnow()
    for i in range(CLIENT_FREE_FAILURES + 1):
        sign_in(db, name=f"guess{i}", password=WRONG, client="203.0.113.9", now=now)
    result = sign_in(db, name="maria", password=PASSWORD, client="203.0.113.9", now=now)
    assert not result.ok and result.retry_after_s == 15
    assert sign_in(db, name="maria", password=PASSWORD, client="198.51.100.7", now=now).ok


def test_the_last_admin_is_never_locked_out_of_a_local_sign_in(db, cheap_hashing):
    add(db, "root", role="admin")
    now = fail(db, "root", FREE + 10, client="local", local=True)
    # Counted like anyone's failures ...
    pair = next(row for row in _attempts(db) if row.scope == "pair")
    assert pair.failures == FREE + 10 and pair.locked_until > now
    # ... but the password is still checked at the server's own keyboard.
    assert sign_in(db, name="root", password=WRONG, client="local", local=True,
                   now=now).message == SIGN_IN_FAILED
    assert sign_in(db, name="root", password=PASSWORD, client="local", local=True, now=now).ok


def test_the_exemption_is_only_for_the_last_admin_and_only_local(db, cheap_hashing):
    add(db, "root", role="admin")
    # From another computer (or a proxy), the last admin's pair locks like any other.
    now = fail(db, "root", FREE + 1, client="203.0.113.9")
    assert sign_in(db, name="root", password=PASSWORD, client="203.0.113.9",
                   now=now).retry_after_s > 0
    # With a second active admin, the first is no longer the last one: locked locally too.
    second = add(db, "backup", role="admin")
    now = fail(db, "root", FREE + 1, client="local", local=True, start=now)
    assert sign_in(db, name="root", password=PASSWORD, client="local", local=True,
                   now=now).retry_after_s > 0
    with db.write() as session:  # the second admin leaves: root is the last one again
        set_active(session=session, user_id=second.id, active=False, actor=OPERATOR)
    assert sign_in(db, name="root", password=PASSWORD, client="local", local=True, now=now).ok


def _attempts(db):
    with db.read() as session:
        return list(session.execute(select(SignInAttempt)).scalars())


# --- the client behind proxies (pure) ---------------------------------------------------------

TRUSTED = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8", setting="DOCKET_TRUSTED_PROXIES")

# The peer is what Streamlit reports: None for loopback, and for a loopback connection with an
# X-Forwarded-For header the right-most non-loopback entry of it (uvicorn's own proxy rule).
@pytest.mark.parametrize(("peer", "forwarded_for", "client"), [
    # At the server's own keyboard: the only "local" sign-in.
    (None, (), ClientAddress("local", local=True)),
    # A trusted proxy on this host: the client it names.
    ("203.0.113.5", ("203.0.113.5",), ClientAddress("203.0.113.5", local=False)),
    # A load balancer (trusted, on another host) behind the local proxy: the right-most
    # untrusted address, whatever the browser itself wrote at the left.
    ("10.1.2.3", ("198.51.100.1, 203.0.113.5", "10.1.2.3"),
     ClientAddress("203.0.113.5", local=False)),
    # A trusted proxy on another host, which uvicorn does not trust by itself.
    ("10.0.0.7", ("203.0.113.5",), ClientAddress("203.0.113.5", local=False)),
    # An untrusted peer is the client, whatever it claims to forward.
    ("192.0.2.44", ("203.0.113.5",), ClientAddress("192.0.2.44", local=False)),
    # IPv6 clients are counted per /64.
    ("2001:db8:1:2::99", (), ClientAddress("2001:db8:1:2::/64", local=False)),
    # A trusted proxy that forwards garbage: a client of its own, not an exemption.
    ("unknown", ("unknown",), ClientAddress("unknown", local=False)),
])
def test_the_client_is_read_behind_trusted_proxies_only(peer, forwarded_for, client):
    assert resolve_client(peer, forwarded_for, TRUSTED) == client


@pytest.mark.parametrize(("peer", "forwarded_for"), [
    ("203.0.113.5", ("203.0.113.5",)),  # uvicorn took the forged value for the peer
    ("203.0.113.5", ("1.1.1.1, 203.0.113.5:444",)),  # with a port, as uvicorn reads it
    (None, ("127.0.0.1",)),  # nothing but loopback in the header
])
def test_without_trusted_proxies_a_forwarded_header_from_this_host_is_not_believed(
        peer, forwarded_for):
    # Someone on this host, or a proxy that is not configured: one client, "local", and not
    # the server's keyboard (the header shows something forwarded it).
    assert resolve_client(peer, forwarded_for, ()) == ClientAddress("local", local=False)


def test_a_changed_server_trust_list_is_undone_as_well():
    server = ServerTrust.parse("10.0.0.7")  # FORWARDED_ALLOW_IPS=10.0.0.7
    # uvicorn believed 10.0.0.7's header; Docket does not trust 10.0.0.7.
    assert resolve_client("203.0.113.5", ("203.0.113.5",), (), server) == ClientAddress(
        "proxy", local=False)
    assert resolve_client("203.0.113.5", ("203.0.113.5",), TRUSTED, server) == ClientAddress(
        "203.0.113.5", local=False)


@pytest.mark.parametrize(("text", "entry"), [("proxy.internal", "proxy.internal"),
                                             ("10.0.0.1 10.0.0.0/33", "10.0.0.0/33"),
                                             ("127.0.0.1;10.0.0.1", "127.0.0.1;10.0.0.1")])
def test_a_bad_trusted_proxy_entry_is_named(text, entry):
    with pytest.raises(ValueError) as caught:
        parse_trusted_proxies(text, setting="DOCKET_TRUSTED_PROXIES")
    assert str(caught.value) == (f"DOCKET_TRUSTED_PROXIES: {entry!r} is not an IP address or a "
                                 "network such as 10.0.0.0/8")


# --- the sign-in form (AppTest) ---------------------------------------------------------------

clear_streamlit_caches = app_conftest.clear_streamlit_caches
cheap_password_hashing = app_conftest.cheap_password_hashing
password_sign_in = app_conftest.password_sign_in
app_db, app_db_any = app_conftest.app_db, app_conftest.app_db_any
admin, annotator = app_conftest.admin, app_conftest.annotator


def test_the_form_counts_the_client_a_trusted_proxy_names(app_db_any, annotator, monkeypatch):
    monkeypatch.setenv("DOCKET_TRUSTED_PROXIES", "127.0.0.1")
    # As Streamlit reports a proxied connection from loopback (see above).
    as_browser(monkeypatch, peer="203.0.113.5", forwarded_for=("203.0.113.5",))
    at = open_page()
    for _ in range(FREE + 1):
        sign_in_through_the_form(at, "ann", "not the password")
    sign_in_through_the_form(at, "ann", app_conftest.ANNOTATOR_PASSWORD)
    assert at.error[0].value.startswith("Too many failed sign-ins")
    # Another client behind the same proxy is not locked out.
    as_browser(monkeypatch, peer="198.51.100.7", forwarded_for=("198.51.100.7",))
    other = sign_in_through_the_form(open_page(), "ann", app_conftest.ANNOTATOR_PASSWORD)
    assert other.title[0].value == "Docket" and not other.error


def test_an_unconfigured_proxy_is_reported_in_the_log_once(app_db, admin, monkeypatch, caplog):
    components.browser._warn_untrusted_proxy.cache_clear()
    as_browser(monkeypatch, peer="203.0.113.5", forwarded_for=("203.0.113.5",))
    for _ in range(2):
        open_page()
    warnings = [r.getMessage() for r in caplog.records if r.name == "components.browser"]
    assert warnings == ["a proxy forwards requests with X-Forwarded-For, but "
                        "DOCKET_TRUSTED_PROXIES does not name it: all its clients count as one "
                        "for sign-in throttling (README, Configuration)"]


def test_the_last_admin_at_the_server_signs_in_after_many_failures(app_db_any, admin,
                                                                   monkeypatch):
    as_browser(monkeypatch)  # this computer, no proxy
    at = open_page()
    for _ in range(FREE + 3):
        sign_in_through_the_form(at, "ada", "not the password")
        assert [e.value for e in at.error] == [SIGN_IN_FAILED]  # never "Too many"
    sign_in_through_the_form(at, "ada", app_conftest.ADMIN_PASSWORD)
    assert not at.error and at.title[0].value == "Docket"


# --- the real server (X-Forwarded-For as uvicorn hands it to Streamlit) ------------------------

chromium_path = e2e.chromium_path


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory, chromium_path):
    """A server that trusts a reverse proxy on this host (127.0.0.1)."""
    with e2e.running_server(tmp_path_factory.mktemp("proxied"),
                            env={"DOCKET_TRUSTED_PROXIES": "127.0.0.1"}) as server:
        yield server


@pytest.fixture(scope="module")
def direct_server(tmp_path_factory, chromium_path):
    """A server without trusted proxies (the default)."""
    with e2e.running_server(tmp_path_factory.mktemp("direct"),
                            env={"DOCKET_TRUSTED_PROXIES": ""}) as server:
        yield server


async def _attempts_then_sign_in(url: str, name: str, wrong: int, right: str,
                                 forwarded: list[str], last: str) -> bool:
    for i in range(wrong):
        client = await ws_session(url, name, WRONG,
                                  headers={"X-Forwarded-For": forwarded[i % len(forwarded)]})
        await client.close()
    client = await ws_session(url, name, right, headers={"X-Forwarded-For": last})
    try:
        return signed_in(client)
    finally:
        await client.close()


@pytest.mark.browser
def test_real_server_locks_the_pair_the_proxy_names(proxied_server):
    url, name, password = proxied_server.url, proxied_server.admin_name, proxied_server.admin_password
    with_admin = Database(proxied_server.database_url)
    try:
        with with_admin.write() as session:  # a second admin: the first is not the last one
            create_user(session=session, name="e2e-second", role="admin", password=PASSWORD, actor=OPERATOR)
    finally:
        with_admin.dispose()
    # Six failures from 203.0.113.5 lock that client out of this account ...
    assert not run_async(_attempts_then_sign_in(url, name, FREE + 1, password,
                                                ["203.0.113.5"], "203.0.113.5"))
    # ... while the admin, at 198.51.100.7 behind the same proxy, signs in.
    assert run_async(_attempts_then_sign_in(url, name, 0, password, [], "198.51.100.7"))


@pytest.mark.browser
def test_real_server_ignores_forged_forwarded_for_from_untrusted_peers(direct_server):
    url, name = direct_server.url, "e2e-ann"
    db = Database(direct_server.database_url)
    try:
        with db.write() as session:
            create_user(session=session, name=name, role="annotator", password=PASSWORD, actor=OPERATOR)
    finally:
        db.dispose()
    # Rotating a forged X-Forwarded-For does not give each guess a fresh counter (uvicorn
    # believes the header from loopback; Docket undoes that without DOCKET_TRUSTED_PROXIES).
    forged = [f"203.0.113.{i}" for i in range(1, 20)]
    assert not run_async(_attempts_then_sign_in(url, name, FREE + 1, PASSWORD, forged,
                                                "198.51.100.99"))


@pytest.mark.browser
def test_real_server_never_locks_out_the_last_admin_at_its_keyboard(direct_server):
    url = direct_server.url
    assert run_async(_attempts_then_sign_in_locally(url, direct_server.admin_name, FREE + 2,
                                                    direct_server.admin_password))


async def _attempts_then_sign_in_locally(url: str, name: str, wrong: int, right: str) -> bool:
    for _ in range(wrong):
        client = await ws_session(url, name, WRONG)  # no proxy header: the server's own computer
        assert client.state.errors == [SIGN_IN_FAILED]
        await client.close()
    client = await ws_session(url, name, right)
    try:
        return signed_in(client)
    finally:
        await client.close()
