"""Read a project for export and write the file: gold, all labels, preference pairs, report.

One code path for the Export page and ``python cli.py export``: :func:`export_project` takes
an :class:`ExportRequest`, reads the project inside one read transaction (a consistent
snapshot: SQLite's WAL snapshot; PostgreSQL at REPEATABLE READ), and streams rows to
:mod:`core.export.writers` in batches of :data:`BATCH_ROWS` items, so the item texts are never
all in memory at once. Who may export is the caller's check (:func:`require_admin`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from core import DOCKET_VERSION
from core.export.gold import (
    Adjudicated,
    GoldPolicy,
    decide_matrix,
    gold_columns,
    interval_codes,
    proposed_reference,
)
from core.export.labels import LABEL_COLUMNS, jury_label_rows
from core.export.preferences import PREFERENCE_COLUMNS, PairStats, preference_pairs
from core.export.registry import check_request
from core.export.report import write_report
from core.export.writers import (
    Batch,
    EncodedRows,
    ExportError,
    WrittenFile,
    columns_of,
    jsonl_members,
    write_table,
)
from core.metrics import compare_dimension
from core.metrics.consensus import jury_verdict
from core.metrics.ratings import Ratings
from core.schema import TaskSchema, format_number, schema_to_dict
from storage.database import Database
from storage.gold import reference_dimension
from storage.labels import load_ratings
from storage.models import Annotation, Assignment, Gold, Item, Judge, UserAccount, Verdict
from storage.projects import ProjectInfo, get_project
from storage.users import UserInfo

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000
_PARAMETER = re.compile(r":(\w+)")


class ExportDenied(PermissionError):
    """The user may not export (not an admin, or deactivated)."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export: ``kind`` (gold, labels, preferences, report) as ``fmt``.

    ``policy`` decides gold (gold and preferences). ``dimension``/``margin`` pick the rating
    pairs of preferences. ``juries`` (name -> judges) add jury rows to labels and the report.
    ``n_resamples``/``seed`` are the report's bootstrap settings.
    """

    kind: str
    fmt: str
    policy: GoldPolicy = field(default_factory=GoldPolicy)
    dimension: str | None = None
    margin: float = 1.0
    juries: Mapping[str, Sequence[str]] = field(default_factory=dict)
    n_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class ExportSummary:
    """A finished export: the file and its sidecar, and what was left out and why."""

    written: WrittenFile
    skipped: dict[str, int]

    def line(self) -> str:
        """One line for the CLI and the page: rows, size, checksum, skipped counts."""
        text = (f"exported {self.written.rows:,} rows to {self.written.path} "
                f"({self.written.bytes:,} bytes, sha256 {self.written.sha256[:16]}…)")
        if self.skipped:
            text += "; left out: " + ", ".join(f"{count:,} {reason}"
                                               for reason, count in sorted(self.skipped.items()))
        return text


def require_admin(user: UserInfo | None) -> UserInfo:
    """Return ``user`` if it is an active admin; raise :class:`ExportDenied` otherwise."""
    if user is None or not user.active or user.role != "admin":
        raise ExportDenied("exports are for admins only")
    return user


def export_project(db: Database, *, project_name: str, request: ExportRequest,
                   path: Path | str, now: datetime | None = None) -> ExportSummary:
    """Write the export ``request`` of project ``project_name`` to ``path``; return its summary.

    Raises :class:`storage.projects.ProjectError` for an unknown project and
    :class:`~core.export.writers.ExportError` for a kind/format/policy that does not apply
    (the message says which). Nothing is left at ``path`` when it fails.
    """
    check_request(request.kind, request.fmt)
    with db.read() as session:
        _snapshot(session)
        project = get_project(session=session, name=project_name)
        metadata = _metadata(project, request, now or datetime.now(UTC))
        if request.kind == "gold":
            return _export_gold(session, project, request, path, metadata)
        if request.kind == "labels":
            return _export_labels(session, project, request, path, metadata)
        if request.kind == "preferences":
            return _export_preferences(session, project, request, path, metadata)
        return _export_report(session, project, request, path, metadata)


def _snapshot(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _metadata(project: ProjectInfo, request: ExportRequest, now: datetime) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "docket_version": DOCKET_VERSION, "exported_at": now.isoformat(),
        "kind": request.kind, "format": request.fmt, "project": project.name,
        "template": project.template, "schema": schema_to_dict(project.schema)}
    if request.kind in ("gold", "preferences"):
        metadata["policy"] = {"name": request.policy.name, "min_labels": request.policy.min_labels,
                              "description": request.policy.describe()}
    if request.kind == "preferences":
        metadata["margin"] = request.margin
    if request.juries:
        metadata["juries"] = {name: list(members) for name, members in request.juries.items()}
    if request.kind == "report":
        metadata["bootstrap"] = {"resamples": request.n_resamples, "seed": request.seed}
    return metadata


# --- reading ---------------------------------------------------------------------------------

def _cursor_batches(session: Session, sql: str, params: Mapping[str, Any],
                    size: int = BATCH_ROWS, *, as_bytes: bool = False
                    ) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in batches from the DB-API cursor; on PostgreSQL a server-side cursor, so a large
    result is not fetched into memory at once. ``as_bytes`` (SQLite only) returns text
    columns as UTF-8 bytes, skipping the decode when the text goes straight to a file."""
    connection = session.connection()
    raw = connection.connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name="docket_export")
        sql = _PARAMETER.sub(r"%(\1)s", sql)
    else:
        driver = raw.driver_connection
        if as_bytes:
            driver.text_factory = bytes
        cursor = raw.cursor()
    try:
        cursor.execute(sql, dict(params))
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()
        if as_bytes:
            driver.text_factory = str


