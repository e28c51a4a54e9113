"""Drafts on SQLite and PostgreSQL: kept per annotator and item, replaced, validated, only in
one's own queue, cleared by the save, and never a label (progress, human labels, exports)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

import storage.annotation as annotation
import storage.drafts as drafts
from storage.annotation import submit_labels
from storage.authz import OPERATOR, NotAllowed
from storage.drafts import Draft, DraftError, get_draft, save_draft
from storage.models import Annotation, LabelDraft
from storage.queues import progress
from storage.readback import human_labels_frame
from storage.users import create_user, find_user, set_active
from tests.export.helpers import export
from tests.storage.test_annotation import setup_queue


def item_ids(db, project_id, user_id) -> list[int]:
    with db.read() as session:
        return list(session.execute(select(annotation.Assignment.item_id).where(
            annotation.Assignment.project_id == project_id,
            annotation.Assignment.user_id == user_id).order_by(annotation.Assignment.position))
            .scalars())


def draft_of(db, user_id, item_id):
    with db.read() as session:
        return get_draft(session=session, user_id=user_id, item_id=item_id)


def test_a_draft_is_kept_per_annotator_and_item_and_replaced(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, users=("ann", "bob"), overlap=2)
    first, second = item_ids(db, project_id, ann)[:2]
    save_draft(db, project_id=project_id, user_id=ann, item_id=first, actor=OPERATOR,
               draft=Draft(labels={"correct": "incorrect"}, comment="  check the dose ",
                           confidence=4))
    save_draft(db, project_id=project_id, user_id=bob, item_id=first, actor=OPERATOR,
               draft=Draft(labels={"correct": "correct"}))
    assert draft_of(db, ann, first) == Draft(labels={"correct": "incorrect"},
                                             comment="  check the dose ", confidence=4)
    assert draft_of(db, bob, first) == Draft(labels={"correct": "correct"})
    assert draft_of(db, ann, second) is None

    save_draft(db, project_id=project_id, user_id=ann, item_id=first, actor=OPERATOR,
               draft=Draft(labels={"correct": "correct"}, comment=None))
    assert draft_of(db, ann, first) == Draft(labels={"correct": "correct"})
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(LabelDraft)).scalar_one() == 2

    save_draft(db, project_id=project_id, user_id=ann, item_id=first, actor=OPERATOR,
               draft=Draft(comment="   "))  # nothing left: the draft goes
    assert draft_of(db, ann, first) is None


def test_the_save_clears_the_draft_and_only_then_is_it_a_label(db, tmp_path):
    project_id, (ann,) = setup_queue(db, tmp_path, users=("ann",))
    item = item_ids(db, project_id, ann)[0]
    save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
               draft=Draft(labels={"correct": "incorrect"}, comment="unsure", confidence=2))

    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Annotation)).scalar_one() == 0
        assert human_labels_frame(session=session, project_id=project_id).empty
        (row,) = progress(session=session, project_id=project_id)
    assert row.done == 0
    before = exported_annotators(db, tmp_path)
    assert "ann" not in before

    submit_labels(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                  labels={"correct": "incorrect"}, comment="unsure", confidence=2)
    assert draft_of(db, ann, item) is None
    with db.read() as session:
        assert len(human_labels_frame(session=session, project_id=project_id)) == 1
    assert exported_annotators(db, tmp_path) == before | {"ann"}  # the export does see labels


def exported_annotators(db, tmp_path) -> set[str]:
    """The values of the labels export's rows that name who labelled (judges and humans)."""
    path = export(db, tmp_path, "quiz", "labels").written.path
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {row["rater"] for row in rows}


def test_labels_are_checked_against_the_schema(db, tmp_path):
    project_id, (ann,) = setup_queue(db, tmp_path, users=("ann",))
    item = item_ids(db, project_id, ann)[0]
    with pytest.raises(DraftError, match="correct: "):
        save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                   draft=Draft(labels={"correct": "maybe"}))
    with pytest.raises(DraftError, match="nonexistent"):
        save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                   draft=Draft(labels={"nonexistent": "x"}))
    with pytest.raises(DraftError, match="confidence must be 1 to 5, got 6"):
        save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                   draft=Draft(confidence=6))
    with pytest.raises(DraftError, match="the comment is too long"):
        save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                   draft=Draft(comment="x" * (drafts.MAX_NOTE_CHARS + 1)))
    with pytest.raises(DraftError, match="the comment"):
        save_draft(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR,
                   draft=Draft(comment="a\x00b"))
    assert draft_of(db, ann, item) is None
    # The same limits as a save.
    assert (drafts.MAX_NOTE_CHARS, drafts.MAX_REFERENCE_CHARS) == (
        annotation.MAX_NOTE_CHARS, annotation.MAX_REFERENCE_CHARS)


def test_only_in_ones_own_queue_and_only_as_oneself(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, users=("ann", "bob"), overlap=1)
    bobs_item = item_ids(db, project_id, bob)[0]
    with pytest.raises(DraftError, match="not in your queue"):
        save_draft(db, project_id=project_id, user_id=ann, item_id=bobs_item, actor=OPERATOR,
                   draft=Draft(labels={"correct": "correct"}))
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None,
                            actor=OPERATOR)
        bob_user = find_user(session=session, name="bob")
    with pytest.raises(NotAllowed, match="only in their own queue"):
        save_draft(db, project_id=project_id, user_id=bob, item_id=bobs_item, actor=admin,
                   draft=Draft(labels={"correct": "correct"}))
    save_draft(db, project_id=project_id, user_id=bob, item_id=bobs_item, actor=bob_user,
               draft=Draft(labels={"correct": "correct"}))
    with db.write() as session:
        set_active(session=session, user_id=bob, active=False, actor=OPERATOR)
    with pytest.raises(NotAllowed, match="deactivated"):
        save_draft(db, project_id=project_id, user_id=bob, item_id=bobs_item, actor=bob_user,
                   draft=Draft(labels={"correct": "incorrect"}))
    assert draft_of(db, bob, bobs_item) == Draft(labels={"correct": "correct"})
