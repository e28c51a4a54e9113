"""Issue item 8: the server listens on loopback unless told otherwise, and on any other
address creating the first admin needs the one-time setup token from the server log.

``streamlit run app.py`` used to listen on every interface and print a Network URL, so on an
empty database anyone on the network could make themselves admin. Now ``.streamlit/config.toml``
binds 127.0.0.1, and a server started with another ``server.address`` asks the first admin
for a token it writes to its log (components/setup_token.py). The setting itself is checked
in tests/test_streamlit_config.py.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
from pathlib import Path

import pytest
from streamlit import config

import components.browser
from components.auth import FIRST_TOKEN, USER_KEY, WRONG_TOKEN
from components.browser import BrowserRequest
from components.setup_token import SETUP_TOKEN, SetupToken, derive_token
from components.web_server import app_options
from storage.authz import OPERATOR
from storage.users import create_user, list_users
from tests.app import conftest as app_conftest
from tests.app.apptest_helpers import open_page, rendered
from tests.e2e import conftest as e2e
from tests.event_loops import run_async

TOKEN_LOG = re.compile(r"one-time setup token: (\S+)")


# --- the real server, started as the README says (no --server.address) ------------------------

chromium_path = e2e.chromium_path


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (from /proc, no traffic)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        for line in path.read_text().splitlines()[1:] if path.is_file() else ():
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:
                    found.add(":".join(raw[i:i + 4][::-1].hex() for i in range(0, 16, 4)))
    return found


@pytest.mark.browser
def test_streamlit_run_listens_on_loopback_only(tmp_path, chromium_path):
    with e2e.running_server(tmp_path, address=None) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"127.0.0.1"}
    printed = (tmp_path / "streamlit.log").read_text()
    assert f"URL: http://127.0.0.1:{port}" in printed
    assert "Network URL" not in printed and "External URL" not in printed


# --- the first-admin form on a server others can reach (AppTest) ------------------------------

clear_streamlit_caches = app_conftest.clear_streamlit_caches
cheap_password_hashing = app_conftest.cheap_password_hashing
password_sign_in = app_conftest.password_sign_in
browser_on_this_computer = app_conftest.browser_on_this_computer
app_db, app_db_any = app_conftest.app_db, app_conftest.app_db_any


@pytest.fixture
def bound_to(request):
    """Set ``server.address`` for the test (``indirect`` parameter), then put it back."""
    previous = config.get_option("server.address")
    config.set_option("server.address", request.param)
    SETUP_TOKEN.consume()
    yield request.param
    SETUP_TOKEN.consume()
    config.set_option("server.address", previous)


def fill_first_admin(at, *, token: str | None, password: str = "first admin pw"):
    if token is not None:
        at.text_input(key=FIRST_TOKEN).input(token)
    at.text_input(key="auth.first.name").input("maria")
    at.text_input(key="auth.first.password").input(password)
    at.text_input(key="auth.first.repeat").input(password)
    at.button(key="auth.first.submit").click()
    return at.run()


def logged_tokens(caplog) -> list[str]:
    return [match for record in caplog.records if record.levelno == logging.WARNING
            for match in TOKEN_LOG.findall(record.getMessage())]


@pytest.mark.parametrize("bound_to", ["0.0.0.0", "", "192.0.2.10", "::"], indirect=True)
def test_the_first_admin_needs_the_token_from_the_server_log(app_db_any, bound_to, caplog):
    at = open_page()
    assert (("text_input", FIRST_TOKEN, "") in rendered(at))
    (token,) = logged_tokens(caplog)
    assert len(token) >= 20

    for wrong in ["", "not-the-token", token[:-1]]:
        fill_first_admin(at, token=wrong)
        assert [e.value for e in at.error] == [WRONG_TOKEN]
        with app_db_any.read() as session:
            assert list_users(session=session) == []

    fill_first_admin(at, token=token)
    assert not at.error and at.title[0].value == "Docket"
    with app_db_any.read() as session:
        (user,) = list_users(session=session)
    assert (user.name, user.role) == ("maria", "admin") and at.session_state[USER_KEY] == user.id
    assert not SETUP_TOKEN.matches(token)  # used once, gone
    assert at.session_state[FIRST_TOKEN] == ""  # not kept in the session
    assert logged_tokens(caplog) == [token]  # issued once, however many tries


@pytest.mark.parametrize("bound_to", ["127.0.0.1", "localhost", "::1"], indirect=True)
def test_on_loopback_the_form_asks_for_no_token(app_db, bound_to, caplog):
    at = open_page()
    assert FIRST_TOKEN not in [key for _, key, _ in rendered(at)]
    assert logged_tokens(caplog) == []
    fill_first_admin(at, token=None)
    assert at.title[0].value == "Docket"


@pytest.mark.parametrize("bound_to", ["0.0.0.0"], indirect=True)
def test_two_visitors_race_for_one_token(app_db, bound_to, caplog):
    first, second = open_page(), open_page()
    (token,) = logged_tokens(caplog)  # both forms wait for the same token
    fill_first_admin(first, token=token)
    fill_first_admin(second, token=token)
    assert USER_KEY not in second.session_state
    assert [e.value for e in second.error] == [WRONG_TOKEN]  # the token died with its first use
    with app_db.read() as session:
        assert [u.name for u in list_users(session=session)] == ["maria"]


# --- the start-up step (the st.App lifespan) -------------------------------------------------


@pytest.fixture
def keep_logging():
    """start_server() configures logging for the whole process: put it back afterwards."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def start_up() -> None:
    async def run() -> None:
        async with app_options()["lifespan"](None):
            pass
    run_async(run())


