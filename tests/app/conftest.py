"""AppTest fixtures: a fresh database per test (SQLite file or PostgreSQL), users to sign in as.

Streamlit's caches live in the process, not in an AppTest instance, so they are cleared around
every test; clearing ``cache_resource`` also disposes the cached engine (``on_release``).
Passwords are hashed with cheap Argon2id parameters here (the real ones cost ~0.1 s per hash
and are tested in tests/storage/test_users.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher

import components.browser
import storage.demo
import storage.users
from components.browser import BrowserRequest
from storage.authz import OPERATOR
from storage.database import Database
from storage.migrations import migrate
from storage.users import UserInfo, create_user, find_user, set_password
from tests.app.apptest_helpers import TINY_DEMO_RECORDS

ADMIN_PASSWORD = "admin password 1"
ANNOTATOR_PASSWORD = "annotator password 1"


@pytest.fixture(autouse=True)
def clear_streamlit_caches() -> Iterator[None]:
    """Start and end every test with empty Streamlit caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with minimal cost, so signing in a test user takes microseconds."""
    monkeypatch.setattr(storage.users, "PASSWORD_HASHER",
                        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(autouse=True)
def browser_on_this_computer(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a browser on the server's computer sends: no proxy, Docket's cookie.

    AppTest itself sends no cookies or headers (``st.context`` is empty there).
    """
    monkeypatch.setattr(components.browser, "browser_request",
                        lambda: BrowserRequest(peer=None, forwarded_for=(), cookie="apptest"))


@pytest.fixture(autouse=True)
def password_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in on (the default), whatever the environment running the tests says."""
    monkeypatch.delenv("DOCKET_AUTH", raising=False)


def app_database(request: pytest.FixtureRequest) -> Database:
    """The database the test's app uses (``app_db_any`` if the test asks for it, else ``app_db``)."""
    name = "app_db_any" if "app_db_any" in request.fixturenames else "app_db"
    return request.getfixturevalue(name)


@pytest.fixture
def admin(request: pytest.FixtureRequest) -> UserInfo:
    """An admin in the app's database (password :data:`ADMIN_PASSWORD`)."""
    with app_database(request).write() as session:
        return create_user(session=session, name="ada", role="admin", password=ADMIN_PASSWORD,
                           display_name="Ada Admin", actor=OPERATOR)


@pytest.fixture
def annotator(request: pytest.FixtureRequest, admin: UserInfo) -> UserInfo:
    """The annotator ``ann`` (password :data:`ANNOTATOR_PASSWORD`); an admin exists.

    If an import already created ``ann`` (without a password), that account gets the password.
    """
    with app_database(request).write() as session:
        imported = find_user(session=session, name="ann")
        if imported is not None:
            return set_password(session=session, user_id=imported.id, password=ANNOTATOR_PASSWORD,
                                actor=OPERATOR)
        return create_user(session=session, name="ann", role="annotator",
                           password=ANNOTATOR_PASSWORD, actor=OPERATOR)


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
