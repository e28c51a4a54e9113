"""Exports of image fields (issue 18) on SQLite and PostgreSQL: JSONL/CSV name
``images/<sha256>.<ext>`` and the files are written beside the export; Parquet embeds the
``datasets`` Image layout, and ``datasets.load_dataset`` gives back the same pixels."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image

from storage.export_images import bundle_export
from tests.export.helpers import export, import_records

COLOURS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 160, 0)}


def picture(colour: str, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), COLOURS[colour]).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def pictures(db, tmp_path):
    """An image_scoring project of 3 items (two share one image), each with a 2-0 majority."""
    source = tmp_path / "source"
    source.mkdir()
    files = {"red.png": picture("red"), "blue.jpg": picture("blue", "JPEG")}
    for name, data in files.items():
        (source / name).write_bytes(data)
    records = [{"id": f"i{n}", "image": image, "prompt": f"Colour {n}?", "response": "It is red.",
                "humans": {"a": {"score": str(3 + n)}, "b": {"score": str(3 + n)}}}
               for n, image in enumerate(["red.png", "blue.jpg", "red.png"])]
    import_records(db, source, "image_scoring", records, "pics")
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}, files


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_jsonl_and_csv_write_the_images_beside_the_file(db, tmp_path, pictures, fmt):
    hashes, files = pictures
    out = tmp_path / "out"
    out.mkdir()
    summary = export(db, out, "pics", "gold", fmt)
    path = summary.written.path
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
    expected = {"i0": f"images/{hashes['red.png']}.png", "i1": f"images/{hashes['blue.jpg']}.jpg",
                "i2": f"images/{hashes['red.png']}.png"}
    assert {row["id"]: row["image"] for row in rows} == expected
    assert {row["id"]: str(row["gold_score"]) for row in rows} == {"i0": "3", "i1": "4", "i2": "5"}
    for row in rows:  # each path resolves beside the file to the imported bytes
        data = (path.parent / row["image"]).read_bytes()
        assert data == files["red.png" if row["id"] != "i1" else "blue.jpg"]
    assert sorted(summary.images) == sorted(p.removeprefix("images/") for p in set(expected.values()))
    assert "2 image file(s) in images/ beside it" in summary.line()
    meta = json.loads(summary.written.meta_path.read_text())
    assert meta["images"].startswith("image columns hold images/<sha256>.<ext>")

    bundle = bundle_export(path, summary.written.meta_path, summary.images,
                           bundle=tmp_path / "bundle.zip")
    with zipfile.ZipFile(bundle) as archive:
        assert sorted(archive.namelist()) == sorted(
            [path.name, summary.written.meta_path.name, *(f"images/{n}" for n in summary.images)])
        assert archive.read(path.name) == path.read_bytes()
        assert archive.read(f"images/{hashes['blue.jpg']}.jpg") == files["blue.jpg"]

    # Exporting again over the same folder keeps the image files and writes the same rows.
    again = export(db, out, "pics", "gold", fmt)
    assert again.written.sha256 == summary.written.sha256


def test_parquet_round_trips_through_datasets(db, tmp_path, pictures, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets  # a test requirement: heavy, so only imported here

    hashes, files = pictures
    summary = export(db, tmp_path, "pics", "gold", "parquet")
    assert summary.images == ()
    loaded = datasets.load_dataset("parquet", data_files=str(summary.written.path),
                                   split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(loaded.features["image"], datasets.Image)
    assert loaded["id"] == ["i0", "i1", "i2"]
    for row in loaded:
        original = Image.open(io.BytesIO(files["red.png" if row["id"] != "i1" else "blue.jpg"]))
        assert row["image"].size == (24, 16)
        assert row["image"].convert("RGB").tobytes() == original.convert("RGB").tobytes()
    # The embedded bytes are the stored ones, named by their hash.
    raw = loaded.cast_column("image", datasets.Image(decode=False))
    assert raw[1]["image"]["bytes"] == files["blue.jpg"]
    assert raw[1]["image"]["path"] == f"{hashes['blue.jpg']}.jpg"
