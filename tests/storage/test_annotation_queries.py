"""The annotation page's two reads on SQLite and PostgreSQL: one annotator's queue counts, and
the flagged items of a project."""

from __future__ import annotations

from sqlalchemy import text

from storage.annotation import (
    flagged_items,
    next_assignment,
    queue_counts,
    set_flag,
    skip_item,
    submit_labels,
)
from tests.storage.test_annotation import setup_queue


def test_queue_counts_of_one_annotator_by_status(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, n_items=6)  # 3 items each
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=first.item_id,
                  labels={"correct": "correct"})
    with db.read() as session:
        second = next_assignment(session=session, project_id=project_id, user_id=ann)
    skip_item(db, project_id=project_id, user_id=ann, item_id=second.item_id, reason="unsure")
    with db.read() as session:
        assert queue_counts(session=session, project_id=project_id, user_id=ann) == {
            "pending": 1, "done": 1, "skipped": 1}
        assert queue_counts(session=session, project_id=project_id, user_id=bob) == {
            "pending": 3, "done": 0, "skipped": 0}
        # Only the statuses asked for are counted (the cheap "finished" count).
        assert queue_counts(session=session, project_id=project_id, user_id=ann,
                            statuses=("done", "skipped")) == {"done": 1, "skipped": 1}
        assert queue_counts(session=session, project_id=project_id + 1, user_id=ann) == {
            "pending": 0, "done": 0, "skipped": 0}


def test_queue_counts_without_pending_is_an_index_range(sqlite_db, tmp_path):
    project_id, (ann, _) = setup_queue(sqlite_db, tmp_path)
    with sqlite_db.read() as session:
        plan = " ".join(str(row) for row in session.execute(text(
            "EXPLAIN QUERY PLAN SELECT status, count(*) FROM assignment WHERE user_id = :u "
            "AND project_id = :p AND status IN ('done', 'skipped') GROUP BY status"),
            {"u": ann, "p": project_id}))
    assert "ix_assignment_queue" in plan and "SCAN assignment" not in plan


def test_flagged_items_list_note_annotator_and_status_newest_first(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, n_items=6)
    with db.read() as session:
        anns = next_assignment(session=session, project_id=project_id, user_id=ann)
        bobs = next_assignment(session=session, project_id=project_id, user_id=bob)
    set_flag(db, project_id=project_id, user_id=ann, item_id=anns.item_id, flagged=True,
             note="ambiguous question")
    set_flag(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, flagged=True)
    skip_item(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, reason="broken")
    with db.read() as session:
        rows = flagged_items(session=session, project_id=project_id)
    assert [(r.external_id, r.annotator, r.status, r.note) for r in rows] == [
        ("q1", "bob", "skipped", None), ("q0", "ann", "pending", "ambiguous question")]

    set_flag(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, flagged=False)
    with db.read() as session:
        assert [r.external_id for r in flagged_items(session=session, project_id=project_id)] == [
            "q0"]
        assert flagged_items(session=session, project_id=project_id, limit=0) == []
