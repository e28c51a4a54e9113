"""The database fixtures open a migrated database on each backend."""

from storage.migrations import SCHEMA_VERSION, schema_version


def test_fixture_database_is_migrated(db):
    assert schema_version(db) == SCHEMA_VERSION
