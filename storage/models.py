"""SQLModel tables of Docket.

Timestamps are timezone-aware UTC (``utcnow()``); SQLModel's UTC column type stores them as
UTC on both backends and returns them aware. Text that may be long (item fields, rationales)
uses ``Text``. Uniqueness that writers rely on for idempotent upserts is declared here, not
checked in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, true
from sqlmodel import Field, SQLModel

ROLES: tuple[str, ...] = ("admin", "annotator")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the storage convention)."""
    return datetime.now(UTC)


def _text(nullable: bool = True) -> Column:
    return Column(Text, nullable=nullable)


class SchemaVersion(SQLModel, table=True):
    """One row per applied schema version; the highest is the database's version."""

    __tablename__ = "schema_version"

    version: int = Field(primary_key=True)
    applied_at: datetime = Field(default_factory=utcnow)


class Project(SQLModel, table=True):
    """An evaluation project: one task schema, its items, judges and labels."""

    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    template: str = Field(max_length=64)
    task_json: str = Field(sa_column=_text(nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    # Annotation settings (schema version 3). Server defaults as the migration adds them, so
    # fresh and upgraded databases accept the same inserts.
    blind: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    overlap: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    queue_order: str = Field(default="sequential", max_length=16,
                             sa_column_kwargs={"server_default": "sequential"})
    queue_seed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    trusted_fields: str = Field(default="[]", sa_column=Column(Text, nullable=False,
                                                                server_default="[]"))
    # Schema version 10: the CI half-width the label budgets aim at (estimates and kappa).
    target_halfwidth: float = Field(default=0.05, sa_column_kwargs={"server_default": "0.05"})
    # Why judges err, the project's own list (JSON list of names; None: the defaults of
    # core.error_taxonomy). Schema version 13.
    error_categories: str | None = Field(default=None, sa_column=_text())


class Item(SQLModel, table=True):
    """One thing to label: the template's text fields plus model/group/metadata."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_item_project_external"),
        # The newest change of a project's items, for storage.versioning (schema version 4).
        Index("ix_item_project_updated", "project_id", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    external_id: str = Field(max_length=200)
    fields_json: str = Field(sa_column=_text(nullable=False))
    model: str | None = Field(default=None, max_length=200)
    group_name: str | None = Field(default=None, max_length=200)
    metadata_json: str | None = Field(default=None, sa_column=_text())
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class StoredImage(SQLModel, table=True):
    """One image of an item field, named by the SHA-256 of its bytes (schema version 17).

    Items reference images by this hash in their ``fields_json``; the same image imported
    twice (by any project) is one row. In the database, not on a disk, so several app
    processes on one PostgreSQL serve the same images.
    """

    __tablename__ = "image"

    sha256: str = Field(primary_key=True, max_length=64)
    mime: str = Field(max_length=32)
    width: int
    height: int
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ProjectImage(SQLModel, table=True):
    """An image that items of a project reference (schema version 18): who may see an image
    follows from who may see one of these projects. Written by every import that stores or
    references the image; removed with the project."""

    __tablename__ = "project_image"
    __table_args__ = (Index("ix_project_image_sha256", "sha256"),)

    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    sha256: str = Field(foreign_key="image.sha256", primary_key=True, max_length=64)


class Judge(SQLModel, table=True):
    """An LLM judge (or lexical judge) whose verdicts a project holds."""

    __tablename__ = "judge"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_judge_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Verdict(SQLModel, table=True):
    """A judge's label on one dimension of one item (one row per sample); an unparseable
    output has no label."""

    __tablename__ = "verdict"
    __table_args__ = (
        # Leads with item_id, which every read joins on; a second index on judge_id cost
        # ~15% of bulk-import time and no query needs it.
        UniqueConstraint("item_id", "judge_id", "dimension", "sample_index", name="uq_verdict"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    judge_id: int = Field(foreign_key="judge.id", ondelete="CASCADE")
    dimension: str = Field(max_length=64)
    sample_index: int = 0
    # None: the judge's output did not parse to a label (schema version 5); raw_output keeps it.
    label: str | None = Field(default=None, max_length=200)
    rationale: str | None = Field(default=None, sa_column=_text())
    raw_output: str | None = Field(default=None, sa_column=_text())
    created_at: datetime = Field(default_factory=utcnow)
    # Verdicts Docket ran itself (schema version 8); None for imported ones.
    prompt_version_id: int | None = Field(default=None, foreign_key="prompt_version.id",
                                          ondelete="SET NULL")
    model: str | None = Field(default=None, max_length=200)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    # Schema version 11: did the judge's model answer the question correctly itself (imported
    # ``judge.<name>.answered_correctly``)? None: unknown.
    answered_correctly: bool | None = None


class UserAccount(SQLModel, table=True):
    """A person who labels. Imported annotators have no password until an admin sets one."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(default="annotator", max_length=16)
    password_hash: str | None = Field(default=None, max_length=512)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Bumped by every password, role or activation change (schema version 7): part of the
    # credential stamp, so a session that began before any such change never acts again.
    credential_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class SignInAttempt(SQLModel, table=True):
    """Failed sign-ins counted per (user name, client) pair (scope ``pair``) or per client
    (scope ``client``), for throttling.

    Kept in the database, not in a server process, so every process sees the same counters.
    ``key`` is a SHA-256 of the normalised name and address, never the typed text: people
    sometimes type their password into the name field.
    """

    __tablename__ = "sign_in_attempt"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_sign_in_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    key: str = Field(max_length=64)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class ProjectMember(SQLModel, table=True):
    """An annotator (or admin) who labels in a project."""

    __tablename__ = "project_member"

    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    added_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    """One item in one annotator's queue, and what happened to it.

    ``position`` orders the queue; "next item" is the pending row with the lowest position,
    found through ``ix_assignment_queue`` (an index seek, not a scan). Per item-and-annotator
    notes live here: comment, confidence, the proposed gold reference answer, skip and flag.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", name="uq_assignment"),
        Index("ix_assignment_queue", "user_id", "project_id", "status", "position"),
        Index("ix_assignment_project", "project_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    position: int
    status: str = Field(default="pending", max_length=16)  # pending | done | skipped
    skip_reason: str | None = Field(default=None, sa_column=_text())
    flagged: bool = False
    flag_note: str | None = Field(default=None, sa_column=_text())
    comment: str | None = Field(default=None, sa_column=_text())
    confidence: int | None = None
    reference_answer: str | None = Field(default=None, sa_column=_text())
    # Schema version 6. True: the annotator wrote or edited ``reference_answer``; False: they
    # kept the item's own reference as given (no proposal of theirs); None: no answer stored.
    reference_edited: bool | None = None
    # True once the judges' verdicts were shown to this annotator for this item.
    verdicts_seen: bool = False
    submitted_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # Schema version 10: the item's draw share p under the ``estimation`` or ``active`` order
    # (the first n items of the order have inclusion probability min(1, n p)); None under
    # the other orders, whose labels have no known sampling probability.
    draw_share: float | None = None


class Annotation(SQLModel, table=True):
    """A human label: exactly one per item x annotator x dimension."""

    __tablename__ = "annotation"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", "dimension", name="uq_annotation"),
        Index("ix_annotation_user_item", "user_id", "item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    dimension: str = Field(max_length=64)
    label: str = Field(max_length=200)
    comment: str | None = Field(default=None, sa_column=_text())
    confidence: float | None = None
    # None: unknown (imported labels); False: the judges' verdicts were visible when labelling.
    blind: bool | None = True
    source: str = Field(default="ui", max_length=16)
    revision: int = 1
    # Schema version 10: "uniform" when an import declared its labelled items a uniform random
    # sample of the project (``--sampled uniform``); None otherwise.
    sampled: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Gold(SQLModel, table=True):
    """The decided truth for one dimension of an item, with the gold reference answer."""

    __tablename__ = "gold"
    __table_args__ = (UniqueConstraint("item_id", "dimension", name="uq_gold"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    dimension: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=200)
    reference_answer: str | None = Field(default=None, sa_column=_text())
    note: str | None = Field(default=None, sa_column=_text())
    method: str = Field(default="adjudicated", max_length=32)
    decided_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    decided_at: datetime = Field(default_factory=utcnow)


class ErrorTag(SQLModel, table=True):
    """An admin's reason why a judge's verdict on one dimension of an item was wrong (one row
    per category; schema version 13)."""

    __tablename__ = "error_tag"
    __table_args__ = (
        UniqueConstraint("item_id", "judge_id", "dimension", "category", name="uq_error_tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    judge_id: int = Field(foreign_key="judge.id", ondelete="CASCADE")
    dimension: str = Field(max_length=64)
    category: str = Field(max_length=64)
    tagged_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    tagged_at: datetime = Field(default_factory=utcnow)


class RationaleRating(SQLModel, table=True):
    """An annotator's rating of one judge rationale (a judge's sample on an item) they saw
    after revealing: sound, flawed or hallucinated (schema version 14)."""

    __tablename__ = "rationale_rating"
    __table_args__ = (
        UniqueConstraint("item_id", "judge_id", "sample_index", "user_id",
                         name="uq_rationale_rating"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    judge_id: int = Field(foreign_key="judge.id", ondelete="CASCADE")
    sample_index: int = 0
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    rating: str = Field(max_length=16)
    rated_at: datetime = Field(default_factory=utcnow)


class ProbeParaphrase(SQLModel, table=True):
    """A paraphrase of an item's question for the consistency probes (schema version 16):
    ``position`` 1..k (0 is the item's own question), ``source`` ``admin`` or the judge whose
    model wrote it (``judge:<name>``)."""

    __tablename__ = "probe_paraphrase"
    __table_args__ = (UniqueConstraint("item_id", "position", name="uq_probe_paraphrase"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    position: int
    question: str = Field(sa_column=_text(nullable=False))
    source: str = Field(max_length=200)
    created_by: int | None = Field(default=None, foreign_key="user_account.id",
                                   ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class ProbeVerdict(SQLModel, table=True):
    """A judge's verdict on one variant of a probed item (``position`` 0: the question as
    given, else that paraphrase) on one dimension (schema version 16); no label when its
    output did not parse."""

    __tablename__ = "probe_verdict"
    __table_args__ = (UniqueConstraint("item_id", "judge_id", "dimension", "position",
                                       name="uq_probe_verdict"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    judge_id: int = Field(foreign_key="judge.id", ondelete="CASCADE")
    dimension: str = Field(max_length=64)
    position: int
    label: str | None = Field(default=None, max_length=200)
    rationale: str | None = Field(default=None, sa_column=_text())
    raw_output: str | None = Field(default=None, sa_column=_text())
    model: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Every change of a stored label: who, when, old and new value, and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_item", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    action: str = Field(max_length=32)
    item_id: int | None = Field(default=None, foreign_key="item.id", ondelete="CASCADE")
    subject_id: int | None = None
    dimension: str | None = Field(default=None, max_length=64)
    old_value: str | None = Field(default=None, sa_column=_text())
    new_value: str | None = Field(default=None, sa_column=_text())
    reason: str | None = Field(default=None, sa_column=_text())


class JudgeDefinition(SQLModel, table=True):
    """A judge Docket runs (schema version 8): an OpenAI-compatible endpoint and model, or an
    offline lexical judge. The API key itself is never stored, only the *name* of the
    environment variable (or Streamlit secret) that holds it."""

    __tablename__ = "judge_definition"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(default="llm", max_length=16)  # llm | lexical
    lexical: str | None = Field(default=None, max_length=32)  # exact_match | contains
    base_url: str | None = Field(default=None, sa_column=_text())
    model: str | None = Field(default=None, max_length=200)
    api_key_env: str | None = Field(default=None, max_length=200)
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    timeout_s: float = 60.0
    structured_output: bool = True
    # Schema version 18: the model reads images; only such a judge runs on image fields.
    vision: bool = False
    price_input_per_million: float | None = None
    price_output_per_million: float | None = None
    strategy: str = Field(default="direct", max_length=32)  # of the first prompt version
    reference_guided: bool = False
    family: str | None = Field(default=None, max_length=100)
    size: str | None = Field(default=None, max_length=100)
    provider: str | None = Field(default=None, max_length=100)
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class PromptVersion(SQLModel, table=True):
    """One version of a judge's prompt for one task (schema name); every edit adds one."""

    __tablename__ = "prompt_version"
    __table_args__ = (UniqueConstraint("judge_definition_id", "task", "version",
                                       name="uq_prompt_version"),)

    id: int | None = Field(default=None, primary_key=True)
    judge_definition_id: int = Field(foreign_key="judge_definition.id", ondelete="CASCADE")
    task: str = Field(max_length=64)
    version: int
    strategy: str = Field(max_length=32)
    reference_guided: bool = False
    system_text: str = Field(sa_column=_text(nullable=False))
    user_text: str = Field(sa_column=_text(nullable=False))
    note: str | None = Field(default=None, sa_column=_text())
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class Jury(SQLModel, table=True):
    """A stored jury of a project (schema version 9): member judges (the project's judge rows,
    as rater names without ``judge:``) whose verdicts are combined per item by ``rule``."""

    __tablename__ = "jury"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_jury_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    members_json: str = Field(sa_column=_text(nullable=False))
    rule: str = Field(max_length=16)  # majority | median | mean
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class Debate(SQLModel, table=True):
    """A stored debate set-up of a project (schema version 9): two judge definitions argue for
    ``rounds`` rounds, then ``decider`` (None: debater A) gives the verdict, stored as the
    project's judge row ``debate:NAME``."""

    __tablename__ = "debate"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_debate_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    debater_a_id: int = Field(foreign_key="judge_definition.id", ondelete="CASCADE")
    debater_b_id: int = Field(foreign_key="judge_definition.id", ondelete="CASCADE")
    decider_id: int | None = Field(default=None, foreign_key="judge_definition.id",
                                   ondelete="CASCADE")
    rounds: int = 2
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class JudgeRun(SQLModel, table=True):
    """A run of one judge (one prompt version) over a project: a job in the database that a
    worker claims (schema version 8). Counters are updated as verdicts are written."""

    __tablename__ = "judge_run"
    __table_args__ = (Index("ix_judge_run_status", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    judge_definition_id: int = Field(foreign_key="judge_definition.id", ondelete="CASCADE")
    prompt_version_id: int | None = Field(default=None, foreign_key="prompt_version.id",
                                          ondelete="SET NULL")
    samples: int = 1
    swap: bool = False
    limit_items: int | None = None
    only_with_humans: bool = False
    concurrency: int = 8
    status: str = Field(default="queued", max_length=16)  # queued running done failed cancelled
    cancel_requested: bool = False
    worker: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = None
    total: int = 0
    done: int = 0
    unparseable: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    message: str | None = Field(default=None, sa_column=_text())
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # A debate run (schema version 9): the debate's verdicts, not one judge's.
    debate_id: int | None = Field(default=None, foreign_key="debate.id", ondelete="CASCADE")


class WebSession(SQLModel, table=True):
    """A browser's sign-in that outlives its tab (schema version 12).

    Only the SHA-256 of the session id the browser holds in its ``HttpOnly`` cookie is kept,
    never the id itself. ``token_hash`` is None from the sign-in until the browser exchanged
    its one-time ticket (:class:`WebSessionTicket`) for the cookie. The session ends when it
    is not used for the idle time, at ``expires_at`` (the absolute limit), at sign-out, or
    when the user's password, role or activation changes (the rows are deleted).
    """

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class WebSessionTicket(SQLModel, table=True):
    """A one-time ticket (schema version 12): what the signed-in page hands its browser to
    exchange for the session cookie. Stored hashed, valid for a minute, only for the browser
    that signed in (``browser``: the digest of its ``docket_browser`` cookie)."""

    __tablename__ = "web_session_ticket"

    id: int | None = Field(default=None, primary_key=True)
    ticket_hash: str = Field(max_length=64, unique=True)
    session_id: int = Field(foreign_key="web_session.id", ondelete="CASCADE")
    browser: str = Field(max_length=64)
    expires_at: datetime


class LabelDraft(SQLModel, table=True):
    """What an annotator chose on an item but has not saved (schema version 12): labels,
    comment, confidence, reference answer. Never read by metrics or exports; deleted when the
    labels are saved."""

    __tablename__ = "label_draft"
    __table_args__ = (UniqueConstraint("user_id", "item_id", name="uq_label_draft"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    labels_json: str = Field(sa_column=_text(nullable=False))
    comment: str | None = Field(default=None, sa_column=_text())
    confidence: int | None = None
    reference_answer: str | None = Field(default=None, sa_column=_text())
    updated_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A personal API token (schema version 15): what a script sends as ``Authorization:
    Bearer`` to ``/api/v1``. Only the SHA-256 of the secret is kept; the token acts as its
    user with the user's role at the time of use, and stops working when revoked
    (``revoked_at``) or while its user is deactivated."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
