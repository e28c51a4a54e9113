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

Each is run ``--repeat`` times (default 2), alternating, best time kept. Printed: verdicts/s,
the per-call time of each and Docket's overhead (the difference per call and the ratio), and
the peak memory of the Docket run above the resident set just before it (the kernel's peak
counter is reset first). Goals (issue 14, 2-core machine): >= 300 verdicts/s, <= 200 MB,
ratio <= 1.3.

    python bench/judge_bench.py [--calls 10000] [--concurrency 64] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
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
    args = parser.parse_args(argv)
    server, url = start_server()
    try:
        # Warm up every path (connections, lazy imports) before anything is measured.
        asyncio.run(run_docket(url, min(200, args.calls), args.concurrency))
        for post in (False, True):
            asyncio.run(run_bare(url, min(200, args.calls), args.concurrency, post=post))
        docket_times, bare_times, post_times, peaks = [], [], [], []
        for _ in range(args.repeat):
            before = rss_mb("VmRSS")
            reset_peak()
            seconds, progress, right = asyncio.run(run_docket(url, args.calls, args.concurrency))
            peaks.append((rss_mb("VmHWM") - before, before, rss_mb("VmHWM")))
            docket_times.append(seconds)
            for post, times in ((False, bare_times), (True, post_times)):
                bare_seconds, answered = asyncio.run(run_bare(url, args.calls, args.concurrency, post=post))
                times.append(bare_seconds)
                if answered != args.calls:
                    print(f"error: the bare loop got {answered} answers of {args.calls}")
                    return 1
            if progress.done != args.calls or right != args.calls:
                print(f"error: docket got {progress.done} verdicts ({right} as expected) of {args.calls}")
                return 1
    finally:
        server.kill()
        server.wait()
    docket, bare, floor = min(docket_times), min(bare_times), min(post_times)
    per_call = {name: seconds / args.calls * 1e6 for name, seconds in
                (("docket", docket), ("bare", bare), ("post", floor))}

    def runs(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    print(f"{args.calls:,} calls, concurrency {args.concurrency}, best of {args.repeat} (runs, s: "
          f"docket {runs(docket_times)}; bare {runs(bare_times)}; post {runs(post_times)})")
    growth, before, peak = max(peaks)
    print(f"docket: {args.calls / docket:,.0f} verdicts/s, {per_call['docket']:,.0f} µs per call, "
          f"peak {growth:.1f} MB above the RSS before the run ({before:.0f} -> {peak:.0f} MB, "
          f"the process with its imports); tokens "
          f"{progress.input_tokens:,} in / {progress.output_tokens:,} out, cost estimate {progress.cost:.4f}")
    print(f"bare openai loop (chat.completions.create): {args.calls / bare:,.0f} calls/s, "
          f"{per_call['bare']:,.0f} µs per call; docket {per_call['docket'] - per_call['bare']:+,.0f} µs "
          f"per call, ratio {docket / bare:.2f}x")
    print(f"bare post loop (Docket's HTTP path, nothing else): {args.calls / floor:,.0f} calls/s, "
          f"{per_call['post']:,.0f} µs per call; docket {per_call['docket'] - per_call['post']:+,.0f} µs "
          f"per call, ratio {docket / floor:.2f}x")
    print(f"goals: >= 300 verdicts/s: {args.calls / docket:,.0f}; <= 200 MB: {growth:.1f} MB; "
          f"<= 1.3x the bare loop: {docket / bare:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
