"""``python cli.py judge add/list/run`` and ``python cli.py worker`` as real processes, against
the fake OpenAI-compatible server on 127.0.0.1: a run on the demo projects then ``metrics``
listing NAME, NAME@v2, NAME@swapped and a lexical judge; Ctrl-C; ``kill -9`` mid-run and the
resume (no duplicate, nothing finished lost); a worker stopped with SIGTERM handing its run
back; two workers on PostgreSQL sharing queued runs; ``Retry-After`` honoured end to end; the
API key absent from the output, the logs and the database file; admins only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.judges.prompting import builtin_prompt
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.importer import import_file
from storage.judge_runs import RunOptions, enqueue_run, run_info
from storage.judges import JudgeSpec, add_prompt_version, create_judge, get_judge
from storage.migrations import migrate
from storage.models import Annotation, Item, Judge, JudgeRun, UserAccount, Verdict, utcnow
from storage.projects import get_project
from tests.conftest import REPO_ROOT
from tests.converters import write_jsonl
from tests.judges.fake_openai import FakeOpenAI
from tests.judges.helpers import SECRET

KEY_VAR = "CLI_JUDGE_KEY"


def cli_env(**extra: str) -> dict[str, str]:
    """The CLI's environment: single-user mode (no password), the key in KEY_VAR."""
    env = {**os.environ, "DOCKET_AUTH": "none", KEY_VAR: SECRET, **extra}
    env.pop("DOCKET_DATABASE_URL", None)
    return env


