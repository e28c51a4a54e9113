"""Exports survive whatever an older Docket stored: NaN/Infinity in metadata, broken JSON, NUL.

Before the fix, metadata stored as ``{"score": NaN}`` (imports accepted it) broke every gold
JSONL export (SQLite: "malformed JSON"; PostgreSQL: "Out of range float values are not JSON
compliant") and leaked into CSV as text no JSON reader takes, and a NUL stored in an item's
text (``\\u0000`` in its JSON) broke every gold export on PostgreSQL. The values are written in
the test straight into the database, as an old version left them. Now a non-finite number is
exported as ``null``, metadata that is not JSON at all as its text (a JSON string), and every
export is strict JSON.
"""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from tests.export.helpers import export, import_records
from tests.export.test_gold_paths import portable

STORED = '{"list": [Infinity, -Infinity, 1.5], "ok": "x", "score": NaN}'
CLEANED = {"list": [None, None, 1.5], "ok": "x", "score": None}
BROKEN = '{"score": 0.5, "cut'


def strict_loads(data: str | bytes):
    """json.loads that refuses NaN and Infinity, as every other JSON reader does."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(data, parse_constant=refuse)


def records() -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
             "reference": "ref", "topic": "t",
             "humans": {a: {"correct": "incorrect"} for a in ("ann", "bob")}}
            for i in range(3)]


def store(db, sql: str, **params) -> None:
    with db.write() as session:
        session.execute(text(sql), params)


@pytest.fixture
def old_values(db, tmp_path):
    """A correctness project whose items q0 and q1 hold metadata an old Docket stored."""
    import_records(db, tmp_path, "correctness", records(), "old")
    store(db, "UPDATE item SET metadata_json = :m WHERE external_id = 'q0'", m=STORED)
    store(db, "UPDATE item SET metadata_json = :m WHERE external_id = 'q1'", m=BROKEN)
    return db


def expected_metadata() -> dict[str, object]:
    return {"q0": CLEANED, "q1": BROKEN, "q2": {"topic": "t"}}


def test_gold_jsonl_is_strict_json(old_values, tmp_path):
    path = export(old_values, tmp_path, "old", "gold", "jsonl").written.path
    rows = [strict_loads(line) for line in path.read_text("utf-8").splitlines()]
    assert {row["id"]: row["metadata"] for row in rows} == expected_metadata()


def test_gold_csv_metadata_is_strict_json(old_values, tmp_path):
    path = export(old_values, tmp_path, "old", "gold", "csv").written.path
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    assert {row["id"]: strict_loads(row["metadata"]) for row in rows} == expected_metadata()


def test_gold_parquet_metadata_is_strict_json(old_values, tmp_path):
    path = export(old_values, tmp_path, "old", "gold", "parquet").written.path
    rows = pq.read_table(path).to_pylist()
    assert {row["id"]: strict_loads(row["metadata"]) for row in rows} == expected_metadata()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_stored_nul_in_an_item_text_does_not_break_the_export(db, tmp_path, fmt):
    import_records(db, tmp_path, "correctness", records(), "nul")
    store(db, "UPDATE item SET fields_json = :f WHERE external_id = 'q1'",
          f='{"prompt": "a\\u0000b", "response": "r"}')
    path = export(db, tmp_path, "nul", "gold", fmt).written.path
    if fmt == "jsonl":
        prompts = [strict_loads(line)["prompt"] for line in path.read_text("utf-8").splitlines()]
    elif fmt == "parquet":
        prompts = pq.read_table(path).column("prompt").to_pylist()
    else:
        with path.open(encoding="utf-8", newline="") as source:
            prompts = [row["prompt"] for row in csv.DictReader(source)]
    assert prompts[1] == "a\x00b"
    assert prompts[0] == "Question 0?"


def test_sqlite_fast_path_writes_what_the_portable_path_writes(sqlite_db, tmp_path):
    import_records(sqlite_db, tmp_path, "correctness", records(), "old")
    store(sqlite_db, "UPDATE item SET metadata_json = :m WHERE external_id = 'q0'", m=STORED)
    store(sqlite_db, "UPDATE item SET metadata_json = :m WHERE external_id = 'q1'", m=BROKEN)
    for fmt in ("jsonl", "csv"):
        fast = export(sqlite_db, tmp_path, "old", "gold", fmt).written.path.read_bytes()
        assert fast == portable(sqlite_db, "old", fmt, tmp_path / f"portable.{fmt}")
