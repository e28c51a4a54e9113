"""How a run writes while it goes (SQLite and PostgreSQL): its heartbeat every second while its
calls are under way, even when no call finishes (a slow endpoint), so no other worker takes
over a live run; and counters that add up when results arrive during a write."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select

import storage.judge_runs as judge_runs
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judge_runs import RunOptions, claim_run, enqueue_run, execute_run
from storage.judges import JudgeSpec, create_judge
from storage.models import JudgeRun, Verdict
from storage.projects import get_project
from tests.converters import write_jsonl
from tests.judges.helpers import SECRET


def test_the_heartbeat_goes_on_while_every_call_is_waiting(db, tmp_path: Path, fake_openai):
    records = [{"id": "q0", "prompt": "Question?", "response": "Answer."}]
    import_file(db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="gpt", base_url=fake_openai.base_url,
                                                     model="m", api_key_env="K"), actor=OPERATOR)
        project = get_project(session=session, name="quiz").id
        run_id = enqueue_run(session=session, project_id=project, judge_name="gpt",
                             options=RunOptions(), actor=OPERATOR).id
    assert claim_run(db, worker="first") == run_id
    fake_openai.set_delay(3.0)  # the one call takes 3 s
    thread = threading.Thread(target=execute_run, args=(db, run_id),
                              kwargs={"worker": "first", "environ": {"K": SECRET}})
    thread.start()
    beats = []
    try:
        for _ in range(2):
            time.sleep(1.2)
            with db.read() as session:
                row = session.get(JudgeRun, run_id)
                beats.append((row.heartbeat_at, row.done, row.status))
    finally:
        thread.join(timeout=30)
    (first, done_1, status_1), (second, done_2, status_2) = beats
    assert (done_1, done_2, status_1, status_2) == (0, 0, "running", "running")  # nothing back yet
    assert second > first  # yet the heartbeat moved on
    with db.read() as session:
        assert session.get(JudgeRun, run_id).status == "done"


def test_counts_of_results_arriving_during_a_write_are_kept(db, tmp_path: Path, fake_openai,
                                                            monkeypatch):
    """Batches are written on a thread while calls go on finishing: the run's token count is
    the sum over its stored verdicts, whatever arrived mid-write."""
    monkeypatch.setattr(judge_runs, "FLUSH_EVERY", 3)  # many writes, results arriving during each
    records = [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."}
               for i in range(150)]
    import_file(db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="gpt", base_url=fake_openai.base_url,
                                                     model="m", api_key_env="K"), actor=OPERATOR)
        project = get_project(session=session, name="quiz").id
        run_id = enqueue_run(session=session, project_id=project, judge_name="gpt",
                             options=RunOptions(concurrency=32), actor=OPERATOR).id
    claim_run(db, worker="w")

    info = execute_run(db, run_id, worker="w", environ={"K": SECRET})

    with db.read() as session:
        stored, tokens_in, tokens_out = session.execute(select(
            func.count(), func.sum(Verdict.input_tokens), func.sum(Verdict.output_tokens))).one()
    assert (info.done, stored) == (150, 150)
    assert (info.input_tokens, info.output_tokens) == (tokens_in, tokens_out)
