"""``GET /_docket/image/<sha256>``: the bytes of a stored image, for signed-in sessions only.

Image fields are drawn on the Annotate page as ``<img>`` elements pointing here
(:mod:`components.image_view`), so each image leaves the server once per browser: its name
is the SHA-256 of its bytes, so the response may be cached as immutable for a year. The
browser sends the session cookie with the request (same site, ``SameSite=Lax``); without one
the answer is ``401``, with one that is unknown, ended or expired ``403``. In single-user mode
(``DOCKET_AUTH=none``) every request is served, as every page is. A signed-in user who is not an
admin gets only the images of projects they are a member of; anything else, unknown hashes
included, is ``404`` (a refusal does not tell that an image exists).
The image was checked at import (PNG, JPEG, WebP or GIF decoded with Pillow), its stored MIME
type is sent with ``X-Content-Type-Options: nosniff`` and a sandboxing CSP.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from components.browser import SESSION_COOKIE
from storage.auth_mode import auth_mode
from storage.images import is_image_hash, read_image
from storage.web_sessions import check_session

log = logging.getLogger(__name__)

IMAGE_PATH = "/_docket/image"
CACHE_IMMUTABLE = "private, max-age=31536000, immutable"


def image_url(sha256: str, *, base_path: str = "") -> str:
    """The URL path of the stored image ``sha256`` under the server's ``base_path``
    (``server.baseUrlPath``); raises ValueError for text that is not a SHA-256."""
    if not is_image_hash(sha256):
        raise ValueError(f"not an image hash: {sha256!r}")
    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return f"{prefix}{IMAGE_PATH}/{sha256}"


def image_routes() -> list[Route]:
    """Return the route that serves stored images."""
    return [Route(IMAGE_PATH + "/{sha256}", _serve_image, methods=["GET", "HEAD"])]


def _database():
    from components.resources import get_database  # see components.web_routes._database

    return get_database()


def _refused(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


async def _serve_image(request: Request) -> Response:
    digest = request.path_params["sha256"]
    viewer = None
    if auth_mode() != "none":
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return _refused(401, "Sign in to see images")
        valid = await run_in_threadpool(lambda: check_session(_database(), token=token))
        if valid is None:
            return _refused(403, "Session not valid")
        viewer = valid.user
    if not is_image_hash(digest):
        return _refused(404, "Not Found")
    blob = await run_in_threadpool(lambda: read_image(_database(), sha256=digest,
                                                              viewer=viewer))
    if blob is None:
        return _refused(404, "Not Found")
    return Response(blob.data, media_type=blob.mime, headers={
        "Cache-Control": CACHE_IMMUTABLE,
        "ETag": f'"{blob.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })
