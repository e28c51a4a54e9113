"""NUL characters and lone surrogates are refused by validation, with the line and the field.

Before the fix a NUL passed validation ("No problems"), was stored on SQLite and crashed
PostgreSQL at write time; a lone surrogate (``\\ud800``, which JSON can spell) crashed the
write with a UnicodeEncodeError. Now each is a problem of its record, reported the same way on
both backends, and nothing of that record is written.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.importing import ImportProblem, ImportRejected, read_import_bytes, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import get_project
from storage.readback import human_labels_frame, items_frame, verdicts_frame
from tests.converters import to_wide

CORRECTNESS = TEMPLATES["correctness"]
NUL_REASON = "contains a NUL character (U+0000), which cannot be stored"
SURROGATE_REASON = "contains a lone surrogate (U+D800), which is not valid Unicode"


def good(item_id: str) -> dict[str, Any]:
    return {"id": item_id, "prompt": "Capital of France?", "response": "Paris", "model": "m",
            "topic": "geo", "judges": {"gpt": {"correct": "correct", "rationale": "fine"}},
            "humans": {"ann": {"correct": "correct", "comment": "ok"}}}


def with_text(char: str, where: str) -> tuple[dict[str, Any], str]:
    """A record holding ``char`` at ``where``; returns it and the field the problem names."""
    record = good("bad")
    text = f"a{char}b"
    if where == "field":
        record["response"] = text
        return record, "response"
    if where == "id":
        record["id"] = text
        return record, "id"
    if where == "model":
        record["model"] = text
        return record, "model"
    if where == "metadata":
        record["topic"] = text
        return record, "topic"
    if where == "rationale":
        record["judges"]["gpt"]["rationale"] = text
        return record, "judge.gpt.rationale"
    if where == "comment":
        record["humans"]["ann"]["comment"] = text
        return record, "human.ann.comment"
    raise AssertionError(where)


PLACES = ["field", "id", "model", "metadata", "rationale", "comment"]


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def csv_bytes(records: list[dict[str, Any]]) -> bytes:
    rows = [to_wide(r) for r in records]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue().encode("utf-8", errors="surrogatepass")


def parquet_bytes(records: list[dict[str, Any]]) -> bytes:
    rows = [to_wide(r) for r in records]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    sink = io.BytesIO()
    pq.write_table(pa.table({c: pa.array([row.get(c) for row in rows], pa.string())
                             for c in columns}), sink)
    return sink.getvalue()


def problems_of(data: bytes, fmt: str, name: str) -> list[ImportProblem]:
    return validate_table(read_import_bytes(data, fmt=fmt, name=name), CORRECTNESS).problems


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("path", ["fast", "exact"])
def test_nul_in_jsonl_is_a_problem_of_its_line(where, path):
    record, field = with_text("\x00", where)
    data = jsonl([good("a"), record, good("c")])
    if path == "exact":
        data += b'{"id": "broken", \n'
    problems = problems_of(data, "jsonl", "f.jsonl")
    assert ImportProblem("f.jsonl", "line 2", field, NUL_REASON, 1) in problems
    assert len(problems) == (1 if path == "fast" else 2)


@pytest.mark.parametrize("where", PLACES)
def test_lone_surrogate_in_jsonl_is_a_problem_of_its_line(where):
    record, field = with_text("\ud800", where)
    problems = problems_of(jsonl([good("a"), good("b"), record]), "jsonl", "f.jsonl")
    assert problems == [ImportProblem("f.jsonl", "line 3", field, SURROGATE_REASON, 2)]


@pytest.mark.parametrize("where", PLACES)
def test_nul_in_csv_is_a_problem_of_its_line(where):
    record, field = with_text("\x00", where)
    problems = problems_of(csv_bytes([good("a"), record]), "csv", "f.csv")
    assert problems == [ImportProblem("f.csv", "line 3", field, NUL_REASON, 1)]


@pytest.mark.parametrize("where", PLACES)
def test_nul_in_parquet_is_a_problem_of_its_row(where):
    record, field = with_text("\x00", where)
    problems = problems_of(parquet_bytes([record, good("b")]), "parquet", "f.parquet")
    assert problems == [ImportProblem("f.parquet", "row 1", field, NUL_REASON, 0)]


def test_invalid_utf8_in_parquet_is_a_problem_not_a_crash():
    # Parquet strings are meant to be UTF-8; a writer can still store any bytes there.
    value = pa.array([b"ok", b"a\xed\xa0\x80b"], pa.binary())
    broken = pa.Array.from_buffers(pa.string(), 2, value.buffers())
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "b"], "prompt": ["p", "p"], "response": broken}), sink)
    raw = read_import_bytes(sink.getvalue(), fmt="parquet", name="f.parquet")
    batch = validate_table(raw, CORRECTNESS)
    # As for an undecodable CSV line: a problem of the file's row 2, which was not parsed.
    assert batch.problems == [ImportProblem("f.parquet", "row 2", "response",
                                            "undecodable bytes: not UTF-8")]
    assert batch.items.external_ids == ["a"]


def test_nul_in_a_nested_metadata_key_or_list_is_found():
    record = good("b")
    record["extra"] = {"list": ["fine", {"k\x00": 1}]}
    problems = problems_of(jsonl([good("a"), record]), "jsonl", "f.jsonl")
    assert problems == [ImportProblem("f.jsonl", "line 2", "extra", NUL_REASON, 1)]


def test_nul_in_a_column_name_is_a_problem_of_the_rows_using_it():
    record = good("b")
    record["judges"]["g\x00pt"] = {"correct": "correct"}
    problems = problems_of(jsonl([good("a"), record]), "jsonl", "f.jsonl")
    assert problems == [ImportProblem("f.jsonl", "line 2", "judge.g\\x00pt.correct",
                                      "the column name " + NUL_REASON, 1)]


def test_a_nul_label_is_an_unknown_label_not_a_crash():
    record = good("b")
    record["judges"]["gpt"]["correct"] = "correct\x00"
    problems = problems_of(jsonl([good("a"), record]), "jsonl", "f.jsonl")
    assert [(p.location, p.field, p.reason) for p in problems] == [
        ("line 2", "judge.gpt.correct", NUL_REASON)]


@pytest.mark.parametrize("char", ["\x00", "\ud800"])
@pytest.mark.parametrize("where", PLACES)
def test_both_backends_refuse_the_record_and_write_the_rest(db, tmp_path, char, where):
    record, field = with_text(char, where)
    path = tmp_path / "f.jsonl"
    path.write_bytes(jsonl([good("a"), record, good("c")]))
    reason = NUL_REASON if char == "\x00" else SURROGATE_REASON

    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)
    assert [str(p) for p in rejected.value.batch.problems] == [f"{path}:line 2: {field}: {reason}"]

    _, summary = import_file(db, path, project_name="p", schema=CORRECTNESS, on_error="skip", actor=OPERATOR)
    assert (summary.added, summary.skipped, summary.verdicts, summary.human_labels) == (2, 1, 2, 2)
    with db.read() as session:
        project_id = get_project(session=session, name="p").id
        items = items_frame(session=session, project_id=project_id)
        verdicts = verdicts_frame(session=session, project_id=project_id)
        labels = human_labels_frame(session=session, project_id=project_id)
    assert sorted(items["id"]) == ["a", "c"]
    assert sorted(verdicts["id"]) == ["a", "c"]
    assert sorted(labels["id"]) == ["a", "c"]


def test_nul_in_csv_is_refused_on_both_backends(db, tmp_path):
    record, _ = with_text("\x00", "comment")
    path = tmp_path / "f.csv"
    path.write_bytes(csv_bytes([good("a"), record]))
    with pytest.raises(ImportRejected, match=r"line 3: human\.ann\.comment: contains a NUL"):
        import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)
