"""HTTP middleware of Docket's server (``st.App(middleware=...)`` in ``app.py``).

:class:`BlockMetrics` closes ``/_stcore/metrics``: Streamlit serves it to anyone, with cache
and session activity, and has no setting to switch it off. :class:`BrowserCookie` gives each
browser the random ``HttpOnly`` cookie a sign-in is bound to (:mod:`components.browser`).
"""

from __future__ import annotations

import ipaddress
import secrets

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from components.browser import BROWSER_COOKIE, trusted_proxies

METRICS_PATH = "/_stcore/metrics"


class BlockMetrics:
    """Answer every request for Streamlit's metrics endpoint with 404 Not Found."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # endswith: the path may carry server.baseUrlPath in front.
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith(METRICS_PATH):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BrowserCookie:
    """Set :data:`~components.browser.BROWSER_COOKIE` on the answer to any request without it.

    The cookie is random (256 bits), ``HttpOnly`` (page scripts cannot read it), ``SameSite=Lax``
    and, over HTTPS, ``Secure``; it lasts as long as the browser runs. The page load sets it,
    so the websocket that follows carries it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or BROWSER_COOKIE in cookie_parser(
                Headers(scope=scope).get("cookie", "")):
            await self.app(scope, receive, send)
            return
        attributes = "; Path=/; HttpOnly; SameSite=Lax"
        if is_https(scope):
            attributes += "; Secure"
        header = f"{BROWSER_COOKIE}={secrets.token_urlsafe(32)}{attributes}".encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"set-cookie", header)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def is_https(scope: Scope) -> bool:
    """True if the browser reached Docket over HTTPS: directly, or through a proxy that says
    so in ``X-Forwarded-Proto``, believed from the proxies uvicorn trusts
    (``FORWARDED_ALLOW_IPS``, already applied to the scheme) and from those in
    ``DOCKET_TRUSTED_PROXIES``. A bad ``DOCKET_TRUSTED_PROXIES`` counts as no proxy trusted
    (the pages report it)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    proto = Headers(scope=scope).get("x-forwarded-proto", "")
    if not client or not proto:
        return False
    try:
        peer = ipaddress.ip_address(client[0])
        trusted = any(peer in network for network in trusted_proxies())
    except ValueError:  # not an address (a unix socket), or the setting is bad
        return False
    # A chain of proxies appends: the last entry is what the proxy next to us received.
    return trusted and proto.split(",")[-1].strip().lower() == "https"
