"""The dashboard's headline model and plotly figure builders (pure): values, CIs, order, n,
and undefined values shown with their reason, asserted on ``fig.data`` and ``fig.layout``."""

from __future__ import annotations

import pytest

from core.charts.figures import (
    TIERS,
    confusion_figure,
    distribution_figure,
    headline_figure,
    model_ranks,
    ranking_figure,
    rater_heatmap,
    slices_figure,
    tier,
)
from core.charts.model import (
    OVERVIEW_METRIC,
    Ceiling,
    HeadlineRow,
    HumanPair,
    MetricCell,
    RangeVerdict,
    compare_with_range,
    headline_rows,
    headline_table,
    human_ceiling,
    overview_entries,
    verdict_sentence,
)
from core.metrics.comparison import Comparison, PairComparison, RankingReport
from core.metrics.results import ConfusionMatrix


def grid(values) -> list[list]:
    """A heatmap matrix (plotly keeps it as tuples or lists) as lists."""
    return [list(row) for row in values]


REASON = "judge:c gave the same label ('correct') to every pairable item"


def pair(a, b, n, kappa, agreement, *, ci=None, reason=None):
    entry = {"a": a, "b": b, "n": n, "cohen_kappa": kappa, "percent_agreement": agreement,
             "ci95": {}, "undefined": {}}
    if ci:
        entry["ci95"]["cohen_kappa"] = list(ci)
    if reason:
        entry["undefined"]["cohen_kappa"] = reason
    return entry


def typed(doc: dict) -> Comparison:
    """The typed comparison of a hand-built JSON document (the ``metrics --json`` form)."""
    return Comparison.from_dict({"groups": [], **doc})


def document():
    """Two annotators, the consensus, three judges; judge c is undefined (JSON form)."""
    return {
        "dimension": "correct", "scale": "nominal", "labels": ["correct", "incorrect"],
        "raters": ["human:ann", "human:bob", "human:consensus", "judge:a", "judge:b", "judge:c"],
        "pairs": [
            pair("human:ann", "human:bob", 40, 0.6, 0.8),
            pair("human:ann", "human:consensus", 40, 0.9, 0.95),
            pair("human:bob", "human:consensus", 40, 0.7, 0.85),
            pair("human:ann", "judge:a", 40, 0.5, 0.75),
            pair("human:consensus", "judge:a", 38, 0.42, 0.71, ci=(0.2, 0.6)),
            pair("human:consensus", "judge:b", 38, 0.81, 0.9, ci=(0.7, 0.9)),
            pair("human:consensus", "judge:c", 38, None, 0.6, reason=REASON),
        ],
    }


def test_headline_rows_best_first_with_undefined_last():
    rows = headline_rows(typed(document()), "cohen_kappa", "percent_agreement")

    assert [row.rater for row in rows] == ["judge:b", "judge:a", "judge:c"]
    assert rows[0].main == MetricCell(0.81, 38, (0.7, 0.9), None)
    assert rows[2].main == MetricCell(None, 38, None, REASON)
    assert rows[0].second == MetricCell(0.9, 38, None, None)


def test_human_ceiling_is_the_mean_and_range_over_annotator_pairs():
    doc = document()
    doc["raters"].insert(2, "human:cat")
    doc["pairs"] += [pair("human:ann", "human:cat", 30, 0.8, 0.9, ci=(0.6, 0.95)),
                     pair("human:bob", "human:cat", 30, 0.7, 0.85)]

    ceiling = human_ceiling(typed(doc), "cohen_kappa")

    # (0.6 + 0.8 + 0.7) / 3 = 0.7; pairs with the consensus do not count.
    assert (ceiling.mean, ceiling.low, ceiling.high) == (pytest.approx(0.7), 0.6, 0.8)
    assert [(p.a, p.b, p.cell.n) for p in ceiling.pairs] == [
        ("human:ann", "human:bob", 40), ("human:ann", "human:cat", 30), ("human:bob", "human:cat", 30)]
    assert ceiling.pairs[1].cell.ci95 == (0.6, 0.95)
    assert ceiling.too_few == () and ceiling.min_items == 20


