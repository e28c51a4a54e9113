"""The app's own judge worker (components/app_worker.py): started once per process by the first
page run, it carries out a run queued through storage with the key from the server's
environment; ``DOCKET_WORKER=off`` leaves it out, another value makes the app unavailable."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import components.app_worker as app_worker
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judge_runs import RunOptions, enqueue_run, run_info
from storage.judges import JudgeSpec, create_judge
from storage.projects import get_project
from tests.app.annotate_helpers import page_text
from tests.app.apptest_helpers import open_page
from tests.converters import write_jsonl
from tests.judges.fake_openai import FakeOpenAI
from tests.judges.helpers import SECRET


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Whatever a test started is stopped before its database goes away."""
    app_worker.stop_app_worker()
    yield
    app_worker.stop_app_worker()


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "docket-judge-worker" and t.is_alive()]


def queue_a_run(db, tmp_path: Path, server: FakeOpenAI, count: int = 6) -> int:
    records = [{"id": f"q{i}", "prompt": f"Question {i}?",
                "response": f"Answer {i} <<expect:{'incorrect' if i % 2 else 'correct'}>>"}
               for i in range(count)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="gpt", base_url=server.base_url,
                                                     model="m", api_key_env="APP_JUDGE_KEY"),
                     actor=OPERATOR)
        project = get_project(session=session, name="quiz").id
        return enqueue_run(session=session, project_id=project, judge_name="gpt",
                           options=RunOptions(), actor=OPERATOR).id


def wait_until_ended(db, run_id: int, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            info = run_info(session=session, run_id=run_id)
        if info.status not in ("queued", "running") or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


def test_the_first_page_run_starts_the_worker_which_carries_out_a_queued_run(
        app_db, admin, tmp_path, fake_openai, monkeypatch, caplog):
    monkeypatch.setenv("DOCKET_WORKER", "on")
    monkeypatch.setenv("APP_JUDGE_KEY", SECRET)
    run_id = queue_a_run(app_db, tmp_path, fake_openai)

    with caplog.at_level(logging.DEBUG):
        open_page("app.py", user=admin)
        open_page("pages/8_Judges.py", user=admin)  # a rerun, another page: still one worker
        info = wait_until_ended(app_db, run_id)

    assert len(worker_threads()) == 1
    assert (info.status, info.done, info.total, info.failed) == ("done", 6, 6, 0)
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake_openai.requests)
    assert len(fake_openai.requests) == 6
    assert SECRET not in caplog.text
    app_worker.stop_app_worker()
    assert worker_threads() == []


def test_the_worker_is_started_once_and_reads_keys_only_when_a_run_needs_them(
        sqlite_db, tmp_path, fake_openai, monkeypatch):
    monkeypatch.setenv("DOCKET_WORKER", "on")
    monkeypatch.delenv("APP_JUDGE_KEY", raising=False)
    first = app_worker.start_app_worker(sqlite_db)
    assert app_worker.start_app_worker(sqlite_db) is first and len(worker_threads()) == 1
    monkeypatch.setenv("APP_JUDGE_KEY", SECRET)  # set after the start: found at the run
    run_id = queue_a_run(sqlite_db, tmp_path, fake_openai, count=3)
    assert wait_until_ended(sqlite_db, run_id).status == "done"


def test_docket_worker_off_starts_no_worker(app_db, admin, tmp_path, fake_openai, monkeypatch):
    monkeypatch.setenv("DOCKET_WORKER", "off")
    monkeypatch.setenv("APP_JUDGE_KEY", SECRET)
    run_id = queue_a_run(app_db, tmp_path, fake_openai)

    at = open_page("app.py", user=admin)
    time.sleep(0.5)

    assert not at.exception and worker_threads() == []
    assert app_worker.start_app_worker(app_db) is None
    with app_db.read() as session:
        assert run_info(session=session, run_id=run_id).status == "queued"
    assert fake_openai.requests == []


def test_another_docket_worker_value_makes_the_app_unavailable(app_db, admin, monkeypatch, caplog):
    monkeypatch.setenv("DOCKET_WORKER", "sometimes")
    with pytest.raises(app_worker.WorkerConfigError, match="DOCKET_WORKER='sometimes': expected on or off"):
        app_worker.worker_enabled()
    with caplog.at_level(logging.ERROR):
        at = open_page("app.py", user=admin)
    assert "Docket is not available" in page_text(at)
    assert "DOCKET_WORKER='sometimes'" in caplog.text  # the reason: in the server log only
    assert worker_threads() == []


def test_keys_come_from_the_environment_then_the_secrets(monkeypatch):
    import streamlit as st

    monkeypatch.setenv("ENV_KEY", "from-env")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("NOWHERE", raising=False)
    monkeypatch.setattr(st, "secrets", {"SECRET_KEY": "from-secrets", "ENV_KEY": "not this"})
    keys = app_worker.JudgeKeys()
    assert (keys["ENV_KEY"], keys.get("SECRET_KEY"), keys.get("NOWHERE")) == (
        "from-env", "from-secrets", None)
    assert list(keys) == [] and "SECRET_KEY" not in repr(keys)
