"""Text typed into the app is held to the same rule as imported text: no NUL, no lone surrogate.

Labels, comments, reference answers, skip reasons, flag notes, gold notes and answers, display
names and project names are refused before anything is written, with the module's own error
naming the field, the same way on SQLite and PostgreSQL (which cannot store a NUL at all).
Before the fix SQLite stored them and PostgreSQL failed with a DataError on the write.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.templates import TEMPLATES
from storage.annotation import set_flag, skip_item, submit_labels
from storage.annotation_settings import AnnotationError, ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.gold import GoldError, adjudicate
from storage.importer import import_file
from storage.models import Annotation, Assignment, Gold, Project, UserAccount
from storage.projects import ProjectError, ensure_project, get_project
from storage.queues import rebuild_queues
from storage.review import find_item_id
from storage.sign_in import SIGN_IN_FAILED, sign_in
from storage.users import UserError, create_user
from tests.converters import write_jsonl

UNSAFE = {"nul": ("a\x00b", "contains a NUL character (U+0000), which cannot be stored"),
          "surrogate": ("a\ud800b", "contains a lone surrogate (U+D800), which is not valid "
                                    "Unicode")}


@pytest.fixture
def queue(db, tmp_path: Path):
    """A correctness project with two items in the queue of annotator ``ann``, and an admin."""
    records = [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}"}
               for i in range(2)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        project_id = get_project(session=session, name="quiz").id
        ann = create_user(session=session, name="ann", role="annotator", password=None,
                          actor=OPERATOR).id
        admin = create_user(session=session, name="ada", role="admin", password=None, actor=OPERATOR)
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=1))
        set_members(session=session, project_id=project_id, user_ids=[ann], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        item = find_item_id(session=session, project_id=project_id, external_id="q0")
    return db, project_id, ann, admin, item


def nothing_stored(db) -> None:
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Annotation)).scalar() == 0
        assert session.execute(select(func.count()).select_from(Gold)).scalar() == 0
        assert session.execute(select(Assignment.status, Assignment.skip_reason,
                                      Assignment.flag_note, Assignment.comment)).all() == [
            ("pending", None, None, None), ("pending", None, None, None)]


@pytest.mark.parametrize("kind", list(UNSAFE))
@pytest.mark.parametrize("what", ["comment", "reference_answer", "label"])
def test_submit_refuses_unsafe_text(queue, kind, what):
    db, project_id, ann, _, item = queue
    text, reason = UNSAFE[kind]
    options = {"labels": {"correct": "correct"}}
    if what == "label":
        options["labels"] = {"correct": text}
        expected = f"correct: the label {reason}"
    else:
        options[what] = text
        expected = f"the {what.replace('_', ' ')} {reason}"
    with pytest.raises(AnnotationError) as caught:
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item, actor=OPERATOR, **options)
    assert str(caught.value) == expected
    nothing_stored(db)


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_skip_reason_and_flag_note_refuse_unsafe_text(queue, kind):
    db, project_id, ann, _, item = queue
    text, reason = UNSAFE[kind]
    with pytest.raises(AnnotationError) as caught:
        skip_item(db, project_id=project_id, user_id=ann, item_id=item, reason=text, actor=OPERATOR)
    assert str(caught.value) == f"the reason {reason}"
    with pytest.raises(AnnotationError) as caught:
        set_flag(db, project_id=project_id, user_id=ann, item_id=item, flagged=True, note=text,
                 actor=OPERATOR)
    assert str(caught.value) == f"the note {reason}"
    nothing_stored(db)


@pytest.mark.parametrize("kind", list(UNSAFE))
@pytest.mark.parametrize("what", ["note", "reference_answer", "label"])
def test_gold_refuses_unsafe_text(queue, kind, what):
    db, _, _, admin, item = queue
    text, reason = UNSAFE[kind]
    options = {"labels": {"correct": "correct"}}
    if what == "label":
        options["labels"] = {"correct": text}
        expected = f"correct: the label {reason}"
    else:
        options[what] = text
        expected = f"the {what.replace('_', ' ')} {reason}"
    with pytest.raises(GoldError) as caught, db.write() as session:
        adjudicate(session=session, item_id=item, actor=admin, **options)
    assert str(caught.value) == expected
    nothing_stored(db)


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_user_names_refuse_unsafe_text(db, kind):
    text, reason = UNSAFE[kind]
    with pytest.raises(UserError) as caught, db.write() as session:
        create_user(session=session, name="maria", role="annotator", password=None,
                    display_name=text, actor=OPERATOR)
    assert str(caught.value) == f"display name {reason}"
    with pytest.raises(UserError, match="may only contain letters"), db.write() as session:
        create_user(session=session, name=text, role="annotator", password=None, actor=OPERATOR)
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(UserAccount)).scalar() == 0


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_project_names_refuse_unsafe_text(db, kind):
    text, reason = UNSAFE[kind]
    with pytest.raises(ProjectError) as caught, db.write() as session:
        ensure_project(session=session, name=text, schema=TEMPLATES["correctness"])
    assert str(caught.value) == f"the project name {reason}"
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Project)).scalar() == 0


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_signing_in_with_an_unsafe_name_is_a_failed_sign_in(db, kind):
    text, _ = UNSAFE[kind]
    result = sign_in(db, name=text, password="some password 1", client="127.0.0.1")
    assert (result.user, result.message) == (None, SIGN_IN_FAILED)
