"""Sign-in for every page: who is signed in, the sign-in and first-admin forms, sign-out.

A sign-in starts a server-side session (:mod:`storage.web_sessions`) that outlives the tab:
the page hands the browser a one-time ticket, which a small script exchanges for an
``HttpOnly`` session cookie (:mod:`components.web_routes`). A reload, a new tab or a deep link
then connects with that cookie (``st.context.cookies``) and opens signed in.

The Streamlit session remembers the session's row id, the user's id, a stamp of their
credentials and a digest of the browser's cookie (:mod:`components.browser`). Every rerun
re-reads the session with its user (never cached), so a sign-out in another tab, or a
demotion, deactivation or password reset done by an admin — in any server process — takes
effect at the user's next click; and a Streamlit session resumed by a connection without that
browser's cookie (a replayed session id) is signed out.

Sign-ins are throttled per (user name, client) pair and per client, the client read behind
the proxies named in ``DOCKET_TRUSTED_PROXIES``. While no admin exists, the first-admin form
also asks for the setup token if the server listens beyond loopback or the browser came
through a proxy (:mod:`components.setup_token`).

``DOCKET_AUTH=none`` switches sign-in off for a personal computer: everyone who reaches the
server acts as one local admin account, and every page says so in a warning banner.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from sqlmodel import Session

from components import browser
from components.browser import browser_binding, sign_in_client
from components.flash import flash
from components.setup_token import SETUP_TOKEN, setup_token_required
from core.client_address import ClientAddress
from core.safe_text import escape_markdown
from storage.auth_mode import auth_mode
from storage.authz import NotAllowed
from storage.database import Database
from storage.sign_in import sign_in
from storage.users import (
    LOCAL_ADMIN_NAME,
    MIN_PASSWORD_CHARS,
    UserError,
    UserInfo,
    create_first_admin,
    ensure_local_admin,
    find_user,
    get_user,
    needs_first_admin,
)
from storage.web_sessions import check_session, end_session, session_lifetimes, start_session

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_KEY = "auth.user_id"
STAMP_KEY = "auth.stamp"
BROWSER_KEY = "auth.browser"
WEB_SESSION_KEY = "auth.web_session"
TICKET_KEY = "auth.ticket"
CLEAR_COOKIE_KEY = "auth.clear_cookie"
MESSAGE_KEY = "auth.message"
SIGN_IN_NAME = "auth.sign_in.name"
SIGN_IN_PASSWORD = "auth.sign_in.password"
FIRST_NAME = "auth.first.name"
FIRST_DISPLAY_NAME = "auth.first.display_name"
FIRST_PASSWORD = "auth.first.password"
FIRST_REPEAT = "auth.first.repeat"
FIRST_TOKEN = "auth.first.token"

SINGLE_USER_WARNING = (
    "**Single-user mode (`DOCKET_AUTH=none`): there is no sign-in.** Anyone who can reach this "
    "server acts as the local admin and can change or delete everything. Use it only on your "
    "own computer; unset `DOCKET_AUTH` to require sign-in."
)
SESSION_ENDED = "You were signed out: your account was changed or deactivated. Sign in again."
SESSION_GONE = ("You were signed out: this browser signed out (perhaps in another tab), or the "
                "session expired. Sign in again.")
OTHER_BROWSER = ("You were signed out: this session was signed in from another browser. "
                 "Sign in again.")
NO_COOKIE = ("Signing in needs a cookie that this browser did not send. Allow cookies for this "
             "site and reload the page.")
WRONG_TOKEN = ("The setup token is wrong. This server is reachable from other computers, so the "
               "first admin needs the one-time token printed in the server log (at start-up, "
               "or when this form was first shown).")


def may_open(user: UserInfo, page_role: str | None) -> bool:
    """True if ``user`` may use a page that needs ``page_role`` (None: every signed-in user).

    Admins may open every page; other roles only pages for everyone or for their role.
    """
    return page_role is None or user.is_admin or user.role == page_role


def session_entries(user: UserInfo, web_session_id: int) -> dict[str, object]:
    """Return the session-state entries that mean "``user`` is signed in" in this browser,
    through the server-side session ``web_session_id``."""
    return {USER_KEY: user.id, STAMP_KEY: user.credential_stamp, BROWSER_KEY: browser_binding(),
            WEB_SESSION_KEY: web_session_id}


def begin_session(db: Database, user: UserInfo) -> None:
    """Sign ``user`` in in this browser session: start a server-side session and leave its
    one-time ticket for :func:`render_session_scripts`, which has the browser exchange it
    for the session cookie. Raises :class:`NotAllowed` if the account changed meanwhile."""
    binding = browser_binding()
    if binding is None:
        raise ValueError("signing in needs the browser cookie")
    new = start_session(db, actor=user, browser=binding)
    st.session_state.update(session_entries(user, new.session_id))
    st.session_state[TICKET_KEY] = new.ticket


def current_user(db: Database) -> UserInfo | None:
    """Return the signed-in user, re-read from the database, or None if nobody is signed in.

    A browser session not signed in yet resumes the session its cookie names, if that is
    still valid (a reload, a new tab, a deep link). A session that ended (signed out in
    another tab, expired, or its user deleted, deactivated or given a new password or role),
    or that is now driven by a connection without the cookie of the browser that signed in,
    is signed out here (with a notice for the sign-in form). In single-user mode returns the
    local admin account.
    """
    if auth_mode() == "none":
        return _local_admin(db)
    web_session_id = st.session_state.get(WEB_SESSION_KEY)
    if web_session_id is None:
        return _resume_from_cookie(db)
    if not _same_browser(st.session_state.get(BROWSER_KEY), browser_binding()):
        sign_out()
        st.session_state[MESSAGE_KEY] = OTHER_BROWSER
        return None
    found = check_session(db, session_id=web_session_id)
    if found is not None and found.user.credential_stamp == st.session_state.get(STAMP_KEY):
        return found.user
    message = _why_ended(db, st.session_state.get(USER_KEY))
    sign_out()
    st.session_state[MESSAGE_KEY] = message
    return None


def _resume_from_cookie(db: Database) -> UserInfo | None:
    request = browser.browser_request()  # through the module: tests stand in for it
    if request.session is None or request.cookie is None:
        return None
    found = check_session(db, token=request.session)
    if found is None:
        return None
    st.session_state.update(session_entries(found.user, found.session_id))
    return found.user


def _why_ended(db: Database, user_id: object) -> str:
    """The notice for a session that ended: the account changed, or only the session went."""
    if not isinstance(user_id, int):
        return SESSION_GONE
    with db.read() as session:
        user = get_user(session=session, user_id=user_id)
    if user is None or not user.active or user.credential_stamp != st.session_state.get(STAMP_KEY):
        return SESSION_ENDED
    return SESSION_GONE


def acting_user(db: Database, *, role: str | None = None) -> UserInfo | None:
    """The user a state-changing callback acts for, re-read now; None when they may not act.

    Callbacks run before the page's :func:`components.layout.page_setup` re-checks the
    session, and a click may wait in the browser while an admin deactivates, demotes or
    resets the clicker: so every callback that changes something starts here. A session that
    ended is signed out with the reason (see :func:`current_user`); a user without ``role``
    gets a notice. The storage function checks the same again inside its transaction.
    """
    user = current_user(db)
    if user is None:
        return None
    if not may_open(user, role):
        st.session_state[MESSAGE_KEY] = f"Nothing was saved: this needs the {role} role."
        sign_out_keeping_message()
        return None
    return user


def admin_change(db: Database, change: Callable[[Session, UserInfo], T], *,
                 errors: type[Exception] | tuple[type[Exception], ...], flash_key: str,
                 failure: str) -> T | None:
    """Carry out an admin's ``change`` (given the session and the acting admin) in one write
    transaction from a widget callback; return its result, or None when nothing was done: the
    clicker may not act (signed out with the reason), or ``errors`` was raised (flashed under
    ``flash_key`` as "``failure``: reason.")."""
    actor = acting_user(db, role="admin")
    if actor is None:
        return None
    try:
        with db.write() as session:
            return change(session, actor)
    except NotAllowed as exc:
        refused(exc)
    except errors as exc:
        flash(flash_key, "error", f"{failure}: {escape_markdown(exc)}.")
    return None


def refused(exc: NotAllowed) -> None:
    """End the session after a storage function refused its actor (what the next click would
    find): signed out, with the reason shown on the sign-in form."""
    log.info("a change was refused: %s", exc)
    st.session_state[MESSAGE_KEY] = f"Nothing was saved: {exc}."
    sign_out_keeping_message()


def sign_out_keeping_message() -> None:
    """Sign out, keeping the notice for the sign-in form."""
    message = st.session_state.get(MESSAGE_KEY)
    sign_out()
    if message:
        st.session_state[MESSAGE_KEY] = message


def sign_out() -> None:
    """End the browser session's sign-in and forget everything it held (forms, uploads).

    The whole session state goes, so the next person at this browser sees nothing of the
    previous user's work in progress. The server-side session is left alone (see
    :func:`end_sign_in`): this is also how a session that ended elsewhere is let go.
    """
    st.session_state.clear()


def end_sign_in(db: Database) -> None:
    """The Sign out button: end the server-side session (every tab of this browser, on every
    server process, at its next click), forget the browser session and clear the cookie."""
    web_session_id = st.session_state.get(WEB_SESSION_KEY)
    if isinstance(web_session_id, int):
        end_session(db, session_id=web_session_id)
    sign_out()
    st.session_state[CLEAR_COOKIE_KEY] = True


# Constant scripts apart from the ticket (random URL-safe text, JSON-quoted): no user or item
# text is ever part of them.
# Images (components.image_route) need the cookie: one drawn by the run that signed in may
# have been refused before the cookie came; once it is set, those are loaded again (setting
# an <img>'s src, even to the same URL, loads it anew; a refusal is never cached).
_EXCHANGE_SCRIPT = """<script>
fetch("/_docket/session", {{method: "POST", credentials: "same-origin", cache: "no-store",
  headers: {{"Content-Type": "text/plain"}}, body: {ticket}}}).then(() => {{
  const retry = () => document.querySelectorAll('img[src*="/_docket/image/"]').forEach(
    (img) => {{ if (img.complete && img.naturalWidth === 0) {{ img.src = img.src; }} }});
  retry(); setTimeout(retry, 1000); setTimeout(retry, 4000);
}});
</script>"""
_CLEAR_SCRIPT = """<script>
fetch("/_docket/session/end", {method: "POST", credentials: "same-origin", cache: "no-store"});
</script>"""


def render_session_scripts() -> None:
    """Draw the script that exchanges a fresh sign-in's ticket for the session cookie, once."""
    ticket = st.session_state.pop(TICKET_KEY, None)
    if isinstance(ticket, str):
        st.html(_EXCHANGE_SCRIPT.format(ticket=json.dumps(ticket)), unsafe_allow_javascript=True)


