"""Import page: upload a file of items, judge verdicts and human labels into a project."""

from components.import_view import render_import
from components.layout import page_setup

context = page_setup("Import", role="admin")
render_import(context.db, context.user)
