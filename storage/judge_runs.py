"""Judge runs: jobs in the database that a worker claims and carries out.

A run is one judge (one prompt version) over one project: every item (or those with human
labels, or a fixed random sample), every dimension, ``samples`` samples, and for a pairwise
task optionally both orders. A run with ``debate_id`` carries out a debate instead (one per
item and dimension, stored as ``debate:NAME``; :mod:`storage.debates`). :func:`enqueue_run`
stores it; a worker (``python cli.py worker``, or the app's own in-process one) takes it with
:func:`claim_run` — on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so of several workers
exactly one gets each run — and :func:`execute_run` does it.

Resume is the normal path, not a special one: a run only ever does what is missing (the
``(item, judge row, dimension, sample)`` verdicts not stored yet), and each batch of finished
verdicts is written in one transaction with ``ON CONFLICT DO NOTHING``. A worker killed at any
moment loses the calls in flight and nothing written; a later worker (once the run's
heartbeat is stale) or a rerun does the rest. A failed call (after its retries) stores nothing
and is counted; the next run retries it. Cancelling (:func:`request_cancel`) stops scheduling
calls at the next batch; what was written stays.

On a task with image fields only a judge marked vision-capable runs (refused when the run is
queued and again when it is carried out, before any call); each call reads its item's images
by hash just before it is made (:mod:`storage.judge_images`), so a run never holds them all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.judges.client import CallResult, JudgeClient, JudgeRequest
from core.judges.endpoints import api_key_from_env
from core.judges.lexical import lexical_verdict
from core.judges.prompting import PromptTemplate, compile_prompt
from core.judges.runner import Progress, run_calls
from core.schema import TaskSchema
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.debates import DEBATE_PREFIX, DebatePlan, DebateSetupError, debate_plan, run_debate_calls
from storage.gold import reference_dimension
from storage.judge_images import JudgeImageLoader
from storage.judges import (
    JudgeError,
    JudgeInfo,
    current_prompt,
    get_judge,
    rater_name,
    require_vision,
)
from storage.models import (
    Annotation,
    Debate,
    Gold,
    Item,
    Judge,
    JudgeDefinition,
    JudgeRun,
    PromptVersion,
    Verdict,
    utcnow,
)
from storage.projects import ProjectInfo, project_by_id

log = logging.getLogger(__name__)

MAX_SAMPLES = 20
MAX_CONCURRENCY = 256
STALE_AFTER = timedelta(minutes=2)  # a running run whose heartbeat is older is taken over
FLUSH_EVERY = 200  # verdicts per write transaction
FLUSH_SECONDS = 1.0  # ... or this often, whichever comes first (also the heartbeat)
LIMIT_SEED = 0  # the random sample of --limit is the same on every rerun
PAIRWISE_FIELDS = ("response_a", "response_b")
REFERENCE_FIELD = "reference"


class RunError(ValueError):
    """A run cannot be started as asked; the message says which option and why."""


@dataclass(frozen=True)
class RunOptions:
    """What a run covers: ``samples`` per item and dimension, both orders (``swap``, pairwise
    tasks), at most ``limit`` items (a fixed random sample), only items with human labels;
    ``concurrency`` calls at once."""

    samples: int = 1
    swap: bool = False
    limit: int | None = None
    only_with_humans: bool = False
    concurrency: int = 8


@dataclass(frozen=True)
class RunInfo:
    """A run as the pages and the CLI show it."""

    id: int
    project_id: int
    judge: str
    prompt_version: int | None
    options: RunOptions
    status: str
    cancel_requested: bool
    total: int
    done: int
    unparseable: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def remaining(self) -> int:
        """Verdicts still to get (failed calls are retried by the next run)."""
        return max(self.total - self.done, 0)

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (times in ISO 8601, UTC)."""
        data = dataclasses.asdict(self)
        data["remaining"] = self.remaining
        for name in ("created_at", "started_at", "finished_at"):
            moment = getattr(self, name)
            data[name] = moment.isoformat() if moment is not None else None
        return data

    def line(self) -> str:
        """One line: status, done/failed/remaining, tokens and the cost estimate."""
        cost = f", cost ≈ {self.cost:.4f}" if self.cost is not None else ""
        return (f"run {self.id} ({self.judge}): {self.status}; {self.done:,} of {self.total:,} "
                f"verdicts ({self.unparseable:,} unparseable), {self.failed:,} failed, "
                f"{self.remaining:,} remaining; {self.input_tokens:,} + {self.output_tokens:,} "
                f"tokens{cost}" + (f"; {self.message}" if self.message else ""))


