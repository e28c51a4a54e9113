"""Long-format labels export: humans (UI and imported), judges, juries, on both backends."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from core.export.writers import ExportError
from core.metrics import MetricsInputError
from storage.annotation import (
    ProjectSettings,
    next_assignment,
    rebuild_queues,
    reveal_verdicts,
    set_members,
    submit_labels,
    update_settings,
)
from storage.authz import OPERATOR
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
