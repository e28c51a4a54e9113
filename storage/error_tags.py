"""The error taxonomy in the database: a project's categories and the tags admins set.

A tag says why one judge's verdict on one dimension of an item was wrong; a verdict may carry
several categories. Tagging replaces the verdict's whole set in one transaction, so two
admins saving at once leave one of their sets, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlmodel import Session

from core.error_taxonomy import (
    DEFAULT_ERROR_CATEGORIES,
    ErrorTaxonomy,
    ErrorTaxonomyError,
    TagRow,
    check_categories,
    count_tags,
)
from storage.authz import ADMIN, Actor, authorize
from storage.models import ErrorTag, Item, Judge, Project, Verdict


def error_categories(*, session: Session, project_id: int) -> tuple[str, ...]:
    """Return the project's error categories (the defaults until an admin set a list); raise
    :class:`ErrorTaxonomyError` when there is no such project."""
    stored = session.execute(select(Project.error_categories)
                             .where(Project.id == project_id)).one_or_none()
    if stored is None:
        raise ErrorTaxonomyError(f"no project with id {project_id}")
    return tuple(json.loads(stored[0])) if stored[0] else DEFAULT_ERROR_CATEGORIES


def set_error_categories(*, session: Session, project_id: int, categories: Iterable[str],
                         actor: Actor) -> tuple[str, ...]:
    """Store the project's list of error categories and return it (cleaned); admins only.

    Raises :class:`ErrorTaxonomyError` when the list is not valid
    (:func:`core.error_taxonomy.check_categories`) or drops a category that tags still use
    (the message names it and how many tags), and ``NotAllowed`` for a non-admin.
    """
    authorize(session, actor, role=ADMIN, action="change the error categories")
    cleaned = check_categories(categories)
    kept = set(cleaned)
    in_use = session.execute(
        select(ErrorTag.category, func.count()).join(Item, Item.id == ErrorTag.item_id)
        .where(Item.project_id == project_id).group_by(ErrorTag.category)).all()
    dropped = sorted((category, n) for category, n in in_use if category not in kept)
    if dropped:
        described = ", ".join(f"{category!r} ({n} tag{'s' if n != 1 else ''})"
                              for category, n in dropped)
        raise ErrorTaxonomyError(f"cannot remove {described}: untag those verdicts on "
                                 "Disagreements first; nothing was changed")
    project = session.get(Project, project_id)
    if project is None:
        raise ErrorTaxonomyError(f"no project with id {project_id}")
    project.error_categories = (None if cleaned == DEFAULT_ERROR_CATEGORIES
                                else json.dumps(list(cleaned)))
    session.add(project)
    return cleaned


def set_error_tags(*, session: Session, item_id: int, judge: str, dimension: str,
                   categories: Sequence[str], actor: Actor) -> tuple[str, ...]:
    """Replace the categories tagged on ``judge``'s verdict on ``dimension`` of the item and
    return them (an empty list removes every tag); admins only.

    Raises :class:`ErrorTaxonomyError` when the judge has no verdict on that dimension of the
    item, or a category is not in the project's list (the message names it), and
    ``NotAllowed`` for a non-admin.
    """
    user_id = authorize(session, actor, role=ADMIN, action="tag judges' errors")
    item = session.get(Item, item_id)
    if item is None:
        raise ErrorTaxonomyError(f"no item with id {item_id}")
    judge_id = session.execute(
        select(Judge.id).join(Verdict, Verdict.judge_id == Judge.id)
        .where(Judge.project_id == item.project_id, Judge.name == judge,
               Verdict.item_id == item_id, Verdict.dimension == dimension).limit(1)).scalar()
    if judge_id is None:
        raise ErrorTaxonomyError(f"{judge!r} has no verdict on {dimension!r} of this item: "
                                 "only a verdict can be tagged")
    allowed = error_categories(session=session, project_id=item.project_id)
    chosen = tuple(dict.fromkeys(categories))
    unknown = [category for category in chosen if category not in allowed]
    if unknown:
        raise ErrorTaxonomyError(f"{unknown[0]!r} is not one of this project's error categories "
                                 f"({', '.join(allowed)})")
    session.execute(delete(ErrorTag).where(ErrorTag.item_id == item_id,
                                           ErrorTag.judge_id == judge_id,
                                           ErrorTag.dimension == dimension))
    session.add_all(ErrorTag(item_id=item_id, judge_id=judge_id, dimension=dimension,
                             category=category, tagged_by=user_id) for category in chosen)
    return chosen


def item_error_tags(*, session: Session, item_id: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """Return the item's tags: ``(judge name, dimension) -> categories`` in tagging order."""
    rows = session.execute(
        select(Judge.name, ErrorTag.dimension, ErrorTag.category)
        .join(Judge, Judge.id == ErrorTag.judge_id)
        .where(ErrorTag.item_id == item_id).order_by(ErrorTag.id)).all()
    tags: dict[tuple[str, str], tuple[str, ...]] = {}
    for name, dimension, category in rows:
        tags[(name, dimension)] = (*tags.get((name, dimension), ()), category)
    return tags


def error_taxonomy(*, session: Session, project_id: int,
                   dimension: str | None = None) -> ErrorTaxonomy:
    """Return the project's error counts per judge (as the rater ``judge:NAME``) and category,
    on one dimension or all."""
    query = (select(Judge.name, ErrorTag.item_id, ErrorTag.dimension, ErrorTag.category)
             .join(Judge, Judge.id == ErrorTag.judge_id).where(Judge.project_id == project_id))
    if dimension is not None:
        query = query.where(ErrorTag.dimension == dimension)
    rows = (TagRow(f"judge:{name}", item_id, dimension_name, category)
            for name, item_id, dimension_name, category in session.execute(query))
    return count_tags(rows, error_categories(session=session, project_id=project_id))
