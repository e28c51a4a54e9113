"""Reading rows for exports straight from the DB-API cursor, in batches.

Exports read far more rows than any page, so they skip the ORM: plain tuples, fetched
:data:`BATCH_ROWS` at a time (a server-side cursor on PostgreSQL), item fields taken out of the
stored JSON by the database itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from sqlmodel import Session

from core.schema import TaskSchema

BATCH_ROWS = 5_000
_PARAMETER = re.compile(r":(\w+)")


def cursor_batches(session: Session, sql: str, params: Mapping[str, Any],
                    size: int = BATCH_ROWS, *, as_bytes: bool = False
                    ) -> Iterator[list[tuple[Any, ...]]]:
    """Yield rows in batches from the DB-API cursor; on PostgreSQL a server-side cursor, so a large
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


# PostgreSQL's ``->>`` cannot turn a JSON string holding ``\u0000`` into text (an error that
# ends the export). Such items (stored before imports refused NUL) skip it: their fields come
# as the stored JSON, decoded in Python (:func:`item_columns_sql`'s last column).
_HOLDS_NUL = r"%\\u0000%"


def field_expressions(schema: TaskSchema, dialect: str, params: dict[str, Any]) -> list[str]:
    """Return SQL that takes each template field out of ``fields_json`` in the database (C code, not
    ``json.loads`` per row): the text of a text field (or an image's hash), the JSON of a
    texts or images field (a string or a list, decoded in Python). On PostgreSQL a text field
    of an item whose JSON holds ``\u0000`` is NULL here (see :func:`item_columns_sql`)."""
    expressions = []
    for index, spec in enumerate(schema.fields):
        key = f"field{index}"
        if dialect == "postgresql":
            params[key] = spec.name
            params["holds_nul"] = _HOLDS_NUL
            if spec.kind in ("texts", "images"):
                expressions.append(f"CAST((CAST(fields_json AS json) -> CAST(:{key} AS text)) "
                                   "AS text)")
            else:
                expressions.append(f"CASE WHEN fields_json NOT LIKE :holds_nul THEN "
                                   f"(CAST(fields_json AS json) ->> CAST(:{key} AS text)) END")
        else:
            params[key] = f'$."{spec.name}"'
            expressions.append(f"(fields_json -> :{key})" if spec.kind in ("texts", "images")
                               else f"json_extract(fields_json, :{key})")
    return expressions


def item_columns_sql(session: Session, schema: TaskSchema, params: dict[str, Any],
                     where: str) -> str:
    """Return the query of the items matching ``where``: id, external id, each field
    (:func:`field_expressions`), model, group, the stored metadata JSON and, last, the stored
    fields JSON of the items whose fields the database could not take out (else NULL)."""
    dialect = session.get_bind().dialect.name
    fields = field_expressions(schema, dialect, params)
    unread = "NULL"
    if dialect == "postgresql":
        params["holds_nul"] = _HOLDS_NUL
        unread = "CASE WHEN fields_json LIKE :holds_nul THEN fields_json END"
    return (f"SELECT id, external_id, {', '.join(fields)}, model, group_name, metadata_json, "
            f"{unread} FROM item WHERE {where} ORDER BY id")


def project_items_where(session: Session, params: dict[str, Any]) -> str:
    """Return a WHERE condition for the items of project ``params["project"]`` that lets the
    database read them in id order without sorting.

    SQLite would pick the (project, updated_at) index and then sort every row, JSON built
    and all, before returning the first (0.28 s and the whole export in its sorter for
    100k items); a range of ids with the project test kept off the index (``+``) makes it
    walk the table in id order instead. May add ``first_item`` and ``last_item`` to ``params``.
    """
    if session.get_bind().dialect.name != "sqlite":
        return "project_id = :project"
    ((first, last),) = fetch_rows(session, "SELECT MIN(id), MAX(id) FROM item "
                                           "WHERE project_id = :project", params)
    if first is None:
        return "project_id = :project"
    params.update(first_item=first, last_item=last)
    return "id BETWEEN :first_item AND :last_item AND +project_id = :project"


def fetch_rows(session: Session, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Return every row of a small result (ids, counts) as plain tuples from the cursor."""
    return [row for batch in cursor_batches(session, sql, params, 100_000) for row in batch]
