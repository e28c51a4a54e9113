"""Exports of batch rankings (issue 18) on SQLite and PostgreSQL: the gold ranking (Borda of
the human orders under the gold policy, adjudication on top) in JSONL/CSV/Parquet, DPO pairs
from it (all or adjacent), the labels export's orders, reloading with ``datasets`` and
re-importing into Docket. Expected values are computed by hand in the comments."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.export.writers import ExportError
from core.schema_toml import load_schema_toml
from core.templates import TEMPLATE_DIR, TEMPLATES
from storage.authz import OPERATOR
from storage.gold import adjudicate
from storage.importer import import_file
from storage.projects import get_project
from storage.readback import human_labels_frame, items_frame
from storage.review import find_item_id
from storage.users import create_user
from tests.converters import write_csv, write_jsonl, write_parquet
from tests.export.helpers import export

BATCH_RANKING = TEMPLATES["batch_ranking"]
THREE = ["first answer", "second answer", "third answer"]
FOUR = ["w", "x", "y", "z"]
RECORDS = [
    # Points 2/1/0: 1 -> 1+1+2 = 4, 2 -> 2+2+0 = 4, 3 -> 1; tie 1-2 broken by first places
    # (2 twice): gold (2, 1, 3); two humans gave exactly it; mean τ-b (1 - 1/3 - 1/3)/3 = 1/9.
    {"id": "r1", "prompt": "P1", "responses": THREE, "judges": {"gpt": {"ranking": [1, 2, 3]}},
     "humans": {"ann": {"ranking": [2, 1, 3]}, "bob": {"ranking": "2,1,3"},
                "cy": {"ranking": [1, 3, 2]}}},
    # Points 1 -> 3, 2 -> 3, first places 1 each: the earlier response, gold (1, 2, 3); τ 1/3.
    {"id": "r2", "prompt": "P2", "responses": THREE,
     "humans": {"ann": {"ranking": [1, 2, 3]}, "bob": {"ranking": [2, 1, 3]}}},
    # One order: gold only with K = 1.
    {"id": "r3", "prompt": "P3", "responses": THREE, "humans": {"ann": {"ranking": [3, 2, 1]}}},
    # Two equal orders (4, 1, 3, 2), which an admin overrides with (1, 2, 3, 4).
    {"id": "r4", "prompt": "P4", "responses": FOUR, "judges": {"gpt": {"ranking": "[4, 3, 2, 1]"}},
     "humans": {"ann": {"ranking": [4, 1, 3, 2]}, "bob": {"ranking": [4, 1, 3, 2]}}},
    # Nobody ranked it.
    {"id": "r5", "prompt": "P5", "responses": FOUR},
]
ADJUDICATED = [1, 2, 3, 4]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_rows(path: Path, fmt: str) -> list[dict]:
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def ranked(db, tmp_path):
    """The project ``rank`` of :data:`RECORDS`, r4 adjudicated by the admin ``ada``."""
    import_file(db, write_jsonl(RECORDS, tmp_path / "rank.jsonl"), project_name="rank",
                schema=BATCH_RANKING, actor=OPERATOR)
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None,
                            actor=OPERATOR)
    with db.read() as session:
        project_id = get_project(session=session, name="rank").id
        r4 = find_item_id(session=session, project_id=project_id, external_id="r4")
    with db.write() as session:
        adjudicate(session=session, item_id=r4, actor=admin, labels={"ranking": ADJUDICATED})
    return project_id


EXPECTED = {  # id -> (gold order, method, annotators, agreeing, mean τ-b)
    "r1": ([2, 1, 3], "borda", 3, 2, 1 / 9),
    "r2": ([1, 2, 3], "borda", 2, 1, 1 / 3),
    "r4": (ADJUDICATED, "adjudicated", 2, 0, 1.0),
}


def decided(row: dict) -> tuple:
    return (row["gold_ranking"], row["gold_ranking_method"], row["gold_ranking_annotators"],
            row["gold_ranking_agreeing"], pytest.approx(row["gold_ranking_mean_tau"]))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_gold_rankings_are_lists_of_ints(db, tmp_path, ranked, fmt):
    summary = export(db, tmp_path, "rank", "gold", fmt)
    rows = {row["id"]: row for row in read_rows(summary.written.path, fmt)}
    assert {item: decided(row) for item, row in rows.items()} == {
        item: (*values[:4], pytest.approx(values[4])) for item, values in EXPECTED.items()}
    assert summary.skipped == {"items without gold": 2}  # r3 (one order < K = 2) and r5
    assert rows["r4"]["gold_ranking_decided_by"] == "ada"
    assert rows["r1"]["gold_ranking_decided_by"] is None
    assert rows["r1"]["responses"] == THREE and rows["r1"]["prompt"] == "P1"
    if fmt == "parquet":
        assert pq.read_schema(summary.written.path).field("gold_ranking").type == (
            pa.list_(pa.int64()))
    meta = json.loads(summary.written.meta_path.read_text(encoding="utf-8"))
    assert meta["policy"]["rankings"] == ("adjudicated, else the Borda consensus of at least 2 "
                                          "human orders")


def test_gold_rankings_in_csv_are_the_import_text(db, tmp_path, ranked):
    path = export(db, tmp_path, "rank", "gold", "csv").written.path
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:10] == [
        "id", "prompt", "responses", "model", "group", "metadata", "gold_ranking",
        "gold_ranking_method", "gold_ranking_annotators", "gold_ranking_agreeing"]
    rows = {row["id"]: row for row in read_rows(path, "csv")}
    assert {item: row["gold_ranking"] for item, row in rows.items()} == {
        "r1": "2,1,3", "r2": "1,2,3", "r4": "1,2,3,4"}
    assert json.loads(rows["r1"]["responses"]) == THREE


def test_k_the_tau_floor_and_the_adjudicated_policy(db, tmp_path, ranked):
    everyone = {row["id"]: row for row in read_jsonl(
        export(db, tmp_path, "rank", "gold", min_labels=1).written.path)}
    assert set(everyone) == {"r1", "r2", "r3", "r4"}
    assert decided(everyone["r3"]) == ([3, 2, 1], "borda", 1, 1, pytest.approx(None))
    # τ-b floor 0.2: r1 (1/9) falls, r2 (1/3) stays, the adjudicated r4 stays; unanimous and
    # majority decide rankings alike.
    for policy in ("majority", "unanimous"):
        floor = export(db, tmp_path, "rank", "gold", policy=policy, min_tau=0.2)
        assert [row["id"] for row in read_jsonl(floor.written.path)] == ["r2", "r4"]
    only = read_jsonl(export(db, tmp_path, "rank", "gold", policy="adjudicated").written.path)
    assert [(row["id"], row["gold_ranking"]) for row in only] == [("r4", ADJUDICATED)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_preference_pairs_from_the_gold_rankings(db, tmp_path, ranked, fmt):
    every = export(db, tmp_path, "rank", "preferences", fmt)
    rows = read_rows(every.written.path, fmt)
    # n(n-1)/2 per item with gold: r1 3, r2 3, r4 6.
    assert len(rows) == every.written.rows == 12
    assert [(r["id"], r["chosen"], r["rejected"]) for r in rows if r["id"].startswith("r1")] == [
        ("r1:2>1", "second answer", "first answer"), ("r1:2>3", "second answer", "third answer"),
        ("r1:1>3", "first answer", "third answer")]
    assert {r["method"] for r in rows if r["id"].startswith("r4")} == {"adjudicated"}
    assert list(rows[0])[:3] == ["prompt", "chosen", "rejected"]

    adjacent = export(db, tmp_path, "rank", "preferences", fmt, pairs="adjacent")
    rows = read_rows(adjacent.written.path, fmt)
    assert len(rows) == 2 + 2 + 3  # n - 1 per item
    assert [(r["id"], r["prompt"], r["chosen"], r["rejected"], r["chosen_label"],
             r["rejected_label"]) for r in rows if r["id"].startswith("r4")] == [
        ("r4:1>2", "P4", "w", "x", "1", "2"), ("r4:2>3", "P4", "x", "y", "2", "3"),
        ("r4:3>4", "P4", "y", "z", "3", "4")]
    meta = json.loads(adjacent.written.meta_path.read_text(encoding="utf-8"))
    assert meta["pairs"] == "adjacent"
    assert adjacent.skipped == {"items without gold": 2}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_labels_export_carries_every_order(db, tmp_path, ranked, fmt):
    path = export(db, tmp_path, "rank", "labels", fmt).written.path
    rows = read_rows(path, fmt)
    by_rater = {(r["id"], r["rater"]): r for r in rows}
    assert len(rows) == 8 + 2  # human orders and judge orders
    ann, judge = by_rater[("r1", "ann")], by_rater[("r4", "gpt")]
    assert (ann["rater_kind"], ann["label"]) == ("human", "2,1,3")
    assert (judge["rater_kind"], judge["label"]) == ("judge", "4,3,2,1")
    if fmt == "csv":
        assert (ann["order"], judge["order"]) == ("2,1,3", "4,3,2,1")
        assert list(rows[0]).index("order") == list(rows[0]).index("label") + 1
    else:
        assert (ann["order"], judge["order"]) == ([2, 1, 3], [4, 3, 2, 1])
        assert by_rater[("r1", "cy")]["order"] == [1, 3, 2]


def test_datasets_load_what_was_written(db, tmp_path, ranked, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets  # a test requirement: heavy, so imported here

    cache = str(tmp_path / "hf-cache")
    for kind in ("gold", "preferences", "labels"):
        for fmt, builder in (("jsonl", "json"), ("parquet", "parquet")):
            path = export(db, tmp_path, "rank", kind, fmt).written.path
            loaded = datasets.load_dataset(builder, data_files=str(path), split="train",
                                           cache_dir=cache).to_list()
            written = read_rows(path, fmt)
            assert ([{k: _plain(v) for k, v in row.items()} for row in loaded]
                    == [{k: _plain(v) for k, v in row.items()} for row in written]), kind
            if kind == "gold":
                assert [row["gold_ranking"] for row in loaded] == [[2, 1, 3], [1, 2, 3],
                                                                   ADJUDICATED]


def _plain(value):
    """A timestamp as ISO text in UTC (``datasets`` reads JSONL's timestamp text as datetimes);
    anything else as it is."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def reimport(db, tmp_path: Path, fmt: str, exported: Path, name: str) -> None:
    """The exported gold as the human ``gold``'s labels of a new project, each column kept as
    the export wrote it (lists stay lists, CSV text stays text)."""
    records = [{"id": row["id"], "prompt": row["prompt"], "responses": row["responses"],
                "humans": {"gold": {"ranking": row["gold_ranking"]}}}
               for row in read_rows(exported, fmt)]
    writer = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}[fmt]
    import_file(db, writer(records, tmp_path / f"{name}.{fmt}"), project_name=name,
                schema=BATCH_RANKING, actor=OPERATOR)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_gold_export_reimports_with_the_same_labels(db, tmp_path, ranked, fmt):
    summary = export(db, tmp_path, "rank", "gold", fmt, min_labels=1)
    reimport(db, tmp_path, fmt, summary.written.path, "again")
    with db.read() as session:
        new = get_project(session=session, name="again").id
        labels = human_labels_frame(session=session, project_id=new)
        old_items = items_frame(session=session, project_id=ranked).set_index("id")
        new_items = items_frame(session=session, project_id=new).set_index("id")
    assert dict(zip(labels["id"], labels["label"], strict=True)) == {
        "r1": "2,1,3", "r2": "1,2,3", "r3": "3,2,1", "r4": "1,2,3,4"}
    for item_id in new_items.index:
        assert new_items.loc[item_id, "fields"] == old_items.loc[item_id, "fields"]
    # Exported again, the new project's gold (one order each, K = 1) holds the same orders.
    again = export(db, tmp_path, "again", "gold", fmt, min_labels=1).written.path
    assert ({row["id"]: row["gold_ranking"] for row in read_rows(again, fmt)}
            == {row["id"]: row["gold_ranking"] for row in read_rows(summary.written.path, fmt)})


