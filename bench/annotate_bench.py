"""Annotation benchmark: server-side latency of "save & next" on a real ``streamlit run``.

Builds one SQLite file with two ``correctness`` projects, one of N items (default 100,000)
and one of 1,000, each with 2 judge verdicts per item and ~1 KB of text, imported with
``storage.importer``. Ten annotators (``bench-ann0`` ..) are members of both with overlap 10,
so every annotator's queue holds the whole project (1.01 M assignment rows in all).

Then starts ``streamlit run app.py`` (sign-in on: ten distinct annotators need ten accounts,
so each session signs in with its own password; ``DOCKET_AUTH=none`` would make them one
user) with ``DOCKET_TIMING_LOG`` set: the annotation panel appends the elapsed time of each
action, measured on the server from the start of the button's callback (the write) to the
end of the panel's drawing (the next item read and sent). That is the figure the goals are
about. Each session first switches the blind project's "then show the judges" to "then go to
the next item", then repeats: label "correct" (shortcut ``1``), save (shortcut ``Enter``).

Drivers (``--driver``):

* ``ws`` (default): :mod:`bench.st_client` speaks Streamlit's websocket protocol (protobuf
  ``BackMsg``/``ForwardMsg`` on ``/_stcore/stream``) like the browser does: it presses the
  label button and the save button (a widget trigger in a fragment run) and waits for the
  run's ``script_finished``. One client costs a few milliseconds of CPU per save, so ten
  annotators do not mean ten Chromiums fighting the server for the CPU. Its round trip (save
  sent to the last message of the run received) is printed next to the server's figures.
* ``browser``: Debian's Chromium driven by Playwright with the keyboard only (``1``, then
  ``Enter``), as a cross-check that the real frontend sees the same app. On a 2-core machine
  the browsers take most of the CPU (load ~8 with ten), which shows in the server's figures.

Scenarios, each after a warm-up whose timings are discarded:

* 1 annotator on the N-item project, then on the 1,000-item project (the ratio shows whether
  the latency depends on the project's size);
* 10 annotators at once on the N-item project, each saving about once a second
  (``--think-ms``);
* the same 1 and 10 annotator runs with Streamlit's defaults (``--runner.postScriptGC true``
  on the command line) as the baseline, in the same process. Docket's own measures stay on
  in both (``gc.freeze()`` after the imports and ``TCP_NODELAY``, components/resources.py),
  so the baseline isolates the one Streamlit setting.

Goals (issue 3): p50 <= 10 ms and p99 <= 25 ms for one annotator; p99 <= 150 ms with ten;
N items vs 1,000 within 1.5x. Figures are printed with "met"/"NOT met", never asserted.

Measured on the 2-core development machine (SQLite, Streamlit 1.67, ``ws`` driver, defaults
above, fresh database; bench/README.md has the table), server side: 1 annotator
p50 4.4 ms, p99 7.7 ms; 1,000 items p50 4.3 ms, p99 7.0 ms (ratios 1.00 / 1.10); 10
annotators p50 6.3 ms, p99 19.2 ms; round trip p50 7 ms alone, 12 ms with ten. Streamlit
defaults: p50 5.4 / p99 11.4 ms alone, p99 19.7 ms with ten (round trip p50 14 and 16 ms).
Runs differ by a few ms (a rerun on a kept database: p50 7.2 ms, p99 12.6 ms alone). Before
the profile behind these figures: p50 12.9 ms server side and a 48 ms round trip, 40 ms of
it Nagle's algorithm waiting for a delayed ACK (components/server_socket.py). ``--driver
browser`` (100 saves, 10 x 20, load 2.4 alone and 8.6 with ten Chromiums on 2 cores): p50
8.8 ms, p99 77 ms alone; p99 183 ms with ten.

    python bench/annotate_bench.py [--items 100000] [--saves 300] [--concurrent-saves 60]
                                   [--driver ws|browser] [--think-ms 1000] [--keep DIR]
                                   [--skip-defaults]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text as sql  # noqa: E402

from bench.st_client import StreamlitClient  # noqa: E402
from core.templates import TEMPLATES  # noqa: E402
from storage.annotation_settings import ProjectSettings, set_members, update_settings  # noqa: E402
from storage.authz import OPERATOR  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.projects import get_project  # noqa: E402
from storage.queues import rebuild_queues  # noqa: E402
from storage.users import create_user  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
PASSWORD = "bench password 1"
DRIVERS = ("ws", "browser")
# Widget keys the websocket driver presses (the browser driver presses the keys 1 and Enter,
# which are these buttons' shortcuts).
SIGN_IN = ("auth.sign_in.submit", "auth.sign_in.name", "auth.sign_in.password")
AFTER_SAVE_KEY = "annotate.after_save"
LABEL_KEY = "annotate.label.correct.0"  # "correct", shortcut 1
SUBMIT_KEY = "annotate.submit"  # "Save & next", shortcut Enter
ANNOTATORS = 10
SMALL_ITEMS = 1_000
WARMUP_SAVES = 5
WORDS = ("the answer names the right entity and date while the response adds context about "
         "the treaty the river the enzyme the statute and the orbit").split()


# --- data ------------------------------------------------------------------------------------

def text(rng: random.Random, chars: int) -> str:
    """Pseudo-text of about ``chars`` characters."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def write_items(path: Path, n_items: int, prefix: str) -> None:
    """Write ``n_items`` correctness items with two judge verdicts each as JSONL."""
    rng = random.Random(n_items)
    with path.open("w", encoding="utf-8") as out:
        for index in range(n_items):
            record = {"id": f"{prefix}{index:06d}", "prompt": text(rng, 200),
                      "response": text(rng, 600), "reference": text(rng, 40),
                      "judges": {"judge-a": {"correct": rng.choice(["correct", "incorrect"]),
                                             "rationale": text(rng, 120)},
                                 "judge-b": {"correct": rng.choice(["correct", "incorrect"]),
                                             "rationale": text(rng, 120)}}}
            out.write(json.dumps(record) + "\n")


