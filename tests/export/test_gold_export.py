"""Gold export on SQLite and PostgreSQL: policies, adjudication, layout, round trip, exactness,
Hugging Face ``datasets`` loading."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.gold import adjudicate
from storage.importer import import_file
from storage.projects import get_project
from storage.readback import human_labels_frame, items_frame
from storage.review import find_item_id
from storage.users import create_user
from tests.converters import write_csv, write_jsonl, write_parquet
from tests.export.helpers import export, import_records

HUMANS3 = {"ann": "correct", "bob": "correct", "cy": "incorrect"}
RECORDS = [
    {"id": "q1", "prompt": "Capital of Australia?", "response": "Sydney", "reference": "Canberra",
     "model": "m1", "group": "geo", "source_url": "atlas",
     "humans": {"ann": {"correct": "incorrect"}, "bob": {"correct": "incorrect"}}},
    {"id": "q2", "prompt": "2 + 2?", "response": "4", "model": "m2",
     "humans": {name: {"correct": label} for name, label in HUMANS3.items()}},
    {"id": "q3", "prompt": "Largest planet?", "response": "Saturn",
     "humans": {"ann": {"correct": "correct"}, "bob": {"correct": "incorrect"}}},
    {"id": "q4", "prompt": "H2O is?", "response": "water", "humans": {"ann": {"correct": "correct"}}},
]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def quiz(db, tmp_path):
    project_id = import_records(db, tmp_path, "correctness", RECORDS, "quiz")
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None, actor=OPERATOR)
    with db.read() as session:
        q3 = find_item_id(session=session, project_id=project_id, external_id="q3")
    return project_id, admin, q3


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}


def test_majority_policy_decides_from_the_humans(db, tmp_path, quiz):
    summary = export(db, tmp_path, "quiz", "gold")
    rows = by_id(read_jsonl(summary.written.path))
    assert set(rows) == {"q1", "q2"}  # q3 is a 1-1 tie, q4 has one label (< 2)
    assert summary.skipped == {"items without gold": 2}
    q1, q2 = rows["q1"], rows["q2"]
    assert (q1["gold_correct"], q1["gold_correct_method"], q1["gold_correct_annotators"],
            q1["gold_correct_agreeing"]) == ("incorrect", "unanimous", 2, 2)
    assert (q2["gold_correct"], q2["gold_correct_method"], q2["gold_correct_agreeing"]) == (
        "correct", "majority", 2)
    assert (q1["prompt"], q1["response"], q1["reference"], q1["model"], q1["group"]) == (
        "Capital of Australia?", "Sydney", "Canberra", "m1", "geo")
    assert q1["metadata"] == {"source_url": "atlas"} and q2["reference"] is None
    assert q1["gold_correct_decided_by"] is None and q1["gold_reference_answer"] is None


def test_policies_and_adjudication(db, tmp_path, quiz):
    _, admin, q3 = quiz
    with db.write() as session:
        adjudicate(session=session, item_id=q3, actor=admin, labels={"correct": "incorrect"},
                   reference_answer="Jupiter", note="Saturn is second")
    unanimous = by_id(read_jsonl(export(db, tmp_path, "quiz", "gold", policy="unanimous")
                                 .written.path))
    assert set(unanimous) == {"q1", "q3"}
    q3_row = unanimous["q3"]
    assert (q3_row["gold_correct"], q3_row["gold_correct_method"], q3_row["gold_correct_agreeing"],
            q3_row["gold_correct_annotators"], q3_row["gold_correct_decided_by"]) == (
        "incorrect", "adjudicated", 1, 2, "ada")
    assert q3_row["gold_correct_decided_at"].startswith("20")
    assert (q3_row["gold_reference_answer"], q3_row["gold_reference_answer_source"],
            q3_row["gold_note"]) == ("Jupiter", "adjudicated", "Saturn is second")
    only = read_jsonl(export(db, tmp_path, "quiz", "gold", policy="adjudicated").written.path)
    assert [row["id"] for row in only] == ["q3"]
    everyone = by_id(read_jsonl(export(db, tmp_path, "quiz", "gold", min_labels=1).written.path))
    assert set(everyone) == {"q1", "q2", "q3", "q4"}


def test_metadata_sidecar_describes_the_export(db, tmp_path, quiz):
    summary = export(db, tmp_path, "quiz", "gold", "csv", policy="unanimous", min_labels=2)
    meta = json.loads(summary.written.meta_path.read_text(encoding="utf-8"))
    assert (meta["project"], meta["kind"], meta["format"], meta["template"], meta["rows"]) == (
        "quiz", "gold", "csv", "correctness", 1)
    assert meta["policy"]["name"] == "unanimous" and meta["policy"]["min_labels"] == 2
    assert meta["schema"]["name"] == "correctness" and meta["docket_version"]
    assert len(meta["sha256"]) == 64 and meta["exported_at"].endswith("+00:00")


def reimport_as_humans(db, tmp_path: Path, fmt: str, exported: Path, name: str) -> None:
    """Turn gold columns into ``human.gold.<dim>`` labels and import into a new project."""
    dims = TEMPLATES["correctness"].dimension_names
    if fmt == "jsonl":
        records = []
        for row in read_jsonl(exported):
            record = {k: v for k, v in row.items() if not k.startswith("gold_") and v is not None
                      and k != "metadata"}
            record["humans"] = {"gold": {d: row[f"gold_{d}"] for d in dims}}
            records.append(record)
        path = write_jsonl(records, tmp_path / f"{name}.jsonl")
    else:
        table = (pq.read_table(exported).to_pylist() if fmt == "parquet" else
                 list(csv.DictReader(exported.open(encoding="utf-8", newline=""))))
        records = [{**{k: v for k, v in row.items() if k in ("id", "prompt", "response",
                                                             "reference", "model", "group")
                       and v not in (None, "")},
                    "humans": {"gold": {d: row[f"gold_{d}"] for d in dims}}} for row in table]
        path = (write_parquet if fmt == "parquet" else write_csv)(records, tmp_path / f"{name}.{fmt}")
    import_file(db, path, project_name=name, schema=TEMPLATES["correctness"], actor=OPERATOR)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_gold_round_trips_as_human_labels_of_a_new_project(db, tmp_path, quiz, fmt):
    summary = export(db, tmp_path, "quiz", "gold", fmt, min_labels=1)
    reimport_as_humans(db, tmp_path, fmt, summary.written.path, "again")
    with db.read() as session:
        old = get_project(session=session, name="quiz").id
        new = get_project(session=session, name="again").id
        labels = human_labels_frame(session=session, project_id=new)
        old_items = items_frame(session=session, project_id=old).set_index("id")
        new_items = items_frame(session=session, project_id=new).set_index("id")
    # q3 is a 1-1 tie: no gold, so it is not exported.
    assert dict(zip(labels["id"], labels["label"], strict=True)) == {
        "q1": "incorrect", "q2": "correct", "q4": "correct"}
    assert set(labels["annotator"]) == {"gold"}
    assert list(new_items.index) == ["q1", "q2", "q4"]
    for item_id in new_items.index:
        new, old = new_items.loc[item_id], old_items.loc[item_id]
        assert new["fields"] == old["fields"]
        assert (new["model"], new["group"]) == (old["model"], old["group"]) or (
            pd.isna(new["model"]) and pd.isna(old["model"]))


TRICKY = [
    "emoji 🧪🦘 and a ZWJ family 👩‍👩‍👧 and flags 🇦🇺",
    "RTL: שלום עולם — مرحبا بالعالم (mixed ‏marks‎)",
    "controls \x01\x02\x07\x08\x0b\x0c\x1b\x1f\x7f and tab\tand CR\r\nLF\n\u2028\u2029\x85",
    "quotes \" ' ` and backslash \\ and JSON-ish {\"a\": [1]}",
    "=cmd|' /C calc'!A0",
]


def test_jsonl_export_equals_the_stored_text_byte_for_byte(db, tmp_path):
    long = ("A long answer with ünïcödé. " * 4000)[:100_000]
    records = [{"id": f"t{i}", "prompt": text, "response": text[::-1],
                "humans": {"ann": {"correct": "correct"}}}
               for i, text in enumerate([*TRICKY, long])]
    project_id = import_records(db, tmp_path, "correctness", records, "tricky")
    summary = export(db, tmp_path, "tricky", "gold", min_labels=1)
    raw = summary.written.path.read_bytes()
    exported = [json.loads(line) for line in raw.split(b"\n") if line]
    with db.read() as session:
        stored = items_frame(session=session, project_id=project_id).set_index("id")["fields"]
    assert len(exported) == len(records) == len(stored)
    for row, record in zip(exported, records, strict=True):
        for field in ("prompt", "response"):
            assert row[field] == stored[row["id"]][field] == record[field]
            # Non-ASCII text is written as its UTF-8 bytes, not \u escapes.
            if field == "prompt" and "\\" not in record[field] and not any(
                    ch < " " or ch == '"' for ch in record[field]):
                assert record[field].encode("utf-8") in raw
    assert len(exported[-1]["prompt"]) == 100_000


def test_hugging_face_datasets_load_the_exports(db, tmp_path, quiz, monkeypatch):
    # Offline before the import: huggingface_hub reads these when it is imported, and no
    # traffic may leave this machine.
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets  # a test requirement (requirements-dev.txt): heavy, so only imported here
    cache = tmp_path / "hf-cache"
    for fmt, builder in (("jsonl", "json"), ("parquet", "parquet"), ("csv", "csv")):
        path = export(db, tmp_path, "quiz", "gold", fmt, min_labels=1).written.path
        data = datasets.load_dataset(builder, data_files=str(path), split="train",
                                     cache_dir=str(cache))
        assert data.num_rows == 3
        assert "gold_correct" in data.column_names and "prompt" in data.column_names
        assert sorted(data["gold_correct"]) == ["correct", "correct", "incorrect"]


def test_a_stored_label_off_the_scale_is_named(db, tmp_path, quiz):
    from sqlalchemy import text

    from core.metrics import MetricsInputError

    with db.write() as session:
        session.execute(text("UPDATE annotation SET label = 'maybe' WHERE id = "
                             "(SELECT MIN(id) FROM annotation)"))
    with pytest.raises(MetricsInputError, match="stored label 'maybe' is not on the scale of "
                                                "dimension 'correct'"):
        export(db, tmp_path, "quiz", "gold")
    assert not (tmp_path / "quiz-gold.jsonl").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_projects_with_interleaved_items_keep_their_own_labels(db, tmp_path, fmt):
    # "a" gets items before and after "b", so b's items lie inside a's range of item ids.
    def item(item_id: str, label: str) -> dict:
        return {"id": item_id, "prompt": f"question {item_id}", "response": "r",
                "humans": {n: {"correct": label} for n in ("ann", "bob")}}

    import_records(db, tmp_path, "correctness", [item("a1", "correct"), item("a2", "correct")], "a")
    import_records(db, tmp_path, "correctness", [item("b1", "incorrect"), item("b2", "incorrect"),
                                                 item("b3", "incorrect")], "b")
    unlabelled = {"id": "a3", "prompt": "question a3", "response": "r"}
    import_file(db, write_jsonl([item("a1", "correct"), item("a2", "correct"), unlabelled],
                                tmp_path / "a-more.jsonl"), project_name="a", schema=None, actor=OPERATOR)

    summary = export(db, tmp_path, "a", "gold", fmt)
    path = summary.written.path
    if fmt == "parquet":
        rows = pq.read_table(path).to_pylist()
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    # b's labels must not count for a3, the item of "a" next to them in id order.
    assert [(r["id"], r["gold_correct"], str(r["gold_correct_annotators"])) for r in rows] == [
        ("a1", "correct", "2"), ("a2", "correct", "2")]
    assert summary.skipped == {"items without gold": 1}
