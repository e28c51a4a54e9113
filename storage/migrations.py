"""Schema versions: create a fresh database, or upgrade an existing one step by step.

A new database gets every table at :data:`SCHEMA_VERSION`. An existing one records its version
in ``schema_version``; each later version has one step in :data:`MIGRATIONS` that upgrades the
tables in place (within the same transaction as the version row, so a failed step leaves the
file as it was).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlmodel import SQLModel

from storage import models
from storage.database import Database
from storage.projects import parsed_schema

log = logging.getLogger(__name__)

SCHEMA_VERSION = 19
Migration = Callable[[Connection], None]
_PG_LOCK_KEY = 0x444F434B  # "DOCK": serialises concurrent migrations on PostgreSQL


def _add_sign_in_attempt(connection: Connection) -> None:
    """Version 2: the ``sign_in_attempt`` table (sign-in throttling).

    The table is spelled out as it was at version 2 rather than taken from ``models``, so this
    step keeps creating the same table when the model changes in a later version.
    """
    table = Table(
        "sign_in_attempt", MetaData(),
        Column("id", Integer, primary_key=True),
        Column("scope", String(16), nullable=False),
        Column("key", String(64), nullable=False),
        Column("failures", Integer, nullable=False),
        Column("last_failure_at", DateTime(timezone=True), nullable=False),
        Column("locked_until", DateTime(timezone=True), nullable=True),
        UniqueConstraint("scope", "key", name="uq_sign_in_attempt"),
    )
    table.create(connection)


def _add_annotation_queues(connection: Connection) -> None:
    """Version 3: project annotation settings, ``project_member`` and ``assignment``.

    Spelled out as at version 3 (see :func:`_add_sign_in_attempt`).
    """
    for column, ddl in (("blind", "BOOLEAN NOT NULL DEFAULT TRUE"),
                        ("overlap", "INTEGER NOT NULL DEFAULT 1"),
                        ("queue_order", "VARCHAR(16) NOT NULL DEFAULT 'sequential'"),
                        ("queue_seed", "INTEGER NOT NULL DEFAULT 0"),
                        ("trusted_fields", "TEXT NOT NULL DEFAULT '[]'")):
        connection.execute(text(f"ALTER TABLE project ADD COLUMN {column} {ddl}"))
    metadata = MetaData()
    Table("project", metadata, Column("id", Integer, primary_key=True))
    Table("item", metadata, Column("id", Integer, primary_key=True))
    Table("user_account", metadata, Column("id", Integer, primary_key=True))
    member = Table(
        "project_member", metadata,
        Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"),
               primary_key=True),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               primary_key=True),
        Column("added_at", DateTime(timezone=True), nullable=False),
    )
    assignment = Table(
        "assignment", metadata,
        Column("id", Integer, primary_key=True),
        Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               nullable=False),
        Column("position", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("skip_reason", Text),
        Column("flagged", Boolean, nullable=False),
        Column("flag_note", Text),
        Column("comment", Text),
        Column("confidence", Integer),
        Column("reference_answer", Text),
        Column("verdicts_seen", Boolean, nullable=False),
        Column("submitted_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "user_id", name="uq_assignment"),
        Index("ix_assignment_queue", "user_id", "project_id", "status", "position"),
        Index("ix_assignment_project", "project_id", "status"),
    )
    member.create(connection)
    assignment.create(connection)


def _index_item_updates(connection: Connection) -> None:
    """Version 4: index ``item (project_id, updated_at)``.

    :func:`storage.versioning.data_version` asks for the newest ``updated_at`` of a project's
    items on every dashboard click; a re-import that changes an item (its model, group or a
    verdict the file no longer has) touches nothing else that is indexed. Measured on 100k
    items: 19 ms (SQLite) / 13 ms (PostgreSQL) as a scan, under 0.1 ms with the index.
    """
    connection.execute(text("CREATE INDEX ix_item_project_updated ON item (project_id, updated_at)"))


def _allow_unparseable_verdicts(connection: Connection) -> None:
    """Version 5: ``verdict.label`` may be NULL: a judge output that did not parse to a label,
    kept with its raw text and counted, never mapped to a label.

    PostgreSQL drops the constraint in place. SQLite cannot: the table is rebuilt as SQLite's
    documented procedure for other ALTER TABLE changes has it (create, copy, drop, rename;
    no table refers to ``verdict``, so nothing else changes). Spelled out as at version 5.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE verdict ALTER COLUMN label DROP NOT NULL"))
        return
    metadata = MetaData()
    Table("item", metadata, Column("id", Integer, primary_key=True))
    Table("judge", metadata, Column("id", Integer, primary_key=True))
    rebuilt = Table(
        "verdict_v5", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("judge_id", Integer, ForeignKey("judge.id", ondelete="CASCADE"), nullable=False),
        Column("dimension", String(64), nullable=False),
        Column("sample_index", Integer, nullable=False),
        Column("label", String(200), nullable=True),
        Column("rationale", Text),
        Column("raw_output", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "judge_id", "dimension", "sample_index", name="uq_verdict"),
    )
    rebuilt.create(connection)
    columns = ", ".join(column.name for column in rebuilt.columns)
    connection.execute(text(f"INSERT INTO verdict_v5 ({columns}) SELECT {columns} FROM verdict"))
    connection.execute(text("DROP TABLE verdict"))
    connection.execute(text("ALTER TABLE verdict_v5 RENAME TO verdict"))


