"""How deeply a record nests arrays and objects, found before any JSON parser sees it.

Parsers pay for depth: pyarrow's JSON reader took 20 s on one line nesting 10,000 arrays and
crashed the process (segmentation fault) on 30,000 nested objects; Python's json module raises
RecursionError near 1,000 levels. :func:`deep_lines` scans JSON Lines bytes with numpy: only a
line holding more opening brackets than the limit (inside strings or not) can nest that deep,
and only such lines are measured exactly, strings taken out. On the import bench's 141 MB file
the scan costs 0.09-0.12 s (2 cores, loaded); a normal file has no such line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

# Bytes per numpy step: small enough that the temporaries stay in the CPU cache.
_CHUNK = 1 << 18
_OPEN = 0x7B  # "{"; "[" (0x5B) becomes it too once bit 0x20 is set, and no other byte does
_CASE_BIT = 0x20
_NEWLINE = 0x0A
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1
# A JSON string with its escapes (the "unrolled loop" form: linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def deep_lines(data: bytes, limit: int) -> list[int]:
    """Return the 1-based numbers of the lines of JSON Lines ``data`` that nest arrays and
    objects deeper than ``limit`` levels (a line's outermost object is level 1)."""
    return [number for number, start, end in _crowded_lines(data, limit)
            if line_depth(data[start:end], limit) > limit]


def _crowded_lines(data: bytes, limit: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(line number, start, end)`` of each line holding more than ``limit`` opening
    brackets; the others cannot nest deeper than ``limit``."""
    array = np.frombuffer(data, dtype=np.uint8)
    folded = np.empty(min(_CHUNK, len(array)), dtype=np.uint8)
    line, line_start, carried = 1, 0, 0
    for offset in range(0, len(array), _CHUNK):
        chunk = array[offset:offset + _CHUNK]
        np.bitwise_or(chunk, _CASE_BIT, out=folded[:len(chunk)])
        opens = np.flatnonzero(folded[:len(chunk)] == _OPEN)
        newlines = np.flatnonzero(chunk == _NEWLINE)
        if not len(newlines):
            carried += len(opens)
            continue
        before = np.searchsorted(opens, newlines)  # opens in this chunk before each newline
        counts = np.diff(before, prepend=0)
        counts[0] += carried
        for index in np.flatnonzero(counts > limit).tolist():
            start = line_start if index == 0 else offset + int(newlines[index - 1]) + 1
            yield line + index, start, offset + int(newlines[index])
        line += len(newlines)
        line_start = offset + int(newlines[-1]) + 1
        carried = len(opens) - int(before[-1])
    if carried > limit:
        yield line, line_start, len(data)


def line_depth(line: bytes, limit: int) -> int:
    """Return how deeply ``line`` (one JSON text) nests arrays and objects, brackets inside
    strings not counted; once past ``limit`` the count stops there."""
    text = _STRING.sub(b"", line)
    unterminated = text.find(b'"')
    if unterminated >= 0:  # the rest is the text of a string that never ends
        text = text[:unterminated]
    array = np.frombuffer(text, dtype=np.uint8)
    depth = deepest = 0
    for offset in range(0, len(array), _CHUNK):
        steps = _BRACKET_STEP[array[offset:offset + _CHUNK]]
        running = np.cumsum(steps, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
        if deepest > limit:
            break
    return deepest


def exceeds_depth(value: Any, limit: int) -> bool:
    """True when the decoded JSON ``value`` nests lists and dicts deeper than ``limit`` levels
    (a dict or list is level 1). Walks without recursion."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children
                     if isinstance(child, dict | list))
    return False
