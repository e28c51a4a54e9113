"""``NaN`` and ``Infinity`` are not JSON: an import refuses them with the line and the field.

Python's json module and pyarrow both accept them, and before the fix the value was stored as
``NaN`` in the item's metadata JSON, which then broke every gold export (the test beside this
one, test_export_stored_non_finite.py, checks the exports of such stored values).
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.importing import ImportProblem, ImportRejected, read_import_bytes, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import project_names

CORRECTNESS = TEMPLATES["correctness"]
OK = b'{"id": "a", "prompt": "p", "response": "r", "score": 0.5}\n'


def reason(token: str) -> str:
    return f"not a finite number: {token} (JSON has no NaN or Infinity; leave the value out)"


def problems(data: bytes, fmt: str = "jsonl", name: str = "f.jsonl") -> list[ImportProblem]:
    return validate_table(read_import_bytes(data, fmt=fmt, name=name), CORRECTNESS).problems


@pytest.mark.parametrize("token, shown", [("NaN", "nan"), ("Infinity", "inf"),
                                          ("-Infinity", "-inf"), ("1e999", "inf")])
@pytest.mark.parametrize("path", ["fast", "exact"])
def test_jsonl_metadata(token, shown, path):
    bad = b'{"id": "b", "prompt": "p", "response": "r", "score": %s}\n' % token.encode()
    data = OK + bad + (b'{"id": \n' if path == "exact" else b"")
    found = problems(data)
    assert ImportProblem("f.jsonl", "line 2", "score", reason(shown), 1) in found


def test_nested_metadata_and_json_arrays():
    data = (b'[{"id": "a", "prompt": "p", "extra": {"list": [1, 2.5]}},\n'
            b' {"id": "b", "prompt": "p", "extra": {"list": [1, NaN]}}]')
    assert problems(data, name="f.json") == [ImportProblem("f.json", "line 2", "extra",
                                                           reason("nan"), 1)]


def test_parquet_float_metadata():
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "b", "c"], "prompt": ["p"] * 3,
                             "score": [0.5, float("nan"), float("-inf")]}), sink)
    assert problems(sink.getvalue(), "parquet", "f.parquet") == [
        ImportProblem("f.parquet", "row 2", "score", reason("nan"), 1),
        ImportProblem("f.parquet", "row 3", "score", reason("-inf"), 2)]


def test_nan_labels_stay_label_problems():
    data = OK + b'{"id": "b", "prompt": "p", "judges": {"g": {"correct": NaN}}}\n'
    assert [(p.location, p.field) for p in problems(data)] == [("line 2", "judge.g.correct")]


def test_strict_import_refuses_and_writes_nothing(db, tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_bytes(OK + b'{"id": "b", "prompt": "p", "response": "r", "score": NaN}\n')
    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path, project_name="nan", schema=CORRECTNESS, actor=OPERATOR)
    assert [str(p) for p in rejected.value.batch.problems] == [
        f"{path}:line 2: score: {reason('nan')}"]
    with db.read() as session:
        assert project_names(session=session) == []
    _, summary = import_file(db, path, project_name="nan", schema=CORRECTNESS, on_error="skip",
                             actor=OPERATOR)
    assert (summary.added, summary.skipped) == (1, 1)
