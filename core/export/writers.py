"""Streaming writers of export files: JSONL, CSV and Parquet, with a metadata sidecar.

Rows arrive in batches (lists of dicts keyed by column name), so an export of 100k items
never holds the whole file in memory twice: each batch is encoded and written, then dropped.
The file is written under a temporary name beside the target and moved into place only when
complete, so a failed export never leaves a half-written file where the old one was.

* JSONL keeps text exact: UTF-8, nothing ASCII-escaped (JSON still escapes ``"``, ``\\`` and
  control characters, which decode back to the same text); ``json`` columns stay objects.
* CSV neutralises formula injection (OWASP): a text cell starting with ``=``, ``+``, ``-``,
  ``@``, tab or carriage return gets a leading ``'`` so a spreadsheet shows it as text. Plain
  numbers such as ``-1`` are left alone (a spreadsheet reads them as numbers, not formulas).
* Parquet has a fixed Arrow schema from the column types (an all-empty batch still has the
  right types) and carries the export's metadata under the ``docket`` key.

Every export also gets ``<file>.meta.json``: the metadata block with the row count and the
file's SHA-256, written last.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# "texts": a string or a list of strings (a template field of kind texts, e.g. source texts).
COLUMN_TYPES = ("string", "texts", "int", "float", "bool", "timestamp", "json")
TABLE_FORMATS = ("jsonl", "csv", "parquet")
META_SUFFIX = ".meta.json"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ARROW_TYPES = {"string": pa.string(), "texts": pa.list_(pa.string()), "int": pa.int64(),
                "float": pa.float64(), "bool": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
                "json": pa.string()}
_HASH_CHUNK = 1 << 20
log = logging.getLogger(__name__)


class ExportError(ValueError):
    """An export cannot be written as asked; the message says what and where."""


@dataclass(frozen=True)
class Column:
    """One output column: its name and type (one of :data:`COLUMN_TYPES`)."""

    name: str
    type: str = "string"


@dataclass(frozen=True)
class WrittenFile:
    """A finished export: where it is, how many rows, its size and SHA-256, the sidecar."""

    path: Path
    rows: int
    bytes: int
    sha256: str
    meta_path: Path
    metadata: dict[str, Any]


def neutralize_formula(text: str) -> str:
    """Return ``text`` made safe for a spreadsheet cell (OWASP CSV injection rule): a leading
    ``'`` when it starts with ``= + - @``, tab or carriage return and is not a plain number."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _jsonl_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return _iso(value)
    return value


def _text_value(value: Any, kind: str) -> str:
    """A cell for CSV: JSON columns as JSON text, timestamps ISO 8601, None empty."""
    if value is None:
        return ""
    if kind == "json" or (kind == "texts" and isinstance(value, list)):
        return neutralize_formula(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if kind == "timestamp":
        return value.isoformat()
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("string", "texts"):
        return neutralize_formula(value)
    return str(value)


def _arrow_value(value: Any, kind: str) -> Any:
    if kind == "json" and value is not None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if kind == "texts" and isinstance(value, str):
        return [value]
    return value


class _Jsonl:
    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
        self.columns = columns
        self.plain = all(c.type not in ("timestamp",) for c in columns)

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        dumps = json.dumps
        names = [c.name for c in self.columns]
        if self.plain:
            lines = [dumps({n: row.get(n) for n in names}, ensure_ascii=False) for row in rows]
        else:
            lines = [dumps({c.name: _jsonl_value(row.get(c.name), c.type) for c in self.columns},
                           ensure_ascii=False) for row in rows]
        if lines:
            self.out.write("\n".join(lines))
            self.out.write("\n")

    def close(self, metadata: Mapping[str, Any]) -> None:
        self.out.flush()
        self.out.detach()

    def abort(self) -> None:
        self.out.detach()


class _Csv:
    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self.writer = csv.writer(self.out)
        self.columns = columns
        self.writer.writerow([neutralize_formula(c.name) for c in columns])

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = self.columns
        self.writer.writerows([_text_value(row.get(c.name), c.type) for c in columns]
                              for row in rows)

    def close(self, metadata: Mapping[str, Any]) -> None:
        self.out.flush()
        self.out.detach()

    def abort(self) -> None:
        self.out.detach()


class _Parquet:
    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.schema = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in columns])
        self.writer = pq.ParquetWriter(out, self.schema, compression="zstd")

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        arrays = [pa.array([_arrow_value(row.get(c.name), c.type) for row in rows],
                           type=_ARROW_TYPES[c.type]) for c in self.columns]
        self.writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def close(self, metadata: Mapping[str, Any]) -> None:
        self.writer.add_key_value_metadata(
            {"docket": json.dumps(metadata, ensure_ascii=False, sort_keys=True)})
        self.writer.close()

    def abort(self) -> None:
        # Close the Arrow writer now, while its file is still open: left to the garbage
        # collector it would write a footer into a closed (and deleted) file.
        try:
            self.writer.close()
        except (OSError, ValueError):
            log.debug("closing the parquet writer of a failed export", exc_info=True)


