"""Stored JSON text (item metadata) made strict JSON for exports, whatever an older Docket kept.

Imports before the fix stored ``NaN``, ``Infinity`` and ``-Infinity`` in metadata (Python's
json module writes and reads them; no other JSON reader does), and the database may hold text
that is not JSON at all. Exports write every stored value as strict JSON: a non-finite number
becomes ``null``, and text that does not parse is kept as that text, a JSON string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

# The encoder the import stores metadata with (sorted keys, default separators): a value that
# needs cleaning is written back in the same form.
_STORED_FORM = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True)


class _NotStrict(ValueError):
    """A number JSON cannot hold."""


def _refuse_constant(token: str) -> Any:
    raise _NotStrict(token)


def _refuse_overflow(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # "1e999"
        raise _NotStrict(text)
    return number


def _null(_token: str) -> None:
    return None


def _finite_or_null(text: str) -> float | None:
    number = float(text)
    return number if math.isfinite(number) else None


def stored_json_value(stored: str | bytes) -> Any:
    """Return the value of stored JSON text for an export: ``NaN`` and infinities become None;
    text that is not JSON is returned as that text (a ``str``)."""
    try:
        return json.loads(stored, parse_constant=_null, parse_float=_finite_or_null)
    except (ValueError, RecursionError):
        return stored if isinstance(stored, str) else stored.decode("utf-8", errors="replace")


def _is_strict(text: str | bytes) -> bool:
    try:
        json.loads(text, parse_constant=_refuse_constant, parse_float=_refuse_overflow)
    except (ValueError, RecursionError):
        return False
    return True


def strict_json_texts(values: Sequence[str | bytes | None]) -> list[str | bytes | None]:
    """Return ``values`` (stored JSON texts, ``str`` or UTF-8 ``bytes``, None for none) with
    each one that is not strict JSON replaced by the strict JSON of
    :func:`stored_json_value` (same type as given); strict ones are returned untouched.

    The texts are checked in one parse, as the items of one array (C code), and one by one
    only when that parse fails or does not find one item per text.
    """
    present = [value for value in values if value is not None]
    if not present:
        return list(values)
    as_bytes = type(present[0]) is bytes
    try:
        joined = (b"[" + b",".join(present) + b"]" if as_bytes  # type: ignore[arg-type]
                  else "[" + ",".join(present) + "]")  # type: ignore[arg-type]
        if len(json.loads(joined, parse_constant=_refuse_constant,
                          parse_float=_refuse_overflow)) == len(present):
            return list(values)
    except (ValueError, RecursionError, TypeError):
        pass
    result: list[str | bytes | None] = []
    for value in values:
        if value is None or _is_strict(value):
            result.append(value)
            continue
        text = _STORED_FORM.encode(stored_json_value(value))
        result.append(text.encode("utf-8") if isinstance(value, bytes) else text)
    return result
