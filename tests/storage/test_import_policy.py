"""Error policies, all-or-nothing writes and idempotent re-imports.

"Unchanged" is checked by comparing every row of every table before and after, so a stray
project row, a judge without verdicts or a touched ``updated_at`` would all fail the tests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import SQLModel

from core.importing import ImportFileError, ImportRejected, read_import_file, validate_table
from core.importing.content_hash import is_legacy_hash
from core.schema import schema_from_dict, schema_to_dict
from core.templates import TEMPLATES
from storage import importer
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.models import AuditLog, Item, UserAccount
from storage.projects import ProjectError, get_project
from storage.readback import human_labels_frame, items_frame, verdicts_frame
from tests.converters import Record, write_csv, write_jsonl

CORRECTNESS = TEMPLATES["correctness"]
ALLOWED = "allowed: correct, incorrect"


def record(item_id: str, *, prompt: str = "Capital of France?", response: str = "Paris",
           gpt: str = "correct", em: str = "incorrect", alice: str = "correct",
           comment: str | None = None) -> Record:
    humans: dict[str, Any] = {"alice": {"correct": alice}}
    if comment is not None:
        humans["alice"]["comment"] = comment
    return {"id": item_id, "prompt": prompt, "response": response,
            "judges": {"gpt-3.5-turbo": {"correct": gpt, "rationale": f"why {item_id}"},
                       "EM": {"correct": em}},
            "humans": humans}


CLEAN = [record("c1"), record("c2", response="Lyon", gpt="incorrect"), record("c3", alice="incorrect")]
# CSV line numbers: the header is line 1, so record k is on line k + 2.
BAD = [
    record("ok-1"),                                  # line 2
    record("bad-label", gpt="maybe"),                # line 3
    record("no-prompt", prompt=""),                  # line 4
    record("ok-2", gpt="incorrect"),                 # line 5
    record("ok-1", response="again"),                # line 6: duplicate id
    record("bad-human", alice="perhaps"),            # line 7
]
BAD_PROBLEMS = [
    ("line 3", "judge.gpt-3.5-turbo.correct", f"unknown label 'maybe' ({ALLOWED})"),
    ("line 4", "prompt", "missing required field"),
    ("line 6", "id", "duplicate id 'ok-1' (first at line 2)"),
    ("line 7", "human.alice.correct", f"unknown label 'perhaps' ({ALLOWED})"),
]


def snapshot(db) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key."""
    result = {}
    with db.read() as session:
        connection = session.connection()
        for table in SQLModel.metadata.sorted_tables:
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            assert count == len(rows)
            result[table.name] = [tuple(row) for row in rows]
    return result


def stored(db, project: str = "p"):
    """The project's items, verdicts and human labels as read back from the database."""
    with db.read() as session:
        project_id = get_project(session=session, name=project).id
        return (items_frame(session=session, project_id=project_id),
                verdicts_frame(session=session, project_id=project_id),
                human_labels_frame(session=session, project_id=project_id))


def counts(snap: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in snap.items() if rows}


def import_clean(db, tmp_path: Path, project: str = "p") -> None:
    import_file(db, write_csv(CLEAN, tmp_path / "clean.csv"), project_name=project, schema=CORRECTNESS,
                actor=OPERATOR)


def problems(batch) -> list[tuple[str, str, str]]:
    return [(p.location, p.field, p.reason) for p in batch.problems]


# --- strict --------------------------------------------------------------------------------

@pytest.mark.parametrize("existing", [False, True], ids=["empty-db", "project-with-data"])
def test_strict_rejects_and_writes_nothing(db, tmp_path: Path, existing: bool) -> None:
    if existing:
        import_clean(db, tmp_path)
    before = snapshot(db)
    path = write_csv(BAD, tmp_path / "bad.csv")

    with pytest.raises(ImportRejected) as caught:
        import_file(db, path, project_name="p", schema=CORRECTNESS, on_error="strict", actor=OPERATOR)

    assert problems(caught.value.batch) == BAD_PROBLEMS
    assert all(p.file == str(path) for p in caught.value.batch.problems)
    assert str(caught.value).startswith(f"{path}: 4 problem(s) in 4 of 6 records; nothing was imported")
    assert snapshot(db) == before
    if existing:
        assert counts(before) == {"schema_version": 1, "project": 1, "item": 3, "judge": 2,
                                  "verdict": 6, "user_account": 1, "annotation": 3}


