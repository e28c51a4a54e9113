"""Disagreements page (admins): items where judges and humans differ, and adjudication."""

from components.disagreements_view import render_disagreements
from components.layout import page_setup

context = page_setup("Disagreements", role="admin")
render_disagreements(context.db, context.user)
