"""The app's own judge worker: one daemon thread per server process carrying out queued runs.

With the embedded single-machine default, nobody has to start ``python cli.py worker``: the
first page run starts this thread (:func:`start_app_worker`, idempotent across reruns and
sessions) and a run queued on the Judges page goes on when the browser is closed. On a team
server with separate worker processes, ``DOCKET_WORKER=off`` leaves it out. API keys are
looked up by name when a run starts, in the server's environment and then in Streamlit secrets
(:class:`JudgeKeys`); they are never stored.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from components.judge_keys import judge_key_environ
from storage.database import Database
from storage.judge_worker import run_worker, worker_name

log = logging.getLogger(__name__)

WORKER_ENV = "DOCKET_WORKER"
WORKER_MODES = ("on", "off")
STOP_WAIT_S = 5.0  # at exit: how long the calls in flight may take to finish


class WorkerConfigError(ValueError):
    """``DOCKET_WORKER`` has a value other than ``on`` or ``off``."""


class JudgeKeys(Mapping[str, str]):
    """API keys by variable name, read when asked: the server's environment, then Streamlit
    secrets (so the storage layer gets a plain Mapping and no Streamlit)."""

    def __getitem__(self, name: str) -> str:
        found = judge_key_environ([name])
        if name not in found:
            raise KeyError(name)
        return found[name]

    def __iter__(self) -> Iterator[str]:
        return iter(())  # names are looked up one by one, never listed

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class AppWorker:
    """The running thread and the event that stops it."""

    thread: threading.Thread
    stop: threading.Event


_lock = threading.Lock()
_worker: AppWorker | None = None


def worker_enabled() -> bool:
    """Whether ``DOCKET_WORKER`` lets the app run its worker (unset: on). Raises
    :class:`WorkerConfigError` for another value, naming it."""
    value = os.environ.get(WORKER_ENV, "on").strip().lower() or "on"
    if value not in WORKER_MODES:
        raise WorkerConfigError(f"{WORKER_ENV}={value!r}: expected on or off")
    return value == "on"


def start_app_worker(db: Database, *, environ: Mapping[str, str] | None = None) -> AppWorker | None:
    """Start the process's worker thread on ``db`` unless it runs already or ``DOCKET_WORKER``
    is ``off``; return it (None when off). ``environ``: where keys are found (default
    :class:`JudgeKeys`). Raises :class:`WorkerConfigError` for a bad ``DOCKET_WORKER``."""
    global _worker
    if not worker_enabled():
        return None
    with _lock:
        if _worker is not None and _worker.thread.is_alive():
            return _worker
        stop = threading.Event()
        name = worker_name("app")
        keys = JudgeKeys() if environ is None else environ
        thread = threading.Thread(target=_serve, args=(db, name, keys, stop),
                                  name="docket-judge-worker", daemon=True)
        thread.start()
        _worker = AppWorker(thread, stop)
        log.info("judge worker %s started in the app", name)
        return _worker


def stop_app_worker(timeout: float = STOP_WAIT_S) -> None:
    """Stop the worker thread, if any: no new call starts, the finished ones are written and an
    unfinished run goes back to the queue; waits up to ``timeout`` seconds for it."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.stop.set()
        worker.thread.join(timeout)


def _serve(db: Database, name: str, environ: Mapping[str, str], stop: threading.Event) -> None:
    try:
        run_worker(db, worker=name, environ=environ, stop=stop)
    except Exception:  # never silently: the runs would wait for ever
        log.exception("judge worker %s stopped on an error", name)


atexit.register(stop_app_worker)
