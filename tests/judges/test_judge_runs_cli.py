"""``python cli.py judge runs`` and ``judge cancel`` on SQLite and PostgreSQL: the project's
runs newest first (lines and JSON), cancelling a queued run at once and a running one by
request, an ended run left as it was, an unknown run refused."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

import cli
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judge_runs import RunOptions, enqueue_run, run_info
from storage.judges import JudgeSpec, create_judge
from storage.models import JudgeRun
from storage.projects import get_project
from tests.converters import write_jsonl


@pytest.fixture(autouse=True)
def single_user(monkeypatch):
    """Judge commands are for admins: single-user mode acts as the local admin."""
    monkeypatch.setenv("DOCKET_AUTH", "none")


def run(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def project_with_runs(db, tmp_path, count: int) -> tuple[int, list[int]]:
    records = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"A{i}", "reference": f"R{i}"}
               for i in range(5)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="exact", kind="lexical",
                                                     lexical="exact_match"), actor=OPERATOR)
        project_id = get_project(session=session, name="quiz").id
        ids = [enqueue_run(session=session, project_id=project_id, judge_name="exact",
                           options=RunOptions(), actor=OPERATOR).id for _ in range(count)]
    return project_id, ids


def test_runs_are_listed_newest_first_as_lines_and_json(db, capsys, tmp_path):
    _, ids = project_with_runs(db, tmp_path, 3)
    with db.write() as session:
        session.execute(update(JudgeRun).where(JudgeRun.id == ids[0])
                        .values(status="done", done=5, total=5))
    code, out, err = run(db, capsys, "judge", "runs", "--project", "quiz")
    assert code == 0 and "error" not in err
    lines = out.splitlines()
    assert [line.split("  ", 1)[1].split(" ")[1] for line in lines] == [str(i) for i in
                                                                        reversed(ids)]
    assert f"run {ids[0]} (exact): done; 5 of 5 verdicts" in lines[-1]
    assert "queued" in lines[0]
    code, out, _ = run(db, capsys, "judge", "runs", "--project", "quiz", "--limit", "2",
                       "--json")
    document = json.loads(out)
    assert document["project"] == "quiz"
    assert [r["id"] for r in document["runs"]] == [ids[2], ids[1]]
    first = document["runs"][0]
    assert (first["status"], first["judge"], first["remaining"]) == ("queued", "exact", 0)
    assert first["options"]["samples"] == 1 and first["created_at"].startswith("20")


def test_no_runs_yet_says_how_to_start_one(db, capsys, tmp_path):
    project_with_runs(db, tmp_path, 0)
    code, out, _ = run(db, capsys, "judge", "runs", "--project", "quiz")
    assert code == 0 and "no judge runs on quiz yet" in out and "judge run --project quiz" in out


def test_cancel_a_queued_run_at_once_a_running_one_by_request_and_leave_an_ended_one(
        db, capsys, tmp_path):
    _, (queued, running, ended) = project_with_runs(db, tmp_path, 3)
    with db.write() as session:
        session.execute(update(JudgeRun).where(JudgeRun.id == running).values(status="running"))
        session.execute(update(JudgeRun).where(JudgeRun.id == ended).values(status="done"))
    code, out, _ = run(db, capsys, "judge", "cancel", str(queued))
    assert code == 0 and f"run {queued} (exact): cancelled" in out
    code, out, _ = run(db, capsys, "judge", "cancel", str(running))
    assert code == 0 and "running" in out and "stop requested" in out
    code, out, _ = run(db, capsys, "judge", "cancel", str(ended))
    assert code == 0 and f"run {ended} (exact): done" in out and "stop requested" not in out
    with db.read() as session:
        assert run_info(session=session, run_id=running).cancel_requested
        assert not run_info(session=session, run_id=ended).cancel_requested
    code, out, err = run(db, capsys, "judge", "cancel", "999")
    assert code == 1 and out == "" and "no run with id 999" in err
