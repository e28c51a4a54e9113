"""Import size limits: the decoded data (``--max-total-bytes``) and the records (``--max-rows``).

Before the fix a 249 KB Parquet file of dictionary-encoded 10 KB strings expanded to 2 GB of
text: 55 s, 6.2 GB of memory and a 2.5 GB database. Now a Parquet file's row count is checked
from its metadata before any data page is read, and its decoded size is counted batch by batch
while reading, so a bomb is refused once the count passes the limit, never decoded whole.
JSONL and CSV text cannot be larger than the file, so their file size is checked before
reading. Arrow's allocations are measured through a proxy memory pool.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cli
from components.upload_check import check_upload
from core.importing import ImportFileError, ImportLimits, read_import_bytes, read_import_file
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import project_names
from tests.conftest import REPO_ROOT

CORRECTNESS = TEMPLATES["correctness"]
MiB = 1 << 20
TEXT = "x" * 10_240


def parquet_bomb(rows: int) -> bytes:
    """``rows`` rows whose two text fields are the same 10 KB string, dictionary-encoded:
    a few KB on disk, ``rows`` x 20 KB once decoded."""
    text = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([TEXT]))
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(range(rows), pa.int64()), "prompt": text,
                             "response": text}), sink, compression="zstd")
    return sink.getvalue()


@pytest.fixture
def arrow_peak() -> Iterator[pa.MemoryPool]:
    """Route Arrow's allocations through a proxy pool whose ``max_memory()`` is the peak."""
    previous = pa.default_memory_pool()
    proxy = pa.proxy_memory_pool(previous)
    pa.set_memory_pool(proxy)
    yield proxy
    pa.set_memory_pool(previous)


def test_defaults_are_documented_values():
    limits = ImportLimits()
    assert (limits.max_total_bytes, limits.max_rows) == (512 * MiB, 1_000_000)


def test_a_parquet_bomb_is_refused_while_reading_without_decoding_it(arrow_peak):
    data = parquet_bomb(5_000)  # 100 MB of text once decoded
    assert len(data) < 100_000
    limits = ImportLimits(max_total_bytes=16 * MiB)

    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt="parquet", name="bomb.parquet", limits=limits)

    [problem] = caught.value.problems
    assert (problem.file, problem.location, problem.field) == ("bomb.parquet", "file", "")
    assert problem.reason.startswith(
        "decodes to more than the limit of 16,777,216 bytes (--max-total-bytes); "
        "refused after reading ")
    assert arrow_peak.max_memory() < 2 * limits.max_total_bytes


def test_a_parquet_file_under_the_byte_limit_is_read_in_full(arrow_peak):
    raw = read_import_bytes(parquet_bomb(500), fmt="parquet", name="ok.parquet",
                            limits=ImportLimits(max_total_bytes=16 * MiB))
    assert raw.n_rows == 500
    assert raw.columns["prompt"][499] == TEXT


def test_parquet_rows_over_the_limit_are_refused_from_the_metadata(arrow_peak):
    data = parquet_bomb(1_001)
    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt="parquet", name="rows.parquet",
                          limits=ImportLimits(max_rows=1_000))
    assert str(caught.value) == ("rows.parquet:file: 1,001 records, over the limit of 1,000 "
                                 "(--max-rows)")
    assert arrow_peak.max_memory() < MiB  # the footer only: no data page was decoded
    assert read_import_bytes(data, fmt="parquet", name="rows.parquet",
                             limits=ImportLimits(max_rows=1_001)).n_rows == 1_001


def jsonl(n: int) -> bytes:
    return "".join(json.dumps({"id": f"i{k}", "prompt": "p", "response": "r"}) + "\n"
                   for k in range(n)).encode()


def csv_rows(n: int) -> bytes:
    return ("id,prompt,response\n" + "".join(f"i{k},p,r\n" for k in range(n))).encode()


@pytest.mark.parametrize("name, data", [pytest.param("f.jsonl", jsonl(50), id="jsonl"),
                                        pytest.param("f.csv", csv_rows(50), id="csv")])