def build_database(folder: Path, n_items: int) -> tuple[str, dict[str, int], list[str]]:
    """Create the benchmark database (or reuse the one ``--keep`` left); return its URL, the
    project ids and the user names."""
    url = f"sqlite:///{folder / 'bench.db'}"
    names = [f"bench-ann{i}" for i in range(ANNOTATORS)]
    names_of = {"large": f"bench {n_items:,} items", "small": f"bench {SMALL_ITEMS:,} items"}
    reuse = (folder / "bench.db").is_file()
    db = Database(url)
    if reuse:
        with db.write() as session:
            projects = {label: get_project(session=session, name=name).id
                        for label, name in names_of.items()}
            # Earlier runs labelled items: start every queue from its beginning again, so a
            # kept database neither runs out of items nor measures a different state.
            session.execute(sql("DELETE FROM annotation"))
            session.execute(sql("DELETE FROM audit_log WHERE action = 'revise'"))
            session.execute(sql(
                "UPDATE assignment SET status = 'pending', submitted_at = NULL, comment = NULL, "
                "confidence = NULL, reference_answer = NULL, verdicts_seen = :no "
                "WHERE status <> 'pending' OR verdicts_seen"), {"no": False})
        db.dispose()
        print(f"reusing {folder / 'bench.db'} (labels cleared)")
        return url, projects, names
    migrate(db)
    with db.write() as session:
        # An admin must exist, or the app asks for the first admin instead of signing in.
        create_user(session=session, name="bench-admin", role="admin", password=PASSWORD, actor=OPERATOR)
        users = [create_user(session=session, name=name, role="annotator", password=PASSWORD,
                             actor=OPERATOR).id
                 for name in names]
    projects = {}
    for label, size in (("large", n_items), ("small", SMALL_ITEMS)):
        start = time.perf_counter()
        path = folder / f"{label}.jsonl"
        write_items(path, size, prefix=f"{label[0]}")
        name = names_of[label]
        import_file(db, path, project_name=name, schema=TEMPLATES["correctness"], actor=OPERATOR)
        with db.write() as session:
            project_id = get_project(session=session, name=name).id
            update_settings(session=session, project_id=project_id, actor=OPERATOR,
                            settings=ProjectSettings(blind=True, overlap=ANNOTATORS))
            set_members(session=session, project_id=project_id, user_ids=users, actor=OPERATOR)
        slots = rebuild_queues(db, project_id=project_id, actor=OPERATOR)
        projects[label] = project_id
        print(f"built {name}: {slots:,} queue slots in {time.perf_counter() - start:.1f} s")
    db.dispose()
    return url, projects, names


