"""Deeply nested input is refused at once, with its line, before a parser sees it.

Measured before the fix: pyarrow's JSON reader spent 20 s on one JSONL line of 10,000 nested
arrays (the import then died of a RecursionError) and crashed the whole process (segmentation
fault) on 30,000 nested objects. Records may nest at most 64 levels (the record's own braces
count as the first); a deeper line is refused as a whole-file problem naming its line.
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.importing import ImportFileError, read_import_bytes, readers, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import project_names

CORRECTNESS = TEMPLATES["correctness"]
LIMIT = 64  # the limit, not read from the code under test
OK_LINE = json.dumps({"id": "ok", "prompt": "p", "response": "r"})


def record_with_depth(depth: int, kind: str, item_id: str = "deep") -> str:
    """A JSONL record whose deepest value sits ``depth`` levels down (the record is level 1):
    nested arrays, objects, or both in turn."""
    opens, closes = [], []
    for level in range(depth - 1):
        if kind == "arrays" or (kind == "mixed" and level % 2 == 0):
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"a": ')
            closes.append("}")
    value = "".join(opens) + "1" + "".join(reversed(closes))
    return f'{{"id": "{item_id}", "prompt": "p", "response": "r", "nested": {value}}}'


def depth_of(value) -> int:
    """Levels of arrays/objects in a decoded JSON value (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_record_depth_helper_is_exact(kind):
    for depth in (2, 3, 64, 65):
        assert depth_of(json.loads(record_with_depth(depth, kind))) == depth


@pytest.fixture
def no_parser(monkeypatch):
    """Fail the test if pyarrow's JSON reader or json.loads is asked to parse anything."""
    def refuse(*args, **kwargs):
        raise AssertionError("the file reached a JSON parser")
    monkeypatch.setattr(readers.pa_json, "read_json", refuse)
    monkeypatch.setattr(readers.json, "loads", refuse)


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_ten_thousand_levels_are_refused_with_the_line_before_parsing(no_parser, kind):
    data = "\n".join([OK_LINE, record_with_depth(10_000, kind), OK_LINE, ""]).encode()

    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt="jsonl", name="deep.jsonl")

    [problem] = caught.value.problems
    assert (problem.file, problem.location, problem.field) == ("deep.jsonl", "line 2", "")
    assert problem.reason == (f"nested deeper than {LIMIT} levels of arrays and objects; "
                              "the file was not parsed")


def test_every_deep_line_is_named():
    lines = [OK_LINE, record_with_depth(100, "arrays", "a"), "", record_with_depth(70, "objects", "b")]
    with pytest.raises(ImportFileError) as caught:
        read_import_bytes("\n".join(lines).encode(), fmt="jsonl", name="deep.jsonl")
    assert [p.location for p in caught.value.problems] == ["line 2", "line 4"]


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_the_limit_is_exact(kind):
    accepted = read_import_bytes((record_with_depth(LIMIT, kind) + "\n").encode(), fmt="jsonl",
                                 name="f.jsonl")
    assert depth_of(accepted.columns["nested"][0]) == LIMIT - 1
    with pytest.raises(ImportFileError, match=f"line 1: nested deeper than {LIMIT} levels"):
        read_import_bytes((record_with_depth(LIMIT + 1, kind) + "\n").encode(), fmt="jsonl",
                          name="f.jsonl")


def test_brackets_inside_strings_do_not_count():
    text = '[' * 3000 + '{' * 100 + '\\"[[[' + '"' + "\\\\" + "[" * 70
    record = {"id": "x", "prompt": text, "response": "r", "note": "]" * 10 + "{" * 200}
    raw = read_import_bytes((json.dumps(record) + "\n").encode(), fmt="jsonl", name="f.jsonl")
    assert raw.columns["prompt"] == [text]
    assert raw.columns["note"] == [record["note"]]


def test_a_deep_record_of_a_json_array_is_refused_with_its_line():
    data = ("[\n" + OK_LINE + ",\n" + record_with_depth(10_000, "arrays") + "\n]\n").encode()
    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt="jsonl", name="deep.json")
    [problem] = caught.value.problems
    assert problem.location == "line 3"
    assert problem.reason.startswith(f"nested deeper than {LIMIT} levels")


def test_a_json_array_record_just_over_the_limit_is_refused():
    data = ("[" + record_with_depth(LIMIT + 1, "objects") + "]").encode()
    with pytest.raises(ImportFileError, match=f"line 1: nested deeper than {LIMIT} levels"):
        read_import_bytes(data, fmt="jsonl", name="deep.json")
    accepted = read_import_bytes(("[" + record_with_depth(LIMIT, "objects") + "]").encode(),
                                 fmt="jsonl", name="ok.json")
    assert accepted.n_rows == 1


def test_a_deeply_nested_parquet_column_is_refused_from_the_schema():
    # Structs: Parquet itself refuses schemas over 100 levels, and a list takes three.
    value_type, value = pa.int64(), 1
    for _ in range(LIMIT + 5):
        value_type, value = pa.struct([("a", value_type)]), {"a": value}
    table = pa.table({"id": ["a"], "prompt": ["p"], "response": ["r"],
                      "nested": pa.array([value], type=value_type)})
    sink = io.BytesIO()
    pq.write_table(table, sink)

    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(sink.getvalue(), fmt="parquet", name="deep.parquet")
    [problem] = caught.value.problems
    assert (problem.location, problem.field) == ("file", "nested")
    assert problem.reason.startswith(f"nested deeper than {LIMIT} levels")


def test_a_deep_file_is_refused_and_nothing_is_written(db, tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([OK_LINE, record_with_depth(10_000, "arrays")]) + "\n")

    with pytest.raises(ImportFileError, match="line 2: nested deeper"):
        import_file(db, path, project_name="deep", schema=CORRECTNESS, on_error="skip", actor=OPERATOR)
    with db.read() as session:
        assert project_names(session=session) == []


def test_validated_depth_is_still_the_records_own():
    # A record at the limit validates: its nested metadata is kept as it was.
    raw = read_import_bytes((record_with_depth(LIMIT, "mixed") + "\n").encode(), fmt="jsonl",
                            name="f.jsonl")
    batch = validate_table(raw, CORRECTNESS)
    assert batch.is_clean
    assert depth_of(batch.items.metadata[0]["nested"]) == LIMIT - 1
