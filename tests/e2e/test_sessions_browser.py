"""Sign-ins that survive a reload (issue 17, item 1), in Chromium against a real server.

Signed in once, a reload, a second tab and a deep link open signed in; signing out in one tab
ends the other; an admin's password reset ends the user's open session; the cookie's flags
are read from the endpoint's response itself.
"""

from __future__ import annotations

import hashlib
import http.client
import time
from urllib.parse import urlsplit

import pytest

from components.auth import SESSION_ENDED, SESSION_GONE
from storage.annotator_view import user_labels
from storage.authz import OPERATOR
from storage.database import Database
from storage.drafts import get_draft
from storage.projects import get_project
from storage.queues import find_assignment
from storage.users import create_user, find_user, set_password
from storage.web_sessions import start_session
from tests.e2e.conftest import load_demo_for_admin, running_server
from tests.e2e.test_browser import by_key, sign_in

pytestmark = pytest.mark.browser

PROJECT = "correctness"
ANN_PASSWORD = "annotator password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path):
    """A server of its own with the demo projects, the admin annotating ``PROJECT``, and an
    annotator ``ann``."""
    with running_server(tmp_path_factory.mktemp("sessions"),
                        env={"DOCKET_TRUSTED_PROXIES": "127.0.0.1"}) as running:
        load_demo_for_admin(running, PROJECT)
        db = Database(running.database_url)
        try:
            with db.write() as session:
                create_user(session=session, name="ann", role="annotator", password=ANN_PASSWORD,
                            actor=OPERATOR)
        finally:
            db.dispose()
        yield running


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    yield context
    context.close()


def session_cookie(context, timeout_s: float = 10) -> dict | None:
    """The session cookie the browser holds, waiting for the exchange script to set it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == "docket_session" and c["value"]]
        if found:
            return found[0]
        time.sleep(0.1)
    return None


def signed_in_as(page, name: str) -> None:
    page.get_by_text(f"Signed in as {name}").wait_for()
    # Streamlit keeps the previous run's elements on screen until the new run replaces them, so
    # the form can linger a moment after the sidebar names the user: wait for it to go (a
    # timeout fails the test).
    page.get_by_role("heading", name="Sign in to Docket").wait_for(state="detached")


def test_reload_second_tab_and_deep_link_open_signed_in(server, context):
    with Database(server.database_url).read() as session:
        project_id = get_project(session=session, name=PROJECT).id
    page = context.new_page()
    page.goto(server.url)
    sign_in(page, server.admin_name, server.admin_password)
    signed_in_as(page, server.admin_name)
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert 6.9 * 86400 < cookie["expires"] - time.time() <= 7 * 86400
    assert cookie["value"] not in page.content()  # never in the page

    page.reload()
    signed_in_as(page, server.admin_name)

    second = context.new_page()
    second.goto(server.url)
    signed_in_as(second, server.admin_name)

    deep = context.new_page()
    deep.goto(f"{server.url}/Annotate?project={project_id}&item=corr-002")
    signed_in_as(deep, server.admin_name)
    deep.get_by_text("Item corr-002").first.wait_for()


def test_sign_out_in_one_tab_ends_the_other(server, context):
    first = context.new_page()
    first.goto(server.url)
    sign_in(first, "ann", ANN_PASSWORD)
    signed_in_as(first, "ann")
    assert session_cookie(context) is not None
    second = context.new_page()
    second.goto(server.url)
    signed_in_as(second, "ann")

    by_key(first, "auth.sign_out").get_by_role("button").click()
    first.get_by_role("heading", name="Sign in to Docket").wait_for()

    # The other tab's next click finds the session gone.
    second.get_by_role("link", name="Annotate").click()
    second.get_by_role("heading", name="Sign in to Docket").wait_for()
    second.get_by_text(SESSION_GONE).wait_for()
    deadline = time.monotonic() + 10
    while session_cookie(context, timeout_s=0) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_cookie(context, timeout_s=0) is None  # the browser forgot it too
    third = context.new_page()
    third.goto(server.url)
    third.get_by_role("heading", name="Sign in to Docket").wait_for()


def test_a_password_reset_by_an_admin_ends_the_users_open_session(server, browser):
    ann_context = browser.new_context()
    admin_context = browser.new_context()
    try:
        ann = ann_context.new_page()
        ann.goto(server.url)
        sign_in(ann, "ann", ANN_PASSWORD)
        signed_in_as(ann, "ann")
        assert session_cookie(ann_context) is not None

        admin = admin_context.new_page()
        admin.goto(f"{server.url}/Users")
        sign_in(admin, server.admin_name, server.admin_password)
        signed_in_as(admin, server.admin_name)
        db = Database(server.database_url)
        try:
            with db.read() as session:
                acting = find_user(session=session, name=server.admin_name)
                target = find_user(session=session, name="ann")
            # The admin's own session checks, as the Users page's callback does.
            with db.write() as session:
                set_password(session=session, user_id=target.id, password="another password 1",
                             actor=acting)
        finally:
            db.dispose()

        ann.get_by_role("link", name="Annotate").click()  # the open tab's next click
        ann.get_by_role("heading", name="Sign in to Docket").wait_for()
        ann.get_by_text(SESSION_ENDED).wait_for()
        ann.reload()
        ann.get_by_role("heading", name="Sign in to Docket").wait_for()
        admin.reload()
        signed_in_as(admin, server.admin_name)  # only ann's sessions ended
    finally:
        ann_context.close()
        admin_context.close()


# --- the endpoint's response ----------------------------------------------------------------

def post(url: str, path: str, *, body: str = "", headers: dict[str, str] | None = None):
    """POST to the server; return (status, every Set-Cookie header)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", path, body=body.encode(), headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response.headers.get_all("Set-Cookie") or []
    finally:
        connection.close()


