"""Several processes benchmark: save & next with ten annotators on PostgreSQL, one app process
reached directly, one behind nginx, and two behind nginx (README, "Running several processes").

Builds a fresh PostgreSQL database (on the server of ``--database``, default
``$DOCKET_TEST_POSTGRES_URL``; dropped at the end) with one ``correctness`` project of
``--items`` items (2 judge verdicts each, ~1 KB of text) and ten annotators with overlap 10,
then for each scenario starts the app processes (``streamlit run app.py``, Docket's settings,
``DOCKET_TIMING_LOG`` set) and, for the proxied ones, nginx from ``deploy/nginx.conf``
(bench/nginx_proxy.py). The ten annotators are the websocket client of bench/st_client.py (as
in bench/annotate_bench.py): each signs in through the scenario's URL, so nginx spreads them
over the processes by their browser cookie, then labels and saves, about once every
``--think-ms`` (0: flat out).

Printed per scenario: the server-side time of save & next (the button's callback to the end of
the panel's drawing, all processes' logs together), the client's round trip, the saves per
second of the whole run, how the annotators were spread, and whether the database holds every
label exactly once. The baseline is the first scenario, one process reached directly, run in
the same invocation: the ratios say what nginx and a second process cost or bring on this
machine. Nothing is asserted. Measured figures: bench/README.md.

    python bench/several_processes_bench.py [--database URL] [--items 1000] [--saves 30]
                                            [--think-ms 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url  # noqa: E402
from sqlalchemy import text as sql  # noqa: E402

from bench.annotate_bench import (  # noqa: E402
    PASSWORD,
    WARMUP_SAVES,
    Server,
    open_ws_annotator,
    percentile,
    start_server,
    stop_server,
    write_items,
    ws_save_and_next,
)
from bench.nginx_proxy import nginx_binary, start_proxy, upstream_of  # noqa: E402
from core.templates import TEMPLATES  # noqa: E402
from storage.annotation_settings import ProjectSettings, set_members, update_settings  # noqa: E402
from storage.authz import OPERATOR  # noqa: E402
from storage.database import Database, normalize_url  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.projects import get_project  # noqa: E402
from storage.queues import rebuild_queues  # noqa: E402
from storage.users import create_user  # noqa: E402

ANNOTATORS = 10
SCENARIOS = (("1 process, direct", 1, False), ("1 process behind nginx", 1, True),
             ("2 processes behind nginx", 2, True))


@dataclass
class Figures:
    """One scenario's figures."""

    name: str
    server_p50: float
    server_p99: float
    client_p50: float
    client_p99: float
    saves_per_s: float
    spread: str
    labels_ok: bool

    def line(self) -> str:
        """One printed line."""
        return (f"{self.name:<26} server p50 {self.server_p50:5.1f} ms  p99 {self.server_p99:6.1f}"
                f" ms   round trip p50 {self.client_p50:5.1f} ms  p99 {self.client_p99:6.1f} ms   "
                f"{self.saves_per_s:5.1f} saves/s   spread {self.spread}   labels "
                f"{'all once' if self.labels_ok else 'LOST OR DOUBLED'}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_database(server_url: str) -> str:
    """Create an empty database on the PostgreSQL server of ``server_url``; return its URL."""
    admin_url = normalize_url(server_url)
    name = f"docket_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sql(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (connected through the server's ``postgres`` database)."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def build(url: str, folder: Path, n_items: int) -> tuple[int, list[str]]:
    """Fill the database: admin, annotators, the project; return its id and the user names."""
    db = Database(url)
    try:
        migrate(db)
        names = [f"bench-ann{i}" for i in range(ANNOTATORS)]
        with db.write() as session:
            create_user(session=session, name="bench-admin", role="admin", password=PASSWORD,
                        actor=OPERATOR)
            users = [create_user(session=session, name=name, role="annotator",
                                 password=PASSWORD, actor=OPERATOR).id for name in names]
        path = folder / "items.jsonl"
        write_items(path, n_items, prefix="m")
        import_file(db, path, project_name="several", schema=TEMPLATES["correctness"],
                    actor=OPERATOR)
        with db.write() as session:
            project_id = get_project(session=session, name="several").id
            update_settings(session=session, project_id=project_id, actor=OPERATOR,
                            settings=ProjectSettings(blind=True, overlap=ANNOTATORS))
            set_members(session=session, project_id=project_id, user_ids=users, actor=OPERATOR)
        rebuild_queues(db, project_id=project_id, actor=OPERATOR)
        return project_id, names
    finally:
        db.dispose()


def reset_labels(url: str) -> None:
    """Start every queue from its beginning again (each scenario measures the same state)."""
    db = Database(url)
    try:
        with db.write() as session:
            session.execute(sql("DELETE FROM annotation"))
            session.execute(sql("DELETE FROM label_draft"))
            session.execute(sql("DELETE FROM audit_log WHERE action = 'revise'"))
            session.execute(sql(
                "UPDATE assignment SET status = 'pending', submitted_at = NULL, comment = NULL, "
                "confidence = NULL, reference_answer = NULL, verdicts_seen = :no "
                "WHERE status <> 'pending' OR verdicts_seen"), {"no": False})
    finally:
        db.dispose()


def count_labels(url: str) -> tuple[int, int]:
    """Return (labels, distinct (item, annotator, dimension) triples) in the database."""
    db = Database(url)
    try:
        with db.read() as session:
            return tuple(session.execute(sql(
                "SELECT COUNT(*), COUNT(DISTINCT (item_id, user_id, dimension)) FROM annotation"))
                .one())
    finally:
        db.dispose()


async def drive(url: str, servers: list[Server], names: list[str], project_id: int, saves: int,
                think_ms: int) -> tuple[list[float], float]:
    """Sign the annotators in through ``url``, warm up, then run ``saves`` saves each; return
    the client round trips and the wall time of the measured part."""
    entry = Server(None, url, servers[0].timing_log)  # open_ws_annotator reads only .url
    clients = await asyncio.gather(*(open_ws_annotator(entry, name, project_id)
                                     for name in names))
    try:
        for _ in range(WARMUP_SAVES):
            await asyncio.gather(*(ws_save_and_next(client) for client in clients))
        for server in servers:
            server.timing_log.write_text("")  # the measured run starts here

        async def loop(client, seed: int) -> list[float]:
            rng = random.Random(seed)
            rounds = []
            for _ in range(saves):
                if think_ms:
                    await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)
                rounds.append((await ws_save_and_next(client)).round_trip_ms)
            return rounds

        start = time.perf_counter()
        rounds = await asyncio.gather(*(loop(client, seed) for seed, client in enumerate(clients)))
        return [ms for client_rounds in rounds for ms in client_rounds], time.perf_counter() - start
    finally:
        await asyncio.gather(*(client.close() for client in clients))


