"""Schema versions: create a fresh database, or upgrade an existing one step by step.

A new database gets every table at :data:`SCHEMA_VERSION`. An existing one records its version
in ``schema_version``; each later version has one step in :data:`MIGRATIONS` that upgrades the
tables in place (within the same transaction as the version row, so a failed step leaves the
file as it was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

from storage import models
from storage.database import Database

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
Migration = Callable[[Connection], None]
# version -> step that upgrades a database from version - 1 to version.
MIGRATIONS: dict[int, Migration] = {}
_PG_LOCK_KEY = 0x444F434B  # "DOCK": serialises concurrent migrations on PostgreSQL


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Docket than this one."""


def migrate(db: Database, *, target: int = SCHEMA_VERSION,
            migrations: Mapping[int, Migration] | None = None) -> int:
    """Bring ``db`` to schema version ``target``; return the version it had before (0 = new).

    Raises :class:`SchemaTooNewError` if the database is newer than ``target``, and
    RuntimeError if a step between its version and ``target`` is missing.
    """
    steps = MIGRATIONS if migrations is None else migrations
    with db.write() as session:
        connection = session.connection()
        if db.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        current = _current_version(connection)
        if current == 0:
            SQLModel.metadata.create_all(connection)
            _record(connection, target)
            log.info("created a new Docket database at schema version %d", target)
            return 0
        if current > target:
            raise SchemaTooNewError(
                f"the database is at schema version {current}, this Docket knows up to {target}; "
                "upgrade Docket"
            )
        for version in range(current + 1, target + 1):
            step = steps.get(version)
            if step is None:
                raise RuntimeError(f"no migration step to schema version {version}")
            log.info("migrating the database to schema version %d", version)
            step(connection)
            _record(connection, version)
        return current


def schema_version(db: Database) -> int:
    """Return the database's schema version (0 when it has no Docket tables yet)."""
    with db.read() as session:
        return _current_version(session.connection())


def _current_version(connection: Connection) -> int:
    if not inspect(connection).has_table("schema_version"):
        return 0
    found = connection.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found or 0)


def _record(connection: Connection, version: int) -> None:
    connection.execute(
        models.SchemaVersion.__table__.insert().values(version=version, applied_at=models.utcnow())
    )
