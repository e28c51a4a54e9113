"""Read JSONL, CSV and Parquet import files into one wide, column-oriented shape.

Every reader returns a :class:`RawTable` whose column names follow the wide contract:
``id``, text fields, ``model``, ``group``, metadata columns, and
``judge.<judge>.<key>`` / ``human.<annotator>.<key>`` for verdicts and prior labels (JSONL's
nested ``"judges"``/``"humans"`` objects are flattened to these names; a list of objects under
one judge becomes samples ``judge.<judge>[<k>].<key>``).

Each reader has a fast path (pyarrow) and an exact path (stdlib, record by record). The exact
path runs when the fast path cannot be trusted to keep the data exact (bad JSON, mixed types,
invalid UTF-8, ragged CSV rows, values pyarrow would reinterpret) and reports each broken record
with its line number instead of failing the whole file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from core.importing.limits import ImportLimits
from core.importing.nesting import deep_lines, exceeds_depth
from core.importing.problems import ImportFileError, ImportProblem

NESTED_PREFIXES = {"judges": "judge", "humans": "human"}
# Every accepted file name extension and the reader it selects (.json: JSONL or one array).
FORMAT_OF_EXTENSION = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
                       ".parquet": "parquet", ".pq": "parquet"}
# The csv module refuses cells over 131,072 characters by default. Every cell reaches
# validation instead, which reports one over --max-text-chars as too long (a file is at most
# --max-total-bytes anyway). The same value on every call: the limit is process-wide.
CSV_FIELD_LIMIT = 2**31 - 1
# Rows per Parquet batch while counting the decoded size: a batch is what may be decoded past
# the --max-total-bytes limit before the reader stops.
PARQUET_BATCH_ROWS = 256
_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
_LEADING_SPACE = re.compile(rb"[ \t\r\n]*")
_LEADING_TEXT_SPACE = re.compile(r"[ \t\r\n]*")


@dataclass
class RawTable:
    """Parsed records of one import file, as wide columns of Python values (None = absent)."""

    file: str
    format: str
    columns: dict[str, list[Any]]
    n_rows: int
    line_of: Callable[[int], str]
    string_columns: frozenset[str] = frozenset()
    unparsed: list[ImportProblem] = field(default_factory=list)
    # False when the reader has ruled out NUL and lone surrogates in every value and name
    # (cheaply, from the raw bytes); validation then need not look for them.
    may_hold_unsafe_text: bool = True

    @property
    def total_records(self) -> int:
        """Records in the file, including those that could not be parsed."""
        return self.n_rows + len(self.unparsed)


def detect_format(name: str) -> str:
    """Return ``"jsonl"``, ``"csv"`` or ``"parquet"`` from a file name's extension.

    Raises :class:`ImportFileError` for any other extension, and for a name holding a control
    character (a NUL would break every path built from it).
    """
    control = next((char for char in name if ord(char) < 32 or ord(char) == 127), None)
    if control is not None:
        raise ImportFileError([ImportProblem(
            repr(name)[1:-1], "file", "", f"the file name holds the control character "
                                          f"{control!r}; rename the file")])
    suffix = Path(name).suffix.lower()
    fmt = FORMAT_OF_EXTENSION.get(suffix)
    if fmt is None:
        raise ImportFileError([ImportProblem(
            name, "file", "", f"unknown file type {suffix or '(none)'!r}; use "
                              f"{', '.join(FORMAT_OF_EXTENSION)}")])
    return fmt


def read_import_file(path: str | Path, *, fmt: str | None = None, name: str | None = None,
                     limits: ImportLimits | None = None) -> RawTable:
    """Read ``path`` (format from ``fmt`` or its extension) into a :class:`RawTable`.

    ``name`` is the file name used in problem locations (default: the path). A file larger
    than ``limits.max_total_bytes`` is refused before it is read. Raises
    :class:`ImportFileError` when the file as a whole cannot be read or breaks a limit.
    """
    path = Path(path)
    name = name or str(path)
    fmt = fmt or detect_format(name)
    limits = limits or ImportLimits()
    try:
        _check_size(path.stat().st_size, name, limits)
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError([ImportProblem(name, "file", "", f"cannot read: {exc.strerror}")]) from None
    return read_import_bytes(data, fmt=fmt, name=name, limits=limits)


def read_import_bytes(data: bytes, *, fmt: str, name: str, limits: ImportLimits | None = None
                      ) -> RawTable:
    """Parse the bytes of an import file of format ``fmt``; see :func:`read_import_file`."""
    reader = READERS.get(fmt)
    if reader is None:
        raise ImportFileError([ImportProblem(name, "file", "", f"unknown format {fmt!r}")])
    limits = limits or ImportLimits()
    _check_size(len(data), name, limits)
    table = reader(data, name, limits)
    # The Arrow tables are gone once their values are Python objects, but Arrow's allocator
    # keeps the freed pages for reuse, and Python never reuses them: hand them back before
    # validation doubles the data (peak of a 141 MB JSONL import 0.91 -> 0.65 GB, same time).
    pa.default_memory_pool().release_unused()
    return table


def _file_error(name: str, reason: str, location: str = "file", column: str = "") -> ImportFileError:
    return ImportFileError([ImportProblem(name, location, column, reason)])


def _check_size(size: int, name: str, limits: ImportLimits) -> None:
    """Refuse a file larger than ``limits.max_total_bytes``: JSONL and CSV text is never
    larger than its file, so for them this is the whole check."""
    if size > limits.max_total_bytes:
        raise _file_error(name, f"the file has {size:,} bytes, over the limit of "
                                f"{limits.max_total_bytes:,} (--max-total-bytes)")


def _too_many_records(name: str, limits: ImportLimits) -> ImportFileError:
    return _file_error(name, f"more than {limits.max_rows:,} records (--max-rows)")


def _too_deep(limits: ImportLimits) -> str:
    return f"nested deeper than {limits.max_depth} levels of arrays and objects"


# --- JSONL ---------------------------------------------------------------------------------

def read_jsonl(data: bytes, name: str, limits: ImportLimits) -> RawTable:
    """Parse JSON Lines (one object per line; blank lines are ignored), or a JSON array of
    objects (many tools write ``.json`` files that way).

    Lines nesting deeper than ``limits.max_depth`` are refused before any parser runs.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    start = _LEADING_SPACE.match(data).end()  # type: ignore[union-attr]
    if start == len(data):
        raise ImportFileError([ImportProblem(name, "file", "", "the file is empty")])
    if data[start:start + 1] == b"[":
        return _json_array(data, name, limits)
    deep = deep_lines(data, limits.max_depth)
    if deep:
        reason = f"{_too_deep(limits)}; the file was not parsed"
        raise ImportFileError([ImportProblem(name, f"line {line}", "", reason) for line in deep])
    # pyarrow refuses a lone surrogate (\ud800) and takes the exact path, which checks every
    # value; a NUL can only come as \u0000 or a raw byte.
    unsafe = _may_hold_nul(data)
    fast = _jsonl_fast(data, name, limits)
    if fast is None:
        return _jsonl_exact(data, name, limits)
    table, (columns, string_columns) = fast
    return RawTable(name, "jsonl", columns, table.num_rows, _jsonl_locator(data),
                    frozenset(string_columns), may_hold_unsafe_text=unsafe)