# --- starting, cancelling, reading -----------------------------------------------------------

def check_options(options: RunOptions, schema: TaskSchema, judge: JudgeInfo) -> RunOptions:
    """Return ``options`` if they fit the task and the judge; raise :class:`RunError` saying
    which one does not, or :class:`~storage.judges.JudgeError` for an LLM judge not marked
    vision-capable on a task with image fields."""
    if not 1 <= options.samples <= MAX_SAMPLES:
        raise RunError(f"samples: expected 1 to {MAX_SAMPLES}, got {options.samples}")
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise RunError(f"concurrency: expected 1 to {MAX_CONCURRENCY}, got {options.concurrency}")
    if options.limit is not None and options.limit < 1:
        raise RunError(f"limit: expected at least 1 item, got {options.limit}")
    if options.swap and not set(PAIRWISE_FIELDS) <= set(schema.field_names):
        raise RunError(f"swap: task {schema.name!r} has no response_a/response_b to swap")
    if judge.spec.kind == "lexical":
        if REFERENCE_FIELD not in schema.field_names:
            raise RunError(f"judge {judge.name!r} is lexical: it needs a {REFERENCE_FIELD!r} "
                           f"field to compare with, and task {schema.name!r} has none")
        if options.samples != 1 or options.swap:
            raise RunError(f"judge {judge.name!r} is lexical: one sample, one order")
    else:
        require_vision(judge, schema)
    return options


