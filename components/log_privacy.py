"""Keep Streamlit session ids out of the server log.

A session id is enough to ask the server to resume that session (the browser sends it when it
reconnects), and Streamlit writes it into its log in several places — at WARNING when a
client reconnects to a session that is still connected. Docket binds sign-ins to the browser's
cookie besides (:mod:`components.browser`), but an id should not sit in logs read widely.

Streamlit's loggers each have their own handler and do not propagate, and modules create
loggers when first imported; a filter on some of them would miss the others. So the redaction
sits in the log record factory, which every logger of the process calls: a record from a
``streamlit`` logger has every UUID-shaped id replaced before any handler sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

REDACTED = "<session id>"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def redact_session_ids(text: str) -> str:
    """Return ``text`` with every UUID-shaped id (Streamlit's session ids) replaced."""
    return _UUID.sub(REDACTED, text)


def install_session_id_redaction() -> None:
    """Make every log record of a ``streamlit`` logger carry no session id (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_session_ids", False):
        return
    logging.setLogRecordFactory(_redacting(previous))


def _redacting(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == "streamlit" or record.name.startswith("streamlit."):
            try:
                message = record.getMessage()
            except Exception:  # a malformed call: leave it to the handler to report
                return record
            if _UUID.search(message):
                record.msg, record.args = redact_session_ids(message), None
        return record

    factory.redacts_session_ids = True  # type: ignore[attr-defined]
    return factory
