"""The Users page's API tokens section (admins): create a token for a user (its secret shown
once), list every token, revoke one. Tokens are for scripts and notebooks calling the HTTP
API (``/api/v1``); each acts as its user with the user's role at the time of use."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from components.auth import admin_change
from components.flash import flash, show_flash
from core.safe_text import escape_markdown
from storage.api_tokens import TokenInfo, create_token, list_tokens, revoke_token
from storage.database import Database
from storage.users import UserError, UserInfo

_FLASH = "tokens.flash"
NEW_SECRET = "tokens.new_secret"
OWNER = "tokens.owner"
LABEL = "tokens.label"
REVOKE = "tokens.revoke"


def tokens_frame(tokens: Sequence[TokenInfo]) -> pd.DataFrame:
    """Return the token list as a table: id, user, name, created, last used, state."""
    return pd.DataFrame(
        [(t.id, t.user_name, t.name, t.created_at, t.last_used_at,
          "active" if t.active else "revoked") for t in tokens],
        columns=["id", "user", "name", "created", "last used", "state"])


def render_api_tokens(db: Database, users: Sequence[UserInfo]) -> None:
    """Draw the API tokens section: the new token (once), the create form, the list, revoke."""
    st.subheader("API tokens", anchor=False)
    st.markdown("Personal tokens for scripts calling the HTTP API (`/api/v1`, see the README). "
                "A token acts as its user with the user's current role; it stops working when "
                "revoked or while its user is deactivated.")
    show_flash(_FLASH)
    secret = st.session_state.pop(NEW_SECRET, None)
    if secret is not None:
        st.success("Copy the new token now: it is shown this once and stored only hashed.")
        st.code(secret, language=None)
    active = [user for user in users if user.active]
    by_id = {user.id: user for user in active}
    with st.form("tokens.create"):
        st.selectbox("For user", list(by_id), key=OWNER,
                     format_func=lambda uid: f"{by_id[uid].name} ({by_id[uid].role})")
        st.text_input("Token name", key=LABEL, max_chars=100,
                      placeholder="what it is for, e.g. nightly pipeline")
        st.form_submit_button("Create token", key="tokens.create.submit",
                              icon=":material/key:", on_click=_on_create, args=(db,))
    with db.read() as session:
        tokens = list_tokens(session=session)
    if not tokens:
        st.caption("No API tokens yet.")
        return
    st.dataframe(tokens_frame(tokens), hide_index=True, width="content")
    usable = {token.id: token for token in tokens if token.active}
    if usable:
        st.selectbox("Token", list(usable), key=REVOKE,
                     format_func=lambda tid: f"{tid}: {usable[tid].name} of "
                                             f"{usable[tid].user_name}")
        st.button("Revoke token", key="tokens.revoke.submit", icon=":material/block:",
                  on_click=_on_revoke, args=(db,))


def _on_create(db: Database) -> None:
    owner = st.session_state.get(OWNER)
    label = st.session_state.get(LABEL, "")
    if owner is None:
        flash(_FLASH, "error", "Not created: choose a user.")
        return
    new = admin_change(db, lambda session, actor: create_token(
        session=session, user_id=owner, name=label, actor=actor),
        errors=UserError, flash_key=_FLASH, failure="Not created")
    if new is not None:
        st.session_state[NEW_SECRET] = new.secret
        st.session_state[LABEL] = ""
        flash(_FLASH, "success", f"Token {escape_markdown(new.info.name)} created for "
                                 f"{escape_markdown(new.info.user_name)}.")


def _on_revoke(db: Database) -> None:
    token_id = st.session_state.get(REVOKE)
    if token_id is None:
        return
    info = admin_change(db, lambda session, actor: revoke_token(
        session=session, token_id=token_id, actor=actor),
        errors=UserError, flash_key=_FLASH, failure="Not revoked")
    if info is not None:
        flash(_FLASH, "success", f"Token {escape_markdown(info.name)} of "
                                 f"{escape_markdown(info.user_name)} revoked.")