def enqueue_run(*, session: Session, project_id: int, judge_name: str, options: RunOptions,
                actor: Actor) -> RunInfo:
    """Store a run for a worker to carry out; return it. An LLM judge runs its newest prompt
    version for the project's task (the shipped strategy becomes version 1). ``actor`` must
    be an admin (:class:`~storage.authz.NotAllowed`); raises :class:`RunError` or
    :class:`~storage.judges.JudgeError` for options or a judge that do not fit."""
    actor_id = authorize(session, actor, role=ADMIN, action="run judges")
    project = project_by_id(session=session, project_id=project_id)
    judge = get_judge(session=session, name=judge_name)
    check_options(options, project.schema, judge)
    prompt = (current_prompt(session=session, judge=judge, schema=project.schema, actor=actor)
              if judge.spec.kind == "llm" else None)
    row = JudgeRun(project_id=project_id, judge_definition_id=judge.id,
                   prompt_version_id=prompt.id if prompt else None, samples=options.samples,
                   swap=options.swap, limit_items=options.limit,
                   only_with_humans=options.only_with_humans, concurrency=options.concurrency,
                   created_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    return run_info(session=session, run_id=row.id)


def request_cancel(*, session: Session, run_id: int, actor: Actor) -> RunInfo:
    """Ask the run to stop (a queued run is cancelled at once); return it. A run that has
    ended is returned unchanged. ``actor`` must be an admin; raises :class:`RunError` for an
    unknown run."""
    authorize(session, actor, role=ADMIN, action="cancel runs")
    row = session.get(JudgeRun, run_id)
    if row is None:
        raise RunError(f"no run with id {run_id}")
    if row.status not in ("queued", "running"):
        return run_info(session=session, run_id=run_id)
    row.cancel_requested = True
    if row.status == "queued":
        row.status, row.finished_at = "cancelled", utcnow()
    session.add(row)
    session.flush()
    return run_info(session=session, run_id=run_id)


def run_info(*, session: Session, run_id: int) -> RunInfo:
    """The run ``run_id``; raises :class:`RunError` if there is none."""
    found = _runs(session, JudgeRun.id == run_id)
    if not found:
        raise RunError(f"no run with id {run_id}")
    return found[0]


def project_runs(*, session: Session, project_id: int, limit: int = 50) -> list[RunInfo]:
    """The project's runs, newest first."""
    return _runs(session, JudgeRun.project_id == project_id, limit=limit)


def _runs(session: Session, condition: Any, *, limit: int | None = None) -> list[RunInfo]:
    query = (select(JudgeRun, JudgeDefinition.name, PromptVersion.version, Debate.name)
             .join(JudgeDefinition, JudgeDefinition.id == JudgeRun.judge_definition_id)
             .outerjoin(PromptVersion, PromptVersion.id == JudgeRun.prompt_version_id)
             .outerjoin(Debate, Debate.id == JudgeRun.debate_id)
             .where(condition).order_by(JudgeRun.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [RunInfo(run.id, run.project_id,
                    name if debate is None else f"{DEBATE_PREFIX}{debate}", version,
                    RunOptions(run.samples, run.swap, run.limit_items, run.only_with_humans,
                               run.concurrency),
                    run.status, run.cancel_requested, run.total, run.done, run.unparseable,
                    run.failed, run.input_tokens, run.output_tokens, run.cost, run.message,
                    run.created_at, run.started_at, run.finished_at)
            for run, name, version, debate in session.execute(query)]


# --- claiming ----------------------------------------------------------------------------------

def claim_run(db: Database, *, worker: str, now: datetime | None = None,
              run_id: int | None = None) -> int | None:
    """Take the oldest queued run (or a running one whose worker stopped beating); return its
    id, or None when there is nothing to do. Exactly one of several workers gets each run.
    ``run_id``: take that run only (``cli.py judge run`` carrying out the run it queued)."""
    now = now or utcnow()
    takeable = (JudgeRun.status == "queued") | (
        (JudgeRun.status == "running") & (JudgeRun.heartbeat_at < now - STALE_AFTER))
    if run_id is not None:
        takeable = takeable & (JudgeRun.id == run_id)
    with db.write() as session:
        query = select(JudgeRun.id).where(takeable).order_by(JudgeRun.id).limit(1)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        run_id = session.execute(query).scalar()
        if run_id is None:
            return None
        row = session.get(JudgeRun, run_id)
        if row.status == "running":
            log.warning("run %d: taken over from worker %s (no heartbeat since %s)", run_id,
                        row.worker, row.heartbeat_at)
        row.status, row.worker, row.heartbeat_at = "running", worker, now
        row.started_at = row.started_at or now
        session.add(row)
    return run_id


# --- carrying out ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Work:
    """One verdict to get: where it is stored and what the judge is shown."""

    item_id: int
    judge_id: int  # the project's judge row (NAME, NAME@v2, NAME@swapped, ...)
    dimension: str
    sample: int
    fields: dict[str, Any]
    reference: str | None


@dataclass
class _Plan:
    """What an execution of a run does: the missing verdicts, and how to get them."""

    run_id: int
    concurrency: int
    judge: JudgeInfo
    project: ProjectInfo
    prompt_id: int | None
    prompt_template: PromptTemplate | None
    cancel_requested: bool = False
    debate: DebatePlan | None = None  # a debate run (the verdicts of debate:NAME)
    total: int = 0
    work: list[_Work] = field(default_factory=list)


def execute_run(db: Database, run_id: int, *, worker: str, environ: Mapping[str, str],
                client_factory: Callable[..., JudgeClient] = JudgeClient,
                on_progress: Callable[[RunInfo], None] | None = None,
                stop: threading.Event | None = None) -> RunInfo:
    """Carry out (or resume) run ``run_id``, claimed by ``worker``; return it when it ends.

    ``environ`` holds the judge's API key under the variable name the judge names (the
    process environment, or Streamlit secrets): the key is read here, handed to the client and
    kept nowhere else. ``on_progress`` gets the run after each written batch (at most once a
    second or every 200 verdicts). While calls are under way the run's heartbeat is written
    every second even when none finishes (slow endpoints, long retry waits), so no other
    worker takes over a live run. Ends ``done`` (every verdict stored, or only failed calls left: the
    message says how many, a rerun retries them), ``cancelled`` or ``failed`` (the message
    says why: a missing API key, a prompt that no longer fits). ``stop`` set (the worker is
    shutting down): no new call is started, the finished ones are written and an unfinished
    run goes back to ``queued`` for the next worker. Never raises for a failed call.
    """
    halt = stop or threading.Event()
    try:
        plan = _plan(db, run_id)
        if plan.work and not plan.cancel_requested:
            if plan.debate is not None:
                _run_coroutine(_run_debates(db, plan, worker, environ, client_factory,
                                            on_progress, halt))
            elif plan.judge.spec.kind == "lexical":
                _run_lexical(db, plan, worker, on_progress, halt)
            else:
                _run_coroutine(_run_llm(db, plan, worker, environ, client_factory, on_progress,
                                        halt))
        status, message = _finish_state(db, run_id, stopped=halt.is_set(), worker=worker)
    except (JudgeError, RunError, DebateSetupError) as exc:
        status, message = "failed", str(exc)
    except Exception as exc:  # a bug or a database outage: the run must not stay "running"
        log.exception("run %d failed", run_id)
        status, message = "failed", f"{type(exc).__name__}: see the server log"
    with db.write() as session:
        row = session.get(JudgeRun, run_id)
        row.status, row.message = status, message
        if status == "queued":  # handed back: the next worker claims it at once
            row.worker, row.heartbeat_at = None, None
        else:
            row.finished_at = utcnow()
        session.add(row)
    with db.read() as session:
        info = run_info(session=session, run_id=run_id)
    log.info("%s", info.line())
    return info


def _run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end: here, or in a thread of its own when this thread already
    runs an event loop (a caller inside async code, a browser test harness)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-run") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _plan(db: Database, run_id: int) -> _Plan:
    """Read the run and work out what is missing."""
    with db.write() as session:
        run = session.get(JudgeRun, run_id)
        if run is None:
            raise RunError(f"no run with id {run_id}")
        project = project_by_id(session=session, project_id=run.project_id)
        definition = session.get(JudgeDefinition, run.judge_definition_id)
        judge = get_judge(session=session, name=definition.name)
        prompt = session.get(PromptVersion, run.prompt_version_id) if run.prompt_version_id else None
        version = prompt.version if prompt is not None else 0
        orders = (False, True) if run.swap else (False,)
        debate = debate_plan(session, run.debate_id) if run.debate_id is not None else None
        judge_ids = {swapped: judge_row(session, project.id, debate.debate.judge_row
                                         if debate is not None else
                                         rater_name(judge.name, version, swapped=swapped))
                     for swapped in orders}
        items = _items(session, project.id, run)
        references = item_references(session, project, [item_id for item_id, _ in items])
        done = {(item_id, judge_id, dimension, sample) for item_id, judge_id, dimension, sample in
                session.execute(select(Verdict.item_id, Verdict.judge_id, Verdict.dimension,
                                       Verdict.sample_index)
                                .where(Verdict.judge_id.in_(list(judge_ids.values()))))}
        template = None if prompt is None else PromptTemplate(
            system=prompt.system_text, user=prompt.user_text, strategy=prompt.strategy)
        plan = _Plan(run.id, run.concurrency, judge, project, run.prompt_version_id, template,
                     run.cancel_requested, debate)
        for item_id, fields in items:
            for swapped, judge_id in judge_ids.items():
                shown = _swapped(fields) if swapped else fields
                for dimension in project.schema.dimensions:
                    for sample in range(run.samples):
                        plan.total += 1
                        if (item_id, judge_id, dimension.name, sample) not in done:
                            plan.work.append(_Work(item_id, judge_id, dimension.name, sample,
                                                   shown, references.get(item_id)))
        run.total, run.done = plan.total, plan.total - len(plan.work)
        session.add(run)
    return plan


def judge_row(session: Session, project_id: int, name: str) -> int:
    """The id of the project's judge row ``name``, created if missing."""
    found = session.execute(select(Judge.id).where(Judge.project_id == project_id,
                                                   Judge.name == name)).scalar()
    if found is not None:
        return found
    row = Judge(project_id=project_id, name=name)
    session.add(row)
    session.flush()
    return row.id


def _items(session: Session, project_id: int, run: JudgeRun) -> list[tuple[int, dict[str, Any]]]:
    """The run's items as ``(id, fields)``, by id: all, those with human labels, at most
    ``limit`` of them (a random sample, the same on every rerun)."""
    query = select(Item.id, Item.fields_json).where(Item.project_id == project_id).order_by(Item.id)
    if run.only_with_humans:
        query = query.where(Item.id.in_(select(Annotation.item_id).distinct()))
    rows = [(item_id, json.loads(fields)) for item_id, fields in session.execute(query)]
    if run.limit_items is not None and len(rows) > run.limit_items:
        rows = sorted(random.Random(LIMIT_SEED).sample(rows, run.limit_items))
    return rows


def item_references(session: Session, project: ProjectInfo, item_ids: Sequence[int]) -> dict[int, str]:
    """Per item, what a reference-guided prompt is given: the adjudicated gold reference
    answer where there is one, else the item's ``reference`` field."""
    found: dict[int, str] = {}
    dimension = reference_dimension(project.schema)
    if dimension is not None:
        rows = session.execute(select(Gold.item_id, Gold.reference_answer).where(
            Gold.dimension == dimension, Gold.reference_answer.is_not(None),
            Gold.item_id.in_(select(Item.id).where(Item.project_id == project.id))))
        found = {item_id: answer for item_id, answer in rows if answer and answer.strip()}
    if REFERENCE_FIELD in project.schema.field_names:
        for item_id, fields_json in session.execute(
                select(Item.id, Item.fields_json).where(Item.id.in_(list(item_ids)))):
            given = json.loads(fields_json).get(REFERENCE_FIELD)
            if item_id not in found and isinstance(given, str) and given.strip():
                found[item_id] = given
    return found


def _swapped(fields: Mapping[str, Any]) -> dict[str, Any]:
    first, second = PAIRWISE_FIELDS
    return {**fields, first: fields.get(second), second: fields.get(first)}


@dataclass
class _Batch:
    """What a :class:`_Writer` collected since its last write, taken out in one go."""

    rows: list[dict[str, Any]]
    failed: int
    input_tokens: int
    output_tokens: int
    last_error: str | None


class _Writer:
    """Collects finished verdicts and writes them in batches, one transaction each, with the
    run's counters and heartbeat; reads back whether the run was cancelled.

    :meth:`take` runs in the thread that collects (the event loop) and :meth:`write` may run
    in another: what arrives during a write goes to the next batch, never lost."""

    def __init__(self, db: Database, run_id: int, worker: str, prompt_id: int | None,
                 on_progress: Callable[[RunInfo], None] | None) -> None:
        self.db, self.run_id, self.worker, self.prompt_id = db, run_id, worker, prompt_id
        self.on_progress = on_progress
        self.rows: list[dict[str, Any]] = []
        self.failed = self.input_tokens = self.output_tokens = 0
        self.last_error: str | None = None
        self.cancel = threading.Event()
        self.flushed_at = time.monotonic()

    def add(self, work: _Work, result: CallResult) -> None:
        self.input_tokens += result.input_tokens or 0
        self.output_tokens += result.output_tokens or 0
        if result.verdict is None:
            if not result.cancelled:
                self.failed += 1
                self.last_error = result.error
            return
        self.rows.append({
            "item_id": work.item_id, "judge_id": work.judge_id, "dimension": work.dimension,
            "sample_index": work.sample, "label": result.verdict.label,
            "rationale": result.verdict.rationale, "raw_output": result.raw_text,
            "created_at": utcnow(), "prompt_version_id": self.prompt_id, "model": result.model,
            "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
            "latency_ms": None if result.latency is None else result.latency * 1000})

    def due(self) -> bool:
        return (len(self.rows) >= FLUSH_EVERY
                or time.monotonic() - self.flushed_at >= FLUSH_SECONDS)

    def take(self) -> _Batch:
        """What was collected since the last :meth:`take`; the collector starts afresh."""
        batch = _Batch(self.rows, self.failed, self.input_tokens, self.output_tokens,
                       self.last_error)
        self.rows = []
        self.failed = self.input_tokens = self.output_tokens = 0
        self.last_error = None
        self.flushed_at = time.monotonic()
        return batch

    def flush(self, cost: float | None = None) -> None:
        """Write what is collected (idempotent: a verdict stored meanwhile is kept)."""
        self.write(self.take(), cost)

    def write(self, batch: _Batch, cost: float | None = None) -> None:
        """Write ``batch`` with the run's counters and heartbeat in one transaction."""
        rows = batch.rows
        with self.db.write() as session:
            written = unparseable = 0
            if rows:
                insert = (pg_insert if self.db.dialect == "postgresql" else sqlite_insert)(
                    Verdict.__table__).on_conflict_do_nothing(
                    index_elements=["item_id", "judge_id", "dimension", "sample_index"])
                written = session.execute(insert, rows).rowcount
                written = len(rows) if written is None or written < 0 else written
                unparseable = sum(1 for row in rows if row["label"] is None)
            values: dict[str, Any] = {
                "done": JudgeRun.done + written, "unparseable": JudgeRun.unparseable + unparseable,
                "failed": JudgeRun.failed + batch.failed,
                "input_tokens": JudgeRun.input_tokens + batch.input_tokens,
                "output_tokens": JudgeRun.output_tokens + batch.output_tokens,
                "heartbeat_at": utcnow()}
            if cost is not None:
                values["cost"] = cost
            if batch.last_error:
                values["message"] = f"last failed call: {batch.last_error}"
            session.execute(update(JudgeRun).where(JudgeRun.id == self.run_id).values(**values))
            cancel = session.execute(select(JudgeRun.cancel_requested)
                                     .where(JudgeRun.id == self.run_id)).scalar()
            info = run_info(session=session, run_id=self.run_id) if self.on_progress else None
        if cancel:
            self.cancel.set()
        if self.on_progress is not None and info is not None:
            self.on_progress(info)


@dataclass(frozen=True)
class _Either:
    """Set when either event is: a cancel request or the worker stopping."""

    first: threading.Event
    second: threading.Event

    def is_set(self) -> bool:
        return self.first.is_set() or self.second.is_set()


async def _run_llm(db: Database, plan: _Plan, worker: str, environ: Mapping[str, str],
                   client_factory: Callable[..., JudgeClient],
                   on_progress: Callable[[RunInfo], None] | None,
                   stop: threading.Event) -> Progress:
    endpoint = plan.judge.spec.endpoint()
    if endpoint.api_key_env and not environ.get(endpoint.api_key_env):
        raise RunError(f"the variable {endpoint.api_key_env} that should hold judge "
                       f"{plan.judge.name!r}'s API key is not set (environment or Streamlit "
                       "secrets)")
    require_vision(plan.judge, plan.project.schema)
    images = JudgeImageLoader(db, plan.project.schema)
    compiled = compile_prompt(plan.prompt_template, plan.project.schema)
    dimensions = {d.name: d for d in plan.project.schema.dimensions}
    writer = _Writer(db, plan.run_id, worker, plan.prompt_id, on_progress)
    requests = [JudgeRequest(work, compiled, work.fields, dimensions[work.dimension],
                             reference=work.reference, sample=work.sample)
                for work in plan.work]

    writing = asyncio.Lock()  # one write at a time, so the counters add up in order
    cost: float | None = None

    async def flush() -> None:
        batch = writer.take()
        async with writing:
            await asyncio.to_thread(writer.write, batch, cost)

    async def on_result(result: CallResult, progress: Progress) -> None:
        nonlocal cost
        writer.add(result.key, result)
        cost = progress.cost
        if writer.due():
            await flush()

    async def heartbeat() -> None:
        # Calls may all be waiting (a slow endpoint, Retry-After): beat anyway, and see a
        # cancel request without waiting for a result.
        while True:
            await asyncio.sleep(FLUSH_SECONDS / 2)
            if writer.due():
                await flush()

    async with client_factory(endpoint, api_key=api_key_from_env(endpoint, environ)) as client:
        beating = asyncio.create_task(heartbeat())
        try:
            progress = await run_calls(requests, call=images.wrap(client.call),
                                       concurrency=plan.concurrency,
                                       on_result=on_result,
                                       cancel_event=_Either(writer.cancel, stop),
                                       cost=endpoint.cost)
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
    cost = progress.cost
    await flush()
    return progress


async def _run_debates(db: Database, plan: _Plan, worker: str, environ: Mapping[str, str],
                       client_factory: Callable[..., JudgeClient],
                       on_progress: Callable[[RunInfo], None] | None,
                       stop: threading.Event) -> Progress:
    """Carry out the missing debates of a debate run (see :mod:`storage.debates`)."""
    assert plan.debate is not None
    for judge in plan.debate.judges.values():
        require_vision(judge, plan.project.schema)
    compiled = compile_prompt(plan.prompt_template, plan.project.schema)
    dimensions = {d.name: d for d in plan.project.schema.dimensions}
    writer = _Writer(db, plan.run_id, worker, plan.prompt_id, on_progress)

    async def on_result(result: CallResult, progress: Progress) -> None:
        writer.add(result.key, result)
        if writer.due():
            await asyncio.to_thread(writer.flush)

    progress = await run_debate_calls(plan.debate, plan.work, compiled, dimensions,
                                      concurrency=plan.concurrency, environ=environ,
                                      client_factory=client_factory, on_result=on_result,
                                      cancel_event=_Either(writer.cancel, stop),
                                      images=JudgeImageLoader(db, plan.project.schema))
    await asyncio.to_thread(writer.flush)
    return progress


def _run_lexical(db: Database, plan: _Plan, worker: str,
                 on_progress: Callable[[RunInfo], None] | None, stop: threading.Event) -> None:
    dimensions = {d.name: d for d in plan.project.schema.dimensions}
    writer = _Writer(db, plan.run_id, worker, None, on_progress)
    for work in plan.work:
        verdict = lexical_verdict(plan.judge.spec.lexical or "", work.fields.get("response"),
                                  work.reference, dimensions[work.dimension])
        # An item without an accepted answer gets no verdict (counted as failed, with why).
        found = verdict if verdict.label is not None else None
        writer.add(work, CallResult(work, work.sample, None, found, None, None, None, None,
                                    None, 1, error=verdict.problem))
        if writer.due():
            writer.flush()
            if writer.cancel.is_set() or stop.is_set():
                break
    writer.flush()


def _finish_state(db: Database, run_id: int, *, stopped: bool, worker: str
                  ) -> tuple[str, str | None]:
    with db.read() as session:
        row = session.get(JudgeRun, run_id)
        if row.cancel_requested:
            return "cancelled", f"cancelled: {row.done:,} of {row.total:,} verdicts stored"
        if stopped and row.done < row.total:
            return "queued", (f"worker {worker} stopped with {row.done:,} of {row.total:,} "
                              "verdicts stored; the next worker does the rest")
        if row.done < row.total:
            return "done", (f"{row.total - row.done:,} verdicts missing after failed calls"
                            + (f" ({row.message})" if row.message else "")
                            + "; run it again to retry them")
        return "done", None