def _add_reference_edited(connection: Connection) -> None:
    """Version 6: ``assignment.reference_edited`` (did the annotator write or edit the gold
    reference answer, or keep the item's own as given).

    Rows stored before are classified by comparing their answer with the item's own reference
    (the field the project's schema starts the box from) as it is now, spaces trimmed: the same
    text is *kept* (False), anything else *edited* (True); rows without an answer stay NULL.
    An item re-imported with another reference since the label was saved makes a kept answer
    count as edited: the one case this comparison gets wrong, and it errs towards the
    annotators (their answer is then offered as a proposal, as every answer was before).
    """
    connection.execute(text("ALTER TABLE assignment ADD COLUMN reference_edited BOOLEAN"))
    rows = connection.execute(text(
        "SELECT a.id, a.reference_answer, i.fields_json, p.task_json, p.name FROM assignment a "
        "JOIN item i ON i.id = a.item_id JOIN project p ON p.id = a.project_id "
        "WHERE a.reference_answer IS NOT NULL")).all()
    if not rows:
        return
    updates = []
    for assignment_id, answer, fields_json, task_json, project_name in rows:
        given = parsed_schema(task_json, project_name).given_reference(json.loads(fields_json))
        updates.append({"row": assignment_id,
                        "edited": given is None or answer.strip() != given.strip()})
    connection.execute(text("UPDATE assignment SET reference_edited = :edited WHERE id = :row"),
                       updates)


def _add_credential_version(connection: Connection) -> None:
    """Version 7: ``user_account.credential_version``, bumped by every password, role or
    activation change and part of the credential stamp (storage/authz.py): a session that
    signed in before such a change may not act again, even after the change is undone.
    Existing sessions are signed out once, as the stamp's formula changes."""
    connection.execute(text("ALTER TABLE user_account ADD COLUMN credential_version INTEGER "
                            "NOT NULL DEFAULT 0"))