# --- server ----------------------------------------------------------------------------------

@dataclass
class Server:
    """A running ``streamlit run app.py``."""

    process: subprocess.Popen
    url: str
    timing_log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, folder: Path, *, defaults: bool) -> Server:
    """Start the app; ``defaults`` turns Streamlit's post-run garbage collection back on."""
    port = free_port()
    timing_log = folder / ("timing-defaults.log" if defaults else "timing.log")
    env = {**os.environ, "DOCKET_DATABASE_URL": database_url, "DOCKET_TIMING_LOG": str(timing_log)}
    env.pop("DOCKET_AUTH", None)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.fileWatcherType", "none"]
    if defaults:
        command += ["--runner.postScriptGC", "true"]
    log = (folder / f"server-{port}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return Server(process, url, timing_log)
        except OSError:
            time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"streamlit did not start; see {log.name}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


# --- browser ---------------------------------------------------------------------------------

SETTLED = "() => !document.querySelector('[data-stale=\"true\"]')"


async def settled(page) -> None:
    """Wait until the last run has drawn everything (no element left stale)."""
    await page.wait_for_function(SETTLED)


async def open_annotator(browser, server: Server, name: str, project_id: int):
    """A signed-in page on the Annotate page of ``project_id``, set to go straight on."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = await context.new_page()
    await page.goto(f"{server.url}/Annotate?project={project_id}")
    await page.get_by_role("textbox", name="User name", exact=True).fill(name)
    password = page.get_by_role("textbox", name="Password", exact=True)
    await password.fill(PASSWORD)
    await password.press("Enter")
    await page.locator(".st-key-annotate-submit").wait_for()
    await settled(page)
    toggle = page.locator(".st-key-annotate-after_save button").first
    if "next item" not in await toggle.inner_text():
        await toggle.click()
        await page.get_by_text("then go to the next item").first.wait_for()
        await settled(page)
    return page


async def save_and_next(page) -> float:
    """Label the current item with the keyboard and go on; return the client round trip (ms)."""
    before = page.url
    await page.keyboard.press("1")
    await page.locator('.st-key-annotate-label-correct-0 [data-testid="stBaseButton-primary"]') \
        .wait_for()
    await settled(page)
    start = time.perf_counter()
    await page.keyboard.press("Enter")
    await page.wait_for_function(f"() => location.href !== {json.dumps(before)}")
    await settled(page)
    return (time.perf_counter() - start) * 1000


# --- websocket ------------------------------------------------------------------------------

async def open_ws_annotator(server: Server, name: str, project_id: int) -> StreamlitClient:
    """A signed-in websocket session on the Annotate page of ``project_id``, set to go
    straight on after saving."""
    client = StreamlitClient(server.url, "Annotate", f"project={project_id}")
    await client.connect()
    submit, name_key, password_key = SIGN_IN
    await client.press(submit, {name_key: name, password_key: PASSWORD})
    if "next item" not in client.state.widget(AFTER_SAVE_KEY).label:
        await client.press(AFTER_SAVE_KEY)
    return client


async def ws_save_and_next(client: StreamlitClient) -> float:
    """Label the current item "correct" and save; return the round trip of the save (ms):
    the ``BackMsg`` sent to the run's ``script_finished`` received."""
    before = client.state.query_string
    await client.press(LABEL_KEY)
    result = await client.press(SUBMIT_KEY)
    if client.state.query_string == before:
        raise RuntimeError(f"save & next stayed on {before!r}")
    return result.round_trip_ms


# --- driving ---------------------------------------------------------------------------------

async def measure(server: Server, sessions: list, save, saves: int, think_ms: int
                  ) -> list[float]:
    """Warm up, then run ``saves`` save & next per session, all at once, each pausing about
    ``think_ms`` between saves; return the client round trips."""
    for _ in range(WARMUP_SAVES):
        await asyncio.gather(*(save(session) for session in sessions))
    server.timing_log.write_text("")  # the measured run starts here

    async def loop(session, seed: int) -> list[float]:
        rng = random.Random(seed)
        rounds = []
        for _ in range(saves):
            if think_ms:
                await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)
            rounds.append(await save(session))
        return rounds

    rounds = await asyncio.gather(*(loop(session, seed) for seed, session in enumerate(sessions)))
    return [ms for session_rounds in rounds for ms in session_rounds]


