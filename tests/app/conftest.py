"""AppTest fixtures: a fresh database per test (SQLite file or PostgreSQL) and cold page runs.

Streamlit's caches live in the process, not in an AppTest instance, so they are cleared around
every test; clearing ``cache_resource`` also disposes the cached engine (``on_release``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

import storage.demo
from storage.database import Database
from storage.migrations import migrate
from tests.app.apptest_helpers import TINY_DEMO_RECORDS


@pytest.fixture(autouse=True)
def clear_streamlit_caches() -> Iterator[None]:
    """Start and end every test with empty Streamlit caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The app's database: a SQLite file in ``tmp_path``, named by DOCKET_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DOCKET_DATABASE_URL", url)
    db = Database(url)
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db_any(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The app's database on SQLite and on PostgreSQL (same test, both backends)."""
    if request.param == "sqlite":
        return request.getfixturevalue("app_db")
    db: Database = request.getfixturevalue("postgres_db")
    monkeypatch.setenv("DOCKET_DATABASE_URL", db.url)
    return db


@pytest.fixture
def tiny_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict]]:
    """Point the demo loader at tiny hand-written demo files; return their records."""
    folder = tmp_path / "demo_data"
    folder.mkdir()
    for template, records in TINY_DEMO_RECORDS.items():
        lines = "".join(json.dumps(record) + "\n" for record in records)
        (folder / f"{template}.jsonl").write_text(lines, encoding="utf-8")
    monkeypatch.setattr(storage.demo, "DEMO_DIR", folder)
    return TINY_DEMO_RECORDS
