"""Registry of built-in task templates, defined as TOML files beside this module."""

from __future__ import annotations

from pathlib import Path

from core.schema import SchemaError, TaskSchema
from core.schema_toml import load_schema_toml

TEMPLATE_DIR = Path(__file__).with_name("templates")
TEMPLATE_NAMES: tuple[str, ...] = ("correctness", "thematic_alignment", "exam_question", "pairwise",
                                  "image_scoring", "batch_ranking")


def _load_builtin() -> dict[str, TaskSchema]:
    templates = {}
    for name in TEMPLATE_NAMES:
        schema = load_schema_toml(TEMPLATE_DIR / f"{name}.toml")
        if schema.name != name:
            raise SchemaError(f"{name}.toml", "name", f"must be {name!r}, is {schema.name!r}")
        templates[name] = schema
    return templates


TEMPLATES: dict[str, TaskSchema] = _load_builtin()


def resolve_task(spec: str) -> TaskSchema:
    """Return the built-in template named ``spec``, or the schema in the TOML file ``spec``.

    Raises :class:`SchemaError` for an unknown name (listing the built-ins) or a bad file.
    """
    if spec in TEMPLATES:
        return TEMPLATES[spec]
    if spec.endswith(".toml") or Path(spec).is_file():
        return load_schema_toml(spec)
    raise SchemaError(
        "--task", spec, f"not a built-in template ({', '.join(TEMPLATES)}) nor a .toml file"
    )
