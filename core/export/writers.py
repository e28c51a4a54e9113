"""Streaming writers of export files: JSONL, CSV and Parquet, with a metadata sidecar.

Rows arrive in batches of columns (one list of values per column), so an export of 100k items
never holds the whole file in memory twice: each batch is encoded and handed to a background
thread that hashes and writes it (or, for Parquet, compresses it) while the next batch is read;
at most two batches wait there. Encoding works column by column (one pass of a C encoder over
each column's values), which is what makes the JSONL writer ~2x faster than one ``json.dumps``
per row; text may also arrive as UTF-8 ``bytes`` read from the database, written as it is.
The file is written under a temporary name and moved into place only when complete, so a failed
export never leaves a half-written file where the old one was; a killed one leaves its partial
file in a ``.docket-tmp`` folder, which the next export there removes (:mod:`.temporary`).

* JSONL keeps text exact: UTF-8, nothing ASCII-escaped (JSON still escapes ``"``, ``\\`` and
  control characters, which decode back to the same text); ``json`` columns stay objects.
* CSV neutralises formula injection (OWASP): a text cell starting, after any spaces, with
  ``=``, ``+``, ``-``, ``@``, tab, carriage return or NUL gets a leading ``'`` so a spreadsheet
  shows it as text. Plain numbers such as ``-1`` are left alone (a spreadsheet reads them as
  numbers, not formulas).
* Parquet has a fixed Arrow schema from the column types (an all-empty batch still has the
  right types) and carries the export's metadata under the ``docket`` key.
* Order columns (``order``: a ranking, a tuple of 1-based response positions from best to
  worst) are a JSON list of ints in JSONL, ``list<int64>`` in Parquet and the comma-separated
  text a ranking is imported from in CSV (``"2,1,4,3"``), so each format re-imports as is.
* Image columns (``image``: one, ``images``: a list) are paths in JSONL and CSV (the caller
  writes the files beside the export) and the Hugging Face ``datasets`` Image layout
  ``struct<bytes, path>`` in Parquet, declared as ``Image()`` features under the
  ``huggingface`` key so that ``datasets.load_dataset("parquet", ...)`` decodes them.

Every export also gets ``<file>.meta.json``: the metadata block with the row count and the
file's SHA-256, written last.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.export.temporary import (
    TEMP_FOLDER,
    remove_if_empty,
    sweep_temporary_files,
    write_atomically,
)
from core.rank_order import format_order

# "texts": a string or a list of strings (a template field of kind texts, e.g. source texts).
# "image"/"images": one image or a list (a path in JSONL/CSV, {bytes, path} in Parquet).
# "order": a ranking, a tuple of ints (a list in JSONL/Parquet, "2,1,4,3" in CSV).
COLUMN_TYPES = ("string", "texts", "int", "float", "bool", "timestamp", "json", "image", "images",
                "order")
IMAGE_STRUCT = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
# What an image column is in the text formats: its path(s).
_TEXT_FORMAT_TYPES = {"image": "string", "images": "texts"}
TABLE_FORMATS = ("jsonl", "csv", "parquet")
META_SUFFIX = ".meta.json"
# OWASP's set: spreadsheets skip a leading NUL or spaces and run what follows as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
FORMULA_CHARS = frozenset("".join(FORMULA_START))
_SKIPPED_LEAD = " "
# ASCII digits only: a spreadsheet reads "-٣" as text, so it must be neutralised like text.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_PLAIN_NUMBER_BYTES = re.compile(_PLAIN_NUMBER.pattern.encode())
_FORMULA_BYTES = frozenset(ord(start) for start in FORMULA_START)
_CHECKED_FIRST_BYTES = _FORMULA_BYTES | {ord(_SKIPPED_LEAD)}
_CHECKED_FIRST_CHARS = FORMULA_CHARS | {_SKIPPED_LEAD}
_ARROW_TYPES = {"string": pa.string(), "texts": pa.list_(pa.string()), "int": pa.int64(),
                "float": pa.float64(), "bool": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
                "json": pa.string(), "image": IMAGE_STRUCT, "images": pa.list_(IMAGE_STRUCT),
                "order": pa.list_(pa.int64())}
_HASH_CHUNK = 1 << 20
# Kinds whose values are one Python type each (str, int, datetime), so equal values encode alike.
_DEDUPLICATED_KINDS = frozenset({"string", "int", "timestamp"})
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
    ``'`` when, after any leading spaces, it starts with ``= + - @``, tab, carriage return or
    NUL and what follows the spaces is not a plain number."""
    head = text.lstrip(_SKIPPED_LEAD)
    if head.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(head):
        return "'" + text
    return text