async def drive(server: Server, users: list[str], project_id: int, saves: int,
                think_ms: int, driver: str) -> list[float]:
    """Sign ``users`` in with ``driver`` ("ws" or "browser") and measure; see :func:`measure`."""
    if driver == "ws":
        clients = await asyncio.gather(*(open_ws_annotator(server, name, project_id)
                                         for name in users))
        try:
            return await measure(server, clients, ws_save_and_next, saves, think_ms)
        finally:
            await asyncio.gather(*(client.close() for client in clients))
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = await asyncio.gather(*(open_annotator(browser, server, name, project_id)
                                       for name in users))
        rounds = await measure(server, pages, save_and_next, saves, think_ms)
        await browser.close()
    return rounds


# --- figures ---------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def server_timings(server: Server, action: str = "save_next") -> list[float]:
    rows = (line.split("\t") for line in server.timing_log.read_text().splitlines() if line)
    return [float(ms) for name, ms in rows if name == action]


@dataclass
class Result:
    """Server-side percentiles of one scenario, and the client's round trips."""

    name: str
    p50: float
    p99: float
    n: int
    client_p50: float
    client_p99: float
    driver: str

    def line(self) -> str:
        """One printed line."""
        return (f"{self.name:<40} p50 {self.p50:6.1f} ms   p99 {self.p99:6.1f} ms   "
                f"(n={self.n:,}; {self.driver} round trip p50 {self.client_p50:4.0f} ms, "
                f"p99 {self.client_p99:4.0f} ms)")