def test_ranked_images_keep_the_image_export_and_refuse_dpo(db, tmp_path):
    from PIL import Image

    toml = (TEMPLATE_DIR / "batch_ranking.toml").read_text(encoding="utf-8").replace(
        'kind = "texts"', 'kind = "images"')
    schema_path = tmp_path / "pictures.toml"
    schema_path.write_text(toml.replace('name = "batch_ranking"', 'name = "picture_ranking"'),
                           encoding="utf-8")
    schema = load_schema_toml(schema_path)
    for name, colour in (("a.png", (255, 0, 0)), ("b.png", (0, 0, 255))):
        Image.new("RGB", (8, 8), colour).save(tmp_path / name)
    records = [{"id": "p1", "prompt": "Which is redder?", "responses": ["a.png", "b.png"],
                "humans": {"ann": {"ranking": [1, 2]}, "bob": {"ranking": [1, 2]}}}]
    import_file(db, write_jsonl(records, tmp_path / "pictures.jsonl"), project_name="pictures",
                schema=schema, actor=OPERATOR)
    out = tmp_path / "out"
    out.mkdir()
    summary = export(db, out, "pictures", "gold")
    (row,) = read_jsonl(summary.written.path)
    assert row["gold_ranking"] == [1, 2] and all(p.startswith("images/") for p in row["responses"])
    assert (out / row["responses"][0]).read_bytes() == (tmp_path / "a.png").read_bytes()
    with pytest.raises(ExportError, match="'responses' holds images: export gold instead"):
        export(db, out, "pictures", "preferences")
    assert not (out / "pictures-preferences.jsonl").exists()


