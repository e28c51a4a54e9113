"""Dashboard and Disagreements render time on a large project (Streamlit AppTest, SQLite).

Builds a ``correctness`` project of N items (default 100,000) x 5 judges x 3 humans (the
same generator as ``metrics_bench.py``), signs in an admin and runs the real page scripts:

* ``cold``: empty Streamlit caches (engine, labels, results) — the first visit after a start
  or after a new label anywhere (the data version changed);
* ``warm``: the same page again (a click that changes nothing: the data version query plus
  cache hits);
* ``new filter``: the labels are cached, the comparison is computed for another filter.

Times are wall time of ``AppTest.run`` (script and Streamlit's element building; no browser).

    python bench/dashboard_bench.py [--items 100000] [--database sqlite:///path.db]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import streamlit as st  # noqa: E402
from metrics_bench import write_items  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from components.auth import session_entries  # noqa: E402
from core.templates import TEMPLATES  # noqa: E402
from storage.authz import OPERATOR  # noqa: E402
from storage.database import Database, database_url_from_env  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.projects import find_project  # noqa: E402
from storage.users import UserInfo, create_user, find_user  # noqa: E402
from storage.web_sessions import start_session  # noqa: E402

PAGES = {"dashboard": ("pages/5_Dashboard.py", "dashboard.project"),
         "disagreements": ("pages/6_Disagreements.py", "disagreements.project")}


def prepare(url: str, n_items: int, folder: Path) -> UserInfo:
    """The project ``bench`` (imported unless it exists) and an admin to sign in as."""
    db = Database(url)
    try:
        migrate(db)
        with db.read() as session:
            exists = find_project(session=session, name="bench") is not None
        if not exists:
            path = folder / "items.jsonl"
            write_items(path, n_items, 200)
            start = time.perf_counter()
            import_file(db, path, project_name="bench", schema=TEMPLATES["correctness"], actor=OPERATOR)
            print(f"(setup: import of {n_items:,} items took {time.perf_counter() - start:.1f} s)")
        with db.write() as session:
            return (find_user(session=session, name="bench-admin")
                    or create_user(session=session, name="bench-admin", role="admin",
                                   password="bench admin password", actor=OPERATOR))
    finally:
        db.dispose()


def page_run(path: str, param: str, user: UserInfo) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    db = Database(database_url_from_env())  # the page's database: sign in there
    try:
        web_session = start_session(db, actor=user, browser="").session_id
    finally:
        db.dispose()
    for key, value in session_entries(user, web_session).items():
        at.session_state[key] = value
    at.query_params[param] = "bench"
    at.switch_page(path)
    return at


def timed(run) -> float:
    start = time.perf_counter()
    at = run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database", help="reuse this database (the project 'bench' is kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docket-dashboard-bench-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        os.environ["DOCKET_DATABASE_URL"] = url
        os.environ.pop("DOCKET_AUTH", None)
        user = prepare(url, args.items, Path(tmp))
        # Import the pages' modules first: a server does that once per process, not per visit.
        import components.dashboard_view
        import components.disagreements_view  # noqa: F401
        print(f"{args.items:,} items x 5 judges x 3 humans, SQLite, AppTest wall time")
        for name, (path, param) in PAGES.items():
            st.cache_data.clear()
            st.cache_resource.clear()
            at = page_run(path, param, user)
            cold = timed(at.run)
            warm = min(timed(at.run) for _ in range(3))
            line = f"  {name:<14} cold {cold * 1e3:7.0f} ms   warm {warm * 1e3:6.0f} ms"
            if name == "dashboard":
                with Database(url).read() as session:
                    pid = find_project(session=session, name="bench").id
                at.number_input(key=f"dashboard.filter.{pid}.min_humans").set_value(3)
                at.button(key=f"dashboard.apply.{pid}").click()
                line += f"   new filter {timed(at.run) * 1e3:6.0f} ms"
            print(line)
        st.cache_resource.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
