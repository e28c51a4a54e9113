"""Gold export on real data, on SQLite and PostgreSQL: HANNA's interval ratings (three humans
per story, six criteria) decided by equal scores, checked against the raw file; thematic
alignment items with lists of source texts keep the lists."""

from __future__ import annotations

import json
from collections import Counter

from core.schema import format_number
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.converters import HANNA_CRITERIA, HANNA_HUMANS, hanna_records, hanna_schema, write_jsonl
from tests.export.helpers import export, import_records

GENERATORS = ("GPT-2", "Human")


def test_hanna_interval_gold_is_the_majority_score(db, tmp_path, shared_data):
    records = hanna_records(shared_data, generators=GENERATORS)
    import_file(db, write_jsonl(records, tmp_path / "hanna.jsonl"), project_name="hanna",
                schema=hanna_schema(), actor=OPERATOR)

    summary = export(db, tmp_path, "hanna", "gold", policy="majority", min_labels=2)

    rows = {row["id"]: row for row in map(json.loads,
                                          summary.written.path.read_text("utf-8").splitlines())}
    expected_rows = 0
    for record in records:
        decided_any = False
        for criterion in HANNA_CRITERIA.values():
            scores = [record["humans"][h][criterion] for h in HANNA_HUMANS]
            ranked = Counter(scores).most_common()
            winner = ranked[0] if len(ranked) == 1 or ranked[0][1] > ranked[1][1] else None
            row = rows.get(record["id"], {})
            if winner is None:
                assert row.get(f"gold_{criterion}") is None, (record["id"], criterion)
                continue
            decided_any = True
            assert row[f"gold_{criterion}"] == format_number(winner[0]), (record["id"], criterion)
            assert row[f"gold_{criterion}_agreeing"] == winner[1]
            assert row[f"gold_{criterion}_annotators"] == 3
            assert row[f"gold_{criterion}_method"] == ("unanimous" if winner[1] == 3
                                                       else "majority")
        expected_rows += decided_any
    assert summary.written.rows == len(rows) == expected_rows > 0
    assert summary.skipped.get("items without gold", 0) == len(records) - expected_rows


def test_source_text_lists_stay_lists(db, tmp_path):
    records = [{"id": "s1", "source": ["first answer", "second, with a comma"],
                "response": "themes", "humans": {a: {"alignment": 4} for a in ("ann", "bob")}},
               {"id": "s2", "source": "one text", "response": "themes",
                "humans": {a: {"alignment": 2} for a in ("ann", "bob")}}]
    import_records(db, tmp_path, "thematic_alignment", records, "themes")
    path = export(db, tmp_path, "themes", "gold").written.path
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [(r["id"], r["source"], r["gold_alignment"]) for r in rows] == [
        ("s1", ["first answer", "second, with a comma"], "4"), ("s2", "one text", "2")]