@pytest.mark.parametrize("bound_to", ["0.0.0.0"], indirect=True)
def test_the_server_logs_the_token_at_start_when_no_admin_exists(app_db, bound_to, caplog,
                                                                 keep_logging):
    start_up()
    (token,) = logged_tokens(caplog)
    assert SETUP_TOKEN.matches(token)


@pytest.mark.parametrize("bound_to", ["0.0.0.0", "127.0.0.1"], indirect=True)
def test_no_token_when_an_admin_exists_or_on_loopback(app_db, bound_to, caplog, keep_logging):
    if bound_to == "0.0.0.0":
        with app_db.write() as session:
            create_user(session=session, name="ada", role="admin", password="admin password", actor=OPERATOR)
    start_up()
    assert logged_tokens(caplog) == []


# --- behind a proxy, and several processes ----------------------------------------------------


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
@pytest.mark.parametrize("bound_to", ["127.0.0.1"], indirect=True)
def test_through_a_proxy_a_loopback_server_asks_for_the_token(app_db, bound_to, trusted,
                                                              monkeypatch, caplog):
    # nginx on this computer forwards everyone to a process bound to loopback: the form must
    # not trust the loopback address of the connection.
    monkeypatch.setenv("DOCKET_TRUSTED_PROXIES", trusted)
    monkeypatch.setattr(components.browser, "browser_request", lambda: BrowserRequest(
        peer=None, forwarded_for=("198.51.100.7",), cookie="apptest"))
    at = open_page()
    assert ("text_input", FIRST_TOKEN, "") in rendered(at)
    (token,) = logged_tokens(caplog)
    fill_first_admin(at, token="not-the-token")
    assert [e.value for e in at.error] == [WRONG_TOKEN]
    with app_db.read() as session:
        assert list_users(session=session) == []
    fill_first_admin(at, token=token)
    with app_db.read() as session:
        assert [(u.name, u.role) for u in list_users(session=session)] == [("maria", "admin")]


@pytest.fixture
def cookie_secret():
    """Lets a test set ``server.cookieSecret``; puts the previous one back."""
    previous = config.get_option("server.cookieSecret")
    yield lambda value: config.set_option("server.cookieSecret", value)
    config.set_option("server.cookieSecret", previous)


def test_processes_that_share_the_cookie_secret_log_and_accept_one_token(cookie_secret, caplog):
    # Two SetupToken objects stand for two app processes behind one proxy.
    cookie_secret("a secret every process of this server is given")
    first, second = SetupToken(), SetupToken()
    first.issue()
    second.issue()
    tokens = logged_tokens(caplog)
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert first.matches(tokens[0]) and second.matches(tokens[0])
    assert tokens[0] == derive_token("a secret every process of this server is given")

    cookie_secret("another server's secret")
    other = SetupToken()
    other.issue()
    assert logged_tokens(caplog)[-1] != tokens[0] and not other.matches(tokens[0])
    first.consume()
    assert not first.matches(tokens[0])  # used once in that process, gone


def test_the_token_is_an_hmac_of_the_secret():
    # Independent computation with the standard library's HMAC-SHA256, first 16 bytes, base64url.
    expected = base64.urlsafe_b64encode(hmac.new(b"k", b"docket first-admin setup token",
                                                 "sha256").digest()[:16]).rstrip(b"=").decode()
    assert derive_token("k") == expected and len(expected) == 22
    assert derive_token("k") != derive_token("k2")
