"""Property tests: any valid rows survive JSONL and CSV unchanged, and the content hash is stable.

The rows are generated independently of the code under test; the expected normalised values
come from a hand-written table of label spellings, not from :meth:`Dimension.normalize`.
"""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.importing import ImportBatch, read_import_bytes, validate_table
from core.importing.validate import _field_pieces
from core.templates import TEMPLATES

CORRECTNESS = TEMPLATES["correctness"]
JUDGES = ("gpt-4", "gpt-3.5-turbo", "llama.3.70b", "Judge LM")
HUMANS = ("alice", "dr.smith")
SPELLINGS = {
    "correct": ["correct", "Correct", "CORRECT", "yes", "Yes", "true", "TRUE", "1", " correct "],
    "incorrect": ["incorrect", "Incorrect", "no", "NO", "false", "False", "0", "incorrect\t"],
}
JSON_ONLY_SPELLINGS = {"correct": [True, 1], "incorrect": [False, 0]}
OTHER = {"correct": "incorrect", "incorrect": "correct"}

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Valid text: no lone surrogates (category Cs) and no NUL, which imports refuse.
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
label = st.tuples(st.sampled_from(sorted(SPELLINGS)), st.integers(0, 20))


@st.composite
def item_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows as plain data: ids, texts, and per rater a (canonical label, spelling index) or None."""
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(text.filter(lambda s: s != ""), min_size=n, max_size=n, unique=True))
    rows = []
    for item_id in ids:
        rows.append({
            "id": item_id,
            "prompt": draw(text.filter(lambda s: s != "")),
            "response": draw(text),
            "topic": draw(text),
            "judges": {j: draw(st.none() | label) for j in JUDGES},
            "humans": {h: draw(st.none() | label) for h in HUMANS},
        })
    return rows


def spell(choice: tuple[str, int] | None, *, json_values: bool) -> Any:
    if choice is None:
        return None
    canonical, index = choice
    spellings = SPELLINGS[canonical] + (JSON_ONLY_SPELLINGS[canonical] if json_values else [])
    return spellings[index % len(spellings)]


def to_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    for row in rows:
        record: dict[str, Any] = {"id": row["id"], "prompt": row["prompt"],
                                  "response": row["response"], "topic": row["topic"]}
        judges = {j: {"correct": spell(c, json_values=True)} for j, c in row["judges"].items()
                  if c is not None}
        humans = {h: {"correct": spell(c, json_values=True)} for h, c in row["humans"].items()
                  if c is not None}
        if judges:
            record["judges"] = judges
        if humans:
            record["humans"] = humans
        records.append(record)
    return records


def to_jsonl(rows: list[dict[str, Any]], *, reverse_keys: bool = False,
             extra: list[dict[str, Any]] | None = None) -> bytes:
    records = to_records(rows)
    for record, more in zip(records, extra or [], strict=False):
        record.update(more)
    if reverse_keys:
        records = [_reversed(record) for record in records]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    return value


def to_csv(rows: list[dict[str, Any]], *, order: list[int] | None = None) -> bytes:
    header = ["id", "prompt", "response", "topic", *(f"judge.{j}.correct" for j in JUDGES),
              *(f"human.{h}.correct" for h in HUMANS)]
    table = []
    for row in rows:
        cells = [row["id"], row["prompt"], row["response"], row["topic"],
                 *(spell(row["judges"][j], json_values=False) or "" for j in JUDGES),
                 *(spell(row["humans"][h], json_values=False) or "" for h in HUMANS)]
        table.append(cells)
    if order is not None:
        header = [header[i] for i in order]
        table = [[cells[i] for i in order] for cells in table]
    out = io.StringIO()
    # The default \r\n terminator makes the writer quote cells holding a bare \r as well.
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(table)
    return out.getvalue().encode("utf-8")


def validate(data: bytes, fmt: str) -> ImportBatch:
    return validate_table(read_import_bytes(data, fmt=fmt, name=f"f.{fmt}"), CORRECTNESS)


def assert_rows_equal_input(batch: ImportBatch, rows: list[dict[str, Any]]) -> None:
    assert batch.problems == []
    assert [r.external_id for r in batch.rows] == [row["id"] for row in rows]
    for got, row in zip(batch.rows, rows, strict=True):
        expected_fields = {"prompt": row["prompt"]}
        if row["response"]:
            expected_fields["response"] = row["response"]
        assert got.fields == expected_fields
        assert got.fields_json == json.dumps(expected_fields, ensure_ascii=False)  # exact text
        assert got.metadata == ({"topic": row["topic"]} if row["topic"] else None)
        assert {(v.judge, v.sample_index, v.dimension, v.label) for v in got.verdicts} == {
            (j, 0, "correct", c[0]) for j, c in row["judges"].items() if c is not None}
        assert {(h.annotator, h.dimension, h.label) for h in got.human_labels} == {
            (h, "correct", c[0]) for h, c in row["humans"].items() if c is not None}


@SETTINGS
@given(item_rows())
def test_valid_jsonl_rows_validate_to_the_input(rows):
    assert_rows_equal_input(validate(to_jsonl(rows), "jsonl"), rows)


@SETTINGS
@given(item_rows())
def test_valid_csv_rows_validate_to_the_input(rows):
    assert_rows_equal_input(validate(to_csv(rows), "csv"), rows)


def hashes(batch: ImportBatch) -> dict[str, str]:
    return {row.external_id: row.content_hash for row in batch.rows}


@SETTINGS
@given(item_rows(), st.randoms(use_true_random=False))
def test_content_hash_ignores_key_and_column_order(rows, rnd: random.Random):
    assert hashes(validate(to_jsonl(rows), "jsonl")) == hashes(
        validate(to_jsonl(rows, reverse_keys=True), "jsonl"))
    order = list(range(4 + len(JUDGES) + len(HUMANS)))
    rnd.shuffle(order)
    assert hashes(validate(to_csv(rows), "csv")) == hashes(validate(to_csv(rows, order=order), "csv"))


@SETTINGS
@given(item_rows(), st.data())
def test_content_hash_changes_when_a_label_changes(rows, data):
    labelled = [(i, kind, name) for i, row in enumerate(rows) for kind in ("judges", "humans")
                for name, choice in row[kind].items() if choice is not None]
    if not labelled:
        rows[0]["judges"][JUDGES[0]] = ("correct", 0)
        labelled = [(0, "judges", JUDGES[0])]
    index, kind, name = data.draw(st.sampled_from(labelled))
    changed = json.loads(json.dumps(rows))
    canonical, spelling = rows[index][kind][name]
    changed[index][kind][name] = [OTHER[canonical], spelling]
    for fmt, write in (("jsonl", to_jsonl), ("csv", to_csv)):
        before, after = hashes(validate(write(rows), fmt)), hashes(validate(write(changed), fmt))
        changed_id = rows[index]["id"]
        assert before[changed_id] != after[changed_id], fmt
        assert {k: v for k, v in before.items() if k != changed_id} == {
            k: v for k, v in after.items() if k != changed_id}, fmt


@SETTINGS
@given(item_rows())
def test_content_hash_is_the_same_for_a_respelled_label(rows):
    # "Yes", "TRUE" and "correct" are the same label, so the same content.
    respelled = json.loads(json.dumps(rows))
    for row in respelled:
        for kind in ("judges", "humans"):
            for name, choice in row[kind].items():
                if choice is not None:
                    row[kind][name] = [choice[0], choice[1] + 1]
    assert hashes(validate(to_jsonl(rows), "jsonl")) == hashes(validate(to_jsonl(respelled), "jsonl"))
    assert hashes(validate(to_csv(rows), "csv")) == hashes(validate(to_csv(respelled), "csv"))


json_scalar = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | text)


@SETTINGS
@given(item_rows(), st.lists(json_scalar, min_size=6, max_size=6),
       st.lists(st.lists(st.integers(-(2**60), 2**60) | st.floats(allow_nan=False,
                                                                    allow_infinity=False),
                         max_size=3), min_size=6, max_size=6))
def test_jsonl_fast_and_exact_paths_agree_on_any_values(rows, scalars, lists):
    extra = [{"scalar": scalar, "values": values} for scalar, values in zip(scalars, lists, strict=True)]
    data = to_jsonl(rows, extra=extra)
    fast = read_import_bytes(data, fmt="jsonl", name="f.jsonl")
    exact = read_import_bytes(data + b"{broken\n", fmt="jsonl", name="f.jsonl")
    assert fast.columns == exact.columns
    for got_fast, got_exact in zip(validate_table(fast, CORRECTNESS).rows,
                                   validate_table(exact, CORRECTNESS).rows, strict=True):
        assert got_fast.metadata_json == got_exact.metadata_json
        assert got_fast.content_hash == got_exact.content_hash


@SETTINGS
@given(item_rows())
def test_csv_fast_and_exact_paths_agree(rows):
    data = to_csv(rows)
    fast = read_import_bytes(data, fmt="csv", name="f.csv")
    exact = read_import_bytes(data + b"ragged\n", fmt="csv", name="f.csv")
    assert fast.columns == exact.columns
    assert [r.content_hash for r in validate_table(fast, CORRECTNESS).rows] == [
        r.content_hash for r in validate_table(exact, CORRECTNESS).rows]


@settings(max_examples=500, deadline=None, database=None)
@given(st.one_of(st.text(), st.text(st.sampled_from('ab "\\\n\t\x00\x1f\x7f\u2028é🦜')),
                 st.lists(st.text(max_size=5), max_size=3)))
def test_field_pieces_are_json_dumps(value):
    # The quick path for plain strings must give the standard library's text exactly,
    # including for lone surrogates, control characters, quotes and backslashes.
    pieces = _field_pieces([("f", [value, None])], [0, 1])
    assert pieces == {"f": ['"f": ' + json.dumps(value, ensure_ascii=False), None]}


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from('ab "\\\n\x00\x1fé🦜\ud800'),
                                             max_size=6),
                          st.lists(st.text(max_size=3), max_size=2)), max_size=40),
       st.integers(0, 9000))
def test_field_pieces_of_a_long_column_are_each_values_json(values, padding):
    # Values are checked for escapes a few thousand at a time: whatever sits in a chunk (or
    # across a chunk's edge) must not change another value's text.
    column = ["plain"] * padding + values + ["plain"] * 5
    pieces = _field_pieces([("f", column)], list(range(len(column))))["f"]
    assert pieces == [None if v is None else '"f": ' + json.dumps(v, ensure_ascii=False)
                      for v in column]