def test_file_level_error_writes_nothing(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    before = snapshot(db)
    rows = [{**record("x"), "judges": {"gpt-3.5-turbo": {"colour": "red"}}}]
    path = write_csv(rows, tmp_path / "unknown_dimension.csv")

    with pytest.raises(ImportFileError) as caught:
        import_file(db, path, project_name="p", schema=None, on_error="skip", actor=OPERATOR)

    (problem,) = caught.value.problems
    assert (problem.location, problem.field) == ("header", "judge.gpt-3.5-turbo.colour")
    assert "unknown dimension 'colour'" in problem.reason
    assert snapshot(db) == before


# --- skip ----------------------------------------------------------------------------------

def test_skip_writes_exactly_the_valid_rows(db, tmp_path: Path) -> None:
    path = write_csv(BAD, tmp_path / "bad.csv")

    batch, summary = import_file(db, path, project_name="p", schema=CORRECTNESS, on_error="skip",
                                 actor=OPERATOR)

    assert problems(batch) == BAD_PROBLEMS
    assert (summary.total_records, summary.added, summary.updated, summary.unchanged,
            summary.skipped) == (6, 2, 0, 0, 4)
    assert (summary.verdicts, summary.human_labels) == (4, 2)
    items, verdicts, humans = stored(db)
    assert items["id"].tolist() == ["ok-1", "ok-2"]
    assert items.set_index("id")["fields"].to_dict() == {
        "ok-1": {"prompt": "Capital of France?", "response": "Paris"},  # the first ok-1 wins
        "ok-2": {"prompt": "Capital of France?", "response": "Paris"},
    }
    assert sorted(zip(verdicts["id"], verdicts["judge"], verdicts["label"], strict=True)) == [
        ("ok-1", "EM", "incorrect"), ("ok-1", "gpt-3.5-turbo", "correct"),
        ("ok-2", "EM", "incorrect"), ("ok-2", "gpt-3.5-turbo", "incorrect")]
    assert sorted(zip(humans["id"], humans["label"], strict=True)) == [("ok-1", "correct"),
                                                                        ("ok-2", "correct")]


# --- an error during the write rolls everything back ---------------------------------------

@pytest.mark.parametrize("existing", [False, True], ids=["new-project", "existing-project"])
def test_failure_mid_write_rolls_back(db, tmp_path: Path, monkeypatch, existing: bool) -> None:
    if existing:
        import_clean(db, tmp_path)
    before = snapshot(db)
    seen: list[int] = []

    def fail_after_items(self, *args: Any, **kwargs: Any) -> int:
        # Prove the items really were written inside the transaction before failing.
        seen.append(self.conn.exec_driver_sql("SELECT COUNT(*) FROM item").scalar_one())
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer._BulkWriter, "write_verdicts", fail_after_items)
    changed = [record("c1", response="Marseille"), record("c2"), record("c3"), record("c4")]
    path = write_csv(changed, tmp_path / "changed.csv")

    with pytest.raises(RuntimeError, match="disk full"):
        import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)

    assert seen == [4]  # 3 existing + 1 new, or 4 new
    assert snapshot(db) == before


# --- idempotent re-import ------------------------------------------------------------------

def test_same_file_twice_changes_nothing(db, tmp_path: Path) -> None:
    path = write_csv(CLEAN, tmp_path / "clean.csv")
    _, first = import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)
    before = snapshot(db)

    _, second = import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)

    assert (first.added, first.verdicts, first.human_labels, first.created_project) == (3, 6, 3, True)
    assert (second.added, second.updated, second.unchanged, second.skipped) == (0, 0, 3, 0)
    assert (second.verdicts, second.human_labels, second.changed_ids) == (0, 0, ())
    assert second.created_project is False
    assert snapshot(db) == before  # not even a timestamp moved


