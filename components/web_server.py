"""Docket's server: what ``app.py`` hands to ``st.App`` besides the page scripts.

``streamlit run app.py`` finds the ``st.App`` object in ``app.py`` and serves it (Streamlit's
Starlette/uvicorn server, the same one it uses without ``st.App``). Through it Docket adds:

- start-up steps (:func:`start_server`): the server log's format, session ids kept out of it,
  and the setup token when the first admin must be created on a server others can reach;
- middleware: ``/_stcore/metrics`` closed, the browser cookie sign-ins are bound to;
- routes: the session cookie's set and clear endpoints (:mod:`components.web_routes`), the
  HTTP API under ``/api/v1`` (:mod:`components.api_routes`) and the stored images
  (:mod:`components.image_route`);
- the page boundary: an uncaught error of any page, callback or fragment shows an error id,
  never a traceback (:func:`components.error_boundary.on_page_error`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st
from sqlalchemy.exc import OperationalError
from starlette.middleware import Middleware
from streamlit.logger import DEFAULT_LOG_MESSAGE

from components.api_routes import api_routes
from components.error_boundary import on_page_error
from components.image_route import image_routes
from components.log_privacy import install_session_id_redaction
from components.setup_token import SETUP_TOKEN, setup_token_required
from components.web_middleware import BlockMetrics, BrowserCookie
from components.web_routes import session_routes
from storage.auth_mode import AuthConfigError, auth_mode
from storage.database import Database, DatabaseConfigError, database_url_from_env
from storage.migrations import SchemaTooNewError, migrate
from storage.users import needs_first_admin

log = logging.getLogger(__name__)


def app_options() -> dict[str, Any]:
    """Return the keyword arguments of ``st.App`` for Docket (lifespan, middleware, routes,
    errors)."""
    return {"lifespan": _lifespan,
            "routes": [*session_routes(), *api_routes(), *image_routes()],
            "middleware": [Middleware(BlockMetrics), Middleware(BrowserCookie)],
            "on_script_error": on_page_error}


def start_server() -> None:
    """Run the start-up steps: log format and redaction, then the setup token if needed.

    Logging gets Streamlit's format and level (``logger.level``), so Docket's own records
    (sign-ins, error ids) reach the server log beside Streamlit's. The setup token is issued
    and logged when the server listens beyond loopback and the database has no admin yet; a
    database that cannot be opened is logged and left to the pages to report.
    """
    install_session_id_redaction()
    logging.basicConfig(level=str(st.get_option("logger.level")).upper(),
                        format=DEFAULT_LOG_MESSAGE)
    if setup_token_required() and _first_admin_needed():
        SETUP_TOKEN.issue()


@asynccontextmanager
async def _lifespan(_app: object) -> AsyncIterator[None]:
    start_server()
    yield


def _first_admin_needed() -> bool:
    try:
        if auth_mode() == "none":
            return False
        db = Database(database_url_from_env())
    except (AuthConfigError, DatabaseConfigError) as exc:
        log.error("at start-up: %s", exc)
        return False
    try:
        migrate(db)
        with db.read() as session:
            return needs_first_admin(session=session)
    except (SchemaTooNewError, OperationalError) as exc:
        log.error("at start-up, the database cannot be opened: %s", exc)
        return False
    finally:
        db.dispose()
