"""The page boundary: what a browser sees when a page fails, and what the server log keeps.

A failure never shows the browser a traceback, a server file path or an exception's text (it
may quote a file's content or a setting). The browser gets one short message with an error
id; the server log gets the same id with the traceback, so an admin can find it.
``client.showErrorDetails = "none"`` (``.streamlit/config.toml``) is the fallback should this
handler itself fail: Streamlit then shows only its generic sentence.
"""

from __future__ import annotations

import logging
import secrets

import streamlit as st

log = logging.getLogger(__name__)

PAGE_FAILED = ("Something went wrong on this page. The details are in the server log under "
               "error id `{id}`: please pass the id on to your administrator.")
UNAVAILABLE = ("Docket is not available: its configuration or its database has a problem. The "
               "administrator finds the reason in the server log under error id `{id}`.")


def new_error_id() -> str:
    """Return a fresh, random 8-character id that ties a browser message to a log entry."""
    return secrets.token_hex(4)


def on_page_error(exc: Exception) -> bool:
    """``st.App(on_script_error=...)``: log ``exc`` with its traceback under a new error id,
    show the browser only the id; return True (Streamlit then draws nothing of ``exc``).

    Called by Streamlit for an uncaught exception of any page run, widget callback or fragment.
    """
    error_id = new_error_id()
    log.error("page failed (error id %s)", error_id, exc_info=exc)
    st.error(PAGE_FAILED.format(id=error_id), icon=":material/error:")
    return True


def show_unavailable(reason: Exception) -> None:
    """Log why Docket cannot serve pages (a setting, the database) under a new error id and
    show the browser only that it is unavailable, with the id.

    The reason may name a database host, a user or a setting's value: it goes to the server
    log only, never to a visitor (nobody can be signed in while this happens).
    """
    error_id = new_error_id()
    log.error("Docket is not available (error id %s): %s", error_id, reason)
    st.error(UNAVAILABLE.format(id=error_id), icon=":material/error:")
