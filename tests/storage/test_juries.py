"""Stored juries (storage.juries) and ``python cli.py jury``, on SQLite and PostgreSQL: admins
only, every refusal names what is wrong, and a stored jury is the rater ``jury:NAME`` in the
metrics (checked by hand against its members' labels) and the labels export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

import cli
from core.schema import Dimension, TaskSchema
from core.templates import TEMPLATES
from storage.authz import OPERATOR, NotAllowed
from storage.importer import import_file
from storage.juries import JuryError, create_jury, delete_jury, jury_map, list_juries
from storage.models import AuditLog
from storage.projects import get_project
from storage.users import create_user
from tests.converters import write_jsonl

C, W = "correct", "incorrect"
LABELS = {  # item: (human, a, b, c); the majority of a, b, c
    "q1": (C, C, C, W), "q2": (W, W, C, W), "q3": (C, W, C, C), "q4": (W, C, W, C),
    "q5": (C, C, C, C),
}


@pytest.fixture
def project(db, tmp_path: Path):
    records = [{"id": item, "prompt": "?", "response": "r",
                "humans": {"ann": {"correct": human}},
                "judges": {"a": {"correct": a}, "b": {"correct": b}, "c": {"correct": c}}}
               for item, (human, a, b, c) in LABELS.items()]
    import_file(db, write_jsonl(records, tmp_path / "j.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name="quiz").id


def add(db, project_id, name="trio", members=("a", "b", "c"), rule="majority", actor=OPERATOR):
    with db.write() as session:
        return create_jury(session=session, project_id=project_id, name=name, members=members,
                           rule=rule, actor=actor)


def test_a_jury_is_stored_listed_and_deleted(db, project):
    stored = add(db, project, members=("judge:a", "b", " c ", "b"))
    assert (stored.name, stored.members, stored.rule) == ("trio", ("a", "b", "c"), "majority")
    add(db, project, name="big two", members=("a", "b"))
    with db.read() as session:
        assert [j.name for j in list_juries(session=session, project_id=project)] == ["big two", "trio"]
        assert set(jury_map(session=session, project_id=project, extra={"x": ["a", "c"]})) == {
            "big two", "trio", "x"}
        with pytest.raises(JuryError, match="--jury trio: the project has a stored jury"):
            jury_map(session=session, project_id=project, extra={"trio": ["a", "c"]})
    with db.write() as session:
        delete_jury(session=session, project_id=project, name="trio", actor=OPERATOR)
    with db.read() as session:
        assert [j.name for j in list_juries(session=session, project_id=project)] == ["big two"]
        actions = session.execute(select(AuditLog.action, func.count()).where(
            AuditLog.action.like("jury_%")).group_by(AuditLog.action)).all()
    assert dict(actions) == {"jury_created": 2, "jury_deleted": 1}


@pytest.mark.parametrize(("name", "members", "rule", "message"), [
    ("trio", ("a", "nobody"), "majority",
     "jury 'trio': unknown judge 'nobody' in this project (judges: a, b, c)"),
    ("trio", ("a", "a"), "majority", "a jury needs at least two different judges, got ['a']"),
    ("trio", ("a", "b"), "mean", "rule 'mean' does not fit dimension 'correct' (nominal); "
                                 "use majority"),
    ("trio", ("a", "b"), "vote", "rule 'vote' is not one of majority, median, mean"),
    ("a:b", ("a", "b"), "majority", "jury name 'a:b': use 1 to 100 letters"),
    ("", ("a", "b"), "majority", "jury name '': use 1 to 100 letters"),
    ("FIRST", ("a", "b"), "majority", "the project has a jury named 'first' already"),
])
def test_bad_juries_are_refused_with_what_is_wrong(db, project, name, members, rule, message):
    add(db, project, name="first")
    with pytest.raises(JuryError) as raised:
        add(db, project, name=name, members=members, rule=rule)
    assert message in str(raised.value)
    with db.read() as session:
        assert len(list_juries(session=session, project_id=project)) == 1


def test_only_admins_define_juries(db, project):
    with db.write() as session:
        annotator = create_user(session=session, name="ann2", role="annotator", password="pw-long-enough-1",
                                actor=OPERATOR)
    with pytest.raises(NotAllowed, match="only admins may define juries"):
        add(db, project, actor=annotator)
    add(db, project)
    with pytest.raises(NotAllowed), db.write() as session:
        delete_jury(session=session, project_id=project, name="trio", actor=annotator)


def test_rules_are_checked_against_the_scale(db, tmp_path):
    schema = TaskSchema(name="scores", title="Scores", description="",
                        fields=TEMPLATES["correctness"].fields[:2],
                        dimensions=(Dimension("score", "interval", "Score", minimum=0, maximum=10),))
    records = [{"id": f"q{i}", "prompt": "?", "response": "r",
                "judges": {"a": {"score": str(i)}, "b": {"score": str(2 * i)},
                           "c": {"score": "1"}}, "humans": {"ann": {"score": str(i)}}}
               for i in range(4)]
    import_file(db, write_jsonl(records, tmp_path / "s.jsonl"), project_name="scores",
                schema=schema, actor=OPERATOR)
    with db.read() as session:
        project_id = get_project(session=session, name="scores").id
    with pytest.raises(JuryError, match="use median or mean"):
        add(db, project_id, rule="majority")
    add(db, project_id, name="med", rule="median")
    add(db, project_id, name="avg", rule="mean")


def metrics(db, capsys, *argv):
    code = cli.main(["--database", db.url, "metrics", "--project", "quiz", "--bootstrap", "0",
                     *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if "--json" in argv else out


def test_cli_jury_commands_and_the_stored_jury_in_metrics(db, project, capsys):
    assert cli.main(["--database", db.url, "jury", "add", "--project", "quiz", "trio",
                     "--members", "a,b,c", "--rule", "majority"]) == 0
    assert "jury stored: jury:trio = majority of a, b, c" in capsys.readouterr().out
    assert cli.main(["--database", db.url, "jury", "list", "--project", "quiz"]) == 0
    assert capsys.readouterr().out == "jury:trio  majority of a, b, c\n"
    assert cli.main(["--database", db.url, "jury", "add", "--project", "quiz", "solo",
                     "--members", "a", "--rule", "majority"]) == 1
    assert "error: jury 'solo': a jury needs at least two different judges" in capsys.readouterr().err

    document = metrics(db, capsys, "--json")
    assert "jury:trio" in document["raters"]
    assert document["juries"] == [{"name": "jury:trio", "members": ["a", "b", "c"],
                                   "method": "majority", "items": 5, "ties": 0}]
    pair = next(p for p in document["pairs"] if (p["a"], p["b"]) == ("human:ann", "jury:trio"))
    # majority of a, b, c per item: q1 C, q2 W, q3 C, q4 C, q5 C; the human: C W C W C.
    assert (pair["n"], pair["percent_agreement"]) == (5, 0.8)
    assert "jury:trio = majority of a, b, c: 5 items, 0 tied" in metrics(db, capsys)

    assert cli.main(["--database", db.url, "jury", "remove", "--project", "quiz", "trio"]) == 0
    assert capsys.readouterr().out == "jury removed: trio\n"
    assert "jury:trio" not in metrics(db, capsys, "--json")["raters"]
    assert cli.main(["--database", db.url, "jury", "remove", "--project", "quiz", "trio"]) == 1
    assert "error: no jury named 'trio' in this project (juries: none)" in capsys.readouterr().err


def test_the_labels_export_has_the_stored_jury(db, project, tmp_path, capsys):
    add(db, project)
    out = tmp_path / "labels.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKET_AUTH", "none")
        assert cli.main(["--database", db.url, "export", "labels", "--project", "quiz",
                         "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    jury = [(r["id"], r["label"]) for r in rows if r["rater_kind"] == "jury"]
    assert jury == [("q1", C), ("q2", W), ("q3", C), ("q4", C), ("q5", C)]
    meta = json.loads(Path(f"{out}.meta.json").read_text("utf-8"))
    assert meta["juries"] == {"trio": {"members": ["a", "b", "c"], "rule": "majority"}}