def _field_expressions(schema: TaskSchema, dialect: str, params: dict[str, Any]) -> list[str]:
    """SQL that takes each template field out of ``fields_json`` in the database (C code, not
    ``json.loads`` per row): the text of a text field, the JSON of a texts field (a string or
    a list, decoded in Python)."""
    expressions = []
    for index, spec in enumerate(schema.fields):
        key = f"field{index}"
        if dialect == "postgresql":
            params[key] = spec.name
            operator = "->" if spec.kind == "texts" else "->>"
            expression = f"(CAST(fields_json AS json) {operator} CAST(:{key} AS text))"
            expressions.append(f"CAST({expression} AS text)" if spec.kind == "texts"
                               else expression)
        else:
            params[key] = f'$."{spec.name}"'
            expressions.append(f"(fields_json -> :{key})" if spec.kind == "texts"
                               else f"json_extract(fields_json, :{key})")
    return expressions


def _adjudicated(session: Session, project_id: int) -> dict[str, dict[str, Adjudicated]]:
    """The admins' gold rows by item (external id) and dimension."""
    query = (select(Item.external_id, Gold.dimension, Gold.label, Gold.reference_answer,
                    Gold.note, UserAccount.name, Gold.decided_at)
             .join(Item, Item.id == Gold.item_id)
             .outerjoin(UserAccount, UserAccount.id == Gold.decided_by)
             .where(Item.project_id == project_id))
    gold: dict[str, dict[str, Adjudicated]] = defaultdict(dict)
    for external_id, dimension, *rest in session.execute(query):
        gold[external_id][dimension] = Adjudicated(*rest)
    return gold


def _proposed_references(session: Session, project_id: int) -> dict[str, list[str]]:
    """The annotators' proposed reference answers by item (external id)."""
    sql = ("SELECT i.external_id, a.reference_answer FROM assignment a "
           "JOIN item i ON i.id = a.item_id "
           "WHERE a.project_id = :project AND a.reference_answer IS NOT NULL")
    proposals: dict[str, list[str]] = defaultdict(list)
    for rows in _cursor_batches(session, sql, {"project": project_id}):
        for external_id, text in rows:
            proposals[external_id].append(text)
    return proposals


