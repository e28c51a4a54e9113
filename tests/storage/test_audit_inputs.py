"""Pairwise items know both models: ``model_a``/``model_b`` in JSONL, CSV and Parquet are
checked like ``model``, stored with the item and read back for the audit with the response
lengths and each judge's model family (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from core.importing import ImportRejected
from core.templates import TEMPLATES
from storage.audit import judge_families, load_answered, load_audit_inputs
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judges import JudgeSpec, create_judge
from storage.projects import get_project
from tests.converters import WRITERS

RECORDS = [
    {"id": "p1", "prompt": "Say hi", "response_a": "hello there", "response_b": "hi",
     "model_a": "gpt-4o", "model_b": "llama-3",
     "judges": {"judge-x": {"preference": "A"}}, "humans": {"ann": {"preference": "A"}}},
    {"id": "p2", "prompt": "Count", "response_a": "", "response_b": "1 2 3",
     "model_a": "llama-3", "model_b": "mistral",
     "judges": {"judge-x": {"preference": "tie"}}, "humans": {"ann": {"preference": "B"}}},
    {"id": "p3", "prompt": "No models", "response_a": "a", "response_b": "bb",
     "humans": {"ann": {"preference": "tie"}}},
]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_pair_models_and_lengths_round_trip(db, tmp_path, fmt):
    path = WRITERS[fmt](RECORDS, tmp_path / f"pairs.{fmt}")
    import_file(db, path, project_name="pairs", schema=TEMPLATES["pairwise"], actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="pairs")
        inputs = load_audit_inputs(session=session, project_id=project.id,
                                   dimension=project.schema.dimension("preference"))
    assert list(inputs.ratings.item_ids) == ["p1", "p2", "p3"]
    assert inputs.facts.model_a.values() == ["gpt-4o", "llama-3", None]
    assert inputs.facts.model_b.values() == ["llama-3", "mistral", None]
    assert inputs.facts.length_a.tolist() == [len("hello there"), 0.0, 1.0]
    assert inputs.facts.length_b.tolist() == [2.0, 5.0, 2.0]
    assert inputs.families == {"judge:judge-x": None}


def test_a_pair_model_that_is_not_a_name_is_refused(tmp_path, sqlite_db):
    bad = dict(RECORDS[0], id="bad", model_b=["x"])
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match=r"model_b: wrong type: expected a string"):
        import_file(sqlite_db, path, project_name="bad", schema=TEMPLATES["pairwise"],
                    actor=OPERATOR)


def test_judge_families_from_definitions(db):
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="grader", model="gpt-4o",
                                                     base_url="http://127.0.0.1:9/v1",
                                                     family="gpt-4"), actor=OPERATOR)
        create_judge(session=session, spec=JudgeSpec(name="plain", model="m",
                                                     base_url="http://127.0.0.1:9/v1"),
                     actor=OPERATOR)
    with db.read() as session:
        found = judge_families(session=session, raters=[
            "human:ann", "judge:grader", "judge:grader@v2@swapped", "judge:plain",
            "judge:imported"])
    assert found == {"judge:grader": "gpt-4", "judge:grader@v2@swapped": "gpt-4",
                     "judge:plain": None, "judge:imported": None}


ANSWERED = [
    {"id": "q1", "prompt": "Capital of France?", "response": "Paris",
     "judges": {"gpt": {"correct": "correct", "answered_correctly": True},
                "llama": {"correct": "incorrect", "answered_correctly": "no"}},
     "humans": {"ann": {"correct": "correct"}}},
    {"id": "q2", "prompt": "2 + 2?", "response": "5",
     "judges": {"gpt": {"correct": "incorrect", "answered_correctly": False},
                "llama": {"correct": "incorrect"}},
     "humans": {"ann": {"correct": "incorrect"}}},
]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_answered_correctly_round_trips(db, tmp_path, fmt):
    path = WRITERS[fmt](ANSWERED, tmp_path / f"answered.{fmt}")
    import_file(db, path, project_name="qa", schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="qa")
        found = load_answered(session=session, project_id=project.id, item_ids=["q2", "q1"],
                              raters=["human:ann", "judge:gpt", "judge:llama"])
    assert found == {"judge:gpt": [False, True], "judge:llama": [None, False]}


def test_answered_correctly_must_be_yes_or_no(sqlite_db, tmp_path):
    bad = [dict(ANSWERED[0], judges={"gpt": {"correct": "correct",
                                             "answered_correctly": "maybe"}})]
    path = WRITERS["jsonl"](bad, tmp_path / "bad.jsonl")
    with pytest.raises(ImportRejected, match=r"judge.gpt.answered_correctly: expected true or "
                                             r"false, got 'maybe'"):
        import_file(sqlite_db, path, project_name="qa", schema=TEMPLATES["correctness"],
                    actor=OPERATOR)
