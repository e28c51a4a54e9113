"""When to retry a failed judge call and how long to wait: pure functions, no I/O.

Retried: HTTP 408 and 429, any 5xx, connection errors and timeouts. A ``Retry-After`` header
(seconds, or an HTTP date) is honoured exactly; without one the wait grows exponentially with
jitter ("equal jitter": half the step fixed, half random, so many calls failing together do
not retry together). A server asking for a wait longer than ``max_retry_after`` ends the call
instead (it is a quota, not a hiccup).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """True for the HTTP statuses worth retrying: 408, 429 and 5xx."""
    return status in RETRYABLE_STATUS or 500 <= status <= 599


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is retried."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected a whole number >= 1, got {self.max_attempts!r}")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: expected a number >= 0, got {value!r}")

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) without a
        ``Retry-After``: half of ``min(max_delay, base_delay * 2**(attempt-1))`` plus a random
        part of up to the other half (``random()`` in [0, 1))."""
        step = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 60))
        return step / 2 + step / 2 * random()


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or None if absent/invalid.

    ``value`` is a number of seconds (``"2"``, ``"0.5"``) or an HTTP date (``"Wed, 21 Oct 2015
    07:28:00 GMT"``), which is compared with ``now`` (Unix time). A date in the past means 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # "-0000": UTC without a stated local zone
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
