"""Schema versions: create, no-op re-runs, refusing newer databases, stepwise upgrades."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

from core.schema import schema_to_dict
from core.templates import TEMPLATES
from storage.judges import get_judge
from storage.migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, migrate, schema_version
from tests.storage.legacy_schema import recreate_as_version_1, schema_shape

MODEL_TABLES = {"schema_version", "project", "item", "judge", "verdict", "user_account",
                "annotation", "gold", "audit_log", "sign_in_attempt", "project_member",
                "assignment", "judge_definition", "prompt_version", "judge_run", "jury", "debate",
                "web_session", "web_session_ticket", "label_draft", "error_tag",
                "rationale_rating", "api_token", "probe_paraphrase", "probe_verdict", "image",
                "project_image"}
NEXT = SCHEMA_VERSION + 1


def recorded_versions(db) -> list[int]:
    with db.read() as session:
        return list(session.execute(text("SELECT version FROM schema_version ORDER BY version"))
                    .scalars())


def table_names(db) -> set[str]:
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_schema_version_is_the_newest_migration_step() -> None:
    # A bump must come with a migration step, and the steps must leave no gap;
    # test_a_version_1_database_upgrades_to_the_current_schema below then checks them against
    # a fresh database.
    assert SCHEMA_VERSION == 19
    assert sorted(MIGRATIONS) == list(range(2, SCHEMA_VERSION + 1))


def test_a_version_1_database_upgrades_to_the_current_schema_and_keeps_its_data(db) -> None:
    fresh = schema_shape(db)  # the fixture created it from the models
    recreate_as_version_1(db)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO project (name, template, task_json, created_at) "
                                "VALUES ('old', 'correctness', '{}', CURRENT_TIMESTAMP)"))

    assert migrate(db) == 1

    assert recorded_versions(db) == list(range(1, SCHEMA_VERSION + 1))
    assert schema_shape(db) == fresh
    with db.read() as session:
        row = session.execute(text("SELECT name, blind, overlap, queue_order, trusted_fields "
                                   "FROM project")).one()
    assert tuple(row) == ("old", True, 1, "sequential", "[]")


def test_verdicts_survive_the_upgrade_and_may_then_be_unparseable(db) -> None:
    recreate_as_version_1(db)
    with db.engine.begin() as connection:
        for sql in ("INSERT INTO project (id, name, template, task_json, created_at) "
                    "VALUES (1, 'old', 'correctness', '{}', CURRENT_TIMESTAMP)",
                    "INSERT INTO item (id, project_id, external_id, fields_json, content_hash, "
                    "created_at, updated_at) VALUES (1, 1, 'q1', '{}', 'h', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO judge (id, project_id, name, created_at) "
                    "VALUES (1, 1, 'gpt', CURRENT_TIMESTAMP)",
                    "INSERT INTO verdict (item_id, judge_id, dimension, sample_index, label, "
                    "rationale, raw_output, created_at) VALUES (1, 1, 'correct', 0, 'correct', "
                    "'why', 'raw', CURRENT_TIMESTAMP)"):
            connection.execute(text(sql))

    migrate(db)

    with db.engine.begin() as connection:
        kept = connection.execute(text("SELECT item_id, judge_id, dimension, sample_index, label, "
                                       "rationale, raw_output FROM verdict")).all()
        assert [tuple(row) for row in kept] == [(1, 1, "correct", 0, "correct", "why", "raw")]
        connection.execute(text("INSERT INTO verdict (item_id, judge_id, dimension, sample_index, "
                                "label, raw_output, created_at) VALUES (1, 1, 'correct', 1, NULL, "
                                "'Verdict: maybe', CURRENT_TIMESTAMP)"))
        # The rebuilt table still cascades from its item and keeps its unique constraint.
        connection.execute(text("DELETE FROM item WHERE id = 1"))
        assert connection.execute(text("SELECT COUNT(*) FROM verdict")).scalar() == 0


def test_new_database_gets_every_table_at_the_current_version(db) -> None:
    SQLModel.metadata.drop_all(db.engine)
    assert table_names(db) == set()
    assert schema_version(db) == 0

    assert migrate(db) == 0

    assert table_names(db) == MODEL_TABLES
    assert schema_version(db) == SCHEMA_VERSION
    assert recorded_versions(db) == [SCHEMA_VERSION]


def test_migrate_twice_is_a_no_op(db) -> None:
    before = recorded_versions(db)
    assert migrate(db) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION
    assert recorded_versions(db) == before == [SCHEMA_VERSION]
    assert table_names(db) == MODEL_TABLES


def test_a_newer_database_is_refused(db) -> None:
    with db.write() as session:
        session.execute(text("INSERT INTO schema_version (version, applied_at) "
                             "VALUES (:v, CURRENT_TIMESTAMP)"), {"v": SCHEMA_VERSION + 1})

    with pytest.raises(SchemaTooNewError) as caught:
        migrate(db)

    assert str(caught.value) == (f"the database is at schema version {SCHEMA_VERSION + 1}, this "
                                 f"Docket knows up to {SCHEMA_VERSION}; upgrade Docket")
    assert recorded_versions(db) == [SCHEMA_VERSION, SCHEMA_VERSION + 1]


def test_a_migration_step_runs_once_and_is_recorded(db) -> None:
    calls: list[int] = []

    def add_column(connection: Connection) -> None:
        calls.append(1)
        connection.execute(text("ALTER TABLE project ADD COLUMN archived INTEGER DEFAULT 0"))

    assert migrate(db, target=NEXT, migrations={NEXT: add_column}) == SCHEMA_VERSION
    assert migrate(db, target=NEXT, migrations={NEXT: add_column}) == NEXT

    assert calls == [1]
    assert recorded_versions(db) == [SCHEMA_VERSION, NEXT]
    assert schema_version(db) == NEXT
    with db.engine.connect() as connection:
        assert "archived" in {c["name"] for c in inspect(connection).get_columns("project")}


def test_a_failing_step_leaves_the_database_as_it_was(db) -> None:
    def half_done(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        migrate(db, target=NEXT, migrations={NEXT: half_done})

    assert schema_version(db) == SCHEMA_VERSION
    assert recorded_versions(db) == [SCHEMA_VERSION]
    assert "half_done" not in table_names(db)  # the DDL was rolled back with the step


def test_a_missing_step_is_an_error(db) -> None:
    with pytest.raises(RuntimeError, match=f"no migration step to schema version {NEXT}"):
        migrate(db, target=NEXT + 1, migrations={NEXT + 1: lambda connection: None})
    assert recorded_versions(db) == [SCHEMA_VERSION]


def test_version_6_classifies_stored_reference_answers_by_the_items_reference(db) -> None:
    # Before version 6 every stored reference answer counted as the annotator's proposal, also
    # one the box was prefilled with and never touched. The step compares each with the item's
    # own reference (spaces trimmed): the same text is kept, anything else edited.
    recreate_as_version_1(db)
    migrate(db, target=5)
    stored = schema_to_dict(TEMPLATES["correctness"])
    del stored["gold_reference_field"]  # as version 5 stored the correctness schema
    items = {"k": {"prompt": "Q1", "reference": "Canberra"},
             "e": {"prompt": "Q2", "reference": "Canberra"},
             "w": {"prompt": "Q3"},
             "n": {"prompt": "Q4", "reference": "Paris"}}
    answers = {"k": "Canberra \n", "e": "Canberra (since 1913)", "w": "Jupiter", "n": None}
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO project (id, name, template, task_json, created_at) "
            "VALUES (1, 'old', 'correctness', :task, CURRENT_TIMESTAMP)"),
            {"task": json.dumps(stored)})
        connection.execute(text(
            "INSERT INTO user_account (id, name, display_name, role, active, created_at) "
            "VALUES (1, 'ann', '', 'annotator', TRUE, CURRENT_TIMESTAMP)"))
        for number, (external_id, fields) in enumerate(items.items(), start=1):
            connection.execute(text(
                "INSERT INTO item (id, project_id, external_id, fields_json, content_hash, "
                "created_at, updated_at) VALUES (:id, 1, :external, :fields, 'h', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": number, "external": external_id, "fields": json.dumps(fields)})
            connection.execute(text(
                "INSERT INTO assignment (project_id, item_id, user_id, position, status, "
                "flagged, reference_answer, verdicts_seen, updated_at) VALUES (1, :id, 1, :id, "
                "'done', FALSE, :answer, FALSE, CURRENT_TIMESTAMP)"),
                {"id": number, "answer": answers[external_id]})

    assert migrate(db) == 5

    with db.read() as session:
        rows = session.execute(text(
            "SELECT i.external_id, a.reference_answer, a.reference_edited FROM assignment a "
            "JOIN item i ON i.id = a.item_id ORDER BY i.id")).all()
    assert [(external_id, answer, None if edited is None else bool(edited))
            for external_id, answer, edited in rows] == [
        ("k", "Canberra \n", False), ("e", "Canberra (since 1913)", True),
        ("w", "Jupiter", True), ("n", None, None)]


def test_version_9_adds_the_sampling_design_with_no_known_design_for_old_rows(db) -> None:
    recreate_as_version_1(db)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO project (name, template, task_json, created_at) "
                                "VALUES ('old', 'correctness', '{}', CURRENT_TIMESTAMP)"))
    migrate(db)
    with db.read() as session:
        assert session.execute(text("SELECT target_halfwidth FROM project")).scalar() == 0.05
        columns = {c["name"]: c for c in inspect(session.connection()).get_columns("assignment")}
        assert columns["draw_share"]["nullable"]
        sampled = {c["name"]: c for c in inspect(session.connection()).get_columns("annotation")}
        assert sampled["sampled"]["nullable"]


def test_version_18_links_each_project_to_the_stored_images_its_items_reference(db) -> None:
    # Before version 18 any signed-in user could fetch any image by its hash; the step links
    # the images already referenced so that members keep seeing theirs and nobody else does.
    recreate_as_version_1(db)
    migrate(db, target=17)
    stored, missing, other = "a" * 64, "b" * 64, "c" * 64
    with db.engine.begin() as connection:
        for project_id, template in ((1, "image_scoring"), (2, "correctness")):
            connection.execute(text(
                "INSERT INTO project (id, name, template, task_json, created_at) "
                "VALUES (:id, :name, :name, :task, CURRENT_TIMESTAMP)"),
                {"id": project_id, "name": template,
                 "task": json.dumps(schema_to_dict(TEMPLATES[template]))})
        for digest in (stored, other):
            connection.execute(text(
                "INSERT INTO image (sha256, mime, width, height, size, data, created_at) "
                "VALUES (:h, 'image/png', 1, 1, 1, :data, CURRENT_TIMESTAMP)"),
                {"h": digest, "data": b"x"})
        fields = [(1, {"image": stored, "prompt": "Q", "response": "A"}),
                  (1, {"image": missing, "prompt": "Q", "response": "A"}),
                  (2, {"prompt": other, "response": "A"})]  # a text that looks like a hash
        for number, (project_id, values) in enumerate(fields, start=1):
            connection.execute(text(
                "INSERT INTO item (id, project_id, external_id, fields_json, content_hash, "
                "created_at, updated_at) VALUES (:id, :project, :external, :fields, 'h', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": number, "project": project_id, "external": f"i{number}",
                 "fields": json.dumps(values)})

    assert migrate(db) == 17

    with db.read() as session:
        links = session.execute(text("SELECT project_id, sha256 FROM project_image")).all()
    assert [tuple(link) for link in links] == [(1, stored)]


def test_version_19_marks_judges_defined_before_as_not_vision_capable(db) -> None:
    recreate_as_version_1(db)
    migrate(db, target=18)
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO judge_definition (name, kind, base_url, model, timeout_s, "
            "structured_output, strategy, reference_guided, created_at) VALUES ('old', 'llm', "
            "'http://127.0.0.1:9/v1', 'm', 60, TRUE, 'direct', FALSE, CURRENT_TIMESTAMP)"))

    assert migrate(db) == 18

    with db.read() as session:
        vision = session.execute(text("SELECT vision FROM judge_definition")).scalar_one()
        column = {c["name"]: c for c in inspect(session.connection()).get_columns(
            "judge_definition")}["vision"]
    assert vision in (False, 0) and not column["nullable"]
    with db.read() as session:
        assert get_judge(session=session, name="old").spec.vision is False
