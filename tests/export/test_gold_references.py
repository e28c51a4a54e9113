"""Where a gold reference answer comes from (SQLite and PostgreSQL): an answer an annotator
wrote or edited is theirs (``annotators``); the item's own reference, kept as the box gave it,
is the item's (``item``) and never makes an export row by itself.

Expectations are computed from the demo file with the json module and ``Counter``, not by the
export code.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.demo import demo_files, load_demo
from storage.projects import get_project
from storage.queues import find_assignment, rebuild_queues
from storage.users import create_user
from tests.export.helpers import export, import_records

SESSION_ITEMS = 6  # the newcomer's walk: one annotator labels the first six items


def demo_records() -> dict[str, dict]:
    lines = demo_files()["correctness"].read_text(encoding="utf-8").splitlines()
    return {record["id"]: record for record in map(json.loads, filter(str.strip, lines))}


def majority(labels: list[str], min_labels: int = 2) -> str | None:
    """The README's majority rule read literally: K or more labels, one most frequent."""
    counts = Counter(labels).most_common()
    if len(labels) < min_labels or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


@pytest.fixture
def demo_session(db):
    """The demo loaded, a new annotator on the correctness project, all items in their queue."""
    load_demo(db, actor=OPERATOR)
    with db.write() as session:
        user = create_user(session=session, name="newcomer", role="annotator", password=None, actor=OPERATOR)
        project_id = get_project(session=session, name="correctness").id
        set_members(session=session, project_id=project_id, user_ids=[user.id], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    return project_id, user.id


def save(db, project_id: int, user_id: int, external_id: str, label: str,
         reference: str | None, reason: str | None = None) -> None:
    with db.read() as session:
        item_id = find_assignment(session=session, project_id=project_id, user_id=user_id,
                                  external_id=external_id).item_id
    submit_labels(db, project_id=project_id, user_id=user_id, item_id=item_id,
                  labels={"correct": label}, reference_answer=reference, reason=reason, actor=OPERATOR)


def read_rows(path: Path) -> dict[str, dict]:
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["id"]: row for row in rows}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_session_that_keeps_the_prefilled_references_exports_none_as_the_annotators(
        db, tmp_path, demo_session, fmt):
    project_id, user_id = demo_session
    records = demo_records()
    walked = list(records)[:SESSION_ITEMS]
    # The newcomer says "correct" everywhere and leaves the reference box as it was prefilled
    # (the item's reference): also on items where every other expert said "incorrect".
    for external_id in walked:
        save(db, project_id, user_id, external_id, "correct", records[external_id].get("reference"))
    assert any(all(h["correct"] == "incorrect" for h in records[i]["humans"].values())
               and records[i]["humans"] for i in walked)  # the walk has such an item

    rows = read_rows(export(db, tmp_path, "correctness", "gold", fmt).written.path)

    expected = {}
    for external_id, record in records.items():
        labels = [h["correct"] for h in record.get("humans", {}).values() if "correct" in h]
        if external_id in walked:
            labels.append("correct")
        gold = majority(labels)
        if gold is not None:
            kept = external_id in walked and record.get("reference")
            expected[external_id] = (gold, record["reference"] if kept else None,
                                     "item" if kept else None)
    assert {external_id: (row["gold_correct"], row["gold_reference_answer"],
                          row["gold_reference_answer_source"])
            for external_id, row in rows.items()} == expected
    assert not [row for row in rows.values()
                if row["gold_reference_answer_source"] == "annotators"]


def test_an_edited_reference_is_the_annotators_and_a_kept_one_no_vote_against_it(
        db, tmp_path, demo_session):
    project_id, user_id = demo_session
    records = demo_records()
    first, second = list(records)[:2]
    save(db, project_id, user_id, first, "incorrect", records[first]["reference"] + " Checked.")
    save(db, project_id, user_id, second, "incorrect", records[second]["reference"])
    with db.write() as session:
        other = create_user(session=session, name="second-expert", role="annotator",
                            password=None, actor=OPERATOR)
        set_members(session=session, project_id=project_id, user_ids=[user_id, other.id],
                    actor=OPERATOR)
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=2))
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    # A second expert keeps the item's reference on the first item, and writes one of their
    # own on the second.
    save(db, project_id, other.id, first, "incorrect", records[first]["reference"])
    save(db, project_id, other.id, second, "incorrect", "Their own answer")

    for policy in ("majority", "unanimous"):
        rows = read_rows(export(db, tmp_path, "correctness", "gold", policy=policy)
                         .written.path)
        assert (rows[first]["gold_reference_answer"],
                rows[first]["gold_reference_answer_source"]) == (
            records[first]["reference"] + " Checked.", "annotators")
        assert (rows[second]["gold_reference_answer"],
                rows[second]["gold_reference_answer_source"]) == ("Their own answer",
                                                                  "annotators")
    only_adjudicated = read_rows(export(db, tmp_path, "correctness", "gold",
                                        policy="adjudicated").written.path)
    assert only_adjudicated == {}


def test_kept_answers_make_no_row_on_an_item_without_gold(db, tmp_path):
    # One label (below the two a majority needs) and the item's reference kept: nothing decided.
    records = [{"id": "e1", "prompt": "A question?", "response": "Its answer"}]
    project_id = import_records(db, tmp_path, "exam_question", records, "exam")
    with db.write() as session:
        user = create_user(session=session, name="ann", role="annotator", password=None, actor=OPERATOR)
        set_members(session=session, project_id=project_id, user_ids=[user.id], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    labels = dict.fromkeys(TEMPLATES["exam_question"].dimension_names, "4")
    with db.read() as session:
        item_id = find_assignment(session=session, project_id=project_id, user_id=user.id,
                                  external_id="e1").item_id
    submit_labels(db, project_id=project_id, user_id=user.id, item_id=item_id, labels=labels,
                  reference_answer="Its answer", actor=OPERATOR)
    summary = export(db, tmp_path, "exam", "gold")
    assert summary.written.rows == 0 and summary.skipped == {"items without gold": 1}
    # Corrected by the expert (the exam paper's case), the answer is theirs and makes a row.
    submit_labels(db, project_id=project_id, user_id=user.id, item_id=item_id, labels=labels,
                  reference_answer="Its corrected answer", actor=OPERATOR)
    rows = read_rows(export(db, tmp_path, "exam", "gold").written.path)
    assert (rows["e1"]["gold_reference_answer"], rows["e1"]["gold_reference_answer_source"],
            rows["e1"]["gold_correctness"]) == ("Its corrected answer", "annotators", None)
