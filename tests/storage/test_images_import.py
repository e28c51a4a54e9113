"""Importing image fields (issue 18): every source form, refusals with nothing written, and
storage by content hash on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from core.importing import ImageSource, ImportRejected
from core.schema import schema_from_dict
from storage.authz import OPERATOR
from storage.images import image_count, read_image, read_images
from storage.importer import import_file
from storage.projects import find_project, get_project
from storage.readback import items_frame

SCHEMA = schema_from_dict({
    "name": "pictures",
    "fields": [{"name": "image", "kind": "image"}, {"name": "prompt"},
               {"name": "pages", "kind": "images", "required": False}],
    "dimensions": [{"name": "ok", "scale": "nominal",
                    "labels": [{"value": "yes"}, {"value": "no"}]}],
})


def png(color=(200, 30, 30), size=(40, 30), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def stored_fields(db, project: str = "pictures") -> dict[str, dict]:
    with db.read() as session:
        project_id = get_project(session=session, name=project).id
        frame = items_frame(session=session, project_id=project_id)
    return dict(zip(frame["id"], frame["fields"], strict=True))


def test_every_json_source_form_is_stored_once_by_hash(db, tmp_path, monkeypatch):
    red, blue, green = png((255, 0, 0)), png((0, 0, 255), fmt="JPEG"), png((0, 255, 0), fmt="WEBP")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "red.png").write_bytes(red)
    archive_path = tmp_path / "extra.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("pics/blue.jpg", blue)
    records = [
        {"id": "rel", "image": "img/red.png", "prompt": "p"},
        {"id": "obj", "image": {"path": "img/red.png"}, "prompt": "p"},
        {"id": "zip", "image": "pics/blue.jpg", "prompt": "p"},
        {"id": "b64", "image": {"bytes": base64.b64encode(green).decode()}, "prompt": "p"},
        {"id": "uri", "image": "data:image/png;base64," + base64.b64encode(red).decode(),
         "prompt": "p", "pages": ["img/red.png", "pics/blue.jpg"]},
    ]
    path = write_jsonl(tmp_path / "items.jsonl", records)
    with zipfile.ZipFile(archive_path) as archive:
        _, summary = import_file(db, path, project_name="pictures", schema=SCHEMA,
                                     actor=OPERATOR,
                                     images=ImageSource(base=tmp_path, archive=archive))
    assert (summary.added, summary.images, summary.new_images) == (5, 3, 3)
    assert "3 images (3 new)" in summary.line()
    fields = stored_fields(db)
    assert {k: v["image"] for k, v in fields.items()} == {
        "rel": sha(red), "obj": sha(red), "zip": sha(blue), "b64": sha(green), "uri": sha(red)}
    assert fields["uri"]["pages"] == [sha(red), sha(blue)]
    assert image_count(db) == 3
    stored = read_image(db, sha256=sha(blue))
    assert stored is not None and stored.data == blue
    assert (stored.mime, stored.width, stored.height, stored.size) == ("image/jpeg", 40, 30,
                                                                      len(blue))
    assert read_image(db, sha256=sha(green)).mime == "image/webp"
    assert read_image(db, sha256="0" * 64) is None
    assert read_image(db, sha256="../etc/passwd") is None
    assert {b.sha256 for b in read_images(db, hashes=[sha(red), sha(green), "f" * 64])} == {
        sha(red), sha(green)}

    # The same images again, in another project and re-imported: no new rows, and the
    # stored ones are not decoded again (they were checked at their first import).
    import core.importing.validate as validate

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("a stored image was decoded again")

    monkeypatch.setattr(validate, "check_image", no_decoding)
    again = write_jsonl(tmp_path / "again.jsonl", [{"id": "x", "image": "img/red.png",
                                                   "prompt": "q"}])
    _, other = import_file(db, again, project_name="other", schema=SCHEMA, actor=OPERATOR)
    assert (other.images, other.new_images) == (1, 0)
    with zipfile.ZipFile(archive_path) as archive:
        _, same = import_file(db, path, project_name="pictures", schema=None, actor=OPERATOR,
                              images=ImageSource(base=tmp_path, archive=archive))
    assert (same.unchanged, same.images, same.new_images) == (5, 3, 0)
    assert image_count(db) == 3


def test_csv_relative_paths(db, tmp_path):
    red = png()
    (tmp_path / "a.png").write_bytes(red)
    path = tmp_path / "items.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image", "prompt", "pages"])
        writer.writerow(["1", "a.png", "p", '["a.png", "a.png"]'])
    _, summary = import_file(db, path, project_name="pictures", schema=SCHEMA, actor=OPERATOR)
    assert summary.added == 1
    assert stored_fields(db)["1"] == {"image": sha(red), "prompt": "p", "pages": [sha(red)] * 2}


def test_datasets_parquet_image_layout(db, tmp_path):
    datasets = pytest.importorskip("datasets")
    red, blue = png((255, 0, 0)), png((0, 0, 255))
    features = datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(),
                                  "prompt": datasets.Value("string")})
    dataset = datasets.Dataset.from_dict(
        {"id": ["a", "b"], "image": [Image.open(io.BytesIO(red)), {"bytes": blue, "path": None}],
         "prompt": ["p", "q"]}, features=features)
    path = tmp_path / "items.parquet"
    dataset.to_parquet(str(path))
    _, summary = import_file(db, path, project_name="pictures", schema=SCHEMA, actor=OPERATOR)
    assert (summary.added, summary.new_images) == (2, 2)
    fields = stored_fields(db)
    assert fields["b"]["image"] == sha(blue)
    # datasets re-encodes a PIL image as PNG: the stored image decodes to the same pixels.
    stored = read_image(db, sha256=fields["a"]["image"])
    assert stored.mime == "image/png"
    assert Image.open(io.BytesIO(stored.data)).convert("RGB").tobytes() == \
        Image.open(io.BytesIO(red)).convert("RGB").tobytes()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(("value", "message"), [
    ("logo.svg", "'logo.svg': SVG images are not accepted"),
    ("https://example.com/cat.png", "remote images ('https://example.com/cat.png') are not accepted"),
    ("bomb.png", "'bomb.png': the image has 10000 x 10000 = 100.0 megapixels, more than the 50"),
    ("cut.png", "'cut.png': not a readable PNG, JPEG, WebP or GIF image"),
    ("missing.png", "'missing.png': image file 'missing.png' not found"),
    ("../outside.png", "must be relative to the imported file, without '..'"),
])
def test_bad_images_are_reported_and_strict_writes_nothing(db, tmp_path, value, message):
    (tmp_path / "logo.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (tmp_path / "bomb.png").write_bytes(_bomb())
    whole = png(size=(300, 300))
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "ok.png").write_bytes(png())
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "good", "image": "ok.png", "prompt": "p"},
        {"id": "bad", "image": value, "prompt": "p"}])
    with pytest.raises(ImportRejected) as info:
        import_file(db, path, project_name="pictures", schema=SCHEMA, actor=OPERATOR)
    [problem] = info.value.batch.problems
    assert (problem.file, problem.location, problem.field) == (str(path), "line 2", "image")
    assert message in problem.reason
    assert image_count(db) == 0
    with db.read() as session:
        assert find_project(session=session, name="pictures") is None

    # Skipping the bad row stores only the good row's image.
    _, summary = import_file(db, path, project_name="pictures", schema=SCHEMA, actor=OPERATOR,
                             on_error="skip")
    assert (summary.added, summary.skipped, summary.new_images) == (1, 1, 1)
    assert image_count(db) == 1


def test_wrong_shapes_are_reported(db, tmp_path):
    (tmp_path / "ok.png").write_bytes(png())
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "1", "image": ["ok.png"], "prompt": "p"},
        {"id": "2", "image": "ok.png", "prompt": "p", "pages": "ok.png"},
        {"id": "3", "image": {"bytes": "!!not base64"}, "prompt": "p"},
        {"id": "4", "prompt": "p"},
    ])
    with pytest.raises(ImportRejected) as info:
        import_file(db, path, project_name="pictures", schema=SCHEMA, actor=OPERATOR)
    reasons = [(p.location, p.field, p.reason) for p in info.value.batch.problems]
    assert reasons[0][:2] == ("line 1", "image") and "expected one image" in reasons[0][2]
    assert reasons[1][:2] == ("line 2", "pages") and "expected a list of images" in reasons[1][2]
    assert reasons[2][:2] == ("line 3", "image") and "base64 is not valid" in reasons[2][2]
    assert reasons[3] == ("line 4", "image", "missing required field")
