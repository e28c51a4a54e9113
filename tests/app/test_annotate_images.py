"""Image fields on the Annotate page (issue 18, AppTest): the image is an <img> of Docket's own
image route named by its hash, with a Zoom button that opens it full size; no image bytes and
no user text as HTML reach the page."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from tests.app.annotate_helpers import make_annotation_project, open_annotate, page_text
from tests.app.conftest import app_database


def test_the_annotate_page_shows_the_image_from_the_route(request, annotator, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 220)).save(buffer, format="PNG")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blue.png").write_bytes(data)
    records = [{"id": f"i{n}", "image": "blue.png", "prompt": "What colour is it? <b>bold</b>",
                "response": f"Blue ![x](https://evil.example/{n}.png)"} for n in range(2)]
    project_id = make_annotation_project(app_database(request), tmp_path, [annotator],
                                         records=records, template="image_scoring",
                                         name="pictures")
    at = open_annotate(annotator, project_id=project_id)
    assert not at.exception
    images = [m.value for m in at.markdown if "/_docket/image/" in m.value]
    assert images == [f"![image 1](/_docket/image/{digest})"]
    # The texts stay text: the markdown image in the response is never a markdown element.
    assert not [m for m in at.markdown if "evil.example" in m.value]
    assert any("evil.example" in t.value for t in at.text)
    sent = page_text(at)
    assert data.hex()[:64] not in sent and "data:image" not in sent

    zoom = next(b for b in at.button if b.key and b.key.startswith("annotate.image.image.0."))
    at = zoom.click().run()
    assert not at.exception
    assert [m.value for m in at.markdown if "/_docket/image/" in m.value] == [
        f"![image 1](/_docket/image/{digest})"] * 2  # the item and the full-size dialog
