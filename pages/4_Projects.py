"""Projects page (admins): annotation settings, annotators, progress and flagged items."""

from components.layout import page_setup
from components.projects_view import render_projects

context = page_setup("Projects", role="admin")
render_projects(context.db)
