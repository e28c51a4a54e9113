"""Typing a ranking: the order an annotator builds by pressing response numbers, best first.

The Annotate page and the adjudication form share these rules (one input, two places):

* pressing a response number appends it to the order; a number already placed, or not one of
  the item's responses, changes nothing;
* once all but one response are placed, the last is implied and appended: the order is
  complete (with two responses, one press completes it);
* undo takes back the last number pressed: a complete order loses its implied last response
  and the one pressed before it, an unfinished order its last entry;
* an order is shown as it is typed, ``"2 › 1 › …"``, and complete as ``"2 › 1 › 4 › 3"``.

An unfinished order is stored as its canonical text too (``"2,1"``, :func:`core.rank_order.
format_order`), but only in a draft: a saved label must be complete.
"""

from __future__ import annotations

from core.rank_order import Order

SEPARATOR = " › "
MORE = "…"
# The skip reason of the Annotate page's "all equally bad": the item is skipped (an assignment
# with this reason, no label), so it counts in no agreement figure.
ALL_EQUALLY_BAD = "All responses are equally bad"


def press(order: Order, position: int, n: int) -> Order:
    """``order`` with ``position`` appended, and the last response too when only it is left;
    ``order`` itself when ``position`` is placed already, not in 1..``n``, or the order is
    complete."""
    if position in order or not 1 <= position <= n or len(order) >= n:
        return order
    typed = (*order, position)
    if len(typed) == n - 1:
        (last,) = set(range(1, n + 1)) - set(typed)
        typed = (*typed, last)
    return typed


def undo(order: Order, n: int) -> Order:
    """``order`` without the last number pressed (a complete order also loses its implied
    last response); empty stays empty."""
    if is_complete(order, n):
        return order[:max(0, n - 2)]
    return order[:-1]


def clear(order: Order) -> Order:
    """The empty order (``order`` is ignored: the signature of every edit)."""
    return ()


def is_complete(order: Order, n: int) -> bool:
    """True when ``order`` places all ``n`` responses."""
    return len(order) == n and set(order) == set(range(1, n + 1))


def order_text(order: Order, n: int) -> str:
    """The order as shown while typing: ``"2 › 1 › …"``; complete ``"2 › 1 › 4 › 3"``; ``"…"``
    when nothing is placed yet."""
    shown = [str(position) for position in order]
    if not is_complete(order, n):
        shown.append(MORE)
    return SEPARATOR.join(shown)


def rank_of(order: Order) -> dict[int, int]:
    """Each placed response's rank, 1 = best: ``(2, 1)`` -> ``{2: 1, 1: 2}``."""
    return {position: rank for rank, position in enumerate(order, start=1)}