# --- gold ------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class GoldTable:
    """The gold columns of every item of a project, in item order (row ``i`` is the project's
    ``i``-th item by id), and which items have any gold (``keep``)."""

    item_ids: np.ndarray
    columns: list[list[Any]]
    keep: np.ndarray

    def rows(self, positions: Sequence[int]) -> list[list[Any]]:
        """The gold columns of the items at ``positions``."""
        return [[column[i] for i in positions] for column in self.columns]


def _dimension_gold(ratings: Ratings, policy: GoldPolicy,
                    adjudicated: Mapping[str, Mapping[str, Adjudicated]],
                    row_of: Mapping[str, int]) -> list[list[Any]]:
    """The six gold columns of one dimension (label, method, annotators, agreeing, decided_by,
    decided_at) for every item, humans decided in one vectorised pass, adjudication on top."""
    dimension = ratings.dimension
    humans = [i for i, rater in enumerate(ratings.raters) if rater.startswith("human:")]
    values = ratings.values[:, humans]
    if dimension.scale == "interval":
        codes, distinct = interval_codes(values)
        names = [format_number(value) for value in distinct.tolist()]
    else:
        codes, names = values, list(dimension.label_values)
    gold = decide_matrix(codes, len(names), policy)
    decided = gold.label >= 0
    label_of = np.array([*names, None], dtype=object)
    labels = label_of[np.where(decided, gold.label, len(names))].tolist()
    method = np.where(decided, np.where(gold.unanimous, "unanimous", "majority"), None).tolist()
    annotators = np.where(decided, gold.annotators, None).tolist()
    agreeing = np.where(decided, gold.agreeing, None).tolist()
    decided_by: list[Any] = [None] * len(labels)
    decided_at: list[Any] = [None] * len(labels)
    code_of = {name: code for code, name in enumerate(names)}
    for external_id, by_dimension in adjudicated.items():
        ruling = by_dimension.get(dimension.name)
        if ruling is None or ruling.label is None or external_id not in row_of:
            continue
        row = row_of[external_id]
        code = code_of.get(ruling.label)
        labels[row], method[row], decided_by[row], decided_at[row] = (
            ruling.label, "adjudicated", ruling.decided_by, ruling.decided_at)
        annotators[row] = int(gold.counts[row].sum())
        agreeing[row] = int(gold.counts[row, code]) if code is not None else 0
    return [labels, method, annotators, agreeing, decided_by, decided_at]


def gold_table(session: Session, project: ProjectInfo, policy: GoldPolicy) -> GoldTable:
    """The gold of every item of the project under ``policy`` (see :mod:`core.export.gold`):
    per dimension the six decision columns, then (tasks with gold references) the reference
    answer and its source, then the adjudication note."""
    schema = project.schema
    adjudicated = _adjudicated(session, project.id)
    columns: list[list[Any]] = []
    item_ids: np.ndarray | None = None
    row_of: dict[str, int] = {}
    for dimension in schema.dimensions:
        ratings = load_ratings(session=session, project_id=project.id, dimension=dimension)
        if item_ids is None:
            item_ids = ratings.item_ids
            row_of = {external_id: row for row, external_id in enumerate(item_ids.tolist())}
        columns.extend(_dimension_gold(ratings, policy, adjudicated, row_of))
    assert item_ids is not None  # a schema has at least one dimension
    n_items = len(item_ids)
    keep = np.zeros(n_items, dtype=bool)
    for labels in columns[::6]:
        keep |= np.array([label is not None for label in labels], dtype=bool)
    reference_dim = reference_dimension(schema)
    if reference_dim:
        proposals = (_proposed_references(session, project.id)
                     if policy.name != "adjudicated" else {})
        answers: list[Any] = [None] * n_items
        sources: list[Any] = [None] * n_items
        for external_id in adjudicated.keys() | proposals.keys():
            reference = _reference(adjudicated.get(external_id, {}).get(reference_dim),
                                   proposals.get(external_id))
            if reference is not None and external_id in row_of:
                row = row_of[external_id]
                answers[row], sources[row] = reference
                keep[row] = True
        columns += [answers, sources]
    notes: list[Any] = [None] * n_items
    for external_id, by_dimension in adjudicated.items():
        texts = sorted({ruling.note for ruling in by_dimension.values() if ruling.note})
        if texts and external_id in row_of:
            notes[row_of[external_id]] = "\n".join(texts)
    columns.append(notes)
    return GoldTable(item_ids, columns, keep)


