"""Choosing where an import goes: an existing project, or a new one with its task schema."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.frames import schema_frame
from core.safe_text import escape_markdown
from core.schema import SchemaError, TaskSchema
from core.schema_toml import load_schema_text
from core.templates import TEMPLATES
from storage.database import Database
from storage.projects import get_project, project_names

_NEW, _EXISTING = "new", "existing"
_TEMPLATE, _TOML = "template", "toml"


@dataclass(frozen=True)
class ImportTarget:
    """Where the rows go: the project name, its schema, and whether it is created now."""

    project: str
    schema: TaskSchema
    is_new: bool


def choose_import_target(db: Database) -> ImportTarget | None:
    """Draw the project and task choice; return the target, or None while it is incomplete.

    An existing project brings its own schema (shown, not asked). A new project needs a name
    no project has yet and a task: a built-in template or an uploaded schema ``.toml``, whose
    errors are shown. Widget keys start with ``import.``.
    """
    with db.read() as session:
        names = project_names(session=session)
    mode = _NEW
    if names:
        mode = st.radio("Project", (_EXISTING, _NEW), horizontal=True, key="import.project_mode",
                        format_func={_EXISTING: "Existing project", _NEW: "New project"}.__getitem__)
    if mode == _EXISTING:
        name = st.selectbox("Existing project", names, key="import.project")
        with db.read() as session:
            project = get_project(session=session, name=name)
        st.markdown(f"Task: **{escape_markdown(project.schema.title)}** — the project's schema "
                    "is used.")
        _show_schema(project.schema)
        return ImportTarget(project.name, project.schema, is_new=False)

    name = (st.text_input("New project name", key="import.new_project", max_chars=200,
                          placeholder="e.g. support-bot-eval") or "").strip()
    schema = _choose_task()
    if not name:
        return None
    if name in names:
        st.error(f"A project named “{escape_markdown(name)}” already exists; choose it under "
                 "Existing project.", icon=":material/error:")
        return None
    return ImportTarget(name, schema, is_new=True) if schema is not None else None


def _choose_task() -> TaskSchema | None:
    source = st.radio("Task", (_TEMPLATE, _TOML), horizontal=True, key="import.task_source",
                      format_func={_TEMPLATE: "Built-in template",
                                   _TOML: "Schema file (.toml)"}.__getitem__)
    if source == _TEMPLATE:
        name = st.selectbox("Template", tuple(TEMPLATES), key="import.template",
                            format_func=lambda n: TEMPLATES[n].title)
        schema = TEMPLATES[name]
        st.caption(escape_markdown(schema.description))
        _show_schema(schema)
        return schema
    schema_file = st.file_uploader("Task schema", type=["toml"], key="import.schema_file")
    if schema_file is None:
        return None
    try:
        schema = load_schema_text(schema_file.getvalue().decode("utf-8"), source=schema_file.name)
    except UnicodeDecodeError as exc:
        st.error(escape_markdown(f"{schema_file.name}: not UTF-8 at byte {exc.start}"),
                 icon=":material/error:")
        return None
    except SchemaError as exc:  # one problem per line (a markdown hard break: two spaces)
        st.error("  \n".join(escape_markdown(line) for line in str(exc).splitlines()),
                 icon=":material/error:")
        return None
    st.markdown(f"Task: **{escape_markdown(schema.title)}**")
    _show_schema(schema)
    return schema


def _show_schema(schema: TaskSchema) -> None:
    fields = ", ".join(f"{f.name}{'' if f.required else ' (optional)'}" for f in schema.fields)
    st.caption(escape_markdown(f"Columns: id, {fields}"))
    st.dataframe(schema_frame(schema), hide_index=True, width="stretch")
