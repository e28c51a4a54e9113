"""Unparseable judge verdicts: a raw output without a label is imported, stored with no label,
kept out of every metric, counted per judge, and shown as such (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.metrics import compare_dimension
from core.templates import TEMPLATES
from storage.annotator_view import item_verdicts
from storage.authz import OPERATOR
from storage.export import ExportRequest, export_project
from storage.importer import import_file
from storage.labels import load_ratings
from storage.projects import get_project
from storage.readback import verdicts_frame
from storage.review import find_item_id
from tests.converters import write_csv, write_jsonl

RECORDS = [
    {"id": "q1", "prompt": "2+2?", "response": "4",
     "judges": {"j": {"correct": "correct", "raw": '{"label": "correct"}'}},
     "humans": {"ann": {"correct": "correct"}}},
    {"id": "q2", "prompt": "Capital of France?", "response": "Lyon",
     "judges": {"j": {"correct": None, "raw": "I would say it is probably somewhat right."}},
     "humans": {"ann": {"correct": "incorrect"}}},
    {"id": "q3", "prompt": "3+3?", "response": "6",
     "judges": {"j": {"correct": "correct"}},
     "humans": {"ann": {"correct": "correct"}}},
    {"id": "q4", "prompt": "Largest ocean?", "response": "Atlantic",
     "judges": {"j": {"correct": "incorrect", "rationale": "The Pacific is."}},
     "humans": {"ann": {"correct": "incorrect"}}},
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_raw_output_without_a_label_is_stored_as_unparseable(db, tmp_path: Path, fmt) -> None:
    path = (write_jsonl(RECORDS, tmp_path / "v.jsonl") if fmt == "jsonl"
            else write_csv(RECORDS, tmp_path / "v.csv"))  # q2: empty label cell, raw text

    batch, summary = import_file(db, path, project_name="p", schema=TEMPLATES["correctness"], actor=OPERATOR)

    assert batch.problems == []
    assert (summary.verdicts, summary.unparseable_verdicts, summary.judges) == (4, 1, ("j",))
    with db.read() as session:
        project = get_project(session=session, name="p")
        stored = verdicts_frame(session=session, project_id=project.id)
        ratings = load_ratings(session=session, project_id=project.id,
                               dimension=project.schema.dimension("correct"))
        shown = item_verdicts(session=session,
                              item_id=find_item_id(session=session, project_id=project.id,
                                                   external_id="q2"))
    q2 = stored[stored["id"] == "q2"].iloc[0]
    assert pd.isna(q2["label"]) and q2["raw_output"] == "I would say it is probably somewhat right."
    assert [(v.judge, v.label) for v in shown] == [("j", None)]
    judge = ratings.raters.index("judge:j")
    assert np.isnan(ratings.values[1, judge]) and ratings.unparseable[:, judge].tolist() == [
        False, True, False, False]
    document = compare_dimension(ratings).to_dict()
    assert document["verdicts"] == [{"rater": "judge:j", "parsed": 3, "unparseable": 1}]
    # Agreement on the 3 parsed verdicts only: all agree with ann.
    pair = next(p for p in document["pairs"] if p["b"] == "judge:j" and p["a"] == "human:ann")
    assert (pair["n"], pair["percent_agreement"]) == (3, 1.0)

    # The same file again changes nothing.
    _, again = import_file(db, path, project_name="p", schema=None, actor=OPERATOR)
    assert (again.unchanged, again.verdicts) == (4, 0)


def test_a_judge_with_only_unparseable_verdicts_is_listed_with_no_labels(db, tmp_path: Path) -> None:
    records = [{"id": "q1", "prompt": "p", "response": "r",
                "judges": {"broken": {"correct": None, "raw": "???"}},
                "humans": {"ann": {"correct": "correct"}}}]
    _, summary = import_file(db, write_jsonl(records, tmp_path / "v.jsonl"), project_name="p",
                             schema=TEMPLATES["correctness"], actor=OPERATOR)
    assert (summary.judges, summary.unparseable_verdicts) == (("broken",), 1)
    with db.read() as session:
        project = get_project(session=session, name="p")
        ratings = load_ratings(session=session, project_id=project.id,
                               dimension=project.schema.dimension("correct"))
    document = compare_dimension(ratings).to_dict()
    assert document["verdicts"] == [{"rater": "judge:broken", "parsed": 0, "unparseable": 1}]
    pair = next(p for p in document["pairs"] if p["b"] == "judge:broken")
    assert pair["n"] == 0 and pair["cohen_kappa"] is None


def test_the_labels_export_writes_an_unparseable_verdict_with_an_empty_label(db, tmp_path: Path):
    import_file(db, write_jsonl(RECORDS, tmp_path / "v.jsonl"), project_name="p",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    target = tmp_path / "labels.jsonl"
    export_project(db, project_name="p", request=ExportRequest(kind="labels", fmt="jsonl"),
                   path=target, actor=OPERATOR)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    judged = {(r["id"], r["rater"]): r["label"] for r in rows if r["rater_kind"] == "judge"}
    assert judged == {("q1", "j"): "correct", ("q2", "j"): None, ("q3", "j"): "correct",
                      ("q4", "j"): "incorrect"}