def require_user(db: Database, *, role: str | None) -> UserInfo:
    """Return the signed-in user if they may use a page needing ``role``; otherwise stop.

    Raises :class:`~storage.auth_mode.AuthConfigError` for a bad ``DOCKET_AUTH`` or session
    lifetime setting.

    Nobody signed in: draws only the sign-in form (or, while no admin exists, the form that
    creates the first admin) and stops the script. In single-user mode draws the warning
    banner and returns the local admin. A user without the role is not handled here (the
    caller draws the navigation first, then calls :func:`deny_unless_allowed`).
    """
    mode = auth_mode()
    if mode == "none":
        st.warning(SINGLE_USER_WARNING, icon=":material/warning:")
    else:
        session_lifetimes()  # a bad setting stops every page, not only a sign-in
    user = current_user(db)
    if user is not None:
        return user
    with db.read() as session:
        first_run = needs_first_admin(session=session)
    if first_run:
        _first_admin_form(db)
    else:
        _sign_in_form(db)
    st.stop()
    raise AssertionError("st.stop() ends the script")  # for type checkers: never returns


def deny_unless_allowed(user: UserInfo, *, role: str | None, title: str) -> None:
    """Show "not allowed" and stop the script unless ``user`` may open a page needing ``role``."""
    if may_open(user, role):
        return
    st.error(f"You are not allowed to open **{escape_markdown(title)}**: it is for the {role} "
             f"role, and you are signed in as {escape_markdown(user.name)} ({user.role}).",
             icon=":material/block:")
    st.stop()


