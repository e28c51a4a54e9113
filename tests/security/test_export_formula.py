"""CSV formula neutralisation covers the whole OWASP set, NUL included, after leading spaces.

Before the fix only ``= + - @``, tab and carriage return at the very start were neutralised:
a cell beginning with NUL (``\\0=cmd|...``) or with spaces before the ``=`` went out as it was,
and spreadsheets that skip those characters ran it as a formula. Now a cell is prefixed with
``'`` when, after any leading spaces, it starts with ``= + - @``, tab, carriage return or NUL,
unless what follows the spaces is a plain number.
"""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from core.export.writers import Column, columns_of, csv_lines, neutralize_formula, write_table
from tests.export.helpers import export, import_records

CELLS = [
    ("\x00=1+1", "'\x00=1+1"), ("\x00\x00+cmd", "'\x00\x00+cmd"), ("\x00plain", "'\x00plain"),
    (" =1+1", "' =1+1"), ("   @SUM(A1)", "'   @SUM(A1)"), (" \x00=2", "' \x00=2"),
    (" \t", "' \t"), ("  -2+3", "'  -2+3"), ("\x00-1", "'\x00-1"),
    # left alone: plain numbers (also after spaces), text, spaces before ordinary text
    (" -1", " -1"), ("  +3.5", "  +3.5"), (" plain", " plain"), ("a\x00=b", "a\x00=b"),
    ("   ", "   "),
]


@pytest.mark.parametrize(("cell", "expected"), CELLS)
def test_neutralize_formula(cell, expected):
    assert neutralize_formula(cell) == expected


@pytest.mark.parametrize("as_bytes", [False, True])
def test_csv_writer_neutralises_str_and_bytes_alike(tmp_path, as_bytes):
    columns = [Column("id"), Column("text")]
    rows = [{"id": str(n), "text": cell.encode() if as_bytes else cell}
            for n, (cell, _) in enumerate(CELLS)]
    batch = columns_of(rows, columns)
    lines = csv_lines(columns, batch).decode("utf-8")
    assert [row[1] for row in csv.reader(lines.splitlines(keepends=True))] == [
        expected for _, expected in CELLS]
    written = write_table(tmp_path / "x.csv", "csv", columns, [batch], {})
    with written.path.open(encoding="utf-8", newline="") as source:
        assert [row["text"] for row in csv.DictReader(source)] == [e for _, e in CELLS]


def test_gold_csv_export_neutralises_spaced_and_nul_formulas(db, tmp_path):
    records = [{"id": f"q{i}", "prompt": prompt, "response": "r",
                "humans": {a: {"correct": "correct"} for a in ("ann", "bob")}}
               for i, prompt in enumerate([" =HYPERLINK(\"http://127.0.0.1:9/x\")", "  +cmd", "ok"])]
    import_records(db, tmp_path, "correctness", records, "f")
    # A NUL-led text that an older Docket stored (imports now refuse NUL).
    with db.write() as session:
        session.execute(text("UPDATE item SET fields_json = :f WHERE external_id = 'q2'"),
                        {"f": '{"prompt": "\\u0000=1+1", "response": "r"}'})
    path = export(db, tmp_path, "f", "gold", "csv").written.path
    with path.open(encoding="utf-8", newline="") as source:
        prompts = [row["prompt"] for row in csv.DictReader(source)]
    assert prompts == ["' =HYPERLINK(\"http://127.0.0.1:9/x\")", "'  +cmd", "'\x00=1+1"]
