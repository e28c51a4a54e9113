"""Image values of an import: every source form, and every refusal with a clear message
(SVG, remote URL, decompression bomb, truncated file, wrong format, size limits)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest
from PIL import Image

from core.importing import images
from core.importing.images import ImageError, check_image, image_bytes


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "mime", "extension"), [
    ("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp"),
    ("GIF", "image/gif", "gif")])
def test_the_four_formats_are_accepted_and_named(fmt, mime, extension):
    data = _encoded(fmt)
    checked = check_image(data, source="x")
    assert (checked.format, checked.mime, checked.extension) == (fmt, mime, extension)
    assert (checked.width, checked.height) == (16, 16)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


def test_other_formats_svg_and_garbage_are_refused():
    with pytest.raises(ImageError, match=r"x\.bmp: BMP images are not accepted"):
        check_image(_encoded("BMP"), source="x.bmp")
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'
    with pytest.raises(ImageError, match="SVG images are not accepted"):
        check_image(svg, source="logo.svg")
    with pytest.raises(ImageError, match="SVG images are not accepted"):
        check_image(b"  <svg width='10'></svg>", source="inline")
    with pytest.raises(ImageError, match="not a readable PNG, JPEG, WebP or GIF"):
        check_image(b"hello, not an image", source="notes.png")
    with pytest.raises(ImageError, match="empty"):
        check_image(b"", source="empty.png")


def test_a_truncated_file_is_refused():
    data = _png((300, 300))
    with pytest.raises(ImageError, match=r"cut\.png: not a readable"):
        check_image(data[: len(data) // 2], source="cut.png")


def test_a_decompression_bomb_is_refused_from_its_header():
    # A 10,000 x 10,000 PNG of one colour: a few KB on disk, 100 megapixels decoded.
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    assert len(data) < 200_000
    with pytest.raises(ImageError, match=r"10000 x 10000 = 100.0 megapixels, more than the 50"):
        check_image(data, source="bomb.png")


def test_the_byte_limit(monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(ImageError, match=r"big.png: the image has 0.0 MB, more than the 0 MB"):
        check_image(b"x" * 1001, source="big.png")


def test_every_source_form(tmp_path):
    data = _png()
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(data)
    archive_path = tmp_path / "images.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("zipped/b.png", data)
    encoded = base64.b64encode(data).decode()
    assert image_bytes("img/a.png", source="r1", base=tmp_path) == data
    assert image_bytes({"path": "img/a.png"}, source="r1", base=tmp_path) == data
    assert image_bytes({"bytes": encoded}, source="r1") == data
    assert image_bytes({"bytes": data, "path": "ignored.png"}, source="r1") == data  # datasets
    assert image_bytes(f"data:image/png;base64,{encoded}", source="r1") == data
    with zipfile.ZipFile(archive_path) as archive:
        assert image_bytes("zipped/b.png", source="r1", archive=archive, base=tmp_path) == data
        assert image_bytes("img/a.png", source="r1", archive=archive, base=tmp_path) == data


@pytest.mark.parametrize(("value", "message"), [
    ("https://example.com/cat.png", "remote images .* are not accepted"),
    ("http://127.0.0.1/x.png", "remote images"),
    ("//cdn.example.com/x.png", "remote images"),
    ("file:///etc/passwd", "remote images"),
    ("../secret.png", "must be relative to the imported file, without '..'"),
    ("/etc/passwd", "must be relative"),
    ("img/missing.png", r"image file 'img/missing.png' not found in "),
    ({"bytes": "not base64!!"}, "base64 is not valid"),
    ("data:text/html;base64,PGgxPg==", "data:image/...;base64"),
    ({"name": "x"}, "needs 'path' or 'bytes'"),
    (42, "got int")])
def test_refusals_name_the_problem(tmp_path, value, message):
    with pytest.raises(ImageError, match=f"^row 3, field image: .*{message}"):
        image_bytes(value, source="row 3, field image", base=tmp_path)


def test_an_oversized_file_or_zip_member_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 100)
    (tmp_path / "big.png").write_bytes(b"\0" * 5000)
    with pytest.raises(ImageError, match="more than the"):
        image_bytes("big.png", source="s", base=tmp_path)
    archive_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", b"\0" * 50_000)
    with zipfile.ZipFile(archive_path) as archive, pytest.raises(ImageError, match="more than"):
        image_bytes("big.png", source="s", archive=archive)
