"""Persistent sessions (issue 17, item 1) as the pages see them (AppTest), and the HTTPS test
behind proxies.

AppTest sends no cookies: ``as_browser``-style stand-ins give each run the cookies a browser
would send on its websocket (the browser cookie, and the session cookie once exchanged).
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

import components.browser
from components.auth import (
    SESSION_GONE,
    SINGLE_USER_WARNING,
    TICKET_KEY,
    USER_KEY,
    WEB_SESSION_KEY,
)
from components.browser import BrowserRequest
from components.web_middleware import is_https
from storage.models import WebSession, WebSessionTicket
from storage.web_sessions import redeem_ticket
from tests.app import conftest as app_conftest
from tests.app.apptest_helpers import open_page, rendered, sign_in_through_the_form

clear_streamlit_caches = app_conftest.clear_streamlit_caches
cheap_password_hashing = app_conftest.cheap_password_hashing
password_sign_in = app_conftest.password_sign_in
browser_on_this_computer = app_conftest.browser_on_this_computer
app_db, app_db_any, admin = app_conftest.app_db, app_conftest.app_db_any, app_conftest.admin

BROWSER = "the browser's own cookie"


def browser_sends(monkeypatch, *, session: str | None, cookie: str | None = BROWSER) -> None:
    monkeypatch.setattr(components.browser, "browser_request", lambda: BrowserRequest(
        peer=None, forwarded_for=(), cookie=cookie, session=session))


def scripts(at) -> str:
    """Every st.html body the server sent (main area and sidebar, nested too)."""
    found = []

    def walk(node) -> None:
        if hasattr(node, "children"):
            for child in node.children.values():
                walk(child)
            return
        if node.type == "html":
            found.append(node.proto.body)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(found)


def signed_in_with_cookie(db, monkeypatch, name="ada", password=app_conftest.ADMIN_PASSWORD):
    """Sign in through the form, let the "browser" redeem the ticket; return (at, cookie)."""
    browser_sends(monkeypatch, session=None)
    at = sign_in_through_the_form(open_page(), name, password)
    ticket = _ticket_in(scripts(at))
    cookie = redeem_ticket(db, ticket=ticket, browser=hashlib.sha256(BROWSER.encode()).hexdigest())
    assert cookie is not None
    return at, cookie.token


def _ticket_in(text: str) -> str:
    marker = 'body: "'
    start = text.index(marker) + len(marker)
    return text[start:text.index('"', start)]


def test_a_sign_in_starts_a_server_session_and_hands_the_browser_a_ticket(app_db_any, admin,
                                                                          monkeypatch):
    browser_sends(monkeypatch, session="a value planted before the sign-in")
    at = sign_in_through_the_form(open_page(), "ada", app_conftest.ADMIN_PASSWORD)
    assert at.session_state[USER_KEY] == admin.id and TICKET_KEY not in at.session_state
    text = scripts(at)
    assert '"/_docket/session"' in text and "credentials" in text
    ticket = _ticket_in(text)
    with app_db_any.read() as session:
        (row,) = session.execute(select(WebSession)).scalars().all()
        (stored,) = session.execute(select(WebSessionTicket)).scalars().all()
    assert row.id == at.session_state[WEB_SESSION_KEY] and row.user_id == admin.id
    # No fixation: nothing the browser held before becomes the session id.
    assert row.token_hash is None
    assert stored.ticket_hash == hashlib.sha256(ticket.encode()).hexdigest()
    at.run()
    assert '"/_docket/session"' not in scripts(at)  # once


def test_a_new_connection_with_the_cookie_opens_signed_in(app_db_any, admin, monkeypatch):
    _, token = signed_in_with_cookie(app_db_any, monkeypatch)
    browser_sends(monkeypatch, session=token)
    at = open_page("pages/1_Import.py")  # a reload / deep link: a new Streamlit session
    assert at.session_state[USER_KEY] == admin.id
    assert at.title[0].value == "Import"


@pytest.mark.parametrize("cookie", ["made up", None])
def test_without_a_valid_cookie_the_sign_in_form_shows(app_db, admin, monkeypatch, cookie):
    browser_sends(monkeypatch, session=cookie)
    at = open_page("pages/1_Import.py")
    assert USER_KEY not in at.session_state
    assert at.title[0].value == "Sign in to Docket"
    # Only a sign-out clears the cookie: a stale tab must not clear a newer one.
    assert '"/_docket/session/end"' not in scripts(at)


def test_the_session_cookie_alone_without_the_browser_cookie_does_not_resume(app_db, admin,
                                                                            monkeypatch):
    _, token = signed_in_with_cookie(app_db, monkeypatch)
    browser_sends(monkeypatch, session=token, cookie=None)
    assert USER_KEY not in open_page().session_state


def test_sign_out_ends_the_server_session_for_the_other_tab(app_db_any, admin, monkeypatch):
    first, token = signed_in_with_cookie(app_db_any, monkeypatch)
    browser_sends(monkeypatch, session=token)
    second = open_page()
    assert second.session_state[USER_KEY] == admin.id
    first.sidebar.button(key="auth.sign_out").click().run()
    assert USER_KEY not in first.session_state
    assert '"/_docket/session/end"' in scripts(first)
    with app_db_any.read() as session:
        assert session.execute(select(WebSession)).all() == []
    second.run()  # the other tab's next click
    assert USER_KEY not in second.session_state
    assert rendered(second)[:2] == [("title", None, "Sign in to Docket"),
                                    ("error", None, SESSION_GONE)]
    assert USER_KEY not in open_page().session_state  # nor does a reload sign in again


def test_a_bad_lifetime_setting_makes_every_page_unavailable(app_db, monkeypatch):
    monkeypatch.setenv("DOCKET_SESSION_MAX_DAYS", "a week")
    at = open_page()
    ((kind, _, message),) = rendered(at)
    assert kind == "error" and message.startswith("Docket is not available")
    assert "a week" not in message


def test_single_user_mode_makes_no_sessions(app_db, monkeypatch):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    monkeypatch.setenv("DOCKET_SESSION_MAX_DAYS", "not read in this mode")
    at = open_page()
    assert [w.value for w in at.warning] == [SINGLE_USER_WARNING]
    assert "/_docket/" not in scripts(at)
    with app_db.read() as session:
        assert session.execute(select(WebSession)).all() == []


# --- Secure behind proxies -------------------------------------------------------------------

def scope(scheme: str, peer: str, proto: str | None) -> dict:
    headers = [(b"x-forwarded-proto", proto.encode())] if proto is not None else []
    return {"type": "http", "scheme": scheme, "client": (peer, 40000), "headers": headers}


@pytest.mark.parametrize(("trusted", "request_scope", "expected"), [
    ("", scope("https", "203.0.113.9", None), True),  # direct HTTPS
    ("", scope("http", "203.0.113.9", None), False),
    ("10.0.0.0/8", scope("http", "10.1.2.3", "https"), True),  # a trusted proxy says HTTPS
    ("10.0.0.0/8", scope("http", "10.1.2.3", "http, https"), True),  # its own hop counts
    ("10.0.0.0/8", scope("http", "10.1.2.3", "https, http"), False),
    ("10.0.0.0/8", scope("http", "203.0.113.9", "https"), False),  # anyone else may not
    ("", scope("http", "10.1.2.3", "https"), False),
    ("not an address", scope("http", "10.1.2.3", "https"), False),
])
def test_secure_over_https_and_behind_trusted_proxies_only(monkeypatch, trusted, request_scope,
                                                           expected):
    monkeypatch.setenv("DOCKET_TRUSTED_PROXIES", trusted)
    assert is_https(request_scope) is expected
