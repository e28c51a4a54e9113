"""Page setup shared by ``app.py`` and every page: config, navigation, access guard, database.

Streamlit's own sidebar navigation is hidden (``client.showSidebarNavigation = false``); the
sidebar is drawn here from :data:`PAGES`, the one registry of pages. DESIGN.md §2: a deep link
such as ``/Import`` can run a page file without ``app.py``, so whatever a page requires must
be checked by :func:`page_setup` at the top of that page, never only in ``app.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import streamlit as st
from sqlalchemy.exc import OperationalError

from components.resources import get_database
from components.safe_text import escape_markdown
from storage.database import Database, DatabaseConfigError
from storage.migrations import SchemaTooNewError

APP_NAME = "Docket"


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
)


@dataclass(frozen=True)
class PageContext:
    """What a page gets from :func:`page_setup`: the shared database."""

    db: Database


def current_user() -> None:
    """Return the signed-in user; always None for now.

    Sign-in and roles arrive with the authentication issue. Until then there is no user and
    no access check: every page is open to whoever can reach the server.
    """
    return None


def page_setup(title: str, *, role: str | None = None) -> PageContext:
    """Configure the page, draw the navigation and return the :class:`PageContext`.

    Must be the first Streamlit call of every page and of ``app.py``. ``role`` is the role the
    page requires. If the database cannot be opened (bad URL, server down, schema from a newer
    Docket), shows the reason and stops the script (``st.stop``), so no page ever renders
    half-connected.
    """
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=":material/balance:",
                       layout="wide")
    # The sign-in/role guard goes here: check current_user() against `role` and stop with the
    # sign-in form before anything else renders. Not built yet (authentication issue).
    current_user()
    _draw_navigation()
    try:
        db = get_database()
    except (DatabaseConfigError, SchemaTooNewError, OperationalError) as exc:
        st.error(f"Docket cannot open its database: {escape_markdown(exc)}", icon=":material/error:")
        st.stop()
    return PageContext(db=db)


def _draw_navigation() -> None:
    with st.sidebar:
        st.markdown(f"### {APP_NAME}")
        for page in PAGES:
            st.page_link(page.path, label=page.label, icon=page.icon)
