"""Annotators' queues: building them from the settings (:func:`rebuild_queues`), moving along
them (next, previous, following, an item by its id), and what they say about progress and
flags. Each move is an indexed query on ``assignment`` (an annotator's queue by position),
never a scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlmodel import Session

from core.queues import (
    DESIGN_ORDERS,
    design_shares,
    judge_disagreement,
    judge_uncertainty,
    order_items,
    plan_assignments,
)
from storage.annotation_settings import get_settings, member_ids
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.models import Assignment, Item, Project, ProjectMember, UserAccount, Verdict, utcnow


@dataclass(frozen=True)
class AssignmentView:
    """One item in one annotator's queue, with what the annotator did with it."""

    item_id: int
    external_id: str
    position: int
    status: str
    skip_reason: str | None
    flagged: bool
    flag_note: str | None
    comment: str | None
    confidence: int | None
    reference_answer: str | None
    reference_edited: bool | None
    verdicts_seen: bool
    submitted_at: datetime | None


@dataclass(frozen=True)
class AnnotatorProgress:
    """One annotator's queue in a project."""

    user_id: int
    name: str
    done: int
    skipped: int
    pending: int
    flagged: int

    @property
    def total(self) -> int:
        """Items in the queue."""
        return self.done + self.skipped + self.pending


@dataclass(frozen=True)
class QueueSummary:
    """One user's queue in one project they annotate."""

    project_id: int
    project: str
    done: int
    skipped: int
    pending: int

    @property
    def total(self) -> int:
        """Items in the queue (0 until an admin builds the queues)."""
        return self.done + self.skipped + self.pending


def member_queues(*, session: Session, user_id: int) -> list[QueueSummary]:
    """Return the queue of every project ``user_id`` annotates, by project name, with its
    done / skipped / pending counts (one grouped query; zeros for a queue not built yet)."""
    counts = (select(Assignment.project_id,
                     func.sum(_flag(Assignment.status == "done")).label("done"),
                     func.sum(_flag(Assignment.status == "skipped")).label("skipped"),
                     func.sum(_flag(Assignment.status == "pending")).label("pending"))
              .where(Assignment.user_id == user_id).group_by(Assignment.project_id).subquery())
    query = (select(Project.id, Project.name, counts.c.done, counts.c.skipped, counts.c.pending)
             .join(ProjectMember, ProjectMember.project_id == Project.id)
             .outerjoin(counts, counts.c.project_id == Project.id)
             .where(ProjectMember.user_id == user_id).order_by(Project.name))
    return [QueueSummary(project_id, name, int(done or 0), int(skipped or 0), int(pending or 0))
            for project_id, name, done, skipped, pending in session.execute(query)]


