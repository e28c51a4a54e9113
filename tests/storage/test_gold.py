"""Gold labels and gold reference answers on SQLite and PostgreSQL: set, clear, audit, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.gold import (
    KEEP,
    MAX_NOTE_CHARS,
    GoldChange,
    GoldError,
    adjudicate,
    gold_frame,
    gold_history,
    item_gold,
    reference_dimension,
)
from storage.importer import import_file
from storage.models import AuditLog, Gold
from storage.projects import get_project
from storage.review import find_item_id, item_review
from storage.users import create_user
from tests.converters import write_jsonl


def import_project(db, tmp_path: Path, template: str, records: list[dict], name: str) -> int:
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=TEMPLATES[template], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name=name).id


@pytest.fixture
def quiz(db, tmp_path):
    """A correctness project with two items, and an admin; returns (db, item ids, admin)."""
    records = [{"id": "q1", "prompt": "Capital of Australia?", "response": "Sydney",
                "reference": "Canberra", "judges": {"gpt-4o": {"correct": "incorrect"}},
                "humans": {"maria": {"correct": "incorrect", "comment": "Common confusion."}}},
               {"id": "q2", "prompt": "2 + 2?", "response": "4"}]
    project_id = import_project(db, tmp_path, "correctness", records, "quiz")
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None, actor=OPERATOR)
    with db.read() as session:
        ids = [find_item_id(session=session, project_id=project_id, external_id=e)
               for e in ("q1", "q2")]
    return db, ids, admin


def audit_rows(db, item_id):
    with db.read() as session:
        return [(a.action, a.dimension, a.old_value, a.new_value, a.reason, a.actor_id)
                for a in session.execute(select(AuditLog).where(AuditLog.item_id == item_id)
                                         .order_by(AuditLog.id)).scalars()]


def test_set_gold_label_and_reference_records_who_when_and_note(quiz):
    db, (q1, _), admin = quiz
    before = datetime.now(UTC)

    with db.write() as session:
        changes = adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": "No"},
                             reference_answer="Canberra (since 1913)", note="Sydney is wrong.")

    assert changes == [GoldChange("correct", "label", None, "incorrect"),
                       GoldChange("correct", "reference_answer", None, "Canberra (since 1913)")]
    with db.read() as session:
        gold = item_gold(session=session, item_id=q1)["correct"]
    assert (gold.label, gold.reference_answer, gold.note, gold.method, gold.decided_by) == (
        "incorrect", "Canberra (since 1913)", "Sydney is wrong.", "adjudicated", "ada")
    assert before - timedelta(seconds=1) <= gold.decided_at <= datetime.now(UTC)
    assert audit_rows(db, q1) == [
        ("gold", "correct", None, "incorrect", "Sydney is wrong.", admin.id),
        ("gold_reference", "correct", None, "Canberra (since 1913)", "Sydney is wrong.", admin.id)]


def test_the_same_decision_twice_changes_nothing(quiz):
    db, (q1, _), admin = quiz
    for expected in (1, 0):
        with db.write() as session:
            changes = adjudicate(session=session, item_id=q1, actor=admin,
                                 labels={"correct": "correct"}, note=None)
        assert len(changes) == expected
    assert len(audit_rows(db, q1)) == 1


def test_change_and_clear_keep_old_values_in_the_audit_and_delete_empty_rows(quiz):
    db, (q1, _), admin = quiz
    with db.write() as session:
        adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": "correct"},
                   reference_answer="Canberra")
    with db.write() as session:
        adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": "incorrect"},
                   note="second look")
    with db.read() as session:
        gold = item_gold(session=session, item_id=q1)["correct"]
    assert (gold.label, gold.reference_answer, gold.note) == ("incorrect", "Canberra", "second look")

    with db.write() as session:
        changes = adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": None},
                             reference_answer="   ", note="undecided after all")
    assert changes == [GoldChange("correct", "label", "incorrect", None),
                       GoldChange("correct", "reference_answer", "Canberra", None)]
    with db.read() as session:
        assert item_gold(session=session, item_id=q1) == {}
        assert session.execute(select(func.count()).select_from(Gold)).scalar() == 0
        history = gold_history(session=session, item_id=q1)
    assert [(e.action, e.old, e.new, e.actor) for e in history] == [
        ("gold", None, "correct", "ada"), ("gold_reference", None, "Canberra", "ada"),
        ("gold", "correct", "incorrect", "ada"),
        ("gold", "incorrect", None, "ada"), ("gold_reference", "Canberra", None, "ada")]


def test_reference_alone_keeps_a_row_without_label_and_keep_leaves_it(quiz):
    db, (_, q2), admin = quiz
    with db.write() as session:
        adjudicate(session=session, item_id=q2, actor=admin, reference_answer="4")
    with db.write() as session:
        adjudicate(session=session, item_id=q2, actor=admin, labels={"correct": "correct"},
                   reference_answer=KEEP)
    with db.read() as session:
        gold = item_gold(session=session, item_id=q2)["correct"]
    assert (gold.label, gold.reference_answer) == ("correct", "4")


def test_a_note_alone_replaces_the_note(quiz):
    db, (q1, _), admin = quiz
    with db.write() as session:
        adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": "incorrect"},
                   note="first")
    with db.write() as session:
        changes = adjudicate(session=session, item_id=q1, actor=admin, note="clearer reason")
    assert changes == [GoldChange("correct", "note", "first", "clearer reason")]
    with db.write() as session:  # a blank note with nothing else is no decision at all
        assert adjudicate(session=session, item_id=q1, actor=admin, note="  ") == []
    with db.read() as session:
        assert item_gold(session=session, item_id=q1)["correct"].note == "clearer reason"
    assert audit_rows(db, q1)[-1][:4] == ("gold_note", "correct", "first", "clearer reason")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"labels": {"tone": "correct"}}, "unknown dimension 'tone' (dimensions: correct)"),
    ({"labels": {"correct": "maybe"}}, "correct: unknown label 'maybe'"),
    ({"note": "x" * (MAX_NOTE_CHARS + 1)}, "the note is too long (10,001 characters, limit 10,000)"),
])
def test_bad_decisions_are_refused_and_write_nothing(quiz, kwargs, message):
    db, (q1, _), admin = quiz
    with pytest.raises(GoldError, match=message.replace("(", r"\(").replace(")", r"\)")), \
            db.write() as session:
        adjudicate(session=session, item_id=q1, actor=admin, **kwargs)
    assert audit_rows(db, q1) == []


def test_unknown_item_and_reference_on_a_task_without_gold_references(db, tmp_path):
    records = [{"id": "p1", "prompt": "Say hi", "response_a": "hi", "response_b": "hello"}]
    project_id = import_project(db, tmp_path, "pairwise", records, "pairs")
    with db.read() as session:
        item_id = find_item_id(session=session, project_id=project_id, external_id="p1")
    with pytest.raises(GoldError, match="task 'pairwise' has no gold reference answer"), \
            db.write() as session:
        adjudicate(session=session, item_id=item_id, actor=OPERATOR, reference_answer="hi")
    with pytest.raises(GoldError, match="no item with id 999999"), db.write() as session:
        adjudicate(session=session, item_id=999_999, actor=OPERATOR, labels={"preference": "A"})
    assert reference_dimension(TEMPLATES["pairwise"]) is None
    assert reference_dimension(TEMPLATES["correctness"]) == "correct"


def test_gold_frame_and_item_review(quiz):
    db, (q1, q2), admin = quiz
    with db.write() as session:
        adjudicate(session=session, item_id=q1, actor=admin, labels={"correct": "incorrect"},
                   reference_answer="Canberra", note="n1")
        adjudicate(session=session, item_id=q2, actor=admin, labels={"correct": "correct"})
    with db.read() as session:
        project_id = get_project(session=session, name="quiz").id
        frame = gold_frame(session=session, project_id=project_id)
        review = item_review(session=session, item_id=q1)

    assert list(frame.columns) == ["id", "dimension", "label", "reference_answer", "note", "method",
                                   "decided_by", "decided_at"]
    cells = frame[["id", "label", "reference_answer", "decided_by"]].values.tolist()
    assert [[None if pd.isna(v) else v for v in row] for row in cells] == [
        ["q1", "incorrect", "Canberra", "ada"], ["q2", "correct", None, "ada"]]
    assert review.item.external_id == "q1"
    assert [(h.annotator, h.label, h.comment) for h in review.humans] == [
        ("maria", "incorrect", "Common confusion.")]
    assert [(v.judge, v.label) for v in review.verdicts] == [("gpt-4o", "incorrect")]
    assert review.gold["correct"].note == "n1"
    assert [e.action for e in review.history] == ["gold", "gold_reference"]
