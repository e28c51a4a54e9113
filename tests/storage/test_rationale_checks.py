"""Annotators' ratings of judge rationales on SQLite and PostgreSQL: only what they saw, one
rating per rationale and annotator, counted per judge."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.templates import TEMPLATES
from storage.annotation import reveal_verdicts, submit_labels
from storage.annotation_settings import AnnotationError, ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR, NotAllowed
from storage.importer import import_file
from storage.models import RationaleRating
from storage.projects import get_project
from storage.queues import rebuild_queues
from storage.rationale_checks import rate_rationale, rationale_checks, user_rationale_ratings
from storage.review import find_item_id
from storage.users import create_user
from tests.converters import write_jsonl

PASSWORD = "a long enough password"


@pytest.fixture
def world(db, tmp_path):
    """A blind correctness project; q0 has two judges with rationales (one sampled twice),
    ann and bob label it."""
    records = [{"id": "q0", "prompt": "Capital of Australia?", "response": "Sydney",
                "judges": {"gpt": {"correct": "correct", "rationale": "Sydney is the capital."},
                           "claude": [{"correct": "incorrect", "rationale": "It is Canberra."},
                                      {"correct": "incorrect", "rationale": "Canberra, 1913."}],
                           "bare": {"correct": "incorrect"}}}]
    import_file(db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        project_id = get_project(session=session, name="quiz").id
        users = [create_user(session=session, name=name, role="annotator", password=PASSWORD,
                             actor=OPERATOR) for name in ("ann", "bob")]
        update_settings(session=session, project_id=project_id,
                        settings=ProjectSettings(overlap=2), actor=OPERATOR)
        set_members(session=session, project_id=project_id, user_ids=[u.id for u in users],
                    actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        item_id = find_item_id(session=session, project_id=project_id, external_id="q0")
    return db, project_id, item_id, users


def label_and_reveal(db, project_id, item_id, user):
    submit_labels(db, project_id=project_id, user_id=user.id, item_id=item_id,
                  labels={"correct": "incorrect"}, actor=user)
    reveal_verdicts(db, project_id=project_id, user_id=user.id, item_id=item_id, actor=user)


def rate(world, user, judge, rating, sample=0):
    db, project_id, item_id, _ = world
    rate_rationale(db, project_id=project_id, user_id=user.id, item_id=item_id, judge=judge,
                   sample_index=sample, rating=rating, actor=user)


def test_ratings_are_stored_per_rationale_replaced_and_counted_per_judge(world) -> None:
    db, project_id, item_id, (ann, bob) = world
    label_and_reveal(db, project_id, item_id, ann)
    label_and_reveal(db, project_id, item_id, bob)
    rate(world, ann, "gpt", "sound")
    rate(world, ann, "gpt", "hallucinated")  # changed her mind: replaces
    rate(world, ann, "claude", "sound")
    rate(world, ann, "claude", "flawed", sample=1)
    rate(world, bob, "gpt", "hallucinated")

    with db.read() as session:
        assert user_rationale_ratings(session=session, item_id=item_id, user_id=ann.id) == {
            ("gpt", 0): "hallucinated", ("claude", 0): "sound", ("claude", 1): "flawed"}
        claude, gpt = rationale_checks(session=session, project_id=project_id)
    assert (gpt.rater, gpt.rated, dict(gpt.counts), gpt.unsound_share) == (
        "judge:gpt", 2, {"sound": 0, "flawed": 0, "hallucinated": 2}, 1.0)
    assert (claude.rated, dict(claude.counts), claude.unsound_share) == (
        2, {"sound": 1, "flawed": 1, "hallucinated": 0}, 0.5)

    rate(world, ann, "gpt", None)  # cleared
    with db.read() as session:
        assert ("gpt", 0) not in user_rationale_ratings(session=session, item_id=item_id,
                                                        user_id=ann.id)


def test_a_hidden_rationale_cannot_be_rated(world) -> None:
    db, project_id, item_id, (ann, _) = world
    with pytest.raises(AnnotationError, match="hidden until you save your label"):
        rate(world, ann, "gpt", "sound")
    submit_labels(db, project_id=project_id, user_id=ann.id, item_id=item_id,
                  labels={"correct": "incorrect"}, actor=ann)
    with pytest.raises(AnnotationError, match="hidden until you save your label"):
        rate(world, ann, "gpt", "sound")  # saved but not revealed
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(RationaleRating)).scalar() == 0


@pytest.mark.parametrize(("judge", "rating", "message"), [
    ("gpt", "great", "not 'great'"),
    ("bare", "sound", "'bare' gave no rationale"),
    ("nobody", "sound", "'nobody' gave no rationale"),
])
def test_bad_ratings_are_refused(world, judge, rating, message) -> None:
    db, project_id, item_id, (ann, _) = world
    label_and_reveal(db, project_id, item_id, ann)
    with pytest.raises(AnnotationError, match=message):
        rate(world, ann, judge, rating)


def test_nobody_rates_in_someone_elses_name(world) -> None:
    db, project_id, item_id, (ann, bob) = world
    label_and_reveal(db, project_id, item_id, ann)
    with pytest.raises(NotAllowed, match="only in their own queue"):
        rate_rationale(db, project_id=project_id, user_id=ann.id, item_id=item_id, judge="gpt",
                       sample_index=0, rating="sound", actor=bob)
