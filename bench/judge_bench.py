"""Judge-run benchmark: Docket's judge calls vs a bare ``openai`` client loop, same server.

The server is ``tests/judges/fake_openai.py`` in a child process on 127.0.0.1, answering at
once (so the figures measure the client side, not a model). In this process, N calls (default
10,000) with concurrency C (default 64) on ``correctness`` items, each ~600 characters:

* ``docket``: ``core.judges.runner.run_calls`` with ``JudgeClient.call``: requests generated
  lazily, the prompt rendered per call (rationale strategy, reference-guided), the JSON-schema
  ``response_format``, the strict verdict parse, progress snapshots, and results handed to a
  callback that keeps them in batches of 500 (as a storage writer would) and drops each batch;
* ``bare``: ``openai.AsyncOpenAI`` (same settings: retries off) and ``chat.completions.create``
  in C worker tasks over the same messages rendered beforehand, keeping only the content text
  (C workers rather than a semaphore over N tasks: the faster loop, so the stricter baseline).
  The goal's baseline.
* ``post``: the same loop on the HTTP path Docket takes, ``client.post("/chat/completions",
  cast_to=bytes)`` and ``json.loads`` (openai's documented way to send a body as
  given, skipping ``create``'s parameter transform and pydantic model): what is left between
  it and ``docket`` is Docket's own work per call.
* ``end to end``: what a worker does, on a SQLite file: N items imported beforehand (not
  timed), then ``storage.judge_runs.enqueue_run`` and ``execute_run`` timed together: reading
  the items and working out what is missing, the calls as above, every verdict written with
  its provenance in batches (``ON CONFLICT DO NOTHING``), the run's counters and heartbeat.

Each is run ``--repeat`` times (default 2), alternating, best time kept. Printed: verdicts/s,
the per-call time of each and Docket's overhead (the difference per call and the ratio), and
the peak memory of the Docket run above the resident set just before it (the kernel's peak
counter is reset first). Goals (issue 14, 2-core machine): >= 300 verdicts/s, <= 200 MB,
ratio <= 1.3.

    python bench/judge_bench.py [--calls 10000] [--concurrency 64] [--repeat 2]
                                [--mode all|engine|end-to-end]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.judges.client import JudgeClient, JudgeRequest
from core.judges.endpoints import Endpoint
from core.judges.prompting import CompiledPrompt, builtin_prompt, compile_prompt
from core.judges.runner import Progress, run_calls
from core.judges.verdicts import verdict_response_format
from core.templates import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = TEMPLATES["correctness"]
DIMENSION = SCHEMA.dimension("correct")
BATCH = 500


def item(number: int) -> dict[str, str]:
    """A correctness item of ~600 characters whose expected label alternates."""
    label = "correct" if number % 2 else "incorrect"
    question = f"Question {number}: which city hosted the event described here? " + "context " * 30
    return {"prompt": question, "response": f"Answer {number}: " + "words " * 40 + f"<<expect:{label}>>"}


def requests(prompt: CompiledPrompt, calls: int) -> Iterator[JudgeRequest]:
    """The Docket requests, generated lazily."""
    for number in range(calls):
        yield JudgeRequest(number, prompt, item(number), DIMENSION, reference=f"Reference {number}")


def rss_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process, in MB."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field)) / 1024


def reset_peak() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


async def run_docket(url: str, calls: int, concurrency: int) -> tuple[float, Progress, int]:
    """Seconds for ``calls`` Docket judge calls, the final progress and the labels that came back
    as the fake server was told to answer."""
    prompt = compile_prompt(builtin_prompt(SCHEMA, "rationale", reference=True), SCHEMA)
    batch: list[object] = []
    right = 0

    def keep(result, progress: Progress) -> None:
        nonlocal right
        right += result.verdict is not None and result.verdict.label == (
            "correct" if result.key % 2 else "incorrect")
        batch.append(result)
        if len(batch) >= BATCH:
            batch.clear()  # where a storage writer would insert them

    endpoint = Endpoint(url, "fake-model", api_key_env="BENCH_KEY", price_input_per_million=0.15,
                        price_output_per_million=0.6)
    async with JudgeClient(endpoint, api_key="sk-bench") as client:
        started = time.perf_counter()
        progress = await run_calls(requests(prompt, calls), call=client.call, concurrency=concurrency,
                                   on_result=keep, total=calls, cost=endpoint.cost)
        return time.perf_counter() - started, progress, right


def end_to_end_database(folder: Path, url: str, calls: int) -> tuple[object, int]:
    """A SQLite database in ``folder`` holding a project of ``calls`` items (those of
    :func:`item`, each with its reference) and a judge on ``url`` with the engine's prompt;
    returns the database and the project's id."""
    from storage.authz import OPERATOR
    from storage.database import Database
    from storage.importer import import_file
    from storage.judges import JudgeSpec, create_judge
    from storage.migrations import migrate
    from storage.projects import get_project

    db = Database(f"sqlite:///{folder / 'bench.db'}")
    migrate(db)
    source = folder / "items.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for number in range(calls):
            out.write(json.dumps({"id": f"b{number}", **item(number),
                                  "reference": f"Reference {number}"}) + "\n")
    import_file(db, source, project_name="bench", schema=SCHEMA, actor=OPERATOR)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(
            name="bench", base_url=url, model="fake-model", api_key_env="BENCH_KEY",
            strategy="rationale", reference_guided=True, price_input_per_million=0.15,
            price_output_per_million=0.6), actor=OPERATOR)
        project = get_project(session=session, name="bench").id
    return db, project