def _may_hold_nul(data: bytes) -> bool:
    """False when JSON ``data`` cannot decode to text holding NUL: no NUL byte and no
    ``\u0000`` escape. A file without backslashes has no escapes at all (two memchr scans:
    0.03 s per 141 MB); else the escape is searched for (0.11-0.15 s per 141 MB)."""
    return b"\x00" in data or (b"\\" in data and b"\\u0000" in data)


def _jsonl_fast(data: bytes, name: str = "", limits: ImportLimits | None = None
                ) -> tuple[pa.Table, tuple[dict[str, list[Any]], list[str]]] | None:
    """Return the table pyarrow parsed and its Python columns, or None to take the exact path.

    pyarrow does not check UTF-8 while parsing; turning its strings and names into Python
    ones does, so invalid bytes surface here as UnicodeDecodeError (cheaper than decoding the
    whole file up front: 0.07 s per 140 MB). Too many records are refused before that.
    """
    try:
        table = pa_json.read_json(io.BytesIO(data))
        limits = limits or ImportLimits()
        if table.num_rows > limits.max_rows:
            raise _too_many_records(name, limits)
        if not _arrow_is_exact(table):
            return None
        if "id" not in table.column_names or table.column("id").null_count:
            # pyarrow reads a `null` line as an empty record; the exact path names such lines.
            return None
        return table, _arrow_columns(table)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None


