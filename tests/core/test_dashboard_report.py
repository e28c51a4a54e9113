"""The dashboard's filters applied to Ratings: raters, items, binarising, juries, breakdowns."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score

from core.dashboard import DashboardRequest, active_juries, dashboard_report
from core.metrics import MetricsInputError, ratings_from_columns
from core.metrics.consensus import Jury
from core.metrics.ratings import CONSENSUS
from core.schema import Dimension, Label

BINARY = Dimension("correct", "nominal", "Correct?",
                   labels=(Label("correct", "Correct"), Label("incorrect", "Incorrect")))
FIVE = Dimension("score", "ordinal", "Score", labels=tuple(Label(str(v), str(v)) for v in range(1, 6)))
C, W = "correct", "incorrect"  # W: wrong


def binary():
    return ratings_from_columns(
        BINARY, [f"i{k}" for k in range(8)],
        {"human:h1": [C, C, W, W, C, C, W, W], "human:h2": [C, W, W, W, C, C, W, C],
         "judge:a": [C, C, W, C, C, W, W, W], "judge:b": [W, C, W, W, C, C, C, W],
         "judge:c": [C, C, C, W, C, C, W, W]},
        groups=["g1"] * 4 + ["g2"] * 4, models=["m1", "m2"] * 4)


def pair(document, a, b):
    return next(p for p in document["pairs"] if (p["a"], p["b"]) == (a, b))


def test_a_left_out_annotator_is_left_out_of_the_consensus():
    request = DashboardRequest("correct", raters=("human:h1", "judge:a"), n_resamples=0)
    report = dashboard_report(binary(), request).to_dict()

    document = report["document"]
    assert document["raters"] == ["human:h1", CONSENSUS, "judge:a"]
    # With h1 alone the consensus is h1: kappa(h1, a) by sklearn.
    expected = cohen_kappa_score([C, C, W, W, C, C, W, W], [C, C, W, C, C, W, W, W])
    assert pair(document, CONSENSUS, "judge:a")["cohen_kappa"] == pytest.approx(expected)
    assert (report["items"], report["items_total"]) == (8, 8)


def test_group_filter_and_breakdowns():
    report = dashboard_report(binary(), DashboardRequest("correct", groups=("g2",), n_resamples=0)).to_dict()

    assert report["items"] == 4
    assert report["slices"]["group"] == []  # one group left: nothing to break down
    models = report["slices"]["model"]
    assert {(e["slice"], e["b"]) for e in models} == {
        (m, f"judge:{j}") for m in ("m1", "m2") for j in "abc"}
    # g2, model m1 = items 4 and 6: h1 c, i and h2 c, i agree -> consensus c, i; judge a c, i.
    entry = next(e for e in models if (e["slice"], e["b"]) == ("m1", "judge:a"))
    assert (entry["n"], entry["percent_agreement"]) == (2, 1.0)


def test_juries_are_scored_and_a_jury_missing_a_judge_is_dropped():
    request = DashboardRequest("correct", raters=("human:h1", "human:h2", "judge:a", "judge:b"),
                               juries=(("ab", Jury(("a", "b"))), ("ac", Jury(("a", "c")))),
                               n_resamples=0)
    report = dashboard_report(binary(), request).to_dict()

    assert "jury:ab" in report["document"]["raters"]
    assert report["juries_dropped"] == ["ac"]
    assert active_juries(request, ("judge:a", "judge:b", "judge:c")) == {
        "ab": Jury(("a", "b")), "ac": Jury(("a", "c"))}


def test_binarised_view_and_min_human_labels():
    ratings = ratings_from_columns(
        FIVE, ["x", "y", "z", "w"],
        {"human:h1": ["5", "4", "2", "1"], "human:h2": ["5", None, "1", None],
         "judge:j": ["4", "4", "3", "2"]})
    report = dashboard_report(ratings, DashboardRequest("score", binarize_at="4",
                                                        min_human_labels=2, n_resamples=0)).to_dict()

    document = report["document"]
    assert (document["scale"], document["binarized_at"], report["items"]) == ("nominal", "4", 2)
    # x: >=4 everywhere; z: humans <4 and judge 3 <4 -> full agreement on 2 items.
    assert pair(document, CONSENSUS, "judge:j")["percent_agreement"] == 1.0


def test_request_for_another_dimension_is_refused():
    with pytest.raises(MetricsInputError, match="ratings are of dimension 'correct'"):
        dashboard_report(binary(), DashboardRequest("score")).to_dict()