def test_same_content_in_another_format_is_unchanged(db, tmp_path: Path) -> None:
    # A metadata value present in one row only: JSONL leaves it out, CSV has an empty cell.
    records = [{**CLEAN[0], "note": "checked twice"}, *CLEAN[1:]]
    import_file(db, write_jsonl(records, tmp_path / "clean.jsonl"), project_name="p", schema=CORRECTNESS,
                actor=OPERATOR)
    before = snapshot(db)

    _, summary = import_file(db, write_csv(records, tmp_path / "clean.csv"), project_name="p",
                             schema=None, actor=OPERATOR)

    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 3)
    assert snapshot(db) == before


def test_reimport_reports_exactly_the_changed_rows(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    before = snapshot(db)
    edited = [
        record("c1", response="Paris, France"),        # response changed
        record("c2", response="Lyon", gpt="incorrect"),  # unchanged
        record("c3", alice="correct"),                  # human label incorrect -> correct
        record("c4", gpt="incorrect"),                  # new
    ]

    _, summary = import_file(db, write_csv(edited, tmp_path / "edited.csv"), project_name="p",
                             schema=CORRECTNESS, actor=OPERATOR)

    assert (summary.added, summary.updated, summary.unchanged, summary.skipped) == (1, 2, 1, 0)
    assert summary.changed_ids == ("c1", "c3")
    after = snapshot(db)
    assert counts(after) == {**counts(before), "item": 4, "verdict": 8, "annotation": 4,
                             "audit_log": 1}
    with db.read() as session:
        project_id = get_project(session=session, name="p").id
        items = items_frame(session=session, project_id=project_id).set_index("id")
        humans = human_labels_frame(session=session, project_id=project_id).set_index("id")
        alice_id = session.execute(select(UserAccount.id).where(UserAccount.name == "alice")).scalar_one()
        audit = session.execute(select(AuditLog)).scalars().all()
    assert items.loc["c1", "fields"] == {"prompt": "Capital of France?", "response": "Paris, France"}
    assert humans.loc["c3", ["label", "revision"]].tolist() == ["correct", 2]
    assert humans.loc["c1", ["label", "revision"]].tolist() == ["correct", 1]  # same label: no new revision
    (entry,) = audit
    item_ids = {row[2]: row[0] for row in after["item"]}  # external_id -> id
    assert (entry.item_id, entry.subject_id, entry.dimension, entry.old_value, entry.new_value) == (
        item_ids["c3"], alice_id, "correct", "incorrect", "correct")
    assert entry.action == "import"
    # Rows of unchanged items are untouched, timestamps included.
    c2_rows = [row for row in after["item"] if row[2] == "c2"]
    assert c2_rows == [row for row in before["item"] if row[2] == "c2"]


def test_reimport_drops_verdicts_the_file_no_longer_has(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    other = [{"id": "c1", "prompt": "Capital of France?", "response": "Paris",
              "judges": {"llama": {"correct": "correct"}}}]
    import_file(db, write_jsonl(other, tmp_path / "other.jsonl"), project_name="p", schema=None,
                actor=OPERATOR)
    # c1 again, now without an EM verdict although the file still has EM (on c2): the stale
    # EM verdict must go; llama, which this file does not mention, keeps its verdict.
    edited = [{"id": "c1", "prompt": "Capital of France?", "response": "Paris",
               "judges": {"gpt-3.5-turbo": {"correct": "correct", "rationale": "why c1"}},
               "humans": {"alice": {"correct": "correct"}}},
              record("c2", response="Lyon", gpt="incorrect")]

    _, summary = import_file(db, write_jsonl(edited, tmp_path / "edited.jsonl"), project_name="p",
                             schema=None, actor=OPERATOR)

    assert (summary.updated, summary.unchanged, summary.verdicts) == (1, 1, 1)
    _, verdicts, _ = stored(db)
    c1 = verdicts[verdicts["id"] == "c1"]
    assert sorted(zip(c1["judge"], c1["label"], strict=True)) == [
        ("gpt-3.5-turbo", "correct"), ("llama", "correct")]


def test_a_judge_column_empty_in_every_row_creates_no_judge(db, tmp_path: Path) -> None:
    path = tmp_path / "empty-judge.csv"
    path.write_text("id,prompt,judge.ghost.correct,judge.ghost.rationale,human.bob.correct\n"
                    "q1,Capital of Peru?,,,correct\nq2,Capital of Chile?,,  ,incorrect\n",
                    encoding="utf-8")

    batch, summary = import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)

    assert (batch.judges, batch.annotators) == ((), ("bob",))
    assert (summary.added, summary.verdicts, summary.human_labels) == (2, 0, 2)
    assert counts(snapshot(db)).get("judge", 0) == 0


def test_reimport_with_another_task_is_refused(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    before = snapshot(db)
    pairwise = [{"id": "x", "prompt": "p", "response_a": "a", "response_b": "b",
                 "judges": {"gpt-4o": {"preference": "A"}}}]

    with pytest.raises(ProjectError) as caught:
        import_file(db, write_csv(pairwise, tmp_path / "pairwise.csv"), project_name="p",
                    schema=TEMPLATES["pairwise"], actor=OPERATOR)

    assert str(caught.value) == ("project 'p' uses task 'correctness' with a different schema; "
                                 "import into a new project, or import without choosing a task")
    assert snapshot(db) == before


def test_reimport_with_an_edited_schema_of_the_same_name_is_refused(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    data = schema_to_dict(CORRECTNESS)
    data["dimensions"][0]["labels"].append({"value": "partly", "display": "Partly correct"})
    edited = schema_from_dict(data, source="edited.toml")

    with pytest.raises(ProjectError, match="project 'p' uses task 'correctness' with a different schema"):
        import_file(db, write_csv(CLEAN, tmp_path / "again.csv"), project_name="p", schema=edited,
                    actor=OPERATOR)


def test_import_without_task_into_unknown_project_is_refused(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path, project="existing")
    before = snapshot(db)

    with pytest.raises(ProjectError) as caught:
        import_file(db, write_csv(CLEAN, tmp_path / "c.csv"), project_name="nope", schema=None,
                    actor=OPERATOR)

    assert str(caught.value) == "no project named 'nope' (projects: existing)"
    assert snapshot(db) == before


def test_import_without_task_uses_the_projects_schema(db, tmp_path: Path) -> None:
    import_clean(db, tmp_path)
    _, summary = import_file(db, write_csv([record("c9")], tmp_path / "more.csv"), project_name="p",
                             schema=None, actor=OPERATOR)
    assert (summary.added, summary.unchanged, summary.created_project) == (1, 0, False)


# --- digests stored by Docket 0.5 (version 1) ---------------------------------------------

def item_states(db) -> dict[str, tuple[str, Any, str]]:
    with db.read() as session:
        rows = session.execute(select(Item.external_id, Item.content_hash, Item.updated_at,
                                      Item.fields_json)).all()
    return {external_id: (digest, updated, fields) for external_id, digest, updated, fields in rows}


def test_reimport_over_version_1_digests_finds_only_real_changes(db, tmp_path: Path) -> None:
    path = write_csv(CLEAN, tmp_path / "clean.csv")
    import_file(db, path, project_name="p", schema=CORRECTNESS, actor=OPERATOR)
    # Turn the stored digests into what Docket 0.5 wrote for the same rows.
    batch = validate_table(read_import_file(path), CORRECTNESS)
    with db.write() as session:
        for row in batch.rows:
            session.execute(update(Item).where(Item.external_id == row.external_id)
                            .values(content_hash=batch.legacy_content_hash(row.position)))
    before = item_states(db)
    assert all(is_legacy_hash(digest) for digest, _, _ in before.values())
    edited = [CLEAN[0], record("c2", response="Marseille", gpt="incorrect"), CLEAN[2]]

    _, summary = import_file(db, write_csv(edited, tmp_path / "edited.csv"), project_name="p",
                             schema=None, actor=OPERATOR)

    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)
    assert summary.changed_ids == ("c2",)
    after = item_states(db)
    assert all(digest.startswith("v2:") for digest, _, _ in after.values())
    for unchanged in ("c1", "c3"):  # new digest, nothing else touched
        assert after[unchanged][1:] == before[unchanged][1:]
    assert after["c2"][1] != before["c2"][1]
    # Once upgraded, the same file again is all unchanged without the version 1 path.
    _, again = import_file(db, write_csv(edited, tmp_path / "edited.csv"), project_name="p",
                           schema=None, actor=OPERATOR)
    assert (again.updated, again.unchanged) == (0, 3)
    assert item_states(db) == after


# --- the bulk transaction ------------------------------------------------------------------

def test_bulk_import_checkpoints_after_commit_and_restores_the_connection(sqlite_db, tmp_path: Path
                                                                          ) -> None:
    import_clean(sqlite_db, tmp_path)
    busy, frames, copied = sqlite_db.last_checkpoint.result(timeout=30)
    assert frames > 0 and copied == frames and busy == 0
    # Every pooled connection checkpoints on its own again (1000 pages is SQLite's default)
    # and enforces foreign keys again.
    with sqlite_db.engine.connect() as first, sqlite_db.engine.connect() as second:
        settings = [(c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one(),
                     c.exec_driver_sql("PRAGMA foreign_keys").scalar_one()) for c in (first, second)]
    assert settings == [(1000, 1), (1000, 1)]


def test_imports_without_reference_checks_leave_no_dangling_reference(sqlite_db, tmp_path: Path
                                                                     ) -> None:
    import_clean(sqlite_db, tmp_path)
    edited = [record("c1", response="Paris, France"), record("c3", alice="correct"),
              record("c4", gpt="incorrect")]
    import_file(sqlite_db, write_csv(edited, tmp_path / "edited.csv"), project_name="p",
                schema=CORRECTNESS, actor=OPERATOR)
    connection = sqlite3.connect(sqlite_db.engine.url.database, isolation_level=None)
    try:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        # The check itself works: a verdict of an item that does not exist is reported.
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO verdict (item_id, judge_id, dimension, sample_index, label, created_at) "
            "VALUES (999, 1, 'correct', 0, 'correct', '2026-01-01 00:00:00')")
        assert [row[0] for row in connection.execute("PRAGMA foreign_key_check")] == ["verdict"]
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def plain_rows(frame) -> list[tuple[Any, ...]]:
    """The frame's rows as tuples, with pandas' NaN for a missing text back to None."""
    return list(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))


