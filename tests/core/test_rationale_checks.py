"""The rationale check's counting and the Wilson interval (against statsmodels' formula, written
out independently here, and a published value)."""

from __future__ import annotations

import math

import pytest

from core.rationale_checks import RatingRow, count_ratings, wilson_interval


def test_wilson_interval_matches_the_textbook_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81 of 263 -> 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 7), (1, 1)])
def test_wilson_interval_by_its_closed_form(k, n) -> None:
    z = 1.959963984540054
    p = k / n
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert high == pytest.approx(min(1.0, centre + half), abs=1e-12)
    assert wilson_interval(0, 0) is None


def test_counts_per_judge_with_every_rating_and_the_unsound_share() -> None:
    rows = [RatingRow("judge:a", "sound"), RatingRow("judge:a", "hallucinated"),
            RatingRow("judge:a", "flawed"), RatingRow("judge:a", "sound"),
            RatingRow("judge:b", "sound")]
    a, b = count_ratings(rows)
    assert a.to_dict() == {"rater": "judge:a", "rated": 4,
                           "counts": {"sound": 2, "flawed": 1, "hallucinated": 1},
                           "unsound": {"value": 0.5, "ci95": list(wilson_interval(2, 4)), "n": 4}}
    assert (b.rater, b.unsound_share, dict(b.counts)) == (
        "judge:b", 0.0, {"sound": 1, "flawed": 0, "hallucinated": 0})
    with pytest.raises(ValueError, match="unknown rationale rating 'great'"):
        count_ratings([RatingRow("judge:a", "great")])