def newcomer_document():
    """The issue's case: two seasoned annotators at κ 0.60-0.71 on 40 items, a newcomer who
    shares 3 and 5 items with them (κ -0.364 on 5), and a judge at κ 0.23 [0.02, 0.44]."""
    doc = document()
    doc["raters"].insert(2, "human:new")
    doc["pairs"][0] = pair("human:ann", "human:bob", 40, 0.71, 0.86, ci=(0.5, 0.88))
    doc["pairs"] += [pair("human:ann", "human:new", 3, 0.25, 0.67),
                     pair("human:bob", "human:new", 5, -0.364, 0.4, ci=(-1.0, 0.5)),
                     pair("human:consensus", "judge:weak", 38, 0.23, 0.62, ci=(0.02, 0.44))]
    doc["raters"].append("judge:weak")
    return doc


def test_pairs_sharing_too_few_items_are_left_out_of_the_range_and_listed():
    doc = newcomer_document()

    ceiling = human_ceiling(typed(doc), "cohen_kappa")

    # Only ann x bob shares >= 20 items; the newcomer's pairs (n = 3 and 5) would have dragged
    # the low end down to -0.364.
    assert (ceiling.low, ceiling.high) == (0.71, 0.71)
    assert [(p.a, p.b, p.cell.n) for p in ceiling.too_few] == [
        ("human:ann", "human:new", 3), ("human:bob", "human:new", 5)]
    weak = next(r for r in headline_rows(typed(doc), "cohen_kappa", None) if r.rater == "judge:weak")
    assert compare_with_range(weak, ceiling) is RangeVerdict.BELOW
    assert tier(weak, ceiling) == "below the human range"
    # The same document with no minimum reproduces the bug the issue reports.
    loose = human_ceiling(typed(doc), "cohen_kappa", min_items=1)
    assert loose.low == -0.364
    assert compare_with_range(weak, loose) is RangeVerdict.WITHIN


def test_the_minimum_overlap_is_settable_and_validated():
    doc = newcomer_document()
    assert [p.b for p in human_ceiling(typed(doc), "cohen_kappa", min_items=5).pairs] == ["human:bob",
                                                                                   "human:new"]
    with pytest.raises(ValueError, match="min_items must be at least 1, got 0"):
        human_ceiling(typed(doc), "cohen_kappa", min_items=0)


def test_no_range_when_no_pair_shares_enough_items_says_why():
    doc = newcomer_document()
    ceiling = human_ceiling(typed(doc), "cohen_kappa", min_items=50)
    assert ceiling.mean is None and ceiling.pairs == ()
    assert ceiling.reason == "no pair of annotators shares at least 50 items (3 pair(s) with fewer left out)"
    assert "left out" in verdict_sentence(headline_rows(typed(doc), "cohen_kappa", None), ceiling,
                                          "cohen_kappa")


@pytest.mark.parametrize(("ci", "expected"), [
    ((0.60, 0.9), RangeVerdict.WITHIN),          # lower end at the lowest pair
    ((0.65, 0.9), RangeVerdict.WITHIN),
    ((0.30, 0.59), RangeVerdict.BELOW),          # the whole CI under it
    ((0.30, 0.60), RangeVerdict.NOT_DISTINGUISHABLE),
    ((0.30, 0.95), RangeVerdict.NOT_DISTINGUISHABLE),
    (None, RangeVerdict.NOT_DISTINGUISHABLE),    # no CI: no claim
])
def test_the_verdict_is_made_by_the_ci(ci, expected):
    ceiling = Ceiling(0.7, 0.6, 0.8, (HumanPair("human:a", "human:b", MetricCell(0.6, 30)),))
    assert compare_with_range(HeadlineRow("judge:x", MetricCell(0.62, 30, ci), None), ceiling) is expected


def test_human_ceiling_undefined_with_one_annotator_says_why():
    doc = {"dimension": "d", "scale": "nominal",
           "raters": ["human:solo", "human:consensus", "judge:a"], "pairs": []}
    ceiling = human_ceiling(typed(doc), "cohen_kappa")
    assert ceiling.mean is None
    assert ceiling.reason.startswith("only one annotator labelled this dimension")