def _sqlite_jsonl_sql(schema: TaskSchema, params: dict[str, Any]) -> str:
    """SQLite builds each item's JSON object itself (``json_object``, in C, compact, the same
    bytes as the column writer); the gold members are appended in Python."""
    members = ["'id', external_id"]
    for index, spec in enumerate(schema.fields):
        params[f"field{index}"] = f'$."{spec.name}"'
        value = (f"json(fields_json -> :field{index})" if spec.kind == "texts"
                 else f"json_extract(fields_json, :field{index})")
        params[f"name{index}"] = spec.name
        members.append(f":name{index}, {value}")
    members += ["'model', model", "'group', group_name", "'metadata', json(metadata_json)"]
    return (f"SELECT external_id, json_object({', '.join(members)}) FROM item "
            "WHERE project_id = :project ORDER BY id")


def gold_batches(session: Session, project: ProjectInfo, policy: GoldPolicy,
                 skipped: dict[str, int], fmt: str | None = None) -> Iterator[Batch]:
    """Batches of the gold export (:func:`core.export.gold.gold_columns`), in item order,
    of the items with any gold; the others are counted in ``skipped["items without gold"]``.

    For JSONL on SQLite the batches are :class:`~core.export.writers.EncodedRows` (the
    database writes the item part of each line, read as bytes: no decode and re-encode of
    the texts); otherwise lists of column values.
    """
    gold = gold_table(session, project, policy)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if fmt == "jsonl" and sqlite:
        yield from _sqlite_jsonl_batches(session, project, gold)
    else:
        yield from _column_batches(session, project, gold, decode_metadata=fmt == "jsonl",
                                   as_bytes=sqlite and fmt == "parquet")
    without = int((~gold.keep).sum())
    if without:
        skipped["items without gold"] = without


def _item_columns_sql(session: Session, schema: TaskSchema, params: dict[str, Any],
                      where: str) -> str:
    fields = _field_expressions(schema, session.get_bind().dialect.name, params)
    return (f"SELECT external_id, {', '.join(fields)}, model, group_name, metadata_json "
            f"FROM item WHERE {where} ORDER BY id")


def _column_batches(session: Session, project: ProjectInfo, gold: GoldTable, *,
                    decode_metadata: bool, as_bytes: bool = False) -> Iterator[list[list[Any]]]:
    """Batches of value columns. ``decode_metadata`` turns the stored metadata JSON into
    objects (JSONL); otherwise it stays the JSON text the database holds (CSV, Parquet)."""
    schema = project.schema
    params: dict[str, Any] = {"project": project.id}
    sql = _item_columns_sql(session, schema, params, "project_id = :project")
    decode = [1 + i for i, spec in enumerate(schema.fields) if spec.kind == "texts"]
    if decode_metadata:
        decode.append(1 + len(schema.fields) + 2)
    loads = json.loads
    start = 0
    for rows in _cursor_batches(session, sql, params, as_bytes=as_bytes):
        first, last = rows[0][0], rows[-1][0]
        if as_bytes:
            first, last = first.decode(), last.decode()
        positions = np.flatnonzero(gold.keep[start:start + len(rows)])
        _check_order(gold, start, first, last, len(rows))
        start += len(rows)
        if not len(positions):
            continue
        kept = [rows[i] for i in positions.tolist()]
        columns = [list(values) for values in zip(*kept, strict=True)]
        for index in decode:
            columns[index] = [None if v is None else loads(v) for v in columns[index]]
        yield columns + gold.rows((positions + start - len(rows)).tolist())


