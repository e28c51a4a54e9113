"""Judge runs in the database, against the fake OpenAI-compatible server (SQLite and PostgreSQL):
what is stored per verdict, unparseable outputs, failed calls and resume, samples, swapped
order, reference-guided prompts (the gold reference when there is one), lexical judges,
cancelling, claiming by one worker, and the API key kept out of the database and the logs."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.judges.client import JudgeClient
from core.judges.prompting import PromptTemplate, builtin_prompt
from core.judges.retry import RetryPolicy
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.gold import adjudicate
from storage.importer import import_file
from storage.judge_runs import (
    RunError,
    RunOptions,
    claim_run,
    enqueue_run,
    execute_run,
    request_cancel,
)
from storage.judges import JudgeError, JudgeSpec, add_prompt_version, create_judge, get_judge
from storage.models import Judge, JudgeRun, Verdict
from storage.projects import get_project
from storage.review import find_item_id
from tests.converters import write_jsonl
from tests.judges.fake_openai import FakeOpenAI
from tests.judges.helpers import SECRET

ENV = {"JUDGE_KEY": SECRET}
FAST_RETRIES = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)


def fast_client(endpoint, *, api_key):
    """The run's client with quick retries (two attempts, milliseconds apart)."""
    return JudgeClient(endpoint, api_key=api_key, retry=FAST_RETRIES)


def quiz(db: Database, tmp_path: Path, labels: list[str]) -> int:
    """Correctness items q0.. whose responses tell the fake server what to answer."""
    records = [{"id": f"q{i}", "prompt": f"Question {i}?",
                "response": f"Answer {i} <<expect:{label}>>", "reference": f"Reference {i}"}
               for i, label in enumerate(labels)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name="quiz").id


def add_judge(db: Database, server: FakeOpenAI, name: str = "gpt", **settings) -> None:
    spec = JudgeSpec(name=name, base_url=server.base_url, model="judge-model",
                     api_key_env="JUDGE_KEY", **settings)
    with db.write() as session:
        create_judge(session=session, spec=spec, actor=OPERATOR)


def run(db: Database, project_id: int, judge: str = "gpt", **options):
    with db.write() as session:
        run_id = enqueue_run(session=session, project_id=project_id, judge_name=judge,
                             options=RunOptions(**options), actor=OPERATOR).id
    assert claim_run(db, worker="test") == run_id
    return execute_run(db, run_id, worker="test", environ=ENV, client_factory=fast_client)


def verdicts(db: Database) -> list[tuple]:
    with db.read() as session:
        return [tuple(row) for row in session.execute(
            select(Judge.name, Verdict.item_id, Verdict.dimension, Verdict.sample_index,
                   Verdict.label, Verdict.model, Verdict.prompt_version_id)
            .join(Judge, Judge.id == Verdict.judge_id)
            .order_by(Judge.name, Verdict.item_id, Verdict.sample_index))]


def test_a_run_stores_every_verdict_with_its_provenance(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct", "incorrect", "correct"])
    add_judge(db, fake_openai, price_input_per_million=1.0, price_output_per_million=2.0)

    info = run(db, project)

    assert (info.status, info.total, info.done, info.failed, info.unparseable) == (
        "done", 3, 3, 0, 0)
    assert info.input_tokens > 0 and info.output_tokens > 0
    assert info.cost == pytest.approx((info.input_tokens + 2 * info.output_tokens) / 1e6)
    stored = verdicts(db)
    assert [(name, label, model) for name, _, _, _, label, model, _ in stored] == [
        ("gpt", "correct", "judge-model"), ("gpt", "incorrect", "judge-model"),
        ("gpt", "correct", "judge-model")]
    with db.read() as session:
        tokens = session.execute(select(Verdict.input_tokens, Verdict.output_tokens,
                                        Verdict.latency_ms, Verdict.raw_output)).all()
    assert all(i > 0 and o > 0 and latency >= 0 and raw for i, o, latency, raw in tokens)
    assert {prompt for *_, prompt in stored} == {run_info_prompt(db, info.id)}
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake_openai.requests)


def run_info_prompt(db, run_id):
    with db.read() as session:
        return session.get(JudgeRun, run_id).prompt_version_id


