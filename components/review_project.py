"""The project picker of the Dashboard, Disagreements and Judges pages (kept in the URL)."""

from __future__ import annotations

import streamlit as st

from components.review_data import project_choices, project_named
from storage.database import Database
from storage.projects import ProjectInfo

IMPORT_PAGE = "pages/1_Import.py"


def choose_project(db: Database, *, key: str) -> ProjectInfo | None:
    """Draw the project selectbox (bound to the query parameter ``key``, so a reload or a
    shared link keeps the project); return the chosen project, or None when there is none
    (after saying so)."""
    names = project_choices(db)
    if not names:
        st.info("There are no projects yet: import items with judge verdicts and human labels "
                "first, or load the demo data on the home page.", icon=":material/info:")
        st.page_link(IMPORT_PAGE, label="Import", icon=":material/upload_file:")
        return None
    name = st.selectbox("Project", names, key=key, bind="query-params", width=360)
    return project_named(db, name)
