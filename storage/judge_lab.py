"""What the prompt lab (the Judges page) reads about a project: the items a prompt is previewed
and tried on, each with the reference a run would hand the judge, and how many items a run on
the human-labelled items covers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from storage.judge_runs import item_references
from storage.models import Annotation, Item
from storage.projects import ProjectInfo

ITEM_CHOICES = 500  # items offered in the lab's item picker


class LabError(ValueError):
    """The item asked for is not one of the project's."""


@dataclass(frozen=True)
class LabItem:
    """One item as a judge is shown it: its fields and the reference answer a run passes
    (the adjudicated gold reference, else the item's own ``reference``; None without one)."""

    id: int
    external_id: str
    fields: dict[str, Any]
    reference: str | None


def _with_humans(project_id: int) -> Any:
    return select(Annotation.item_id).join(Item, Item.id == Annotation.item_id).where(
        Item.project_id == project_id).distinct()


def human_labelled_items(*, session: Session, project_id: int) -> int:
    """How many of the project's items have at least one human label (what a run with
    ``only_with_humans`` covers)."""
    return session.execute(select(func.count()).select_from(_with_humans(project_id).subquery())
                           ).scalar_one()


def lab_item_choices(*, session: Session, project_id: int, limit: int = ITEM_CHOICES
                     ) -> list[tuple[int, str]]:
    """``(item id, external id)`` of up to ``limit`` items to preview a prompt on, by id: the
    items with human labels (those a run covers), or the project's first items when none has."""
    labelled = (select(Item.id, Item.external_id).where(Item.id.in_(_with_humans(project_id)))
                .order_by(Item.id).limit(limit))
    rows = [tuple(row) for row in session.execute(labelled)]
    if rows:
        return rows
    first = (select(Item.id, Item.external_id).where(Item.project_id == project_id)
             .order_by(Item.id).limit(limit))
    return [tuple(row) for row in session.execute(first)]


def lab_item(*, session: Session, project: ProjectInfo, item_id: int) -> LabItem:
    """The item ``item_id`` of ``project`` with the reference a run would give the judge;
    raises :class:`LabError` if the project has no such item."""
    row = session.execute(select(Item.external_id, Item.fields_json).where(
        Item.id == item_id, Item.project_id == project.id)).one_or_none()
    if row is None:
        raise LabError(f"project {project.name!r} has no item with id {item_id}")
    reference = item_references(session, project, [item_id]).get(item_id)
    return LabItem(item_id, row.external_id, json.loads(row.fields_json), reference)