def _jsonl_locator(data: bytes) -> Callable[[int], str]:
    """Return row -> "line N". Worked out on the first call: a clean file never asks."""
    lines: list[int] | None = None  # line of each record; [] when record k is on line k + 1

    def locate(row: int) -> str:
        nonlocal lines
        if lines is None:
            # A leading literal \n keeps this search fast (2.4 s -> 0.05 s on 187 MB).
            if not data[:1].isspace() and not _BLANK_LINE.search(data):
                lines = []
            else:
                lines = [number for number, text in enumerate(data.split(b"\n"), start=1)
                         if text.strip()]
        return f"line {lines[row] if lines else row + 1}"

    return locate


def _jsonl_exact(data: bytes, name: str, limits: ImportLimits) -> RawTable:
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    unparsed: list[ImportProblem] = []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        if len(records) + len(unparsed) == limits.max_rows:
            raise _too_many_records(name, limits)
        location = f"line {number}"
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            unparsed.append(ImportProblem(name, location, "", f"undecodable bytes: not UTF-8 at "
                                          f"byte {exc.start} of the line"))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            unparsed.append(ImportProblem(name, location, "", f"bad JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(value, dict):
            unparsed.append(ImportProblem(name, location, "", "expected a JSON object, got "
                                          f"{_json_type(value)}"))
            continue
        flat, problem = _flatten_record(value)
        if problem:
            unparsed.append(ImportProblem(name, location, problem[0], problem[1]))
            continue
        records.append(flat)
        lines.append(number)
    return RawTable(name, "jsonl", _records_to_columns(records), len(records),
                    lambda row: f"line {lines[row]}", frozenset(), unparsed)


def _json_array(data: bytes, name: str, limits: ImportLimits) -> RawTable:
    """Parse ``[{...}, {...}]``, locating each record by the line where it starts.

    A syntax error inside an array cannot be skipped like a bad JSONL line (the rest of the
    array has no reliable boundaries), so it is a file-level error; so is a record nesting
    deeper than ``limits.max_depth`` (Python's decoder stops near 1,000 levels by itself).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError([ImportProblem(name, f"line {line}", "", "undecodable bytes: not UTF-8")]
                              ) from None
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    unparsed: list[ImportProblem] = []
    index = _LEADING_TEXT_SPACE.match(text).end() + 1  # type: ignore[union-attr]
    line, counted = 1, 0

    def fail(position: int, problem: str) -> ImportFileError:
        where = text.count("\n", 0, position) + 1
        return ImportFileError([ImportProblem(name, f"line {where}", "", problem)])

    while True:
        index = _LEADING_TEXT_SPACE.match(text, index).end()  # type: ignore[union-attr]
        if text.startswith("]", index) and not records and not unparsed:
            break
        line += text.count("\n", counted, index)
        counted = index
        if len(records) + len(unparsed) == limits.max_rows:
            raise _too_many_records(name, limits)
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, f"bad JSON in the array: {exc.msg}") from None
        except RecursionError:
            raise _file_error(name, _too_deep(limits), f"line {line}") from None
        location = f"line {line}"
        if exceeds_depth(value, limits.max_depth):
            raise _file_error(name, _too_deep(limits), location)
        if not isinstance(value, dict):
            unparsed.append(ImportProblem(name, location, "", "expected a JSON object, got "
                                          f"{_json_type(value)}"))
        else:
            flat, problem = _flatten_record(value)
            if problem:
                unparsed.append(ImportProblem(name, location, problem[0], problem[1]))
            else:
                records.append(flat)
                lines.append(line)
        index = _LEADING_TEXT_SPACE.match(text, index).end()  # type: ignore[union-attr]
        if text.startswith("]", index):
            break
        if not text.startswith(",", index):
            raise fail(index, "bad JSON in the array: expected ',' or ']'")
        index += 1
    if text[index + 1:].strip():
        raise fail(index + 1, "unexpected text after the JSON array")
    return RawTable(name, "json", _records_to_columns(records), len(records),
                    lambda row: f"line {lines[row]}", frozenset(), unparsed)


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _flatten_record(record: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """Flatten nested judges/humans into wide keys; return (record, (field, problem) or None)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        prefix = NESTED_PREFIXES.get(key)
        if prefix is None:
            flat[key] = value
            continue
        if value is None:
            continue
        if not isinstance(value, dict):
            return flat, (key, f"wrong type: expected an object of {key}, got {_json_type(value)}")
        for rater, verdict in value.items():
            if verdict is None:
                continue
            samples = verdict if isinstance(verdict, list) else [verdict]
            for index, sample in enumerate(samples):
                if not isinstance(sample, dict):
                    return flat, (f"{key}.{rater}", "wrong type: expected an object like "
                                  f'{{"<dimension>": <label>}}, got {_json_type(sample)}')
                rater_key = f"{rater}[{index}]" if isinstance(verdict, list) and index else rater
                for inner, label in sample.items():
                    # null == absent: pyarrow fills keys missing from a record with nulls.
                    if label is not None:
                        flat[f"{prefix}.{rater_key}.{inner}"] = label
    return flat, None


def _records_to_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(key, None)
    return {key: [record.get(key) for record in records] for key in names}


# --- Arrow helpers (JSONL fast path, Parquet) ----------------------------------------------

def _arrow_is_exact(table: pa.Table) -> bool:
    """False when pyarrow may have changed values.

    pyarrow reads ISO date strings as timestamps, widens a column mixing integers and
    fractions (or holding integers above 2**63) to double, and gives every object in a column
    the keys of all the others, filled with nulls.
    """
    for column, arrow_field in zip(table.columns, table.schema, strict=True):
        if not _type_is_exact(arrow_field.type):
            return False
        if arrow_field.name in NESTED_PREFIXES:
            if not (pa.types.is_struct(arrow_field.type) or pa.types.is_null(arrow_field.type)):
                return False
            if any(_contains_struct(leaf) for leaf in _verdict_leaf_types(arrow_field.type)):
                return False
            continue
        if arrow_field.name == "id" and not (pa.types.is_string(arrow_field.type)
                                             or pa.types.is_integer(arrow_field.type)):
            return False
        if _contains_struct(arrow_field.type) or _may_hold_widened_ints(column):
            return False
    return True


def _contains_struct(arrow_type: pa.DataType) -> bool:
    if pa.types.is_struct(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _contains_struct(arrow_type.value_type)
    return False


def _is_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)


def _verdict_leaf_types(group: pa.DataType) -> list[pa.DataType]:
    """Types of the ``<dimension>``/``rationale``/... values under a judges/humans struct."""
    leaves = []
    for rater in group if pa.types.is_struct(group) else []:
        sample = rater.type.value_type if _is_list(rater.type) else rater.type
        if pa.types.is_struct(sample):
            leaves.extend(leaf.type for leaf in sample)
    return leaves


def _may_hold_widened_ints(column: pa.ChunkedArray) -> bool:
    """True when a double column holds a whole number, which may have been a JSON integer."""
    value_type = column.type
    while pa.types.is_list(value_type) or pa.types.is_large_list(value_type):
        value_type = value_type.value_type
    if not pa.types.is_floating(value_type):
        return False
    array = column.combine_chunks()
    while pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        array = pc.list_flatten(array)
    return bool(pc.any(pc.equal(pc.floor(array), array)).as_py())


def _type_is_exact(arrow_type: pa.DataType) -> bool:
    if (pa.types.is_temporal(arrow_type) or pa.types.is_decimal(arrow_type)
            or pa.types.is_binary(arrow_type)):
        return False
    if pa.types.is_struct(arrow_type):
        return all(_type_is_exact(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _type_is_exact(arrow_type.value_type)
    return True


def _arrow_columns(table: pa.Table) -> tuple[dict[str, list[Any]], list[str]]:
    """Return wide Python columns and the names of those holding only strings/None."""
    columns: dict[str, list[Any]] = {}
    string_columns: list[str] = []

    def add(name: str, array: pa.ChunkedArray, depth: int | None) -> None:
        # depth: None outside judges/humans; 0 at the group, 1 at a rater, 2 at a leaf.
        # Inside judges/humans null == absent, as on the exact path.
        if depth is not None and array.null_count == len(array):
            return
        if depth is not None and depth < 2 and pa.types.is_struct(array.type):
            for child_field, child in zip(array.type, array.flatten(), strict=True):
                add(f"{name}.{child_field.name}", child, depth + 1)
            return
        if depth == 1 and _is_list(array.type):
            _add_samples(columns, name, array.to_pylist())
            return
        columns[name] = array.to_pylist()
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            string_columns.append(name)

    for arrow_field, chunked in zip(table.schema, table.columns, strict=True):
        prefix = NESTED_PREFIXES.get(arrow_field.name)
        # Chunk by chunk: joining pyarrow's ~1 MB parse blocks first copied every byte again
        # (0.17 s per 140 MB).
        add(prefix or arrow_field.name, chunked, 0 if prefix else None)
    return columns, string_columns


def _add_samples(columns: dict[str, list[Any]], rater: str, values: list[Any]) -> None:
    """Expand a list of verdict objects per row into ``<rater>[k].<key>`` columns."""
    for row, samples in enumerate(values):
        for index, sample in enumerate(samples or []):
            for key, label in (sample or {}).items():
                if label is None:
                    continue
                name = f"{rater}[{index}].{key}" if index else f"{rater}.{key}"
                columns.setdefault(name, [None] * len(values))[row] = label


# --- CSV -----------------------------------------------------------------------------------

def read_csv(data: bytes, name: str, limits: ImportLimits) -> RawTable:
    """Parse CSV with a header row; every cell is text (numbers are converted by validation)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise ImportFileError([ImportProblem(name, "file", "", "the file is empty")])
    header = _csv_header(data, name)
    # Undecodable bytes (a surrogate's too) are reported as such; a NUL is a byte of its own.
    unsafe = b"\x00" in data
    fast = _csv_fast(data, header, name, limits)
    if fast is not None:
        table, columns = fast
        return RawTable(name, "csv", columns, table.num_rows, _csv_locator(data),
                        frozenset(header), may_hold_unsafe_text=unsafe)
    return _csv_exact(data, name, header, limits, unsafe)


def _csv_reader(text: str) -> Any:
    """A csv reader over ``text`` that takes cells of any length (see CSV_FIELD_LIMIT)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(io.StringIO(text, newline=""))


def _csv_header(data: bytes, name: str) -> list[str]:
    first = data.split(b"\n", 1)[0]
    try:
        header = next(_csv_reader(first.decode("utf-8").rstrip("\r")))
    except UnicodeDecodeError as exc:
        raise ImportFileError([ImportProblem(name, "line 1", "", f"undecodable bytes in the header: "
                                             f"not UTF-8 at byte {exc.start}")]) from None
    problems = []
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            problems.append(ImportProblem(name, "header", f"column {position}", "empty column name"))
        elif column in seen:
            problems.append(ImportProblem(name, "header", column, "duplicate column name"))
        seen.add(column)
    if problems:
        raise ImportFileError(problems)
    return header


def _csv_fast(data: bytes, header: list[str], name: str, limits: ImportLimits
              ) -> tuple[pa.Table, dict[str, list[Any]]] | None:
    """Return pyarrow's table and its Python columns, or None to take the exact path.

    As for JSONL, invalid UTF-8 surfaces when the strings become Python ones; too many
    records are refused before that.
    """
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={column: pa.string() for column in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        if table.num_rows > limits.max_rows:
            raise _too_many_records(name, limits)
        columns = {column: values.to_pylist() for column, values in zip(header, table.columns,
                                                                         strict=True)}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    return table, columns


def _csv_locator(data: bytes) -> Callable[[int], str]:
    starts: list[int] = []

    def locate(row: int) -> str:
        if not starts:
            reader = _csv_reader(data.decode("utf-8", errors="replace"))
            next(reader)
            line = reader.line_num
            for values in reader:
                if values:  # pyarrow skips empty lines, like the exact path
                    starts.append(line + 1)
                line = reader.line_num
        return f"line {starts[row]}"

    return locate


def _csv_exact(data: bytes, name: str, header: list[str], limits: ImportLimits,
               unsafe: bool) -> RawTable:
    reader = _csv_reader(data.decode("utf-8", errors="surrogateescape"))
    next(reader)
    records: list[list[str]] = []
    lines: list[int] = []
    unparsed: list[ImportProblem] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            unparsed.append(ImportProblem(name, f"line {start}", "", f"bad CSV: {exc}"))
            break
        line = reader.line_num
        if not values:
            continue
        if len(records) + len(unparsed) == limits.max_rows:
            raise _too_many_records(name, limits)
        location = f"line {start}"
        bad_cell = next((i for i, v in enumerate(values) if _has_surrogates(v)), None)
        if bad_cell is not None:
            column = header[bad_cell] if bad_cell < len(header) else f"column {bad_cell + 1}"
            unparsed.append(ImportProblem(name, location, column, "undecodable bytes: not UTF-8"))
        elif len(values) != len(header):
            unparsed.append(ImportProblem(name, location, "",
                                          f"expected {len(header)} fields, got {len(values)}"))
        else:
            records.append(values)
            lines.append(start)
    columns = {column: [record[i] for record in records] for i, column in enumerate(header)}
    return RawTable(name, "csv", columns, len(records), lambda row: f"line {lines[row]}",
                    frozenset(header), unparsed, may_hold_unsafe_text=unsafe)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- Parquet -------------------------------------------------------------------------------

def read_parquet(data: bytes, name: str, limits: ImportLimits) -> RawTable:
    """Read a Parquet file; nested ``judges``/``humans`` structs are flattened like JSONL.

    The record count (from the file's metadata) and the nesting of each column (from its
    schema) are checked before any data page is read. The decoded size is counted batch by
    batch while reading: a small file whose pages decode to more than
    ``limits.max_total_bytes`` (say, one 10 KB text dictionary-encoded in 100k rows) is
    refused once the count passes the limit, never decoded whole. A row holding text that is
    not UTF-8 is a problem of that row.
    """
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        schema = parquet.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise _file_error(name, f"not a readable Parquet file: {exc}") from None
    rows = parquet.metadata.num_rows
    if rows > limits.max_rows:
        raise _file_error(name, f"{rows:,} records, over the limit of {limits.max_rows:,} "
                                "(--max-rows)")
    deep = [column.name for column in schema if 1 + _type_depth(column.type) > limits.max_depth]
    if deep:
        raise ImportFileError([ImportProblem(name, "file", column, _too_deep(limits))
                               for column in deep])
    table, unparsed, kept = _without_undecodable(_read_counted(parquet, name, limits), name)
    columns, string_columns = _arrow_columns(table)
    return RawTable(name, "parquet", columns, table.num_rows,
                    lambda row: f"row {kept[row] + 1 if kept is not None else row + 1}",
                    frozenset(string_columns), unparsed)


def _read_counted(parquet: pq.ParquetFile, name: str, limits: ImportLimits) -> pa.Table:
    """Read every row, stopping with a problem once the decoded size passes the byte limit.

    Batches stay as read (a dictionary-encoded column as its dictionary and indices) until the
    count is done: a dictionary of one 10 KB text standing for gigabytes is measured from its
    indices, not decoded.
    """
    batches: list[pa.RecordBatch] = []
    size = read = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            size += sum(map(_decoded_bytes, batch.columns))
            read += batch.num_rows
            if size > limits.max_total_bytes:
                raise _file_error(
                    name, f"decodes to more than the limit of {limits.max_total_bytes:,} bytes "
                          f"(--max-total-bytes); refused after reading {read:,} of "
                          f"{parquet.metadata.num_rows:,} records")
            batches.append(batch)
        schema = parquet.schema_arrow
        table = pa.Table.from_batches(batches, schema=batches[0].schema if batches else schema)
        plain = pa.schema([column.with_type(_plain_type(column.type)) for column in table.schema])
        return table.cast(plain) if plain != table.schema else table
    except (pa.ArrowInvalid, OSError) as exc:
        raise _file_error(name, f"not a readable Parquet file: {exc}") from None


def _decoded_bytes(column: pa.Array) -> int:
    """Bytes ``column`` takes once its dictionary (if any) is decoded."""
    if not pa.types.is_dictionary(column.type):
        plain = _plain_type(column.type)
        return (column if plain == column.type else column.cast(plain)).nbytes
    values = column.dictionary
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
            or pa.types.is_binary(values.type)):
        return column.cast(_plain_type(column.type)).nbytes
    lengths = pc.binary_length(values).take(column.indices)
    return (pc.sum(lengths).as_py() or 0) + 4 * len(column)  # the text and its offsets


def _plain_type(arrow_type: pa.DataType) -> pa.DataType:
    """``arrow_type`` with every dictionary type replaced by the type of its values."""
    if pa.types.is_dictionary(arrow_type):
        return _plain_type(arrow_type.value_type)
    if pa.types.is_struct(arrow_type):
        return pa.struct([arrow_type.field(i).with_type(_plain_type(arrow_type.field(i).type))
                          for i in range(arrow_type.num_fields)])
    if pa.types.is_list(arrow_type):
        return pa.list_(arrow_type.value_field.with_type(_plain_type(arrow_type.value_type)))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(arrow_type.value_field.with_type(_plain_type(arrow_type.value_type)))
    return arrow_type


def _type_depth(arrow_type: pa.DataType) -> int:
    """Levels of lists, maps and structs in an Arrow type (a scalar is 0, a list of them 1)."""
    deepest, pending = 0, [(arrow_type, 0)]
    while pending:
        current, level = pending.pop()
        deepest = max(deepest, level)
        if pa.types.is_struct(current):
            children = [current.field(i).type for i in range(current.num_fields)]
        elif pa.types.is_map(current):
            children = [current.key_type, current.item_type]
        elif (pa.types.is_list(current) or pa.types.is_large_list(current)
              or pa.types.is_fixed_size_list(current)):
            children = [current.value_type]
        else:
            children = []
        pending.extend((child, level + 1) for child in children)
    return deepest


def _without_undecodable(table: pa.Table, name: str
                         ) -> tuple[pa.Table, list[ImportProblem], list[int] | None]:
    """Take out the rows whose text is not UTF-8 (Parquet promises UTF-8, a writer may not
    keep the promise); return the table, a problem per such row and the rows kept (None: all).

    A nested column (judges, humans) with such text cannot be split by row: a file problem.
    """
    try:
        table.validate(full=True)  # checks every string's UTF-8 (C++, fast)
        return table, [], None
    except pa.ArrowInvalid:
        pass
    bad: dict[int, str] = {}
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                raise _file_error(name, "undecodable bytes: not UTF-8", column=column_name
                                  ) from None
            continue
        for row, value in enumerate(column.cast(pa.binary()).to_pylist()):
            if value is not None and not _is_utf8(value):
                bad.setdefault(row, column_name)
    problems = [ImportProblem(name, f"row {row + 1}", column, "undecodable bytes: not UTF-8")
                for row, column in sorted(bad.items())]
    kept = [row for row in range(table.num_rows) if row not in bad]
    return table.take(kept), problems, kept


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


READERS: dict[str, Callable[[bytes, str, ImportLimits], RawTable]] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "parquet": read_parquet,
}
