"""Consistency probes (issue 16, item 8): paraphrases of an item's question and a judge's
verdicts on each, for :mod:`core.audit.probes`.

An item's *variants* are its question as given (position 0) and its paraphrases (positions
1..k, in the order added). Paraphrases are written by an admin (:func:`add_paraphrases`) or by
a defined LLM judge's model (:func:`generate_paraphrases`). :func:`run_probes` asks a judge
(its newest prompt version, through the judge engine) for a verdict on every variant of every
probed item and dimension not asked yet, and stores them (``probe_verdict``; a rerun only does
what is missing, an unparseable answer is stored without a label, a failed call stores
nothing). The question is the item's ``prompt`` field.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.audit.probes import ProbeItem
from core.judges.client import CallResult, JudgeClient, JudgeRequest
from core.judges.endpoints import api_key_from_env
from core.judges.prompting import Message, compile_prompt
from core.judges.runner import run_calls
from core.safe_text import require_safe_text
from core.schema import Dimension
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.judge_images import JudgeImageLoader
from storage.judge_runs import item_references, judge_row
from storage.judges import JudgeError, current_prompt, get_judge, rater_name, require_vision
from storage.models import AuditLog, Item, Judge, ProbeParaphrase, ProbeVerdict, utcnow
from storage.projects import ProjectInfo, get_project

QUESTION_FIELD = "prompt"
MAX_PARAPHRASES = 20
MAX_QUESTION_CHARS = 4000
MAX_CONCURRENCY = 64
GENERATE_SYSTEM = ("You rewrite questions. Keep the meaning, the facts and the language; change "
                   "only the wording.")
GENERATE_USER = ("Write {k} paraphrases of the question below, one per line, numbered 1. to "
                 "{k}., and nothing else.\n\n<question>\n{question}\n</question>")
_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•])\s*")


class ProbeError(ValueError):
    """A probe request that cannot be done; the message says why."""


@dataclass(frozen=True)
class ProbeVariantVerdict:
    """A judge's verdict on one variant: ``label`` (None: unparseable) and its rationale."""

    position: int
    label: str | None
    rationale: str | None


