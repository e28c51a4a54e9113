"""Moving the keyboard focus on the annotation page (Streamlit has no API for it).

Streamlit's shortcuts ignore keys while a text box or select box has the focus. So after a
project is chosen or an item is jumped to (the select box or the go-to box keeps the focus,
and the label keys would stop working) the focus goes back to the page; and when a saved
label is changed, the reason box opens with the focus in it, so a keyboard user types the
reason at once.

A request is drawn as a small script (``st.html`` with JavaScript) at the end of the panel.
The script is constant apart from a CSS selector built from our own widget keys and the
request's number (which makes each request a new element, so it runs once): no user or item
text is ever part of it.
"""

from __future__ import annotations

import json

import streamlit as st

from components import annotate_state as state

# Tries for up to a second: the element may be drawn a moment after the script runs.
_SCRIPT = """<script>
(() => {{
  const selector = {selector};  // request {number}
  let tries = 0;
  const move = () => {{
    if (selector === null) {{
      const active = document.activeElement;
      if (active && active !== document.body) active.blur();
      return;
    }}
    const element = document.querySelector(selector);
    if (element) {{ element.focus(); return; }}
    if (++tries < 40) setTimeout(move, 25);
  }};
  setTimeout(move, 0);
}})();
</script>"""


def widget_selector(key: str, element: str = "input") -> str:
    """The CSS selector of the ``element`` inside the widget Streamlit drew for ``key``."""
    return f".st-key-{key.replace('.', '-')} {element}"


def render_pending_focus() -> None:
    """Draw the script of the pending focus request, if any (see :mod:`annotate_state`)."""
    request = state.take_focus()
    if request is None:
        return
    selector, number = request
    st.html(_SCRIPT.format(selector=json.dumps(selector), number=int(number)),
            unsafe_allow_javascript=True)
