"""Preference pairs (TRL DPO layout) on real data: PandaLM's 999 pairwise items give 894 pairs
by human majority (105 ties), and demo projects give reference-based pairs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.importer import import_file
from tests.converters import PANDALM_ANNOTATORS, pandalm_records, write_jsonl
from tests.export.helpers import export


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_pandalm_preferences_follow_the_human_majority(db, tmp_path, shared_data):
    records = pandalm_records(shared_data / "PandaLM", garbage="empty")
    import_file(db, write_jsonl(records, tmp_path / "pandalm.jsonl"), project_name="pandalm",
                schema=TEMPLATES["pairwise"], actor=OPERATOR)

    summary = export(db, tmp_path, "pandalm", "preferences", policy="majority", min_labels=2)

    pairs = read_jsonl(summary.written.path)
    assert len(pairs) == summary.written.rows == 894  # 999 items minus the 105 ties
    assert summary.skipped == {"ties": 105}
    by_id = {record["id"]: record for record in records}
    for pair in pairs:
        record = by_id[pair["id"]]
        # The majority, computed here from the raw annotator labels, independently of Docket.
        majority, votes = Counter(record["humans"][name]["preference"]
                                  for name in PANDALM_ANNOTATORS).most_common(1)[0]
        assert votes >= 2 and majority in ("A", "B")
        winner, loser = (("response_a", "response_b") if majority == "A"
                         else ("response_b", "response_a"))
        assert (pair["prompt"], pair["chosen"], pair["rejected"]) == (
            record["prompt"], record[winner], record[loser])
        assert pair["chosen_label"] == majority
        assert pair["method"] == ("unanimous" if votes == 3 else "majority")
    assert list(pairs[0])[:3] == ["prompt", "chosen", "rejected"]


def test_demo_correctness_pairs_put_the_reference_over_the_rejected_response(sqlite_db, tmp_path):
    load_demo(sqlite_db, actor=OPERATOR)
    summary = export(sqlite_db, tmp_path, "correctness", "preferences", "parquet", min_labels=2)
    pairs = pq.read_table(summary.written.path).to_pylist()
    gold = {row["id"]: row for row in read_jsonl(
        export(sqlite_db, tmp_path, "correctness", "gold", min_labels=2).written.path)}
    assert pairs and len(pairs) == sum(
        1 for row in gold.values() if row["gold_correct"] == "incorrect" and (
            row["gold_reference_answer"] or row["reference"]))
    for pair in pairs:
        row = gold[pair["id"]]
        assert row["gold_correct"] == "incorrect"
        assert pair["rejected"] == row["response"] and pair["prompt"] == row["prompt"]
        assert pair["chosen"] == (row["gold_reference_answer"] or row["reference"])


@pytest.mark.parametrize("project", ["exam_question", "thematic_alignment"])
def test_rating_projects_without_shared_prompts_say_why_there_are_no_pairs(sqlite_db, tmp_path,
                                                                           project):
    load_demo(sqlite_db, actor=OPERATOR)
    summary = export(sqlite_db, tmp_path, project, "preferences", min_labels=2)
    assert summary.written.rows == 0
    assert summary.skipped["prompts with one rated response"] > 0
    assert "prompts with one rated response" in summary.line()
