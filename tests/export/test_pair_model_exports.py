"""The labels and preferences exports name the models of a pairwise item's chosen and
rejected responses (``chosen_model``/``rejected_model``), on both backends."""

from __future__ import annotations

import csv
import json

from tests.export.helpers import export, import_records

RECORDS = [
    {"id": "p1", "prompt": "Say hi", "response_a": "hello", "response_b": "hi",
     "model_a": "gpt-4o", "model_b": "llama-3",
     "judges": {"x": {"preference": "B"}, "y": {"preference": "B"}},
     "humans": {"ann": {"preference": "A"}, "bob": {"preference": "A"}}},
    {"id": "p2", "prompt": "Count", "response_a": "1", "response_b": "1 2",
     "model_a": "llama-3", "model_b": "mistral",
     "judges": {"x": {"preference": "tie"}, "y": {"preference": "A"}},
     "humans": {"ann": {"preference": "B"}, "bob": {"preference": "B"}}},
    {"id": "p3", "prompt": "None", "response_a": "a", "response_b": "b",
     "humans": {"ann": {"preference": "A"}, "bob": {"preference": "A"}}},
]


def test_labels_export_carries_chosen_and_rejected_models(db, tmp_path):
    import_records(db, tmp_path, "pairwise", RECORDS, "duel")
    summary = export(db, tmp_path, "duel", "labels", juries={"xy": ["x", "y"]})
    rows = [json.loads(line) for line in summary.written.path.read_text("utf-8").splitlines()]
    found = {(r["id"], r["rater_kind"], r["rater"]): (r["chosen_model"], r["rejected_model"])
             for r in rows}
    assert found[("p1", "human", "ann")] == ("gpt-4o", "llama-3")
    assert found[("p1", "judge", "x")] == ("llama-3", "gpt-4o")
    assert found[("p2", "human", "bob")] == ("mistral", "llama-3")
    assert found[("p2", "judge", "x")] == (None, None)  # a tie chooses nothing
    assert found[("p3", "human", "ann")] == (None, None)  # the item names no models
    assert found[("p1", "jury", "xy")] == ("llama-3", "gpt-4o")
    csv_rows = list(csv.DictReader(export(db, tmp_path, "duel", "labels", "csv")
                                   .written.path.open(encoding="utf-8", newline="")))
    assert {(r["id"], r["rater"], r["chosen_model"]) for r in csv_rows} >= {
        ("p1", "ann", "gpt-4o"), ("p2", "y", "llama-3")}


def test_preferences_export_carries_chosen_and_rejected_models(db, tmp_path):
    import_records(db, tmp_path, "pairwise", RECORDS, "duel")
    summary = export(db, tmp_path, "duel", "preferences")
    rows = [json.loads(line) for line in summary.written.path.read_text("utf-8").splitlines()]
    assert [(r["id"], r["chosen_model"], r["rejected_model"]) for r in rows] == [
        ("p1", "gpt-4o", "llama-3"), ("p2", "mistral", "llama-3"), ("p3", None, None)]