def _local_admin(db: Database) -> UserInfo:
    with db.read() as session:
        user = find_user(session=session, name=LOCAL_ADMIN_NAME)
    if user is not None and user.is_admin and user.active:
        return user
    with db.write() as session:
        return ensure_local_admin(session=session)


def _same_browser(signed_in: object, current: str | None) -> bool:
    if signed_in is None or current is None:
        return signed_in is current  # no browser at all: a test harness or a benchmark
    return isinstance(signed_in, str) and hmac.compare_digest(signed_in, current)


def _show_message() -> None:
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        st.error(message, icon=":material/error:")


def _sign_in_form(db: Database) -> None:
    client = sign_in_client()  # first: a bad proxy setting stops the page before it draws
    st.title("Sign in to Docket", anchor=False)
    _show_message()
    if st.session_state.pop(CLEAR_COOKIE_KEY, False):
        # Signed out here: the browser forgets the id, once. A cookie naming a session that
        # ended elsewhere is left alone: it opens nothing, and clearing it from a stale tab
        # could clear the cookie another tab of this browser has just been given.
        st.html(_CLEAR_SCRIPT, unsafe_allow_javascript=True)
    with st.form("auth.sign_in", width=420):
        st.text_input("User name", key=SIGN_IN_NAME, autocomplete="username")
        st.text_input("Password", type="password", key=SIGN_IN_PASSWORD,
                      autocomplete="current-password")
        st.form_submit_button("Sign in", key="auth.sign_in.submit", type="primary",
                              on_click=_on_sign_in, args=(db, client))


