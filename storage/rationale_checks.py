"""Annotators' ratings of the judges' rationales (the rationale check) in the database.

A rating is one annotator's view of one rationale: a judge's sample on an item (its rationale
is the same on every dimension). Only a rationale the annotator may see can be rated: in a
blind project, after they saved their label and revealed the judges.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session

from core.rationale_checks import RATIONALE_RATINGS, JudgeRationales, RatingRow, count_ratings
from storage.annotation_settings import AnnotationError, get_settings
from storage.authz import Actor, authorize_self
from storage.database import Database
from storage.models import Assignment, Item, Judge, RationaleRating, Verdict


def rate_rationale(db: Database, *, project_id: int, user_id: int, item_id: int, judge: str,
                   sample_index: int, rating: str | None, actor: Actor) -> None:
    """Store ``user_id``'s rating of ``judge``'s rationale (sample ``sample_index``) on the
    item; None removes it.

    Raises :class:`~storage.annotation_settings.AnnotationError` when the rating is not one of
    :data:`~core.rationale_checks.RATIONALE_RATINGS`, the item is not in the user's queue, the
    judges are still hidden from them (a blind project before their label and reveal), or the
    judge has no rationale on the item; ``NotAllowed`` unless ``actor`` acts for themselves.
    """
    if rating is not None and rating not in RATIONALE_RATINGS:
        raise AnnotationError(f"a rationale is rated {', '.join(RATIONALE_RATINGS)}, "
                              f"not {rating!r}")
    with db.write() as session:
        authorize_self(session, actor, user_id)
        assignment = session.execute(select(Assignment).where(
            Assignment.project_id == project_id, Assignment.user_id == user_id,
            Assignment.item_id == item_id)).scalars().first()
        if assignment is None:
            raise AnnotationError("this item is not in your queue")
        if get_settings(session=session, project_id=project_id).blind and not (
                assignment.status == "done" and assignment.verdicts_seen):
            raise AnnotationError("the judges are hidden until you save your label and reveal "
                                  "them: only a rationale you saw can be rated")
        judge_id = session.execute(
            select(Judge.id).join(Verdict, Verdict.judge_id == Judge.id)
            .where(Judge.project_id == project_id, Judge.name == judge,
                   Verdict.item_id == item_id, Verdict.sample_index == sample_index,
                   Verdict.rationale.is_not(None)).limit(1)).scalar()
        if judge_id is None:
            raise AnnotationError(f"{judge!r} gave no rationale on this item")
        session.execute(delete(RationaleRating).where(
            RationaleRating.item_id == item_id, RationaleRating.judge_id == judge_id,
            RationaleRating.sample_index == sample_index, RationaleRating.user_id == user_id))
        if rating is not None:
            session.add(RationaleRating(item_id=item_id, judge_id=judge_id,
                                        sample_index=sample_index, user_id=user_id,
                                        rating=rating))


def user_rationale_ratings(*, session: Session, item_id: int, user_id: int
                           ) -> dict[tuple[str, int], str]:
    """Return the user's ratings on the item: ``(judge name, sample index) -> rating``."""
    query = (select(Judge.name, RationaleRating.sample_index, RationaleRating.rating)
             .join(Judge, Judge.id == RationaleRating.judge_id)
             .where(RationaleRating.item_id == item_id, RationaleRating.user_id == user_id))
    return {(name, sample): rating for name, sample, rating in session.execute(query)}


def rationale_checks(*, session: Session, project_id: int) -> tuple[JudgeRationales, ...]:
    """Return each judge's rated rationales in the project (rater ``judge:NAME``), counted
    over every annotator's ratings."""
    query = (select(Judge.name, RationaleRating.rating)
             .join(Judge, Judge.id == RationaleRating.judge_id)
             .join(Item, Item.id == RationaleRating.item_id)
             .where(Item.project_id == project_id))
    return count_ratings(RatingRow(f"judge:{name}", rating)
                         for name, rating in session.execute(query))