# Compact separators: the same bytes SQLite's json_object() writes (storage's fast path).
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_SORTED_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True)


def encode_json_object(value: Mapping[str, Any]) -> bytes:
    """``value`` as the JSONL writer encodes a row: compact, UTF-8, nothing ASCII-escaped,
    strict (no NaN), without the line end."""
    return _JSON.encode(value).encode("utf-8")


@dataclass(frozen=True)
class EncodedRows:
    """A batch of rows already encoded in the export's format (JSONL or CSV lines, UTF-8
    bytes), written as it is: the database built the lines (storage's SQLite fast path)."""

    data: bytes | bytearray
    rows: int


Columns = Sequence[Sequence[Any]]
Batch = Columns | EncodedRows
CSV_LINE_END = "\r\n"
_CSV_LINE_END = CSV_LINE_END.encode()
_COMMA, _QUOTE, _LF, _CR = b',"\n\r'


def csv_field(text: bytes) -> bytes:
    """UTF-8 ``text`` as one CSV field, quoted as :data:`csv.QUOTE_MINIMAL` quotes it (when it
    holds a comma, a double quote or a line break; quotes doubled). No formula neutralisation."""
    # Byte values, not b",": `int in bytes` is a memchr, `bytes in bytes` takes the buffer
    # protocol first and was 8x slower (0.73 s vs 0.09 s for 800k cells).
    if _COMMA in text or _QUOTE in text or _LF in text or _CR in text:
        return b'"' + text.replace(b'"', b'""') + b'"'
    return text


def csv_cells(columns: Sequence[Column], batch: Columns) -> list[bytes]:
    """Per row, its cells of ``columns`` as UTF-8 CSV: neutralised, quoted as the csv module's
    QUOTE_MINIMAL quotes, comma-joined, no line end (see :func:`csv_lines`)."""
    rows, as_bytes = _csv_rows(columns, batch)
    if as_bytes:
        return [b",".join(row) for row in rows]
    return [",".join(row).encode("utf-8") for row in rows]


def csv_lines(columns: Sequence[Column], batch: Columns) -> bytes:
    """The batch as UTF-8 CSV lines, each ending in CRLF.

    Text may arrive as ``str`` or, read so from the database, as UTF-8 ``bytes``; with any
    bytes the lines are built as bytes (no decode and re-encode, and a row's join copies
    bytes, not 4-byte characters), otherwise as one string encoded once (many short cells,
    as in the labels export, would pay an encode each). Column by column with ``in`` tests
    (C substring search) it is ~2x faster than ``csv.writer``, which inspects every
    character."""
    rows, as_bytes = _csv_rows(columns, batch)
    if as_bytes:
        return b"".join([b",".join(row) + _CSV_LINE_END for row in rows])
    return "".join([",".join(row) + CSV_LINE_END for row in rows]).encode("utf-8")


def _csv_rows(columns: Sequence[Column], batch: Columns) -> tuple[Iterable[tuple[Any, ...]], bool]:
    as_bytes = any(type(next((v for v in values if v is not None), None)) is bytes
                   for values in batch)
    cells = [_csv_column(values, column.type, as_bytes)
             for values, column in zip(batch, columns, strict=True)]
    return zip(*cells, strict=True), as_bytes


def _few_distinct(values: Sequence[Any]) -> bool:
    """True when the first values repeat a lot (a label column, not a text column)."""
    sample = values[:64]
    return len(sample) == 64 and len(set(sample)) <= 16


def _csv_text(value: str | bytes) -> bytes:
    """One text cell: UTF-8, neutralised (:func:`neutralize_formula`), quoted if needed."""
    return _csv_texts([value])[0]


def _csv_texts(values: Iterable[str | bytes | None]) -> list[bytes]:
    """:func:`_csv_text` of each value (None: an empty cell), in one loop: two calls per
    cell cost 0.2 s of a 100k-item export."""
    cells = []
    append = cells.append
    for value in values:
        if value is None:
            append(b"")
            continue
        data = value.encode("utf-8") if type(value) is str else value
        if data and data[0] in _CHECKED_FIRST_BYTES:
            head = data.lstrip(b" ")
            if head and head[0] in _FORMULA_BYTES and not _PLAIN_NUMBER_BYTES.fullmatch(head):
                data = b"'" + data
        if _COMMA in data or _QUOTE in data or _LF in data or _CR in data:
            data = b'"' + data.replace(b'"', b'""') + b'"'
        append(data)
    return cells


