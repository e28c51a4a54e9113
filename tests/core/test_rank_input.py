"""Typing a ranking (core/rank_input.py) and unfinished orders (parse_partial_order): the rules
the Annotate page and the adjudication form share, checked against hand-worked sequences."""

from __future__ import annotations

from functools import reduce

import pytest

from core.rank_input import clear, is_complete, order_text, press, rank_of, undo
from core.rank_order import RankingError, parse_partial_order


def typed(n: int, *keys: int) -> tuple[int, ...]:
    return reduce(lambda order, key: press(order, key, n), keys, ())


def test_pressing_builds_the_order_and_the_last_response_is_implied():
    assert typed(4, 2) == (2,)
    assert typed(4, 2, 1) == (2, 1)
    assert typed(4, 2, 1, 4) == (2, 1, 4, 3)  # three of four: 3 is implied
    assert typed(2, 2) == (2, 1)  # two responses: one press decides
    assert typed(9, 9, 8, 7, 6, 5, 4, 3, 2) == (9, 8, 7, 6, 5, 4, 3, 2, 1)


def test_a_placed_number_a_number_out_of_range_or_a_full_order_change_nothing():
    assert typed(4, 2, 2) == (2,)
    assert typed(4, 5) == typed(4, 0) == ()
    assert press((2, 1, 4, 3), 1, 4) == (2, 1, 4, 3)


def test_undo_takes_back_the_last_number_pressed():
    assert undo((2, 1), 4) == (2,)
    assert undo((2,), 4) == ()
    assert undo((), 4) == ()
    # Complete: the implied last goes with the number pressed before it.
    assert undo((2, 1, 4, 3), 4) == (2, 1)
    assert undo((2, 1), 2) == ()
    assert clear((2, 1, 4, 3)) == ()


def test_the_order_is_shown_as_it_is_typed():
    assert order_text((), 4) == "…"
    assert order_text((2, 1), 4) == "2 › 1 › …"
    assert order_text((2, 1, 4, 3), 4) == "2 › 1 › 4 › 3"
    assert is_complete((2, 1, 4, 3), 4) and not is_complete((2, 1, 4), 4)
    assert not is_complete((1, 1, 2, 3), 4)
    assert rank_of((2, 1, 4)) == {2: 1, 1: 2, 4: 3}


@pytest.mark.parametrize(("value", "n", "expected"), [
    ("", 4, ()), ("2", 4, (2,)), ("4, 2", 4, (4, 2)), ([3, 1], None, (3, 1)),
    ("[2, 1, 4, 3]", 4, (2, 1, 4, 3)), ([9], None, (9,))])
def test_partial_orders_parse_in_every_spelling(value, n, expected):
    assert parse_partial_order(value, n) == expected


@pytest.mark.parametrize(("value", "n", "message"), [
    ("1,1", 4, r"repeated \[1\]"), ([4], 3, r"responses 1–3 .*not a response \[4\]"),
    ([10], None, r"responses 1–9 .*not a response \[10\]"), ("0", 4, r"not a response \[0\]"),
    ("x", 4, "'x' in 'x' is not a response number"), (7, 4, "is not a ranking")])
def test_partial_orders_are_refused_saying_why(value, n, message):
    with pytest.raises(RankingError, match=message):
        parse_partial_order(value, n)