@dataclass(frozen=True)
class ItemProbe:
    """One probed item: its question variants (position 0 the original) with their source,
    and each judge's verdicts by rater (``judge:<name>``) and dimension."""

    external_id: str
    variants: tuple[tuple[int, str, str], ...]  # (position, question, source)
    verdicts: Mapping[str, Mapping[str, tuple[ProbeVariantVerdict, ...]]] = field(
        default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``item``, ``variants`` and ``verdicts`` (rater -> dimension -> list)."""
        return {"item": self.external_id,
                "variants": [{"position": p, "question": q, "source": s}
                             for p, q, s in self.variants],
                "verdicts": {rater: {dimension: [{"position": v.position, "label": v.label,
                                                  "rationale": v.rationale} for v in found]
                                     for dimension, found in by_dimension.items()}
                             for rater, by_dimension in self.verdicts.items()}}


@dataclass(frozen=True)
class ProbeRunSummary:
    """What :func:`run_probes` did: calls asked, verdicts stored (of them unparseable) and
    calls that failed (nothing stored; a rerun retries them), with the first error."""

    judge: str
    asked: int
    stored: int
    unparseable: int
    failed: int
    first_error: str | None = None


def _project_item(session: Session, project: ProjectInfo, external_id: str) -> Item:
    if QUESTION_FIELD not in project.schema.field_names:
        raise ProbeError(f"project {project.name!r} has no {QUESTION_FIELD!r} field: its items "
                         "have no question to paraphrase")
    item = session.execute(select(Item).where(Item.project_id == project.id,
                                              Item.external_id == external_id)).scalar()
    if item is None:
        raise ProbeError(f"project {project.name!r} has no item {external_id!r}")
    return item


def _question(item: Item) -> str:
    value = json.loads(item.fields_json).get(QUESTION_FIELD)
    if not isinstance(value, str) or not value.strip():
        raise ProbeError(f"item {item.external_id!r} has no question (its {QUESTION_FIELD!r} "
                         "field is empty)")
    return value


def add_paraphrases(*, session: Session, project: str, item: str, questions: Sequence[str],
                    source: str = "admin", actor: Actor) -> list[int]:
    """Store ``questions`` as the next paraphrases of the item with external id ``item``;
    return their positions. ``actor`` must be an admin.

    Raises :class:`ProbeError` for an unknown project or item, a project without a question
    field, an empty, too long or unsafe question, one equal to the item's question or to one
    already stored (or given twice), or more than :data:`MAX_PARAPHRASES` in all.
    """
    actor_id = authorize(session, actor, role=ADMIN, action="add paraphrases")
    info = get_project(session=session, name=project)
    row = _project_item(session, info, item)
    stored = list(session.execute(select(ProbeParaphrase.position, ProbeParaphrase.question)
                                  .where(ProbeParaphrase.item_id == row.id)
                                  .order_by(ProbeParaphrase.position)))
    seen = {" ".join(_question(row).split()).casefold()}
    seen |= {" ".join(q.split()).casefold() for _, q in stored}
    if len(stored) + len(questions) > MAX_PARAPHRASES:
        raise ProbeError(f"item {item!r} would have {len(stored) + len(questions)} paraphrases; "
                         f"at most {MAX_PARAPHRASES}")
    if not questions:
        raise ProbeError("give at least one paraphrase")
    position = stored[-1][0] if stored else 0
    positions = []
    for index, question in enumerate(questions, start=1):
        text = question.strip()
        if not text or len(text) > MAX_QUESTION_CHARS:
            raise ProbeError(f"paraphrase {index} must have 1 to {MAX_QUESTION_CHARS} characters")
        require_safe_text(text, what=f"paraphrase {index}", error=ProbeError)
        key = " ".join(text.split()).casefold()
        if key in seen:
            raise ProbeError(f"paraphrase {index} ({text[:60]!r}) repeats the question or "
                             "another paraphrase")
        seen.add(key)
        position += 1
        session.add(ProbeParaphrase(item_id=row.id, position=position, question=text,
                                    source=source, created_by=actor_id, created_at=utcnow()))
        positions.append(position)
    session.add(AuditLog(actor_id=actor_id, action="probe_paraphrases", item_id=row.id,
                         new_value=json.dumps(positions), reason=source))
    session.flush()
    return positions


def remove_probes(*, session: Session, project: str, item: str, actor: Actor) -> int:
    """Delete the item's paraphrases and every probe verdict on it; return how many
    paraphrases were deleted. ``actor`` must be an admin. Raises :class:`ProbeError` for an
    unknown project or item."""
    actor_id = authorize(session, actor, role=ADMIN, action="remove paraphrases")
    row = _project_item(session, get_project(session=session, name=project), item)
    session.execute(delete(ProbeVerdict).where(ProbeVerdict.item_id == row.id))
    removed = int(session.execute(delete(ProbeParaphrase).where(
        ProbeParaphrase.item_id == row.id)).rowcount or 0)
    # The audit row records who removed them and changes the data version (dashboards).
    session.add(AuditLog(actor_id=actor_id, action="probe_remove", item_id=row.id,
                         old_value=str(removed)))
    return removed


def _variants(session: Session, project_id: int, item: str | None = None
              ) -> dict[int, tuple[Item, list[tuple[int, str, str]]]]:
    """Probed items (those with a paraphrase) by id: the item and its variants."""
    query = (select(Item, ProbeParaphrase.position, ProbeParaphrase.question,
                    ProbeParaphrase.source)
             .join(ProbeParaphrase, ProbeParaphrase.item_id == Item.id)
             .where(Item.project_id == project_id)
             .order_by(Item.id, ProbeParaphrase.position))
    if item is not None:
        query = query.where(Item.external_id == item)
    found: dict[int, tuple[Item, list[tuple[int, str, str]]]] = {}
    for row, position, question, source in session.execute(query):
        if row.id not in found:
            original = json.loads(row.fields_json).get(QUESTION_FIELD)
            found[row.id] = (row, [(0, original if isinstance(original, str) else "", "item")])
        found[row.id][1].append((position, question, source))
    return found


def _stored_verdicts(session: Session, item_ids: Sequence[int]
                     ) -> dict[int, dict[str, dict[str, list[ProbeVariantVerdict]]]]:
    """Probe verdicts by item id, rater and dimension, in position order."""
    found: dict[int, dict[str, dict[str, list[ProbeVariantVerdict]]]] = {}
    if not item_ids:
        return found
    rows = session.execute(
        select(ProbeVerdict.item_id, Judge.name, ProbeVerdict.dimension, ProbeVerdict.position,
               ProbeVerdict.label, ProbeVerdict.rationale)
        .join(Judge, Judge.id == ProbeVerdict.judge_id)
        .where(ProbeVerdict.item_id.in_(list(item_ids)))
        .order_by(ProbeVerdict.item_id, Judge.name, ProbeVerdict.dimension, ProbeVerdict.position))
    for item_id, judge, dimension, position, label, rationale in rows:
        found.setdefault(item_id, {}).setdefault(f"judge:{judge}", {}).setdefault(
            dimension, []).append(ProbeVariantVerdict(position, label, rationale))
    return found


def item_probes(*, session: Session, project: str, item: str | None = None) -> list[ItemProbe]:
    """The project's probed items (or only ``item``), each with its variants and verdicts.
    Raises :class:`ProbeError` for an unknown item given."""
    info = get_project(session=session, name=project)
    if item is not None:
        _project_item(session, info, item)
    variants = _variants(session, info.id, item)
    verdicts = _stored_verdicts(session, list(variants))
    return [ItemProbe(row.external_id, tuple(found),
                      {rater: {d: tuple(v) for d, v in by_dimension.items()}
                       for rater, by_dimension in verdicts.get(item_id, {}).items()})
            for item_id, (row, found) in variants.items()]


def probe_items(*, session: Session, project_id: int, dimension: str
                ) -> dict[str, list[ProbeItem]]:
    """Per judge rater (``judge:<name>``), its verdicts on the variants of every probed item
    on ``dimension``, for :func:`core.audit.probes.consistency_probes` (a variant not asked
    yet counts as no label)."""
    variants = _variants(session, project_id)
    verdicts = _stored_verdicts(session, list(variants))
    found: dict[str, list[ProbeItem]] = {}
    for item_id, (row, positions) in variants.items():
        for rater, by_dimension in verdicts.get(item_id, {}).items():
            given = {v.position: v for v in by_dimension.get(dimension, ())}
            if not given:
                continue
            shown = [given.get(position) for position, _, _ in positions]
            found.setdefault(rater, []).append(ProbeItem(
                row.external_id, tuple(v.label if v else None for v in shown),
                tuple(v.rationale if v else None for v in shown)))
    return found


def call_in_fresh_loop(run: Callable[[], Any]) -> Any:
    """Run the coroutine ``run()`` makes in a fresh event loop on its own thread (the caller
    may be inside one already: Streamlit, Playwright) and return its result."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-probes") as pool:
        return pool.submit(lambda: asyncio.run(run())).result()


