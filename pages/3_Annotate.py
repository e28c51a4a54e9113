"""Annotate page: label the items of your queue, one at a time, keyboard first."""

from components.annotate_view import render_annotate
from components.layout import page_setup

context = page_setup("Annotate", role="annotator")
render_annotate(context.db, context.user)
