"""Write the agreement report: offline HTML, one JSON document, or one long CSV table.

The documents are :func:`core.metrics.compare_dimension` results, one per dimension. The CSV
stacks the report's tables (:data:`core.export.report_tables.REPORT_TABLES`) into one file
with a ``table`` column saying which table a row belongs to, so one ``-o PATH`` is enough.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.audit import AuditReport
from core.charts.model import DEFAULT_MIN_PAIR_ITEMS
from core.export.report_audit import AUDIT_KEYS, audit_rows
from core.export.report_html import render_report_html
from core.export.report_tables import REPORT_KEYS, REPORT_TABLES, report_json
from core.export.writers import (
    Column,
    ExportError,
    WrittenFile,
    columns_of,
    write_table,
    write_text,
)

REPORT_FORMATS = ("html", "json", "csv")


def _column_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float"
    return "string"


def stacked_tables(documents: Sequence[Mapping[str, Any]], audits: Sequence[AuditReport] = ()
                   ) -> tuple[list[Column], list[dict[str, Any]]]:
    """Return the columns and rows of every report table stacked, with a ``table`` column
    first, then the union of the tables' columns (:data:`REPORT_KEYS`, in table order, then
    the audit tables' :data:`~core.export.report_audit.AUDIT_KEYS` when ``audits`` are given)."""
    rows: list[dict[str, Any]] = []
    names: dict[str, None] = {"table": None}
    for table, build in REPORT_TABLES.items():
        names.update(dict.fromkeys(REPORT_KEYS[table]))
        rows.extend({"table": table, **row} for row in build(documents))
    if audits:
        for table, audit_table in audit_rows(audits).items():
            names.update(dict.fromkeys(AUDIT_KEYS[table]))
            rows.extend({"table": table, **row} for row in audit_table)
    columns = [Column(name, _column_type([row.get(name) for row in rows])) for name in names]
    return columns, rows


def write_report(path: Path | str, fmt: str, documents: Sequence[Mapping[str, Any]],
                 metadata: Mapping[str, Any], *,
                 min_pair_items: int = DEFAULT_MIN_PAIR_ITEMS,
                 audits: Sequence[AuditReport] = ()) -> WrittenFile:
    """Write the report of ``documents`` as ``fmt`` (html, json or csv) to ``path``; return it.

    ``min_pair_items`` is the overlap an annotator pair needs to count in the HTML report's
    human range. ``audits`` (one per document, same order) add the judge audit: an HTML
    section per dimension, an ``audit`` key per dimension in JSON, three tables in CSV.
    Raises :class:`~core.export.writers.ExportError` for another format.
    """
    if fmt == "html":
        html = render_report_html(documents, metadata, min_pair_items=min_pair_items,
                                  audits=audits)
        return write_text(path, html, metadata)
    if fmt == "json":
        document = report_json(documents, metadata)
        for dimension, audit in zip(document["dimensions"], audits, strict=False):
            dimension["audit"] = audit.to_dict()
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1)
        return write_text(path, text + "\n", metadata)
    if fmt == "csv":
        columns, rows = stacked_tables(documents, audits)
        return write_table(path, "csv", columns, [columns_of(rows, columns)], metadata)
    raise ExportError(f"the report cannot be written as {fmt!r} (formats: {', '.join(REPORT_FORMATS)})")
