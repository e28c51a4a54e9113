"""Opt-in server-side timing of annotation actions, for ``bench/annotate_bench.py``.

With ``DOCKET_TIMING_LOG=<path>`` in the server's environment, every panel run that an action
started (save & next, next, back, ...) appends ``<action>\\t<milliseconds>`` to that file: the
time from the start of the button's callback (the write) to the end of the panel's drawing
(the next item's query and its elements). Off by default; when off, each hook is one check.
"""

from __future__ import annotations

import os
import threading
import time

import streamlit as st

TIMING_ENV = "DOCKET_TIMING_LOG"
_START = "annotate.timing"
_LOG_PATH = os.environ.get(TIMING_ENV) or None
_LOCK = threading.Lock()


def start(action: str) -> None:
    """Mark the start of ``action`` (call first thing in the button callback)."""
    if _LOG_PATH is not None:
        st.session_state[_START] = (action, time.perf_counter())


def finish() -> None:
    """Append the elapsed time of the action started in this run, if any (call last)."""
    if _LOG_PATH is None:
        return
    started = st.session_state.pop(_START, None)
    if started is None:
        return
    action, at = started
    elapsed_ms = (time.perf_counter() - at) * 1000
    with _LOCK, open(_LOG_PATH, "a", encoding="utf-8") as log:
        log.write(f"{action}\t{elapsed_ms:.3f}\n")
