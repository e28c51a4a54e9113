"""One-shot messages that survive the rerun a button callback triggers."""

from __future__ import annotations

import streamlit as st


def flash(key: str, kind: str, message: str) -> None:
    """Queue ``message`` (kind ``"success"`` or ``"error"``) to show once on the next run."""
    st.session_state[key] = (kind, message)


def show_flash(key: str) -> None:
    """Show and forget the message queued under ``key``, if any."""
    queued = st.session_state.pop(key, None)
    if queued is None:
        return
    kind, message = queued
    if kind == "error":
        st.error(message, icon=":material/error:")
    else:
        st.success(message, icon=":material/check_circle:")