def test_headline_table_and_sentence():
    rows = headline_rows(typed(document()), "cohen_kappa", "percent_agreement")
    table = headline_table(rows, "cohen_kappa", "percent_agreement")

    assert list(table["rater"]) == ["b", "a", "c"]
    assert list(table["n"]) == [38, 38, 38]
    assert table["Cohen's κ"].tolist()[:2] == [0.81, 0.42]
    assert table["Cohen's κ"].isna().tolist()[2]
    assert table["Percent agreement"].tolist() == pytest.approx([90.0, 71.0, 60.0])
    assert list(table["95% CI"]) == ["[0.700, 0.900]", "[0.200, 0.600]", ""]
    assert list(table["undefined because"]) == ["", "", REASON]

    one_pair = (HumanPair("human:ann", "human:bob", MetricCell(0.6, 40)),)
    sentence = verdict_sentence(rows, Ceiling(0.6, 0.6, 0.6, one_pair), "cohen_kappa")
    assert sentence.startswith("**b** agrees best with the human consensus: Cohen's κ **0.810**")
    assert "(n = 38)" in sentence and "within or above the human range" in sentence
    assert "sharing at least 20 items agree with each other at 0.600 to 0.600" in sentence
    low = verdict_sentence(rows, Ceiling(0.95, 0.92, 0.97, one_pair), "cohen_kappa")
    assert "below every annotator pair" in low
    # b's CI [0.70, 0.90] straddles a range starting at 0.75: no claim either way.
    unsure = verdict_sentence(rows, Ceiling(0.8, 0.75, 0.85, one_pair), "cohen_kappa")
    assert "not distinguishable" in unsure


def test_headline_figure_values_intervals_order_and_reasons():
    rows = headline_rows(typed(document()), "cohen_kappa", "percent_agreement")
    pairs = (HumanPair("human:ann", "human:bob", MetricCell(0.5, 40, (0.3, 0.7))),
             HumanPair("human:ann", "human:cat", MetricCell(0.7, 25, None)))
    fig = headline_figure(rows, "cohen_kappa", "percent_agreement", Ceiling(0.6, 0.5, 0.7, pairs))

    scatter = {trace.name: trace for trace in fig.data if trace.type == "scatter"}
    # b's CI (0.7-0.9) lies above the lowest annotator pair (0.5); a's CI (0.2-0.6) straddles it.
    within, reaches = scatter[TIERS[0][0]], scatter[TIERS[1][0]]
    assert (list(within.x), list(within.y)) == ([0.81], ["b (n=38)"])
    assert list(within.error_x.array) == pytest.approx([0.09])
    assert list(within.error_x.arrayminus) == pytest.approx([0.11])
    assert (list(reaches.x), list(reaches.y)) == ([0.42], ["a (n=38)"])
    # Best at the top, the undefined judge at the bottom with its reason beside it.
    axis = fig.layout.yaxis
    assert list(axis.categoryarray) == ["b (n=38)", "a (n=38)", "c (n=38)", "ann × bob (n=40)",
                                        "ann × cat (n=25)"]
    # The annotator pairs that make the band, with their CIs.
    humans = scatter["annotator pair (in the range)"]
    assert (list(humans.x), list(humans.y)) == ([0.5, 0.7], ["ann × bob (n=40)", "ann × cat (n=25)"])
    assert list(humans.error_x.array) == pytest.approx([0.2, 0.0])
    assert list(humans.error_x.arrayminus) == pytest.approx([0.2, 0.0])
    assert axis.autorange == "reversed"
    notes = [a.text for a in fig.layout.annotations]
    assert f"undefined: {REASON}" in notes
    # The human range as a band and its mean as a dashed line, named in the legend.
    band = next(s for s in fig.layout.shapes if s.type == "rect")
    line = next(s for s in fig.layout.shapes if s.type == "line")
    assert (band.x0, band.x1, line.x0) == (0.5, 0.7, 0.6)
    assert "humans among themselves: mean 0.60, range 0.50–0.70" in scatter
    bars = next(trace for trace in fig.data if trace.type == "bar")
    assert list(bars.x) == pytest.approx([90.0, 71.0, 60.0])
    assert list(bars.y) == ["b (n=38)", "a (n=38)", "c (n=38)"]


