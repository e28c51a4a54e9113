"""The worker that carries out judge runs: ``python cli.py worker``, or the app's own thread.

Runs are rows in the database (:mod:`storage.judge_runs`), so a run started from a page keeps
going when the browser is closed, and several workers (processes, machines) may share one
PostgreSQL database: each run is claimed by exactly one of them. A worker that stops mid-run
leaves it ``running`` with a stale heartbeat; another worker takes it over and does only what
is missing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

from storage.database import Database
from storage.judge_runs import claim_run, execute_run

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


def worker_name(kind: str) -> str:
    """A name that tells the operator which process holds a run: ``host:pid:kind``."""
    return f"{socket.gethostname()}:{os.getpid()}:{kind}"


def run_worker(db: Database, *, worker: str, environ: Mapping[str, str],
               stop: threading.Event, poll_seconds: float = POLL_SECONDS,
               until_idle: bool = False) -> int:
    """Claim and carry out runs until ``stop`` is set (or, with ``until_idle``, until none is
    left); return how many runs this worker carried out. ``stop`` set during a run: the calls
    in flight finish, what finished is written and the run goes back to the queue. Never
    raises for a failed run (it ends ``failed`` with the reason); a database error is logged
    and retried after a pause. ``environ`` is read at each run, so a key added meanwhile counts."""
    carried_out = 0
    while not stop.is_set():
        try:
            run_id = claim_run(db, worker=worker)
        except Exception:  # the database is away for a moment: try again later
            log.exception("worker %s could not claim a run", worker)
            run_id = None
        if run_id is None:
            if until_idle:
                break
            stop.wait(poll_seconds)
            continue
        log.info("worker %s: run %d", worker, run_id)
        execute_run(db, run_id, worker=worker, environ=environ, stop=stop)
        carried_out += 1
    return carried_out
