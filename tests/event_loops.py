"""Running a coroutine from a test whatever this thread's state.

Playwright's sync API (the browser tests' session-wide Chromium) leaves an event loop running
on the main thread, where ``asyncio.run`` refuses to start; a test that awaits something runs
it on a thread of its own instead, so it passes alone and inside the whole suite alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end on a fresh thread and return its result (or raise its
    exception)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
