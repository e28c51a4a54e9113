"""A real Docket server (``streamlit run app.py``) and Debian's Chromium driven by Playwright.

Never runs ``playwright install``: the browser is the system's /usr/bin/chromium. Without it
the tests skip (and fail in CI, see ``skip_or_fail``).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.annotation_settings import set_members
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.migrations import migrate
from storage.projects import get_project
from storage.queues import rebuild_queues
from storage.users import create_user, find_user
from tests.conftest import REPO_ROOT, skip_or_fail

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
STARTUP_TIMEOUT_S = 60
ADMIN_NAME = "e2e-admin"
ADMIN_PASSWORD = "e2e admin password"


@dataclass(frozen=True)
class DocketServer:
    """A running server: its base URL, the database URL it writes to, an admin's credentials."""

    url: str
    database_url: str
    port: int = 0
    admin_name: str = ADMIN_NAME
    admin_password: str = ADMIN_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not become healthy in {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; skips (fails in CI) when it is not installed."""
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    return CHROMIUM


@contextmanager
def running_server(folder: Path, *, address: str | None = "127.0.0.1",
                   env: Mapping[str, str] | None = None,
                   database_url: str | None = None) -> Iterator[DocketServer]:
    """``streamlit run app.py`` on a free port with a fresh SQLite database in ``folder``.

    The database holds one admin (:data:`ADMIN_NAME`), created as ``cli.py create-user`` would.
    ``address`` None leaves ``server.address`` to ``.streamlit/config.toml``; ``env`` adds
    environment variables. ``database_url``: serve this database instead, as the caller
    prepared it (migrated, with its admin); several servers may share one. The server's
    output goes to ``folder / "streamlit.log"``.
    """
    if database_url is None:
        database_url = f"sqlite:///{folder / 'e2e.db'}"
        db = Database(database_url)
        try:
            migrate(db)
            with db.write() as session:
                create_user(session=session, name=ADMIN_NAME, role="admin",
                            password=ADMIN_PASSWORD, actor=OPERATOR)
        finally:
            db.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DOCKET_DATABASE_URL": database_url, **(env or {})}
    env.pop("DOCKET_AUTH", None)  # sign-in on, whatever the environment says
    log_path = folder / "streamlit.log"
    bind = ["--server.address", address] if address is not None else []
    with log_path.open("wb") as server_log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), *bind, "--server.fileWatcherType", "none"],
            cwd=REPO_ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log_path)
        yield DocketServer(url, database_url, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("streamlit log:\n%s", log_path.read_text())


@pytest.fixture(scope="session")
def docket_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
                  ) -> Iterator[DocketServer]:
    """A server for the whole session (see :func:`running_server`); stopped at the end."""
    with running_server(tmp_path_factory.mktemp("e2e")) as server:
        yield server


@pytest.fixture(scope="module")
def own_docket_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
                      ) -> Iterator[DocketServer]:
    """A server with its own database for one test module, so what its tests write (projects,
    users) cannot change what the shared server's tests see."""
    with running_server(tmp_path_factory.mktemp("e2e-own")) as server:
        yield server


def load_demo_for_admin(server: DocketServer, project: str) -> DocketServer:
    """Load the demo projects into ``server``'s database and make its admin the only
    annotator of ``project`` (so the Annotate page opens it); return the server."""
    db = Database(server.database_url)
    try:
        load_demo(db, actor=OPERATOR)
        with db.write() as session:
            project_id = get_project(session=session, name=project).id
            admin = find_user(session=session, name=server.admin_name)
            set_members(session=session, project_id=project_id, user_ids=[admin.id],
                        actor=OPERATOR)
        rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    finally:
        db.dispose()
    return server


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    """A headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (own cookies, so a new Streamlit session) per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def demo_server(own_docket_server: DocketServer) -> DocketServer:
    """A server of the module's own with the demo projects loaded."""
    db = Database(own_docket_server.database_url)
    try:
        load_demo(db, actor=OPERATOR)
    finally:
        db.dispose()
    return own_docket_server
