"""HTTP endpoints of Docket's server (``st.App(routes=...)`` in ``app.py``): the session cookie.

A page cannot set a cookie (it talks to the server over a websocket), so a sign-in leaves a
one-time ticket that a small script on the next page run posts here
(:func:`components.auth.render_session_scripts`):

- ``POST /_docket/session`` (body: the ticket) answers ``204`` with the session cookie
  :data:`~components.browser.SESSION_COOKIE`: a fresh random id, ``HttpOnly``,
  ``SameSite=Lax``, ``Path=/``, ``Max-Age``/``Expires`` at the session's absolute limit and,
  over HTTPS, ``Secure``. A ticket that is unknown, used, late, or sent by another browser
  than the one that signed in gets ``403`` and no cookie.
- ``POST /_docket/session/end`` ends the session the cookie names (sign-out) and clears it.

Both refuse requests from other sites (``Origin`` not this host): with ``SameSite=Lax`` a
cross-site POST carries no cookie anyway, this is the second lock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from components.browser import BROWSER_COOKIE, SESSION_COOKIE, cookie_digest
from components.web_middleware import is_https
from storage.auth_mode import auth_mode
from storage.web_sessions import end_session, redeem_ticket

log = logging.getLogger(__name__)

SESSION_PATH = "/_docket/session"
END_PATH = "/_docket/session/end"
MAX_TICKET_BYTES = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def session_routes() -> list[Route]:
    """Return the routes of the session cookie's set and clear endpoints."""
    return [Route(SESSION_PATH, _set_cookie, methods=["POST"]),
            Route(END_PATH, _clear_cookie, methods=["POST"])]


def session_cookie_header(token: str, expires_at: datetime, *, now: datetime, secure: bool) -> str:
    """Return the ``Set-Cookie`` value that gives the browser session id ``token`` until
    ``expires_at``."""
    max_age = max(0, int((expires_at - now).total_seconds()))
    return _cookie(token, max_age, expires_at, secure)


def clear_cookie_header(*, secure: bool) -> str:
    """Return the ``Set-Cookie`` value that makes the browser forget its session id."""
    return _cookie("", 0, _EPOCH, secure)


def _cookie(value: str, max_age: int, expires: datetime, secure: bool) -> str:
    attributes = (f"{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; "
                  f"Expires={format_datetime(expires.astimezone(UTC), usegmt=True)}; HttpOnly; "
                  "SameSite=Lax")
    return attributes + ("; Secure" if secure else "")


def _database():
    # Imported here: components.resources tunes the server's socket on import, which must
    # happen once it listens (it does by the time a browser posts here).
    from components.resources import get_database

    return get_database()


def _refused(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


def _from_other_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


async def _set_cookie(request: Request) -> Response:
    if auth_mode() == "none":
        return _refused(404, "Not Found")
    if _from_other_site(request):
        return _refused(403, "Forbidden")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TICKET_BYTES:
            return _refused(413, "Ticket too long")
    ticket = body.decode("utf-8", "replace").strip()
    browser = cookie_digest(request.cookies.get(BROWSER_COOKIE))
    if not ticket:
        return _refused(400, "No ticket")
    cookie = await run_in_threadpool(lambda: redeem_ticket(_database(), ticket=ticket,
                                                           browser=browser))
    if cookie is None:
        log.info("a session ticket was refused (unknown, used, late or another browser)")
        return _refused(403, "Ticket not valid")
    header = session_cookie_header(cookie.token, cookie.expires_at, now=datetime.now(UTC),
                                   secure=is_https(request.scope))
    return Response(status_code=204, headers={"Set-Cookie": header, "Cache-Control": "no-store"})


async def _clear_cookie(request: Request) -> Response:
    if _from_other_site(request):
        return _refused(403, "Forbidden")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(lambda: end_session(_database(), token=token))
    return Response(status_code=204, headers={
        "Set-Cookie": clear_cookie_header(secure=is_https(request.scope)),
        "Cache-Control": "no-store"})
