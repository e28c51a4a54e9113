"""The Users page (admins only): the user list, adding users, passwords, roles, (de)activation,
and the users' API tokens (:mod:`components.api_tokens_view`).

Every change runs in a button callback, so the list drawn afterwards already shows it; the
outcome is shown once at the top of the page. Typed passwords are cleared from the session
right after use and never appear in a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from components.api_tokens_view import render_api_tokens
from components.auth import acting_user, begin_session, refused
from components.flash import flash, show_flash
from core.safe_text import escape_markdown
from storage.auth_mode import auth_mode
from storage.authz import NotAllowed
from storage.database import Database
from storage.models import ROLES
from storage.users import (
    MIN_PASSWORD_CHARS,
    UserError,
    UserInfo,
    change_role,
    create_user,
    list_users,
    set_active,
    set_password,
)

_FLASH = "users.flash"
ADD_NAME = "users.add.name"
ADD_DISPLAY_NAME = "users.add.display_name"
ADD_ROLE = "users.add.role"
ADD_PASSWORD = "users.add.password"
ADD_REPEAT = "users.add.repeat"
PICK = "users.pick"
NEW_PASSWORD = "users.password.new"
NEW_REPEAT = "users.password.repeat"

ROLE_HELP = ("**admin**: projects, import, users, export, adjudication. **annotator**: labels "
             "the items in their own queue.")


def users_frame(users: Sequence[UserInfo]) -> pd.DataFrame:
    """Return the user list as a table: name, display name, role, active, can sign in, created."""
    return pd.DataFrame(
        [(u.name, u.display_name, u.role, u.active, u.has_password, u.created_at) for u in users],
        columns=["user", "display name", "role", "active", "can sign in", "created"],
    )


def role_key(user_id: int) -> str:
    """Session key of the role choice for one user."""
    return f"users.role.{user_id}"


def render_users(db: Database) -> None:
    """Draw the Users page (for admins: each change re-checks who acts)."""
    st.title("Users", anchor=False)
    st.markdown(f"{ROLE_HELP} Annotators named in an import have no password and cannot sign in "
                "until you set one here.")
    show_flash(_FLASH)
    with db.read() as session:
        users = list_users(session=session)
    st.dataframe(users_frame(users), hide_index=True, width="content")
    left, right = st.columns(2, gap="large")
    with left:
        _add_user_form(db)
    with right:
        _change_user(db, users)
    render_api_tokens(db, users)


def _add_user_form(db: Database) -> None:
    st.subheader("Add a user", anchor=False)
    with st.form("users.add"):
        st.text_input("User name", key=ADD_NAME,
                      help="Letters, digits and . _ @ + - (e.g. maria or maria@example.org)")
        st.text_input("Display name (optional)", key=ADD_DISPLAY_NAME)
        st.selectbox("Role", ROLES, index=ROLES.index("annotator"), key=ADD_ROLE)
        st.text_input("Initial password", type="password", key=ADD_PASSWORD,
                      autocomplete="new-password", help=f"At least {MIN_PASSWORD_CHARS} characters")
        st.text_input("Repeat the password", type="password", key=ADD_REPEAT,
                      autocomplete="new-password")
        st.form_submit_button("Add user", key="users.add.submit", type="primary",
                              icon=":material/person_add:", on_click=_on_add, args=(db,))


def _change_user(db: Database, users: Sequence[UserInfo]) -> None:
    st.subheader("Change a user", anchor=False)
    by_id = {user.id: user for user in users}
    picked = st.selectbox("User", list(by_id), key=PICK,
                          format_func=lambda uid: _describe(by_id[uid]))
    user = by_id[picked]
    role = st.selectbox("Role", ROLES, index=ROLES.index(user.role), key=role_key(user.id))
    st.button("Change role", key="users.change_role", disabled=role == user.role,
              on_click=_on_change_role, args=(db, user.id))
    if user.active:
        st.button("Deactivate", key="users.toggle_active", icon=":material/person_off:",
                  on_click=_on_set_active, args=(db, user.id, False),
                  help="A deactivated user is signed out at their next click and cannot sign in. "
                       "Their labels stay.")
    else:
        st.button("Activate", key="users.toggle_active", icon=":material/person_check:",
                  on_click=_on_set_active, args=(db, user.id, True))
    with st.form("users.password"):
        action = "Reset password" if user.has_password else "Set password"
        st.text_input("New password", type="password", key=NEW_PASSWORD, autocomplete="new-password",
                      help=f"At least {MIN_PASSWORD_CHARS} characters. The user's open sessions "
                           "end at their next click.")
        st.text_input("Repeat the new password", type="password", key=NEW_REPEAT,
                      autocomplete="new-password")
        st.form_submit_button(action, key="users.password.submit", icon=":material/key:",
                              on_click=_on_set_password, args=(db, user.id))


def _describe(user: UserInfo) -> str:
    state = "" if user.active else ", inactive"
    return f"{user.name} ({user.role}{state})"


def _run(action: Callable[[], UserInfo], success: Callable[[UserInfo], str]) -> UserInfo | None:
    """Run one user change and flash its outcome; return the changed user, None on an error
    (a refused actor is signed out with the reason)."""
    try:
        user = action()
    except NotAllowed as exc:
        refused(exc)
        return None
    except UserError as exc:
        flash(_FLASH, "error", f"Not changed: {escape_markdown(exc)}.")
        return None
    flash(_FLASH, "success", success(user))
    return user


def _take_passwords(*keys: str) -> list[str]:
    """Return the typed passwords and clear them from the session."""
    values = [st.session_state.get(key, "") for key in keys]
    for key in keys:
        st.session_state[key] = ""
    return values


def _on_add(db: Database) -> None:
    password, repeat = _take_passwords(ADD_PASSWORD, ADD_REPEAT)
    actor = acting_user(db, role="admin")
    if actor is None:
        return
    if password != repeat:
        flash(_FLASH, "error", "Not added: the two passwords differ.")
        return

    def add() -> UserInfo:
        with db.write() as session:
            return create_user(session=session, name=st.session_state.get(ADD_NAME, ""),
                               role=st.session_state.get(ADD_ROLE, "annotator"), password=password,
                               display_name=st.session_state.get(ADD_DISPLAY_NAME, ""),
                               actor=actor)

    if _run(add, lambda user: f"Added {escape_markdown(user.name)} ({user.role}).") is not None:
        st.session_state[ADD_NAME] = st.session_state[ADD_DISPLAY_NAME] = ""


def _on_change_role(db: Database, user_id: int) -> None:
    actor = acting_user(db, role="admin")
    if actor is None:
        return

    def change() -> UserInfo:
        with db.write() as session:
            return change_role(session=session, user_id=user_id,
                               role=st.session_state[role_key(user_id)], actor=actor)

    if _run(change, lambda user: f"{escape_markdown(user.name)} is now {user.role}.") is None:
        st.session_state.pop(role_key(user_id), None)  # show the role the user still has


def _on_set_active(db: Database, user_id: int, active: bool) -> None:
    actor = acting_user(db, role="admin")
    if actor is None:
        return

    def change() -> UserInfo:
        with db.write() as session:
            return set_active(session=session, user_id=user_id, active=active, actor=actor)

    _run(change, lambda user: f"{escape_markdown(user.name)} is now "
                              f"{'active' if user.active else 'deactivated'}.")


def _on_set_password(db: Database, user_id: int) -> None:
    password, repeat = _take_passwords(NEW_PASSWORD, NEW_REPEAT)
    actor = acting_user(db, role="admin")
    if actor is None:
        return
    if password != repeat:
        flash(_FLASH, "error", "Password not changed: the two passwords differ.")
        return

    def change() -> UserInfo:
        with db.write() as session:
            return set_password(session=session, user_id=user_id, password=password,
                                actor=actor)

    user = _run(change, lambda user: f"New password set for {escape_markdown(user.name)}.")
    if user is not None and user.id == actor.id and auth_mode() == "password":
        # Keep this browser signed in: a new password ends the user's sessions (every other
        # browser's), and this one gets a new session and cookie.
        try:
            begin_session(db, user)
        except NotAllowed as exc:
            refused(exc)
