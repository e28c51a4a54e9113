"""Ranking labels (core/rank_order.py): every import spelling parses to the same order, and a
value that is not a permutation of the item's responses is refused saying what is wrong."""

from __future__ import annotations

import pytest

from core.rank_order import RankingError, format_order, order_of, parse_ranking


@pytest.mark.parametrize(("value", "n", "expected"), [
    ([2, 1, 4, 3], 4, (2, 1, 4, 3)), ("[2, 1, 4, 3]", 4, (2, 1, 4, 3)),
    ("2,1,4,3", 4, (2, 1, 4, 3)), (" 1 , 2 ", 2, (1, 2)), (("3", "1", "2"), 3, (3, 1, 2))])
def test_parse_accepts_every_import_form(value, n, expected):
    assert parse_ranking(value, n) == expected


@pytest.mark.parametrize(("value", "n", "message"), [
    ("[1, 1, 3]", 3, r"missing \[2\]; repeated \[1\]"),
    ([1, 2, 5], 3, r"missing \[3\]; not a response \[5\]"),
    ("1,2", 3, r"missing \[3\]"),
    ("[1, 2", 2, "is not a ranking"),
    ("first,second", 2, "'first' in 'first,second' is not a response number"),
    ([True, 2], 2, "True in"),
    (3, 3, "is not a ranking"),
    ([1], 1, "2–9 responses, this one 1"),
    (list(range(1, 11)), 10, "2–9 responses, this one 10")])
def test_parse_names_what_is_wrong(value, n, message):
    with pytest.raises(RankingError, match=message):
        parse_ranking(value, n)


@pytest.mark.parametrize(("value", "expected"), [
    ([3, 1, 2], (3, 1, 2)), ("2,1", (2, 1)), ("[4, 3, 2, 1]", (4, 3, 2, 1))])
def test_without_a_count_the_order_sets_it(value, expected):
    assert parse_ranking(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ([1, 3], r"missing \[2\]; not a response \[3\]"), ([1], "this order ranks 1"),
    ([2, 1, 2], r"repeated \[2\]")])
def test_without_a_count_a_gap_or_repeat_is_still_refused(value, message):
    with pytest.raises(RankingError, match=message):
        parse_ranking(value)


def test_the_stored_text_reads_back_as_the_same_order():
    assert format_order((2, 1, 4, 3)) == "2,1,4,3"
    assert order_of(format_order((9, 1, 8, 2, 7, 3, 6, 4, 5))) == (9, 1, 8, 2, 7, 3, 6, 4, 5)
