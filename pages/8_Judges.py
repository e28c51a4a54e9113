"""Judges page (admins): define LLM and lexical judges, edit and try prompts, run them, compare
prompt versions."""

from components.judges_view import render_judges
from components.layout import page_setup

context = page_setup("Judges", role="admin")
render_judges(context.db)
