"""Export page (admins): gold labels and reference answers, all labels, preference pairs, report."""

from components.export_view import render_export
from components.layout import page_setup

context = page_setup("Export", role="admin")
render_export(context.db, context.user)
