"""The annotation page's reads on SQLite and PostgreSQL: one annotator's queue counts, the
combined read of the panel (the same values as the single reads), and the flagged items of a
project."""

from __future__ import annotations

from sqlalchemy import text

from core.templates import TEMPLATES
from storage.annotation import reveal_verdicts, set_flag, skip_item, submit_labels
from storage.annotation_settings import (
    AnnotationError,
    ProjectSettings,
    get_settings,
    set_members,
    update_settings,
)
from storage.annotator_view import annotator_state, current_item, item_verdicts, item_view, user_labels
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import get_project
from storage.queues import find_assignment, flagged_items, next_assignment, queue_counts, rebuild_queues
from tests.converters import write_jsonl
from tests.storage.test_annotation import make_users, setup_queue


def test_queue_counts_of_one_annotator_by_status(db, tmp_path):
    project_id, (ann, bob) = setup_queue(db, tmp_path, n_items=6)  # 3 items each
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=first.item_id,
                  labels={"correct": "correct"}, actor=OPERATOR)
    with db.read() as session:
        second = next_assignment(session=session, project_id=project_id, user_id=ann)
    skip_item(db, project_id=project_id, user_id=ann, item_id=second.item_id, reason="unsure", actor=OPERATOR)
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
             note="ambiguous question", actor=OPERATOR)
    set_flag(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, flagged=True, actor=OPERATOR)
    skip_item(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, reason="broken", actor=OPERATOR)
    with db.read() as session:
        rows = flagged_items(session=session, project_id=project_id)
    assert [(r.external_id, r.annotator, r.status, r.note) for r in rows] == [
        ("q1", "bob", "skipped", None), ("q0", "ann", "pending", "ambiguous question")]

    set_flag(db, project_id=project_id, user_id=bob, item_id=bobs.item_id, flagged=False, actor=OPERATOR)
    with db.read() as session:
        assert [r.external_id for r in flagged_items(session=session, project_id=project_id)] == [
            "q0"]
        assert flagged_items(session=session, project_id=project_id, limit=0) == []


def _single_reads(session, project_id, user_id, external_id=None):
    """What the panel read before the combined query: one call per part."""
    if external_id is None:
        assignment = next_assignment(session=session, project_id=project_id, user_id=user_id)
    else:
        assignment = find_assignment(session=session, project_id=project_id, user_id=user_id,
                                     external_id=external_id)
    if assignment is None:
        return None
    return (assignment, item_view(session=session, item_id=assignment.item_id),
            user_labels(session=session, item_id=assignment.item_id, user_id=user_id),
            tuple(item_verdicts(session=session, item_id=assignment.item_id)))


def _combined(session, project_id, user_id, external_id=None):
    found = current_item(session=session, project_id=project_id, user_id=user_id,
                         external_id=external_id)
    return None if found is None else (found.assignment, found.item, found.saved,
                                       found.verdicts)


def test_the_combined_read_returns_what_the_single_reads_return(db, tmp_path):
    # Judges whose names sort differently by case and samples > 0, so the verdict order is
    # checked too; two dimensions, metadata, model and group, so every part is compared.
    records = [{"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i} ünïcode",
                "model": f"model-{i % 2}", "group": "g", "source": f"batch {i}",
                "judges": {"Zed": {"correct": "correct", "rationale": f"why {i}"},
                           "alpha": {"correct": "incorrect"},
                           "Beta": {"correct": "correct"},
                           "Beta[1]": {"correct": "incorrect"}}}
               for i in range(5)]
    import_file(db, write_jsonl(records, tmp_path / "combined.jsonl"), project_name="combined",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    ann, bob = make_users(db, "ann", "bob")
    with db.write() as session:
        project_id = get_project(session=session, name="combined").id
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(blind=True, overlap=2, trusted_fields=("prompt",)))
        set_members(session=session, project_id=project_id, user_ids=[ann, bob], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        first = next_assignment(session=session, project_id=project_id, user_id=ann)
    submit_labels(db, project_id=project_id, user_id=ann, item_id=first.item_id,
                  labels={"correct": "incorrect"}, comment="hm", confidence=4, actor=OPERATOR)
    reveal_verdicts(db, project_id=project_id, user_id=ann, item_id=first.item_id, actor=OPERATOR)
    with db.read() as session:
        second = next_assignment(session=session, project_id=project_id, user_id=ann)
    skip_item(db, project_id=project_id, user_id=ann, item_id=second.item_id, reason="unsure", actor=OPERATOR)
    set_flag(db, project_id=project_id, user_id=ann, item_id=first.item_id, flagged=True,
             note="look", actor=OPERATOR)

    with db.read() as session:
        for user in (ann, bob):
            for wanted in (None, "r0", "r1", "r4", "nope"):
                expected = _single_reads(session, project_id, user, wanted)
                assert _combined(session, project_id, user, wanted) == expected, (user, wanted)
        found = _combined(session, project_id, ann, "r0")
        assert found[2] == {"correct": "incorrect"} and found[0].flagged
        assert found[1].model == "model-0" and found[1].metadata == {"source": "batch 0"}
        assert [(v.judge, v.sample_index) for v in found[3]] == [
            ("Beta", 0), ("Beta", 1), ("Zed", 0), ("alpha", 0)]
        assert _combined(session, project_id + 1, ann) is None

        state = annotator_state(session=session, project_id=project_id, user_id=ann)
        assert state.settings == get_settings(session=session, project_id=project_id)
        assert state.finished == queue_counts(session=session, project_id=project_id,
                                              user_id=ann, statuses=("done", "skipped"))
        assert state.finished == {"done": 1, "skipped": 1}
        try:
            annotator_state(session=session, project_id=project_id + 1, user_id=ann)
        except AnnotationError as exc:
            assert "no project" in str(exc)
        else:
            raise AssertionError("an unknown project must raise")


def test_the_combined_read_without_verdicts_or_labels(db, tmp_path):
    project_id, (ann, _) = setup_queue(db, tmp_path, n_items=2, overlap=2)
    with db.read() as session:
        for wanted in (None, "q0", "q1"):
            assert _combined(session, project_id, ann, wanted) == _single_reads(
                session, project_id, ann, wanted)
    for item in ("q0", "q1"):
        with db.read() as session:
            entry = find_assignment(session=session, project_id=project_id, user_id=ann,
                                    external_id=item)
        submit_labels(db, project_id=project_id, user_id=ann, item_id=entry.item_id,
                      labels={"correct": "correct"}, actor=OPERATOR)
    with db.read() as session:
        assert _combined(session, project_id, ann) is None  # the queue is finished
        assert _combined(session, project_id, ann, "q1") == _single_reads(
            session, project_id, ann, "q1")
