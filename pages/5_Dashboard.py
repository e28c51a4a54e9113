"""Dashboard page (admins): how far each LLM judge agrees with the human experts."""

from components.dashboard_view import render_dashboard
from components.layout import page_setup

context = page_setup("Dashboard", role="admin")
render_dashboard(context.db)