def spread_of(proxy_url: str, servers: list[Server], n: int) -> str:
    """How nginx spreads ``n`` fresh browsers over the processes (a page load each)."""
    import urllib.request

    counts = {int(server.url.rsplit(":", 1)[1]): 0 for server in servers}
    for _ in range(n):
        with urllib.request.urlopen(proxy_url + "/", timeout=10) as response:
            cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie"))
        counts[upstream_of(proxy_url, cookie)] += 1
    return "/".join(str(count) for count in counts.values())


def scenario(name: str, processes: int, proxied: bool, url: str, folder: Path,
             project_id: int, names: list[str], args: argparse.Namespace) -> Figures:
    """Run one scenario; print and return its figures."""
    reset_labels(url)
    servers = []
    proxy = None
    try:
        for index in range(processes):
            own = folder / f"{name.replace(' ', '-')}-{index}"
            own.mkdir()
            servers.append(start_server(url, own, defaults=False))
        entry = servers[0].url
        spread = str(len(names))
        if proxied:
            proxy = start_proxy(folder / f"nginx-{name.replace(' ', '-')}",
                                ports=[int(s.url.rsplit(":", 1)[1]) for s in servers],
                                listen=free_port())
            entry = proxy.url
            spread = spread_of(proxy.url, servers, len(names))
        client, elapsed = asyncio.run(drive(entry, servers, names, project_id, args.saves,
                                            args.think_ms))
    finally:
        if proxy is not None:
            proxy.stop()
        for server in servers:
            stop_server(server)
    timings = [float(ms) for server in servers
               for action, ms in (line.split("\t") for line in
                                  server.timing_log.read_text().splitlines() if line)
               if action == "save_next"]
    labels, distinct = count_labels(url)
    expected = len(names) * (WARMUP_SAVES + args.saves)
    figures = Figures(name, percentile(timings, 0.5), percentile(timings, 0.99),
                      percentile(client, 0.5), percentile(client, 0.99),
                      len(client) / elapsed, spread, labels == distinct == expected)
    print(f"{figures.line()}   [load {os.getloadavg()[0]:.1f}]", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("DOCKET_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL: a fresh database is made on its server "
                             "(default $DOCKET_TEST_POSTGRES_URL)")
    parser.add_argument("--items", type=int, default=1000, help="items in the project")
    parser.add_argument("--saves", type=int, default=30, help="measured saves per annotator")
    parser.add_argument("--think-ms", type=int, default=1000,
                        help="pause of each annotator between saves (random 0.5x-1.5x; "
                             "0 = flat out)")
    args = parser.parse_args(argv)
    if not args.database:
        print("needs --database or DOCKET_TEST_POSTGRES_URL (a PostgreSQL server)")
        return 1
    if nginx_binary() is None:
        print("nginx not found (apt-get install nginx)")
        return 1
    # What deploy/docket@.service sets: nginx's X-Forwarded-For believed, no worker threads.
    os.environ.update({"DOCKET_TRUSTED_PROXIES": "127.0.0.1", "DOCKET_WORKER": "off"})
    folder = Path(tempfile.mkdtemp(prefix="docket-several-bench-"))
    url = create_database(args.database)
    try:
        project_id, names = build(url, folder, args.items)
        pace = f"~{args.think_ms / 1000:g} s apart" if args.think_ms else "flat out"
        print(f"{ANNOTATORS} annotators ({pace}), {args.saves} measured saves each, "
              f"{args.items:,} items, PostgreSQL, {os.cpu_count()} CPUs")
        results = [scenario(name, processes, proxied, url, folder, project_id, names, args)
                   for name, processes, proxied in SCENARIOS]
        base = results[0]
        print(f"\nvs {base.name} (ratio = scenario / baseline; lower is faster):")
        for figures in results[1:]:
            print(f"  {figures.name:<26} server p50 {figures.server_p50 / base.server_p50:4.2f}x"
                  f"  p99 {figures.server_p99 / base.server_p99:4.2f}x   round trip p50 "
                  f"{figures.client_p50 / base.client_p50:4.2f}x  p99 "
                  f"{figures.client_p99 / base.client_p99:4.2f}x   saves/s "
                  f"{figures.saves_per_s / base.saves_per_s:4.2f}x")
    finally:
        drop_database(url)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
