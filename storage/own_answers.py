"""Could the judge answer the question itself? (issue 16, item 4, No Free Labels)

:func:`answer_questions` asks a defined LLM judge's model each item's question (the ``prompt``
field) with no response to judge, grades its answer against the item's reference answer (the
gold reference where adjudicated, else the ``reference`` field; one accepted answer per line)
with a lexical judge (:data:`core.judges.lexical.LEXICAL_JUDGES`: ``exact_match`` or
``contains``), and stores the outcome as ``answered_correctly`` on the judge's verdicts of
that item (every prompt version and order of that judge), where the answerable split of the
audit reads it. Items without a reference, without a verdict of the judge, or with an
``answered_correctly`` already stored (imported, or from an earlier run) are left alone; a
failed call stores nothing, so a rerun does only what is missing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlmodel import Session

from core.judges.client import Completion, JudgeClient
from core.judges.endpoints import api_key_from_env
from core.judges.lexical import LEXICAL_JUDGES, split_aliases
from core.judges.prompting import Message
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.judge_runs import item_references
from storage.judges import JudgeError, get_judge
from storage.models import Item, Judge, Verdict
from storage.probes import MAX_CONCURRENCY, QUESTION_FIELD, ProbeError, call_in_fresh_loop
from storage.projects import get_project

ANSWER_SYSTEM = ("Answer the question. Give only the answer, as briefly as possible, with no "
                 "explanation.")


@dataclass(frozen=True)
class AnswerSummary:
    """What :func:`answer_questions` did: questions asked, answers graded correct and
    incorrect, calls that failed (with the first error), and items left out for want of a
    reference or a question."""

    judge: str
    asked: int
    correct: int
    incorrect: int
    failed: int
    without_reference: int
    first_error: str | None = None


def _judge_rows(session: Session, project_id: int, name: str) -> list[int]:
    """The project's judge rows of judge ``name``: every prompt version and order."""
    return list(session.execute(select(Judge.id).where(
        Judge.project_id == project_id,
        or_(Judge.name == name, Judge.name.startswith(f"{name}@")))).scalars())


def answer_questions(db: Database, *, project: str, judge: str, environ: Mapping[str, str],
                     actor: Actor, grader: str = "contains", limit: int | None = None,
                     concurrency: int = 4,
                     client_factory: Callable[..., JudgeClient] = JudgeClient) -> AnswerSummary:
    """Ask ``judge``'s model the questions it has verdicts on and no stored answer yet,
    grade each answer with lexical judge ``grader`` against the reference, store the result
    (see the module docstring). ``actor`` must be an admin.

    Raises :class:`~storage.probes.ProbeError` for an unknown grader, a bad ``limit`` or
    ``concurrency`` or a project without a question field, and
    :class:`~storage.judges.JudgeError` for an unknown or non-LLM judge or a missing key.
    """
    if grader not in LEXICAL_JUDGES:
        raise ProbeError(f"--grader must be one of {', '.join(LEXICAL_JUDGES)}, got {grader!r}")
    if limit is not None and limit < 1:
        raise ProbeError(f"--limit must be at least 1, got {limit}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ProbeError(f"--concurrency must be 1 to {MAX_CONCURRENCY}, got {concurrency}")
    with db.read() as session:
        authorize(session, actor, role=ADMIN, action="ask a judge's model the questions")
        info = get_project(session=session, name=project)
        if QUESTION_FIELD not in info.schema.field_names:
            raise ProbeError(f"project {project!r} has no {QUESTION_FIELD!r} field: its items "
                             "have no question to ask")
        spec = get_judge(session=session, name=judge).spec
        rows = _judge_rows(session, info.id, judge)
        judged = sorted(set(session.execute(
            select(Verdict.item_id).where(Verdict.judge_id.in_(rows))).scalars())) if rows else []
        known = set(session.execute(select(Verdict.item_id).where(
            Verdict.judge_id.in_(rows), Verdict.answered_correctly.is_not(None))).scalars()
                    ) if rows else set()
        todo = [item_id for item_id in judged if item_id not in known]
        references = item_references(session, info, todo)
        questions = {item_id: json.loads(fields).get(QUESTION_FIELD) for item_id, fields in
                     session.execute(select(Item.id, Item.fields_json)
                                     .where(Item.id.in_(todo)))} if todo else {}
    asked = [item_id for item_id in todo
             if split_aliases(references.get(item_id))
             and isinstance(questions.get(item_id), str) and questions[item_id].strip()]
    without = len(todo) - len(asked)
    if limit is not None:
        asked = asked[:limit]
    endpoint = spec.endpoint()
    if endpoint.api_key_env and not environ.get(endpoint.api_key_env):
        raise JudgeError(f"the variable {endpoint.api_key_env} that should hold judge "
                         f"{judge!r}'s API key is not set")

    answers: dict[int, Completion] = {}

    async def go() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with client_factory(endpoint, api_key=api_key_from_env(endpoint, environ)) as client:
            async def one(item_id: int) -> None:
                async with gate:
                    answers[item_id] = await client.complete(
                        [Message("system", ANSWER_SYSTEM), Message("user", questions[item_id])])
            await asyncio.gather(*(one(item_id) for item_id in asked))

    if asked:
        call_in_fresh_loop(go)
    graded: dict[int, bool] = {}
    failed = []
    for item_id in asked:
        done = answers[item_id]
        if done.error is not None or done.cancelled or done.text is None:
            failed.append(done.error or "cancelled")
            continue
        aliases = split_aliases(references[item_id])
        graded[item_id] = LEXICAL_JUDGES[grader].match(done.text, aliases) is not None
    if graded:
        with db.write() as session:
            for value in (True, False):
                items = [item_id for item_id, ok in graded.items() if ok is value]
                if items:
                    session.execute(update(Verdict).where(
                        Verdict.judge_id.in_(rows), Verdict.item_id.in_(items),
                        Verdict.answered_correctly.is_(None)).values(answered_correctly=value))
    correct = sum(graded.values())
    return AnswerSummary(judge, len(asked), correct, len(graded) - correct, len(failed),
                         without, failed[0] if failed else None)
