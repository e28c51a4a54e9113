"""Many calls: the concurrency bound as the server sees it, results streamed as they finish,
progress and cost, cancellation (graceful and abrupt), and failures of the caller's code."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from core.judges.client import CallResult, JudgeClient
from core.judges.retry import RetryPolicy
from core.judges.runner import Progress, run_calls
from tests.event_loops import run_async
from tests.judges.helpers import SECRET, FakeSleep, endpoint, request


def run(server, requests, *, concurrency, on_result=None, cancel_event=None, retry=None, sleep=None,
        **settings):
    """run_calls with a client on the fake server; returns (final progress, results, snapshots)."""
    results: list[CallResult] = []
    snapshots: list[Progress] = []

    def keep(result, progress):
        results.append(result)
        snapshots.append(progress)
        if on_result:
            return on_result(result, progress)
        return None

    async def main():
        ep = endpoint(server, **settings)
        extra = {"sleep": sleep} if sleep else {}
        async with JudgeClient(ep, api_key=SECRET, retry=retry, **extra) as client:
            return await run_calls(requests, call=client.call, concurrency=concurrency, on_result=keep,
                                   cancel_event=cancel_event, cost=ep.cost)

    return run_async(main()), results, snapshots


def test_the_server_never_sees_more_calls_at_once_than_the_concurrency(fake_openai):
    fake_openai.set_delay(0.05)
    final, results, _ = run(fake_openai, [request(n) for n in range(24)], concurrency=4)
    assert fake_openai.max_in_flight == 4
    assert final.done == 24 and len(results) == 24
    assert sorted(r.key for r in results) == [("item", n) for n in range(24)]


def test_results_arrive_while_the_run_is_still_going(fake_openai):
    fake_openai.set_delay(0.05)
    seen_at: list[float] = []
    run(fake_openai, [request(n) for n in range(16)], concurrency=2,
        on_result=lambda result, progress: seen_at.append(time.monotonic()))
    last_request = fake_openai.requests[-1].at
    assert seen_at[0] < last_request  # the first result was handed over long before the end
    assert sum(at < last_request for at in seen_at) >= 12


def test_requests_are_taken_lazily_at_most_concurrency_ahead(fake_openai):
    taken = 0

    def generate():
        nonlocal taken
        for number in range(30):
            taken += 1
            yield request(number)

    ahead: list[int] = []
    final, _, _ = run(fake_openai, generate(), concurrency=3,
                            on_result=lambda result, progress: ahead.append(taken - progress.done))
    assert final.total is None and final.remaining is None and final.done == 30
    assert max(ahead) <= 3


def test_progress_counts_verdicts_unparseable_failures_tokens_and_cost(fake_openai):
    fake_openai.add_fault("unparseable", times=None, when="Question 3?")
    fake_openai.add_fault("unparseable", times=None, when="Question 7?")
    fake_openai.add_fault("500", times=None, when="Question 5?")
    final, results, snapshots = run(fake_openai, [request(n, "incorrect") for n in range(10)],
                                    concurrency=3, retry=RetryPolicy(max_attempts=2), sleep=FakeSleep(),
                                    price_input_per_million=3.0, price_output_per_million=15.0)
    assert (final.total, final.done, final.unparseable, final.failed, final.remaining) == (10, 9, 2, 1, 0)
    assert not final.cancelled
    assert final.input_tokens == sum(r.input_tokens or 0 for r in results)
    assert final.output_tokens == sum(r.output_tokens or 0 for r in results)
    assert final.cost == pytest.approx((final.input_tokens * 3.0 + final.output_tokens * 15.0) / 1e6)
    assert [s.remaining for s in snapshots] == list(range(9, -1, -1))
    assert [s.done + s.failed for s in snapshots] == list(range(1, 11))
    failed = next(r for r in results if r.key == ("item", 5))
    assert failed.error.startswith("HTTP 500") and failed.attempts == 2
    assert {r.key for r in results if r.verdict and r.verdict.label is None} == {("item", 3), ("item", 7)}


def test_without_prices_there_is_no_cost(fake_openai):
    final, _, _ = run(fake_openai, [request(0)], concurrency=1)
    assert final.cost is None and final.input_tokens > 0


def test_cancel_stops_scheduling_and_lets_calls_in_flight_finish(fake_openai):
    fake_openai.set_delay(0.03)
    cancel = threading.Event()

    def stop_after_five(result, progress):
        if progress.done == 5:
            cancel.set()

    final, results, _ = run(fake_openai, [request(n) for n in range(40)], concurrency=3,
                            on_result=stop_after_five, cancel_event=cancel)
    assert final.cancelled
    assert 5 <= final.done <= 5 + 2  # the other workers' calls in flight finish and are reported
    assert len(fake_openai.requests) == len(results) == final.done  # none started and then lost
    assert final.remaining == 40 - final.done


def test_cancel_also_stops_a_call_waiting_to_retry(fake_openai):
    fake_openai.add_fault("429", retry_after="30", when="Question 0?")
    fake_openai.set_delay(0.02)
    cancel = asyncio.Event()

    def stop_soon(result, progress):
        if progress.done == 3:
            cancel.set()

    started = time.monotonic()
    final, results, _ = run(fake_openai, [request(n) for n in range(20)], concurrency=2,
                            on_result=stop_soon, cancel_event=cancel)
    assert time.monotonic() - started < 10  # did not sit out the 30 s
    waiting = next(r for r in results if r.key == ("item", 0))
    assert waiting.cancelled and waiting.verdict is None and waiting.error is None
    assert final.cancelled and final.failed == 0 and final.remaining == 20 - final.done


def test_cancelling_the_run_task_aborts_calls_in_flight_without_reporting_them(fake_openai):
    fake_openai.set_delay(0.3)
    reported: list[CallResult] = []

    async def main():
        async with JudgeClient(endpoint(fake_openai), api_key=SECRET) as client:
            task = asyncio.create_task(run_calls(
                [request(n) for n in range(10)], call=client.call, concurrency=4,
                on_result=lambda result, progress: reported.append(result)))
            while len(fake_openai.requests) < 4:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    left_over = run_async(main())
    assert reported == [] and left_over == []
    assert len(fake_openai.requests) == 4


def test_an_error_in_on_result_stops_the_run_and_is_raised(fake_openai):
    fake_openai.set_delay(0.02)

    def fail_on_third(result, progress):
        if progress.done == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run(fake_openai, [request(n) for n in range(30)], concurrency=2, on_result=fail_on_third)
    assert len(fake_openai.requests) <= 4


def test_an_async_on_result_is_awaited(fake_openai):
    written: list[object] = []

    async def write(result, progress):
        await asyncio.sleep(0.01)
        written.append(result.key)

    final, _, _ = run(fake_openai, [request(n) for n in range(5)], concurrency=2, on_result=write)
    assert sorted(written) == [("item", n) for n in range(5)] and final.done == 5


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, True])
def test_concurrency_must_be_a_positive_whole_number(concurrency):
    async def main():
        await run_calls([], call=None, concurrency=concurrency, on_result=print)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="concurrency: expected a whole number >= 1"):
        run_async(main())


def test_no_requests_is_an_empty_run():
    async def main():
        return await run_calls([], call=None, concurrency=4, on_result=print)  # type: ignore[arg-type]

    final = run_async(main())
    assert (final.total, final.done, final.remaining, final.cancelled) == (0, 0, 0, False)