def run_end_to_end(url: str, calls: int, concurrency: int) -> tuple[float, object, int, float]:
    """Seconds for enqueue_run + execute_run of ``calls`` verdicts on a fresh SQLite file, the
    run, the verdicts stored with the label the fake server was told to give, and the peak
    memory (MB) of the run above the resident set just before it."""
    from sqlalchemy import select

    from storage.authz import OPERATOR
    from storage.judge_runs import RunOptions, claim_run, enqueue_run, execute_run
    from storage.models import Item, Verdict

    with tempfile.TemporaryDirectory(prefix="docket-judge-bench-") as folder:
        db, project = end_to_end_database(Path(folder), url, calls)
        try:
            before = rss_mb("VmRSS")
            reset_peak()
            started = time.perf_counter()
            with db.write() as session:
                run_id = enqueue_run(session=session, project_id=project, judge_name="bench",
                                     options=RunOptions(concurrency=concurrency),
                                     actor=OPERATOR).id
            claim_run(db, worker="bench", run_id=run_id)
            info = execute_run(db, run_id, worker="bench", environ={"BENCH_KEY": "sk-bench"})
            seconds = time.perf_counter() - started
            peak = rss_mb("VmHWM") - before
            with db.read() as session:
                rows = session.execute(select(Item.external_id, Verdict.label).join(
                    Item, Item.id == Verdict.item_id)).all()
            # b<n>: "correct" for odd n, "incorrect" for even n (see item()).
            right = sum(label == ("correct" if int(external[1:]) % 2 else "incorrect")
                        for external, label in rows)
        finally:
            db.dispose()
    return seconds, info, right, peak


