"""The gold export's rows: every item's gold under a policy, streamed in item order.

Human decisions are made for all items at once from label counts the database groups
(:func:`core.export.gold.decide_counts`), then adjudicated gold is laid on top; the items are
then read in batches and only those with any gold are written. On SQLite a JSONL export lets
the database write each item's JSON object (read as bytes, no decode and re-encode of the
texts) and appends the gold members; the bytes equal the portable column path's.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict, deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
from sqlalchemy import select
from sqlmodel import Session

from core.export.gold import (
    ADJUDICATED,
    FROM_ITEM,
    Adjudicated,
    GoldPolicy,
    decide_counts,
    decide_ranking,
    decide_reference,
    decision_columns,
    gold_columns,
)
from core.export.stored_json import stored_json_value, strict_json_texts
from core.export.writers import Batch, EncodedRows, encode_json_object, jsonl_members
from core.metrics import MetricsInputError
from core.metrics.ratings import stored_order
from core.rank_order import Order, RankingError
from core.schema import Dimension, TaskSchema, format_number
from storage.export_sql import (
    cursor_batches,
    fetch_rows,
    item_columns_sql,
    project_items_where,
)
from storage.gold import reference_dimension
from storage.models import Gold, Item, UserAccount
from storage.projects import ProjectInfo


def _adjudicated(session: Session, project_id: int) -> dict[int, dict[str, Adjudicated]]:
    """The admins' gold rows by item id and dimension."""
    query = (select(Gold.item_id, Gold.dimension, Gold.label, Gold.reference_answer,
                    Gold.note, UserAccount.name, Gold.decided_at)
             .join(Item, Item.id == Gold.item_id)
             .outerjoin(UserAccount, UserAccount.id == Gold.decided_by)
             .where(Item.project_id == project_id))
    gold: dict[int, dict[str, Adjudicated]] = defaultdict(dict)
    for item_id, dimension, *rest in session.execute(query):
        gold[item_id][dimension] = Adjudicated(*rest)
    return gold


