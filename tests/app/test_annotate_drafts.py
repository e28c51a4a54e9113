"""Drafts on the Annotate page (AppTest): chosen but unsaved work is written to the server and
restored by a new browser session (a reload, another device); saving clears it; it is never
a label until then."""

from __future__ import annotations

import pytest

from storage.annotator_view import user_labels
from storage.drafts import Draft, get_draft
from storage.queues import find_assignment
from tests.app.annotate_helpers import make_annotation_project, open_annotate
from tests.app.conftest import app_database


@pytest.fixture
def quiz(request, annotator, tmp_path):
    return make_annotation_project(app_database(request), tmp_path, [annotator])


def first_item(db, project_id, user) -> int:
    with db.read() as session:
        return find_assignment(session=session, project_id=project_id, user_id=user.id,
                               external_id="q0").item_id


def draft(db, user, item):
    with db.read() as session:
        return get_draft(session=session, user_id=user.id, item_id=item)


def test_unsaved_choices_come_back_in_a_new_session_and_go_with_the_save(app_db_any, annotator,
                                                                         quiz):
    db = app_db_any
    item = first_item(db, quiz, annotator)
    at = open_annotate(annotator, project_id=quiz)
    assert draft(db, annotator, item) is None  # opening an item writes nothing
    at.button(key="annotate.label.correct.1").click().run()
    # The whole form: the reference box holds the item's reference as given.
    assert draft(db, annotator, item) == Draft(labels={"correct": "incorrect"},
                                               reference_answer="Reference 0")
    at.text_area(key=f"annotate.comment.{item}").input("check the dose").run()
    at.feedback(key=f"annotate.confidence.{item}").set_value(2).run()
    at.text_area(key=f"annotate.reference.{item}").input("Vitamin C").run()
    expected = Draft(labels={"correct": "incorrect"}, comment="check the dose", confidence=3,
                     reference_answer="Vitamin C")
    assert draft(db, annotator, item) == expected
    with db.read() as session:
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {}

    again = open_annotate(annotator, project_id=quiz, item="q0")  # a reload: a new session
    assert again.button(key="annotate.label.correct.1").proto.type == "primary"
    assert again.button(key="annotate.label.correct.0").proto.type == "secondary"
    assert again.text_area(key=f"annotate.comment.{item}").value == "check the dose"
    assert again.feedback(key=f"annotate.confidence.{item}").value == 2
    assert again.text_area(key=f"annotate.reference.{item}").value == "Vitamin C"
    assert draft(db, annotator, item) == expected  # restoring wrote nothing new

    again.button(key="annotate.submit").click().run()
    assert draft(db, annotator, item) is None
    with db.read() as session:
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {
            "correct": "incorrect"}
        saved = find_assignment(session=session, project_id=quiz, user_id=annotator.id,
                                external_id="q0")
    assert (saved.comment, saved.confidence, saved.reference_answer) == (
        "check the dose", 3, "Vitamin C")


def test_going_back_to_what_is_saved_deletes_the_draft(app_db, annotator, quiz):
    item = first_item(app_db, quiz, annotator)
    at = open_annotate(annotator, project_id=quiz)
    at.text_area(key=f"annotate.comment.{item}").input("a thought").run()
    assert draft(app_db, annotator, item) == Draft(comment="a thought",
                                                   reference_answer="Reference 0")
    at.text_area(key=f"annotate.comment.{item}").input("").run()
    assert draft(app_db, annotator, item) is None
