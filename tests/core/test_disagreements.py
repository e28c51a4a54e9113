"""Disagreement rows and their severities, on small cases computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.disagreements import (
    BOTH,
    HUMANS_SPLIT,
    JUDGE_VS_HUMANS,
    SAMPLES_SPLIT,
    TIE,
    find_disagreements,
    sort_disagreements,
)
from core.metrics import MetricsInputError, ratings_from_columns
from core.schema import Dimension, Label

BINARY = Dimension("correct", "nominal", "Correct?",
                   labels=(Label("correct", "Correct"), Label("incorrect", "Incorrect")))
FIVE = Dimension("score", "ordinal", "Score", labels=tuple(Label(str(v), str(v)) for v in range(1, 6)))
SCORE = Dimension("tone", "interval", "Tone")
PREFERENCE = Dimension("preference", "nominal", "Preference",
                       labels=(Label("A", "A"), Label("B", "B"), Label("tie", "Tie")))
C, W = "correct", "incorrect"  # W: wrong


def binary_ratings():
    # i1: humans c, c, i -> consensus c, split 1/3; judge a says i (against), b says c.
    # i2: everyone c -> no disagreement.
    # i3: humans i, c -> a tie: no consensus, split 1/2.
    # i4: one human says i; both judges say c -> 2 against.
    # i5: no human label -> never listed.
    # i6: one human says c; a has no label, b says i -> 1 against.
    columns = {
        "human:h1": [C, C, W, W, None, C],
        "human:h2": [C, C, C, None, None, None],
        "human:h3": [W, None, None, None, None, None],
        "judge:a": [W, C, C, C, C, None],
        "judge:b": [C, C, None, C, None, W],
    }
    return ratings_from_columns(BINARY, ["i1", "i2", "i3", "i4", "i5", "i6"], columns,
                                groups=["g1", "g1", "g2", "g2", "g1", None],
                                models=["m", "m", "m", "n", "n", "n"])


def rows_by_item(frame):
    return {row["item"]: row for row in frame.to_dict("records")}


def test_nominal_severities_by_hand():
    rows = rows_by_item(find_disagreements(binary_ratings()))

    assert set(rows) == {"i1", "i3", "i4", "i6"}
    i1, i3, i4, i6 = rows["i1"], rows["i3"], rows["i4"], rows["i6"]
    assert (i1["kind"], i1["consensus"], i1["humans"]) == (BOTH, C, 3)
    assert i1["human_split"] == pytest.approx(1 / 3)
    assert (i1["judges_against"], i1["distance"], i1["against"]) == (1, 1.0, "a")
    assert (i1["judge:a"], i1["judge:b"]) == (W, C)
    assert i1["human labels"] == "correct ×2 · incorrect"

    assert (i3["kind"], i3["consensus"], i3["human_split"]) == (HUMANS_SPLIT, TIE, 0.5)
    assert math.isnan(i3["judges_against"]) and math.isnan(i3["distance"])  # no consensus

    assert (i4["kind"], i4["consensus"], i4["human_split"]) == (JUDGE_VS_HUMANS, W, 0.0)
    assert (i4["judges_against"], i4["distance"], i4["against"]) == (2, 1.0, "a, b")

    assert (i6["judges_against"], i6["against"]) == (1, "b")
    assert pd.isna(i6["judge:a"]) and pd.isna(i6["group"]) and i6["model"] == "n"


def test_judge_filter_counts_only_those_judges():
    rows = rows_by_item(find_disagreements(binary_ratings(), judges=["b"]))

    # b agrees with the consensus on i1: it stays only because the humans split there.
    assert rows["i1"]["kind"] == HUMANS_SPLIT
    assert (rows["i1"]["judges_against"], rows["i1"]["distance"]) == (0, 0.0)
    assert (rows["i4"]["judges_against"], rows["i4"]["against"]) == (1, "b")
    assert "judge:a" not in rows["i4"]
    assert set(rows) == {"i1", "i3", "i4", "i6"}


def test_unknown_judge_is_named():
    with pytest.raises(MetricsInputError, match=r"unknown judge 'c' \(judges: a, b\)"):
        find_disagreements(binary_ratings(), judges=["judge:c"])


def test_group_and_minimum_human_label_filters():
    assert set(find_disagreements(binary_ratings(), groups=["g2"])["item"]) == {"i3", "i4"}
    assert set(find_disagreements(binary_ratings(), min_human_labels=2)["item"]) == {"i1", "i3"}


def test_ordinal_distance_is_label_steps():
    columns = {"human:h1": ["2", "3", "4"], "human:h2": ["2", "3", "4"], "human:h3": ["4", "3", "4"],
               "judge:a": ["5", "3", "4"], "judge:b": ["3", "1", "4"]}
    rows = rows_by_item(find_disagreements(ratings_from_columns(FIVE, ["x", "y", "z"], columns)))

    assert set(rows) == {"x", "y"}  # z: everyone says 4
    # x: consensus 2 (2 of 3); a is 3 steps away, b 1 step.
    assert (rows["x"]["consensus"], rows["x"]["distance"], rows["x"]["judges_against"]) == ("2", 3.0, 2)
    assert rows["x"]["human_split"] == pytest.approx(1 / 3)
    assert (rows["y"]["distance"], rows["y"]["judges_against"], rows["y"]["kind"]) == (
        2.0, 1, JUDGE_VS_HUMANS)


def test_interval_uses_a_tolerance_of_one_score_unit():
    columns = {"human:h1": ["2", "3", "3"], "human:h2": ["4.5", "3", "3"],
               "judge:a": ["3", "5", "3.5"]}
    ratings = ratings_from_columns(SCORE, ["x", "y", "z"], columns)
    rows = rows_by_item(find_disagreements(ratings))

    # x: the humans' range 2.5 > 1 (they split); a is 0.25 from the mean 3.25 (not against).
    assert (rows["x"]["kind"], rows["x"]["human_split"], rows["x"]["consensus"]) == (
        HUMANS_SPLIT, 2.5, "3.25")
    assert (rows["x"]["distance"], rows["x"]["judges_against"]) == (0.25, 0)
    # y: a is 2 above the humans' 3. z: 0.5 away, within the tolerance.
    assert (rows["y"]["kind"], rows["y"]["distance"], rows["y"]["judges_against"]) == (
        JUDGE_VS_HUMANS, 2.0, 1)
    assert "z" not in rows
    assert set(find_disagreements(ratings, tolerance=0.4)["item"]) == {"x", "y", "z"}


def test_swapped_judge_is_aligned_before_comparing():
    # The @swapped run saw B first, so its 'B' means the humans' 'A'.
    columns = {"human:h": ["A", "B"], "judge:j": ["A", "A"], "judge:j@swapped": ["B", "B"]}
    rows = rows_by_item(find_disagreements(ratings_from_columns(PREFERENCE, ["p1", "p2"], columns)))

    assert set(rows) == {"p2"}
    assert (rows["p2"]["against"], rows["p2"]["judge:j@swapped"]) == ("j, j@swapped", "A")


def test_sort_by_each_severity_with_ties_broken_and_missing_last():
    frame = find_disagreements(binary_ratings())

    assert list(sort_disagreements(frame, "distance")["item"]) == ["i4", "i1", "i6", "i3"]
    assert list(sort_disagreements(frame, "judges_against")["item"]) == ["i4", "i1", "i6", "i3"]
    assert list(sort_disagreements(frame, "human_split")["item"]) == ["i3", "i1", "i4", "i6"]
    with pytest.raises(ValueError, match="sort by one of distance, judges_against, human_split"):
        sort_disagreements(frame, "loudness")


def test_no_humans_means_no_disagreements():
    ratings = ratings_from_columns(BINARY, ["i1"], {"judge:a": [C], "judge:b": [W]})
    assert find_disagreements(ratings).empty


def test_humans_only_dimension_lists_the_splits():
    ratings = ratings_from_columns(BINARY, ["x", "y"], {"human:h": [C, C], "human:k": [W, C]})
    rows = rows_by_item(find_disagreements(ratings))

    assert set(rows) == {"x"}
    assert (rows["x"]["kind"], rows["x"]["consensus"], rows["x"]["against"]) == (HUMANS_SPLIT, TIE, "")


def test_items_where_a_judges_samples_split_are_listed_by_hand():
    import numpy as np

    # Judge b answered three samples per item (codes: 0 correct, 1 incorrect; NaN unparseable).
    # i2: everyone agrees, but b's samples go c, i, c -> split 1/3, listed for that alone.
    # i1: already listed (a against the humans); b's samples c, c, c -> no split.
    # i4: b's samples i, c, NaN -> 1/2 of the two parsed; listed anyway (judges against).
    # i5: no human label -> never listed, whatever the samples.
    # i6: one parsed sample only -> no split measured.
    nan = np.nan
    samples = {"judge:b": np.array([[0, 0, 0], [0, 1, 0], [nan, nan, nan], [1, 0, nan],
                                    [0, 1, 1], [1, nan, nan]])}
    rows = rows_by_item(find_disagreements(binary_ratings(), samples=samples))

    assert set(rows) == {"i1", "i2", "i3", "i4", "i6"}
    assert (rows["i2"]["kind"], rows["i2"]["samples split"]) == (SAMPLES_SPLIT, "b")
    assert rows["i2"]["samples_split"] == pytest.approx(1 / 3)
    assert (rows["i1"]["kind"], rows["i1"]["samples_split"], rows["i1"]["samples split"]) == (
        BOTH, 0.0, "")
    assert rows["i4"]["samples_split"] == pytest.approx(0.5)
    assert rows["i4"]["kind"] == JUDGE_VS_HUMANS
    assert math.isnan(rows["i6"]["samples_split"]) and rows["i6"]["samples split"] == ""
    # Judges left out by the filter are not counted for their samples either.
    assert "i2" not in rows_by_item(find_disagreements(binary_ratings(), judges=["a"],
                                                       samples=samples))


def test_interval_samples_split_is_their_range_beyond_the_tolerance():
    import numpy as np

    columns = {"human:h1": [3.0, 4.0], "judge:j": [3.0, 4.0]}
    ratings = ratings_from_columns(SCORE, ["t1", "t2"], columns)
    # t2's samples differ by half a score unit: within the tolerance of one unit.
    samples = {"judge:j": np.array([[2.0, 4.5, 3.0], [4.0, 4.5, 4.0]])}
    rows = rows_by_item(find_disagreements(ratings, samples=samples))
    assert set(rows) == {"t1"}
    assert rows["t1"]["samples_split"] == pytest.approx(2.5)
