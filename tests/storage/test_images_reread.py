"""An import holds no bytes of the images it names by path (issue 18): validation checks and
hashes them, the write reads them again from their source and refuses any that changed
meanwhile, with nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from components.upload_check import check_upload
from core.importing import (
    ImageSource,
    ImportBatch,
    ImportFileError,
    read_import_file,
    validate_table,
)
from storage.authz import OPERATOR
from storage.images import image_count, read_image
from storage.importer import write_import
from storage.projects import find_project
from tests.storage.test_images_import import SCHEMA, png, sha, stored_fields, write_jsonl


def validated(path: Path, images: ImageSource) -> ImportBatch:
    batch = validate_table(read_import_file(path), SCHEMA, images=images)
    assert batch.is_clean, batch.problems
    return batch


def find_project_named(db, name: str):
    with db.read() as session:
        return find_project(session=session, name=name)


def test_path_images_are_checked_but_their_bytes_not_kept(db, tmp_path):
    red, blue, green = png((255, 0, 0)), png((0, 0, 255), fmt="JPEG"), png((0, 255, 0))
    (tmp_path / "red.png").write_bytes(red)
    archive_path = tmp_path / "pics.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("in/blue.jpg", blue)
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "a", "image": "red.png", "prompt": "p"},
        {"id": "b", "image": {"path": "in/blue.jpg"}, "prompt": "p"},
        {"id": "c", "image": {"bytes": base64.b64encode(green).decode()}, "prompt": "p"},
    ])
    with zipfile.ZipFile(archive_path) as archive:
        batch = validated(path, ImageSource(base=tmp_path, archive=archive))
        held = {digest: image.data for digest, image in batch.images.items()}
        # Only the inline image's bytes are held; the two files are read again when written.
        assert held == {sha(red): None, sha(blue): None, sha(green): green}
        assert (batch.images[sha(red)].width, batch.images[sha(blue)].mime) == (40, "image/jpeg")
        summary = write_import(db, project_name="pictures", schema=SCHEMA, batch=batch,
                               actor=OPERATOR)
    assert (summary.added, summary.new_images) == (3, 3)
    for data in (red, blue, green):
        assert read_image(db, sha256=sha(data)).data == data


@pytest.mark.parametrize("change", ["rewritten", "deleted"])
def test_an_image_file_changed_after_validation_is_refused_with_nothing_written(
        db, tmp_path, change):
    red, other = png((255, 0, 0)), png((0, 0, 255))
    for name in ("red.png", "also.png"):
        (tmp_path / name).write_bytes(red if name == "red.png" else other)
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "a", "image": "also.png", "prompt": "p"},
        {"id": "b", "image": "red.png", "prompt": "p"},
    ])
    batch = validated(path, ImageSource(base=tmp_path))
    if change == "rewritten":
        (tmp_path / "red.png").write_bytes(png((255, 0, 1)))
    else:
        (tmp_path / "red.png").unlink()
    with pytest.raises(ImportFileError) as caught:
        write_import(db, project_name="pictures", schema=SCHEMA, batch=batch, actor=OPERATOR)
    [problem] = caught.value.problems
    assert (problem.file, problem.location, problem.field) == (str(path), "file", "image")
    expected = ("the image file changed after it was checked" if change == "rewritten"
                else "image file 'red.png' not found")
    assert expected in problem.reason and "nothing was imported" in problem.reason
    assert "'red.png'" in problem.reason, problem
    # The transaction rolled back: no project, no image (not even also.png, written first).
    assert find_project_named(db, "pictures") is None
    assert image_count(db) == 0


def test_the_import_page_keeps_the_uploaded_zip_open_until_the_write(db, tmp_path):
    red = png((255, 0, 0))
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("red.png", red)
    check = check_upload(io.BytesIO(b'{"id": "a", "image": "red.png", "prompt": "p"}\n'),
                         name="x.jsonl", schema=SCHEMA, images=upload, images_name="pics.zip")
    assert check.batch is not None and check.batch.is_clean
    assert [image.data for image in check.batch.images.values()] == [None]
    summary = write_import(db, project_name="pictures", schema=SCHEMA, batch=check.batch,
                           actor=OPERATOR)
    assert summary.new_images == 1
    assert stored_fields(db)["a"]["image"] == sha(red)
    assert read_image(db, sha256=sha(red)).data == red


def test_many_path_images_are_written_in_chunks_each_read_once(db, tmp_path, monkeypatch):
    import storage.images

    monkeypatch.setattr(storage.images, "_INSERT_CHUNK_BYTES", 1)  # one image per chunk
    pictures = [png((n, 0, 0)) for n in range(5)]
    for n, data in enumerate(pictures):
        (tmp_path / f"{n}.png").write_bytes(data)
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": str(n), "image": f"{n}.png", "prompt": "p"} for n in range(5)])
    batch = validated(path, ImageSource(base=tmp_path))
    reads: list[str] = []
    original = ImageSource.read

    def counted(self, value, *, source):
        reads.append(value)
        return original(self, value, source=source)

    monkeypatch.setattr(ImageSource, "read", counted)
    summary = write_import(db, project_name="pictures", schema=SCHEMA, batch=batch,
                           actor=OPERATOR)
    assert summary.new_images == 5 and sorted(reads) == sorted(f"{n}.png" for n in range(5))
    assert {read_image(db, sha256=sha(data)).data for data in pictures} == set(pictures)

