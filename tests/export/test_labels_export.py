"""Long-format labels export: humans (UI and imported), judges, juries, on both backends."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from core.export.writers import ExportError
from core.metrics import MetricsInputError
from storage.annotation import reveal_verdicts, submit_labels
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.queues import next_assignment, rebuild_queues
from storage.users import create_user
from tests.export.helpers import export, import_records

RECORDS = [
    {"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
     "judges": {"gpt-4o": {"correct": "correct" if i % 2 else "incorrect",
                           "rationale": f"because {i}"},
                "llama": {"correct": "correct"},
                "mistral": [{"correct": "incorrect"}, {"correct": "correct"}]},
     "humans": {"imported": {"correct": "incorrect", "comment": "from the file"}}}
    for i in range(3)
]


@pytest.fixture
def labelled(db, tmp_path):
    project_id = import_records(db, tmp_path, "correctness", RECORDS, "quiz")
    with db.write() as session:
        ann = create_user(session=session, name="ann", role="annotator", password=None, actor=OPERATOR).id
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=1))
        set_members(session=session, project_id=project_id, user_ids=[ann], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                  labels={"correct": "correct"}, comment="looks right", confidence=4, actor=OPERATOR)
    reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=item_id, actor=OPERATOR)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                  labels={"correct": "incorrect"}, comment="looks right", confidence=4,
                  reason="the judge was right", actor=OPERATOR)
    return project_id


def test_every_label_is_a_row_with_its_provenance(db, tmp_path, labelled):
    summary = export(db, tmp_path, "quiz", "labels")
    rows = [json.loads(line) for line in summary.written.path.read_text("utf-8").splitlines()]
    humans = [r for r in rows if r["rater_kind"] == "human"]
    judges = [r for r in rows if r["rater_kind"] == "judge"]
    assert len(humans) == 4 and len(judges) == 12 and summary.written.rows == 16
    ui = next(r for r in humans if r["rater"] == "ann")
    assert (ui["id"], ui["dimension"], ui["label"], ui["revision"], ui["blind"], ui["source"],
            ui["comment"], ui["confidence"]) == ("q0", "correct", "incorrect", 2, False, "ui",
                                                 "looks right", 4)
    assert ui["created_at"] <= ui["updated_at"]
    imported = [r for r in humans if r["rater"] == "imported"]
    assert {r["comment"] for r in imported} == {"from the file"}
    assert {r["blind"] for r in imported} == {None} and {r["source"] for r in imported} == {"import"}
    gpt = [r for r in judges if r["rater"] == "gpt-4o"]
    assert [(r["id"], r["label"], r["rationale"]) for r in gpt] == [
        ("q0", "incorrect", "because 0"), ("q1", "correct", "because 1"),
        ("q2", "incorrect", "because 2")]
    mistral = [(r["id"], r["sample_index"], r["label"]) for r in judges if r["rater"] == "mistral"]
    assert mistral[:2] == [("q0", 0, "incorrect"), ("q0", 1, "correct")]


def test_juries_vote_by_majority(db, tmp_path, labelled):
    summary = export(db, tmp_path, "quiz", "labels", "csv",
                     juries={"trio": ["gpt-4o", "llama", "mistral"]})
    with summary.written.path.open(encoding="utf-8", newline="") as source:
        jury = [row for row in csv.DictReader(source) if row["rater_kind"] == "jury"]
    # mistral's two samples (incorrect, correct) tie on every item: it has no vote. gpt-4o /
    # llama: q0 incorrect/correct (tie), q1 correct/correct, q2 incorrect/correct (tie).
    assert [(r["id"], r["label"]) for r in jury] == [("q1", "correct")]
    assert jury[0]["source"] == "jury of gpt-4o, llama, mistral"
    with pytest.raises(MetricsInputError, match="unknown judge 'nobody'"):
        export(db, tmp_path, "quiz", "labels", juries={"bad": ["gpt-4o", "nobody"]})


def test_parquet_labels_are_typed(db, tmp_path, labelled):
    table = pq.read_table(export(db, tmp_path, "quiz", "labels", "parquet").written.path)
    assert str(table.schema.field("revision").type) == "int64"
    assert str(table.schema.field("blind").type) == "bool"
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert table.num_rows == 16


def test_kind_and_format_must_match(db, tmp_path, labelled):
    with pytest.raises(ExportError, match="cannot be written as 'html'"):
        export(db, tmp_path, "quiz", "labels", "html")
    with pytest.raises(ExportError, match="unknown export 'everything'"):
        export(db, tmp_path, "quiz", "everything")


def test_judge_rows_carry_their_error_tags_in_every_format(db, tmp_path, labelled):
    from storage.error_tags import set_error_tags
    from storage.review import find_item_id

    with db.write() as session:
        q1 = find_item_id(session=session, project_id=labelled, external_id="q1")
        set_error_tags(session=session, item_id=q1, judge="gpt-4o", dimension="correct",
                       categories=["length", "missed error"], actor=OPERATOR)
        set_error_tags(session=session, item_id=q1, judge="mistral", dimension="correct",
                       categories=["format"], actor=OPERATOR)

    def tags_by_row(rows):
        return {(r["id"], r["rater_kind"], r["rater"], r["sample_index"]): r["error_tags"]
                for r in rows}

    jsonl = export(db, tmp_path, "quiz", "labels").written.path
    by_row = tags_by_row(json.loads(line) for line in jsonl.read_text("utf-8").splitlines())
    assert by_row[("q1", "judge", "gpt-4o", 0)] == ["length", "missed error"]
    # Both samples of the tagged verdict carry its tags; another item's verdict none.
    assert by_row[("q1", "judge", "mistral", 0)] == by_row[("q1", "judge", "mistral", 1)] == ["format"]
    assert by_row[("q0", "judge", "gpt-4o", 0)] == []
    assert {tags for key, tags in by_row.items() if key[1] == "human"} == {None}

    parquet = export(db, tmp_path, "quiz", "labels", "parquet").written.path
    assert tags_by_row(pq.read_table(parquet).to_pylist()) == by_row
    csv_path = export(db, tmp_path, "quiz", "labels", "csv").written.path
    with csv_path.open(encoding="utf-8", newline="") as handle:
        cells = {(r["id"], r["rater"], r["sample_index"]): r["error_tags"]
                 for r in csv.DictReader(handle)}
    assert json.loads(cells[("q1", "gpt-4o", "0")]) == ["length", "missed error"]
