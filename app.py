"""Docket's entry point (`streamlit run app.py`) and home page."""

from components.home_view import render_home
from components.layout import page_setup

context = page_setup("Home")
render_home(context.db, context.user)