def _on_sign_in(db: Database, client: ClientAddress) -> None:
    name = st.session_state.get(SIGN_IN_NAME, "")
    password = st.session_state.get(SIGN_IN_PASSWORD, "")
    st.session_state[SIGN_IN_PASSWORD] = ""  # never keep a typed password in the session
    if not name.strip() or not password:
        st.session_state[MESSAGE_KEY] = "Enter your user name and password."
        return
    if browser_binding() is None:
        st.session_state[MESSAGE_KEY] = NO_COOKIE
        return
    result = sign_in(db, name=name, password=password, client=client.key, local=client.local)
    if result.user is None:
        st.session_state[MESSAGE_KEY] = result.message
        return
    try:
        begin_session(db, result.user)
    except NotAllowed:  # deactivated or reset between the password check and now
        st.session_state[MESSAGE_KEY] = SESSION_ENDED


def _first_admin_form(db: Database) -> None:
    st.title("Welcome to Docket", anchor=False)
    st.markdown("There is no admin account yet. Create the first one: it can import data, "
                "add annotators and other admins, and export results.")
    _show_message()
    token_required = setup_token_required(sign_in_client())
    if token_required:
        SETUP_TOKEN.issue()
    with st.form("auth.first_admin", width=420):
        if token_required:
            st.text_input("Setup token", type="password", key=FIRST_TOKEN,
                          help="This server is reachable from other computers: the token is "
                               "printed in the server log (it works once)")
        st.text_input("User name", key=FIRST_NAME, autocomplete="username",
                      help="Letters, digits and . _ @ + - (e.g. maria or maria@example.org)")
        st.text_input("Display name (optional)", key=FIRST_DISPLAY_NAME)
        st.text_input("Password", type="password", key=FIRST_PASSWORD, autocomplete="new-password",
                      help=f"At least {MIN_PASSWORD_CHARS} characters")
        st.text_input("Repeat the password", type="password", key=FIRST_REPEAT,
                      autocomplete="new-password")
        st.form_submit_button("Create admin and sign in", key="auth.first.submit", type="primary",
                              on_click=_on_first_admin, args=(db, token_required))


def _on_first_admin(db: Database, token_required: bool) -> None:
    password = st.session_state.get(FIRST_PASSWORD, "")
    repeat = st.session_state.get(FIRST_REPEAT, "")
    token = st.session_state.get(FIRST_TOKEN, "")
    st.session_state[FIRST_PASSWORD] = st.session_state[FIRST_REPEAT] = ""
    st.session_state[FIRST_TOKEN] = ""
    if token_required and not SETUP_TOKEN.matches(token):
        st.session_state[MESSAGE_KEY] = WRONG_TOKEN
        return
    if password != repeat:
        st.session_state[MESSAGE_KEY] = "The two passwords differ."
        return
    if browser_binding() is None:
        st.session_state[MESSAGE_KEY] = NO_COOKIE
        return
    try:
        with db.write() as session:
            user = create_first_admin(session=session, name=st.session_state.get(FIRST_NAME, ""),
                                      password=password,
                                      display_name=st.session_state.get(FIRST_DISPLAY_NAME, ""))
    except UserError as exc:
        st.session_state[MESSAGE_KEY] = f"Cannot create the admin: {escape_markdown(exc)}."
        return
    if token_required:
        SETUP_TOKEN.consume()
    log.info("first admin %r created from the browser", user.name)
    begin_session(db, user)
