"""HTTP API benchmark: one streamed import request vs ``cli.py import`` of the same file, and
the metrics document's warm latency.

1. Import: N items (default 20,000) with 5 judge verdicts each (and two human labels on every
   fifth item), about 1 KB of text per item, as JSONL. ``api`` POSTs the file in one request
   (``Content-Length``, sent in 64 KB blocks from the file) to ``/api/v1/projects/bench/import``
   on a uvicorn server running the API's routes (:func:`components.api_routes.api_routes`, the
   same routes ``streamlit run app.py`` serves) in a thread of this process; the clock runs
   from the first byte sent to the answer received. The baseline is ``cli.main(["import",
   ...])`` of the same file in this process. Each run writes into an empty database: a new
   SQLite file, or with ``--database-url postgresql://...`` a throw-away database created on
   that server (emptied before each run, dropped at the end); runs alternate, best of
   ``--repeat``. Goal: api ≤ 1.3× cli.
2. Metrics: ``GET /api/v1/projects/bench/metrics`` (1,000 bootstrap resamples, as the CLI's
   default) once cold, then ``--requests`` times warm (the document kept per process until the
   project's data change); beside it the same document computed without the cache
   (:func:`storage.metrics_document.metrics_document`, what ``cli.py metrics --json`` does).
   Goal: warm ≤ 150 ms (median).

    python bench/api_bench.py [--items 20000] [--repeat 3] [--requests 20]
                              [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

import cli
from bench.import_bench import JUDGES, sentence
from components.api_routes import api_routes
from storage.api_tokens import create_token
from storage.authz import OPERATOR
from storage.database import Database, normalize_url
from storage.metrics_document import MetricsRequest, metrics_document
from storage.migrations import migrate
from storage.users import create_user

IMPORT_GOAL = 1.3
METRICS_GOAL_MS = 150.0
BLOCK = 64 * 1024
HUMANS = ("maria", "li.wei")


def generate(path: Path, n_items: int, *, seed: int = 11) -> int:
    """Write ``n_items`` correctness items with 5 verdicts each (two human labels on every
    fifth item) as JSONL; return the file's size."""
    rng = random.Random(seed)
    labels = ("correct", "incorrect")
    with path.open("w", encoding="utf-8") as out:
        for index in range(n_items):
            record: dict[str, Any] = {
                "id": f"item-{index:06d}", "prompt": sentence(rng, 200),
                "response": sentence(rng, 500), "reference": sentence(rng, 30),
                "model": f"model-{index % 9}", "group": f"topic-{index % 12}",
                "judges": {judge: {"correct": rng.choice(labels), "rationale": sentence(rng, 50)}
                           for judge in JUDGES}}
            if index % 5 == 0:
                record["humans"] = {human: {"correct": rng.choice(labels)} for human in HUMANS}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


class Served:
    """The API's routes on uvicorn in a thread; ``db`` is the database they serve (settable)."""

    def __init__(self) -> None:
        self.db: Database | None = None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = Starlette(routes=api_routes(lambda: self.db))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def request(self, method: str, path: str, token: str, *, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; return the status and the body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.blocksize = BLOCK
        try:
            connection.request(method, path, body=body, headers={
                "Authorization": f"Bearer {token}", **(headers or {})})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()


@contextlib.contextmanager
def bench_postgres(server_url: str) -> Iterator[str]:
    """A throw-away database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    admin_url = normalize_url(server_url)
    name = f"docket_api_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh(url: str | None, folder: Path, name: str) -> tuple[Database, str]:
    """A migrated empty database (a new SQLite file, or the PostgreSQL database at ``url``
    emptied) with an admin; return it and the admin's API token."""
    db = Database(url or f"sqlite:///{folder / name}")
    if url:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate(db)
    with db.write() as session:
        admin = create_user(session=session, name=f"bench-{name}", role="admin", password=None,
                            actor=OPERATOR)
        token = create_token(session=session, user_id=admin.id, name="bench", actor=OPERATOR)
    return db, token.secret


def settle(db: Database) -> None:
    """Wait for SQLite's background checkpoint of the last import (both paths have one)."""
    if getattr(db, "last_checkpoint", None) is not None:
        db.last_checkpoint.result()


def run_cli(db: Database, path: Path, project: str) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its summary line
        code = cli.main(["--database", db.url, "import", str(path), "--project", project,
                         "--task", "correctness"])
    elapsed = time.perf_counter() - start
    assert code == 0, code
    return elapsed


def run_api(served: Served, db: Database, token: str, path: Path, project: str) -> float:
    served.db = db
    with path.open("rb") as body:
        start = time.perf_counter()
        status, answer = served.request(
            "POST", f"/api/v1/projects/{project}/import?task=correctness", token, body=body,
            headers={"Content-Type": "application/x-ndjson",
                     "Content-Length": str(path.stat().st_size)})
        elapsed = time.perf_counter() - start
    assert status == 200, answer[:500]
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each import (best shown)")
    parser.add_argument("--requests", type=int, default=20, help="warm metrics requests")
    parser.add_argument("--database-url", help="a PostgreSQL server's URL (default: SQLite "
                                               "files); a throw-away database is made there")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        database_url = (stack.enter_context(bench_postgres(args.database_url))
                        if args.database_url else None)
        return run(args, database_url, Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="docket-api-bench-"))))


