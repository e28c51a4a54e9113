"""Ranking labels: the order of an item's responses from best to worst.

A ranking label is the list of 1-based response positions from best to worst, ``(2, 1, 4, 3)``:
response 2 is best. Every import format spells it as a list (``[2, 1, 4, 3]``), its JSON text
or comma-separated text (``"2,1,4,3"``, as a CSV cell holds it); Docket stores and exports the
canonical text :func:`format_order` writes. This module has no dependency, so the schema
(:mod:`core.schema`), the metrics and the judges' parser share one definition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

MIN_RESPONSES = 2
MAX_RESPONSES = 9

Order = tuple[int, ...]


class RankingError(ValueError):
    """A ranking label that is not an order of the item's responses; the message says why."""


def parse_ranking(value: object, n_responses: int | None = None) -> Order:
    """The order in ``value``: a list of 1-based positions, its JSON text (``"[2, 1, 4, 3]"``)
    or comma-separated text (``"2,1,4,3"``).

    ``n_responses`` is the item's number of responses; None takes the order's own length (the
    item is checked later). Raises :class:`RankingError` unless the value is a permutation of
    1..n with n between :data:`MIN_RESPONSES` and :data:`MAX_RESPONSES`.
    """
    items = _entries(value)
    positions = [_position(entry, value) for entry in items]
    n = len(positions) if n_responses is None else n_responses
    if not MIN_RESPONSES <= n <= MAX_RESPONSES:
        raise RankingError(f"a ranked item has {MIN_RESPONSES}–{MAX_RESPONSES} responses, "
                           f"{'this order ranks' if n_responses is None else 'this one'} {n}")
    expected = set(range(1, n + 1))
    if len(positions) != n or set(positions) != expected:
        missing = sorted(expected - set(positions))
        repeated = sorted({p for p in positions if positions.count(p) > 1})
        extra = sorted(set(positions) - expected)
        problems = [f"missing {missing}" if missing else "", f"repeated {repeated}" if repeated
                    else "", f"not a response {extra}" if extra else ""]
        raise RankingError(f"{value!r} must order responses 1–{n} once each ("
                           + "; ".join(p for p in problems if p) + ")")
    return tuple(positions)


def _entries(value: object) -> list[object]:
    """The entries of a ranking spelled as a list, JSON text or comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RankingError(f"{text!r} is not a ranking (a list such as [2, 1, 3]): "
                               f"{exc.msg}") from exc
    if not isinstance(value, list | tuple):
        raise RankingError(f"{value!r} is not a ranking (a list such as [2, 1, 3])")
    return list(value)


def _position(entry: object, value: object) -> int:
    if isinstance(entry, bool) or not isinstance(entry, int | str):
        raise RankingError(f"{entry!r} in {value!r} is not a response number")
    try:
        return int(entry)
    except ValueError as exc:
        raise RankingError(f"{entry!r} in {value!r} is not a response number") from exc


def format_order(order: Sequence[int]) -> str:
    """The canonical stored text of an order: ``(2, 1, 4, 3)`` -> ``"2,1,4,3"``."""
    return ",".join(str(position) for position in order)


def order_of(label: str) -> Order:
    """The order a stored canonical label holds (``"2,1,4,3"`` -> ``(2, 1, 4, 3)``); raises
    :class:`RankingError` for text that is not one."""
    return parse_ranking(label)


def parse_partial_order(value: object, n_responses: int | None = None) -> Order:
    """The beginning of an order in ``value`` (any spelling :func:`parse_ranking` takes, or
    empty text for none): the positions ranked so far, best first, e.g. ``(2, 1)`` of four.

    Raises :class:`RankingError` unless the positions are distinct and each is between 1 and
    ``n_responses`` (None: :data:`MAX_RESPONSES`).
    """
    if isinstance(value, str) and not value.strip():
        return ()
    positions = [_position(entry, value) for entry in _entries(value)]
    limit = MAX_RESPONSES if n_responses is None else n_responses
    repeated = sorted({p for p in positions if positions.count(p) > 1})
    outside = sorted({p for p in positions if not 1 <= p <= limit})
    if repeated or outside:
        problems = [f"repeated {repeated}" if repeated else "",
                    f"not a response {outside}" if outside else ""]
        raise RankingError(f"{value!r} must rank responses 1–{limit} at most once each ("
                           + "; ".join(p for p in problems if p) + ")")
    return tuple(positions)