def ticket_for(server, browser_cookie: str) -> str:
    db = Database(server.database_url)
    try:
        with db.read() as session:
            user = find_user(session=session, name=server.admin_name)
        digest = hashlib.sha256(browser_cookie.encode()).hexdigest()
        return start_session(db, actor=user, browser=digest).ticket
    finally:
        db.dispose()


def attributes(header: str) -> tuple[str, str, dict[str, str]]:
    name_value, *rest = [part.strip() for part in header.split(";")]
    name, value = name_value.split("=", 1)
    return name, value, {part.split("=", 1)[0]: part.partition("=")[2] for part in rest}


@pytest.mark.parametrize("https", [False, True])
def test_the_cookie_flags_on_the_response(server, https):
    browser_cookie = "b" * 43
    headers = {"Cookie": f"docket_browser={browser_cookie}", "Content-Type": "text/plain"}
    if https:
        headers["X-Forwarded-Proto"] = "https"  # from 127.0.0.1, a trusted proxy here
    ticket = ticket_for(server, browser_cookie)
    status, cookies = post(server.url, "/_docket/session", body=ticket, headers=headers)
    assert status == 204
    (header,) = [c for c in cookies if c.startswith("docket_session=")]
    _, value, flags = attributes(header)
    assert len(value) >= 43 and value != ticket
    assert {"HttpOnly", "SameSite", "Path", "Max-Age", "Expires"} <= set(flags)
    assert flags["SameSite"] == "Lax" and flags["Path"] == "/"
    assert 7 * 86400 - 60 < int(flags["Max-Age"]) <= 7 * 86400
    assert flags["Expires"].endswith("GMT")
    assert ("Secure" in flags) is https

    # The ticket worked once.
    assert post(server.url, "/_docket/session", body=ticket, headers=headers)[0] == 403
    status, cookies = post(server.url, "/_docket/session/end",
                           headers={"Cookie": f"docket_session={value}"})
    assert status == 204
    (cleared,) = [c for c in cookies if c.startswith("docket_session=")]
    _, empty, flags = attributes(cleared)
    assert empty == "" and flags["Max-Age"] == "0" and "HttpOnly" in flags


def test_a_ticket_from_another_browser_or_site_is_refused(server):
    ticket = ticket_for(server, "the browser that signed in")
    status, cookies = post(server.url, "/_docket/session", body=ticket,
                           headers={"Cookie": "docket_browser=someone else"})
    assert status == 403 and not [c for c in cookies if c.startswith("docket_session=")]
    ticket = ticket_for(server, "the browser that signed in")
    status, _ = post(server.url, "/_docket/session", body=ticket,
                     headers={"Cookie": "docket_browser=the browser that signed in",
                              "Origin": "https://evil.example"})
    assert status == 403
    assert post(server.url, "/_docket/session", body="x" * 1000)[0] == 413


# --- drafts ---------------------------------------------------------------------------------

def wait_for(condition, timeout_s: float = 15):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the condition")


def test_a_draft_comes_back_after_a_reload(server, context):
    db = Database(server.database_url)
    try:
        with db.read() as session:
            project_id = get_project(session=session, name=PROJECT).id
            admin = find_user(session=session, name=server.admin_name)
            item_id = find_assignment(session=session, project_id=project_id, user_id=admin.id,
                                      external_id="corr-003").item_id

        def stored():
            with db.read() as session:
                return get_draft(session=session, user_id=admin.id, item_id=item_id)

        page = context.new_page()
        page.goto(f"{server.url}/Annotate?project={project_id}&item=corr-003")
        sign_in(page, server.admin_name, server.admin_password)
        page.get_by_text("Item corr-003").first.wait_for()
        by_key(page, "annotate.label.correct.1").get_by_role("button").click()
        by_key(page, "annotate.label.correct.1").locator(
            '[data-testid="stBaseButton-primary"]').wait_for()
        comment = by_key(page, f"annotate.comment.{item_id}").locator("textarea")
        comment.fill("the dose is wrong")
        comment.press("Tab")  # the box commits its value when it loses the focus
        draft = wait_for(lambda: (found := stored()) and found.comment and found)
        assert (draft.labels, draft.comment) == ({"correct": "incorrect"}, "the dose is wrong")

        page.reload()
        page.get_by_text("Item corr-003").first.wait_for()
        by_key(page, "annotate.label.correct.1").locator(
            '[data-testid="stBaseButton-primary"]').wait_for()
        restored = by_key(page, f"annotate.comment.{item_id}").locator("textarea")
        assert restored.input_value() == "the dose is wrong"
        with db.read() as session:  # still only a draft, not a label
            assert user_labels(session=session, item_id=item_id, user_id=admin.id) == {}
    finally:
        db.dispose()