def cli(url: str, *argv: str, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python cli.py --database URL ARGV`` to its end."""
    return subprocess.run([sys.executable, "cli.py", "--database", url, *argv], cwd=REPO_ROOT,
                          env=env or cli_env(), input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)


def start_cli(url: str, *argv: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``python cli.py --database URL ARGV`` with its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "cli.py", "--database", url, *argv],
                                cwd=REPO_ROOT, env=cli_env(), stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sqlite_url(tmp_path: Path) -> tuple[str, Database]:
    url = f"sqlite:///{tmp_path / 'docket.db'}"
    db = Database(url)
    migrate(db)
    return url, db


def quiz(db: Database, tmp_path: Path, count: int, name: str = "quiz") -> int:
    """A correctness project of ``count`` items; the fake server answers ``incorrect`` for
    every third one and ``correct`` otherwise."""
    records = [{"id": f"q{i}", "prompt": f"Question {i}?",
                "response": f"Answer {i} <<expect:{'incorrect' if i % 3 == 0 else 'correct'}>>",
                "reference": f"Reference {i}"} for i in range(count)]
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name=name).id


def add_judge(db: Database, server: FakeOpenAI, name: str = "gpt") -> None:
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name=name, base_url=server.base_url,
                                                     model="judge-model", api_key_env=KEY_VAR),
                     actor=OPERATOR)


def enqueue(db: Database, project_id: int, judge: str = "gpt", **options) -> int:
    with db.write() as session:
        return enqueue_run(session=session, project_id=project_id, judge_name=judge,
                           options=RunOptions(**options), actor=OPERATOR).id


def stored(db: Database) -> list[tuple[str, str, int, str | None, str | None]]:
    """Every verdict as (judge, item, sample, label, raw output), in order."""
    with db.read() as session:
        return [tuple(row) for row in session.execute(
            select(Judge.name, Item.external_id, Verdict.sample_index, Verdict.label,
                   Verdict.raw_output)
            .join(Judge, Judge.id == Verdict.judge_id).join(Item, Item.id == Verdict.item_id)
            .order_by(Judge.name, Item.id, Verdict.sample_index))]


def expected(item: str) -> str:
    return "incorrect" if int(item[1:]) % 3 == 0 else "correct"


def metrics(url: str, project: str) -> dict:
    result = cli(url, "metrics", "--project", project, "--bootstrap", "0", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- a whole session on the demo projects ------------------------------------------------------

def test_judges_added_and_run_from_the_cli_appear_in_the_metrics(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    assert cli(url, "demo").returncode == 0
    add = cli(url, "judge", "add", "gpt", "--base-url", fake_openai.base_url, "--model", "m1",
              "--strategy", "rationale", "--api-key-env", KEY_VAR,
              "--family", "fake", "--size", "7B", "--provider", "loopback", "--seed", "3",
              "--price-input", "1.5", "--price-output", "6")
    assert add.returncode == 0, add.stderr
    assert cli(url, "judge", "add", "em", "--lexical", "exact_match").returncode == 0
    listed = cli(url, "judge", "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0] == "em  lexical exact_match (offline)"
    assert lines[1].startswith(f"gpt  m1 at {fake_openai.base_url}; strategy rationale; "
                               f"API key: ${KEY_VAR} (set here)")
    assert "prices per million tokens 1.5 in / 6.0 out" in lines[1] and "fake 7B loopback" in lines[1]
    unset = cli(url, "judge", "list", env={k: v for k, v in cli_env().items() if k != KEY_VAR})
    assert f"API key: ${KEY_VAR} (not set here)" in unset.stdout

    first = cli(url, "judge", "run", "--project", "correctness", "--judge", "gpt",
                "--concurrency", "4")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("run 1 (gpt): done; 36 of 36 verdicts (0 unparseable), "
                                   "0 failed, 0 remaining; ")
    assert "cost ≈ " in first.stdout
    assert "run 1 of gpt with prompt v1 on correctness: queued" in first.stderr
    assert "run 1 (gpt): running; " in first.stderr  # the progress line
    with db.read() as session:
        run = session.get(JudgeRun, 1)
        cost = (run.input_tokens * 1.5 + run.output_tokens * 6) / 1e6
    assert f"cost ≈ {cost:.4f}" in first.stdout
    assert len(fake_openai.requests) == 36
    assert {r.body["seed"] for r in fake_openai.requests} == {3}

    again = cli(url, "judge", "run", "--project", "correctness", "--judge", "gpt")
    assert again.returncode == 0 and len(fake_openai.requests) == 36  # nothing missing

    schema = TEMPLATES["correctness"]
    with db.write() as session:
        add_prompt_version(session=session, judge=get_judge(session=session, name="gpt"),
                           schema=schema, template=builtin_prompt(schema, "rubric"),
                           actor=OPERATOR)
    v2 = cli(url, "judge", "run", "--project", "correctness", "--judge", "gpt")
    assert v2.returncode == 0 and "with prompt v2" in v2.stderr
    lexical = cli(url, "judge", "run", "--project", "correctness", "--judge", "em")
    assert lexical.returncode == 1  # 4 demo items have no reference: no verdict, said so
    assert "error: run 4 of em: 4 verdicts missing after failed calls" in lexical.stderr
    assert "no reference answer" in lexical.stderr
    swapped = cli(url, "judge", "run", "--project", "pairwise", "--judge", "gpt", "--swap")
    assert swapped.returncode == 0, swapped.stderr
    assert "done; 60 of 60 verdicts" in swapped.stdout

    correctness = metrics(url, "correctness")
    assert {"judge:gpt", "judge:gpt@v2", "judge:em"} <= set(correctness["raters"])
    parsed = {v["rater"]: v["parsed"] for v in correctness["verdicts"]}
    assert (parsed["judge:gpt"], parsed["judge:gpt@v2"], parsed["judge:em"]) == (36, 36, 32)
    # The fake says "correct" to every demo item, so gpt's agreement with an annotator is the
    # share of that annotator's labels that are "correct", counted here from the table.
    with db.read() as session:
        project = get_project(session=session, name="correctness").id
        maria = session.execute(select(Annotation.label).join(
            UserAccount, UserAccount.id == Annotation.user_id).join(
            Item, Item.id == Annotation.item_id).where(
            UserAccount.name == "maria", Item.project_id == project,
            Annotation.dimension == "correct")).scalars().all()
    pair = next(p for p in correctness["pairs"] if (p["a"], p["b"]) == ("human:maria", "judge:gpt"))
    assert (pair["n"], pair["percent_agreement"]) == (
        len(maria), pytest.approx(maria.count("correct") / len(maria)))
    pairwise = metrics(url, "pairwise")
    assert {"judge:gpt", "judge:gpt@swapped"} <= set(pairwise["raters"])


def test_bad_input_is_refused_naming_the_flag(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    quiz(db, tmp_path, 1)
    bad_url = cli(url, "judge", "add", "x", "--base-url", "ftp://example", "--model", "m")
    assert (bad_url.returncode, bad_url.stderr.splitlines()[-1]) == (
        1, "error: judge 'x': --base-url: must start with http:// or https://")
    strategy = cli(url, "judge", "add", "x", "--base-url", fake_openai.base_url, "--model", "m",
                   "--strategy", "clever")
    assert strategy.returncode == 2 and "argument --strategy: invalid choice: 'clever'" in strategy.stderr
    missing = cli(url, "judge", "add", "x", "--base-url", fake_openai.base_url)
    assert missing.stderr.splitlines()[-1] == ("error: --model: required for an LLM judge (or "
                                               "give --lexical for an offline one)")
    pasted = cli(url, "judge", "add", "x", "--base-url", fake_openai.base_url, "--model", "m",
                 "--api-key-env", SECRET)  # the key pasted where its variable's name goes
    assert pasted.returncode == 1 and "--api-key-env: is not an environment variable name" in pasted.stderr
    assert SECRET not in pasted.stdout + pasted.stderr
    add_judge(db, fake_openai)
    unknown_project = cli(url, "judge", "run", "--project", "nope", "--judge", "gpt")
    assert unknown_project.stderr.splitlines()[-1] == "error: no project named 'nope' (projects: quiz)"
    unknown_judge = cli(url, "judge", "run", "--project", "quiz", "--judge", "claude")
    assert unknown_judge.stderr.splitlines()[-1] == "error: no judge named 'claude' (judges: gpt)"
    samples = cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt", "--samples", "99")
    assert samples.stderr.splitlines()[-1] == "error: --samples: expected 1 to 20, got 99"
    swap = cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt", "--swap")
    assert "error: --swap: task 'correctness' has no response_a/response_b" in swap.stderr
    no_key = cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt",
                 env={k: v for k, v in cli_env().items() if k != KEY_VAR})
    assert no_key.returncode == 1
    assert (f"error: run 1 of gpt: failed: the variable {KEY_VAR} that should hold judge 'gpt''s "
            "API key is not set") in no_key.stderr
    assert fake_openai.requests == []


def test_judge_commands_are_for_admins_signed_in(tmp_path, fake_openai):
    url, _ = sqlite_url(tmp_path)
    env = {k: v for k, v in cli_env().items() if k != "DOCKET_AUTH"}
    for name, role in (("boss", "admin"), ("ann", "annotator")):
        assert cli(url, "create-user", name, "--role", role, env=env,
                   stdin="correct horse battery\n").returncode == 0
    anonymous = cli(url, "judge", "list", env=env)
    assert anonymous.stderr.splitlines()[-1] == ("error: judge commands are for admins only: "
                                                 "give --user NAME (the password is read from stdin)")
    annotator = cli(url, "judge", "list", "--user", "ann", env=env, stdin="correct horse battery\n")
    assert annotator.stderr.splitlines()[-1] == ("error: judge commands are for admins only: "
                                                 "ann is annotator")
    wrong = cli(url, "judge", "list", "--user", "boss", env=env, stdin="wrong password!!\n")
    assert wrong.returncode == 1
    admin = cli(url, "judge", "add", "gpt", "--base-url", fake_openai.base_url, "--model", "m",
                "--user", "boss", env=env, stdin="correct horse battery\n")
    assert admin.returncode == 0, admin.stderr


# --- the API key -------------------------------------------------------------------------------

def test_the_api_key_is_in_no_output_log_or_database_byte(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    quiz(db, tmp_path, 4)
    fake_openai.add_fault("echo_key", times=None, when="Answer 1")  # the server echoes the key
    outputs = [cli(url, "-v", "judge", "add", "gpt", "--base-url", fake_openai.base_url,
                   "--model", "m", "--api-key-env", KEY_VAR),
               cli(url, "-v", "judge", "list"),
               cli(url, "-v", "judge", "run", "--project", "quiz", "--judge", "gpt")]
    run = outputs[-1]
    assert run.returncode == 1 and "HTTP 401" in run.stderr  # the echoed error, scrubbed
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake_openai.requests)
    for result in outputs:
        assert SECRET not in result.stdout + result.stderr
    db.dispose()
    database = tmp_path / "docket.db"
    files = [path for path in tmp_path.iterdir() if path.name.startswith("docket.db")]
    assert database in files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


# --- retries -----------------------------------------------------------------------------------

def test_a_429_with_retry_after_is_waited_for_and_retried(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    quiz(db, tmp_path, 3)
    add_judge(db, fake_openai)
    fake_openai.add_fault("429", times=1, when="Answer 2", retry_after="2")

    result = cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt")

    assert result.returncode == 0, result.stderr
    assert "done; 3 of 3 verdicts (0 unparseable), 0 failed" in result.stdout
    asked = [r.at for r in fake_openai.requests if "Answer 2" in r.user_text]
    assert len(asked) == 2 and asked[1] - asked[0] >= 2.0  # Retry-After: 2 (seconds)
    assert [label for *_, label, _ in stored(db)] == [expected(f"q{i}") for i in range(3)]


# --- stopping and crashing mid-run ---------------------------------------------------------------

def test_ctrl_c_cancels_the_run_and_keeps_what_was_written(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    quiz(db, tmp_path, 30)
    add_judge(db, fake_openai)
    fake_openai.set_delay(0.2)
    process = start_cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt",
                        "--concurrency", "2", log=tmp_path / "run.log")
    wait_for(lambda: len(stored(db)) >= 4, "the first verdicts")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    output = (tmp_path / "run.log").read_text()
    assert "cancelling: the calls in flight finish" in output
    with db.read() as session:
        run = run_info(session=session, run_id=1)
    kept = stored(db)
    assert run.status == "cancelled" and 4 <= run.done == len(kept) < 30
    assert all(label == expected(item) for _, item, _, label, _ in kept)
    assert "Traceback" not in output


def test_a_worker_killed_mid_run_loses_nothing_and_the_next_does_only_the_rest(tmp_path,
                                                                              fake_openai):
    url, db = sqlite_url(tmp_path)
    project = quiz(db, tmp_path, 40)
    add_judge(db, fake_openai)
    run_id = enqueue(db, project, concurrency=4)
    fake_openai.set_delay(0.15)
    process = start_cli(url, "worker", log=tmp_path / "worker1.log")
    wait_for(lambda: len(stored(db)) >= 8, "verdicts of the first worker")
    process.kill()  # kill -9: no chance to write anything more
    process.wait(timeout=10)
    before = stored(db)
    asked_before = len(fake_openai.requests)
    assert 8 <= len(before) < 40
    with db.read() as session:
        assert session.get(JudgeRun, run_id).status == "running"  # its worker died holding it

    # Two minutes pass without a heartbeat: the run is free to take over.
    with db.write() as session:
        session.execute(update(JudgeRun).values(heartbeat_at=utcnow() - timedelta(minutes=3)))
    fake_openai.set_delay(0.0)
    second = cli(url, "worker", "--until-idle")

    assert second.returncode == 0, second.stderr
    assert "1 run carried out" in second.stdout
    after = stored(db)
    assert len(after) == 40
    assert [item for _, item, *_ in after] == [f"q{i}" for i in range(40)]  # each exactly once
    assert set(before) <= set(after)  # nothing finished was lost or rewritten
    assert all(label == expected(item) for _, item, _, label, _ in after)
    resent = {r.user_text.split("Answer ")[1].split()[0]
              for r in fake_openai.requests[asked_before:]}
    assert resent == {item[1:] for _, item, *_ in after} - {item[1:] for _, item, *_ in before}
    with db.read() as session:
        run = run_info(session=session, run_id=run_id)
    assert (run.status, run.done, run.total) == ("done", 40, 40)


def test_a_judge_run_killed_mid_run_is_completed_by_running_it_again(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    quiz(db, tmp_path, 30)
    add_judge(db, fake_openai)
    fake_openai.set_delay(0.15)
    process = start_cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt",
                        "--concurrency", "3", log=tmp_path / "run.log")
    wait_for(lambda: len(stored(db)) >= 6, "the first verdicts")
    process.kill()
    process.wait(timeout=10)
    before = stored(db)
    fake_openai.set_delay(0.0)

    again = cli(url, "judge", "run", "--project", "quiz", "--judge", "gpt")

    assert again.returncode == 0, again.stderr
    after = stored(db)
    assert [item for _, item, *_ in after] == [f"q{i}" for i in range(30)]
    assert set(before) <= set(after)
    assert "run 2 (gpt): done; 30 of 30 verdicts" in again.stdout


def test_a_worker_stopped_with_sigterm_hands_its_run_back(tmp_path, fake_openai):
    url, db = sqlite_url(tmp_path)
    project = quiz(db, tmp_path, 30)
    add_judge(db, fake_openai)
    run_id = enqueue(db, project, concurrency=2)
    fake_openai.set_delay(0.2)
    process = start_cli(url, "worker", log=tmp_path / "worker.log")
    wait_for(lambda: len(stored(db)) >= 4, "the first verdicts")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    with db.read() as session:
        run = run_info(session=session, run_id=run_id)
    assert run.status == "queued" and run.done == len(stored(db)) < 30
    assert "stopped with" in run.message
    log = (tmp_path / "worker.log").read_text()
    assert "stopping: the calls in flight finish" in log and "0 runs carried out" not in log
    assert f"run {run_id} (gpt): queued; " in log  # each run's line, without -v
    assert SECRET not in log
    fake_openai.set_delay(0.0)
    assert cli(url, "worker", "--until-idle").returncode == 0
    assert len(stored(db)) == 30


# --- several workers -----------------------------------------------------------------------------

def test_two_workers_on_postgresql_claim_each_queued_run_once(postgres_db, tmp_path, fake_openai):
    url = postgres_db.engine.url.render_as_string(hide_password=False)
    project = quiz(postgres_db, tmp_path, 5)
    names = [f"j{i}" for i in range(8)]
    for name in names:
        add_judge(postgres_db, fake_openai, name)
    runs = [enqueue(postgres_db, project, name) for name in names]
    fake_openai.set_delay(0.1)

    workers = [start_cli(url, "worker", "--until-idle", "--poll", "0.1",
                         log=tmp_path / f"w{i}.log") for i in range(2)]
    for process in workers:
        assert process.wait(timeout=120) == 0

    carried = [int((tmp_path / f"w{i}.log").read_text().rsplit(": ", 1)[1].split()[0])
               for i in range(2)]
    assert sum(carried) == len(runs)
    with postgres_db.read() as session:
        rows = session.execute(select(JudgeRun.status, JudgeRun.done, JudgeRun.worker)
                               .order_by(JudgeRun.id)).all()
        per_judge = dict(session.execute(select(Judge.name, func.count(Verdict.id))
                                         .join(Verdict, Verdict.judge_id == Judge.id)
                                         .group_by(Judge.name)).all())
    assert [(status, done) for status, done, _ in rows] == [("done", 5)] * len(runs)
    assert per_judge == dict.fromkeys(names, 5)
    # Every call made once: no run was carried out by both workers.
    assert len(fake_openai.requests) == 5 * len(runs)
    if min(carried) > 0:
        assert len({worker for *_, worker in rows}) == 2
