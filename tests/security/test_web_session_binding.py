"""Issue item 4: a Streamlit session id alone does not resume a signed-in session, and the
server log holds no session ids.

The browser sends its session id to reconnect after a dropped connection; the server used to
hand the signed-in session to anyone who sent that id (and logged it at WARNING when a
connected session was taken over). Now a sign-in is bound to the browser's ``HttpOnly``
cookie (components/browser.py) and Streamlit's log records have their session ids redacted
(components/log_privacy.py).
"""

from __future__ import annotations

import logging
import re
import urllib.request
import uuid

import pytest

from bench.st_client import ClientError, StreamlitClient
from components.auth import NO_COOKIE, OTHER_BROWSER, USER_KEY
from components.log_privacy import REDACTED, install_session_id_redaction
from tests.app import conftest as app_conftest
from tests.app.apptest_helpers import open_page, rendered, sign_in_through_the_form
from tests.e2e import conftest as e2e
from tests.event_loops import run_async
from tests.security.web_helpers import as_browser, signed_in, ws_session

# --- the real server ----------------------------------------------------------------------------

chromium_path = e2e.chromium_path


@pytest.fixture(scope="module")
def server_and_log(tmp_path_factory, chromium_path):
    """A server of its own (its log is read) and the path of that log."""
    folder = tmp_path_factory.mktemp("binding")
    with e2e.running_server(folder) as server:
        yield server, folder / "streamlit.log"


async def _connect(client: StreamlitClient, resume: str) -> None:
    try:
        await client.connect(resume=resume)
    except ClientError:  # a page that shows a message (here: signed out) is what we look at
        if not client.state.errors:
            raise


async def _take_over(url: str, name: str, password: str, *, cookie_from: str) -> dict:
    """Sign in as ``name``, then connect a second client that resumes that session id with
    the cookie of ``cookie_from`` ("none", "other" browser or the "same" browser)."""
    victim = await ws_session(url, name, password)
    session_id = victim.state.session_id
    assert signed_in(victim) and re.fullmatch(r"[0-9a-f-]{36}", session_id)
    if cookie_from == "same":
        intruder = StreamlitClient(url, "", headers={"Cookie": victim.cookies}, load_page=False)
    else:
        intruder = StreamlitClient(url, "", load_page=cookie_from == "other")
    try:
        await _connect(intruder, session_id)
        return {"session_id": session_id, "resumed": intruder.state.session_id == session_id,
                "signed_in": signed_in(intruder), "errors": intruder.state.errors}
    finally:
        await intruder.close()
        await victim.close()


@pytest.mark.browser
@pytest.mark.parametrize("cookie_from", ["none", "other"])
def test_a_session_id_without_the_browser_cookie_does_not_resume_the_sign_in(server_and_log,
                                                                            cookie_from):
    server, _ = server_and_log
    outcome = run_async(_take_over(server.url, server.admin_name, server.admin_password,
                                   cookie_from=cookie_from))
    assert outcome["resumed"]  # the server did hand over the session ...
    assert not outcome["signed_in"]  # ... but not the sign-in
    assert outcome["errors"] == [OTHER_BROWSER]


@pytest.mark.browser
def test_the_same_browser_resumes_its_session_after_a_dropped_connection(server_and_log):
    server, _ = server_and_log
    outcome = run_async(_take_over(server.url, server.admin_name, server.admin_password,
                                   cookie_from="same"))
    assert outcome["resumed"] and outcome["signed_in"] and outcome["errors"] == []


@pytest.mark.browser
def test_the_server_log_holds_no_session_id(server_and_log):
    server, log_path = server_and_log
    outcome = run_async(_take_over(server.url, server.admin_name, server.admin_password,
                                   cookie_from="none"))
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    # Streamlit did log the takeover of a connected session (at WARNING), without the id.
    assert f"Session with id {REDACTED} is already connected" in log_text
    assert outcome["session_id"] not in log_text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", log_text)


@pytest.mark.browser
def test_the_page_load_sets_an_http_only_cookie_once(server_and_log):
    server, _ = server_and_log
    with urllib.request.urlopen(server.url + "/", timeout=30) as response:
        (cookie,) = response.headers.get_all("Set-Cookie")
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    name, value = name_value.split("=", 1)
    assert name == "docket_browser" and len(value) >= 40
    assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= set(attributes)
    again = urllib.request.Request(server.url + "/", headers={"Cookie": name_value})
    with urllib.request.urlopen(again, timeout=30) as response:
        assert response.headers.get_all("Set-Cookie") is None  # kept, not replaced


# --- the sign-in state in the session (AppTest) --------------------------------------------------

clear_streamlit_caches = app_conftest.clear_streamlit_caches
cheap_password_hashing = app_conftest.cheap_password_hashing
password_sign_in = app_conftest.password_sign_in
app_db, app_db_any, admin = app_conftest.app_db, app_conftest.app_db_any, app_conftest.admin


@pytest.mark.parametrize("later_cookie", [None, "another browser"])
def test_a_sign_in_ends_when_the_session_is_driven_without_its_cookie(app_db_any, admin,
                                                                      monkeypatch, later_cookie):
    as_browser(monkeypatch, cookie="the browser that signed in")
    at = sign_in_through_the_form(open_page(), "ada", app_conftest.ADMIN_PASSWORD)
    assert at.session_state[USER_KEY] == admin.id
    as_browser(monkeypatch, cookie=later_cookie)
    at.run()
    assert USER_KEY not in at.session_state
    assert rendered(at)[:2] == [("title", None, "Sign in to Docket"), ("error", None, OTHER_BROWSER)]
    assert rendered(at, "sidebar") == []


def test_signing_in_needs_the_browser_cookie(app_db, admin, monkeypatch):
    as_browser(monkeypatch, cookie=None)
    at = sign_in_through_the_form(open_page(), "ada", app_conftest.ADMIN_PASSWORD)
    assert USER_KEY not in at.session_state
    assert [e.value for e in at.error] == [NO_COOKIE]


# --- the log redaction itself --------------------------------------------------------------------


@pytest.fixture
def redaction():
    previous = logging.getLogRecordFactory()
    install_session_id_redaction()
    install_session_id_redaction()  # idempotent: one layer, not two
    yield
    logging.setLogRecordFactory(previous)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def logged(logger_name: str, message: str, *args) -> list[str]:
    """What a handler on ``logger_name`` receives when it logs ``message % args``."""
    logger, handler = logging.getLogger(logger_name), Collect()
    logger.addHandler(handler)  # Streamlit's loggers do not propagate: listen on the logger
    try:
        logger.warning(message, *args)
    finally:
        logger.removeHandler(handler)
    return handler.messages


@pytest.mark.parametrize("logger", ["streamlit.runtime.websocket_session_manager",
                                    "streamlit.runtime.app_session", "streamlit.web.new_module"])
def test_streamlit_records_lose_their_session_ids(redaction, logger):
    session_id = str(uuid.uuid4())
    assert logged(logger, "Session with id %s is already connected!", session_id) == [
        f"Session with id {REDACTED} is already connected!"]


def test_other_records_are_left_alone(redaction):
    value = str(uuid.uuid4())
    assert logged("storage.importer", "batch %s", value) == [f"batch {value}"]
