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
from storage.annotation_settings import set_members
from storage.authz import OPERATOR
from storage.projects import get_project
from tests.event_loops import run_async
from tests.export.helpers import import_records
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


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 9), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def served(db, people, tmp_path, monkeypatch):  # noqa: F811
    """The image route on ``db``, where the annotator of ``people`` is a member of project
    "seen" (one JPEG) and not of project "unseen" (another); returns (app, seen bytes, unseen
    bytes). Both go through a real import, which links each project to its images."""
    images = {"seen": jpeg((10, 200, 10)), "unseen": jpeg((200, 10, 10))}
    for name, data in images.items():
        (tmp_path / f"{name}.jpg").write_bytes(data)
        import_records(db, tmp_path, "image_scoring", [
            {"id": "1", "image": f"{name}.jpg", "prompt": "Colour?", "response": "Green."}], name)
    with db.write() as session:
        project_id = get_project(session=session, name="seen").id
        set_members(session=session, project_id=project_id, user_ids=[people[1].id],
                    actor=OPERATOR)
    monkeypatch.setattr(image_route, "_database", lambda: db)
    monkeypatch.delenv("DOCKET_AUTH", raising=False)
    return Starlette(routes=image_routes()), images["seen"], images["unseen"]


def test_a_signed_in_session_gets_the_image_with_its_headers(db, served, people):  # noqa: F811
    app, data, _ = served
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
    app, data, _ = served
    path = image_url(hashlib.sha256(data).hexdigest())
    status, headers, body = get(app, path)
    assert (status, body) == (401, b"Sign in to see images")
    assert headers["cache-control"] == "no-store"
    assert get(app, path, "a made-up session id")[:1] == (403,)
    assert get(app, image_url("0" * 64))[0] == 401  # no hint whether a hash exists


def test_single_user_mode_is_open(db, served, monkeypatch):
    app, data, _ = served
    monkeypatch.setenv("DOCKET_AUTH", "none")
    status, _, body = get(app, image_url(hashlib.sha256(data).hexdigest()))
    assert (status, body) == (200, data)


def test_image_url_refuses_anything_but_a_hash():
    assert image_url("a" * 64, base_path="/docket/") == "/docket/_docket/image/" + "a" * 64
    with pytest.raises(ValueError, match="not an image hash"):
        image_url("../x")


def test_an_annotator_sees_only_the_images_of_their_projects(db, served, people):  # noqa: F811
    app, seen, unseen = served
    _, token = signed_in(db, people[1])
    assert get(app, image_url(hashlib.sha256(seen).hexdigest()), token)[0] == 200
    # Not a member: the same answer as for a hash that names nothing.
    status, headers, body = get(app, image_url(hashlib.sha256(unseen).hexdigest()), token)
    assert (status, body) == (404, b"Not Found")
    assert headers["cache-control"] == "no-store"


def test_an_admin_sees_the_images_of_every_project(db, served, people):  # noqa: F811
    app, seen, unseen = served
    _, token = signed_in(db, people[0])
    for data in (seen, unseen):
        status, _, body = get(app, image_url(hashlib.sha256(data).hexdigest()), token)
        assert (status, body) == (200, data)


def test_reimporting_an_image_into_a_second_project_shares_it_with_that_projects_members(
        db, served, people, tmp_path):  # noqa: F811
    app, _, unseen = served
    (tmp_path / "again.jpg").write_bytes(unseen)
    import_records(db, tmp_path, "image_scoring", [
        {"id": "9", "image": "again.jpg", "prompt": "Colour?", "response": "Red."}], "seen")
    _, token = signed_in(db, people[1])
    status, _, body = get(app, image_url(hashlib.sha256(unseen).hexdigest()), token)
    assert (status, body) == (200, unseen)