def rebuild_queues(db: Database, *, project_id: int, actor: Actor) -> int:
    """Re-plan the project's pending queue slots; return how many pending slots it now has.

    Labelled and skipped slots stay where they are and count towards the overlap; pending
    slots are planned anew for the current members, order and overlap (so new items, new
    members and changed settings all take effect). Under a design order, items added since
    the last build join the sample by their own draws without reordering the items drawn
    before (:func:`core.queues.design_shares`), so the labels already given stay usable for
    estimates. One transaction. ``actor`` must be an admin (:class:`~storage.authz.NotAllowed`
    otherwise).
    """
    with db.write() as session:
        authorize(session, actor, role=ADMIN)
        settings = get_settings(session=session, project_id=project_id)
        members = member_ids(session=session, project_id=project_id)
        recorded = _recorded_shares(session, project_id)  # pending slots' too, before they go
        session.execute(delete(Assignment).where(Assignment.project_id == project_id,
                                                 Assignment.status == "pending"))
        item_ids = list(session.execute(select(Item.id).where(Item.project_id == project_id)
                                        .order_by(Item.id)).scalars())
        kept: dict[int, set[int]] = {}
        for item_id, user_id in session.execute(
                select(Assignment.item_id, Assignment.user_id)
                .where(Assignment.project_id == project_id)):
            kept.setdefault(item_id, set()).add(user_id)
        scores = (_disagreement(session, project_id) if settings.queue_order == "disagreement"
                  else None)
        shares = (design_shares(item_ids, order=settings.queue_order,
                                uncertainty=_uncertainty(session, project_id),
                                recorded=recorded)
                  if settings.queue_order in DESIGN_ORDERS else None)
        ordered = order_items(item_ids, order=settings.queue_order, seed=settings.queue_seed,
                              disagreement=scores, shares=shares)
        plan = plan_assignments(ordered, members, overlap=settings.overlap, kept=kept)
        # Kept (labelled or skipped) slots move to their item's place in the current order, so
        # Back/Next walk one consistent order after the order or seed changed.
        rank = {item_id: position for position, item_id in enumerate(ordered)}
        # Under a design order every slot records its item's draw share (the estimate's
        # inclusion probabilities); under any other order none does, so labels gathered
        # there are never mistaken for a random sample.
        share = shares or {}
        if kept:  # pending slots were deleted above, so this touches only kept ones
            session.connection().execute(
                update(Assignment.__table__)
                .where(Assignment.__table__.c.item_id == bindparam("kept_item"))
                .values(position=bindparam("kept_position"), draw_share=bindparam("kept_share")),
                [{"kept_item": item_id, "kept_position": rank[item_id],
                  "kept_share": share.get(item_id)} for item_id in kept])
        if plan:
            now = utcnow()
            session.execute(Assignment.__table__.insert(), [
                {"project_id": project_id, "item_id": slot.item_id, "user_id": slot.user_id,
                 "position": slot.position, "status": "pending", "flagged": False,
                 "verdicts_seen": False, "updated_at": now, "draw_share": share.get(slot.item_id)}
                for slot in plan])
        return len(plan)


def _disagreement(session: Session, project_id: int) -> dict[int, float]:
    labels: dict[int, dict[str, list[str]]] = {}
    query = (select(Verdict.item_id, Verdict.dimension, Verdict.label)
             .join(Item, Item.id == Verdict.item_id)
             .where(Item.project_id == project_id, Verdict.sample_index == 0))
    for item_id, dimension, label in session.execute(query):
        labels.setdefault(item_id, {}).setdefault(dimension, []).append(label)
    return judge_disagreement(labels)


def _recorded_shares(session: Session, project_id: int) -> dict[int, float]:
    """The draw share each item's slots carry (the same on every slot of an item)."""
    query = (select(Assignment.item_id, func.max(Assignment.draw_share))
             .where(Assignment.project_id == project_id, Assignment.draw_share.is_not(None))
             .group_by(Assignment.item_id))
    return {item_id: float(share) for item_id, share in session.execute(query)}


def _uncertainty(session: Session, project_id: int) -> dict[int, float]:
    labels: dict[int, dict[str, list[str]]] = {}
    query = (select(Verdict.item_id, Verdict.dimension, Verdict.label)
             .join(Item, Item.id == Verdict.item_id)
             .where(Item.project_id == project_id, Verdict.label.is_not(None)))
    for item_id, dimension, label in session.execute(query):
        labels.setdefault(item_id, {}).setdefault(dimension, []).append(label)
    return judge_uncertainty(labels)


# The columns of an AssignmentView, in its field order (storage.annotator_view reads them too).
ASSIGNMENT_COLUMNS = (Assignment.item_id, Item.external_id, Assignment.position,
                      Assignment.status, Assignment.skip_reason, Assignment.flagged,
                      Assignment.flag_note, Assignment.comment, Assignment.confidence,
                      Assignment.reference_answer, Assignment.reference_edited,
                      Assignment.verdicts_seen, Assignment.submitted_at)


def _views(session: Session, query: Any) -> AssignmentView | None:
    row = session.execute(query.limit(1)).first()
    return AssignmentView(*row) if row else None


def queue_query(project_id: int, user_id: int) -> Any:
    """Return the select of :data:`ASSIGNMENT_COLUMNS` over one annotator's queue in a project."""
    return (select(*ASSIGNMENT_COLUMNS).join(Item, Item.id == Assignment.item_id)
            .where(Assignment.user_id == user_id, Assignment.project_id == project_id))


