"""Render untrusted text (file content, names, problems) in markdown as literal text."""

from __future__ import annotations

import string

# CommonMark lets a backslash escape any ASCII punctuation, which then renders literally. That
# covers markdown syntax (links, images, emphasis, HTML tags) and Streamlit's own directives
# (`:red[...]`, `:material/icon:`, `$latex$`).
_ESCAPES = str.maketrans({char: "\\" + char for char in string.punctuation})


def escape_markdown(text: object) -> str:
    """Return ``str(text)`` with every ASCII punctuation character backslash-escaped.

    The result shows exactly the original characters when passed to ``st.markdown`` and
    friends; no image, link syntax, emphasis, HTML or Streamlit directive survives. Line breaks
    are kept. One thing escaping cannot stop: GitHub-flavoured markdown still turns a bare URL
    into a clickable link (never fetched). Lists of names from a file use ``st.text`` instead.
    """
    return str(text).translate(_ESCAPES)
