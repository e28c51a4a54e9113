"""The agreement report's flat tables and JSON (core.export.report_tables): every row checked
against the comparison document it came from, undefined values with their reason, the same
keys in every row, and JSON without NaN; on hand-built documents, on compare_dimension output
and on a demo project read back from a real SQLite database."""

from __future__ import annotations

import copy
import json
import math

import pytest

from core.export.report_tables import (
    BIAS_KEYS,
    GROUP_KEYS,
    NOT_FINITE,
    PAIR_KEYS,
    REPORT_KEYS,
    REPORT_TABLES,
    bias_rows,
    error_taxonomy_rows,
    group_rows,
    pair_rows,
    report_json,
)
from core.metrics import compare_dimension, pair_metrics_for, ratings_from_columns
from core.schema import Dimension
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.labels import load_ratings
from storage.migrations import migrate
from storage.projects import get_project

CORRECT = TEMPLATES["correctness"].dimension("correct")
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)
Y, N = "correct", "incorrect"
SAME_LABEL = "judge:c gave the same label ('correct') to every pairable item"


def hand_document():
    """Two annotators, the consensus and one judge on a nominal scale; the judge's κ is
    undefined, one CI bound is NaN and one pair carries a metric of another scale."""
    def pair(a, b, n, agreement, kappa, *, ci=None, reason=None):
        entry = {"a": a, "b": b, "n": n, "percent_agreement": agreement, "cohen_kappa": kappa,
                 "ci95": {"percent_agreement": [agreement - 0.1, min(agreement + 0.1, 1.0)]},
                 "undefined": {}}
        if ci:
            entry["ci95"]["cohen_kappa"] = list(ci)
        if reason:
            entry["undefined"]["cohen_kappa"] = reason
        return entry

    pairs = [pair("human:ann", "human:bob", 10, 0.8, 0.6, ci=(0.2, 0.9)),
             pair("human:ann", "human:consensus", 10, 0.9, 0.8),
             pair("human:bob", "human:consensus", 10, 0.9, 0.8),
             pair("human:ann", "judge:c", 9, 0.5, None, reason=SAME_LABEL),
             pair("human:bob", "judge:c", 9, 0.6, None, reason=SAME_LABEL),
             pair("human:consensus", "judge:c", 9, 0.7, None, reason=SAME_LABEL)]
    pairs[1]["pearson"] = 0.99  # an interval metric: not a metric of this scale
    pairs[2]["ci95"]["cohen_kappa"] = [float("nan"), 0.9]
    return {
        "project": "p", "dimension": "correct", "scale": "nominal", "binarized_at": None,
        "raters": ["human:ann", "human:bob", "human:consensus", "judge:c"],
        "labels": [Y, N], "pairs": pairs,
        "groups": [{"name": "humans", "raters": ["human:ann", "human:bob"], "fleiss_kappa": 0.55,
                    "krippendorff_alpha": None, "alpha_level": "nominal", "n": 12,
                    "ci95": {"fleiss_kappa": [0.1, 0.9]},
                    "undefined": {"krippendorff_alpha": "every item got one label"}}],
        "consensus": {"method": "majority", "items": 10, "ties": 0},
        "bias": {"reference": "human:consensus", "positive_label": Y,
                 "distributions": {"human:ann": {Y: 6, N: 4}, "human:bob": {Y: 5, N: 5},
                                   "human:consensus": {Y: 6, N: 4}, "judge:c": {Y: 9, N: 0},
                                   "humans": {Y: 11, N: 9}},
                 "raters": [{"rater": "judge:c", "n": 9, "positive_label": Y,
                             "positive_rate": {"value": 1.0, "n": 9},
                             "reference_positive_rate": {"value": 0.6, "n": 9},
                             "leniency": {"value": 0.4, "n": 9},
                             "false_positive_rate": {"value": 1.0, "n": 3},
                             "false_negative_rate": {"value": None, "n": 0,
                                                     "undefined": "no positive label"}}]},
        "ranking": None, "preference": None,
    }