def _add_judge_runs(connection: Connection) -> None:
    """Version 8: judges Docket runs: ``judge_definition``, ``prompt_version``, ``judge_run``,
    and on ``verdict`` the prompt version, model, tokens and latency of a verdict it ran.

    Spelled out as at version 8 (see :func:`_add_sign_in_attempt`).
    """
    metadata = MetaData()
    Table("project", metadata, Column("id", Integer, primary_key=True))
    Table("user_account", metadata, Column("id", Integer, primary_key=True))
    user = ForeignKey("user_account.id", ondelete="SET NULL")
    definition = Table(
        "judge_definition", metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("kind", String(16), nullable=False),
        Column("lexical", String(32)),
        Column("base_url", Text),
        Column("model", String(200)),
        Column("api_key_env", String(200)),
        Column("temperature", Float),
        Column("max_tokens", Integer),
        Column("seed", Integer),
        Column("timeout_s", Float, nullable=False),
        Column("structured_output", Boolean, nullable=False),
        Column("price_input_per_million", Float),
        Column("price_output_per_million", Float),
        Column("strategy", String(32), nullable=False),
        Column("reference_guided", Boolean, nullable=False),
        Column("family", String(100)),
        Column("size", String(100)),
        Column("provider", String(100)),
        Column("created_by", Integer, user),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    prompt = Table(
        "prompt_version", metadata,
        Column("id", Integer, primary_key=True),
        Column("judge_definition_id", Integer,
               ForeignKey("judge_definition.id", ondelete="CASCADE"), nullable=False),
        Column("task", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("strategy", String(32), nullable=False),
        Column("reference_guided", Boolean, nullable=False),
        Column("system_text", Text, nullable=False),
        Column("user_text", Text, nullable=False),
        Column("note", Text),
        Column("created_by", Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("judge_definition_id", "task", "version", name="uq_prompt_version"),
    )
    run = Table(
        "judge_run", metadata,
        Column("id", Integer, primary_key=True),
        Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        Column("judge_definition_id", Integer,
               ForeignKey("judge_definition.id", ondelete="CASCADE"), nullable=False),
        Column("prompt_version_id", Integer, ForeignKey("prompt_version.id", ondelete="SET NULL")),
        Column("samples", Integer, nullable=False),
        Column("swap", Boolean, nullable=False),
        Column("limit_items", Integer),
        Column("only_with_humans", Boolean, nullable=False),
        Column("concurrency", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("cancel_requested", Boolean, nullable=False),
        Column("worker", String(100)),
        Column("heartbeat_at", DateTime(timezone=True)),
        *(Column(name, Integer, nullable=False) for name in
          ("total", "done", "unparseable", "failed", "input_tokens", "output_tokens")),
        Column("cost", Float),
        Column("message", Text),
        Column("created_by", Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Index("ix_judge_run_status", "status", "id"),
    )
    for table in (definition, prompt, run):
        table.create(connection)
    added = (Column("prompt_version_id", Integer,
                    ForeignKey("prompt_version.id", ondelete="SET NULL")),
             Column("model", String(200)), Column("input_tokens", Integer),
             Column("output_tokens", Integer), Column("latency_ms", Float))
    if connection.dialect.name == "postgresql":
        for column in added:
            ddl = column.type.compile(dialect=connection.dialect)
            references = (" REFERENCES prompt_version (id) ON DELETE SET NULL"
                          if column.foreign_keys else "")
            connection.execute(text(f"ALTER TABLE verdict ADD COLUMN {column.name} {ddl}{references}"))
        return
    # SQLite adds a column with REFERENCES, but only a table-level FOREIGN KEY is what every
    # reader of the schema sees: rebuild the table as version 5 did.
    Table("item", metadata, Column("id", Integer, primary_key=True))
    Table("judge", metadata, Column("id", Integer, primary_key=True))
    rebuilt = Table(
        "verdict_v8", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("judge_id", Integer, ForeignKey("judge.id", ondelete="CASCADE"), nullable=False),
        Column("dimension", String(64), nullable=False),
        Column("sample_index", Integer, nullable=False),
        Column("label", String(200), nullable=True),
        Column("rationale", Text),
        Column("raw_output", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        *added,
        UniqueConstraint("item_id", "judge_id", "dimension", "sample_index", name="uq_verdict"),
    )
    rebuilt.create(connection)
    new_names = {column.name for column in added}
    kept = ", ".join(column.name for column in rebuilt.columns if column.name not in new_names)
    connection.execute(text(f"INSERT INTO verdict_v8 ({kept}) SELECT {kept} FROM verdict"))
    connection.execute(text("DROP TABLE verdict"))
    connection.execute(text("ALTER TABLE verdict_v8 RENAME TO verdict"))


def _add_juries_and_debates(connection: Connection) -> None:
    """Version 9: stored juries (``jury``), debate set-ups (``debate``) and
    ``judge_run.debate_id`` (a run that carries out a debate).

    Spelled out as at version 9 (see :func:`_add_sign_in_attempt`). SQLite rebuilds
    ``judge_run`` so the new foreign key is a table-level one, as version 8 did for ``verdict``.
    """
    metadata = MetaData()
    Table("project", metadata, Column("id", Integer, primary_key=True))
    Table("user_account", metadata, Column("id", Integer, primary_key=True))
    Table("judge_definition", metadata, Column("id", Integer, primary_key=True))
    Table("prompt_version", metadata, Column("id", Integer, primary_key=True))

    def user() -> Column:
        return Column("created_by", Integer, ForeignKey("user_account.id", ondelete="SET NULL"))

    def project() -> Column:
        return Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"),
                      nullable=False)

    jury = Table(
        "jury", metadata,
        Column("id", Integer, primary_key=True),
        project(),
        Column("name", String(100), nullable=False),
        Column("members_json", Text, nullable=False),
        Column("rule", String(16), nullable=False),
        user(),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("project_id", "name", name="uq_jury_project_name"),
    )
    debate = Table(
        "debate", metadata,
        Column("id", Integer, primary_key=True),
        project(),
        Column("name", String(100), nullable=False),
        *(Column(name, Integer, ForeignKey("judge_definition.id", ondelete="CASCADE"),
                 nullable=name == "decider_id")
          for name in ("debater_a_id", "debater_b_id", "decider_id")),
        Column("rounds", Integer, nullable=False),
        user(),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("project_id", "name", name="uq_debate_project_name"),
    )
    jury.create(connection)
    debate.create(connection)
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE judge_run ADD COLUMN debate_id INTEGER "
                                "REFERENCES debate (id) ON DELETE CASCADE"))
        return
    run = Table(
        "judge_run_v9", metadata,
        Column("id", Integer, primary_key=True),
        project(),
        Column("judge_definition_id", Integer,
               ForeignKey("judge_definition.id", ondelete="CASCADE"), nullable=False),
        Column("prompt_version_id", Integer, ForeignKey("prompt_version.id", ondelete="SET NULL")),
        Column("samples", Integer, nullable=False),
        Column("swap", Boolean, nullable=False),
        Column("limit_items", Integer),
        Column("only_with_humans", Boolean, nullable=False),
        Column("concurrency", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("cancel_requested", Boolean, nullable=False),
        Column("worker", String(100)),
        Column("heartbeat_at", DateTime(timezone=True)),
        *(Column(name, Integer, nullable=False) for name in
          ("total", "done", "unparseable", "failed", "input_tokens", "output_tokens")),
        Column("cost", Float),
        Column("message", Text),
        user(),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Column("debate_id", Integer, ForeignKey("debate.id", ondelete="CASCADE")),
    )
    run.create(connection)
    kept = ", ".join(column.name for column in run.columns if column.name != "debate_id")
    connection.execute(text(f"INSERT INTO judge_run_v9 ({kept}) SELECT {kept} FROM judge_run"))
    connection.execute(text("DROP TABLE judge_run"))
    connection.execute(text("ALTER TABLE judge_run_v9 RENAME TO judge_run"))
    connection.execute(text("CREATE INDEX ix_judge_run_status ON judge_run (status, id)"))
def _add_sampling_design(connection: Connection) -> None:
    """Version 10: what the estimates need to know about how labelled items were drawn:
    ``assignment.draw_share`` (the item's share under the ``estimation``/``active`` queue
    orders), ``annotation.sampled`` (an import declared its labels a uniform sample) and the
    project's ``target_halfwidth`` for label budgets. Existing rows get NULL (no known design)
    and the default target ±0.05."""
    connection.execute(text("ALTER TABLE assignment ADD COLUMN draw_share FLOAT"))
    connection.execute(text("ALTER TABLE annotation ADD COLUMN sampled VARCHAR(16)"))
    connection.execute(text("ALTER TABLE project ADD COLUMN target_halfwidth FLOAT NOT NULL "
                            "DEFAULT 0.05"))


def _add_answered_correctly(connection: Connection) -> None:
    """Version 11: ``verdict.answered_correctly``: whether the judge's model answered the
    item's question correctly itself (imported per judge; NULL: unknown), for the audit's
    "could the judge answer it?" split."""
    connection.execute(text("ALTER TABLE verdict ADD COLUMN answered_correctly BOOLEAN"))


def _add_web_sessions_and_drafts(connection: Connection) -> None:
    """Version 12: ``web_session`` and ``web_session_ticket`` (sign-ins that survive a reload)
    and ``label_draft`` (unsaved choices kept per annotator and item).

    Spelled out as at version 12 (see :func:`_add_sign_in_attempt`).
    """
    metadata = MetaData()
    for name in ("project", "item", "user_account"):
        Table(name, metadata, Column("id", Integer, primary_key=True))
    web_session = Table(
        "web_session", metadata,
        Column("id", Integer, primary_key=True),
        Column("token_hash", String(64), unique=True),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_used_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Index("ix_web_session_user", "user_id"),
    )
    ticket = Table(
        "web_session_ticket", metadata,
        Column("id", Integer, primary_key=True),
        Column("ticket_hash", String(64), nullable=False, unique=True),
        Column("session_id", Integer, ForeignKey("web_session.id", ondelete="CASCADE"),
               nullable=False),
        Column("browser", String(64), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )
    draft = Table(
        "label_draft", metadata,
        Column("id", Integer, primary_key=True),
        Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"),
               nullable=False),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               nullable=False),
        Column("labels_json", Text, nullable=False),
        Column("comment", Text),
        Column("confidence", Integer),
        Column("reference_answer", Text),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("user_id", "item_id", name="uq_label_draft"),
    )
    for table in (web_session, ticket, draft):
        table.create(connection)


def _add_error_taxonomy(connection: Connection) -> None:
    """Version 13: the error taxonomy: ``project.error_categories`` (the project's own list of
    why judges err; NULL keeps the defaults) and ``error_tag`` (an admin's reasons for one
    wrong verdict). Spelled out as at version 13 (see :func:`_add_sign_in_attempt`)."""
    connection.execute(text("ALTER TABLE project ADD COLUMN error_categories TEXT"))
    metadata = MetaData()
    for name in ("item", "judge", "user_account"):
        Table(name, metadata, Column("id", Integer, primary_key=True))
    Table(
        "error_tag", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("judge_id", Integer, ForeignKey("judge.id", ondelete="CASCADE"), nullable=False),
        Column("dimension", String(64), nullable=False),
        Column("category", String(64), nullable=False),
        Column("tagged_by", Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
        Column("tagged_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "judge_id", "dimension", "category", name="uq_error_tag"),
    ).create(connection)


def _add_rationale_ratings(connection: Connection) -> None:
    """Version 14: ``rationale_rating``, annotators' ratings of the judges' rationales.
    Spelled out as at version 14 (see :func:`_add_sign_in_attempt`)."""
    metadata = MetaData()
    for name in ("item", "judge", "user_account"):
        Table(name, metadata, Column("id", Integer, primary_key=True))
    Table(
        "rationale_rating", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("judge_id", Integer, ForeignKey("judge.id", ondelete="CASCADE"), nullable=False),
        Column("sample_index", Integer, nullable=False),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               nullable=False),
        Column("rating", String(16), nullable=False),
        Column("rated_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "judge_id", "sample_index", "user_id",
                         name="uq_rationale_rating"),
    ).create(connection)


def _add_api_tokens(connection: Connection) -> None:
    """Version 15: ``api_token``, personal tokens of the HTTP API (stored hashed).
    Spelled out as at version 15 (see :func:`_add_sign_in_attempt`)."""
    metadata = MetaData()
    Table("user_account", metadata, Column("id", Integer, primary_key=True))
    Table(
        "api_token", metadata,
        Column("id", Integer, primary_key=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"),
               nullable=False),
        Column("name", String(100), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_used_at", DateTime(timezone=True)),
        Column("revoked_at", DateTime(timezone=True)),
        Index("ix_api_token_user", "user_id"),
    ).create(connection)


def _add_consistency_probes(connection: Connection) -> None:
    """Version 16: ``probe_paraphrase`` (paraphrases of an item's question) and
    ``probe_verdict`` (a judge's verdict on each variant). Spelled out as at version 16 (see
    :func:`_add_sign_in_attempt`)."""
    metadata = MetaData()
    for name in ("item", "judge", "user_account"):
        Table(name, metadata, Column("id", Integer, primary_key=True))
    Table(
        "probe_paraphrase", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("position", Integer, nullable=False),
        Column("question", Text, nullable=False),
        Column("source", String(200), nullable=False),
        Column("created_by", Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "position", name="uq_probe_paraphrase"),
    ).create(connection)
    Table(
        "probe_verdict", metadata,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer, ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        Column("judge_id", Integer, ForeignKey("judge.id", ondelete="CASCADE"), nullable=False),
        Column("dimension", String(64), nullable=False),
        Column("position", Integer, nullable=False),
        Column("label", String(200)),
        Column("rationale", Text),
        Column("raw_output", Text),
        Column("model", String(200)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("item_id", "judge_id", "dimension", "position", name="uq_probe_verdict"),
    ).create(connection)


def _add_images(connection: Connection) -> None:
    """Version 17: ``image``, the images of item fields by SHA-256 (issue 18). Spelled out as
    at version 17 (see :func:`_add_sign_in_attempt`)."""
    Table(
        "image", MetaData(),
        Column("sha256", String(64), primary_key=True),
        Column("mime", String(32), nullable=False),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("size", Integer, nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ).create(connection)


def _add_project_images(connection: Connection) -> None:
    """Version 18: ``project_image``, which projects reference which stored image, so the
    image route serves a non-admin only the images of their projects. Spelled out as at
    version 18 (see :func:`_add_sign_in_attempt`). Filled from the items of every project whose
    schema has image fields (the hashes in their ``fields_json`` that are stored images)."""
    metadata = MetaData()
    Table("project", metadata, Column("id", Integer, primary_key=True))
    Table("image", metadata, Column("sha256", String(64), primary_key=True))
    links = Table(
        "project_image", metadata,
        Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"),
               primary_key=True),
        Column("sha256", String(64), ForeignKey("image.sha256"), primary_key=True),
        Index("ix_project_image_sha256", "sha256"),
    )
    links.create(connection)
    stored = set(connection.execute(text("SELECT sha256 FROM image")).scalars())
    if not stored:
        return
    for project_id, task_json, project_name in connection.execute(
            text("SELECT id, task_json, name FROM project")).all():
        image_fields = [f.name for f in parsed_schema(task_json, project_name).image_fields]
        if not image_fields:
            continue
        used: set[str] = set()
        for (fields_json,) in connection.execute(
                text("SELECT fields_json FROM item WHERE project_id = :p"), {"p": project_id}):
            fields = json.loads(fields_json)
            for name in image_fields:
                value = fields.get(name)
                used.update(value if isinstance(value, list) else [value])
        rows = [{"project_id": project_id, "sha256": digest} for digest in sorted(used & stored)]
        if rows:
            connection.execute(links.insert(), rows)


def _add_judge_vision(connection: Connection) -> None:
    """Version 19: ``judge_definition.vision``: the judge's model reads images (items with
    image fields are sent only to such a judge). Judges defined before are text-only."""
    connection.execute(text("ALTER TABLE judge_definition ADD COLUMN vision BOOLEAN NOT NULL "
                            "DEFAULT FALSE"))


# version -> step that upgrades a database from version - 1 to version.
MIGRATIONS: dict[int, Migration] = {
    2: _add_sign_in_attempt,
    3: _add_annotation_queues,
    4: _index_item_updates,
    5: _allow_unparseable_verdicts,
    6: _add_reference_edited,
    7: _add_credential_version,
    8: _add_judge_runs,
    9: _add_juries_and_debates,
    10: _add_sampling_design,
    11: _add_answered_correctly,
    12: _add_web_sessions_and_drafts,
    13: _add_error_taxonomy,
    14: _add_rationale_ratings,
    15: _add_api_tokens,
    16: _add_consistency_probes,
    17: _add_images,
    18: _add_project_images,
    19: _add_judge_vision,
}


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Docket than this one."""


def migrate(db: Database, *, target: int = SCHEMA_VERSION,
            migrations: Mapping[int, Migration] | None = None) -> int:
    """Bring ``db`` to schema version ``target``; return the version it had before (0 = new).

    Raises :class:`SchemaTooNewError` if the database is newer than ``target``, and
    RuntimeError if a step between its version and ``target`` is missing.
    """
    steps = MIGRATIONS if migrations is None else migrations
    with db.write() as session:
        connection = session.connection()
        if db.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        current = _current_version(connection)
        if current == 0:
            SQLModel.metadata.create_all(connection)
            _record(connection, target)
            log.info("created a new Docket database at schema version %d", target)
            return 0
        if current > target:
            raise SchemaTooNewError(
                f"the database is at schema version {current}, this Docket knows up to {target}; "
                "upgrade Docket"
            )
        for version in range(current + 1, target + 1):
            step = steps.get(version)
            if step is None:
                raise RuntimeError(f"no migration step to schema version {version}")
            log.info("migrating the database to schema version %d", version)
            step(connection)
            _record(connection, version)
        return current


def schema_version(db: Database) -> int:
    """Return the database's schema version (0 when it has no Docket tables yet)."""
    with db.read() as session:
        return _current_version(session.connection())


def _current_version(connection: Connection) -> int:
    if not inspect(connection).has_table("schema_version"):
        return 0
    found = connection.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found or 0)


def _record(connection: Connection, version: int) -> None:
    connection.execute(
        models.SchemaVersion.__table__.insert().values(version=version, applied_at=models.utcnow())
    )
