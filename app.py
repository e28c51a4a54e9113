"""Docket's entry point (`streamlit run app.py`) and home page.

`streamlit run app.py` finds the `st.App` object below, imports this file as a module and
serves it (components/web_server.py); each visit of the home page then runs this file as a
script, whose `__name__` is `"__main__"`.
"""

import streamlit as st

from components.home_view import render_home
from components.layout import page_setup
from components.web_server import app_options

if __name__ == "__main__":
    context = page_setup("Home")
    render_home(context.db, context.user)
else:
    app = st.App(__file__, **app_options())
