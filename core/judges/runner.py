"""Many judge calls with bounded concurrency, results streamed as they finish, cancellation.

:func:`run_calls` pulls requests lazily from an iterable (a storage-layer runner can generate
them from the database as it goes) into ``concurrency`` worker tasks, so at most that many
calls are in flight. Each finished call is handed to ``on_result`` with a :class:`Progress`
snapshot at once, so the caller can write results in batches and lose none that finished.

Cancelling (``cancel_event.is_set()``) stops taking new requests; calls in flight finish and
are reported, except that a call waiting to retry stops waiting (a result with
``cancelled=True``, nothing to store). Cancelling the task that awaits :func:`run_calls` aborts
the calls in flight instead; none of them is reported.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

from core.judges.client import CallResult, CancelSignal

RequestT = TypeVar("RequestT")


@dataclass(frozen=True)
class Progress:
    """Where a run stands; a new snapshot after each finished call."""

    total: int | None  # None when the requests' number is not known in advance
    done: int  # calls with a verdict (labelled or unparseable)
    unparseable: int  # of those, verdicts without a label
    failed: int  # calls that failed after their retries
    input_tokens: int
    output_tokens: int
    cost: float | None  # estimate at the endpoint's prices; None without prices
    elapsed: float  # seconds since the run started
    cancelled: bool = False  # the run was cancelled before every request was done

    @property
    def remaining(self) -> int | None:
        """Requests not yet done or failed (cancelled ones included); None if total unknown."""
        return None if self.total is None else self.total - self.done - self.failed


class _Tally:
    """The running counts behind the :class:`Progress` snapshots."""

    def __init__(self, total: int | None, cost: Callable[[int, int], float | None] | None) -> None:
        self.total = total
        self.cost = cost
        self.started = time.monotonic()
        self.done = self.unparseable = self.failed = self.input_tokens = self.output_tokens = 0

    def add(self, result: CallResult) -> None:
        if result.verdict is not None:
            self.done += 1
            self.unparseable += result.verdict.label is None
        elif not result.cancelled:
            self.failed += 1
        self.input_tokens += result.input_tokens or 0
        self.output_tokens += result.output_tokens or 0

    def snapshot(self, *, cancelled: bool = False) -> Progress:
        cost = self.cost(self.input_tokens, self.output_tokens) if self.cost else None
        return Progress(self.total, self.done, self.unparseable, self.failed, self.input_tokens,
                        self.output_tokens, cost, time.monotonic() - self.started, cancelled)


async def run_calls(requests: Iterable[RequestT], *,
                    call: Callable[[RequestT, CancelSignal | None], Awaitable[CallResult]],
                    concurrency: int,
                    on_result: Callable[[CallResult, Progress], Awaitable[Any] | None],
                    cancel_event: CancelSignal | None = None, total: int | None = None,
                    cost: Callable[[int, int], float | None] | None = None) -> Progress:
    """Run ``call`` (e.g. ``JudgeClient.call``) on every request, at most ``concurrency`` at once.

    ``on_result(result, progress)`` is called for each finished call in the event loop; if it
    returns an awaitable, that is awaited (the worker takes no new request meanwhile). ``total``
    defaults to ``len(requests)`` when it has one; ``cost(input_tokens, output_tokens)`` (e.g.
    ``endpoint.cost``) gives the estimate. Returns the final :class:`Progress`. Raises
    ValueError for ``concurrency < 1``; an exception from ``on_result`` or the requests'
    iterator stops the run (calls in flight are aborted) and is raised.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency: expected a whole number >= 1, got {concurrency!r}")
    if total is None and isinstance(requests, Sized):
        total = len(requests)
    tally = _Tally(total, cost)
    pending = iter(requests)

    broken = False  # a worker failed: the others take no new request while being stopped

    def cancelled() -> bool:
        return cancel_event is not None and cancel_event.is_set()

    async def worker() -> None:
        nonlocal broken
        try:
            while not cancelled() and not broken:
                request = next(pending, _END)
                if request is _END:
                    return
                result = await call(request, cancel_event)
                tally.add(result)
                outcome = on_result(result, tally.snapshot())
                if inspect.isawaitable(outcome):
                    await outcome
        except BaseException:
            broken = True
            raise

    workers = [asyncio.create_task(worker()) for _ in range(concurrency if total is None
                                                            else max(1, min(concurrency, total)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    unfinished = tally.snapshot().remaining != 0  # None (total unknown) counts as unfinished
    return tally.snapshot(cancelled=cancelled() and unfinished)


_END: Any = object()
