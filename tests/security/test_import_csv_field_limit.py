"""CSV cells longer than the csv module's default field limit (131,072 characters).

Before the fix a CSV with one such cell and a problem anywhere else died with a ``_csv.Error``
traceback: pyarrow read the file, but locating the problem re-read it with the csv module and
its default limit. A file pyarrow could not read (a ragged row) lost every record after the
long cell. The limit now follows ``--max-text-chars``: a cell up to it is accepted wherever
the file is read, a longer one is a "text too long" problem of its line and column.
"""

from __future__ import annotations

import csv
import io

import pytest

import cli
from core.importing import ImportLimits, ImportProblem, read_import_bytes, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import get_project
from storage.readback import items_frame

CORRECTNESS = TEMPLATES["correctness"]
LONG = 140_000  # over the csv module's default of 131,072
UNKNOWN = "unknown label 'maybe' (allowed: correct, incorrect)"


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "prompt", "response", "judge.gpt.correct"])
    writer.writerows(rows)
    return out.getvalue().encode()


def long_text(chars: int) -> str:
    return ("word, " * (chars // 6 + 1))[:chars]  # commas: the cell is quoted


def test_long_cell_and_a_bad_label_elsewhere_are_reported_not_a_traceback():
    data = csv_bytes([["a", "q", long_text(LONG), "correct"], ["b", "q", "r", "maybe"]])
    batch = validate_table(read_import_bytes(data, fmt="csv", name="f.csv"), CORRECTNESS)
    assert batch.problems == [ImportProblem("f.csv", "line 3", "judge.gpt.correct", UNKNOWN, 1)]
    assert batch.items.external_ids == ["a"]
    assert len(batch.rows[0].fields["response"]) == LONG


def test_a_ragged_row_after_a_long_cell_loses_no_record():
    data = csv_bytes([["a", "q", long_text(LONG), "correct"], ["b", "q", "r", "maybe"],
                      ["c", "q", "r", "correct", "extra"], ["d", "q", "r", "incorrect"]])
    raw = read_import_bytes(data, fmt="csv", name="f.csv")
    batch = validate_table(raw, CORRECTNESS)
    assert [(p.location, p.reason) for p in batch.problems] == [
        ("line 3", UNKNOWN), ("line 4", "expected 4 fields, got 5")]
    assert batch.items.external_ids == ["a", "d"]


@pytest.mark.parametrize("ragged", [False, True])
def test_a_cell_over_max_text_chars_is_text_too_long_on_its_line(ragged):
    rows = [["a", "q", "r", "correct"], ["b", "q", long_text(300_000), "correct"]]
    if ragged:
        rows.append(["c", "q"])
    limits = ImportLimits(max_text_chars=200_000)
    raw = read_import_bytes(csv_bytes(rows), fmt="csv", name="f.csv", limits=limits)
    batch = validate_table(raw, CORRECTNESS, limits=limits)
    assert ImportProblem("f.csv", "line 3", "response",
                         "text too long: 300,000 characters (limit 200,000)", 1) in batch.problems
    assert batch.items.external_ids == ["a"]


def test_cli_reports_the_bad_row_of_a_file_with_a_long_cell(db, tmp_path, capsys):
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes([["a", "q", long_text(LONG), "correct"], ["b", "q", "r", "maybe"]]))
    url = db.engine.url.render_as_string(hide_password=False)

    code = cli.main(["--database", url, "import", str(path), "--project", "p",
                     "--task", "correctness", "--on-error", "skip"])

    err = capsys.readouterr().err
    assert code == 0
    assert err.splitlines() == [f"skipped: {path}:line 3: judge.gpt.correct: {UNKNOWN}"]
    with db.read() as session:
        items = items_frame(session=session, project_id=get_project(session=session, name="p").id)
    assert [len(fields["response"]) for fields in items["fields"]] == [LONG]


def test_import_file_with_a_long_cell_and_a_bad_row(db, tmp_path):
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes([["a", "q", long_text(LONG), "correct"], ["b", "q", "r", "maybe"]]))
    batch, summary = import_file(db, path, project_name="p", schema=CORRECTNESS, on_error="skip",
                                 actor=OPERATOR)
    assert (summary.added, summary.skipped) == (1, 1)
    assert [str(p) for p in batch.problems] == [f"{path}:line 3: judge.gpt.correct: {UNKNOWN}"]