def _csv_strs(values: Iterable[str | bytes | None]) -> list[str]:
    """:func:`_csv_texts` as ``str`` cells, for batches without bytes."""
    cells = []
    append = cells.append
    for value in values:
        if value is None:
            append("")
            continue
        text = value if type(value) is str else value.decode("utf-8")
        if text and text[0] in _CHECKED_FIRST_CHARS:
            text = neutralize_formula(text)
        if "," in text or '"' in text or "\n" in text or "\r" in text:
            text = '"' + text.replace('"', '""') + '"'
        append(text)
    return cells


def _iso_texts(values: Sequence[Any], template: str, missing: Any) -> list[Any]:
    """ISO 8601 text of each datetime in ``template``; each distinct time formatted once (the
    rows of one import share their time)."""
    formatted: dict[datetime, str] = {}
    result = []
    for value in values:
        if value is None:
            result.append(missing)
            continue
        text = formatted.get(value)
        if text is None:
            text = formatted[value] = template.format(value.isoformat())
        result.append(text)
    return result


def _position(value: Any) -> int:
    """One entry of an order as an int; raises :class:`ExportError` for anything else (a bool,
    a string): an order column holds the positions themselves, never their text."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportError(f"an order column holds response positions (ints), got {value!r}")
    return value


def _order_text(order: Sequence[Any]) -> str:
    """``(2, 1, 4, 3)`` -> ``"2,1,4,3"`` (the stored and CSV spelling of a ranking)."""
    return format_order([_position(p) for p in order])


def _jsonl_column(values: Sequence[Any], kind: str) -> list[str]:
    """JSON text of each value of one column (``null`` for None); the C string encoder does
    the strings, which is what makes column-wise encoding ~2x faster than ``json.dumps`` per
    row."""
    if kind == "string":
        return [encode_basestring(v) if v is not None else "null" for v in values]
    if kind == "timestamp":
        return _iso_texts(values, '"{}"', "null")
    if kind == "bool":
        return ["null" if v is None else "true" if v else "false" for v in values]
    if kind == "int":
        return [str(v) if v is not None else "null" for v in values]
    if kind == "order":
        return ["null" if v is None else "[" + _order_text(v) + "]" for v in values]
    encode = _JSON.encode
    return [encode(v) if v is not None else "null" for v in values]


def _csv_column(values: Sequence[Any], kind: str, as_bytes: bool) -> list[Any]:
    """The cells of one column, UTF-8 ``bytes`` or ``str`` (None is an empty cell)."""
    texts = _csv_texts if as_bytes else _csv_strs
    if kind == "string":
        if _few_distinct(values):
            # Labels, methods, sources: each distinct value is made a cell once, then looked
            # up, instead of being neutralised and quoted again on every row.
            distinct = list(dict.fromkeys(values))
            cell_of = dict(zip(distinct, texts(distinct), strict=True))
            return [cell_of[value] for value in values]
        return texts(values)
    if kind == "json" or kind == "texts":
        # a list or object as JSON text; a string as it is (for json: JSON text the database
        # already holds)
        encode = _SORTED_JSON.encode
        return texts(v if v is None or isinstance(v, str | bytes) else encode(v) for v in values)
    if kind == "order":  # digits and commas: quoted for the commas, nothing to neutralise
        return texts(None if v is None else _order_text(v) for v in values)
    if kind == "timestamp":
        cells: list[Any] = _iso_texts(values, "{}", "")
    elif kind == "bool":
        cells = ["" if v is None else "true" if v else "false" for v in values]
    else:  # int, float
        cells = ["" if v is None else str(v) for v in values]
    return [cell.encode() for cell in cells] if as_bytes else cells


def _arrow_column(values: Sequence[Any] | pa.Array, kind: str) -> pa.Array:
    if isinstance(values, pa.Array):  # built by the caller already (storage's Parquet path)
        return values if values.type == _ARROW_TYPES[kind] else values.cast(_ARROW_TYPES[kind])
    if kind == "json":
        values = [v if v is None or isinstance(v, str | bytes) else _SORTED_JSON.encode(v)
                  for v in values]
    elif kind == "texts":
        values = [[v] if isinstance(v, str | bytes) else v for v in values]
    elif kind == "order":
        values = [None if v is None else [_position(p) for p in v] for v in values]
    return pa.array(values, type=_ARROW_TYPES[kind])


def _jsonl_parts(columns: Sequence[Column], batch: Columns) -> list[list[str]]:
    """Per column, each row's ``"name":value`` member."""
    return [[prefix + text for text in _jsonl_column(values, column.type)]
            for prefix, values, column in zip((encode_basestring(c.name) + ":" for c in columns),
                                              batch, columns, strict=True)]


