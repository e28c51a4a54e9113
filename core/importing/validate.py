"""Validate a parsed import file against a task schema, reporting every problem at once.

The result is an :class:`ImportBatch`: the rows that are valid, normalised (canonical labels,
item fields as JSON, a content hash for idempotent re-imports) and every problem with its
file, line and field. Whether a batch with problems may be written is the caller's policy
(:func:`check_policy`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.importing.problems import ImportFileError, ImportProblem
from core.importing.readers import RawTable
from core.schema import Dimension, LabelError, TaskSchema

ON_ERROR_POLICIES: tuple[str, ...] = ("strict", "skip")
RATER_KEYS = {"judge": ("rationale", "raw"), "human": ("comment",)}
_WIDE_COLUMN = re.compile(r"^(?P<kind>judge|human)\.(?P<rater>.+)\.(?P<key>[^.]+)$")
_RATER_SAMPLE = re.compile(r"^(?P<name>.+?)(?:\[(?P<sample>\d+)\])?$")
_RESERVED_COLUMNS = ("id", "model", "group")
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class ImportLimits:
    """Size limits applied to each text value (characters)."""

    max_text_chars: int = 1_000_000
    max_name_chars: int = MAX_NAME_CHARS


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One judge label on one dimension of one item."""

    judge: str
    sample_index: int
    dimension: str
    label: str
    rationale: str | None
    raw_output: str | None


@dataclass(frozen=True, slots=True)
class HumanLabelRow:
    """One prior human label on one dimension of one item."""

    annotator: str
    dimension: str
    label: str
    comment: str | None


@dataclass(slots=True)
class ItemRow:
    """One valid item ready to be written."""

    row: int
    external_id: str
    fields: dict[str, Any]
    model: str | None
    group: str | None
    metadata: dict[str, Any] | None
    fields_json: str
    metadata_json: str | None
    content_hash: str
    verdicts: list[VerdictRow]
    human_labels: list[HumanLabelRow]


@dataclass
class ImportBatch:
    """The validated content of one import file."""

    file: str
    format: str
    schema: TaskSchema
    rows: list[ItemRow]
    problems: list[ImportProblem]
    total_records: int
    judges: tuple[str, ...] = ()
    annotators: tuple[str, ...] = ()
    rejected_rows: int = field(default=0)

    @property
    def is_clean(self) -> bool:
        """True when no record has a problem."""
        return not self.problems

    def problem_report(self, limit: int | None = None) -> str:
        """Return the problems, one per line (at most ``limit``, then a count of the rest)."""
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [str(problem) for problem in shown]
        if len(shown) < len(self.problems):
            lines.append(f"... and {len(self.problems) - len(shown)} more problems")
        return "\n".join(lines)


class ImportRejected(ValueError):
    """Strict policy: the file has problems, so nothing may be written."""

    def __init__(self, batch: ImportBatch) -> None:
        self.batch = batch
        super().__init__(
            f"{batch.file}: {len(batch.problems)} problem(s) in {batch.rejected_rows} of "
            f"{batch.total_records} records; nothing was imported (use --on-error skip to "
            f"import the valid rows). First: {batch.problems[0]}"
        )


def check_policy(batch: ImportBatch, on_error: str) -> None:
    """Raise :class:`ImportRejected` if ``on_error`` is ``strict`` and the batch has problems.

    Raises ValueError for an unknown policy.
    """
    if on_error not in ON_ERROR_POLICIES:
        raise ValueError(f"on_error must be one of {ON_ERROR_POLICIES}, got {on_error!r}")
    if on_error == "strict" and not batch.is_clean:
        raise ImportRejected(batch)


@dataclass(frozen=True)
class _RaterColumn:
    column: str
    kind: str
    rater: str
    sample_index: int
    key: str