def test_a_text_file_over_the_byte_limit_is_refused_before_reading(tmp_path, monkeypatch, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(ImportFileError) as caught:
        read_import_file(path, limits=ImportLimits(max_total_bytes=len(data) - 1))
    assert str(caught.value) == (f"{path}:file: the file has {len(data):,} bytes, over the limit "
                                 f"of {len(data) - 1:,} (--max-total-bytes)")


@pytest.mark.parametrize("fmt, name, data, records", [
    pytest.param("jsonl", "f.jsonl", jsonl(4), 4, id="jsonl"),
    pytest.param("jsonl", "exact.jsonl", jsonl(4) + b'{"id": \n', 5, id="jsonl-exact"),
    pytest.param("jsonl", "f.json", b"[" + b",".join(json.dumps({"id": k, "prompt": "p"}).encode()
                                                     for k in range(4)) + b"]", 4, id="json-array"),
    pytest.param("csv", "f.csv", csv_rows(4), 4, id="csv"),
    pytest.param("csv", "exact.csv", csv_rows(4) + b"ragged\n", 5, id="csv-exact"),
])
def test_records_over_the_row_limit_are_refused(fmt, name, data, records):
    # Records that cannot be parsed count too: each is a problem to report.
    limit = records - 1
    with pytest.raises(ImportFileError) as caught:
        read_import_bytes(data, fmt=fmt, name=name, limits=ImportLimits(max_rows=limit))
    assert str(caught.value) == f"{name}:file: more than {limit} records (--max-rows)"
    raw = read_import_bytes(data, fmt=fmt, name=name, limits=ImportLimits(max_rows=records))
    assert raw.total_records == records


def test_import_file_refuses_a_bomb_and_writes_nothing(db, tmp_path):
    path = tmp_path / "bomb.parquet"
    path.write_bytes(parquet_bomb(5_000))
    with pytest.raises(ImportFileError, match="--max-total-bytes"):
        import_file(db, path, project_name="bomb", schema=CORRECTNESS, on_error="skip",
                    limits=ImportLimits(max_total_bytes=16 * MiB), actor=OPERATOR)
    with db.read() as session:
        assert project_names(session=session) == []


def test_cli_takes_both_limits(db, tmp_path, capsys):
    path = tmp_path / "bomb.parquet"
    path.write_bytes(parquet_bomb(5_000))
    url = db.engine.url.render_as_string(hide_password=False)
    base = ["--database", url, "import", str(path), "--project", "p", "--task", "correctness"]

    assert cli.main([*base, "--max-total-bytes", "16M"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: {path}:file: decodes to more than the limit of 16,777,216 bytes "
        "(--max-total-bytes)")

    assert cli.main([*base, "--max-rows", "4999"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {path}:file: 5,000 records, over the limit of 4,999 (--max-rows)"]

    assert cli.main([*base, "--max-total-bytes", "lots"]) == 2
    assert "--max-total-bytes: expected a number of bytes" in capsys.readouterr().err
    with db.read() as session:
        assert project_names(session=session) == []


def test_cli_defaults_are_the_limits_defaults():
    args = cli.parse(["import", "f.jsonl", "--project", "p"])
    assert (args.max_total_bytes, args.max_rows, args.max_text_chars) == (
        ImportLimits().max_total_bytes, ImportLimits().max_rows, ImportLimits().max_text_chars)


def test_the_import_page_check_applies_the_limits():
    check = check_upload(io.BytesIO(parquet_bomb(5_000)), name="bomb.parquet", schema=CORRECTNESS,
                         limits=ImportLimits(max_total_bytes=16 * MiB))
    assert check.batch is None
    assert check.file_problems[0].reason.startswith("decodes to more than the limit of 16,777,216")
    check = check_upload(io.BytesIO(jsonl(5)), name="f.jsonl", schema=CORRECTNESS,
                         limits=ImportLimits(max_rows=4))
    assert [p.reason for p in check.file_problems] == ["more than 4 records (--max-rows)"]


def test_readme_documents_the_limits_with_their_defaults():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for row in ("| `--max-total-bytes SIZE` | `512M`", "| `--max-rows N` | `1000000`",
                "| `--max-text-chars N` | `1000000`"):
        assert row in readme
    assert "[--max-text-chars N] [--max-total-bytes SIZE] [--max-rows N]" in readme
