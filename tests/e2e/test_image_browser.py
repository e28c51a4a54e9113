"""Viewing an image on the real server (issue 18): the Annotate page's <img> loads from
/_docket/image/<sha256> with the browser's session cookie, Zoom shows it full size, and the
same URL without the cookie is refused."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.app.annotate_helpers import make_annotation_project
from tests.e2e.test_annotate_browser import new_annotator, open_annotate, server_db, shows_item

pytestmark = pytest.mark.browser
server_db = server_db  # the fixture, re-exported for this module


def test_an_annotator_sees_and_zooms_the_image(page, own_docket_server, server_db, tmp_path):
    user = new_annotator(server_db)
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (220, 40, 40)).save(buffer, format="PNG")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "red.png").write_bytes(data)
    project = make_annotation_project(
        server_db, tmp_path, [user], name="image quiz", template="image_scoring",
        records=[{"id": "p0", "image": "red.png", "prompt": "What colour?", "response": "Red."}])
    open_annotate(page, own_docket_server, user, project)
    shows_item(page, "p0")

    image = page.locator(f'[data-testid="stMain"] img[src$="/_docket/image/{digest}"]').first
    image.wait_for()
    # Drawn by the run that signed in, perhaps before the session cookie was set: the sign-in
    # script loads it again once it is (components.auth).
    page.wait_for_function(
        "(src) => [...document.images].some(i => i.src.endsWith(src) && i.complete "
        "&& i.naturalWidth === 300)", arg=f"/_docket/image/{digest}")

    page.get_by_role("button", name="Zoom").first.click()
    dialog = page.get_by_role("dialog")
    dialog.locator(f'img[src$="/_docket/image/{digest}"]').wait_for()
    page.wait_for_function(
        "(src) => [...document.querySelectorAll('[role=dialog] img')].some("
        "i => i.src.endsWith(src) && i.complete && i.naturalWidth === 300)",
        arg=f"/_docket/image/{digest}")

    # The route answers this browser (it sends the session cookie) and no one else.
    signed = page.request.get(f"{own_docket_server.url}/_docket/image/{digest}")
    assert signed.status == 200 and signed.body() == data
    assert signed.headers["cache-control"] == "private, max-age=31536000, immutable"
    anonymous = page.context.browser.new_context()
    try:
        assert anonymous.request.get(f"{own_docket_server.url}/_docket/image/{digest}").status == 401
    finally:
        anonymous.close()