def jsonl_members(columns: Sequence[Column], batch: Columns) -> list[bytes]:
    """Per row, the members of ``columns`` and the closing brace and newline
    (``"a":1,"b":null}\n``), UTF-8: the tail of a JSONL line whose head the caller has.

    Each distinct row is encoded once: the gold columns of most items repeat a handful of
    combinations (label, method, counts, no adjudication), and looking a row up is cheaper
    than encoding it (0.1 s vs 0.25 s for 100k gold rows). Only columns whose equal values encode
    alike are merged this way (not float or JSON, where ``1 == 1.0 == True``).
    """
    rows = list(zip(*batch, strict=True))
    if not rows:
        return []
    distinct = (list(dict.fromkeys(rows))
                if all(column.type in _DEDUPLICATED_KINDS for column in columns) else rows)
    distinct_columns = [list(values) for values in zip(*distinct, strict=True)]
    tails = [(",".join(parts) + "}\n").encode("utf-8")
             for parts in zip(*_jsonl_parts(columns, distinct_columns), strict=True)]
    if distinct is rows:
        return tails
    tail_of = dict(zip(distinct, tails, strict=True))
    return [tail_of[row] for row in rows]


class _Pipe:
    """Runs writes on one background thread, in order, at most ``depth`` batches behind.

    File writes, SHA-256 updates and Parquet's encoding release the GIL, so they overlap with
    reading and encoding the next batch (0.1-0.4 s of a 100k-item export). The bound keeps
    memory at a few batches. A failed write surfaces on the next :meth:`submit` or
    :meth:`drain`.
    """

    def __init__(self, depth: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-export")
        self.pending: deque[Future[None]] = deque()
        self.depth = depth

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(work, *args))

    def drain(self) -> None:
        """Wait for every submitted write; raise the first one's error."""
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _ByteSink:
    """Bytes to the file through a :class:`_Pipe`, hashed on the way (no second read)."""

    def __init__(self, out: io.BufferedWriter) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.pipe = _Pipe()

    def write(self, data: bytes | bytearray) -> None:
        self.pipe.submit(self._emit, data)

    def _emit(self, data: bytes | bytearray) -> None:
        self.digest.update(data)
        self.out.write(data)

    def close(self) -> str:
        """Flush everything; return the SHA-256 (hex) of all bytes written."""
        self.pipe.drain()
        self.out.flush()
        return self.digest.hexdigest()

    def abort(self) -> None:
        try:
            self.pipe.drain()
        except Exception:  # the export is failing already; its own error is the one to report
            log.debug("background write of a failed export", exc_info=True)


class _BytesFormat:
    """A format written as bytes through a :class:`_ByteSink`; subclasses encode a batch."""

    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        self.sink = _ByteSink(out)
        self.columns = [Column(c.name, _TEXT_FORMAT_TYPES.get(c.type, c.type)) for c in columns]

    def write(self, batch: Batch) -> None:
        if isinstance(batch, EncodedRows):
            self.sink.write(batch.data)
        elif batch and len(batch[0]):
            self.sink.write(self.encode(batch))

    def encode(self, batch: Columns) -> bytes:
        raise NotImplementedError

    def close(self, metadata: Mapping[str, Any]) -> str:
        return self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


class _Jsonl(_BytesFormat):
    def encode(self, batch: Columns) -> bytes:
        encoded = _jsonl_parts(self.columns, batch)
        return "".join(["{" + ",".join(parts) + "}\n"
                        for parts in zip(*encoded, strict=True)]).encode("utf-8")


class _Csv(_BytesFormat):
    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        super().__init__(out, columns)
        self.sink.write(b",".join(_csv_text(c.name) for c in self.columns) + _CSV_LINE_END)

    def encode(self, batch: Columns) -> bytes:
        return csv_lines(self.columns, batch)


