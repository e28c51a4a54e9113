"""Load a user-defined task schema from a TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.schema import SchemaError, TaskSchema, schema_from_dict


def load_schema_toml(path: str | Path) -> TaskSchema:
    """Return the schema defined in the TOML file at ``path``.

    Raises :class:`SchemaError` naming the file, the key and the problem, for unreadable
    files and TOML syntax errors as well as for invalid schema content.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SchemaError(str(path), "<file>", "file not found") from None
    except UnicodeDecodeError as exc:
        raise SchemaError(str(path), "<file>", f"not UTF-8 at byte {exc.start}") from None
    return load_schema_text(text, source=str(path))


def load_schema_text(text: str, *, source: str) -> TaskSchema:
    """Return the schema defined by TOML ``text``; ``source`` names it in error messages.

    Raises :class:`SchemaError` on TOML syntax errors and invalid schema content.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(source, "<syntax>", str(exc)) from None
    return schema_from_dict(data, source=source)
