"""What the prompt lab reads (storage/judge_lab.py), on SQLite and PostgreSQL: the items to
preview a prompt on (those with human labels, else the first items), each with the reference
a run would pass (the gold reference answer over the item's own), and the count a run covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.gold import adjudicate
from storage.importer import import_file
from storage.judge_lab import LabError, human_labelled_items, lab_item, lab_item_choices
from storage.projects import get_project
from storage.review import find_item_id
from tests.converters import write_jsonl


def project(db, tmp_path: Path, name: str, records: list[dict]):
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name=name)


def record(number: int, *, human: str | None = None, reference: str | None = None) -> dict:
    found = {"id": f"q{number}", "prompt": f"Question {number}?", "response": f"Answer {number}"}
    if reference is not None:
        found["reference"] = reference
    if human is not None:
        found["humans"] = {"expert": {"correct": human}}
    return found


def test_the_lab_offers_the_items_with_human_labels(db, tmp_path):
    quiz = project(db, tmp_path, "quiz", [record(0), record(1, human="correct"), record(2),
                                         record(3, human="incorrect")])
    project(db, tmp_path, "other", [record(9, human="correct")])  # another project's label

    with db.read() as session:
        choices = lab_item_choices(session=session, project_id=quiz.id)
        count = human_labelled_items(session=session, project_id=quiz.id)
        limited = lab_item_choices(session=session, project_id=quiz.id, limit=1)

    assert [external for _, external in choices] == ["q1", "q3"]
    assert count == 2
    assert [external for _, external in limited] == ["q1"]


def test_without_human_labels_the_lab_offers_the_first_items(db, tmp_path):
    quiz = project(db, tmp_path, "quiz", [record(n) for n in range(3)])
    with db.read() as session:
        assert [e for _, e in lab_item_choices(session=session, project_id=quiz.id, limit=2)] == [
            "q0", "q1"]
        assert human_labelled_items(session=session, project_id=quiz.id) == 0


def test_an_item_comes_with_the_reference_a_run_would_pass(db, tmp_path):
    quiz = project(db, tmp_path, "quiz", [record(0, reference="Paris"), record(1, reference="4"),
                                         record(2)])
    with db.read() as session:
        ids = [find_item_id(session=session, project_id=quiz.id, external_id=f"q{n}")
               for n in range(3)]
    with db.write() as session:
        adjudicate(session=session, item_id=ids[1], reference_answer="four", actor=OPERATOR)

    with db.read() as session:
        items = [lab_item(session=session, project=quiz, item_id=item_id) for item_id in ids]

    assert [(item.external_id, item.reference) for item in items] == [
        ("q0", "Paris"), ("q1", "four"), ("q2", None)]  # the gold reference wins over the item's
    assert items[0].fields == {"prompt": "Question 0?", "response": "Answer 0", "reference": "Paris"}


def test_an_item_of_another_project_is_refused(db, tmp_path):
    quiz = project(db, tmp_path, "quiz", [record(0)])
    other = project(db, tmp_path, "other", [record(1)])
    with db.read() as session:
        foreign = find_item_id(session=session, project_id=other.id, external_id="q1")
        with pytest.raises(LabError, match="project 'quiz' has no item with id"):
            lab_item(session=session, project=quiz, item_id=foreign)