def run(args: argparse.Namespace, database_url: str | None, folder: Path) -> int:
    """Both measurements; ``database_url`` a throw-away PostgreSQL database, or None (SQLite)."""
    with Served() as served:
        path = folder / "items.jsonl"
        size = generate(path, args.items)
        print(f"file: {args.items:,} items, {args.items * len(JUDGES):,} verdicts, "
              f"{2 * len(range(0, args.items, 5)):,} human labels, {size / 1e6:.1f} MB JSONL; "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}; best of {args.repeat}")
        cli_times, api_times = [], []
        db = token = None
        project = "bench"
        for attempt in range(args.repeat):
            db, _ = fresh(database_url, folder, f"cli-{attempt}.db")
            cli_times.append(run_cli(db, path, project))
            settle(db)
            db.dispose()
            db, token = fresh(database_url, folder, f"api-{attempt}.db")
            api_times.append(run_api(served, db, token, path, project))
            settle(db)
            if attempt < args.repeat - 1:
                db.dispose()
        ratio = min(api_times) / min(cli_times)
        rows = args.items * (1 + len(JUDGES))
        print(f"cli import : {min(cli_times):6.2f} s  (median {statistics.median(cli_times):.2f} s;"
              f" {rows / min(cli_times):,.0f} rows/s)")
        print(f"api import : {min(api_times):6.2f} s  (median {statistics.median(api_times):.2f} s;"
              f" one streamed request)")
        median_ratio = statistics.median(api_times) / statistics.median(cli_times)
        print(f"ratio      : {ratio:6.2f}x cli, best to best; {median_ratio:.2f}x median to "
              f"median  (goal <= {IMPORT_GOAL}x: {'met' if ratio <= IMPORT_GOAL else 'NOT met'})")

        assert db is not None and token is not None
        url = f"/api/v1/projects/{project}/metrics"
        start = time.perf_counter()
        status, body = served.request("GET", url, token)
        cold = time.perf_counter() - start
        assert status == 200, body[:500]
        warm = []
        for _ in range(args.requests):
            start = time.perf_counter()
            status, again = served.request("GET", url, token)
            warm.append(time.perf_counter() - start)
            assert status == 200 and again == body
        computes = []
        for _ in range(3):
            start = time.perf_counter()
            metrics_document(db, project_name=project, request=MetricsRequest(), actor=OPERATOR)
            computes.append(time.perf_counter() - start)
        median_ms = statistics.median(warm) * 1000
        print(f"metrics    : cold {cold * 1000:6.0f} ms; warm median {median_ms:.1f} ms, "
              f"max {max(warm) * 1000:.1f} ms over {args.requests} requests (goal <= "
              f"{METRICS_GOAL_MS:.0f} ms: {'met' if median_ms <= METRICS_GOAL_MS else 'NOT met'})")
        print(f"baseline   : the document computed without the cache (as cli.py metrics --json) "
              f"{min(computes) * 1000:.0f} ms (best of 3)")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
