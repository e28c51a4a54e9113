"""Untrusted text: render it in markdown as literal text, and refuse what cannot be stored.

Two characters can reach Python strings but not the database: NUL (PostgreSQL's text type
cannot hold it, SQLite stores it and every PostgreSQL copy of the data then fails) and a lone
surrogate (U+D800-U+DFFF: JSON can spell one as ``\\ud800``, but it is not Unicode and cannot
be encoded as UTF-8). Imports, the annotation and adjudication forms and user and project
names all check text with :func:`unsafe_text_reason`, so both backends refuse the same text
with the same message.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

# CommonMark lets a backslash escape any ASCII punctuation, which then renders literally. That
# covers markdown syntax (links, images, emphasis, HTML tags) and Streamlit's own directives
# (`:red[...]`, `:material/icon:`, `$latex$`).
_ESCAPES = str.maketrans({char: "\\" + char for char in string.punctuation})
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# Strings are joined in slices of this many for the quick screen of a column.
_SCREEN_CHUNK = 4096


def escape_markdown(text: object) -> str:
    """Return ``str(text)`` with every ASCII punctuation character backslash-escaped.

    The result shows exactly the original characters when passed to ``st.markdown`` and
    friends; no image, link syntax, emphasis, HTML or Streamlit directive survives. Line breaks
    are kept. One thing escaping cannot stop: GitHub-flavoured markdown still turns a bare URL
    into a clickable link (never fetched). Lists of names from a file use ``st.text`` instead.
    """
    return str(text).translate(_ESCAPES)


def unsafe_text_reason(text: str) -> str | None:
    """Return why ``text`` cannot be stored (it holds NUL or a lone surrogate), or None.

    The reason reads after the name of what holds the text: "the comment contains a NUL
    character (U+0000), which cannot be stored".
    """
    found = _UNSAFE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"


def require_safe_text(text: str, *, what: str, error: type[Exception] = ValueError) -> str:
    """Return ``text`` if it can be stored; raise ``error("<what> <reason>")`` otherwise.

    ``what`` names the field as the user knows it ("the comment", "display name").
    """
    reason = unsafe_text_reason(text)
    if reason is not None:
        raise error(f"{what} {reason}")
    return text


def printable(text: str) -> str:
    """Return ``text`` with each NUL or lone surrogate written as its Python escape
    (``\\x00``, ``\\ud800``), so a name holding one can be shown in a message."""
    return _UNSAFE.sub(lambda found: ascii(found.group())[1:-1], text)


def unsafe_positions(values: Sequence[object]) -> list[int]:
    """Return the indexes of the strings among ``values`` that hold NUL or a lone surrogate.

    Other values (None, numbers) are ignored. Slices of strings are screened joined, in C
    (``"\\0" in``, a UTF-8 encode that fails on a surrogate), and searched one by one only
    when the screen finds something: a clean column of 100k texts costs one copy of it.
    """
    found: list[int] = []
    for start in range(0, len(values), _SCREEN_CHUNK):
        chunk = values[start:start + _SCREEN_CHUNK]
        joined = "".join([value for value in chunk if type(value) is str])
        if "\x00" not in joined:
            try:
                joined.encode("utf-8")
                continue
            except UnicodeEncodeError:
                pass
        found += [start + offset for offset, value in enumerate(chunk)
                  if type(value) is str and _UNSAFE.search(value)]
    return found