def test_tiers_compare_the_ci_with_the_lowest_annotator_pair():
    ceiling = Ceiling(0.7, 0.6, 0.8, (HumanPair("human:a", "human:b", MetricCell(0.6, 30)),))
    row = HeadlineRow("judge:x", MetricCell(0.55, 10, (0.3, 0.65)), None)
    assert tier(row, ceiling) == "not distinguishable from the human range"
    assert tier(HeadlineRow("judge:x", MetricCell(0.55, 10, (0.3, 0.59)), None), ceiling) == (
        "below the human range")
    assert tier(row, Ceiling(None, None, None, reason="one annotator")) == (
        "no human range to compare with")
    assert [name for name, _ in TIERS] == [v.value for v in RangeVerdict]


def test_rater_heatmap_cells_values_diagonal_and_reasons():
    fig = rater_heatmap(typed(document()), "cohen_kappa",
                        ["human:ann", "human:consensus", "judge:a", "judge:c"])

    (heat,) = fig.data
    assert list(heat.x) == ["ann", "human consensus", "a", "c"]
    assert grid(heat.z)[0] == [None, 0.9, 0.5, None]  # ann x c was never compared
    assert heat.z[1][2] == 0.42 and heat.z[2][1] == 0.42  # symmetric
    assert heat.text[1][3] == "undefined"
    assert heat.customdata[1][3] == f"n = 38<br>undefined: {REASON}"
    assert heat.text[2][2] == ""  # the diagonal


def test_confusion_figure_counts_and_row_shares():
    fig = confusion_figure(ConfusionMatrix(("correct", "incorrect"), ((14, 2), (0, 16))),
                           "human:consensus", "judge:gpt-4o")

    (heat,) = fig.data
    assert grid(heat.z) == [[14, 2], [0, 16]]
    assert grid(heat.text)[0] == ["14<br>88 %", "2<br>12 %"]
    assert fig.layout.xaxis.title.text == "gpt-4o says"
    assert fig.layout.yaxis.title.text == "human consensus says"


def test_distribution_figure_shares_per_label_with_n():
    fig = distribution_figure(
        {"human:consensus": {"correct": 3, "incorrect": 1}, "judge:a": {"correct": 1, "incorrect": 1}},
        ["correct", "incorrect"], ["human:consensus", "judge:a", "judge:missing"])

    correct, incorrect = fig.data
    assert (correct.name, list(correct.x)) == ("correct", [75.0, 50.0])
    assert list(incorrect.x) == [25.0, 50.0]
    assert list(correct.y) == ["human consensus (n=4)", "a (n=2)"]


def test_distribution_figure_interval_means():
    fig = distribution_figure({"judge:a": {"n": 5, "mean": 3.2, "sd": 0.5}}, [], ["judge:a"])
    (points,) = fig.data
    assert (list(points.x), list(points.error_x.array), list(points.y)) == (
        [3.2], [0.5], ["a (n=5)"])


def test_distribution_figure_interval_with_the_pooled_human_row():
    # The Dashboard passes "humans" (every human label pooled) when there are 2+ annotators.
    fig = distribution_figure({"humans": {"n": 9, "mean": 2.0, "sd": 1.0},
                               "judge:a": {"n": 3, "mean": 3.0, "sd": 0.0}},
                              [], ["humans", "judge:a"])
    (points,) = fig.data
    assert list(points.y) == ["all human labels (n=9)", "a (n=3)"]