def test_unparseable_output_is_stored_as_such_and_counted(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct", "incorrect"])
    add_judge(db, fake_openai)
    fake_openai.add_fault("unparseable", times=None, when="Answer 1")

    info = run(db, project)

    assert (info.done, info.unparseable) == (2, 1)
    assert [label for *_, label, _, _ in verdicts(db)] == ["correct", None]
    with db.read() as session:
        raw = session.execute(select(Verdict.raw_output).where(Verdict.label.is_(None))).scalar()
    assert raw == "I cannot decide about this one."


def test_failed_calls_store_nothing_and_the_rerun_does_only_what_is_missing(db, tmp_path,
                                                                          fake_openai):
    project = quiz(db, tmp_path, ["correct", "incorrect", "correct"])
    add_judge(db, fake_openai)
    fake_openai.add_fault("500", times=FAST_RETRIES.max_attempts, when="Answer 2")

    first = run(db, project)

    assert (first.status, first.done, first.failed) == ("done", 2, 1)
    assert "1 verdicts missing after failed calls" in first.message
    assert len(verdicts(db)) == 2
    asked_before = len(fake_openai.requests)  # the server is healthy again

    second = run(db, project)

    assert (second.status, second.total, second.done, second.failed) == ("done", 3, 3, 0)
    resent = fake_openai.requests[asked_before:]
    assert [r.user_text.count("Answer 2") for r in resent] == [1]  # only the missing one
    assert len(verdicts(db)) == 3


def test_samples_and_the_swapped_order_are_separate_verdicts(db, tmp_path, fake_openai):
    records = [{"id": "p0", "prompt": "Which is better?", "response_a": "FIRST <<expect:A>>",
                "response_b": "SECOND"}]
    import_file(db, write_jsonl(records, tmp_path / "pairs.jsonl"), project_name="pairs",
                schema=TEMPLATES["pairwise"], actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="pairs").id
    add_judge(db, fake_openai, seed=7)

    info = run(db, project, samples=3, swap=True)

    assert (info.total, info.done) == (6, 6)
    stored = verdicts(db)
    assert [(name, sample) for name, _, _, sample, *_ in stored] == [
        ("gpt", 0), ("gpt", 1), ("gpt", 2),
        ("gpt@swapped", 0), ("gpt@swapped", 1), ("gpt@swapped", 2)]
    shown = [r.user_text for r in fake_openai.requests]
    swapped = [t for t in shown if t.index("SECOND") < t.index("FIRST")]
    assert len(swapped) == 3  # the swapped run saw response_b first
    seeds = sorted(r.body["seed"] for r in fake_openai.requests)
    assert seeds == [7, 7, 8, 8, 9, 9]  # each sample its own, reproducible, seed


def test_a_reference_guided_prompt_gets_the_gold_reference_when_there_is_one(db, tmp_path,
                                                                          fake_openai):
    project = quiz(db, tmp_path, ["correct", "correct"])
    add_judge(db, fake_openai, strategy="rationale", reference_guided=True)
    with db.write() as session:
        q0 = find_item_id(session=session, project_id=project, external_id="q0")
        adjudicate(session=session, item_id=q0, reference_answer="THE EXPERTS' ANSWER",
                   actor=OPERATOR)

    run(db, project)

    texts = {("Answer 0" in r.user_text): r.user_text for r in fake_openai.requests}
    assert "THE EXPERTS' ANSWER" in texts[True] and "Reference 0" not in texts[True]
    assert "Reference 1" in texts[False]


def test_a_new_prompt_version_is_a_new_rater(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    add_judge(db, fake_openai)
    run(db, project)
    schema = TEMPLATES["correctness"]
    edited = builtin_prompt(schema, "rubric")
    with db.write() as session:
        judge = get_judge(session=session, name="gpt")
        version = add_prompt_version(session=session, judge=judge, schema=schema,
                                     template=edited, actor=OPERATOR)
        same = add_prompt_version(session=session, judge=judge, schema=schema, template=edited,
                                  actor=OPERATOR)
    assert (version.version, same.id) == (2, version.id)

    run(db, project)

    assert [name for name, *_ in verdicts(db)] == ["gpt", "gpt@v2"]


def test_a_prompt_with_an_unknown_field_is_refused_with_its_name(db, fake_openai):
    add_judge(db, fake_openai)
    schema = TEMPLATES["correctness"]
    bad = PromptTemplate(system="Judge.", user="{prompt} {colour} {output_format}",
                         strategy="direct")
    with db.write() as session, pytest.raises(JudgeError, match="colour"):
        add_prompt_version(session=session, judge=get_judge(session=session, name="gpt"),
                           schema=schema, template=bad, actor=OPERATOR)


def test_lexical_judges_need_no_endpoint(db, tmp_path):
    records = [{"id": "t0", "prompt": "Capital of Australia?", "response": "It is Canberra.",
                "reference": "Canberra"},
               {"id": "t1", "prompt": "Capital of Australia?", "response": "Sydney",
                "reference": "Canberra\nCanberra, ACT"},
               {"id": "t2", "prompt": "2+2?", "response": "four"}]
    import_file(db, write_jsonl(records, tmp_path / "t.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        project = get_project(session=session, name="quiz").id
        for name in ("contains", "exact_match"):
            create_judge(session=session, spec=JudgeSpec(name=name, kind="lexical", lexical=name),
                         actor=OPERATOR)

    contains, exact = run(db, project, "contains"), run(db, project, "exact_match")

    assert (contains.done, contains.failed, exact.done) == (2, 1, 2)
    assert "no reference answer" in contains.message
    assert [(name, label) for name, _, _, _, label, *_ in verdicts(db)] == [
        ("contains", "correct"), ("contains", "incorrect"),
        ("exact_match", "incorrect"), ("exact_match", "incorrect")]


def test_options_that_do_not_fit_the_task_are_refused(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    add_judge(db, fake_openai)
    with db.write() as session:
        with pytest.raises(RunError, match="swap: task 'correctness' has no response_a"):
            enqueue_run(session=session, project_id=project, judge_name="gpt",
                        options=RunOptions(swap=True), actor=OPERATOR)
        with pytest.raises(RunError, match="samples: expected 1 to 20, got 0"):
            enqueue_run(session=session, project_id=project, judge_name="gpt",
                        options=RunOptions(samples=0), actor=OPERATOR)
        with pytest.raises(JudgeError, match="no judge named 'nope'"):
            enqueue_run(session=session, project_id=project, judge_name="nope",
                        options=RunOptions(), actor=OPERATOR)


def test_a_cancelled_queued_run_is_never_claimed(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    add_judge(db, fake_openai)
    with db.write() as session:
        run_id = enqueue_run(session=session, project_id=project, judge_name="gpt",
                             options=RunOptions(), actor=OPERATOR).id
        assert request_cancel(session=session, run_id=run_id, actor=OPERATOR).status == "cancelled"
    assert claim_run(db, worker="w") is None


def test_of_several_workers_exactly_one_claims_each_run(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    add_judge(db, fake_openai)
    with db.write() as session:
        ids = [enqueue_run(session=session, project_id=project, judge_name="gpt",
                           options=RunOptions(), actor=OPERATOR).id for _ in range(3)]
    claimed: list[int | None] = []
    barrier = threading.Barrier(6)

    def worker(name: str) -> None:
        barrier.wait()
        claimed.append(claim_run(db, worker=name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(c for c in claimed if c is not None) == ids
    assert claimed.count(None) == 3


def test_a_missing_api_key_fails_the_run_by_the_variable_name(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    add_judge(db, fake_openai)
    with db.write() as session:
        run_id = enqueue_run(session=session, project_id=project, judge_name="gpt",
                             options=RunOptions(), actor=OPERATOR).id
    claim_run(db, worker="w")
    info = execute_run(db, run_id, worker="w", environ={}, client_factory=fast_client)
    assert info.status == "failed"
    assert info.message.startswith("the variable JUDGE_KEY that should hold judge 'gpt''s API key")
    assert fake_openai.requests == []


def test_the_api_key_is_kept_out_of_the_database_and_the_logs(db, tmp_path, fake_openai, caplog):
    project = quiz(db, tmp_path, ["correct", "incorrect"])
    add_judge(db, fake_openai)
    fake_openai.add_fault("echo_key", times=None, when="Answer 1")  # the server echoes the key
    with caplog.at_level(logging.DEBUG):
        info = run(db, project)
    assert info.failed == 1 and SECRET not in (info.message or "")
    assert SECRET not in caplog.text
    with db.read() as session:
        tables = [name for (name,) in session.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            if db.dialect == "postgresql" else "SELECT name FROM sqlite_master WHERE type = 'table'"))]
        for table in tables:
            for row in session.execute(text(f"SELECT * FROM {table}")):
                assert SECRET not in repr(row), table
    if db.dialect == "sqlite":
        database_file = Path(db.engine.url.database)
        for path in (database_file, Path(f"{database_file}-wal")):
            assert not path.exists() or SECRET.encode() not in path.read_bytes()


def test_a_worker_carries_out_every_queued_run_and_reports_progress(db, tmp_path, fake_openai,
                                                                    monkeypatch):
    from storage import judge_worker
    project = quiz(db, tmp_path, ["correct"] * 5)
    add_judge(db, fake_openai)
    with db.write() as session:
        for samples in (1, 2):
            enqueue_run(session=session, project_id=project, judge_name="gpt",
                        options=RunOptions(samples=samples), actor=OPERATOR)
    seen = []
    original = judge_worker.execute_run
    monkeypatch.setattr(judge_worker, "execute_run", lambda db, run_id, **kw: seen.append(
        original(db, run_id, client_factory=fast_client, on_progress=lambda info: None, **kw)))

    carried = judge_worker.run_worker(db, worker="w", environ=ENV, stop=threading.Event(),
                                      until_idle=True)

    assert carried == 2
    assert [(info.status, info.total, info.done) for info in seen] == [("done", 5, 5),
                                                                       ("done", 10, 10)]


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_a_prompt_with_a_nul_or_a_lone_surrogate_is_refused(db, fake_openai, bad):
    add_judge(db, fake_openai)
    schema = TEMPLATES["correctness"]
    template = PromptTemplate(system=f"Judge{bad}.", user="{prompt} {output_format}",
                              strategy="direct")
    with db.write() as session, pytest.raises(JudgeError, match="prompt: the system text"):
        add_prompt_version(session=session, judge=get_judge(session=session, name="gpt"),
                           schema=schema, template=template, actor=OPERATOR)
