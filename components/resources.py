"""Process-wide resources shared by every session: the database (engine + connection pool),
and the server socket's settings."""

from __future__ import annotations

import gc

import streamlit as st

from components.server_socket import enable_tcp_nodelay
from storage.database import Database, database_url_from_env
from storage.migrations import migrate

# With runner.postScriptGC off (DESIGN.md §2), collections still run now and then during a
# rerun; freezing everything the imports created keeps them from walking those objects again.
gc.freeze()
# Imported on the first script run, when the server is already listening: switch Nagle's
# algorithm off for its connections (components/server_socket.py; ~40 ms per click).
enable_tcp_nodelay()


@st.cache_resource(show_spinner=False, on_release=Database.dispose)
def _database_for(url: str) -> Database:
    db = Database(url)
    migrate(db)
    return db


def get_database() -> Database:
    """Return the migrated :class:`Database` for ``$DOCKET_DATABASE_URL`` (default SQLite file).

    One instance per URL is cached for the whole server process and migrated once when it is
    created. Sessions are never cached: open one with ``db.read()``/``db.write()`` per user
    action. Raises :class:`storage.database.DatabaseConfigError` for an unusable URL and
    :class:`storage.migrations.SchemaTooNewError` for a database written by a newer Docket.
    """
    return _database_for(database_url_from_env())
