"""The one-time setup token: on a server others can reach, only whoever reads the server log
may create the first admin.

While no admin exists, the first-admin form makes its user an admin. Bound to loopback (the
default, ``server.address = "127.0.0.1"``) and opened directly, only this computer can open it.
Bound to any other address, or opened through a reverse proxy (the connection carries
``X-Forwarded-For``: a loopback-bound process behind nginx is reachable by everyone who reaches
nginx), the form also asks for a token that the server writes to its log (logging, level
WARNING), so a stranger on the network who finds the form first cannot claim the server. The
token is compared in constant time and dies with its first successful use.

The token is an HMAC of Streamlit's ``server.cookieSecret``, not a random value of one process:
several app processes behind one proxy (README, "Running several processes") share that secret,
so they all log and accept the same token, whichever process a browser reaches. Without the
setting Streamlit draws a random secret per process, so a single server's token is as random as
before. It is only ever accepted while the database has no admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading

import streamlit as st

from core.client_address import ClientAddress, is_loopback_host

log = logging.getLogger(__name__)


TOKEN_LABEL = b"docket first-admin setup token"
TOKEN_BYTES = 16


def setup_token_required(client: ClientAddress | None = None) -> bool:
    """True if creating the first admin needs the setup token: the server listens on more than
    loopback (``server.address``), or ``client`` (the browser's, when known) did not connect
    directly from this computer (it came through a proxy)."""
    if client is not None and not client.local:
        return True
    return not is_loopback_host(st.get_option("server.address"))


def derive_token(secret: str) -> str:
    """Return the setup token of ``server.cookieSecret`` ``secret`` (URL-safe, 22 characters):
    every process with the same secret derives the same token."""
    digest = hmac.new(secret.encode("utf-8", "surrogatepass"), TOKEN_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).rstrip(b"=").decode()


class SetupToken:
    """The server's setup token (:func:`derive_token`): issued once per process, logged,
    consumed by one first admin."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: str | None = None

    def issue(self) -> None:
        """Create the token and write it to the server log, unless one is already waiting."""
        with self._lock:
            if self._value is not None:
                return
            self._value = derive_token(st.get_option("server.cookieSecret"))
            log.warning("Docket has no admin yet and other computers can reach it (it listens on "
                        "%r, or a proxy forwards to it): the first-admin form asks for this "
                        "one-time setup token: %s",
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