def test_slices_figure_shows_values_n_and_reasons():
    entries = [
        {"slice": "g1", "a": "human:consensus", "b": "judge:a", "n": 4, "cohen_kappa": 0.5,
         "ci95": {}, "undefined": {}},
        {"slice": "g2", "a": "human:consensus", "b": "judge:a", "n": 2, "cohen_kappa": None,
         "ci95": {}, "undefined": {"cohen_kappa": "both raters gave every pairable item the same"}},
    ]
    (heat,) = slices_figure([PairComparison.from_dict(e) for e in entries], "cohen_kappa",
                            "group").data

    assert list(heat.y) == ["g1", "g2"]
    assert grid(heat.z) == [[0.5], [None]]
    assert grid(heat.text) == [["0.50<br>n=4"], ["undefined<br>n=2"]]
    assert "undefined: both raters gave every pairable item the same" in heat.customdata[1][0]


def test_overview_entries_use_each_scale_main_metric():
    ordinal = {"dimension": "score", "scale": "ordinal",
               "raters": ["human:a", "human:consensus", "judge:j"],
               "pairs": [{"a": "human:consensus", "b": "judge:j", "n": 9, "kappa_quadratic": 0.77,
                          "cohen_kappa": 0.1, "undefined": {}}]}
    entries = overview_entries([typed(document()), typed(ordinal)])
    values = {(e.slice, e.b): e.value(OVERVIEW_METRIC) for e in entries}
    assert values[("score · Quadratically weighted κ", "judge:j")] == 0.77
    assert values[("correct · Cohen's κ", "judge:b")] == 0.81
    assert next(e for e in entries if e.b == "judge:c").undefined(OVERVIEW_METRIC) == REASON


def test_model_ranks_and_bump_chart():
    assert model_ranks({"m1": 0.9, "m2": 0.5, "m3": 0.9, "m4": None}) == {
        "m1": 1.0, "m2": 3.0, "m3": 1.0}
    ranking = {
        "score": "rate of 'correct'", "reference": "human:consensus", "models": ["m1", "m2"],
        "scores": {"human:consensus": {"m1": 0.8, "m2": 0.6}, "judge:a": {"m1": 0.5, "m2": 0.7}},
        "kendall_tau": {"judge:a": {"value": -1.0, "n": 2}},
    }
    fig = ranking_figure(RankingReport.from_dict(ranking))

    m1, m2 = fig.data
    assert (m1.name, list(m1.x), list(m1.y)) == ("m1", ["human consensus", "a<br>τ -1.00"], [1.0, 2.0])
    assert list(m2.y) == [2.0, 1.0]
    assert fig.layout.yaxis.autorange == "reversed"


def every_builder() -> dict[str, object]:
    """One figure of each builder, with long rater names."""
    doc = document()
    rows = headline_rows(typed(doc), "cohen_kappa", "percent_agreement")
    ranking = {"score": "rate of 'correct'", "reference": "human:consensus", "models": ["m1"],
               "scores": {"human:consensus": {"m1": 0.8}, "judge:a": {"m1": 0.5}},
               "kendall_tau": {"judge:a": {"value": None, "n": 1}}}
    entry = {"slice": "g1", "a": "human:consensus", "b": "judge:a", "n": 4, "cohen_kappa": 0.5,
             "ci95": {}, "undefined": {}}
    return {
        "headline": headline_figure(rows, "cohen_kappa", "percent_agreement",
                                    human_ceiling(typed(doc), "cohen_kappa")),
        "heatmap": rater_heatmap(typed(doc), "cohen_kappa"),
        "confusion": confusion_figure(ConfusionMatrix(("a", "b"), ((1, 0), (0, 1))),
                                      "human:consensus", "judge:a"),
        "distribution": distribution_figure({"judge:a": {"a": 1}}, ["a"], ["judge:a"]),
        "slices": slices_figure([PairComparison.from_dict(entry)], "cohen_kappa", "group"),
        "ranking": ranking_figure(RankingReport.from_dict(ranking)),
    }


@pytest.mark.parametrize("name", list(every_builder()))
def test_every_axis_makes_room_for_its_labels_whatever_the_template(name):
    # automargin set by the builder, not left to the default template: Streamlit's (the
    # default once streamlit is imported) has none, and rater names ran off the figure.
    fig = every_builder()[name]
    axes = [fig.layout[key] for key in fig.layout if key.startswith(("xaxis", "yaxis"))]
    assert axes and all(axis.automargin is True for axis in axes), name