def parse_paraphrases(text: str | None, question: str, k: int) -> list[str]:
    """The paraphrases in a model's answer: one per line, numbering and bullets removed,
    empty lines, repeats and the question itself left out, at most ``k``."""
    seen = {" ".join(question.split()).casefold()}
    found = []
    for line in (text or "").splitlines():
        candidate = _NUMBERING.sub("", line).strip().strip('"').strip()
        key = " ".join(candidate.split()).casefold()
        if candidate and key not in seen:
            seen.add(key)
            found.append(candidate)
    return found[:k]


def generate_paraphrases(db: Database, *, project: str, item: str, judge: str, k: int,
                         environ: Mapping[str, str], actor: Actor,
                         client_factory: Callable[..., JudgeClient] = JudgeClient) -> list[int]:
    """Ask ``judge``'s model for ``k`` paraphrases of the item's question and store those it
    gave (source ``judge:<name>``); return their positions.

    Raises :class:`ProbeError` for a bad ``k``, a failed call or an answer without a
    paraphrase, :class:`~storage.judges.JudgeError` for an unknown or non-LLM judge or a
    missing key, and as :func:`add_paraphrases`.
    """
    if not 1 <= k <= MAX_PARAPHRASES:
        raise ProbeError(f"--k must be 1 to {MAX_PARAPHRASES}, got {k}")
    with db.read() as session:
        authorize(session, actor, role=ADMIN, action="generate paraphrases")
        info = get_project(session=session, name=project)
        question = _question(_project_item(session, info, item))
        spec = get_judge(session=session, name=judge).spec
    endpoint = spec.endpoint()
    if endpoint.api_key_env and not environ.get(endpoint.api_key_env):
        raise JudgeError(f"the variable {endpoint.api_key_env} that should hold judge "
                         f"{judge!r}'s API key is not set")
    messages = [Message("system", GENERATE_SYSTEM),
                Message("user", GENERATE_USER.format(k=k, question=question))]

    async def ask() -> Any:
        async with client_factory(endpoint, api_key=api_key_from_env(endpoint, environ)) as client:
            return await client.complete(messages)

    done = call_in_fresh_loop(ask)
    if done.error is not None or done.cancelled:
        raise ProbeError(f"judge {judge!r} could not write paraphrases: "
                         f"{done.error or 'cancelled'}")
    found = parse_paraphrases(done.text, question, k)
    if not found:
        raise ProbeError(f"judge {judge!r} answered no paraphrase of {item!r}")
    with db.write() as session:
        return add_paraphrases(session=session, project=project, item=item, questions=found,
                               source=f"judge:{judge}", actor=actor)


