"""Who may call the HTTP API (``/api/v1``), how often, and with how large a body.

Every endpoint but health needs ``Authorization: Bearer TOKEN``, a personal token of
:mod:`storage.api_tokens`; the token acts as its user with the user's role at the time of the
request, so what the user may not do (an annotator importing, say) the storage function
refuses with :class:`~storage.authz.NotAllowed`, answered ``403``.

Limits, from the environment (read at each request, so tests and operators can change them):

- ``DOCKET_API_RATE_LIMIT``: requests per minute per token (default 600), a token bucket of
  that many requests refilled evenly over the minute; beyond it ``429`` with ``Retry-After``.
  Counted in each server process (several processes behind a proxy each allow that rate).
- ``DOCKET_API_MAX_BODY_BYTES``: the largest import body (default 512M, the import's own
  file limit; K, M, G suffixes); a larger one is refused with ``413`` as soon as it is seen.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from starlette.responses import Response

RATE_ENV = "DOCKET_API_RATE_LIMIT"
BODY_ENV = "DOCKET_API_MAX_BODY_BYTES"
DEFAULT_RATE_PER_MINUTE = 600
# The import's own default file limit (core.importing.ImportLimits.max_total_bytes, checked
# equal by a test); named here so the server's start does not import pyarrow for it.
DEFAULT_MAX_BODY_BYTES = 512 * 1024 * 1024
_SIZE = re.compile(r"(\d+)\s*(?:([KMG])(?:i?B)?)?", re.IGNORECASE)
_UNITS = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class ApiConfigError(ValueError):
    """``DOCKET_API_RATE_LIMIT`` or ``DOCKET_API_MAX_BODY_BYTES`` is not a valid value."""


@dataclass(frozen=True)
class ApiLimits:
    """The API's limits: requests per minute per token and the largest import body."""

    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def api_limits() -> ApiLimits:
    """Return the limits from ``$DOCKET_API_RATE_LIMIT`` and ``$DOCKET_API_MAX_BODY_BYTES``.

    Raises :class:`ApiConfigError` naming the variable whose value is not a whole number of
    at least 1 (a size may end in K, M or G).
    """
    return _limits(os.environ.get(RATE_ENV, ""), os.environ.get(BODY_ENV, ""))


@cache
def _limits(rate: str, body: str) -> ApiLimits:
    return ApiLimits(rate_per_minute=_number(RATE_ENV, rate, DEFAULT_RATE_PER_MINUTE),
                     max_body_bytes=_number(BODY_ENV, body, DEFAULT_MAX_BODY_BYTES))


def _number(name: str, text: str, default: int) -> int:
    if not text.strip():
        return default
    found = _SIZE.fullmatch(text.strip())
    value = int(found[1]) * _UNITS[found[2] and found[2].upper()] if found else 0
    if value < 1:
        raise ApiConfigError(f"{name} must be a whole number of at least 1 (a size may end in "
                             f"K, M or G); got {text!r}")
    return value


class RateLimiter:
    """A token bucket per API token: ``per_minute`` requests, refilled evenly over a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, token_id: int, per_minute: int, now: float | None = None) -> float:
        """Count one request of ``token_id``; return 0 if it may go on, else the seconds until
        the bucket holds a request again."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        with self._lock:
            level, at = self._buckets.get(token_id, (float(per_minute), now))
            level = min(float(per_minute), level + (now - at) * rate)
            if level >= 1.0:
                self._buckets[token_id] = (level - 1.0, now)
                return 0.0
            self._buckets[token_id] = (level, now)
            return (1.0 - level) / rate


def error_response(status: int, error: str, detail: str, *, headers: dict[str, str] | None = None,
                   **extra: Any) -> Response:
    """Return the API's error answer: ``{"error": error, "detail": detail, **extra}`` as JSON
    with ``status`` (never cached)."""
    return json_response({"error": error, "detail": detail, **extra}, status=status,
                         headers=headers)


def json_response(document: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """Return ``document`` as JSON (UTF-8, no NaN: the same encoding as ``cli.py --json``)."""
    body = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1) for a wait of ``seconds``."""
    return str(max(1, math.ceil(seconds)))