async def run_bare(url: str, calls: int, concurrency: int, *, post: bool) -> tuple[float, int]:
    """Seconds for ``calls`` bare ``openai`` calls on the same messages, and the answers;
    ``post``: through ``client.post`` instead of ``chat.completions.create``."""
    prompt = compile_prompt(builtin_prompt(SCHEMA, "rationale", reference=True), SCHEMA)
    messages = [[m.as_dict() for m in prompt.render(item(n), DIMENSION, reference=f"Reference {n}")]
                for n in range(calls)]
    response_format = verdict_response_format(DIMENSION, rationale=True)
    client = openai.AsyncOpenAI(base_url=url, api_key="sk-bench", max_retries=0, timeout=60.0)
    pending = iter(messages)
    answered = 0

    async def worker() -> None:
        nonlocal answered
        for message in pending:
            body = {"model": "fake-model", "messages": message, "temperature": 0.0, "max_tokens": 1024,
                    "response_format": response_format}
            if post:
                raw = await client.post("/chat/completions", body=body, cast_to=bytes)
                answered += json.loads(raw)["choices"][0]["message"]["content"] is not None
            else:
                completion = await client.chat.completions.create(**body)
                answered += completion.choices[0].message.content is not None

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed, answered


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The fake server in a child process, and its base URL."""
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "judges" / "fake_openai.py")],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError(f"the fake server did not start (said {url!r})")
    return process, url


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mode", choices=("all", "engine", "end-to-end"), default="all",
                        help="engine: the calls only; end-to-end: enqueue_run + execute_run on "
                             "SQLite; all: both (default)")
    args = parser.parse_args(argv)
    engine, end_to_end = args.mode in ("all", "engine"), args.mode in ("all", "end-to-end")
    server, url = start_server()
    try:
        # Warm up every path (connections, lazy imports) before anything is measured.
        asyncio.run(run_docket(url, min(200, args.calls), args.concurrency))
        for post in (False, True):
            asyncio.run(run_bare(url, min(200, args.calls), args.concurrency, post=post))
        if end_to_end:
            run_end_to_end(url, min(200, args.calls), args.concurrency)
        docket_times, bare_times, post_times, peaks = [], [], [], []
        e2e_times, e2e_peaks = [], []
        for _ in range(args.repeat):
            if engine:
                before = rss_mb("VmRSS")
                reset_peak()
                seconds, progress, right = asyncio.run(run_docket(url, args.calls, args.concurrency))
                peaks.append((rss_mb("VmHWM") - before, before, rss_mb("VmHWM")))
                docket_times.append(seconds)
                if progress.done != args.calls or right != args.calls:
                    print(f"error: docket got {progress.done} verdicts ({right} as expected) of {args.calls}")
                    return 1
            if end_to_end:
                seconds, info, right, peak = run_end_to_end(url, args.calls, args.concurrency)
                e2e_times.append(seconds)
                e2e_peaks.append(peak)
                if (info.status, info.done) != ("done", args.calls) or right != args.calls:
                    print(f"error: the end-to-end run ended {info.status} with {info.done} verdicts "
                          f"({right} as expected) of {args.calls}")
                    return 1
            for post, times in ((False, bare_times), (True, post_times)):
                bare_seconds, answered = asyncio.run(run_bare(url, args.calls, args.concurrency, post=post))
                times.append(bare_seconds)
                if answered != args.calls:
                    print(f"error: the bare loop got {answered} answers of {args.calls}")
                    return 1
    finally:
        server.kill()
        server.wait()
    bare, floor = min(bare_times), min(post_times)

    def runs(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    def per_call(seconds: float) -> float:
        return seconds / args.calls * 1e6

    measured = [("docket", docket_times), ("end to end", e2e_times), ("bare", bare_times),
                ("post", post_times)]
    print(f"{args.calls:,} calls, concurrency {args.concurrency}, best of {args.repeat} (runs, s: "
          + "; ".join(f"{name} {runs(times)}" for name, times in measured if times) + ")")
    if engine:
        docket = min(docket_times)
        growth, before, peak = max(peaks)
        print(f"docket: {args.calls / docket:,.0f} verdicts/s, {per_call(docket):,.0f} µs per call, "
              f"peak {growth:.1f} MB above the RSS before the run ({before:.0f} -> {peak:.0f} MB, "
              f"the process with its imports); tokens {progress.input_tokens:,} in / "
              f"{progress.output_tokens:,} out, cost estimate {progress.cost:.4f}")
    if end_to_end:
        e2e = min(e2e_times)
        print(f"end to end (enqueue_run + execute_run, SQLite, every verdict stored): "
              f"{args.calls / e2e:,.0f} verdicts/s, {per_call(e2e):,.0f} µs per verdict, peak "
              f"{max(e2e_peaks):.1f} MB above the RSS before the run; {info.input_tokens:,} + "
              f"{info.output_tokens:,} tokens, cost estimate {info.cost:.4f}")
    print(f"bare openai loop (chat.completions.create): {args.calls / bare:,.0f} calls/s, "
          f"{per_call(bare):,.0f} µs per call"
          + (f"; docket {per_call(docket) - per_call(bare):+,.0f} µs per call, ratio {docket / bare:.2f}x"
             if engine else "")
          + (f"; end to end {per_call(e2e) - per_call(bare):+,.0f} µs per verdict, ratio "
             f"{e2e / bare:.2f}x" if end_to_end else ""))
    print(f"bare post loop (Docket's HTTP path, nothing else): {args.calls / floor:,.0f} calls/s, "
          f"{per_call(floor):,.0f} µs per call"
          + (f"; docket {per_call(docket) - per_call(floor):+,.0f} µs per call, ratio {docket / floor:.2f}x"
             if engine else "")
          + (f"; end to end {per_call(e2e) - per_call(floor):+,.0f} µs per verdict, ratio "
             f"{e2e / floor:.2f}x" if end_to_end else ""))
    if engine:
        print(f"goals: >= 300 verdicts/s: {args.calls / docket:,.0f}; <= 200 MB: {growth:.1f} MB; "
              f"<= 1.3x the bare loop: {docket / bare:.2f}x")
    if end_to_end:
        print(f"goals end to end: >= 300 verdicts/s: {args.calls / e2e:,.0f}; <= 200 MB: "
              f"{max(e2e_peaks):.1f} MB; <= 1.3x the bare loop: {e2e / bare:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
