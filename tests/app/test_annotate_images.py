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


def test_a_list_of_images_and_a_value_that_is_not_a_hash():
    """kind = "images": each image of the list from the route, numbered; a stored value that
    is not a hash (a schema changed after import) is said to be none, never linked."""
    from streamlit.testing.v1 import AppTest

    def page():
        from components.image_view import render_image_field

        render_image_field("pages", ["a" * 64, "b" * 64, "javascript:alert(1)"])

    at = AppTest.from_function(page).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == [f"![image 1](/_docket/image/{'a' * 64})",
                                              f"![image 2](/_docket/image/{'b' * 64})"]
    assert [c.value for c in at.caption] == ["3 images", "(not an image)"]
    assert "javascript" not in page_text(at)