@dataclass(frozen=True)
class _Work:
    item_id: int
    position: int
    dimension: str


def run_probes(db: Database, *, project: str, judge: str, environ: Mapping[str, str],
               actor: Actor, dimensions: Sequence[str] | None = None, concurrency: int = 4,
               client_factory: Callable[..., JudgeClient] = JudgeClient) -> ProbeRunSummary:
    """Ask ``judge`` (its newest prompt version for the project's task) for a verdict on every
    variant of every probed item, on ``dimensions`` (default: all), that it has not given
    yet; store each answer. ``actor`` must be an admin.

    Raises :class:`ProbeError` for an unknown dimension, a project without probes or a bad
    ``concurrency``,
    :class:`~storage.judges.JudgeError` for an unknown or non-LLM judge, a missing key, or a
    judge not marked vision-capable on a project with image fields.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ProbeError(f"--concurrency must be 1 to {MAX_CONCURRENCY}, got {concurrency}")
    with db.write() as session:
        authorize(session, actor, role=ADMIN, action="run consistency probes")
        info = get_project(session=session, name=project)
        names = list(dimensions or info.schema.dimension_names)
        unknown = [d for d in names if d not in info.schema.dimension_names]
        if unknown:
            raise ProbeError(f"project {project!r} has no dimension {unknown[0]!r} "
                             f"(dimensions: {', '.join(info.schema.dimension_names)})")
        found = get_judge(session=session, name=judge)
        prompt = current_prompt(session=session, judge=found, schema=info.schema, actor=actor)
        judge_id = judge_row(session, info.id, rater_name(found.name, prompt.version))
        rater = f"judge:{rater_name(found.name, prompt.version)}"
        variants = _variants(session, info.id)
        if not variants:
            raise ProbeError(f"project {project!r} has no paraphrases: add some first "
                             "(python cli.py probe add or probe generate)")
        done = {(item_id, dimension, position) for item_id, dimension, position in session.execute(
            select(ProbeVerdict.item_id, ProbeVerdict.dimension, ProbeVerdict.position)
            .where(ProbeVerdict.judge_id == judge_id))}
        references = item_references(session, info, list(variants))
    endpoint = found.spec.endpoint()
    if endpoint.api_key_env and not environ.get(endpoint.api_key_env):
        raise JudgeError(f"the variable {endpoint.api_key_env} that should hold judge "
                         f"{judge!r}'s API key is not set")
    require_vision(found, info.schema)
    images = JudgeImageLoader(db, info.schema)
    compiled = compile_prompt(prompt.template, info.schema)
    by_name: dict[str, Dimension] = {d.name: d for d in info.schema.dimensions}
    requests = []
    for item_id, (row, positions) in variants.items():
        fields = json.loads(row.fields_json)
        for position, question, _ in positions:
            for name in names:
                if (item_id, name, position) in done:
                    continue
                requests.append(JudgeRequest(_Work(item_id, position, name), compiled,
                                             {**fields, QUESTION_FIELD: question},
                                             by_name[name], reference=references.get(item_id)))
    results: list[CallResult] = []

    async def go() -> None:
        async with client_factory(endpoint, api_key=api_key_from_env(endpoint, environ)) as client:
            await run_calls(requests, call=images.wrap(client.call), concurrency=concurrency,
                            on_result=lambda result, _: results.append(result))

    if requests:
        call_in_fresh_loop(go)
    rows = [{"item_id": r.key.item_id, "judge_id": judge_id, "dimension": r.key.dimension,
             "position": r.key.position, "label": r.verdict.label,
             "rationale": r.verdict.rationale, "raw_output": r.raw_text, "model": r.model,
             "created_at": utcnow()} for r in results if r.verdict is not None]
    if rows:
        with db.write() as session:
            insert = (pg_insert if db.dialect == "postgresql" else sqlite_insert)
            session.execute(insert(ProbeVerdict.__table__).on_conflict_do_nothing(), rows)
    failed = [r for r in results if r.verdict is None]
    return ProbeRunSummary(rater, len(requests), len(rows),
                           sum(1 for row in rows if row["label"] is None), len(failed),
                           failed[0].error if failed else None)