@pytest.mark.parametrize("kind", ["gold", "labels"])
def test_a_stored_label_that_is_no_order_is_named(db, tmp_path, ranked, kind):
    from sqlalchemy import text

    from core.metrics import MetricsInputError

    with db.write() as session:
        session.execute(text("UPDATE annotation SET label = '1,1,3' WHERE id = "
                             "(SELECT MIN(id) FROM annotation)"))
    with pytest.raises(MetricsInputError, match="stored label '1,1,3' of ranking dimension "
                                                "'ranking' is not an order"):
        export(db, tmp_path, "rank", kind)
    assert not (tmp_path / f"rank-{kind}.jsonl").exists()


def test_the_sqlite_jsonl_fast_path_writes_rankings_as_the_column_path(sqlite_db, tmp_path):
    from tests.export.test_gold_paths import portable

    import_file(sqlite_db, write_jsonl(RECORDS, tmp_path / "rank.jsonl"), project_name="rank",
                schema=BATCH_RANKING, actor=OPERATOR)
    fast = export(sqlite_db, tmp_path, "rank", "gold", "jsonl", min_labels=1).written.path
    assert fast.read_bytes() == portable(sqlite_db, "rank", "jsonl", tmp_path / "slow.jsonl")
    assert b'"gold_ranking":[2,1,3]' in fast.read_bytes()
