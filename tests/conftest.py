"""Shared fixtures: real SQLite files and a real PostgreSQL database, and the shared datasets.

PostgreSQL tests read ``DOCKET_TEST_POSTGRES_URL``; without it (or without a server) they
skip with the reason. ``.ci/run`` sets ``DOCKET_CI=1``, which turns those skips into failures
so CI can never pass with the PostgreSQL or browser tests silently left out.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.database import Database, normalize_url
from storage.migrations import migrate
from tests.judges.fake_openai import FakeOpenAI
from tests.judges.helpers import SECRET

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("DOCKET_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("DOCKET_CI") == "1"
# The app's in-process judge worker stays off in the tests (AppTests, served apps): tests carry
# out runs themselves, with their own keys; the worker's own tests turn it on.
os.environ["DOCKET_WORKER"] = "off"


def skip_or_fail(reason: str) -> None:
    """Skip the test with ``reason``; in CI (``DOCKET_CI=1``) fail instead."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated Docket database in a fresh SQLite file."""
    db = Database(f"sqlite:///{tmp_path / 'docket.db'}")
    migrate(db)
    yield db
    db.dispose()


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """Create a throw-away PostgreSQL database named ``prefix`` + a random suffix on the
    server of ``DOCKET_TEST_POSTGRES_URL``, yield its URL and drop it afterwards; skip (or
    fail under CI) without a usable server."""
    base = os.environ.get("DOCKET_TEST_POSTGRES_URL")
    if not base:
        skip_or_fail("DOCKET_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1/test)")
    admin_url = normalize_url(base)
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection failure means: no usable server
        skip_or_fail(f"PostgreSQL at {make_url(admin_url).render_as_string()} unusable: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a throw-away PostgreSQL database created for this test session."""
    with fresh_postgres_database("docket_test_") as url:
        yield url


@pytest.fixture
def postgres_db(postgres_server_url: str) -> Iterator[Database]:
    """A migrated Docket database on PostgreSQL, emptied before each test."""
    db = Database(postgres_server_url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "postgres_db")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets (../shared/data); tests skip if it is not there."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (set DOCKET_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI-compatible server per test (random port, 127.0.0.1 only)."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def judge_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment holds the judges' key under JUDGE_KEY (the endpoints' api_key_env)."""
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    return SECRET
