"""Annotation storage on SQLite and PostgreSQL: queues, labels, revisions, and no lost writes."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.queues import order_items
from core.templates import TEMPLATES
from storage.annotation import audit_trail, reveal_verdicts, set_flag, skip_item, submit_labels
from storage.annotation_settings import (
    AnnotationError,
    ProjectSettings,
    get_settings,
    set_members,
    update_settings,
)
from storage.annotator_view import item_verdicts, user_labels
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.models import Annotation, Assignment, AuditLog
from storage.projects import get_project
from storage.queues import (
    find_assignment,
    member_queues,
    next_assignment,
    previous_assignment,
    progress,
    rebuild_queues,
)
from storage.users import create_user
from tests.converters import write_jsonl

CORRECTNESS = TEMPLATES["correctness"]


def make_project(db, tmp_path: Path, n_items: int = 6, name: str = "quiz") -> int:
    records = [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
                "judges": {"gpt-4o": {"correct": "correct" if i % 2 else "incorrect",
                                      "rationale": f"because {i}"},
                           "llama": {"correct": "correct"}}}
               for i in range(n_items)]
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=CORRECTNESS, actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name=name).id


def make_users(db, *names: str) -> list[int]:
    with db.write() as session:
        return [create_user(session=session, name=name, role="annotator", password=None, actor=OPERATOR).id
                for name in names]


def setup_queue(db, tmp_path, *, users=("ann", "bob"), overlap=1, n_items=6, **settings):
    project_id = make_project(db, tmp_path, n_items)
    user_ids = make_users(db, *users)
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=overlap, **settings))
        set_members(session=session, project_id=project_id, user_ids=user_ids, actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    return project_id, user_ids


def queue(db, project_id, user_id) -> list[str]:
    with db.read() as session:
        rows = session.execute(text(
            "SELECT i.external_id FROM assignment a JOIN item i ON i.id = a.item_id "
            "WHERE a.project_id = :p AND a.user_id = :u ORDER BY a.position"),
            {"p": project_id, "u": user_id}).scalars()
        return list(rows)


def test_queues_split_items_by_overlap_and_next_follows_the_order(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, overlap=1)
    assert queue(db, project_id, ann) == ["q0", "q2", "q4"]
    assert queue(db, project_id, bob) == ["q1", "q3", "q5"]
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    assert (first.external_id, first.status) == ("q0", "pending")


def test_overlap_two_gives_both_annotators_every_item(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, overlap=2)
    assert queue(db, project_id, ann) == queue(db, project_id, bob) == [f"q{i}" for i in range(6)]


def test_submit_advances_the_queue_and_progress(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item = next_assignment(session=session, project_id=project_id, user_id=ann)

    result = submit_labels(db, project_id=project_id, user_id=ann, item_id=item.item_id,
                           labels={"correct": "incorrect"}, comment="close but wrong",
                           confidence=4, reference_answer="The real answer", actor=OPERATOR)

    assert result.changed == ("correct",) and result.first_submit
    with db.read() as session:
        following = next_assignment(session=session, project_id=project_id, user_id=ann)
        done = find_assignment(session=session, project_id=project_id, user_id=ann,
                               item_id=item.item_id)
        stats = {p.name: (p.done, p.skipped, p.pending) for p in progress(session=session,
                                                                          project_id=project_id)}
        assert user_labels(session=session, item_id=item.item_id, user_id=ann) == {
            "correct": "incorrect"}
    assert following.external_id == "q2"
    assert (done.status, done.comment, done.confidence, done.reference_answer) == (
        "done", "close but wrong", 4, "The real answer")
    assert stats == {"ann": (1, 0, 2), "bob": (0, 0, 3)}


def test_member_queues_count_each_projects_queue_of_one_user(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path)  # ann: q0 q2 q4, bob: q1 q3 q5
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=first.item_id,
                  labels={"correct": "correct"}, actor=OPERATOR)
    with db.read() as session:
        second = next_assignment(session=session, project_id=project_id, user_id=ann)
    skip_item(db, project_id=project_id, user_id=ann, item_id=second.item_id, reason="unsure", actor=OPERATOR)
    unbuilt = make_project(db, tmp_path, 2, name="another")  # a member, queues not built yet
    make_project(db, tmp_path, 2, name="not hers")
    with db.write() as session:
        set_members(session=session, project_id=unbuilt, user_ids=[ann], actor=OPERATOR)

    with db.read() as session:
        queues = member_queues(session=session, user_id=ann)
        bobs = member_queues(session=session, user_id=bob)

    assert [(q.project, q.done, q.skipped, q.pending, q.total) for q in queues] == [
        ("another", 0, 0, 0, 0), ("quiz", 1, 1, 1, 3)]
    assert [q.project_id for q in queues] == [unbuilt, project_id]
    assert [(q.project, q.done, q.skipped, q.pending) for q in bobs] == [("quiz", 0, 0, 3)]


def test_a_reference_answer_is_stored_as_kept_or_as_written(db, tmp_path):
    # The box starts from the item's reference: saving it untouched is no proposal of the
    # annotator's. The server compares with the item itself (spaces trimmed), not with what
    # the browser says it showed.
    records = [{"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
                "reference": f"Reference {i}"} for i in range(3)]
    import_file(db, write_jsonl(records, tmp_path / "refs.jsonl"), project_name="refs",
                schema=CORRECTNESS, actor=OPERATOR)
    (ann,) = make_users(db, "ann")
    with db.write() as session:
        project_id = get_project(session=session, name="refs").id
        set_members(session=session, project_id=project_id, user_ids=[ann], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)

    def save(external_id: str, reference: str | None, reason: str | None = None):
        with db.read() as session:
            item_id = find_assignment(session=session, project_id=project_id, user_id=ann,
                                      external_id=external_id).item_id
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                      labels={"correct": "correct"}, reference_answer=reference, reason=reason,
                      actor=OPERATOR)
        with db.read() as session:
            found = find_assignment(session=session, project_id=project_id, user_id=ann,
                                    item_id=item_id)
        return found.reference_answer, found.reference_edited

    assert save("r0", "Reference 0\n") == ("Reference 0\n", False)  # kept as given
    assert save("r1", "Reference 1, since 1913") == ("Reference 1, since 1913", True)
    assert save("r2", "   ") == (None, None)  # emptied: no answer at all
    # Revising back to the item's own text makes it kept again.
    assert save("r1", "Reference 1") == ("Reference 1", False)


def test_a_revision_is_audited_with_both_values_and_the_reason(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)
    reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=item_id, actor=OPERATOR)

    again = submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                          labels={"correct": "incorrect"}, reason="the judge spotted the unit error",
                          actor=OPERATOR)

    assert again.changed == ("correct",) and not again.first_submit
    with db.read() as session:
        trail = audit_trail(session=session, item_id=item_id, user_id=ann)
        row = session.execute(select(Annotation.label, Annotation.revision, Annotation.blind)
                              .where(Annotation.item_id == item_id)).one()
    assert [entry[1:] for entry in trail] == [
        ("revise", "correct", "correct", "incorrect", "the judge spotted the unit error")]
    # The revised label was made after seeing the verdicts, so it is no longer blind.
    assert tuple(row) == ("incorrect", 2, False)


def test_the_same_submit_twice_changes_nothing(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)
    second = submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                           labels={"correct": "Correct"}, actor=OPERATOR)
    assert second.changed == ()
    with db.read() as session:
        assert session.execute(select(Annotation.revision)).scalars().all() == [1]
        assert session.execute(select(func.count()).select_from(AuditLog)
                               .where(AuditLog.action == "revise")).scalar() == 0


def test_blind_projects_hide_verdicts_until_the_label_is_in(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    with pytest.raises(AnnotationError, match="submit your label first: this project is blind"):
        reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=item_id,
                        actor=OPERATOR)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)
    reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=item_id, actor=OPERATOR)
    with db.read() as session:
        verdicts = item_verdicts(session=session, item_id=item_id)
        blind = session.execute(select(Annotation.blind)).scalar_one()
    assert [(v.judge, v.label) for v in verdicts] == [("gpt-4o", "incorrect"), ("llama", "correct")]
    assert blind is True


def test_non_blind_projects_record_that_labels_were_not_blind(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path, blind=False)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=item_id, actor=OPERATOR)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)
    with db.read() as session:
        assert session.execute(select(Annotation.blind)).scalar_one() is False
        assert get_settings(session=session, project_id=project_id).blind is False


def test_skip_and_flag_are_recorded(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    with pytest.raises(AnnotationError, match="say why you skip this item"):
        skip_item(db, project_id=project_id, user_id=ann, item_id=first.item_id, reason="  ", actor=OPERATOR)
    skip_item(db, project_id=project_id, user_id=ann, item_id=first.item_id, reason="not my field",
              actor=OPERATOR)
    set_flag(db, project_id=project_id, user_id=ann, item_id=first.item_id, flagged=True,
             note="the question is ambiguous", actor=OPERATOR)
    with db.read() as session:
        skipped = find_assignment(session=session, project_id=project_id, user_id=ann,
                                  external_id="q0")
        following = next_assignment(session=session, project_id=project_id, user_id=ann)
        back = previous_assignment(session=session, project_id=project_id, user_id=ann,
                                   position=following.position)
        (stats,) = [p for p in progress(session=session, project_id=project_id) if p.name == "ann"]
    assert (skipped.status, skipped.skip_reason, skipped.flagged, skipped.flag_note) == (
        "skipped", "not my field", True, "the question is ambiguous")
    assert following.external_id == "q2" and back.external_id == "q0"
    assert (stats.done, stats.skipped, stats.pending, stats.flagged) == (0, 1, 2, 1)


def test_an_annotator_cannot_touch_another_annotators_items(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path)
    with db.read() as session:
        bobs = next_assignment(session=session, project_id=project_id, user_id=bob)
        assert find_assignment(session=session, project_id=project_id, user_id=ann,
                               external_id=bobs.external_id) is None
    for action in (
        lambda: submit_labels(db, project_id=project_id, user_id=ann, item_id=bobs.item_id,
                              labels={"correct": "correct"}, actor=OPERATOR),
        lambda: skip_item(db, project_id=project_id, user_id=ann, item_id=bobs.item_id, reason="x",
                          actor=OPERATOR),
        lambda: reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=bobs.item_id, actor=OPERATOR),
    ):
        with pytest.raises(AnnotationError, match="this item is not in your queue"):
            action()
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Annotation)).scalar() == 0


def test_bad_labels_and_missing_dimensions_are_refused(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    with pytest.raises(AnnotationError, match=r"correct: unknown label 'maybe' \(allowed: "):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                      labels={"correct": "maybe"}, actor=OPERATOR)
    with pytest.raises(AnnotationError, match="choose a label for: Correct"):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={}, actor=OPERATOR)
    with pytest.raises(AnnotationError, match="confidence must be 1 to 5"):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                      labels={"correct": "correct"}, confidence=9, actor=OPERATOR)


def test_rebuild_keeps_finished_work_and_rebalances_the_rest(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)
    (carol,) = make_users(db, "carol")
    with db.write() as session:
        set_members(session=session, project_id=project_id, user_ids=[ann, bob, carol], actor=OPERATOR)

    pending = rebuild_queues(db, project_id=project_id, actor=OPERATOR)

    assert pending == 5
    with db.read() as session:
        owners = Counter(session.execute(select(Assignment.user_id)).scalars())
        statuses = Counter(session.execute(select(Assignment.status)).scalars())
    assert statuses == {"done": 1, "pending": 5}
    assert owners == {ann: 2, bob: 2, carol: 2}
    assert "q0" in queue(db, project_id, ann)


def test_disagreement_order_puts_contested_items_first(db, tmp_path):
    project_id, (ann,) = setup_queue(db, tmp_path, users=("ann",), queue_order="disagreement")
    # gpt-4o says incorrect on even items, llama always correct: even items are contested.
    assert queue(db, project_id, ann) == ["q0", "q2", "q4", "q1", "q3", "q5"]


def test_next_item_is_an_index_seek(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    query = ("SELECT a.item_id FROM assignment a WHERE a.user_id = :u AND a.project_id = :p "
             "AND a.status = 'pending' ORDER BY a.position LIMIT 1")
    with db.read() as session:
        explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row) for row in session.execute(
            text(explain + query), {"u": ann, "p": project_id}))
    if db.dialect == "sqlite":
        assert "ix_assignment_queue" in plan and "TEMP B-TREE" not in plan
    else:
        # On a tiny table PostgreSQL may prefer a scan; the index must at least exist.
        with db.read() as session:
            names = session.execute(text("SELECT indexname FROM pg_indexes "
                                         "WHERE tablename = 'assignment'")).scalars().all()
        assert "ix_assignment_queue" in names


def test_many_annotators_submitting_at_once_lose_and_duplicate_nothing(db, tmp_path):
    """16 threads x 50 submits on one database: every final label is the last one written,
    one row per (item, annotator, dimension), every change audited, no error surfaces."""
    n_users, per_thread = 8, 50
    project_id = make_project(db, tmp_path, n_items=25)
    users = make_users(db, *(f"user{i}" for i in range(n_users)))
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=n_users))
        set_members(session=session, project_id=project_id, user_ids=users, actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        item_ids = list(session.execute(text("SELECT id FROM item ORDER BY id")).scalars())
    errors: list[BaseException] = []
    start = threading.Barrier(16)
    expected: dict[tuple[int, int], str] = {}
    changes: list[int] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        # Two threads per user: the same person in two tabs, writing the same items.
        user = users[thread % n_users]
        start.wait()
        for step in range(per_thread):
            item = item_ids[(step * 7 + thread) % len(item_ids)]
            label = "correct" if (step + thread) % 3 else "incorrect"
            try:
                result = submit_labels(db, project_id=project_id, user_id=user, item_id=item,
                                       labels={"correct": label}, reason=f"thread {thread}", actor=OPERATOR)
            except BaseException as exc:  # any error, "database is locked" included, fails
                errors.append(exc)
                return
            with lock:
                expected.setdefault((item, user), label)
                changes.append(len(result.changed))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with db.read() as session:
        rows = session.execute(select(Annotation.item_id, Annotation.user_id, Annotation.label,
                                      Annotation.revision)).all()
        revisions = session.execute(select(func.count()).select_from(AuditLog)
                                    .where(AuditLog.action == "revise")).scalar()
    keys = [(item, user) for item, user, _, _ in rows]
    assert len(keys) == len(set(keys)) == len(expected)  # no duplicates, none lost
    # Every label change is one revision and one audit entry: nothing overwritten silently.
    assert sum(revision - 1 for *_, revision in rows) == revisions
    # Each submit saw the state the previous one left: the changes the submits reported are
    # exactly the rows created plus the revisions (a lost update would report more).
    assert len(changes) == 16 * per_thread
    assert sum(changes) == len(rows) + revisions


def test_a_new_order_moves_finished_work_too_so_positions_stay_unique(db, tmp_path):
    project_id, (ann,) = setup_queue(db, tmp_path, users=("ann",))
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=first.item_id,
                  labels={"correct": "correct"}, actor=OPERATOR)
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(queue_order="random", queue_seed=3))
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)

    with db.read() as session:
        positions = session.execute(select(Assignment.position).where(
            Assignment.user_id == ann).order_by(Assignment.position)).scalars().all()
    assert positions == list(range(6))
    assert queue(db, project_id, ann) == [f"q{i}" for i in order_items_of(db, project_id, seed=3)]


def order_items_of(db, project_id, *, seed):
    with db.read() as session:
        rows = session.execute(text("SELECT id, external_id FROM item WHERE project_id = :p "
                                    "ORDER BY id"), {"p": project_id}).all()
    names = dict(rows)
    return [names[i][1:] for i in order_items([i for i, _ in rows], order="random", seed=seed)]


def test_a_revision_from_a_stale_tab_needs_a_reason(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path)
    with db.read() as session:
        item_id = next_assignment(session=session, project_id=project_id, user_id=ann).item_id
    submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id, labels={"correct": "correct"},
                  actor=OPERATOR)

    with pytest.raises(AnnotationError, match=r"you already labelled this item \(correct: correct\); "
                                              "give a reason to change it"):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=item_id,
                      labels={"correct": "incorrect"}, actor=OPERATOR)
    with db.read() as session:
        assert user_labels(session=session, item_id=item_id, user_id=ann) == {"correct": "correct"}