def _sqlite_jsonl_batches(session: Session, project: ProjectInfo, gold: GoldTable
                          ) -> Iterator[EncodedRows]:
    params: dict[str, Any] = {"project": project.id}
    sql = _sqlite_jsonl_sql(project.schema, params)
    tail_columns = gold_columns(project.schema)[len(project.schema.fields) + 4:]
    start = 0
    for rows in _cursor_batches(session, sql, params, as_bytes=True):
        positions = np.flatnonzero(gold.keep[start:start + len(rows)])
        _check_order(gold, start, rows[0][0].decode(), rows[-1][0].decode(), len(rows))
        start += len(rows)
        if not len(positions):
            continue
        members = jsonl_members(tail_columns,
                                gold.rows((positions + start - len(rows)).tolist()))
        lines = [rows[i][1][:-1] + b"," + tail for i, tail in zip(positions.tolist(), members,
                                                                    strict=True)]
        yield EncodedRows(b"".join(lines), len(lines))


def _check_order(gold: GoldTable, start: int, first: str, last: str, count: int) -> None:
    """The item query and the label matrix list the same items in the same order (both by id,
    in one snapshot); a mismatch would pair items with another item's gold."""
    if (gold.item_ids[start], gold.item_ids[start + count - 1]) != (first, last):
        raise RuntimeError(f"gold rows out of step with the items at {first!r}")


def gold_rows(session: Session, project: ProjectInfo, policy: GoldPolicy,
              skipped: dict[str, int]) -> Iterator[dict[str, Any]]:
    """The gold export's rows as dicts keyed by column name (for preference pairs)."""
    names = [column.name for column in gold_columns(project.schema)]
    for columns in gold_batches(session, project, policy, skipped):
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))


def _reference(adjudicated: Adjudicated | None, proposals: Sequence[str] | None
               ) -> tuple[str, str] | None:
    if adjudicated is not None and adjudicated.reference_answer:
        return adjudicated.reference_answer, "adjudicated"
    text = proposed_reference(proposals or ())
    return (text, "annotators") if text is not None else None