def _annotator_references(session: Session, project_id: int
                          ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """The annotators' reference answers by item id: those they wrote or edited (their
    proposals), and those they kept as the item gave them."""
    sql = ("SELECT a.item_id, a.reference_answer, a.reference_edited FROM assignment a "
           "WHERE a.project_id = :project AND a.reference_answer IS NOT NULL")
    proposals: dict[int, list[str]] = defaultdict(list)
    kept: dict[int, list[str]] = defaultdict(list)
    for rows in cursor_batches(session, sql, {"project": project_id}):
        for item_id, text, edited in rows:
            (kept if edited is not None and not edited else proposals)[item_id].append(text)
    return proposals, kept


def _project_item_ids(session: Session, project_id: int) -> np.ndarray:
    """The ids of the project's items, ascending. When they are one unbroken run (a project
    imported in one go) the run is all there is to read: three numbers off the index instead
    of 100k rows."""
    params = {"project": project_id}
    ((count, first, last),) = fetch_rows(
        session, "SELECT COUNT(*), MIN(id), MAX(id) FROM item WHERE project_id = :project", params)
    if not count:
        return np.empty(0, dtype=np.int64)
    if last - first + 1 == count:
        return np.arange(first, last + 1, dtype=np.int64)
    rows = fetch_rows(session, "SELECT id FROM item WHERE project_id = :project ORDER BY id",
                      params)
    return np.fromiter((row[0] for row in rows), np.int64, len(rows))


@dataclass(frozen=True, eq=False)
class GoldTable:
    """The gold columns of every item of a project: row ``i`` is the item with id
    ``item_ids[i]`` (ascending), ``keep[i]`` says whether it has any gold."""

    item_ids: np.ndarray
    columns: list[list[Any]]
    keep: np.ndarray

    def rows(self, positions: Sequence[int]) -> list[list[Any]]:
        """The gold columns of the table's rows at ``positions``."""
        return [[column[i] for i in positions] for column in self.columns]

    def match(self, item_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """Which of ``item_ids`` have gold: their positions in ``item_ids`` and their rows in
        the table. An id the table does not hold has none."""
        ids = np.fromiter(item_ids, np.int64, len(item_ids))
        found, rows = _locate(self.item_ids, ids)
        if not found.any():
            return [], []
        positions = np.flatnonzero(found & self.keep[rows])
        return positions.tolist(), rows[positions].tolist()


def _rows_of(item_rows: np.ndarray, item_ids: Collection[int]) -> dict[int, int]:
    """The position in ``item_rows`` (ascending) of each of ``item_ids`` found there."""
    ids = np.fromiter(item_ids, np.int64, len(item_ids))
    found, rows = _locate(item_rows, ids)
    return dict(zip(ids[found].tolist(), rows[found].tolist(), strict=True))


def _locate(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``ids``: whether ``sorted_ids`` holds it, and at which position (0 where
    it does not)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.int64)
    rows = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    found = sorted_ids[rows] == ids
    return found, np.where(found, rows, 0)


_LABEL_COUNTS = (
    "SELECT a.item_id, a.label, COUNT(*) FROM annotation a "
    "WHERE a.item_id IN (SELECT id FROM item WHERE project_id = :project) "
    "AND a.dimension = :dimension GROUP BY a.item_id, a.label")


def _label_counts(session: Session, project_id: int, dimension: Dimension,
                  item_rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Items x labels: how many humans gave each label on ``dimension`` (counted by the
    database), and the label names; interval scores count as labels, one per distinct value.

    Raises :class:`~core.metrics.MetricsInputError` for a stored label not on the scale.
    """
    if dimension.scale != "interval":
        return _scale_counts(session, project_id, dimension, item_rows)
    rows = fetch_rows(session, _LABEL_COUNTS, {"project": project_id,
                                               "dimension": dimension.name})
    stored = sorted({label for _, label, _ in rows})
    try:
        value_of = {label: float(label) for label in stored}
    except ValueError as exc:
        raise MetricsInputError(f"dimension {dimension.name!r} is interval but a stored "
                                f"label is not a number: {exc}") from None
    distinct = sorted(set(value_of.values()))
    names = [format_number(value) for value in distinct]
    code_of = {label: distinct.index(value) for label, value in value_of.items()}
    counts = np.zeros((len(item_rows), len(names)), dtype=np.int64)
    if rows:
        item_ids, labels, numbers = zip(*rows, strict=True)
        positions = np.searchsorted(item_rows, np.fromiter(item_ids, np.int64, len(rows)))
        codes = np.fromiter((code_of[label] for label in labels), np.int64, len(rows))
        counts[positions, codes] = np.fromiter(numbers, np.int64, len(rows))
    return counts, names


def _scale_counts(session: Session, project_id: int, dimension: Dimension,
                  item_rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """:func:`_label_counts` for a scale of known labels: one row per item, a count per label.

    One row per item in index order, instead of one per (item, label) sorted in a temporary
    B-tree, and straight into numpy: 0.35 s less for 300k labels on SQLite.
    """
    names = list(dimension.label_values)
    params: dict[str, Any] = {"project": project_id, "dimension": dimension.name}
    sums = []
    for code, name in enumerate(names):
        params[f"label{code}"] = name
        sums.append(f"COUNT(*) FILTER (WHERE a.label = :label{code})")  # 7% under SUM(CASE)
    counts = np.zeros((len(item_rows), len(names)), dtype=np.int64)
    if not len(item_rows):
        return counts, names
    first, last = int(item_rows[0]), int(item_rows[-1])
    if last - first < 2 * len(item_rows):
        # The project's items are (nearly) a run of ids: walk that id range of the index and
        # drop other projects' rows below, rather than look up each item id (0.19 s vs 0.24 s).
        params.update(first=first, last=last)
        items = "a.item_id BETWEEN :first AND :last"
    else:
        items = "a.item_id IN (SELECT id FROM item WHERE project_id = :project)"
    sql = (f"SELECT a.item_id, COUNT(*), {', '.join(sums)} FROM annotation a "
           f"WHERE {items} AND a.dimension = :dimension GROUP BY a.item_id")
    rows = fetch_rows(session, sql, params)
    if not rows:
        return counts, names
    table = np.array(rows, dtype=np.int64)
    positions = np.searchsorted(item_rows, table[:, 0])
    ours = item_rows[np.minimum(positions, len(item_rows) - 1)] == table[:, 0]
    table, positions = table[ours], positions[ours]
    if (table[:, 1] != table[:, 2:].sum(axis=1)).any():
        _raise_unknown_label(session, project_id, dimension, names)
    counts[positions] = table[:, 2:]
    return counts, names


def _raise_unknown_label(session: Session, project_id: int, dimension: Dimension,
                         names: list[str]) -> None:
    """Raise :class:`~core.metrics.MetricsInputError` naming a stored label off the scale."""
    stored = {label for _, label, _ in fetch_rows(
        session, _LABEL_COUNTS, {"project": project_id, "dimension": dimension.name})}
    unknown = sorted(stored - set(names))
    raise MetricsInputError(f"stored label {unknown[0]!r} is not on the scale of "
                            f"dimension {dimension.name!r} (labels: {', '.join(names)})")


def _dimension_gold(counts: np.ndarray, names: list[str], dimension: str, policy: GoldPolicy,
                    adjudicated: Mapping[int, Mapping[str, Adjudicated]],
                    row_of: Mapping[int, int]) -> list[list[Any]]:
    """The six gold columns of one dimension (label, method, annotators, agreeing, decided_by,
    decided_at) for every item, humans decided in one vectorised pass, adjudication on top."""
    gold = decide_counts(counts, policy)
    decided = gold.label >= 0
    label_of = np.array([*names, None], dtype=object)
    labels = label_of[np.where(decided, gold.label, len(names))].tolist()
    method = np.where(decided, np.where(gold.unanimous, "unanimous", "majority"), None).tolist()
    annotators = np.where(decided, gold.annotators, None).tolist()
    agreeing = np.where(decided, gold.agreeing, None).tolist()
    decided_by: list[Any] = [None] * len(labels)
    decided_at: list[Any] = [None] * len(labels)
    code_of = {name: code for code, name in enumerate(names)}
    for item_id, by_dimension in adjudicated.items():
        ruling = by_dimension.get(dimension)
        if ruling is None or ruling.label is None or item_id not in row_of:
            continue
        row = row_of[item_id]
        code = code_of.get(ruling.label)
        labels[row], method[row], decided_by[row], decided_at[row] = (
            ruling.label, "adjudicated", ruling.decided_by, ruling.decided_at)
        annotators[row] = int(gold.counts[row].sum())
        agreeing[row] = int(gold.counts[row, code]) if code is not None else 0
    return [labels, method, annotators, agreeing, decided_by, decided_at]


_HUMAN_ORDERS = (
    "SELECT a.item_id, a.label FROM annotation a "
    "WHERE a.item_id IN (SELECT id FROM item WHERE project_id = :project) "
    "AND a.dimension = :dimension ORDER BY a.item_id, a.user_id")


def _human_orders(session: Session, project_id: int, dimension: Dimension
                  ) -> dict[int, list[Order]]:
    """The human orders on ranking ``dimension`` by item id. Raises
    :class:`~core.metrics.MetricsInputError` for a stored label that is no order."""
    orders: dict[int, list[Order]] = defaultdict(list)
    parsed: dict[str, Order] = {}  # few distinct orders (24 of 4 responses): each parsed once
    for rows in cursor_batches(session, _HUMAN_ORDERS, {"project": project_id,
                                                        "dimension": dimension.name}):
        for item_id, label in rows:
            order = parsed.get(label)
            if order is None:
                order = parsed[label] = stored_order(label, dimension.name)
            orders[item_id].append(order)
    return orders



def _ranking_gold(session: Session, project_id: int, dimension: Dimension, policy: GoldPolicy,
                  adjudicated: Mapping[int, Mapping[str, Adjudicated]],
                  row_of: Mapping[int, int], item_rows: np.ndarray) -> list[list[Any]]:
    """The seven gold columns of ranking ``dimension`` (order, method, annotators, agreeing,
    mean τ-b, decided_by, decided_at) for every item: per item with human orders or an
    adjudicated order, :func:`core.export.gold.decide_ranking`."""
    orders = _human_orders(session, project_id, dimension)
    rulings = {item_id: ruling for item_id, by_dimension in adjudicated.items()
               if (ruling := by_dimension.get(dimension.name)) is not None
               and ruling.label is not None and item_id in row_of}
    columns: list[list[Any]] = [[None] * len(item_rows) for _ in range(7)]
    rows = _rows_of(item_rows, orders.keys()) | {item_id: row_of[item_id] for item_id in rulings}
    for item_id, row in rows.items():
        ruling = rulings.get(item_id)
        try:
            gold = decide_ranking(orders.get(item_id, []), policy, None if ruling is None else
                                  stored_order(ruling.label or "", dimension.name))
        except RankingError as exc:
            raise MetricsInputError(f"ranking dimension {dimension.name!r}: {exc}") from None
        if gold.order is None:
            continue
        for column, value in enumerate((gold.order, gold.method, gold.annotators, gold.agreeing,
                                        gold.mean_tau)):
            columns[column][row] = value
        if ruling is not None:
            columns[5][row], columns[6][row] = ruling.decided_by, ruling.decided_at
    return columns


def gold_table(session: Session, project: ProjectInfo, policy: GoldPolicy) -> GoldTable:
    """The gold of every item of the project under ``policy`` (see :mod:`core.export.gold`):
    per dimension its decision columns (:func:`core.export.gold.dimension_columns`), then
    (tasks with gold references) the reference answer and its source, then the adjudication
    note."""
    schema = project.schema
    adjudicated = _adjudicated(session, project.id)
    reference_dim = reference_dimension(schema)
    proposals, kept = (_annotator_references(session, project.id)
                       if reference_dim and policy.name != ADJUDICATED else ({}, {}))
    item_rows = _project_item_ids(session, project.id)
    row_of = _rows_of(item_rows, adjudicated.keys() | proposals.keys() | kept.keys())
    columns: list[list[Any]] = []
    n_items = len(item_rows)
    keep = np.zeros(n_items, dtype=bool)
    for dimension in schema.dimensions:
        if dimension.is_ranking:
            decided = _ranking_gold(session, project.id, dimension, policy, adjudicated, row_of,
                                    item_rows)
        else:
            counts, names = _label_counts(session, project.id, dimension, item_rows)
            decided = _dimension_gold(counts, names, dimension.name, policy, adjudicated, row_of)
        keep |= np.array([label is not None for label in decided[0]], dtype=bool)
        columns.extend(decided)
    if reference_dim:
        answers: list[Any] = [None] * n_items
        sources: list[Any] = [None] * n_items
        for item_id in adjudicated.keys() | proposals.keys() | kept.keys():
            ruling = adjudicated.get(item_id, {}).get(reference_dim)
            reference = decide_reference(ruling.reference_answer if ruling else None,
                                         proposals.get(item_id, ()), kept.get(item_id, ()))
            if reference is None or item_id not in row_of:
                continue
            row = row_of[item_id]
            if reference[1] == FROM_ITEM and not keep[row]:
                continue  # the item's own reference, kept: no gold of its own
            answers[row], sources[row] = reference
            keep[row] = True
        columns += [answers, sources]
    notes: list[Any] = [None] * n_items
    for item_id, by_dimension in adjudicated.items():
        texts = sorted({ruling.note for ruling in by_dimension.values() if ruling.note})
        if texts and item_id in row_of:
            notes[row_of[item_id]] = "\n".join(texts)
    columns.append(notes)
    return GoldTable(item_rows, columns, keep)


def _sqlite_jsonl_sql(schema: TaskSchema, params: dict[str, Any], where: str) -> str:
    """SQLite builds each item's JSON object itself (in C, compact, the same bytes as the
    column writer); the gold members are appended in Python.

    The object is laid out with every member in export order (fields null), then the stored
    fields are merged in with ``json_patch``: one parse of ``fields_json`` per item instead of
    one ``json_extract`` per field (0.34 s vs 0.55 s for 100k items). The stored JSON never
    holds nulls (absent fields are left out), which a merge patch would read as deletions.
    Metadata SQLite cannot read as JSON (``NaN`` an older import stored) is null in the object
    and comes as a third column, for Python to clean (:func:`_with_stored_metadata`).
    """
    members = ["'id', external_id"]
    for index, spec in enumerate(schema.fields):
        params[f"name{index}"] = spec.name
        members.append(f":name{index}, NULL")
    members += ["'model', model", "'group', group_name",
                "'metadata', CASE WHEN json_valid(metadata_json) THEN json(metadata_json) END"]
    return (f"SELECT id, json_patch(json_object({', '.join(members)}), fields_json), "
            "CASE WHEN NOT json_valid(metadata_json) THEN metadata_json END "
            f"FROM item WHERE {where} ORDER BY id")


def _with_stored_metadata(item: bytes, metadata: bytes) -> bytes:
    """The JSON object ``item`` of the SQLite path with its metadata set from the stored text
    ``metadata`` made strict (:func:`~core.export.stored_json.stored_json_value`): the bytes the
    portable path writes for that item."""
    value = json.loads(item)
    value["metadata"] = stored_json_value(metadata)
    return encode_json_object(value)


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
    if project.schema.image_fields:
        # Image fields are hashes the caller turns into paths or embedded images
        # (storage.export_images): values, not pre-encoded rows.
        yield from column_batches(session, project, gold, decode_metadata=fmt == "jsonl")
    elif fmt == "jsonl" and sqlite:
        yield from _sqlite_jsonl_batches(session, project, gold)
    elif fmt in ("csv", "parquet") and sqlite and all(spec.kind != "texts"
                                                      for spec in project.schema.fields):
        for ids, fields, rest in _sqlite_parsed_fields(session, project, gold):
            if fmt == "csv":  # the csv writer takes UTF-8 bytes as they are
                fields = [field.cast(pa.binary()).to_pylist() for field in fields]
            yield [ids, *fields, *rest]
    else:
        yield from column_batches(session, project, gold, decode_metadata=fmt == "jsonl",
                                   as_bytes=sqlite and fmt in ("csv", "parquet"))
    without = int((~gold.keep).sum())
    if without:
        skipped["items without gold"] = without


def column_batches(session: Session, project: ProjectInfo, gold: GoldTable, *,
                   decode_metadata: bool, as_bytes: bool = False) -> Iterator[list[list[Any]]]:
    """Yield batches of value columns of the items with gold (the portable path, any
    database). ``decode_metadata`` turns the stored metadata JSON into objects (JSONL);
    otherwise it stays the JSON text the database holds (CSV, Parquet)."""
    schema = project.schema
    params: dict[str, Any] = {"project": project.id}
    sql = item_columns_sql(session, schema, params, project_items_where(session, params))
    decode = [1 + i for i, spec in enumerate(schema.fields) if spec.kind in ("texts", "images")]
    metadata_at = 1 + len(schema.fields) + 2
    loads = json.loads
    for kept, gold_rows in _kept_batches(session, sql, params, gold, as_bytes=as_bytes):
        columns = [list(values) for values in zip(*kept, strict=True)][1:]  # without the id
        unread = columns.pop()  # fields the database could not take out (see item_columns_sql)
        for index in decode:
            columns[index] = [None if v is None else loads(v) for v in columns[index]]
        if decode_metadata:
            columns[metadata_at] = [None if v is None else stored_json_value(v)
                                    for v in columns[metadata_at]]
        else:
            columns[metadata_at] = strict_json_texts(columns[metadata_at])
        for row, stored in enumerate(unread):
            if stored is not None:
                fields = loads(stored)
                for index, spec in enumerate(schema.fields, start=1):
                    columns[index][row] = fields.get(spec.name)
        yield columns + gold.rows(gold_rows)


def _sqlite_parsed_fields(session: Session, project: ProjectInfo, gold: GoldTable
                          ) -> Iterator[tuple[list[Any], list[pa.Array], list[Any]]]:
    """CSV and Parquet on SQLite, text fields only: per batch of items with gold, their
    external ids, their text fields as Arrow columns, and the other columns (model, group,
    metadata JSON, then the gold columns).

    The stored fields JSON of each batch is parsed by pyarrow (C++, without the GIL) on a
    thread of its own while the next batch is read, instead of three ``json_extract`` calls
    per item in SQLite, which re-parse the JSON each time (SQLite 3.40) and run on the reading
    thread: the export's main thread does 0.1 s less per 100k items (CSV 0.94-1.03 s ->
    0.87-0.89 s here), and Parquet's fields need no conversion per value.
    """
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([(spec.name, pa.string()) for spec in project.schema.fields]),
        unexpected_field_behavior="ignore")
    params: dict[str, Any] = {"project": project.id}
    sql = ("SELECT id, external_id, fields_json, model, group_name, metadata_json FROM item "
           f"WHERE {project_items_where(session, params)} ORDER BY id")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-export-parse") as pool:
        pending: deque[tuple[list[Any], Future[list[pa.Array]], list[Any]]] = deque()
        for kept, gold_rows in _kept_batches(session, sql, params, gold, as_bytes=True):
            _, ids, fields, models, groups, metadata = (list(values)
                                                        for values in zip(*kept, strict=True))
            pending.append((ids, pool.submit(_parse_fields, fields, options),
                            [models, groups, strict_json_texts(metadata), *gold.rows(gold_rows)]))
            if len(pending) > 1:  # one batch parsing while the next was read
                ids, parsed, rest = pending.popleft()
                yield ids, parsed.result(), rest
        for ids, parsed, rest in pending:
            yield ids, parsed.result(), rest


def _parse_fields(fields: list[bytes], options: pa_json.ParseOptions) -> list[pa.Array]:
    """The text fields of each stored fields JSON object, one Arrow column per field.

    Raises RuntimeError if the objects do not parse as one row each.
    """
    data = b"\n".join(fields)
    # One block holds the whole batch: a block must hold whole lines, and a line may be MBs.
    # One thread: the parse already runs beside the reading thread.
    table = pa_json.read_json(io.BytesIO(data), parse_options=options,
                              read_options=pa_json.ReadOptions(block_size=len(data) + 1,
                                                               use_threads=False))
    if table.num_rows != len(fields):
        raise RuntimeError(f"the fields of {len(fields)} items parsed as {table.num_rows} rows")
    return [column.combine_chunks() for column in table.columns]


_COMMA = ord(",")


def _sqlite_jsonl_batches(session: Session, project: ProjectInfo, gold: GoldTable
                          ) -> Iterator[EncodedRows]:
    params: dict[str, Any] = {"project": project.id}
    sql = _sqlite_jsonl_sql(project.schema, params, project_items_where(session, params))
    tail_columns = decision_columns(project.schema)
    for kept, gold_rows in _kept_batches(session, sql, params, gold, as_bytes=True):
        members = jsonl_members(tail_columns, gold.rows(gold_rows))
        # Each line is the item's object with its closing brace turned into a comma, then the
        # gold members: appended in place, one copy of each object instead of three (slice,
        # concatenation, join: 0.12 s vs 0.25 s for 100k items of 1 KB).
        lines = bytearray()
        for row, tail in zip(kept, members, strict=True):
            lines += row[1] if row[2] is None else _with_stored_metadata(row[1], row[2])
            lines[-1] = _COMMA
            lines += tail
        yield EncodedRows(lines, len(members))


def _kept_batches(session: Session, sql: str, params: Mapping[str, Any], gold: GoldTable, *,
                  as_bytes: bool = False) -> Iterator[tuple[list[tuple[Any, ...]], list[int]]]:
    """Yield each batch of item rows (first column the item id) that has items with gold, with
    those items' rows in the gold table, matched by id."""
    for rows in cursor_batches(session, sql, params, as_bytes=as_bytes):
        positions, gold_rows = gold.match([row[0] for row in rows])
        if positions:
            yield [rows[i] for i in positions], gold_rows


def gold_rows(session: Session, project: ProjectInfo, policy: GoldPolicy,
              skipped: dict[str, int]) -> Iterator[dict[str, Any]]:
    """The gold export's rows as dicts keyed by column name (for preference pairs)."""
    names = [column.name for column in gold_columns(project.schema)]
    for columns in gold_batches(session, project, policy, skipped):
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))

