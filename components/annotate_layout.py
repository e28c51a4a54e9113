"""The Annotate page's layout on screens from 1024 to 1920 px wide.

Streamlit's wide layout keeps 5 rem of padding beside the page and splits the panel 3:2 with a
4 rem gap: at 1024 px, beside the 300 px sidebar, that left the label column about 170 px wide
(label descriptions wrapped to five lines). Below 1440 px the side padding shrinks to 1.5 rem,
and below 1280 px the item and the label form share the width evenly with a 1.5 rem gap.
Widths of 1280 px and more keep Streamlit's spacing and the 3:2 split.

Style only: a constant ``<style>`` block (Streamlit sends a style-only ``st.html`` outside the
page flow). It addresses Streamlit's test ids and the ``st-key-`` class of our own keyed
containers; ``tests/e2e/test_annotate_layout.py`` measures the result at 1024 and 1920 px.
"""

from __future__ import annotations

import streamlit as st

from components.annotate_panel import BODY_KEY

_BODY = f".st-key-{BODY_KEY.replace('.', '-')}"
_COLUMNS = f'{_BODY} > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"]'

CSS = f"""<style>
@media (max-width: 1439.98px) {{
  .stMain .stMainBlockContainer {{ padding-left: 1.5rem; padding-right: 1.5rem; }}
}}
@media (max-width: 1279.98px) {{
  {_COLUMNS} {{ gap: 1.5rem; }}
  {_COLUMNS} > [data-testid="stColumn"] {{ flex: 1 1 0; width: auto; }}
}}
</style>"""


def apply_layout() -> None:
    """Add the page's style (call once per page run, before the panel)."""
    st.html(CSS)
