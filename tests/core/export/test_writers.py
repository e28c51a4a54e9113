"""Export writers: formula neutralisation, exact JSONL, typed Parquet, atomic files, sidecar."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.export.writers import (
    Column,
    ExportError,
    columns_of,
    csv_cells,
    csv_lines,
    jsonl_members,
    meta_path_for,
    neutralize_formula,
    write_table,
    write_text,
)

COLUMNS = [Column("id"), Column("text"), Column("n", "int"), Column("score", "float"),
           Column("ok", "bool"), Column("at", "timestamp"), Column("meta", "json"),
           Column("sources", "texts")]
AT = datetime(2026, 11, 29, 7, 30, 0, 123456, tzinfo=UTC)
ROWS = [{"id": "a", "text": "=HYPERLINK(\"http://127.0.0.1:9/x\")", "n": 1, "score": 0.5,
         "ok": True, "at": AT, "meta": {"k": [1, 2]}, "sources": ["one", "two"]},
        {"id": "b", "text": None, "n": None, "score": None, "ok": None, "at": None,
         "meta": None, "sources": "single"}]


@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"), ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"),
    ("-٣", "'-٣"),  # not a number to a spreadsheet: Arabic-Indic digits
    ("-1", "-1"), ("+3.5", "+3.5"), ("-.5e3", "-.5e3"), ("3", "3"), ("plain = text", "plain = text"),
    ("", ""), ("'quoted", "'quoted"),
])
def test_neutralize_formula_follows_the_owasp_rule(cell: str, expected: str):
    assert neutralize_formula(cell) == expected


HEADER = [Column("id"), Column("=evil")]


def test_csv_neutralises_text_cells_and_header(tmp_path: Path):
    written = write_table(tmp_path / "x.csv", "csv", HEADER,
                          [columns_of([{"id": "@me", "=evil": "-2+3"}, {"id": "-1", "=evil": "safe"}],
                                      HEADER)], {})
    with written.path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    assert rows == [["id", "'=evil"], ["'@me", "'-2+3"], ["-1", "safe"]]


def test_jsonl_keeps_text_exact_and_types(tmp_path: Path):
    text = "emoji 🧪 RTL עברית العربية \x01\x1f ctrl \u2028 sep \"quoted\" \\ back\nline" + "x" * 100_000
    rows = [{**ROWS[0], "text": text}, ROWS[1]]
    written = write_table(tmp_path / "x.jsonl", "jsonl", COLUMNS, [columns_of(rows, COLUMNS)],
                          {"project": "p"})
    raw = written.path.read_bytes()
    assert "🧪 RTL עברית العربية".encode() in raw  # not ASCII-escaped
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 3
    first, second = (json.loads(line) for line in lines[:2])
    assert first["text"] == text
    assert first["at"] == "2026-11-29T07:30:00.123456+00:00"
    assert (first["n"], first["score"], first["ok"], first["meta"]) == (1, 0.5, True, {"k": [1, 2]})
    assert first["sources"] == ["one", "two"] and second["sources"] == "single"
    assert list(first) == [c.name for c in COLUMNS]
    assert all(value is None for key, value in second.items() if key not in ("id", "sources"))


def test_parquet_has_typed_columns_and_metadata(tmp_path: Path):
    batches = [columns_of(ROWS[:1], COLUMNS), columns_of([], COLUMNS), columns_of(ROWS[1:], COLUMNS)]
    written = write_table(tmp_path / "x.parquet", "parquet", COLUMNS, batches, {"project": "p"})
    table = pq.read_table(written.path)
    assert table.column_names == [c.name for c in COLUMNS]
    assert str(table.schema.field("n").type) == "int64"
    assert str(table.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("sources").type) == "list<element: string>"
    data = table.to_pylist()
    assert data[0]["at"] == AT and data[0]["meta"] == '{"k": [1, 2]}'
    assert data[1]["sources"] == ["single"] and data[1]["text"] is None
    embedded = json.loads(pq.read_metadata(written.path).metadata[b"docket"])
    assert embedded["project"] == "p" and embedded["rows"] == 2
    assert [c["name"] for c in embedded["columns"]] == table.column_names


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_sidecar_has_row_count_and_checksum(tmp_path: Path, fmt: str):
    written = write_table(tmp_path / f"x.{fmt}", fmt, COLUMNS, iter([columns_of(ROWS, COLUMNS)]),
                          {"kind": "gold"})
    meta = json.loads(meta_path_for(written.path).read_text(encoding="utf-8"))
    assert meta["sha256"] == hashlib.sha256(written.path.read_bytes()).hexdigest() == written.sha256
    assert (meta["rows"], meta["kind"], meta["file"]) == (2, "gold", f"x.{fmt}")
    assert meta["bytes"] == written.path.stat().st_size


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_failed_export_leaves_the_previous_file_and_no_temporary(tmp_path: Path, fmt: str):
    target = tmp_path / f"x.{fmt}"
    target.write_bytes(b"previous export")

    def batches():
        yield columns_of(ROWS, COLUMNS)
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_table(target, fmt, COLUMNS, batches(), {})
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"x.{fmt}"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_many_batches_land_in_order_and_the_checksum_covers_them(tmp_path: Path, fmt: str):
    # Writes run on a background thread a few batches behind; order and checksum must hold.
    columns = [Column("id"), Column("n", "int")]
    batches = [[[f"r{b}-{i}" for i in range(7)], list(range(b * 7, b * 7 + 7))] for b in range(60)]
    written = write_table(tmp_path / f"x.{fmt}", fmt, columns, iter(batches), {})
    assert written.rows == 420
    assert written.sha256 == hashlib.sha256(written.path.read_bytes()).hexdigest()
    if fmt == "parquet":
        numbers = pq.read_table(written.path).column("n").to_pylist()
    elif fmt == "csv":
        numbers = [int(row["n"]) for row in csv.DictReader(io.StringIO(written.path.read_text()))]
    else:
        numbers = [json.loads(line)["n"] for line in written.path.read_text().splitlines()]
    assert numbers == list(range(420))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_failing_disk_write_fails_the_export_and_leaves_nothing(tmp_path: Path, fmt: str,
                                                                 monkeypatch):
    target = tmp_path / f"x.{fmt}"
    target.write_bytes(b"previous export")
    real_write = io.BufferedWriter.write
    calls = []

    class FullDisk(io.BufferedWriter):
        def write(self, data):  # the third write finds the disk full
            calls.append(len(data))
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
            return real_write(self, data)

    import core.export.temporary as temporary  # where the export's file is opened
    real_fdopen = temporary.os.fdopen
    monkeypatch.setattr(temporary.os, "fdopen",
                        lambda fd, mode, buffering: FullDisk(real_fdopen(fd, mode, buffering=0),
                                                             buffering))
    batches = ([[f"r{b}"] * 5, [b] * 5] for b in range(40))
    with pytest.raises(OSError, match="No space left"):
        write_table(target, fmt, [Column("id"), Column("n", "int")], batches, {})
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"x.{fmt}"]


def test_bad_requests_are_named(tmp_path: Path):
    with pytest.raises(ExportError, match="unknown table format 'xlsx'"):
        write_table(tmp_path / "x", "xlsx", COLUMNS, [], {})
    with pytest.raises(ExportError, match="two output columns are named 'id'"):
        write_table(tmp_path / "x", "csv", [Column("id"), Column("id")], [], {})
    with pytest.raises(ExportError, match="does not exist"):
        write_table(tmp_path / "missing" / "x.csv", "csv", COLUMNS, [], {})
    with pytest.raises(ExportError, match="unknown type 'blob'"):
        write_table(tmp_path / "x", "csv", [Column("id", "blob")], [], {})


def test_write_text_is_atomic_with_sidecar(tmp_path: Path):
    written = write_text(tmp_path / "r.html", "<p>é</p>", {"kind": "report"})
    assert written.path.read_text(encoding="utf-8") == "<p>é</p>"
    assert json.loads(written.meta_path.read_text())["sha256"] == written.sha256


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.integers()),
                          st.one_of(st.none(), st.text(alphabet=',"\r\n =+-@\tab'))),
                min_size=1, max_size=20))
def test_csv_cells_write_what_the_csv_module_writes(rows):
    columns = [Column("a"), Column("n", "int"), Column("b")]
    batch = columns_of([dict(zip(("a", "n", "b"), row, strict=True)) for row in rows], columns)
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows(
        [neutralize_formula(v) if isinstance(v, str) else v for v in row] for row in rows)
    assert b"".join(line + b"\r\n" for line in csv_cells(columns, batch)
                    ) == expected.getvalue().encode("utf-8")
    assert csv_lines(columns, batch) == expected.getvalue().encode("utf-8")
    # Text read from the database as UTF-8 bytes (all of it, or one column) gives the same.
    as_bytes = [[v.encode("utf-8") if isinstance(v, str) else v for v in column] for column in batch]
    assert csv_cells(columns, as_bytes) == csv_cells(columns, batch)
    assert csv_lines(columns, as_bytes) == csv_lines(columns, [as_bytes[0], *batch[1:]]) == (
        expected.getvalue().encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["correct", "incorrect", None, 'say "hi"\n']),
                          st.one_of(st.none(), st.integers(0, 3)),
                          st.sampled_from([None, AT, datetime(2026, 1, 1, tzinfo=UTC)])),
                max_size=30))
def test_jsonl_members_are_each_rows_json_members(rows):
    # Rows repeat (as gold columns do), and each distinct row is encoded once: every row must
    # still get its own members.
    columns = [Column("gold"), Column("n", "int"), Column("at", "timestamp")]
    batch = columns_of([dict(zip(("gold", "n", "at"), row, strict=True)) for row in rows], columns)
    tails = jsonl_members(columns, batch)
    assert len(tails) == len(rows)
    for tail, (gold, n, at) in zip(tails, rows, strict=True):
        expected = {"gold": gold, "n": n, "at": None if at is None else at.isoformat()}
        assert tail.endswith(b"}\n")
        assert json.loads(b"{" + tail) == expected


def test_jsonl_members_keep_values_that_are_equal_but_encode_differently():
    # 1 == 1.0 == True in Python, but they are three different JSON texts.
    columns = [Column("score", "float"), Column("meta", "json")]
    tails = jsonl_members(columns, [[1, 1.0, True], [1, 1.0, True]])
    assert tails == [b'"score":1,"meta":1}\n', b'"score":1.0,"meta":1.0}\n',
                     b'"score":true,"meta":true}\n']


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([None, "correct", "=1+1", 'a "quoted", cell', "-3", "two\nlines",
                                 ""]), min_size=64, max_size=200),
       st.booleans())
def test_csv_cells_of_a_repetitive_column_are_each_values_cell(values, as_bytes):
    # A label column repeats a few values; each distinct value is made a cell once, and every
    # row must still get its own cell (str and bytes alike).
    columns = [Column("n", "int"), Column("label")]
    batch = [list(range(len(values))),
             [v.encode("utf-8") if as_bytes and v is not None else v for v in values]]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows(
        [n, neutralize_formula(v) if isinstance(v, str) else v] for n, v in enumerate(values))
    assert csv_lines(columns, batch) == expected.getvalue().encode("utf-8")
