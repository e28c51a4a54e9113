"""Projects: create, find, list with counts. Functions take ``session=`` keyword-only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.safe_text import require_safe_text
from core.schema import TaskSchema, schema_from_dict, schema_to_dict
from storage.models import Annotation, Item, Judge, Project, utcnow


class ProjectError(ValueError):
    """A project operation cannot be done as asked (unknown name, schema mismatch)."""


class UnknownProjectError(ProjectError):
    """No project has the ``name`` asked for; ``known`` lists the project names there are."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no project named {name!r} (projects: {', '.join(known) or 'none yet'})")


@dataclass(frozen=True)
class ProjectInfo:
    """A project as the rest of the app sees it (no ORM object escapes storage)."""

    id: int
    name: str
    template: str
    schema: TaskSchema
    created_at: datetime


@dataclass(frozen=True)
class ProjectSummary:
    """One line of the project list."""

    name: str
    template: str
    items: int
    judges: int
    human_labels: int
    created_at: datetime

    def to_dict(self) -> dict[str, str | int]:
        """The line as JSON-ready values (``created_at`` in ISO 8601)."""
        return {"name": self.name, "template": self.template, "items": self.items,
                "judges": self.judges, "human_labels": self.human_labels,
                "created_at": self.created_at.isoformat()}


@lru_cache(maxsize=64)
def _schema(task_json: str, project_name: str) -> TaskSchema:
    # Parsed once per schema text: every label save reads its project (TaskSchema is frozen).
    return schema_from_dict(json.loads(task_json), source=f"project {project_name!r}")


def parsed_schema(task_json: str, project_name: str) -> TaskSchema:
    """Return the :class:`TaskSchema` stored as ``task_json`` (parsed once per distinct text).

    For readers that select a project's columns without loading the row. Raises
    :class:`core.schema.SchemaError` if the stored schema is invalid.
    """
    return _schema(task_json, project_name)


def _info(project: Project) -> ProjectInfo:
    assert project.id is not None
    schema = _schema(project.task_json, project.name)
    return ProjectInfo(project.id, project.name, project.template, schema, project.created_at)


def find_project(*, session: Session, name: str) -> ProjectInfo | None:
    """Return the project called ``name``, or None."""
    project = session.execute(select(Project).where(Project.name == name)).scalars().first()
    return _info(project) if project else None


def project_by_id(*, session: Session, project_id: int) -> ProjectInfo:
    """Return the project with database id ``project_id``; raises ProjectError if none."""
    project = session.get(Project, project_id)
    if project is None:
        raise ProjectError(f"no project with id {project_id}")
    return _info(project)


def get_project(*, session: Session, name: str) -> ProjectInfo:
    """Return the project called ``name``; raises :class:`UnknownProjectError` if there is none."""
    info = find_project(session=session, name=name)
    if info is None:
        raise UnknownProjectError(name, project_names(session=session))
    return info


def project_names(*, session: Session) -> list[str]:
    """Return all project names, sorted."""
    return list(session.execute(select(Project.name).order_by(Project.name)).scalars())


def ensure_project(*, session: Session, name: str, schema: TaskSchema | None
                   ) -> tuple[ProjectInfo, bool]:
    """Return ``(project, created)``: the existing project or a new one with ``schema``.

    Safe when several sessions create the same project at once (imports started together):
    the row is inserted with ``ON CONFLICT DO NOTHING``, so exactly one session creates it and
    the others find it, waiting for the creator to commit (PostgreSQL; SQLite serialises
    writers anyway). Raises :class:`ProjectError` for a bad name, when the project does not
    exist and no schema is given, or when it exists with a different schema.
    """
    name = require_safe_text(name.strip(), what="the project name", error=ProjectError)
    if not name or len(name) > 200:
        raise ProjectError("a project name needs 1 to 200 characters")
    existing = find_project(session=session, name=name)
    if existing is not None:
        compatible_schema(existing, schema)
        return existing, False
    if schema is None:
        raise ProjectError(
            f"project {name!r} does not exist yet; choose a task (template or schema) to create it")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = session.execute(
        insert(Project).values(name=name, template=schema.name, created_at=utcnow(),
                               task_json=json.dumps(schema_to_dict(schema), ensure_ascii=False))
        .on_conflict_do_nothing(index_elements=["name"]).returning(Project.id)).first()
    project = find_project(session=session, name=name)
    assert project is not None  # inserted just now, or by a session that has committed since
    if created is None:
        compatible_schema(project, schema)
    return project, created is not None


def compatible_schema(project: ProjectInfo, schema: TaskSchema | None) -> TaskSchema:
    """Return the project's schema; raises :class:`ProjectError` if ``schema`` differs from it."""
    if schema is not None and schema_to_dict(schema) != schema_to_dict(project.schema):
        raise ProjectError(
            f"project {project.name!r} uses task {project.schema.name!r} with a different "
            "schema; import into a new project, or import without choosing a task"
        )
    return project.schema


def project_summaries(*, session: Session) -> list[ProjectSummary]:
    """Return every project with its item, judge and human-label counts, sorted by name."""
    items = (select(Item.project_id, func.count().label("n")).group_by(Item.project_id)
             .subquery())
    judges = (select(Judge.project_id, func.count().label("n")).group_by(Judge.project_id)
              .subquery())
    labels = (select(Item.project_id, func.count().label("n"))
              .join(Annotation, Annotation.item_id == Item.id).group_by(Item.project_id)
              .subquery())
    query = (
        select(Project.name, Project.template, Project.created_at,
               func.coalesce(items.c.n, 0), func.coalesce(judges.c.n, 0),
               func.coalesce(labels.c.n, 0))
        .outerjoin(items, items.c.project_id == Project.id)
        .outerjoin(judges, judges.c.project_id == Project.id)
        .outerjoin(labels, labels.c.project_id == Project.id)
        .order_by(Project.name)
    )
    return [
        ProjectSummary(name=name, template=template, items=n_items, judges=n_judges,
                       human_labels=n_labels, created_at=created_at)
        for name, template, created_at, n_items, n_judges, n_labels in session.execute(query)
    ]
