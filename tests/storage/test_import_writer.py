"""The bulk import writer's building blocks: rater rows and the constants it writes as SQL."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import pytest

from core.importing import RaterLabels
from storage.importer import _Selection, _sql_literal


def _column(kind: str, rater: str, labels: list[Any], notes: list[Any], sample: int = 0
            ) -> RaterLabels:
    return RaterLabels(kind, rater, sample, "correct", labels, notes, [None] * len(labels))


def test_rater_rows_go_item_by_item_and_skip_blanks() -> None:
    a = _column("judge", "a", ["correct", None, "incorrect"], ["why a0", None, "why a2"])
    b = _column("judge", "b", ["incorrect", "correct", None], [None, "why b1", None], sample=2)
    rows = _Selection([0, 1, 2], [10, 11, 12]).rater_rows([(1, a), (2, b)], ["notes"])

    assert rows.tolist() == [
        [10, 1, "correct", 0, "correct", "why a0"],
        [10, 2, "correct", 2, "incorrect", None],
        [11, 2, "correct", 2, "correct", "why b1"],
        [12, 1, "correct", 0, "incorrect", "why a2"],
    ]
    assert {type(value) for row in rows.tolist() for value in row[:2]} == {int}  # binds as int


def test_rater_rows_of_some_records_and_of_annotators() -> None:
    alice = _column("human", "alice", ["correct", "incorrect", "correct"], ["c0", "c1", "c2"])
    rows = _Selection([2, 0], [7, 5]).rater_rows([(4, alice)], [])

    assert rows.tolist() == [[7, 4, "correct", "correct"], [5, 4, "correct", "correct"]]
    assert _Selection([], []).rater_rows([(4, alice)], ["notes"]).shape == (0, 5)


@pytest.mark.parametrize("value", [None, 0, -7, 2**62, "", "plain", "it's", "x'); DROP TABLE t; --",
                                   "2026-11-29 13:00:00.000001", "ünï 🦜"])
def test_sql_literal_reads_back_as_the_value(value: Any) -> None:
    connection = sqlite3.connect(":memory:")
    assert connection.execute(f"SELECT {_sql_literal(value)}").fetchone() == (value,)


@pytest.mark.parametrize("value", [True, 1.5, b"x", datetime(2026, 1, 1)])
def test_sql_literal_refuses_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match="no SQL literal"):
        _sql_literal(value)
