"""Databases as older Docket versions left them, for migration tests.

``schema_v1.<dialect>.sql`` is the DDL that schema version 1 created (generated once from the
version-1 models and frozen), so these tests keep checking the real upgrade path however the
models change later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from storage.database import Database

HERE = Path(__file__).resolve().parent


def recreate_as_version_1(db: Database) -> None:
    """Drop every table of ``db`` and create the schema of version 1, recorded as version 1."""
    SQLModel.metadata.drop_all(db.engine)
    with db.engine.begin() as connection:
        for table in ("sign_in_attempt", "assignment", "project_member"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        ddl = (HERE / f"schema_v1.{db.dialect}.sql").read_text(encoding="utf-8")
        for statement in ddl.split(";\n"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                connection.execute(text("\n".join(lines)))
        connection.execute(text("INSERT INTO schema_version (version, applied_at) "
                                "VALUES (1, CURRENT_TIMESTAMP)"))


def schema_shape(db: Database) -> dict[str, Any]:
    """Tables with their columns (name, type, nullable), unique constraints, indexes and
    foreign keys, in a form two databases can be compared by."""
    with db.engine.connect() as connection:
        inspector = inspect(connection)
        shape = {}
        for table in sorted(inspector.get_table_names()):
            columns = sorted((c["name"], _type_name(c["type"]), c["nullable"])
                             for c in inspector.get_columns(table))
            uniques = sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table))
            indexes = sorted((tuple(i["column_names"]), bool(i["unique"]))
                             for i in inspector.get_indexes(table))
            foreign = sorted((tuple(f["constrained_columns"]), f["referred_table"],
                              (f.get("options") or {}).get("ondelete"))
                             for f in inspector.get_foreign_keys(table))
            shape[table] = {"columns": columns, "uniques": uniques, "indexes": indexes,
                            "foreign_keys": foreign}
        return shape


def _type_name(column_type: Any) -> str:
    name = type(column_type).__name__.upper()
    return {"INTEGER": "INTEGER", "BIGINT": "INTEGER", "VARCHAR": "VARCHAR"}.get(name, name)
