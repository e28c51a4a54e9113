"""Validating an upload without Streamlit: temporary file handling and whole-file problems."""

import io
import json
import tempfile

import pytest

from components.upload_check import check_upload, schema_fingerprint
from core.schema import schema_from_dict, schema_to_dict
from core.templates import TEMPLATES

CORRECTNESS = TEMPLATES["correctness"]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Make tempfile use an empty folder of our own, to see what is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_valid_upload_is_validated_and_the_temporary_file_removed(private_tmp):
    data = b'{"id": "a", "prompt": "q"}\n{"id": "b", "prompt": "r", "judges": {"j": {"correct": 1}}}\n'
    stream = io.BytesIO(data)
    stream.read()  # a stream that was read before must still be copied from the start
    check = check_upload(stream, name="x.jsonl", schema=CORRECTNESS)
    assert check.file_problems == ()
    assert check.total_records == 2
    assert [row.external_id for row in check.batch.rows] == ["a", "b"]
    assert check.batch.rows[1].verdicts[0].label == "correct"  # alias "1" -> canonical label
    assert list(check.preview.columns) == ["id", "prompt", "judge.j.correct"]
    assert list(private_tmp.iterdir()) == []


def test_file_level_problem_keeps_the_preview_and_removes_the_temporary_file(private_tmp):
    data = b"prompt,response\nq,a\n"
    check = check_upload(io.BytesIO(data), name="x.csv", schema=CORRECTNESS)
    assert check.batch is None
    assert [(p.location, p.field) for p in check.file_problems] == [("header", "id")]
    assert check.total_records == 1
    assert check.preview.to_dict("records") == [{"prompt": "q", "response": "a"}]
    assert list(private_tmp.iterdir()) == []


def test_unknown_extension_is_a_problem(private_tmp):
    check = check_upload(io.BytesIO(b"hello"), name="notes.txt", schema=CORRECTNESS)
    assert check.batch is None and check.preview is None
    assert "unknown file type '.txt'" in check.file_problems[0].reason
    assert list(private_tmp.iterdir()) == []


def test_file_name_is_never_used_as_a_path(private_tmp, tmp_path):
    data = b'{"id": "a", "prompt": "q"}\n'
    check = check_upload(io.BytesIO(data), name="../../escape.jsonl", schema=CORRECTNESS)
    assert check.file_problems == ()
    assert not (tmp_path.parent / "escape.jsonl").exists()
    assert list(private_tmp.iterdir()) == []


def test_bad_records_are_located_by_line():
    data = "\n".join(json.dumps(r) for r in [{"id": "a", "prompt": "q"}, {"id": "a", "prompt": "r"}])
    check = check_upload(io.BytesIO(data.encode()), name="x.ndjson", schema=CORRECTNESS)
    assert [(p.location, p.field, p.reason) for p in check.batch.problems] == [
        ("line 2", "id", "duplicate id 'a' (first at line 1)")]


def test_schema_fingerprint_tells_schemas_apart():
    copy = schema_from_dict(schema_to_dict(CORRECTNESS))
    assert schema_fingerprint(copy) == schema_fingerprint(CORRECTNESS)
    assert len({schema_fingerprint(schema) for schema in TEMPLATES.values()}) == len(TEMPLATES)
    renamed = schema_to_dict(CORRECTNESS)
    renamed["dimensions"][0]["labels"][0]["display"] = "Right"
    assert schema_fingerprint(schema_from_dict(renamed)) != schema_fingerprint(CORRECTNESS)


def test_an_images_zip_uploaded_with_the_file(private_tmp):
    import zipfile

    from PIL import Image

    schema = schema_from_dict({"name": "pics", "fields": [{"name": "image", "kind": "image"}],
                               "dimensions": [{"name": "ok", "scale": "nominal", "labels": [
                                   {"value": "yes"}, {"value": "no"}]}]})
    picture = io.BytesIO()
    Image.new("RGB", (4, 4)).save(picture, format="PNG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", picture.getvalue())
    data = b'{"id": "1", "image": "a.png"}\n{"id": "2", "image": "b.png"}\n'
    check = check_upload(io.BytesIO(data), name="x.jsonl", schema=schema, images=archive,
                         images_name="pics.zip")
    assert len(check.batch.items) == 1 and len(check.batch.images) == 1
    [problem] = check.batch.problems
    assert (problem.location, problem.field) == ("line 2", "image")
    assert "image file 'b.png' not found in the uploaded zip" in problem.reason
    assert list(private_tmp.iterdir()) == []

    broken = check_upload(io.BytesIO(data), name="x.jsonl", schema=schema,
                          images=io.BytesIO(b"nope"), images_name="pics.zip")
    assert broken.batch is None
    assert broken.file_problems[0].file == "pics.zip"
    assert "not a zip file" in broken.file_problems[0].reason
