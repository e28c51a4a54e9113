"""The one-time setup token: on a server others can reach, only whoever reads the server log
may create the first admin.

While no admin exists, the first-admin form makes its user an admin. Bound to loopback (the
default, ``server.address = "127.0.0.1"``) only this computer can open it. Bound to any other
address, the form also asks for a random token that the server writes to its log at start
(logging, level WARNING), so a stranger on the network who finds the form first cannot claim
the server. The token is compared in constant time and dies with its first successful use.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading

import streamlit as st

from core.client_address import is_loopback_host

log = logging.getLogger(__name__)


def setup_token_required() -> bool:
    """True if the server listens on more than loopback (``server.address``), so creating the
    first admin needs the setup token."""
    return not is_loopback_host(st.get_option("server.address"))


class SetupToken:
    """The server process's setup token: issued once, logged, consumed by one first admin."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: str | None = None

    def issue(self) -> None:
        """Create the token and write it to the server log, unless one is already waiting."""
        with self._lock:
            if self._value is not None:
                return
            self._value = secrets.token_urlsafe(16)
            log.warning("Docket listens on %r, beyond this computer, and has no admin yet: the "
                        "first-admin form asks for this one-time setup token: %s",
                        st.get_option("server.address") or "all interfaces", self._value)

    def matches(self, typed: str) -> bool:
        """True if ``typed`` is the waiting token (constant-time compare); False if none waits."""
        with self._lock:
            expected = self._value
        return expected is not None and hmac.compare_digest(
            typed.strip().encode("utf-8", "surrogatepass"), expected.encode())

    def consume(self) -> None:
        """Forget the token after it created the first admin: it works only once."""
        with self._lock:
            self._value = None


SETUP_TOKEN = SetupToken()