def validate_table(raw: RawTable, schema: TaskSchema, *, limits: ImportLimits | None = None
                   ) -> ImportBatch:
    """Check every record of ``raw`` against ``schema``; return the valid rows and all problems.

    Raises :class:`ImportFileError` for problems no row-skipping can fix: a missing ``id`` or
    required-field column, or a judge/human column naming an unknown dimension.
    """
    limits = limits or ImportLimits()
    checker = _Checker(raw, schema, limits)
    return checker.run()


class _Checker:
    def __init__(self, raw: RawTable, schema: TaskSchema, limits: ImportLimits) -> None:
        self.raw = raw
        self.schema = schema
        self.limits = limits
        self.problems: list[ImportProblem] = list(raw.unparsed)
        self.bad_rows: set[int] = set()

    # -- problems ---------------------------------------------------------------------------
    def report(self, row: int, column: str, reason: str) -> None:
        self.problems.append(ImportProblem(self.raw.file, self.raw.line_of(row), column, reason, row))
        self.bad_rows.add(row)

    def file_problem(self, column: str, reason: str) -> ImportProblem:
        return ImportProblem(self.raw.file, "header", column, reason)

    # -- columns ----------------------------------------------------------------------------
    def classify(self) -> tuple[list[_RaterColumn], list[str]]:
        fatal: list[ImportProblem] = []
        columns = self.raw.columns
        if "id" not in columns:
            fatal.append(self.file_problem("id", "missing column 'id' (every row needs a unique id)"))
        for spec in self.schema.fields:
            if spec.required and spec.name not in columns:
                fatal.append(self.file_problem(
                    spec.name, f"missing column {spec.name!r}, required by task {self.schema.name!r}"))
        rater_columns: list[_RaterColumn] = []
        metadata: list[str] = []
        known = set(self.schema.field_names) | set(_RESERVED_COLUMNS)
        for column in columns:
            if column in known:
                continue
            head = column.split(".", 1)[0]
            if head not in RATER_KEYS:
                metadata.append(column)
                continue
            parsed = self.parse_rater_column(column)
            if isinstance(parsed, str):
                fatal.append(self.file_problem(column, parsed))
            else:
                rater_columns.append(parsed)
        if fatal:
            raise ImportFileError(fatal)
        return rater_columns, metadata

    def parse_rater_column(self, column: str) -> _RaterColumn | str:
        match = _WIDE_COLUMN.match(column)
        kind = column.split(".", 1)[0]
        allowed_keys = (*self.schema.dimension_names, *RATER_KEYS[kind])
        if not match:
            return (f"expected {kind}.<name>.<key> with key one of {', '.join(allowed_keys)}")
        rater_match = _RATER_SAMPLE.match(match["rater"])
        assert rater_match is not None  # the pattern accepts any non-empty name
        name, key = rater_match["name"].strip(), match["key"]
        if key not in allowed_keys:
            return (f"unknown dimension {key!r} for {kind} {name!r} "
                    f"(allowed: {', '.join(allowed_keys)})")
        if not name or len(name) > self.limits.max_name_chars:
            return f"{kind} name must have 1 to {self.limits.max_name_chars} characters"
        sample = int(rater_match["sample"] or 0)
        if kind == "human" and sample:
            return "human labels have no samples; use one column per annotator"
        return _RaterColumn(column, kind, name, sample, key)

    # -- values -----------------------------------------------------------------------------
    def ids(self) -> list[str | None]:
        result: list[str | None] = []
        first_row: dict[str, int] = {}
        for row, value in enumerate(self.raw.columns["id"]):
            if value is None or value == "":
                self.report(row, "id", "missing id")
                result.append(None)
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                self.report(row, "id", f"wrong type: expected a string or integer, got {value!r}")
                result.append(None)
                continue
            key = str(value)
            if len(key) > self.limits.max_name_chars:
                self.report(row, "id", f"id longer than {self.limits.max_name_chars} characters")
                result.append(None)
                continue
            first = first_row.setdefault(key, row)
            if first != row:
                self.report(row, "id", f"duplicate id {key!r} (first at {self.raw.line_of(first)})")
                result.append(None)
                continue
            result.append(key)
        return result

    def texts(self, column: str, *, required: bool, many: bool) -> list[Any]:
        values = self.raw.columns.get(column)
        if values is None:
            return [None] * self.raw.n_rows
        limit = self.limits.max_text_chars
        trusted = column in self.raw.string_columns and not many
        if (trusted and (not required or all(values))
                and max(map(len, filter(None, values)), default=0) <= limit):
            return [value or None for value in values]
        result: list[Any] = []
        for row, value in enumerate(values):
            if value is None or value == "" or value == []:
                if required:
                    self.report(row, column, "missing required field")
                result.append(None)
                continue
            size = self.text_size(value, many)
            if size is None:
                expected = "a string or a list of strings" if many else "a string"
                self.report(row, column, f"wrong type: expected {expected}, got {_describe(value)}")
                result.append(None)
            elif size > limit:
                self.report(row, column, f"text too long: {size:,} characters (limit {limit:,})")
                result.append(None)
            else:
                result.append(value)
        return result

    @staticmethod
    def text_size(value: Any, many: bool) -> int | None:
        if isinstance(value, str):
            return len(value)
        if many and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sum(map(len, value))
        return None

    def names(self, column: str) -> list[str | None]:
        values = self.raw.columns.get(column)
        if values is None:
            return [None] * self.raw.n_rows
        result: list[str | None] = []
        for row, value in enumerate(values):
            if value is None or value == "":
                result.append(None)
            elif isinstance(value, bool) or not isinstance(value, str | int):
                self.report(row, column, f"wrong type: expected a string, got {_describe(value)}")
                result.append(None)
            elif len(str(value)) > self.limits.max_name_chars:
                self.report(row, column, f"longer than {self.limits.max_name_chars} characters")
                result.append(None)
            else:
                result.append(str(value))
        return result

    def labels(self, column: str, dimension: Dimension) -> list[str | None]:
        cache: dict[tuple[type, Any], str | LabelError] = {}
        result: list[str | None] = []
        for row, value in enumerate(self.raw.columns[column]):
            if value is None or value == "":
                result.append(None)
                continue
            if isinstance(value, dict | list):
                self.report(row, column, f"wrong type: expected a label, got {_describe(value)}")
                result.append(None)
                continue
            key = (value.__class__, value)
            outcome = cache.get(key)
            if outcome is None:
                try:
                    outcome = dimension.normalize(value)
                except LabelError as exc:
                    outcome = exc
                cache[key] = outcome
            if isinstance(outcome, LabelError):
                self.report(row, column, str(outcome))
                result.append(None)
            else:
                result.append(outcome)
        return result

    # -- assembly ---------------------------------------------------------------------------
    def run(self) -> ImportBatch:
        rater_columns, metadata_columns = self.classify()
        n_rows = self.raw.n_rows
        ids = self.ids()
        field_values = [
            (spec.name, self.texts(spec.name, required=spec.required, many=spec.kind == "texts"))
            for spec in self.schema.fields
        ]
        models, groups = self.names("model"), self.names("group")
        rater_values = []
        for rc in rater_columns:
            if rc.key in self.schema.dimension_names:
                values = self.labels(rc.column, self.schema.dimension(rc.key))
            else:
                values = self.texts(rc.column, required=False, many=False)
            rater_values.append((rc, values))
        metadata_values = [(c, self.raw.columns[c]) for c in metadata_columns]

        verdicts_by_row = self.group_verdicts(rater_values, n_rows)
        humans_by_row = self.group_human_labels(rater_values, n_rows)

        rows: list[ItemRow] = []
        bad = self.bad_rows
        for row in range(n_rows):
            if row in bad:
                continue
            fields = {name: values[row] for name, values in field_values if values[row] is not None}
            metadata = {c: values[row] for c, values in metadata_values if values[row] is not None}
            rows.append(_make_row(row, ids[row], fields, models[row], groups[row], metadata or None,
                                  verdicts_by_row[row], humans_by_row[row]))
        judges = sorted({rc.rater for rc in rater_columns if rc.kind == "judge"})
        annotators = sorted({rc.rater for rc in rater_columns if rc.kind == "human"})
        rejected = len(self.bad_rows) + len(self.raw.unparsed)
        self.problems.sort(key=_line_order)
        return ImportBatch(self.raw.file, self.raw.format, self.schema, rows, self.problems,
                           self.raw.total_records, tuple(judges), tuple(annotators), rejected)

    def group_verdicts(self, rater_values: list[tuple[_RaterColumn, list[Any]]], n_rows: int
                       ) -> list[list[VerdictRow]]:
        by_rater: dict[tuple[str, int], dict[str, list[Any]]] = {}
        for rc, values in rater_values:
            if rc.kind == "judge":
                by_rater.setdefault((rc.rater, rc.sample_index), {})[rc.key] = values
        result: list[list[VerdictRow]] = [[] for _ in range(n_rows)]
        for (judge, sample), keyed in sorted(by_rater.items()):
            rationale = keyed.get("rationale") or [None] * n_rows
            raw_output = keyed.get("raw") or [None] * n_rows
            for dimension in self.schema.dimension_names:
                labels = keyed.get(dimension)
                if labels is None:
                    continue
                for row, label in enumerate(labels):
                    if label is not None:
                        result[row].append(VerdictRow(judge, sample, dimension, label,
                                                      rationale[row], raw_output[row]))
        return result

    def group_human_labels(self, rater_values: list[tuple[_RaterColumn, list[Any]]], n_rows: int
                           ) -> list[list[HumanLabelRow]]:
        by_rater: dict[str, dict[str, list[Any]]] = {}
        for rc, values in rater_values:
            if rc.kind == "human":
                by_rater.setdefault(rc.rater, {})[rc.key] = values
        result: list[list[HumanLabelRow]] = [[] for _ in range(n_rows)]
        for annotator, keyed in sorted(by_rater.items()):
            comments = keyed.get("comment") or [None] * n_rows
            for dimension in self.schema.dimension_names:
                labels = keyed.get(dimension)
                if labels is None:
                    continue
                for row, label in enumerate(labels):
                    if label is not None:
                        result[row].append(HumanLabelRow(annotator, dimension, label, comments[row]))
        return result


