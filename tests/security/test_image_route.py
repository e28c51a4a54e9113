"""``GET /_docket/image/<sha256>`` (issue 18) on SQLite and PostgreSQL: the bytes with their
MIME type and immutable caching to a signed-in session, 401 without a session cookie, 403 with
one that is not valid, 404 for unknown or malformed hashes, open in DOCKET_AUTH=none.

httpx (Starlette's TestClient) is not installed: requests go through the ASGI app directly.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from starlette.applications import Starlette

import components.image_route as image_route
from components.browser import SESSION_COOKIE
from components.image_route import CACHE_IMMUTABLE, image_routes, image_url
from core.importing.images import check_image
from storage.images import store_images
from tests.event_loops import run_async
from tests.storage.test_web_sessions import cheap_hasher, people, signed_in  # noqa: F401


def get(app, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send one GET through the ASGI ``app``; return status, headers (lowercase), body."""
    headers = [(b"host", b"localhost")]
    if cookie is not None:
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
             "server": ("localhost", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    run_async(app(scope, receive, send))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return (start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
            body)


@pytest.fixture
def served(db, monkeypatch):
    """The image route on ``db`` with one stored JPEG; returns (app, its bytes)."""
    buffer = io.BytesIO()
    Image.new("RGB", (12, 9), (10, 200, 10)).save(buffer, format="JPEG")
    data = buffer.getvalue()
    with db.write() as session:
        store_images(session.connection(), [check_image(data, source="t")])
    monkeypatch.setattr(image_route, "_database", lambda: db)
    monkeypatch.delenv("DOCKET_AUTH", raising=False)
    return Starlette(routes=image_routes()), data


def test_a_signed_in_session_gets_the_image_with_its_headers(db, served, people):  # noqa: F811
    app, data = served
    _, token = signed_in(db, people[1])
    status, headers, body = get(app, image_url(hashlib.sha256(data).hexdigest()), token)
    assert (status, body) == (200, data)
    assert headers["content-type"] == "image/jpeg"
    assert headers["cache-control"] == CACHE_IMMUTABLE == "private, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert get(app, image_url("0" * 64), token)[0] == 404
    assert get(app, "/_docket/image/ABC", token)[0] == 404
    assert get(app, "/_docket/image/..%2F..%2Fetc%2Fpasswd", token)[0] == 404


def test_without_a_valid_session_nothing_is_served(db, served, people):  # noqa: F811
    app, data = served
    path = image_url(hashlib.sha256(data).hexdigest())
    status, headers, body = get(app, path)
    assert (status, body) == (401, b"Sign in to see images")
    assert headers["cache-control"] == "no-store"
    assert get(app, path, "a made-up session id")[:1] == (403,)
    assert get(app, image_url("0" * 64))[0] == 401  # no hint whether a hash exists


def test_single_user_mode_is_open(db, served, monkeypatch):
    app, data = served
    monkeypatch.setenv("DOCKET_AUTH", "none")
    status, _, body = get(app, image_url(hashlib.sha256(data).hexdigest()))
    assert (status, body) == (200, data)


def test_image_url_refuses_anything_but_a_hash():
    assert image_url("a" * 64, base_path="/docket/") == "/docket/_docket/image/" + "a" * 64
    with pytest.raises(ValueError, match="not an image hash"):
        image_url("../x")