_WRITERS: dict[str, Callable[[io.BufferedWriter, Sequence[Column]], Any]] = {
    "jsonl": _Jsonl, "csv": _Csv, "parquet": _Parquet}


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of the file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def meta_path_for(path: Path) -> Path:
    """The sidecar metadata file of an export: ``<file>.meta.json``."""
    return path.with_name(path.name + META_SUFFIX)


def check_columns(columns: Sequence[Column]) -> None:
    """Raise :class:`ExportError` for a duplicate column name or an unknown column type."""
    seen: set[str] = set()
    for column in columns:
        if column.type not in COLUMN_TYPES:
            raise ExportError(f"column {column.name!r}: unknown type {column.type!r}")
        if column.name in seen:
            raise ExportError(f"two output columns are named {column.name!r}; rename the item "
                              "field or dimension that collides")
        seen.add(column.name)


def write_table(path: Path | str, fmt: str, columns: Sequence[Column],
                batches: Iterable[Sequence[Mapping[str, Any]]], metadata: Mapping[str, Any]
                ) -> WrittenFile:
    """Write ``batches`` of rows to ``path`` as ``fmt`` (jsonl, csv or parquet); return it.

    ``metadata`` (project, schema, policy, ...) goes into the sidecar with ``rows``,
    ``bytes``, ``sha256`` and ``columns`` added, and, for Parquet, into the file itself
    (without the checksum, which cannot cover the file that holds it). The target appears
    only when complete. Raises :class:`ExportError` for an unknown format or bad columns,
    and lets an error from ``batches`` through after removing the partial file.
    """
    if fmt not in _WRITERS:
        raise ExportError(f"unknown table format {fmt!r} (formats: {', '.join(_WRITERS)})")
    check_columns(columns)
    path = Path(path)
    counted = 0

    def rows_counted() -> Iterable[Sequence[Mapping[str, Any]]]:
        nonlocal counted
        for batch in batches:
            counted += len(batch)
            yield batch

    column_list = [{"name": c.name, "type": c.type} for c in columns]

    def write(out: io.BufferedWriter) -> None:
        writer = _WRITERS[fmt](out, columns)
        try:
            for batch in rows_counted():
                writer.write(batch)
        except BaseException:
            writer.abort()
            raise
        writer.close({**metadata, "rows": counted, "columns": column_list})

    return _finish(path, write, lambda: {**metadata, "rows": counted, "columns": column_list})


def write_text(path: Path | str, text: str, metadata: Mapping[str, Any]) -> WrittenFile:
    """Write a whole text document (HTML or JSON report) atomically with its sidecar; return it."""
    path = Path(path)

    def write(out: io.BufferedWriter) -> None:
        out.write(text.encode("utf-8"))

    return _finish(path, write, lambda: {**metadata, "rows": None})


def _finish(path: Path, write: Callable[[io.BufferedWriter], None],
            final_metadata: Callable[[], dict[str, Any]]) -> WrittenFile:
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"{path}: folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb", buffering=_HASH_CHUNK) as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    metadata = final_metadata()
    metadata.update(file=path.name, bytes=path.stat().st_size, sha256=file_sha256(path))
    meta_path = meta_path_for(path)
    _atomic_text(meta_path, json.dumps(metadata, ensure_ascii=False, indent=1, sort_keys=True)
                 + "\n")
    return WrittenFile(path, metadata["rows"] or 0, metadata["bytes"], metadata["sha256"],
                       meta_path, metadata)


def _atomic_text(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