def _make_row(row: int, external_id: str | None, fields: dict[str, Any], model: str | None,
              group: str | None, metadata: dict[str, Any] | None, verdicts: list[VerdictRow],
              human_labels: list[HumanLabelRow]) -> ItemRow:
    assert external_id is not None  # rows without a valid id were reported as bad
    fields_json = json.dumps(fields, ensure_ascii=False)
    metadata_json = (json.dumps(metadata, ensure_ascii=False, sort_keys=True, default=str)
                     if metadata else None)
    digest = hashlib.blake2b(digest_size=16)
    for part in (fields_json, metadata_json or "", model or "", group or "",
                 _canonical(verdicts), _canonical(human_labels)):
        digest.update(part.encode("utf-8", errors="surrogatepass"))
        digest.update(b"\x1f")
    return ItemRow(row, external_id, fields, model, group, metadata, fields_json, metadata_json,
                   digest.hexdigest(), verdicts, human_labels)


def _canonical(records: Iterable[Any]) -> str:
    return json.dumps(sorted(tuple(_fields(r)) for r in records), ensure_ascii=False,
                      default=str)


def _fields(record: Any) -> list[Any]:
    return [getattr(record, name) for name in record.__slots__]


def _line_order(problem: ImportProblem) -> int:
    number = problem.location.rpartition(" ")[2]
    return int(number) if number.isdigit() else -1


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