def scenario(server: Server, name: str, users: list[str], project_id: int, saves: int, *,
             driver: str, think_ms: int = 0) -> Result:
    """Run one scenario against ``server``; print and return its figures."""
    client = asyncio.run(drive(server, users, project_id, saves, think_ms, driver))
    timings = server_timings(server)
    kept = server.timing_log.with_name(f"{server.timing_log.stem}-{len(users)}-{project_id}.log")
    server.timing_log.replace(kept)  # kept with --keep, for a closer look
    result = Result(name, percentile(timings, 0.5), percentile(timings, 0.99), len(timings),
                    percentile(client, 0.5), percentile(client, 0.99), driver)
    load = os.getloadavg()[0]
    print(f"{result.line()}   [load {load:.1f} on {os.cpu_count()} CPUs]", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="size of the large project")
    parser.add_argument("--saves", type=int, default=300,
                        help="measured saves of the single annotator (default 300)")
    parser.add_argument("--concurrent-saves", type=int, default=60,
                        help="measured saves per annotator with ten at once (default 60)")
    parser.add_argument("--driver", choices=DRIVERS, default="ws",
                        help="ws: Streamlit's websocket protocol, no browser (default); "
                             "browser: headless Chromium via Playwright, as a cross-check")
    parser.add_argument("--keep", type=Path, help="build the database in DIR and keep it")
    parser.add_argument("--skip-defaults", action="store_true",
                        help="skip the baseline with Streamlit's default settings")
    parser.add_argument("--think-ms", type=int, default=1000,
                        help="pause of each of the ten annotators between saves (random 0.5x-1.5x "
                             "of this; default 1000 ms: ten people saving about once a second "
                             "each). 0 = flat out")
    args = parser.parse_args(argv)
    if args.driver == "browser" and not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} not found (apt-get install chromium)")
        return 1
    folder = args.keep or Path(tempfile.mkdtemp(prefix="docket-annotate-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        url, projects, users = build_database(folder, args.items)
        large = f"{args.items:,} items"
        pace = f"~{args.think_ms / 1000:g} s apart" if args.think_ms else "flat out"
        results: dict[str, Result] = {}
        print(f"driver: {args.driver}")
        for defaults in (False, True) if not args.skip_defaults else (False,):
            server = start_server(url, folder, defaults=defaults)
            setting = "Streamlit defaults" if defaults else "Docket settings"
            print(f"\n{setting} (runner.postScriptGC = {str(defaults).lower()}):")
            try:
                key = "defaults" if defaults else "tuned"
                results[f"{key} 1"] = scenario(server, f"1 annotator, {large}", users[:1],
                                               projects["large"], args.saves, driver=args.driver)
                if not defaults:
                    results["tuned small"] = scenario(
                        server, f"1 annotator, {SMALL_ITEMS:,} items", users[:1],
                        projects["small"], args.saves, driver=args.driver)
                results[f"{key} 10"] = scenario(server, f"10 annotators ({pace}), {large}", users,
                                                projects["large"], args.concurrent_saves,
                                                driver=args.driver, think_ms=args.think_ms)
            finally:
                stop_server(server)
        _summary(results, args.items)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT met"


def _summary(results: dict[str, Result], n_items: int) -> None:
    one, ten, small = results["tuned 1"], results["tuned 10"], results["tuned small"]
    ratio50, ratio99 = one.p50 / small.p50, one.p99 / small.p99
    print("\nGoals (issue 3), server side (printed, not asserted):")
    print(f"  1 annotator   p50 {one.p50:5.1f} ms (goal <= 10: {_verdict(one.p50, 10)})   "
          f"p99 {one.p99:5.1f} ms (goal <= 25: {_verdict(one.p99, 25)})")
    print(f"  10 annotators p99 {ten.p99:5.1f} ms (goal <= 150: {_verdict(ten.p99, 150)})")
    print(f"  {n_items:,} vs {SMALL_ITEMS:,} items: p50 ratio {ratio50:.2f}, p99 ratio "
          f"{ratio99:.2f} (goal within 1.5x: {_verdict(max(ratio50, ratio99), 1.5)})")
    if "defaults 1" in results:
        base1, base10 = results["defaults 1"], results["defaults 10"]
        print("  vs Streamlit defaults (server side, baseline -> Docket, baseline / Docket):")
        for label, base, tuned in (("1 annotator  ", base1, one), ("10 annotators", base10, ten)):
            print(f"    {label} p50 {base.p50:6.1f} -> {tuned.p50:5.1f} ms "
                  f"({base.p50 / tuned.p50:4.1f}x)   p99 {base.p99:6.1f} -> {tuned.p99:5.1f} ms "
                  f"({base.p99 / tuned.p99:4.1f}x)   {tuned.driver} round trip p50 "
                  f"{base.client_p50:.0f} -> {tuned.client_p50:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
