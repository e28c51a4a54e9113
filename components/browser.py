"""What the browser of this session sent: its address (behind trusted proxies) and its cookie.

Everything here is read from the session's websocket handshake (``st.context``), the one place
a page learns about the connection. :func:`browser_request` is the only reader, so tests can
stand in for a browser (AppTest cannot send headers or cookies).

The browser cookie (:data:`BROWSER_COOKIE`) is a random value the server gives every browser
on its first page load (:class:`components.web_middleware.BrowserCookie`), ``HttpOnly`` so
page scripts cannot read it. A sign-in is bound to it: a session id alone, replayed from
somewhere without the cookie, does not resume a signed-in session.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import cache

import streamlit as st

from core.client_address import (
    LOCAL_CLIENT,
    PROXY_CLIENT,
    ClientAddress,
    IPNetwork,
    ServerTrust,
    parse_trusted_proxies,
    resolve_client,
)

log = logging.getLogger(__name__)

BROWSER_COOKIE = "docket_browser"
# The session id of a sign-in that survives a reload (storage/web_sessions.py), set by
# components/web_routes.py; HttpOnly too.
SESSION_COOKIE = "docket_session"
TRUSTED_PROXIES_ENV = "DOCKET_TRUSTED_PROXIES"
# uvicorn (Streamlit's server) already applies X-Forwarded-For from these addresses.
SERVER_TRUSTED_ENV = "FORWARDED_ALLOW_IPS"


class ProxyConfigError(ValueError):
    """``DOCKET_TRUSTED_PROXIES`` holds something that is not an address or a network."""


@dataclass(frozen=True)
class BrowserRequest:
    """The handshake of this session's connection.

    ``peer`` is the address the connection came from (None for loopback, as Streamlit reports
    it), ``forwarded_for`` the ``X-Forwarded-For`` header values, ``cookie`` the value of
    :data:`BROWSER_COOKIE` and ``session`` that of :data:`SESSION_COOKIE` (None if the
    browser sent none).
    """

    peer: str | None
    forwarded_for: tuple[str, ...]
    cookie: str | None
    session: str | None = None


def browser_request() -> BrowserRequest:
    """Return what this session's browser sent with its connection (empty outside a session).

    Anything that is not text counts as not sent (AppTest's stand-in client answers with mocks).
    """
    peer, cookies = st.context.ip_address, st.context.cookies
    cookie, session = cookies.get(BROWSER_COOKIE), cookies.get(SESSION_COOKIE)
    forwarded = st.context.headers.get_all("X-Forwarded-For")
    return BrowserRequest(
        peer=peer if isinstance(peer, str) else None,
        forwarded_for=tuple(value for value in forwarded if isinstance(value, str))
        if isinstance(forwarded, list) else (),
        cookie=cookie if isinstance(cookie, str) and cookie else None,
        session=session if isinstance(session, str) and session else None)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """Return the proxies named in ``$DOCKET_TRUSTED_PROXIES`` (addresses or CIDR blocks).

    Raises :class:`ProxyConfigError` naming an entry that is neither.
    """
    try:
        return parse_trusted_proxies(os.environ.get(TRUSTED_PROXIES_ENV, ""),
                                     setting=TRUSTED_PROXIES_ENV)
    except ValueError as exc:
        raise ProxyConfigError(str(exc)) from None


def sign_in_client() -> ClientAddress:
    """Return the client this session's sign-ins are counted against (see
    :func:`core.client_address.resolve_client`). Raises :class:`ProxyConfigError`."""
    request = browser_request()
    client = resolve_client(request.peer, request.forwarded_for, trusted_proxies(),
                            ServerTrust.parse(os.environ.get(SERVER_TRUSTED_ENV)))
    if request.forwarded_for and client.key in (LOCAL_CLIENT, PROXY_CLIENT):
        _warn_untrusted_proxy()
    return client


@cache
def _warn_untrusted_proxy() -> None:
    """Once per process: a proxy forwards to Docket, but its header is not believed, so all
    its clients share one sign-in counter."""
    log.warning("a proxy forwards requests with X-Forwarded-For, but %s does not name it: all "
                "its clients count as one for sign-in throttling (README, Configuration)",
                TRUSTED_PROXIES_ENV)


def browser_binding() -> str | None:
    """Return a digest of this browser's cookie to bind a sign-in to, or None without one."""
    return cookie_digest(browser_request().cookie)


def cookie_digest(cookie: str | None) -> str | None:
    """Return the digest of a :data:`BROWSER_COOKIE` value (None for None)."""
    return hashlib.sha256(cookie.encode()).hexdigest() if cookie else None
