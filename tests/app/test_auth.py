"""Sign-in through the real forms (AppTest): first admin, sign-in and out, identical failure
messages, throttling kept in the database, changes by an admin taking effect at the next click,
and single-user mode."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import components.browser
from components.auth import SESSION_ENDED, SINGLE_USER_WARNING, USER_KEY
from components.browser import BrowserRequest
from components.layout import PAGES
from storage.authz import OPERATOR
from storage.models import SignInAttempt, UserAccount
from storage.sign_in import PAIR_FREE_FAILURES, SIGN_IN_FAILED
from storage.users import change_role, create_user, find_user, list_users, set_active, set_password, utcnow
from tests.app.apptest_helpers import open_page, rendered, sign_in_through_the_form
from tests.app.conftest import ADMIN_PASSWORD, ANNOTATOR_PASSWORD

IMPORT_PAGE = "pages/1_Import.py"


def signed_in_id(at) -> int | None:
    return at.session_state.get(USER_KEY)


def nav(at) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


# --- first admin --------------------------------------------------------------------------


def test_first_admin_form_creates_the_admin_and_signs_in(app_db_any):
    db = app_db_any
    at = open_page()
    at.text_input(key="auth.first.name").input("maria")
    at.text_input(key="auth.first.display_name").input("Maria Rossi")
    at.text_input(key="auth.first.password").input("first admin pw")
    at.text_input(key="auth.first.repeat").input("first admin pw")
    at.button(key="auth.first.submit").click().run()

    assert not at.exception
    assert at.title[0].value == "Docket"
    assert nav(at) == [page.label for page in PAGES]
    with db.read() as session:
        (user,) = list_users(session=session)
    assert (user.name, user.display_name, user.role, user.active) == (
        "maria", "Maria Rossi", "admin", True)
    assert signed_in_id(at) == user.id
    assert at.session_state["auth.first.password"] == ""  # not kept in the session


@pytest.mark.parametrize(("password", "repeat", "message"), [
    ("first admin pw", "first admin pX", "The two passwords differ."),
    ("Xq7#pz", "Xq7#pz", "Cannot create the admin: password is too short: at least 10 characters."),
])
def test_first_admin_form_refuses_bad_passwords_without_echoing_them(app_db, password, repeat,
                                                                     message):
    at = open_page()
    at.text_input(key="auth.first.name").input("maria")
    at.text_input(key="auth.first.password").input(password)
    at.text_input(key="auth.first.repeat").input(repeat)
    at.button(key="auth.first.submit").click().run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [message]
    assert password not in message
    assert signed_in_id(at) is None
    with app_db.read() as session:
        assert list_users(session=session) == []
    assert at.text_input(key="auth.first.name").value == "maria"  # kept for the next try


# --- signing in and out -------------------------------------------------------------------


def test_sign_in_through_the_form_then_sign_out(app_db_any, admin):
    at = open_page(IMPORT_PAGE)
    sign_in_through_the_form(at, "ada", ADMIN_PASSWORD)
    assert not at.exception
    assert signed_in_id(at) == admin.id
    assert at.title[0].value == "Import"  # the page that was asked for
    assert at.session_state["auth.sign_in.password"] == ""

    at.sidebar.button(key="auth.sign_out").click().run()
    assert signed_in_id(at) is None
    assert at.title[0].value == "Sign in to Docket"
    assert rendered(at, "sidebar") == []


@pytest.mark.parametrize("name", ["ada", "nobody", "ann_inactive", "imported"])
def test_every_failed_sign_in_gives_the_same_answer(app_db, admin, name):
    with app_db.write() as session:
        create_user(session=session, name="imported", role="annotator", password=None, actor=OPERATOR)
        sleeper = create_user(session=session, name="ann_inactive", role="annotator",
                              password="right password", actor=OPERATOR)
        set_active(session=session, user_id=sleeper.id, active=False, actor=OPERATOR)
    at = open_page()
    sign_in_through_the_form(at, name, "right password" if name == "ann_inactive" else "not it at all")
    assert not at.exception
    assert signed_in_id(at) is None
    # The whole page, not only the message, must look the same for every one of these names.
    assert rendered(at) == [
        ("title", None, "Sign in to Docket"),
        ("error", None, SIGN_IN_FAILED),
        ("text_input", "auth.sign_in.name", name),
        ("text_input", "auth.sign_in.password", ""),
        ("button", "auth.sign_in.submit", None),
    ]


def test_empty_fields_are_asked_for_and_not_counted(app_db, admin):
    at = open_page()
    sign_in_through_the_form(at, "ada", "")
    assert [e.value for e in at.error] == ["Enter your user name and password."]
    with app_db.read() as session:
        assert session.execute(select(SignInAttempt)).first() is None


def test_throttling_after_repeated_failures_is_stored_in_the_database(app_db, admin,
                                                                      monkeypatch):
    monkeypatch.setattr(components.browser, "browser_request", lambda: BrowserRequest(
        peer="203.0.113.9", forwarded_for=(), cookie="apptest"))
    at = open_page()
    for _ in range(PAIR_FREE_FAILURES + 1):
        sign_in_through_the_form(at, "ada", "not the password")
        assert [e.value for e in at.error] == [SIGN_IN_FAILED]
    with app_db.read() as session:
        rows = {row.scope: row for row in session.execute(select(SignInAttempt)).scalars()}
    assert {scope: row.failures for scope, row in rows.items()} == {
        "pair": PAIR_FREE_FAILURES + 1, "client": PAIR_FREE_FAILURES + 1}
    assert rows["pair"].locked_until > utcnow()

    # Now even the right password is refused, from a brand-new browser session too.
    fresh = open_page()
    sign_in_through_the_form(fresh, "ada", ADMIN_PASSWORD)
    assert signed_in_id(fresh) is None
    (message,) = [e.value for e in fresh.error]
    assert message.startswith("Too many failed sign-ins. Try again in ")
    # An unknown name is throttled the same way.
    for _ in range(PAIR_FREE_FAILURES + 1):
        sign_in_through_the_form(fresh, "nobody", "not the password")
        assert [e.value for e in fresh.error] == [SIGN_IN_FAILED]
    sign_in_through_the_form(fresh, "nobody", "not the password")
    assert fresh.error[0].value.startswith("Too many failed sign-ins. Try again in ")


# --- changes by an admin take effect at the next click ------------------------------------


def test_deactivated_user_is_signed_out_at_the_next_rerun(app_db_any, annotator):
    at = open_page(user=annotator)
    assert at.title[0].value == "Docket"
    with app_db_any.write() as session:
        set_active(session=session, user_id=annotator.id, active=False, actor=OPERATOR)
    at.run()
    assert not at.exception
    assert signed_in_id(at) is None
    assert rendered(at) == [
        ("title", None, "Sign in to Docket"),
        ("error", None, SESSION_ENDED),
        ("text_input", "auth.sign_in.name", ""),
        ("text_input", "auth.sign_in.password", ""),
        ("button", "auth.sign_in.submit", None),
    ]
    sign_in_through_the_form(at, "ann", ANNOTATOR_PASSWORD)  # and cannot sign in again
    assert [e.value for e in at.error] == [SIGN_IN_FAILED]


def test_demoted_admin_is_signed_out_at_the_next_rerun(app_db_any, admin, annotator):
    # A role change ends the user's sessions (credential_version is part of the stamp): a
    # session that began as admin never acts as one again, even if promoted back later.
    with app_db_any.write() as session:
        promoted = change_role(session=session, user_id=annotator.id, role="admin", actor=OPERATOR)
    at = open_page(IMPORT_PAGE, user=promoted)
    assert at.file_uploader(key="import.uploader")
    with app_db_any.write() as session:
        change_role(session=session, user_id=annotator.id, role="annotator", actor=OPERATOR)
        change_role(session=session, user_id=annotator.id, role="admin", actor=OPERATOR)
    at.run()
    assert not at.exception
    assert signed_in_id(at) is None
    assert at.error[0].value == SESSION_ENDED


def test_password_reset_by_an_admin_ends_the_users_session(app_db, annotator):
    at = open_page(user=annotator)
    with app_db.write() as session:
        set_password(session=session, user_id=annotator.id, password="a brand new one", actor=OPERATOR)
    at.run()
    assert signed_in_id(at) is None
    assert at.error[0].value == SESSION_ENDED


def test_a_deleted_user_is_signed_out(app_db, annotator):
    at = open_page(user=annotator)
    with app_db.write() as session:
        session.delete(session.get(UserAccount, annotator.id))
    at.run()
    assert not at.exception
    assert signed_in_id(at) is None
    assert at.title[0].value == "Sign in to Docket"


# --- single-user mode ---------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_single_user_mode_shows_the_warning_on_every_page(app_db, monkeypatch, page):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    at = open_page(page.path)
    assert not at.exception
    assert at.warning[0].value == SINGLE_USER_WARNING
    assert rendered(at)[0] == ("warning", None, SINGLE_USER_WARNING)  # first, above everything
    assert at.title[0].value == ("Docket" if page.path == "app.py" else page.label)
    assert nav(at) == [entry.label for entry in PAGES]
    with pytest.raises(KeyError):
        at.sidebar.button(key="auth.sign_out")  # nothing to sign out of
    with app_db.read() as session:
        local = find_user(session=session, name="local-admin")
    assert (local.role, local.active, local.has_password) == ("admin", True, False)


def test_unknown_auth_mode_stops_the_app(app_db, admin, monkeypatch, caplog):
    monkeypatch.setenv("DOCKET_AUTH", "off")
    at = open_page(IMPORT_PAGE, user=admin)
    assert not at.exception
    ((kind, _, message),) = rendered(at)
    assert kind == "error" and message.startswith("Docket is not available")
    assert ("DOCKET_AUTH must be one of password, none (or unset); got 'off'"
            in caplog.text)  # the reason goes to the server log only