def next_assignment(*, session: Session, project_id: int, user_id: int) -> AssignmentView | None:
    """Return the user's first pending item in queue order, or None when the queue is done.

    An index seek on ``ix_assignment_queue`` (user, project, status, position).
    """
    return _views(session, queue_query(project_id, user_id)
                  .where(Assignment.status == "pending").order_by(Assignment.position))


def previous_assignment(*, session: Session, project_id: int, user_id: int, position: int
                        ) -> AssignmentView | None:
    """Return the user's item just before ``position`` in their queue (any status), or None."""
    return _views(session, queue_query(project_id, user_id)
                  .where(Assignment.position < position).order_by(Assignment.position.desc()))


def following_assignment(*, session: Session, project_id: int, user_id: int, position: int
                         ) -> AssignmentView | None:
    """Return the user's item just after ``position`` in their queue (any status), or None."""
    return _views(session, queue_query(project_id, user_id)
                  .where(Assignment.position > position).order_by(Assignment.position))


def find_assignment(*, session: Session, project_id: int, user_id: int,
                    external_id: str | None = None, item_id: int | None = None
                    ) -> AssignmentView | None:
    """Return the user's queue entry for an item (by its id in the file, or database id).

    None when the item is not in this user's queue: an annotator can only open their own.
    """
    query = queue_query(project_id, user_id)
    if external_id is not None:
        query = query.where(Item.external_id == external_id)
    if item_id is not None:
        query = query.where(Assignment.item_id == item_id)
    return _views(session, query)


def progress(*, session: Session, project_id: int) -> list[AnnotatorProgress]:
    """Return each member's done/skipped/pending/flagged counts, by name."""
    counts = (select(Assignment.user_id,
                     func.sum(_flag(Assignment.status == "done")),
                     func.sum(_flag(Assignment.status == "skipped")),
                     func.sum(_flag(Assignment.status == "pending")),
                     func.sum(_flag(Assignment.flagged)))
              .where(Assignment.project_id == project_id).group_by(Assignment.user_id).subquery())
    query = (select(UserAccount.id, UserAccount.name, counts)
             .join(counts, counts.c.user_id == UserAccount.id).order_by(UserAccount.name))
    return [AnnotatorProgress(user_id, name, int(done or 0), int(skipped or 0), int(pending or 0),
                              int(flagged or 0))
            for user_id, name, _, done, skipped, pending, flagged in session.execute(query)]


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def queue_counts(*, session: Session, project_id: int, user_id: int,
                 statuses: Sequence[str] = ("pending", "done", "skipped")) -> dict[str, int]:
    """Return ``{status: n}`` of one annotator's queue, for ``statuses`` (missing = 0).

    An index range count on ``ix_assignment_queue`` per status, so asking only for
    ``("done", "skipped")`` costs what the annotator has finished, not the queue's length.
    """
    counts = dict.fromkeys(statuses, 0)
    query = (select(Assignment.status, func.count())
             .where(Assignment.user_id == user_id, Assignment.project_id == project_id,
                    Assignment.status.in_(list(statuses)))
             .group_by(Assignment.status))
    counts.update({status: int(n) for status, n in session.execute(query)})
    return counts


@dataclass(frozen=True)
class FlaggedItem:
    """An item an annotator flagged for review, with their note."""

    item_id: int
    external_id: str
    annotator: str
    status: str
    note: str | None
    updated_at: datetime


def flagged_items(*, session: Session, project_id: int, limit: int = 1000) -> list[FlaggedItem]:
    """Return up to ``limit`` flagged queue entries of the project, newest first."""
    query = (select(Assignment.item_id, Item.external_id, UserAccount.name, Assignment.status,
                    Assignment.flag_note, Assignment.updated_at)
             .join(Item, Item.id == Assignment.item_id)
             .join(UserAccount, UserAccount.id == Assignment.user_id)
             .where(Assignment.project_id == project_id, Assignment.flagged.is_(True))
             .order_by(Assignment.updated_at.desc(), Assignment.id.desc()).limit(limit))
    return [FlaggedItem(*row) for row in session.execute(query)]
