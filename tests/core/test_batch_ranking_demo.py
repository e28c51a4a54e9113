"""The batch-ranking demo file (storage/demo_data/batch_ranking.jsonl, written for Docket): it
imports strictly with the template, and its raters disagree the way real ones do. Read with the
json module; τ from scipy. (Not registered as a demo yet: the template is registered last.)"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from scipy.stats import kendalltau

from core.importing import check_policy, read_import_file, validate_table
from core.templates import TEMPLATES

DEMO = Path(__file__).resolve().parents[2] / "storage" / "demo_data" / "batch_ranking.jsonl"


def records() -> list[dict]:
    return [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line]


def tau(a: list[int], b: list[int]) -> float:
    return kendalltau([a.index(r) for r in range(1, 5)], [b.index(r) for r in range(1, 5)]).statistic


def test_the_demo_imports_strictly_with_the_template():
    batch = validate_table(read_import_file(DEMO), TEMPLATES["batch_ranking"])
    check_policy(batch, "strict")  # raises on any problem


def test_twelve_items_of_four_responses_two_judges_and_two_or_three_annotators():
    items = records()
    assert len(items) == 12 and len({r["id"] for r in items}) == 12
    # Two items are left unlabelled, for the annotation queue.
    assert [r["id"] for r in items if "humans" not in r] == ["rank-11", "rank-12"]
    for record in items:
        assert len(record["responses"]) == 4 and len(set(record["responses"])) == 4
        assert set(record["judges"]) == {"gpt-4o", "llama-3.1-70b"}
        assert 2 <= len(record.get("humans", {"a": 0, "b": 0})) <= 3
        for rater in (*record["judges"].values(), *record.get("humans", {}).values()):
            assert sorted(rater["ranking"]) == [1, 2, 3, 4]


def test_raters_disagree_realistically():
    items = [r for r in records() if "humans" in r]
    human_pairs = [tau(a["ranking"], b["ranking"]) for r in items
                   for a, b in combinations(r["humans"].values(), 2)]
    judge_human = {judge: [tau(r["judges"][judge]["ranking"], h["ranking"])
                           for r in items for h in r["humans"].values()]
                   for judge in ("gpt-4o", "llama-3.1-70b")}
    mean = {name: sum(v) / len(v) for name, v in {"humans": human_pairs, **judge_human}.items()}
    # Humans agree more with each other than either judge does with them, and nobody is a copy.
    assert 0.5 < mean["humans"] < 0.95
    assert mean["gpt-4o"] < mean["humans"] and mean["llama-3.1-70b"] < mean["gpt-4o"]
    assert sum(t < 1 for t in human_pairs) >= 10
    # The humans agree on the best response more often than on the whole order.
    top = [len({h["ranking"][0] for h in r["humans"].values()}) == 1 for r in items]
    whole = [len({tuple(h["ranking"]) for h in r["humans"].values()}) == 1 for r in items]
    assert sum(top) > sum(whole) >= 1
