"""Engine settings and session semantics that the concurrency measurements depend on."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

import storage.database as database
from storage.database import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_PATH,
    Database,
    DatabaseConfigError,
    database_url_from_env,
    normalize_url,
)
from storage.migrations import migrate


def pragma(db: Database, name: str):
    with db.engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connection_settings(sqlite_db: Database) -> None:
    assert pragma(sqlite_db, "journal_mode") == "wal"
    assert pragma(sqlite_db, "foreign_keys") == 1
    assert pragma(sqlite_db, "busy_timeout") == 30_000
    assert pragma(sqlite_db, "synchronous") == 1  # NORMAL


def test_sqlite_wal_file_exists_on_disk(sqlite_db: Database) -> None:
    with sqlite_db.write() as session:
        session.execute(text("INSERT INTO project (name, template, task_json, created_at) "
                             "VALUES ('p', 'correctness', '{}', CURRENT_TIMESTAMP)"))
    path = Path(sqlite_db.engine.url.database)
    with sqlite_db.engine.connect():
        assert path.with_name(path.name + "-wal").exists()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(text(
            "INSERT INTO item (project_id, external_id, fields_json, content_hash, created_at, "
            "updated_at) VALUES (999, 'x', '{}', 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    with db.read() as session:
        assert session.execute(text("SELECT COUNT(*) FROM item")).scalar_one() == 0


def test_write_commits_and_read_rolls_back(db: Database) -> None:
    insert = text("INSERT INTO project (name, template, task_json, created_at) "
                  "VALUES (:name, 'correctness', '{}', CURRENT_TIMESTAMP)")
    with db.write() as session:
        session.execute(insert, {"name": "kept"})
    with db.read() as session:
        session.execute(insert, {"name": "dropped"})
    with pytest.raises(ZeroDivisionError), db.write() as session:
        session.execute(insert, {"name": "failed"})
        _ = 1 / 0
    with db.read() as session:
        assert session.execute(text("SELECT name FROM project")).scalars().all() == ["kept"]


def test_write_sessions_begin_immediate_and_reads_deferred(sqlite_db: Database) -> None:
    statements: list[str] = []

    @event.listens_for(sqlite_db.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with sqlite_db.write() as session:
        session.execute(text("SELECT 1"))
    assert statements[0] == "BEGIN IMMEDIATE"
    statements.clear()
    with sqlite_db.read() as session:
        session.execute(text("SELECT 1"))
    assert statements[0] == "BEGIN"


def _hold_write_lock(db: Database, held: threading.Event, release: threading.Event,
                     done: list[float]) -> None:
    with db.write() as session:
        session.connection()  # starts the transaction: BEGIN IMMEDIATE, nothing written yet
        held.set()
        release.wait(10)
        done.append(time.monotonic())


def test_a_second_writer_waits_for_the_first(sqlite_db: Database) -> None:
    other = Database(sqlite_db.url)
    held, release = threading.Event(), threading.Event()
    committed: list[float] = []
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_db, held, release, committed))
    holder.start()
    assert held.wait(10)
    # While the writer holds the lock, readers are not blocked (WAL).
    with other.read() as session:
        assert session.execute(text("SELECT COUNT(*) FROM project")).scalar_one() == 0
    threading.Timer(0.3, release.set).start()

    with other.write() as session:
        session.connection()
        entered = time.monotonic()
    holder.join(10)
    other.dispose()

    assert committed and entered >= committed[0]


def test_begin_immediate_takes_the_lock_before_any_write(tmp_path: Path, monkeypatch) -> None:
    """With a deferred BEGIN the second writer would get in; IMMEDIATE makes it time out."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first, second = Database(url), Database(url)
    migrate(first)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(first, held, release, []))
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), second.write() as session:
            session.connection()
        assert 0.15 < time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(10)
        first.dispose()
        second.dispose()


# --- URLs ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://postgres@127.0.0.1/test", "postgresql+psycopg://postgres@127.0.0.1/test"),
    ("postgres://u:pw@db.example:5433/docket", "postgresql+psycopg://u:pw@db.example:5433/docket"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:///data/docket.db", "sqlite:///data/docket.db"),
    ("sqlite:////abs/path/docket.db", "sqlite:////abs/path/docket.db"),
])
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://root@localhost/docket",
     "DOCKET_DATABASE_URL: unsupported backend 'mysql' (use sqlite:///PATH or "
     "postgresql://USER@HOST/DB)"),
    ("sqlite://", "DOCKET_DATABASE_URL: SQLite needs a file path, not memory"),
    ("sqlite:///:memory:", "DOCKET_DATABASE_URL: SQLite needs a file path, not memory"),
])
def test_normalize_url_rejects_unusable_urls(url: str, message: str) -> None:
    with pytest.raises(DatabaseConfigError) as caught:
        normalize_url(url)
    assert str(caught.value) == message


def test_normalize_url_rejects_garbage() -> None:
    with pytest.raises(DatabaseConfigError, match="cannot parse 'not a url'"):
        normalize_url("not a url")


def test_database_url_from_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert database_url_from_env() == f"sqlite:///{DEFAULT_DATABASE_PATH}"

    url = f"sqlite:///{tmp_path / 'from_env' / 'docket.db'}"
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    assert database_url_from_env() == url
    db = Database()
    try:
        assert db.url == url
        migrate(db)
    finally:
        db.dispose()
    assert (tmp_path / "from_env" / "docket.db").is_file()


def test_database_from_env_routes_postgres_to_psycopg(postgres_server_url: str, monkeypatch) -> None:
    plain = postgres_server_url.replace("postgresql+psycopg://", "postgresql://")
    monkeypatch.setenv(DATABASE_URL_ENV, plain)
    db = Database()
    try:
        assert db.dialect == "postgresql"
        assert db.url.startswith("postgresql+psycopg://")
        with db.read() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def test_repr_hides_the_password() -> None:
    db = Database("postgresql://alice:s3cret@127.0.0.1/docket")
    assert repr(db) == "Database('postgresql+psycopg://alice:***@127.0.0.1/docket')"
