"""Several app processes on one PostgreSQL behind Debian's nginx (issue 17, item 4).

Two ``streamlit run app.py`` processes on two ports serve one fresh PostgreSQL database, with
nginx in front run from the repository's own ``deploy/nginx.conf`` (ports substituted, plus a
response header naming the process that answered, so the test knows where each browser went).
The browsers are the benchmark's websocket client (bench/st_client.py): ten annotators spread
over both processes save labels at once, and none is lost or doubled; a session signed in
through one process opens signed in on the other; a deactivation made on one process signs
the user out on the other at their next click; failed sign-ins through one process lock the
(user, client) pair on the other, the client read from nginx's ``X-Forwarded-For``.

Needs nginx (``.ci/run`` installs Debian's) and PostgreSQL (``DOCKET_TEST_POSTGRES_URL``);
without them it skips with the reason, and fails under ``DOCKET_CI=1``.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from bench.nginx_proxy import UPSTREAM_HEADER, nginx_binary, start_proxy
from bench.nginx_proxy import upstream_of as proxy_upstream
from bench.st_client import ClientError, StreamlitClient, text_value
from components.auth import SESSION_ENDED
from components.browser import BROWSER_COOKIE, SESSION_COOKIE
from storage.annotation_settings import ProjectSettings
from storage.authz import OPERATOR
from storage.database import Database
from storage.migrations import migrate
from storage.sign_in import PAIR_FREE_FAILURES, SIGN_IN_FAILED
from storage.users import create_user, find_user
from tests.app.annotate_helpers import make_annotation_project, quiz_records
from tests.conftest import fresh_postgres_database, skip_or_fail
from tests.e2e.conftest import ADMIN_NAME, ADMIN_PASSWORD, DocketServer, _free_port, running_server

log = logging.getLogger(__name__)
pytestmark = pytest.mark.browser  # real servers, like the browser tests (mandatory in CI)

PASSWORD = "several processes password"
ANNOTATORS = [f"multi-ann{i}" for i in range(10)]
SAVES = 4  # labels each annotator saves
ITEMS = 12
SIGN_IN = ("auth.sign_in.submit", "auth.sign_in.name", "auth.sign_in.password")
LABEL_KEY = "annotate.label.correct.0"
SUBMIT_KEY = "annotate.submit"
TICKET = re.compile(r'body: "([A-Za-z0-9_-]+)"')


@dataclass(frozen=True)
class Cluster:
    """Two app processes, nginx in front, the project they annotate."""

    servers: tuple[DocketServer, DocketServer]
    proxy_url: str
    database_url: str
    project_id: int
    access_log: Path


def require_nginx() -> None:
    """Skips (fails in CI) when Debian's nginx is not installed."""
    if nginx_binary() is None:
        skip_or_fail("nginx not found (apt-get install nginx; .ci/run installs it)")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this module's own (the servers keep it open; other
    tests drop and recreate their own schemas), dropped at the end."""
    with fresh_postgres_database("docket_multi_") as url:
        yield url


def _prepare(database_url: str, folder: Path) -> int:
    db = Database(database_url)
    try:
        migrate(db)
        with db.write() as session:
            create_user(session=session, name=ADMIN_NAME, role="admin", password=ADMIN_PASSWORD,
                        actor=OPERATOR)
            users = [create_user(session=session, name=name, role="annotator", password=PASSWORD,
                                 actor=OPERATOR)
                     for name in [*ANNOTATORS, "multi-roamer", "multi-leaver"]]
        # Overlap 10 (the most): the annotators' queues share most items, so several write
        # the same item at the same moment.
        return make_annotation_project(db, folder, users, records=quiz_records(ITEMS),
                                       name="multi", settings=ProjectSettings(
                                           blind=True, overlap=len(ANNOTATORS)))
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_url) -> Iterator[Cluster]:
    """Two app processes on one PostgreSQL database, and nginx in front of them."""
    require_nginx()
    folder = tmp_path_factory.mktemp("several")
    project_id = _prepare(postgres_url, folder)
    env = {"DOCKET_TRUSTED_PROXIES": "127.0.0.1", "DOCKET_WORKER": "off"}
    with ExitStack() as stack:
        servers = tuple(stack.enter_context(running_server(
            tmp_path_factory.mktemp(f"process{i}"), env=env, database_url=postgres_url))
            for i in range(2))
        proxy = start_proxy(folder / "nginx", ports=[s.port for s in servers],
                            listen=_free_port())
        try:
            yield Cluster(servers, proxy.url, postgres_url, project_id, proxy.access_log)
        finally:
            proxy.stop()


# --- helpers ---------------------------------------------------------------------------------

def upstream_of(cluster: Cluster, browser: str) -> int:
    """The port of the process nginx sends the browser holding cookie ``browser`` to."""
    return proxy_upstream(cluster.proxy_url, f"{BROWSER_COOKIE}={browser}")


def browsers_for(cluster: Cluster, ports: list[int]) -> list[str]:
    """Random browser cookies that nginx routes to ``ports``, one per entry, in order."""
    wanted = list(ports)
    found: list[str | None] = [None] * len(wanted)
    for _ in range(200):
        if all(found):
            break
        candidate = secrets.token_urlsafe(32)
        port = upstream_of(cluster, candidate)
        for index, (want, have) in enumerate(zip(wanted, found, strict=True)):
            if want == port and have is None:
                found[index] = candidate
                break
    assert all(found), "nginx sent 200 random browsers to one process only"
    return [value for value in found if value is not None]


def run(coroutine):
    # In a thread of its own: Playwright's sync API (other browser tests) may run a loop here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def client(base_url: str, project_id: int, cookies: dict[str, str]) -> StreamlitClient:
    """A websocket client on the Annotate page that presents ``cookies`` like a browser."""
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return StreamlitClient(base_url, "Annotate", f"project={project_id}",
                           headers={"Cookie": header})


async def sign_in(annotator: StreamlitClient, name: str) -> None:
    await annotator.connect()
    submit, name_key, password_key = SIGN_IN
    await annotator.press(submit, {name_key: name, password_key: PASSWORD})
    if "next item" not in annotator.state.widget("annotate.after_save").label:
        await annotator.press("annotate.after_save")


async def annotate(annotator: StreamlitClient, name: str, saves: int) -> list[str]:
    """Sign in, save ``saves`` labels; return the items saved, in order."""
    try:
        await sign_in(annotator, name)
        saved = []
        for _ in range(saves):
            item = re.search(r"item=([^&]+)", annotator.state.query_string).group(1)
            await annotator.press(LABEL_KEY)
            await annotator.press(SUBMIT_KEY)
            saved.append(item)
        return saved
    finally:
        await annotator.close()


def post(url: str, path: str, body: str, cookie: str) -> http.client.HTTPResponse:
    parts = urllib.request.urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("POST", path, body=body.encode(), headers={"Cookie": cookie,
                                                                 "Content-Type": "text/plain"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


# --- tests -----------------------------------------------------------------------------------

def test_ten_annotators_over_two_processes_lose_and_double_no_label(cluster):
    ports = [server.port for server in cluster.servers]
    browsers = browsers_for(cluster, [ports[i % 2] for i in range(len(ANNOTATORS))])

    async def everyone() -> list[list[str]]:
        return await asyncio.gather(*(
            annotate(client(cluster.proxy_url, cluster.project_id, {BROWSER_COOKIE: browser}),
                     name, SAVES)
            for name, browser in zip(ANNOTATORS, browsers, strict=True)))

    start = time.perf_counter()
    saved = run(everyone())
    elapsed = time.perf_counter() - start
    expected = {(name, item) for name, items in zip(ANNOTATORS, saved, strict=True)
                for item in items}
    assert all(len(items) == SAVES for items in saved)
    assert len(expected) == len(ANNOTATORS) * SAVES  # each save went on to a new item

    with Database(cluster.database_url).read() as session:
        rows = session.execute(text(
            "SELECT u.name, i.external_id, a.dimension, a.label FROM annotation a "
            "JOIN user_account u ON u.id = a.user_id JOIN item i ON i.id = a.item_id "
            "WHERE i.project_id = :project AND u.name LIKE 'multi-ann%'"),
            {"project": cluster.project_id}).all()
        done = session.execute(text(
            "SELECT COUNT(*) FROM assignment s JOIN user_account u ON u.id = s.user_id "
            "WHERE s.project_id = :project AND s.status = 'done' AND u.name LIKE 'multi-ann%'"),
            {"project": cluster.project_id}).scalar_one()
    assert len(rows) == len(ANNOTATORS) * SAVES, "labels lost or doubled"
    assert {(name, item) for name, item, _, _ in rows} == expected
    assert {(dimension, label) for _, _, dimension, label in rows} == {("correct", "correct")}
    assert done == len(ANNOTATORS) * SAVES
    # Both processes carried websockets of annotators (nginx's log names the upstream).
    upstreams = re.findall(r'"GET /_stcore/stream HTTP/1\.1" 101 upstream=127\.0\.0\.1:(\d+)',
                           cluster.access_log.read_text())
    assert {int(port) for port in upstreams} == set(ports)
    log.info("10 annotators x %d saves over 2 processes through nginx: %.1f s (sign-in "
             "included)", SAVES, elapsed)


def test_a_session_signed_in_on_one_process_opens_signed_in_on_the_other(cluster):
    first, second = cluster.servers
    browser = browsers_for(cluster, [first.port])[0]

    async def open_page(base_url: str, cookies: dict[str, str]) -> set[str]:
        visitor = client(base_url, cluster.project_id, cookies)
        try:
            await visitor.connect()
            return set(visitor.state.drawn)
        finally:
            await visitor.close()

    ticket = run(_sign_in_for_ticket(cluster, browser))
    response = post(cluster.proxy_url, "/_docket/session", ticket,
                    f"{BROWSER_COOKIE}={browser}")
    assert response.status == 204
    assert int(response.getheader(UPSTREAM_HEADER).rsplit(":", 1)[1]) == first.port
    cookie = re.match(rf"{SESSION_COOKIE}=([^;]+);", response.getheader("Set-Cookie")).group(1)

    on_second = run(open_page(second.url, {BROWSER_COOKIE: browser, SESSION_COOKIE: cookie}))
    assert SUBMIT_KEY in on_second and SIGN_IN[0] not in on_second
    # The control: the same browser without the session cookie gets the sign-in form there.
    without = run(open_page(second.url, {BROWSER_COOKIE: browser}))
    assert SIGN_IN[0] in without and SUBMIT_KEY not in without


async def _sign_in_for_ticket(cluster: Cluster, browser: str) -> str:
    """Sign ``multi-roamer`` in through nginx; return the ticket of the exchange script that
    the run drew (what the browser would post to /_docket/session)."""
    roamer = client(cluster.proxy_url, cluster.project_id, {BROWSER_COOKIE: browser})
    try:
        await roamer.connect()
        submit, name_key, password_key = SIGN_IN
        await roamer.press(submit, {name_key: "multi-roamer", password_key: PASSWORD})
        tickets = [found.group(1) for body in roamer.state.html
                   if (found := TICKET.search(body)) and "/_docket/session" in body]
        assert len(tickets) == 1, roamer.state.html
        return tickets[0]
    finally:
        await roamer.close()


def test_a_deactivation_on_one_process_signs_the_user_out_on_the_other(cluster):
    first, second = cluster.servers
    admin_browser, leaver_browser = browsers_for(cluster, [first.port, second.port])

    async def scenario() -> tuple[str, list[str]]:
        leaver = client(cluster.proxy_url, cluster.project_id, {BROWSER_COOKIE: leaver_browser})
        admin = StreamlitClient(cluster.proxy_url, "Users",
                                headers={"Cookie": f"{BROWSER_COOKIE}={admin_browser}"})
        try:
            await sign_in(leaver, "multi-leaver")
            await leaver.press(LABEL_KEY)  # works while the account is active
            await admin.connect()
            submit, name_key, password_key = SIGN_IN
            await admin.press(submit, {name_key: ADMIN_NAME, password_key: ADMIN_PASSWORD})
            pick = admin.state.widget("users.pick")
            await admin.send(admin.state.rerun(
                [text_value(pick.element_id, "multi-leaver (annotator)")]))
            assert admin.state.widget("users.toggle_active").label == "Deactivate"
            await admin.press("users.toggle_active")
            try:
                await leaver.press(SUBMIT_KEY)
            except ClientError as exc:
                return str(exc), sorted(leaver.state.drawn)
            return "", sorted(leaver.state.drawn)
        finally:
            await asyncio.gather(leaver.close(), admin.close())

    message, drawn = run(scenario())
    assert SESSION_ENDED in message
    assert SIGN_IN[0] in drawn and SUBMIT_KEY not in drawn
    with Database(cluster.database_url).read() as session:
        leaver = find_user(session=session, name="multi-leaver")
        assert not leaver.active
        saved = session.execute(text("SELECT COUNT(*) FROM annotation WHERE user_id = :user"),
                                {"user": leaver.id}).scalar_one()
    assert saved == 0  # the click after the deactivation saved nothing


def test_failed_sign_ins_through_one_process_lock_the_pair_on_the_other(cluster):
    first, second = cluster.servers
    browser_first, browser_second, browser_elsewhere = browsers_for(
        cluster, [first.port, second.port, second.port])

    async def attempt(browser: str, client_address: str, password: str) -> list[str]:
        """One sign-in of ``multi-ann0`` through nginx; return the errors it drew."""
        visitor = StreamlitClient(cluster.proxy_url, "Annotate", headers={
            "Cookie": f"{BROWSER_COOKIE}={browser}", "X-Forwarded-For": client_address})
        try:
            await visitor.connect()
            submit, name_key, password_key = SIGN_IN
            try:
                await visitor.press(submit, {name_key: "multi-ann0", password_key: password})
            except ClientError:
                return list(visitor.state.errors)
            return []
        finally:
            await visitor.close()

    async def scenario() -> tuple[list[list[str]], list[str], list[str]]:
        wrong = [await attempt(browser_first, "203.0.113.9", "not the password")
                 for _ in range(PAIR_FREE_FAILURES + 1)]
        locked = await attempt(browser_second, "203.0.113.9", PASSWORD)
        elsewhere = await attempt(browser_elsewhere, "203.0.113.10", PASSWORD)
        return wrong, locked, elsewhere

    wrong, locked, elsewhere = run(scenario())
    assert all(errors == [SIGN_IN_FAILED] for errors in wrong)
    # The right password, through the other process from the same client: still locked.
    assert len(locked) == 1 and locked[0].startswith("Too many failed sign-ins")
    assert elsewhere == []  # failures from one client never lock the user out elsewhere


def test_every_request_of_one_browser_reaches_one_process(cluster):
    # The upload and download endpoints live in the memory of the process holding the
    # browser's Streamlit session: each browser must stick to one process for every path.
    for browser in browsers_for(cluster, [server.port for server in cluster.servers]):
        seen = set()
        for path in ("/", "/Annotate?project=1", "/_stcore/health", "/_stcore/host-config"):
            request = urllib.request.Request(cluster.proxy_url + path,
                                             headers={"Cookie": f"{BROWSER_COOKIE}={browser}"})
            for _ in range(3):
                with urllib.request.urlopen(request, timeout=10) as response:
                    seen.add(response.headers[UPSTREAM_HEADER])
        assert len(seen) == 1, seen
