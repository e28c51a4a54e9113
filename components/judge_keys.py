"""Where the app finds a judge's API key: by the *name* the judge stores, in the server's
environment first, then in Streamlit secrets (``.streamlit/secrets.toml``).

The value is handed straight to the code that calls the endpoint; it is never put in session
state, a message, a log record or anything drawn on a page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError


def _secret(name: str) -> str | None:
    try:
        value = st.secrets.get(name)
    except (StreamlitSecretNotFoundError, FileNotFoundError):  # no secrets file at all
        return None
    return value if isinstance(value, str) else None


def judge_key_environ(names: Iterable[str | None]) -> dict[str, str]:
    """``{name: key}`` for each of ``names`` set (non-blank) in the environment or, failing
    that, in Streamlit secrets; names set nowhere are left out (None names are skipped)."""
    found = {}
    for name in names:
        if not name:
            continue
        value = os.environ.get(name) or _secret(name)
        if value and value.strip():
            found[name] = value
    return found