def interval_document():
    """compare_dimension on a small interval scale: a constant judge and a silent one."""
    ratings = ratings_from_columns(SCORE, ["a", "b", "c", "d"], {
        "human:x": [1.0, 2.0, 3.0, 4.0], "human:y": [2.0, 2.0, 3.0, 5.0],
        "judge:flat": [5.0] * 4, "judge:silent": [None] * 4})
    return {"project": "p", **compare_dimension(ratings, n_resamples=20, seed=1).to_dict()}


@pytest.fixture(scope="module")
def demo_document(tmp_path_factory):
    """The ``correct`` dimension of the correctness demo, read back from a SQLite file."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'docket.db'}")
    migrate(db)
    load_demo(db, actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="correctness")
        ratings = load_ratings(session=session, project_id=project.id,
                               dimension=project.schema.dimension("correct"))
    db.dispose()
    return {"project": "correctness", **compare_dimension(ratings, n_resamples=50, seed=2).to_dict()}


def test_pair_rows_of_a_hand_built_document():
    rows = pair_rows([hand_document()])

    assert all(tuple(row) == PAIR_KEYS for row in rows)
    # Two metrics of the nominal registry per pair; "pearson" is not a nominal metric.
    assert len(rows) == 6 * 2
    assert {row["metric"] for row in rows} == {"percent_agreement", "cohen_kappa"}
    first = rows[:2]
    assert first == [
        {"dimension": "correct", "scale": "nominal", "binarized_at": None, "a": "human:ann",
         "b": "human:bob", "metric": "percent_agreement", "value": 0.8, "ci_low": 0.8 - 0.1,
         "ci_high": 0.9, "n": 10, "undefined_reason": None},
        {"dimension": "correct", "scale": "nominal", "binarized_at": None, "a": "human:ann",
         "b": "human:bob", "metric": "cohen_kappa", "value": 0.6, "ci_low": 0.2, "ci_high": 0.9,
         "n": 10, "undefined_reason": None},
    ]


def test_pair_rows_give_the_reason_of_an_undefined_metric():
    rows = pair_rows([hand_document()])
    judge = [r for r in rows if r["b"] == "judge:c" and r["metric"] == "cohen_kappa"]

    assert len(judge) == 3
    assert all((r["value"], r["ci_low"], r["ci_high"], r["undefined_reason"])
               == (None, None, None, SAME_LABEL) for r in judge)
    defined = [r for r in rows if r["b"] == "judge:c" and r["metric"] == "percent_agreement"]
    assert [r["value"] for r in defined] == [0.5, 0.6, 0.7]
    assert all(r["undefined_reason"] is None for r in defined)


def test_a_nan_becomes_none_never_a_nan_in_a_row():
    document = hand_document()
    document["pairs"][0]["percent_agreement"] = float("nan")
    rows = pair_rows([document])

    nan_row = rows[0]
    assert (nan_row["value"], nan_row["undefined_reason"]) == (None, NOT_FINITE)
    bounds = next(r for r in rows if (r["a"], r["b"], r["metric"])
                  == ("human:bob", "human:consensus", "cohen_kappa"))
    assert (bounds["value"], bounds["ci_low"], bounds["ci_high"]) == (0.8, None, 0.9)
    for row in rows:
        assert not any(isinstance(v, float) and math.isnan(v) for v in row.values())


def test_group_rows_flatten_the_groups():
    rows = group_rows([hand_document()])

    assert rows == [{
        "dimension": "correct", "scale": "nominal", "group": "humans",
        "raters": "human:ann;human:bob", "n": 12, "fleiss_kappa": 0.55,
        "krippendorff_alpha": None, "alpha_level": "nominal", "fleiss_kappa_ci_low": 0.1,
        "fleiss_kappa_ci_high": 0.9, "krippendorff_alpha_ci_low": None,
        "krippendorff_alpha_ci_high": None,
        "undefined_reason": "krippendorff_alpha: every item got one label"}]


def test_bias_rows_one_per_rater_with_distribution_and_measures():
    rows = bias_rows([hand_document()])

    assert all(tuple(row) == BIAS_KEYS for row in rows)
    assert [row["rater"] for row in rows] == ["human:ann", "human:bob", "human:consensus",
                                              "judge:c", "humans"]
    ann = rows[0]
    assert (ann["labelled"], json.loads(ann["distribution"])) == (10, {Y: 6, N: 4})
    assert ann["reference"] is None and ann["leniency"] is None and ann["n"] is None
    judge = rows[3]
    assert judge | {"distribution": json.loads(judge["distribution"])} == {
        "dimension": "correct", "scale": "nominal", "rater": "judge:c", "labelled": 9,
        "distribution": {Y: 9, N: 0}, "mean": None, "sd": None, "reference": "human:consensus",
        "positive_label": Y, "n": 9, "positive_rate": 1.0, "reference_positive_rate": 0.6,
        "leniency": 0.4, "false_positive_rate": 1.0, "false_negative_rate": None,
        "mean_difference": None, "undefined_reason": "false_negative_rate: no positive label"}
    assert rows[4]["labelled"] == 20  # all human labels pooled


def test_a_dimension_without_human_labels_has_no_bias_rows():
    document = hand_document() | {"bias": None}
    assert bias_rows([document]) == []


def test_interval_document_from_compare_dimension():
    document = interval_document()
    rows = pair_rows([document])

    metrics = {d.name for d in pair_metrics_for("interval")}
    assert {row["metric"] for row in rows} == metrics
    flat = [r for r in rows if r["b"] == "judge:flat" and r["metric"] == "pearson"]
    assert flat and all(r["value"] is None and "same score (5)" in r["undefined_reason"]
                        for r in flat)
    silent = [r for r in rows if r["b"] == "judge:silent"]  # with x, y, the consensus, flat
    assert len(silent) == len(metrics) * 4 and all(
        r["value"] is None and r["n"] == 0 and "fewer than 2 pairable items" in r["undefined_reason"]
        for r in silent)
    groups = group_rows([document])
    assert [g["group"] for g in groups] == ["humans", "humans+judges"]
    assert all(g["fleiss_kappa"] is None and g["krippendorff_alpha"] is not None
               and g["undefined_reason"] == "fleiss_kappa: does not apply to interval scales"
               for g in groups)
    bias = {row["rater"]: row for row in bias_rows([document])}
    assert bias["human:x"]["mean"] == pytest.approx(2.5)
    assert bias["human:x"]["distribution"] is None
    assert bias["judge:flat"]["mean_difference"] == pytest.approx(
        5 - sum([1.5, 2.0, 3.0, 4.5]) / 4)
    assert bias["judge:silent"]["mean_difference"] is None
    assert "mean_difference: " in bias["judge:silent"]["undefined_reason"]


def test_demo_document_rows_match_the_document(demo_document):
    document = demo_document
    rows = pair_rows([document])
    metrics = [d.name for d in pair_metrics_for(document["scale"])]

    assert len(rows) == len(document["pairs"]) * len(metrics)
    by_key = {(r["a"], r["b"], r["metric"]): r for r in rows}
    for pair in document["pairs"]:
        for metric in metrics:
            row = by_key[(pair["a"], pair["b"], metric)]
            assert (row["value"], row["n"]) == (pair[metric], pair["n"])
            assert [row["ci_low"], row["ci_high"]] == pair["ci95"].get(metric, [None, None])
            assert row["undefined_reason"] == pair["undefined"].get(metric)
            assert (row["dimension"], row["scale"]) == ("correct", "nominal")

    groups = group_rows([document])
    assert [(g["group"], g["raters"].split(";"), g["n"], g["fleiss_kappa"], g["krippendorff_alpha"])
            for g in groups] == [(g["name"], g["raters"], g["n"], g["fleiss_kappa"],
                                  g["krippendorff_alpha"]) for g in document["groups"]]

    bias = {row["rater"]: row for row in bias_rows([document])}
    assert set(bias) == set(document["bias"]["distributions"])
    for entry in document["bias"]["raters"]:
        row = bias[entry["rater"]]
        assert row["n"] == entry["n"]
        for measure in ("positive_rate", "leniency", "false_positive_rate", "false_negative_rate"):
            assert row[measure] == entry[measure]["value"]
        assert row["mean_difference"] is None  # no mean difference on a nominal scale
    for rater, counts in document["bias"]["distributions"].items():
        assert json.loads(bias[rater]["distribution"]) == counts


TAXONOMY = {"categories": ["format", "length"],
            "judges": [{"rater": "judge:c", "tagged_verdicts": 3,
                        "counts": {"format": 2, "length": 1}}]}


def test_report_tables_registry_and_fixed_keys(demo_document):
    assert set(REPORT_TABLES) == set(REPORT_KEYS) == {"pairs", "groups", "bias", "error_taxonomy"}
    documents = [demo_document, {**hand_document(), "error_taxonomy": TAXONOMY},
                 {**interval_document(), "error_taxonomy": TAXONOMY}]
    for name, table in REPORT_TABLES.items():
        rows = table(documents)
        assert rows, name
        assert all(tuple(row) == REPORT_KEYS[name] for row in rows), name
        # A CSV writer must find only flat cells: no lists or dicts.
        assert all(not isinstance(v, list | dict | tuple) for row in rows for v in row.values())
        assert {row["dimension"] for row in rows} >= {"correct", "score"}
    assert GROUP_KEYS[:5] == ("dimension", "scale", "group", "raters", "n")


def test_error_taxonomy_rows_one_per_judge_and_category_zeros_included():
    untagged = {"categories": ["format"], "judges": []}
    rows = error_taxonomy_rows([{**hand_document(), "error_taxonomy": TAXONOMY},
                                {**interval_document(), "error_taxonomy": untagged},
                                hand_document()])  # no taxonomy at all: no rows
    assert rows == [
        {"dimension": "correct", "rater": "judge:c", "tagged_verdicts": 3, "category": "format",
         "count": 2},
        {"dimension": "correct", "rater": "judge:c", "tagged_verdicts": 3, "category": "length",
         "count": 1}]


def test_report_json_is_nan_free_and_leaves_the_input_alone(demo_document):
    document = hand_document()
    document["pairs"][0]["cohen_kappa"] = float("inf")
    before = copy.deepcopy(document)
    metadata = {"project": "p", "exported_at": "2026-11-29T07:30:00+00:00", "bootstrap": 50,
                "note": float("nan")}

    report = report_json([demo_document, document], metadata)

    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["metadata"] == metadata | {"note": None}
    dimensions = report["dimensions"]
    assert [d["dimension"] for d in dimensions] == ["correct", "correct"]
    assert dimensions[0] == json.loads(json.dumps(demo_document, allow_nan=False))
    assert dimensions[1]["pairs"][0]["cohen_kappa"] is None
    assert dimensions[1]["pairs"][2]["ci95"]["cohen_kappa"] == [None, 0.9]
    assert json.dumps(before, default=str) == json.dumps(document, default=str)


def test_a_document_missing_contract_keys_is_refused():
    document = hand_document()
    del document["pairs"]
    for table in (*REPORT_TABLES.values(), lambda docs: report_json(docs, {})):
        with pytest.raises(ValueError, match="lacks pairs"):
            table([document])
    with pytest.raises(ValueError, match=r"documents\[0\] must be a comparison document"):
        pair_rows(["correct"])
