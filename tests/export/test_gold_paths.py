"""The SQLite fast paths of the gold export give the same files as the portable column path
(the one PostgreSQL uses): byte for byte for JSONL, the same table for Parquet."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text as sql_text

import storage.export_gold
from core.export.gold import GoldPolicy, gold_columns
from core.export.writers import write_table
from storage.export_gold import GoldTable, _project_item_ids, gold_table
from storage.projects import get_project
from tests.export.helpers import export, import_records

TRICKY = ["emoji 🧪 and 東京", "RTL עברית", "ctrl \x01\x1f\x7f tab\t CR\r LF\n \u2028",
          'quote " backslash \\ comma ,', "=1+1", "-2", "@x", "", "plain"]


def records(template: str) -> list[dict]:
    rows = []
    for i, text in enumerate(TRICKY):
        row = {"id": f"t{i}", "model": text or None, "group": "g,1" if i % 2 else None,
               "note_field": text, "number": i}
        if template == "thematic_alignment":
            row |= {"source": [text, "second"] if i % 2 else text, "response": text or "r",
                    "humans": {a: {"alignment": 1 + i % 5} for a in ("ann", "bob")}}
        else:
            row |= {"prompt": text or "p", "response": text, "reference": text or None,
                    "humans": {a: {"correct": "correct" if i % 3 else "incorrect"}
                               for a in ("ann", "bob")}}
        rows.append(row)
    return rows


def portable(db, project: str, fmt: str, path) -> bytes:
    """The export written through the column path, whatever the database."""
    with db.read() as session:
        info = get_project(session=session, name=project)
        gold = gold_table(session, info, GoldPolicy("majority", 1))
        batches = storage.export_gold.column_batches(session, info, gold,
                                                 decode_metadata=fmt == "jsonl")
        write_table(path, fmt, gold_columns(info.schema), batches, {})
    return path.read_bytes()


@pytest.mark.parametrize("template", ["correctness", "thematic_alignment"])
def test_jsonl_fast_path_equals_the_column_path(sqlite_db, tmp_path, template):
    fmt = "jsonl"
    import_records(sqlite_db, tmp_path, template, records(template), "tricky")
    fast = export(sqlite_db, tmp_path, "tricky", "gold", fmt, min_labels=1).written.path
    assert fast.read_bytes() == portable(sqlite_db, "tricky", fmt, tmp_path / f"slow.{fmt}")
    assert fast.read_bytes().count(b"\n") >= len(TRICKY)


@pytest.mark.parametrize("template", ["correctness", "thematic_alignment"])
def test_parquet_fast_path_equals_the_column_path(sqlite_db, tmp_path, template):
    # correctness: fields parsed by pyarrow from the stored JSON; thematic_alignment (a texts
    # field): values read as bytes.
    import_records(sqlite_db, tmp_path, template, records(template), "tricky")
    fast = export(sqlite_db, tmp_path, "tricky", "gold", "parquet", min_labels=1).written.path
    portable(sqlite_db, "tricky", "parquet", tmp_path / "slow.parquet")
    assert pq.read_table(fast).equals(pq.read_table(tmp_path / "slow.parquet"))
    rows = pq.read_table(fast).to_pylist()
    assert [row["id"] for row in rows] == [f"t{i}" for i in range(len(TRICKY))]
    assert rows[1]["metadata"] == '{"note_field": "RTL עברית", "number": 1}'
    if template == "thematic_alignment":
        assert rows[1]["source"] == [TRICKY[1], "second"]
    else:
        assert [row["response"] for row in rows] == [text or None for text in TRICKY]
        assert rows[2]["prompt"] == TRICKY[2] and rows[7]["reference"] is None


@pytest.mark.parametrize("template", ["correctness", "thematic_alignment"])
def test_csv_fast_path_equals_the_column_path(sqlite_db, tmp_path, template):
    # correctness: fields parsed by pyarrow from the stored JSON, handed on as UTF-8 bytes;
    # thematic_alignment (a texts field): one json_extract per field.
    import_records(sqlite_db, tmp_path, template, records(template), "tricky")
    fast = export(sqlite_db, tmp_path, "tricky", "gold", "csv", min_labels=1).written.path
    assert fast.read_bytes() == portable(sqlite_db, "tricky", "csv", tmp_path / "slow.csv")
    assert "ctrl \x01\x1f\x7f tab\t CR\r LF\n \u2028".encode() in fast.read_bytes()


def test_parsed_fields_stay_with_their_batch(sqlite_db, tmp_path, monkeypatch):
    # Each batch's fields are parsed while the next batch is read: with batches of two items
    # every field must still land beside its own item's id and gold.
    import_records(sqlite_db, tmp_path, "correctness", records("correctness"), "tricky")
    cursor_batches = storage.export_gold.cursor_batches
    monkeypatch.setattr(storage.export_gold, "cursor_batches",
                        lambda *args, **kwargs: cursor_batches(*args, size=2, **kwargs))
    for fmt in ("csv", "parquet"):
        fast = export(sqlite_db, tmp_path, "tricky", "gold", fmt, min_labels=1).written.path
        slow = tmp_path / f"slow.{fmt}"
        portable(sqlite_db, "tricky", fmt, slow)
        if fmt == "csv":
            assert fast.read_bytes() == slow.read_bytes()
        else:
            assert pq.read_table(fast).equals(pq.read_table(slow))
            rows = pq.read_table(fast).to_pylist()
            assert [(row["id"], row["response"]) for row in rows] == [
                (f"t{i}", text or None) for i, text in enumerate(TRICKY)]


def test_gold_rows_are_matched_to_items_by_id():
    # Items 10, 12, 13 of a project; 12 has no gold. A batch may hold ids the table does not
    # (an item of another project, an item added since): they get no gold row.
    gold = GoldTable(np.array([10, 12, 13]), [["x", None, "z"]], np.array([True, False, True]))
    assert gold.match([9, 10, 11, 12, 13, 14]) == ([1, 4], [0, 2])
    assert gold.match([12]) == ([], [])
    assert gold.rows([0, 2]) == [["x", "z"]]
    empty = GoldTable(np.empty(0, dtype=np.int64), [[]], np.empty(0, dtype=bool))
    assert empty.match([1, 2]) == ([], [])


def test_project_item_ids_read_as_a_run_or_one_by_one(sqlite_db, tmp_path):
    import_records(sqlite_db, tmp_path, "correctness", records("correctness")[:3], "a")
    import_records(sqlite_db, tmp_path, "correctness", records("correctness")[:2], "b")
    import_records(sqlite_db, tmp_path, "correctness", records("correctness")[3:5], "a")
    with sqlite_db.read() as session:
        a = _project_item_ids(session, get_project(session=session, name="a").id)
        b = _project_item_ids(session, get_project(session=session, name="b").id)
        expected = {name: [row[0] for row in session.execute(sql_text(
            "SELECT item.id FROM item JOIN project ON project.id = item.project_id "
            "WHERE project.name = :name ORDER BY item.id"), {"name": name})] for name in "ab"}
    assert a.tolist() == expected["a"] and len(a) == 5  # ids with b's between: read one by one
    assert b.tolist() == expected["b"] and len(b) == 2  # one unbroken run