def test_a_thousand_rows_round_trip_through_packed_inserts(db, tmp_path: Path) -> None:
    # 1,234 items: verdicts and labels go in packed statements of many rows plus a remainder.
    records = [record(f"r{i:04d}", gpt="correct" if i % 3 else "incorrect",
                      em="incorrect" if i % 7 else "correct", alice="correct" if i % 2 else "incorrect",
                      comment=f"note {i} 🦜" if i % 5 == 0 else None)
               for i in range(1234)]
    records[17]["judges"].pop("EM")  # a missing verdict shifts every later row of the packing
    _, summary = import_file(db, write_jsonl(records, tmp_path / "many.jsonl"), project_name="p",
                             schema=CORRECTNESS, actor=OPERATOR)

    assert (summary.added, summary.verdicts, summary.human_labels) == (1234, 2467, 1234)
    _, verdicts, humans = stored(db)
    expected_verdicts = sorted(
        (r["id"], judge, v["correct"], v.get("rationale"))
        for r in records for judge, v in r["judges"].items())
    assert sorted(plain_rows(verdicts[["id", "judge", "label", "rationale"]])) == expected_verdicts
    expected_humans = sorted((r["id"], h["correct"], h.get("comment"))
                             for r in records for h in r["humans"].values())
    assert sorted(plain_rows(humans[["id", "label", "comment"]])) == expected_humans
