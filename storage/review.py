"""Everything an adjudicator reads about one item: fields, human labels and notes, verdicts, gold.

Plain dataclasses only (no ORM object leaves storage). Human labels come from ``annotation``
(label, its comment and confidence when imported with one); each annotator's per-item notes
(comment, confidence, proposed gold reference answer, skip, flag) from their ``assignment``
row, which exists only for items in a queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from storage.annotator_view import ItemView, VerdictView, item_verdicts, item_view
from storage.gold import GoldEvent, GoldRecord, gold_history, gold_revision, item_gold
from storage.models import Annotation, Assignment, Item, UserAccount
from storage.revisions import Revision


@dataclass(frozen=True)
class HumanLabel:
    """One annotator's label on one dimension of the item."""

    annotator: str
    dimension: str
    label: str
    comment: str | None
    confidence: float | None
    blind: bool | None
    source: str
    updated_at: datetime


@dataclass(frozen=True)
class AnnotatorNote:
    """What one annotator noted on the item in their queue."""

    annotator: str
    status: str
    comment: str | None
    confidence: int | None
    reference_answer: str | None
    reference_edited: bool | None  # False: the item's own reference, kept as given
    flagged: bool
    flag_note: str | None
    skip_reason: str | None


@dataclass(frozen=True)
class ItemReview:
    """The item with every human label, annotator note, judge verdict and its gold."""

    item: ItemView
    humans: list[HumanLabel]
    notes: list[AnnotatorNote]
    verdicts: list[VerdictView]
    gold: dict[str, GoldRecord]
    history: list[GoldEvent]
    revision: Revision  # of the gold, for the adjudication form (storage/revisions.py)

    def proposed_references(self) -> list[tuple[str, str]]:
        """``(annotator, answer)`` of every non-blank gold reference answer an annotator wrote
        or edited (one kept as the item gave it is no proposal)."""
        return [(note.annotator, note.reference_answer) for note in self.notes
                if note.reference_answer and note.reference_answer.strip()
                and note.reference_edited is not False]

    def kept_reference(self) -> list[str]:
        """The annotators who kept the item's own reference answer as given."""
        return [note.annotator for note in self.notes
                if note.reference_answer and note.reference_edited is False]


def find_item_id(*, session: Session, project_id: int, external_id: str) -> int | None:
    """Return the database id of the project's item with ``external_id``, or None."""
    return session.execute(select(Item.id).where(Item.project_id == project_id,
                                                 Item.external_id == external_id)).scalar()


def item_human_labels(*, session: Session, item_id: int) -> list[HumanLabel]:
    """Return every human label on the item, by annotator and dimension."""
    query = (select(UserAccount.name, Annotation.dimension, Annotation.label, Annotation.comment,
                    Annotation.confidence, Annotation.blind, Annotation.source,
                    Annotation.updated_at)
             .join(UserAccount, UserAccount.id == Annotation.user_id)
             .where(Annotation.item_id == item_id)
             .order_by(UserAccount.name, Annotation.dimension))
    return [HumanLabel(*row) for row in session.execute(query)]


def item_notes(*, session: Session, item_id: int) -> list[AnnotatorNote]:
    """Return each annotator's queue entry for the item (comment, confidence, proposed
    reference answer, skip, flag), by annotator."""
    query = (select(UserAccount.name, Assignment.status, Assignment.comment, Assignment.confidence,
                    Assignment.reference_answer, Assignment.reference_edited,
                    Assignment.flagged, Assignment.flag_note,
                    Assignment.skip_reason)
             .join(UserAccount, UserAccount.id == Assignment.user_id)
             .where(Assignment.item_id == item_id).order_by(UserAccount.name))
    return [AnnotatorNote(*row) for row in session.execute(query)]


def item_review(*, session: Session, item_id: int) -> ItemReview:
    """Return the whole review of one item; raises
    :class:`storage.annotation_settings.AnnotationError` when the item does not exist."""
    return ItemReview(item=item_view(session=session, item_id=item_id),
                      humans=item_human_labels(session=session, item_id=item_id),
                      notes=item_notes(session=session, item_id=item_id),
                      verdicts=item_verdicts(session=session, item_id=item_id),
                      gold=item_gold(session=session, item_id=item_id),
                      history=gold_history(session=session, item_id=item_id),
                      revision=gold_revision(session=session, item_id=item_id))
