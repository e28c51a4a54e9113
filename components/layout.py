"""Page setup shared by ``app.py`` and every page: config, database, sign-in guard, navigation.

Streamlit's own sidebar navigation is hidden (``client.showSidebarNavigation = false``); the
sidebar is drawn here from :data:`PAGES`, the one registry of pages, showing only the pages
the signed-in user may open. DESIGN.md §2: a deep link such as ``/Import`` can run a page file
without ``app.py``, so whatever a page requires must be checked by :func:`page_setup` at the
top of that page, never only in ``app.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import streamlit as st
from sqlalchemy.exc import OperationalError

from components.app_worker import WorkerConfigError, start_app_worker
from components.auth import (
    deny_unless_allowed,
    end_sign_in,
    may_open,
    render_session_scripts,
    require_user,
)
from components.browser import ProxyConfigError
from components.error_boundary import show_unavailable
from components.export_view import sweep_at_start_up
from components.resources import get_database
from core.safe_text import escape_markdown
from storage.auth_mode import AuthConfigError, auth_mode
from storage.database import Database, DatabaseConfigError
from storage.migrations import SchemaTooNewError
from storage.users import UserInfo

APP_NAME = "Docket"
# An emoji, drawn by the browser as an inline SVG data URL. A ``:material/...`` page icon
# makes Streamlit 1.67 fetch the icon from fonts.gstatic.com on every page (an outside
# request, an error offline); the ``:material/...`` icons of buttons and links do not: they
# come from the Material Symbols font Streamlit serves itself.
PAGE_ICON = "⚖️"


class PageEntry(NamedTuple):
    """One page of the app: its script (relative to the repo root), label, icon and role.

    ``role`` is the role needed to use the page (None: everyone).
    """

    path: str
    label: str
    icon: str
    role: str | None


PAGES: tuple[PageEntry, ...] = (
    PageEntry("app.py", "Home", ":material/home:", None),
    PageEntry("pages/1_Import.py", "Import", ":material/upload_file:", "admin"),
    PageEntry("pages/2_Users.py", "Users", ":material/group:", "admin"),
    PageEntry("pages/3_Annotate.py", "Annotate", ":material/edit_note:", "annotator"),
    PageEntry("pages/4_Projects.py", "Projects", ":material/tune:", "admin"),
    PageEntry("pages/5_Dashboard.py", "Dashboard", ":material/monitoring:", "admin"),
    PageEntry("pages/6_Disagreements.py", "Disagreements", ":material/rule:", "admin"),
    PageEntry("pages/7_Export.py", "Export", ":material/download:", "admin"),
    PageEntry("pages/8_Judges.py", "Judges", ":material/gavel:", "admin"),
)


@dataclass(frozen=True)
class PageContext:
    """What a page gets from :func:`page_setup`: the shared database and the signed-in user."""

    db: Database
    user: UserInfo


def page_setup(title: str, *, role: str | None = None) -> PageContext:
    """Configure the page, check who may see it, draw the navigation; return the context.

    Must be the first Streamlit call of every page and of ``app.py``. ``role`` is the role the
    page requires (None: any signed-in user). Stops the script (``st.stop``) after showing
    only: that Docket is unavailable, with an error id, if the database cannot be opened (bad
    URL, server down, schema from a newer Docket) or a setting (``DOCKET_AUTH``,
    ``DOCKET_TRUSTED_PROXIES``, ``DOCKET_WORKER``) is invalid — the reason goes to the server log only, as it
    may name hosts, users or secrets; the sign-in form (or the first-admin form on an empty
    database) if nobody is signed in; a "not allowed" message if the user lacks ``role``. The
    user is re-read from the database on every run (no caching), so role changes and
    deactivations apply at the next click. The first run in the process starts the app's judge
    worker thread (:mod:`components.app_worker`).
    """
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=PAGE_ICON,
                       layout="wide")
    sweep_at_start_up()  # once per server process: what killed exports left behind
    try:
        db = get_database()
        start_app_worker(db)  # once per process; DOCKET_WORKER=off leaves it out
        user = require_user(db, role=role)
    except (DatabaseConfigError, SchemaTooNewError, OperationalError, AuthConfigError,
            ProxyConfigError, WorkerConfigError) as exc:
        show_unavailable(exc)
        st.stop()
    _draw_navigation(db, user)
    deny_unless_allowed(user, role=role, title=title)
    return PageContext(db=db, user=user)


def _draw_navigation(db: Database, user: UserInfo) -> None:
    with st.sidebar:
        st.markdown(f"### {APP_NAME}")
        for page in PAGES:
            if may_open(user, page.role):
                st.page_link(page.path, label=page.label, icon=page.icon)
        st.divider()
        st.caption(f"Signed in as **{escape_markdown(user.label)}** ({user.role})")
        if auth_mode() == "password":
            st.button("Sign out", key="auth.sign_out", icon=":material/logout:",
                      on_click=end_sign_in, args=(db,))
    # In the main area: a collapsed sidebar (narrow screens) may not run its scripts.
    render_session_scripts()
