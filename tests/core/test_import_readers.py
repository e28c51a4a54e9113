"""Import readers: JSONL, CSV and Parquet all land in the same wide columns, exactly.

Each text reader has a fast path (pyarrow) and an exact path (stdlib, record by record) that
runs when a file has a broken record. Many tests run on both paths: ``exact`` appends one
broken record to the end of the file, which must not change anything about the other records.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.importing import (
    ImportFileError,
    detect_format,
    read_import_bytes,
    read_import_file,
    readers,
    validate_table,
)
from core.templates import TEMPLATES

CORRECTNESS = TEMPLATES["correctness"]
BROKEN_JSONL = b'{"id": "broken", \n'


def jsonl(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def read_jsonl(data: bytes, path: str) -> readers.RawTable:
    """Read JSONL on the fast path, or on the exact path by appending a broken last line."""
    if path == "exact":
        data += BROKEN_JSONL
    else:
        assert readers._jsonl_fast(data) is not None, "precondition: pyarrow reads this file"
    raw = read_import_bytes(data, fmt="jsonl", name="f.jsonl")
    assert len(raw.unparsed) == (1 if path == "exact" else 0)
    return raw


def read_csv(data: bytes, path: str) -> readers.RawTable:
    """Read CSV on the fast path, or on the exact path by appending a ragged last row."""
    if path == "exact":
        data += b"ragged\n"
    raw = read_import_bytes(data, fmt="csv", name="f.csv")
    assert len(raw.unparsed) == (1 if path == "exact" else 0)
    return raw


PATHS = pytest.mark.parametrize("path", ["fast", "exact"])

NESTED = [
    {"id": "q1", "prompt": "Capital of France?", "response": "Paris",
     "judges": {"gpt-3.5-turbo": {"correct": "yes", "rationale": "matches"},
                "llama": {"correct": "incorrect"}},
     "humans": {"ann": {"correct": "correct", "comment": "easy"}}},
    {"id": "q2", "prompt": "2+2?", "response": "5",
     "judges": {"gpt-3.5-turbo": {"correct": "no", "rationale": "wrong"}, "llama": None},
     "humans": {"ann": {"correct": "incorrect", "comment": None}}},
]

NESTED_COLUMNS = {
    "id": ["q1", "q2"],
    "prompt": ["Capital of France?", "2+2?"],
    "response": ["Paris", "5"],
    "judge.gpt-3.5-turbo.correct": ["yes", "no"],
    "judge.gpt-3.5-turbo.rationale": ["matches", "wrong"],
    "judge.llama.correct": ["incorrect", None],
    "human.ann.correct": ["correct", "incorrect"],
    "human.ann.comment": ["easy", None],
}


# --- JSONL -----------------------------------------------------------------------------------

@PATHS
def test_jsonl_nested_judges_and_humans_flatten_to_wide_columns(path):
    raw = read_jsonl(jsonl(NESTED), path)
    assert raw.columns == NESTED_COLUMNS
    assert raw.n_rows == 2
    assert raw.format == "jsonl"


@PATHS
def test_jsonl_list_of_samples_becomes_indexed_columns(path):
    records = [
        {"id": "q1", "prompt": "p", "judges": {"j": [{"correct": "yes"}, {"correct": "no"},
                                                     {"correct": "yes", "raw": "YES!"}]}},
        {"id": "q2", "prompt": "p", "judges": {"j": [{"correct": "no"}]}},
    ]
    raw = read_jsonl(jsonl(records), path)
    assert raw.columns == {
        "id": ["q1", "q2"],
        "prompt": ["p", "p"],
        "judge.j.correct": ["yes", "no"],
        "judge.j[1].correct": ["no", None],
        "judge.j[2].correct": ["yes", None],
        "judge.j[2].raw": ["YES!", None],
    }
    batch = validate_table(raw, CORRECTNESS)
    assert [(v.judge, v.sample_index, v.label, v.raw_output) for v in batch.rows[0].verdicts] == [
        ("j", 0, "correct", None), ("j", 1, "incorrect", None), ("j", 2, "correct", "YES!")]
    assert [(v.sample_index, v.label) for v in batch.rows[1].verdicts] == [(0, "incorrect")]


@PATHS
def test_jsonl_blank_lines_do_not_shift_line_numbers(path):
    data = (b'\n{"id": "q1", "prompt": "p", "judges": {"j": {"correct": "yes"}}}\n'
            b'\n  \n'
            b'{"id": "q2", "prompt": "p", "judges": {"j": {"correct": "maybe"}}}\n'
            b'\r\n'
            b'{"id": "q3", "prompt": "p", "judges": {"j": {"correct": "nope"}}}\n')
    batch = validate_table(read_jsonl(data, path), CORRECTNESS)
    reported = [str(p) for p in batch.problems]
    assert reported[:2] == [
        "f.jsonl:line 5: judge.j.correct: unknown label 'maybe' (allowed: correct, incorrect)",
        "f.jsonl:line 7: judge.j.correct: unknown label 'nope' (allowed: correct, incorrect)",
    ]
    if path == "exact":
        assert reported[2].startswith("f.jsonl:line 8: bad JSON: ")


def test_jsonl_without_blank_lines_counts_lines_from_one():
    data = jsonl([{"id": f"q{i}", "prompt": "p", "judges": {"j": {"correct": "yes"}}}
                  for i in range(1, 4)] + [{"id": "q4", "prompt": "p",
                                            "judges": {"j": {"correct": "?"}}}])
    batch = validate_table(read_jsonl(data, "fast"), CORRECTNESS)
    assert [str(p) for p in batch.problems] == [
        "f.jsonl:line 4: judge.j.correct: unknown label '?' (allowed: correct, incorrect)"]


def test_jsonl_crlf_line_endings_read_like_lf():
    lf = jsonl(NESTED)
    crlf = lf.replace(b"\n", b"\r\n")
    assert read_jsonl(crlf, "fast").columns == NESTED_COLUMNS
    assert read_jsonl(crlf, "exact").columns == NESTED_COLUMNS


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n\t\n"])
def test_empty_jsonl_file_is_a_file_error(data):
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(data, fmt="jsonl", name="f.jsonl")
    assert str(info.value) == "f.jsonl:file: the file is empty"


# --- CSV -------------------------------------------------------------------------------------

WIDE_HEADER = ["id", "prompt", "response", "judge.gpt-3.5-turbo.correct",
               "judge.gpt-3.5-turbo.rationale", "judge.llama.correct", "human.ann.correct",
               "human.ann.comment"]
WIDE_ROWS = [["q1", "Capital of France?", "Paris", "yes", "matches", "incorrect", "correct", "easy"],
             ["q2", "2+2?", "5", "no", "wrong", "", "incorrect", ""]]


@PATHS
def test_csv_wide_columns_are_read_as_text(path):
    raw = read_csv(csv_text(WIDE_HEADER, WIDE_ROWS), path)
    # CSV has no null: an empty cell is the empty string (validation treats it as missing).
    assert raw.columns == {key: [("" if v is None else v) for v in values]
                           for key, values in NESTED_COLUMNS.items()}
    assert raw.string_columns == frozenset(WIDE_HEADER)


@PATHS
def test_csv_multiline_cell_reports_the_physical_line_of_a_later_row(path):
    data = (b'id,prompt,judge.j.correct\n'
            b'q1,"line one\nline two\nline three",yes\n'    # lines 2-4
            b'q2,"say ""hi""\r\nthere",no\n'                # lines 5-6
            b'q3,plain,maybe\n')                            # line 7
    raw = read_csv(data, path)
    assert raw.columns["prompt"] == ["line one\nline two\nline three", 'say "hi"\r\nthere', "plain"]
    batch = validate_table(raw, CORRECTNESS)
    reported = [str(p) for p in batch.problems]
    assert reported[0] == ("f.csv:line 7: judge.j.correct: unknown label 'maybe' "
                           "(allowed: correct, incorrect)")
    if path == "exact":
        assert reported[1:] == ["f.csv:line 8: expected 3 fields, got 1"]


@PATHS
def test_csv_blank_line_does_not_shift_line_numbers(path):
    data = b"id,prompt,judge.j.correct\nq1,p,yes\n\nq2,p,maybe\n"
    batch = validate_table(read_csv(data, path), CORRECTNESS)
    assert str(batch.problems[0]) == (
        "f.csv:line 4: judge.j.correct: unknown label 'maybe' (allowed: correct, incorrect)")
    assert [row.external_id for row in batch.rows] == ["q1"]


@PATHS
def test_csv_byte_order_mark_is_not_part_of_the_first_column(path):
    raw = read_csv(b"\xef\xbb\xbfid,prompt\r\nq1,p\r\n", path)
    assert list(raw.columns) == ["id", "prompt"]
    assert raw.columns["id"] == ["q1"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n"])
def test_empty_csv_file_is_a_file_error(data):
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(data, fmt="csv", name="f.csv")
    assert str(info.value) == "f.csv:file: the file is empty"


def test_csv_with_header_only_has_no_rows():
    raw = read_import_bytes(b"id,prompt\n", fmt="csv", name="f.csv")
    assert raw.n_rows == 0
    assert raw.columns == {"id": [], "prompt": []}


def test_duplicate_csv_header_is_a_file_error():
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(b"id,prompt,prompt\nq1,a,b\n", fmt="csv", name="f.csv")
    assert [str(p) for p in info.value.problems] == ["f.csv:header: prompt: duplicate column name"]


def test_every_bad_header_column_is_reported():
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(b"id,,prompt,id\n1,2,3,4\n", fmt="csv", name="f.csv")
    assert [str(p) for p in info.value.problems] == [
        "f.csv:header: column 2: empty column name",
        "f.csv:header: id: duplicate column name",
    ]
    assert str(info.value) == ("f.csv:header: column 2: empty column name\n"
                               "f.csv:header: id: duplicate column name")


def test_undecodable_csv_header_is_a_file_error():
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(b"id,pr\xffompt\nq1,p\n", fmt="csv", name="f.csv")
    assert str(info.value) == "f.csv:line 1: undecodable bytes in the header: not UTF-8 at byte 5"


# --- Parquet ---------------------------------------------------------------------------------

def test_parquet_nested_struct_judges_flatten_like_jsonl():
    table = pa.Table.from_pylist(NESTED)
    assert pa.types.is_struct(table.schema.field("judges").type)
    raw = read_import_bytes(parquet(table), fmt="parquet", name="f.parquet")
    assert raw.columns == NESTED_COLUMNS
    assert raw.format == "parquet"


def test_parquet_wide_columns_and_row_locations():
    table = pa.table({column: [row[i] or None for row in WIDE_ROWS]
                      for i, column in enumerate(WIDE_HEADER)})
    table = table.set_column(3, "judge.gpt-3.5-turbo.correct", pa.array(["yes", "maybe"]))
    raw = read_import_bytes(parquet(table), fmt="parquet", name="f.parquet")
    assert raw.columns["judge.gpt-3.5-turbo.correct"] == ["yes", "maybe"]
    batch = validate_table(raw, CORRECTNESS)
    assert [str(p) for p in batch.problems] == [
        "f.parquet:row 2: judge.gpt-3.5-turbo.correct: unknown label 'maybe' "
        "(allowed: correct, incorrect)"]


def test_parquet_list_of_samples_and_large_strings():
    table = pa.table({
        "id": pa.array(["q1"], pa.large_string()),
        "prompt": pa.array(["p"], pa.large_string()),
        "judges": pa.array([{"j": [{"correct": "yes"}, {"correct": "no"}]}]),
    })
    raw = read_import_bytes(parquet(table), fmt="parquet", name="f.parquet")
    assert raw.columns == {"id": ["q1"], "prompt": ["p"], "judge.j.correct": ["yes"],
                           "judge.j[1].correct": ["no"]}
    assert {"id", "prompt"} <= raw.string_columns


def test_unreadable_parquet_is_a_file_error():
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(b"PAR1 not really", fmt="parquet", name="f.parquet")
    assert str(info.value).startswith("f.parquet:file: not a readable Parquet file: ")


# --- the same judge name in every format -------------------------------------------------------

def test_dotted_judge_name_survives_all_three_formats(tmp_path):
    records = [{"id": "q1", "prompt": "p", "judges": {"gpt-3.5-turbo": {"correct": "yes"}},
                "humans": {"dr.smith": {"correct": "no"}}}]
    files = {
        "items.jsonl": jsonl(records),
        "items.csv": csv_text(["id", "prompt", "judge.gpt-3.5-turbo.correct",
                               "human.dr.smith.correct"], [["q1", "p", "yes", "no"]]),
        "nested.parquet": parquet(pa.Table.from_pylist(records)),
        "wide.parquet": parquet(pa.table({"id": ["q1"], "prompt": ["p"],
                                          "judge.gpt-3.5-turbo.correct": ["yes"],
                                          "human.dr.smith.correct": ["no"]})),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        batch = validate_table(read_import_file(tmp_path / name), CORRECTNESS)
        assert batch.problems == [], name
        assert batch.judges == ("gpt-3.5-turbo",), name
        assert batch.annotators == ("dr.smith",), name
        row = batch.rows[0]
        assert [(v.judge, v.dimension, v.label) for v in row.verdicts] == [
            ("gpt-3.5-turbo", "correct", "correct")], name
        assert [(h.annotator, h.label) for h in row.human_labels] == [("dr.smith", "incorrect")], name


# --- file-level errors -----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "suffix"), [("items.txt", "'.txt'"), ("items", "'(none)'"),
                                              ("items.xlsx", "'.xlsx'")])
def test_unknown_extension_is_a_file_error(tmp_path, name, suffix):
    path = tmp_path / name
    path.write_bytes(b'{"id": 1}\n')
    with pytest.raises(ImportFileError) as info:
        read_import_file(path)
    assert str(info.value) == (f"{path}:file: unknown file type {suffix}; use .jsonl, .ndjson, "
                               ".json, .csv, .parquet, .pq")


@pytest.mark.parametrize(("name", "fmt"), [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"),
                                           ("a.json", "jsonl"), ("a.CSV", "csv"),
                                           ("a.parquet", "parquet"), ("a.pq", "parquet")])
def test_detect_format_from_extension(name, fmt):
    assert readers.detect_format(name) == fmt


def test_missing_file_is_a_file_error(tmp_path):
    path = tmp_path / "absent.jsonl"
    with pytest.raises(ImportFileError) as info:
        read_import_file(path)
    assert str(info.value) == f"{path}:file: cannot read: No such file or directory"


def test_read_import_file_uses_the_given_display_name(tmp_path):
    path = tmp_path / "upload-3f2a.bin"
    path.write_bytes(b'{"id": "q1", "prompt": "p", "judges": {"j": {"correct": "?"}}}\n')
    batch = validate_table(read_import_file(path, fmt="jsonl", name="my items.jsonl"), CORRECTNESS)
    assert str(batch.problems[0]).startswith("my items.jsonl:line 1: judge.j.correct: ")


def test_unknown_format_name_is_a_file_error():
    with pytest.raises(ImportFileError) as info:
        read_import_bytes(b"x", fmt="xlsx", name="f.xlsx")
    assert str(info.value) == "f.xlsx:file: unknown format 'xlsx'"


# --- the fast path and the exact path agree ----------------------------------------------------

RICH = [
    {"id": "q1", "prompt": "Füße — naïve ☃ \"quoted\"\nsecond line", "response": "",
     "model": "m-1", "group": "g", "difficulty": 3, "score": 0.1, "flag": True,
     "tags": ["a", "b"], "note": None,
     "judges": {"gpt-3.5-turbo": {"correct": "yes", "rationale": "r1", "raw": "YES"}},
     "humans": {"ann": {"correct": "no", "comment": "hmm"}}},
    {"id": "q2", "prompt": "second", "response": "r", "model": None, "group": "g",
     "difficulty": 5, "score": 2.75, "flag": False, "tags": [], "note": "x",
     "judges": {"gpt-3.5-turbo": {"correct": "incorrect", "rationale": None, "raw": None},
                "absent": None},
     "humans": None},
]
# Integer ids, bool labels and samples whose objects have different keys.
RICH_SAMPLES = [
    {"id": 1, "prompt": "third", "difficulty": -1, "score": 1e-3, "flag": None,
     "judges": {"gpt-3.5-turbo": [{"correct": True}, {"correct": False, "raw": "F"}]},
     "humans": {"ann": {"correct": True}}},
    {"id": 2, "prompt": "fourth",
     "judges": {"gpt-3.5-turbo": [{"correct": False, "rationale": "r"}]},
     "humans": {"ann": {"correct": None, "comment": None}}},
]
# Every group and rater is null: the fast path must not invent columns for them.
ALL_NULL = [{"id": "q1", "prompt": "p", "judges": {"j": None}, "humans": None},
            {"id": "q2", "prompt": "p", "judges": {"j": None}, "humans": None}]


def comparable(batch) -> list[tuple]:
    return [(r.row, r.external_id, r.fields, r.model, r.group, r.metadata, r.fields_json,
             r.metadata_json, r.content_hash, r.verdicts, r.human_labels) for r in batch.rows]


def test_jsonl_fast_and_exact_paths_give_the_same_columns_and_rows():
    for records in (RICH, RICH_SAMPLES, ALL_NULL):
        data = jsonl(records)
        fast, exact = read_jsonl(data, "fast"), read_jsonl(data, "exact")
        assert fast.columns == exact.columns
        assert comparable(validate_table(fast, CORRECTNESS)) == comparable(
            validate_table(exact, CORRECTNESS))


@pytest.mark.parametrize("kind", [RICH, RICH_SAMPLES], ids=["objects", "samples"])
def test_a_file_pyarrow_parses_in_many_blocks_reads_like_the_exact_path(kind):
    # ~3 MB: pyarrow parses 1 MB blocks into chunks, which the fast path reads one by one.
    records = [{**kind[i % 2], "id": i if kind is RICH_SAMPLES else f"r{i}", "padding": "x" * 700}
               for i in range(4000)]
    data = jsonl(records)
    parsed = readers._jsonl_fast(data)
    assert parsed is not None and parsed[0].column("judges").num_chunks > 1  # precondition
    fast, exact = read_jsonl(data, "fast"), read_jsonl(data, "exact")
    assert fast.columns == exact.columns
    assert comparable(validate_table(fast, CORRECTNESS)) == comparable(
        validate_table(exact, CORRECTNESS))


def test_csv_fast_and_exact_paths_give_the_same_columns_and_rows():
    header = ["id", "prompt", "response", "model", "group", "difficulty", "judge.j.correct",
              "judge.j[1].correct", "human.ann.correct", "human.ann.comment"]
    rows = [["q1", "Füße — naïve ☃ \"quoted\"\nsecond line", "", "m-1", "g", "3", "yes", "no",
             "", ""],
            ["q2", "  spaced  ", "r\r\nwith crlf", "", "", "2024-01-01", "INCORRECT", "", "1", "c"],
            ["3", "x,y;z", "'single'", "m", "g", "9007199254740993", "", "", "false", ""]]
    data = csv_text(header, rows)
    fast, exact = read_csv(data, "fast"), read_csv(data, "exact")
    assert fast.columns == exact.columns
    assert fast.columns["response"] == ["", "r\r\nwith crlf", "'single'"]
    assert comparable(validate_table(fast, CORRECTNESS)) == comparable(
        validate_table(exact, CORRECTNESS))


# --- pyarrow's silent reinterpretations are not let through -------------------------------------

DATES = ["2024-01-01", "2024-01-01T10:00:00", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z"]


@pytest.mark.parametrize("date", DATES)
def test_iso_date_strings_stay_exact_strings(date):
    records = [{"id": "q1", "prompt": date, "created": date,
                "judges": {"j": {"correct": "yes", "rationale": date}}}]
    raw = read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl")
    assert raw.columns["prompt"] == [date]
    assert raw.columns["created"] == [date]
    assert raw.columns["judge.j.rationale"] == [date]
    row = validate_table(raw, CORRECTNESS).rows[0]
    assert row.fields == {"prompt": date}
    assert row.metadata == {"created": date}
    assert row.verdicts[0].rationale == date


@pytest.mark.parametrize("big", [2**53 + 1, 2**63 - 1, 2**63 + 1, 12345678901234567890123])
def test_integer_ids_above_2_to_the_53_stay_exact(big):
    records = [{"id": big, "prompt": "p"}, {"id": 1, "prompt": "p"}]
    batch = validate_table(read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl"),
                           CORRECTNESS)
    assert [row.external_id for row in batch.rows] == [str(big), "1"]


def test_big_integer_metadata_next_to_fractions_stays_exact():
    records = [{"id": "q1", "prompt": "p", "seed": 2**53 + 1}, {"id": "q2", "prompt": "p", "seed": 0.5}]
    batch = validate_table(read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl"),
                           CORRECTNESS)
    assert [row.metadata for row in batch.rows] == [{"seed": 2**53 + 1}, {"seed": 0.5}]
    assert batch.rows[0].metadata_json == '{"seed": 9007199254740993}'


def test_integers_next_to_fractions_stay_integers():
    # pyarrow widens such a column to double: 3 would come back as 3.0.
    records = [{"id": "q1", "prompt": "p", "difficulty": 3, "weights": [1, 2]},
               {"id": "q2", "prompt": "p", "difficulty": 2.5, "weights": [0.5]}]
    batch = validate_table(read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl"),
                           CORRECTNESS)
    assert [row.metadata_json for row in batch.rows] == [
        '{"difficulty": 3, "weights": [1, 2]}', '{"difficulty": 2.5, "weights": [0.5]}']


def test_nested_metadata_objects_keep_exactly_their_own_keys():
    # pyarrow reads objects as one struct type: each row would gain the other rows' keys as null.
    records = [{"id": "q1", "prompt": "p", "meta": {"source": "wiki"}},
               {"id": "q2", "prompt": "p", "meta": {"page": 7, "tags": [{"k": "v"}]}}]
    batch = validate_table(read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl"),
                           CORRECTNESS)
    assert [row.metadata for row in batch.rows] == [
        {"meta": {"source": "wiki"}}, {"meta": {"page": 7, "tags": [{"k": "v"}]}}]


def test_reader_registry_covers_the_documented_formats():
    assert set(readers.READERS) == {"jsonl", "csv", "parquet"}


def test_raw_table_counts_unparsed_records():
    raw = read_import_bytes(jsonl(NESTED) + BROKEN_JSONL + b"[1]\n", fmt="jsonl", name="f.jsonl")
    assert (raw.n_rows, len(raw.unparsed), raw.total_records) == (2, 2, 4)



def test_samples_with_different_keys_give_only_the_columns_that_hold_values():
    raw = read_jsonl(jsonl(RICH_SAMPLES), "fast")
    assert {k: v for k, v in raw.columns.items() if k.startswith(("judge.", "human."))} == {
        "judge.gpt-3.5-turbo.correct": [True, False],
        "judge.gpt-3.5-turbo.rationale": [None, "r"],
        "judge.gpt-3.5-turbo[1].correct": [False, None],
        "judge.gpt-3.5-turbo[1].raw": ["F", None],
        "human.ann.correct": [True, None],
    }


@PATHS
def test_judges_and_humans_null_in_every_row_mean_no_labels(path):
    raw = read_jsonl(jsonl(ALL_NULL), path)
    assert raw.columns == {"id": ["q1", "q2"], "prompt": ["p", "p"]}
    batch = validate_table(raw, CORRECTNESS)
    assert [row.external_id for row in batch.rows] == ["q1", "q2"]
    assert (batch.judges, batch.annotators) == ((), ())
    assert len(batch.problems) == (0 if path == "fast" else 1)  # the appended broken line


# --- JSON arrays (.json files written by many tools) ------------------------------------------

def test_json_array_reads_like_jsonl_and_locates_records_by_line():
    records = [{"id": "a", "prompt": "p1", "judges": {"gpt-3.5-turbo": {"correct": "correct"}}},
               {"id": "b", "prompt": "p2", "humans": {"ann": {"correct": "incorrect"}}}]
    array = b"[\n  " + json.dumps(records[0]).encode() + b",\n\n  {\n" + \
        json.dumps(records[1]).encode()[1:] + b",\n  3\n]\n"

    raw = read_import_bytes(array, fmt="jsonl", name="f.json")
    same = read_import_bytes(jsonl(records), fmt="jsonl", name="f.jsonl")

    assert raw.format == "json"
    assert raw.columns == same.columns
    assert [raw.line_of(0), raw.line_of(1)] == ["line 2", "line 4"]
    assert [str(p) for p in raw.unparsed] == ["f.json:line 6: expected a JSON object, got a number"]


@pytest.mark.parametrize(("data", "message"), [
    (b'[{"id": "a",}]', "f.json:line 1: bad JSON in the array: Expecting property name enclosed "
                        "in double quotes"),
    (b'[{"id": "a"}\n {"id": "b"}]', "f.json:line 2: bad JSON in the array: expected ',' or ']'"),
    (b'[{"id": "a"}]\n{"id": "b"}', "f.json:line 1: unexpected text after the JSON array"),
    (b'[{"id": "a"},\n{"id": "\xff"}]', "f.json:line 2: undecodable bytes: not UTF-8"),
])
def test_broken_json_array_is_a_file_level_error(data, message):
    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt="jsonl", name="f.json")
    assert str(caught.value) == message


def test_pandalm_json_array_file_reads_directly(shared_data):
    raw = read_import_file(shared_data / "PandaLM" / "data" / "testset-v1.json")

    assert raw.n_rows == 999 and not raw.unparsed
    assert raw.columns["idx"][:3] == [0, 1, 2]
    assert {"instruction", "response1", "response2", "annotator1"} <= set(raw.columns)


@pytest.mark.parametrize("name", ["items\x00.jsonl", "a\nb.csv", "tab\t.parquet"])
def test_a_file_name_with_a_control_character_is_refused(name):
    with pytest.raises(ImportFileError) as info:
        detect_format(name)
    (problem,) = info.value.problems
    assert problem.reason.startswith("the file name holds the control character ")
    assert "\x00" not in problem.file and "\n" not in problem.file