def _export_gold(session: Session, project: ProjectInfo, request: ExportRequest,
                 path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    skipped: dict[str, int] = {}
    written = write_table(path, request.fmt, gold_columns(project.schema),
                          gold_batches(session, project, request.policy, skipped, request.fmt),
                          metadata)
    return ExportSummary(written, skipped)


# --- preferences -----------------------------------------------------------------------------

def _export_preferences(session: Session, project: ProjectInfo, request: ExportRequest,
                        path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    skipped: dict[str, int] = {}
    stats = PairStats()
    rows = gold_rows(session, project, request.policy, skipped)
    pairs = preference_pairs(rows, project.schema, stats, dimension=request.dimension,
                             margin=request.margin)
    written = write_table(path, request.fmt, PREFERENCE_COLUMNS,
                          (columns_of(batch, PREFERENCE_COLUMNS) for batch in _batched(pairs)),
                          metadata)
    for reason, count in stats.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + count
    return ExportSummary(written, skipped)


def _batched(rows: Iterator[dict[str, Any]], size: int = BATCH_ROWS
             ) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- all labels ------------------------------------------------------------------------------

def label_rows(session: Session, project: ProjectInfo,
               juries: Mapping[str, Sequence[str]]) -> Iterator[list[dict[str, Any]]]:
    """Batches of long-format label rows: every human label, every judge verdict (all
    samples), then each jury's verdict per dimension; ordered by item within each kind."""
    humans = (select(Item.external_id, Annotation.dimension, UserAccount.name, Annotation.label,
                     Annotation.blind, Annotation.revision, Annotation.comment,
                     Assignment.comment, Annotation.confidence, Assignment.confidence,
                     Annotation.source, Annotation.created_at, Annotation.updated_at)
              .join(Item, Item.id == Annotation.item_id)
              .join(UserAccount, UserAccount.id == Annotation.user_id)
              .outerjoin(Assignment, (Assignment.item_id == Annotation.item_id)
                         & (Assignment.user_id == Annotation.user_id))
              .where(Item.project_id == project.id)
              .order_by(Item.id, UserAccount.name, Annotation.dimension))
    for rows in session.execute(humans).yield_per(BATCH_ROWS).partitions():
        yield [{"id": item, "dimension": dimension, "rater_kind": "human", "rater": name,
                "label": label, "sample_index": None, "blind": blind, "revision": revision,
                "comment": comment if comment is not None else item_comment,
                "confidence": confidence if confidence is not None else item_confidence,
                "rationale": None, "source": source, "created_at": created,
                "updated_at": updated}
               for (item, dimension, name, label, blind, revision, comment, item_comment,
                    confidence, item_confidence, source, created, updated) in rows]
    judges = (select(Item.external_id, Verdict.dimension, Judge.name, Verdict.label,
                     Verdict.sample_index, Verdict.rationale, Verdict.created_at)
              .join(Item, Item.id == Verdict.item_id).join(Judge, Judge.id == Verdict.judge_id)
              .where(Item.project_id == project.id)
              .order_by(Item.id, Judge.name, Verdict.sample_index, Verdict.dimension))
    for rows in session.execute(judges).yield_per(BATCH_ROWS).partitions():
        yield [{"id": item, "dimension": dimension, "rater_kind": "judge", "rater": name,
                "label": label, "sample_index": sample, "blind": None, "revision": None,
                "comment": None, "confidence": None, "rationale": rationale, "source": "import",
                "created_at": created, "updated_at": created}
               for item, dimension, name, label, sample, rationale, created in rows]
    for dimension in project.schema.dimensions:
        if not juries:
            break
        ratings = load_ratings(session=session, project_id=project.id, dimension=dimension)
        for name, members in juries.items():
            verdict = jury_verdict(ratings, members)
            yield jury_label_rows(name, members, dimension, ratings.item_ids, verdict.values)


def _export_labels(session: Session, project: ProjectInfo, request: ExportRequest,
                   path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    written = write_table(path, request.fmt, LABEL_COLUMNS,
                          (columns_of(batch, LABEL_COLUMNS)
                           for batch in label_rows(session, project, request.juries)), metadata)
    return ExportSummary(written, {})


# --- report ----------------------------------------------------------------------------------

def report_documents(session: Session, project: ProjectInfo, request: ExportRequest
                     ) -> list[dict[str, Any]]:
    """The comparison document of every dimension of the project (as ``cli.py metrics``)."""
    documents = []
    for dimension in project.schema.dimensions:
        ratings = load_ratings(session=session, project_id=project.id, dimension=dimension)
        judges = {rater.split(":", 1)[1] for rater in ratings.raters if rater.startswith("judge:")}
        juries = {name: list(members) for name, members in request.juries.items()
                  if set(members) <= judges}
        documents.append({"project": project.name,
                          **compare_dimension(ratings, juries=juries,
                                              n_resamples=request.n_resamples, seed=request.seed)})
    return documents


def _export_report(session: Session, project: ProjectInfo, request: ExportRequest,
                   path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    documents = report_documents(session, project, request)
    return ExportSummary(write_report(path, request.fmt, documents, metadata), {})


__all__ = ["BATCH_ROWS", "ExportDenied", "ExportError", "ExportRequest", "ExportSummary",
           "export_project", "gold_rows", "label_rows", "report_documents", "require_admin"]