class _Parquet:
    def __init__(self, out: io.BufferedWriter, columns: Sequence[Column]) -> None:
        self.columns = columns
        features = huggingface_image_features(columns)
        # In the Arrow schema itself (written when the writer opens): datasets reads features
        # from there, not from the file's key-value metadata added at close.
        self.schema = pa.schema(
            [pa.field(c.name, _ARROW_TYPES[c.type]) for c in columns],
            metadata={"huggingface": json.dumps({"info": {"features": features}})}
            if features else None)
        self.writer = pq.ParquetWriter(out, self.schema, compression="zstd")
        self.pipe = _Pipe()

    def write(self, batch: Batch) -> None:
        if isinstance(batch, EncodedRows):
            raise ExportError("pre-encoded rows cannot be written as Parquet")
        if not batch or not len(batch[0]):
            return
        arrays = [_arrow_column(values, column.type)
                  for values, column in zip(batch, self.columns, strict=True)]
        self.pipe.submit(self.writer.write_batch,
                         pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def close(self, metadata: Mapping[str, Any]) -> None:
        self.pipe.drain()
        self.writer.add_key_value_metadata(
            {"docket": json.dumps(metadata, ensure_ascii=False, sort_keys=True)})
        self.writer.close()

    def abort(self) -> None:
        try:
            self.pipe.drain()
        except Exception:  # the export is failing already; its own error is the one to report
            log.debug("background write of a failed export", exc_info=True)
        # Close the Arrow writer now, while its file is still open: left to the garbage
        # collector it would write a footer into a closed (and deleted) file.
        try:
            self.writer.close()
        except (OSError, ValueError):
            log.debug("closing the parquet writer of a failed export", exc_info=True)


def huggingface_image_features(columns: Sequence[Column]) -> dict[str, Any]:
    """The ``datasets`` feature declarations of the image columns (``Image()``, a ``List`` of
    them); ``datasets`` takes the other columns' features from their Arrow types."""
    image = {"_type": "Image"}
    return {c.name: image if c.type == "image" else {"feature": image, "_type": "List"}
            for c in columns if c.type in ("image", "images")}


def columns_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> list[list[Any]]:
    """Turn row dicts into the column lists :func:`write_table` takes (missing keys: None)."""
    return [[row.get(column.name) for row in rows] for column in columns]


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
                batches: Iterable[Batch], metadata: Mapping[str, Any]) -> WrittenFile:
    """Write ``batches`` to ``path`` as ``fmt`` (jsonl, csv or parquet); return the file.

    A batch is one list of values per column, in the order of ``columns`` (see
    :func:`columns_of` for row dicts); values are Python values of the column's type (a
    ``json`` column holds objects, a ``texts`` column strings or lists of strings). A JSONL
    export may also pass :class:`EncodedRows`, written verbatim.

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

    def rows_counted() -> Iterable[Batch]:
        nonlocal counted
        for batch in batches:
            if isinstance(batch, EncodedRows):
                counted += batch.rows
            elif batch:
                counted += len(batch[0])
            yield batch

    column_list = [{"name": c.name, "type": c.type} for c in columns]

    def write(out: io.BufferedWriter) -> str | None:
        writer = _WRITERS[fmt](out, columns)
        try:
            for batch in rows_counted():
                writer.write(batch)
        except BaseException:
            writer.abort()
            raise
        return writer.close({**metadata, "rows": counted, "columns": column_list})

    return _finish(path, write, lambda: {**metadata, "rows": counted, "columns": column_list})


def write_text(path: Path | str, text: str, metadata: Mapping[str, Any]) -> WrittenFile:
    """Write a whole text document (HTML or JSON report) atomically with its sidecar; return it."""
    path = Path(path)

    def write(out: io.BufferedWriter) -> None:
        out.write(text.encode("utf-8"))
        return None

    return _finish(path, write, lambda: {**metadata, "rows": None})


def _finish(path: Path, write: Callable[[io.BufferedWriter], str | None],
            final_metadata: Callable[[], dict[str, Any]]) -> WrittenFile:
    """Sweep what killed exports left beside ``path``, run ``write`` on a temporary file, move
    it into place, write the sidecar. ``write`` returns the SHA-256 of what it wrote, or None
    to have the file read back for it."""
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"{path}: folder {folder} does not exist")
    sweep_temporary_files(folder)
    try:
        digest = write_atomically(path, write)
        metadata = final_metadata()
        metadata.update(file=path.name, bytes=path.stat().st_size,
                        sha256=digest or file_sha256(path))
        meta_path = meta_path_for(path)
        text = json.dumps(metadata, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        write_atomically(meta_path, lambda out: out.write(text.encode("utf-8")))
    finally:
        remove_if_empty(folder / TEMP_FOLDER)
    return WrittenFile(path, metadata["rows"] or 0, metadata["bytes"], metadata["sha256"],
                       meta_path, metadata)

