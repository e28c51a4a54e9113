"""Debate set-ups of a project and the runs that carry them out (admins only).

A debate (Fellowship of the LLMs) names two defined LLM judges that argue for ``rounds``
rounds and a deciding judge (a third one, or the first debater) that gives the verdict; the
engine is :func:`core.judges.debate.run_debate`. Every judge speaks through its own endpoint
(its own API key variable). All of them see the item as the decider's current prompt for the
project's task renders it, in the ``Verdict: LABEL`` answer format.

A debate is carried out as a judge run (:mod:`storage.judge_runs`): a ``judge_run`` row with
``debate_id`` set, claimed by a worker like any other, written in idempotent batches, resumed
by doing only what is missing. Each item and dimension is one debate; its verdict is stored
under the project's judge row ``debate:NAME`` (so the metrics list the rater
``judge:debate:NAME``), with the whole transcript — every argument in order, under
``Round r, judge`` headings, the decider's answer last — as its rationale and the decider's
raw answer as its raw output. A debate whose call fails (after the client's retries) stores
nothing and is counted as failed; the next run retries it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from core.judges.client import CallResult, CancelSignal, JudgeClient
from core.judges.debate import DebateError, DebateSetup, run_debate
from core.judges.endpoints import api_key_from_env
from core.judges.prompting import CompiledPrompt, Message, PromptError
from core.judges.runner import Progress, run_calls
from core.schema import Dimension
from storage.authz import ADMIN, Actor, authorize
from storage.judge_images import JudgeImageLoader
from storage.judges import JudgeError, JudgeInfo, current_prompt, get_judge, require_vision
from storage.models import AuditLog, Debate, JudgeDefinition, JudgeRun, utcnow
from storage.projects import project_by_id

DEBATE_PREFIX = "debate:"
MAX_ROUNDS = 10
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class DebateSetupError(ValueError):
    """A debate that cannot be stored or run as given; the message names what is wrong."""


@dataclass(frozen=True)
class DebateInfo:
    """A stored debate: its debaters, the deciding judge (None: debater A) and rounds."""

    id: int
    project_id: int
    name: str
    debater_a: str
    debater_b: str
    decider: str | None
    rounds: int

    @property
    def setup(self) -> DebateSetup:
        """The debate as the engine takes it."""
        return DebateSetup((self.debater_a, self.debater_b), self.rounds, self.decider)

    @property
    def judge_row(self) -> str:
        """The project's judge row its verdicts are stored under: ``debate:NAME``."""
        return f"{DEBATE_PREFIX}{self.name}"


def _llm_judge(session: Session, name: str, role: str) -> JudgeInfo:
    try:
        judge = get_judge(session=session, name=name)
    except JudgeError as exc:
        raise DebateSetupError(f"{role}: {exc}") from None
    if judge.spec.kind != "llm":
        raise DebateSetupError(f"{role}: judge {name!r} is {judge.spec.kind}: only LLM judges "
                               "can debate")
    return judge


def create_debate(*, session: Session, project_id: int, name: str, debater_a: str,
                  debater_b: str, rounds: int, decider: str | None = None, actor: Actor
                  ) -> DebateInfo:
    """Store a debate of the project and return it. ``actor`` must be an admin
    (:class:`~storage.authz.NotAllowed`). Raises :class:`DebateSetupError` for a bad or taken
    name, an unknown or lexical judge, the same judge twice, or rounds outside 1 to
    :data:`MAX_ROUNDS`."""
    actor_id = authorize(session, actor, role=ADMIN, action="define debates")
    project_by_id(session=session, project_id=project_id)
    if not NAME_PATTERN.fullmatch(name or ""):
        raise DebateSetupError(f"debate name {name!r}: use 1 to 100 letters, digits and ._-, "
                               "starting with a letter or digit")
    taken = session.execute(select(Debate.name).where(
        Debate.project_id == project_id, func.lower(Debate.name) == name.lower())).scalar()
    if taken is not None:
        raise DebateSetupError(f"debate name {name!r}: the project has a debate named "
                               f"{taken!r} already")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise DebateSetupError(f"rounds: expected 1 to {MAX_ROUNDS}, got {rounds!r}")
    first = _llm_judge(session, debater_a, "debater A")
    second = _llm_judge(session, debater_b, "debater B")
    if first.id == second.id:
        raise DebateSetupError(f"debater B: judge {debater_b!r} cannot debate itself")
    deciding = _llm_judge(session, decider, "decider") if decider else None
    row = Debate(project_id=project_id, name=name, debater_a_id=first.id,
                 debater_b_id=second.id, decider_id=deciding.id if deciding else None,
                 rounds=rounds, created_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    session.add(AuditLog(actor_id=actor_id, action="debate_created", subject_id=row.id,
                         new_value=f"{name}: {debater_a} vs {debater_b}, {rounds} rounds, "
                                   f"decided by {decider or debater_a}"))
    return _info(session, row)


def list_debates(*, session: Session, project_id: int) -> list[DebateInfo]:
    """The project's debates, by name."""
    rows = session.execute(select(Debate).where(Debate.project_id == project_id)
                           .order_by(Debate.name)).scalars()
    return [_info(session, row) for row in rows]


def get_debate(*, session: Session, project_id: int, name: str) -> DebateInfo:
    """The project's debate ``name``; raises :class:`DebateSetupError` listing the debates."""
    for debate in list_debates(session=session, project_id=project_id):
        if debate.name == name:
            return debate
    names = [d.name for d in list_debates(session=session, project_id=project_id)]
    raise DebateSetupError(f"no debate named {name!r} in this project (debates: "
                           f"{', '.join(names) or 'none yet'})")


def _info(session: Session, row: Debate) -> DebateInfo:
    names = dict(session.execute(select(JudgeDefinition.id, JudgeDefinition.name).where(
        JudgeDefinition.id.in_([row.debater_a_id, row.debater_b_id, row.decider_id or 0]))).all())
    return DebateInfo(row.id, row.project_id, row.name, names[row.debater_a_id],
                      names[row.debater_b_id],
                      names[row.decider_id] if row.decider_id is not None else None, row.rounds)


def enqueue_debate(*, session: Session, project_id: int, name: str, limit: int | None = None,
                   only_with_humans: bool = False, concurrency: int = 8,
                   claimed_by: str | None = None, actor: Actor) -> int:
    """Store a run of the project's debate ``name`` for a worker; return the run's id. With
    ``claimed_by`` the run is stored as already claimed by that worker (the CLI carries it
    out itself; another worker takes it over only once its heartbeat is stale).

    The verdict is read from the decider's newest prompt version for the project's task (the
    shipped strategy becomes version 1). ``actor`` must be an admin; raises
    :class:`DebateSetupError` for an unknown debate or options out of range, and
    :class:`~storage.judges.JudgeError` for a judge not marked vision-capable on a project
    with image fields.
    """
    # Imported here: storage.judge_runs imports this module to carry out debate runs.
    from storage.judge_runs import MAX_CONCURRENCY

    actor_id = authorize(session, actor, role=ADMIN, action="run debates")
    project = project_by_id(session=session, project_id=project_id)
    debate = get_debate(session=session, project_id=project_id, name=name)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise DebateSetupError(f"concurrency: expected 1 to {MAX_CONCURRENCY}, got {concurrency}")
    if limit is not None and limit < 1:
        raise DebateSetupError(f"limit: expected at least 1 item, got {limit}")
    for judge in debate_plan(session, debate.id).judges.values():
        require_vision(judge, project.schema)
    decider = get_judge(session=session, name=debate.setup.decider)
    prompt = current_prompt(session=session, judge=decider, schema=project.schema, actor=actor)
    first = get_judge(session=session, name=debate.debater_a)
    row = JudgeRun(project_id=project_id, judge_definition_id=first.id,
                   prompt_version_id=prompt.id, debate_id=debate.id, samples=1, swap=False,
                   limit_items=limit, only_with_humans=only_with_humans,
                   concurrency=concurrency, created_by=actor_id, created_at=utcnow())
    if claimed_by is not None:
        row.status, row.worker = "running", claimed_by
        row.heartbeat_at = row.started_at = row.created_at
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class DebatePlan:
    """What a debate run needs besides the work list: the debate and its judges by name."""

    debate: DebateInfo
    judges: dict[str, JudgeInfo]


def debate_plan(session: Session, debate_id: int) -> DebatePlan:
    """The run's debate and every judge it calls; raises :class:`DebateSetupError` when the
    debate is gone."""
    row = session.get(Debate, debate_id)
    if row is None:
        raise DebateSetupError(f"debate {debate_id} no longer exists")
    debate = _info(session, row)
    names = {*debate.setup.debaters, debate.setup.decider}
    return DebatePlan(debate, {name: get_judge(session=session, name=name) for name in names})


def _check_keys(plan: DebatePlan, environ: Mapping[str, str]) -> None:
    for judge in plan.judges.values():
        endpoint = judge.spec.endpoint()
        if endpoint.api_key_env and not environ.get(endpoint.api_key_env):
            raise DebateSetupError(f"the variable {endpoint.api_key_env} that should hold judge "
                                   f"{judge.name!r}'s API key is not set (environment or "
                                   "Streamlit secrets)")


async def run_debate_calls(plan: DebatePlan, work: Sequence[Any], compiled: CompiledPrompt,
                           dimensions: Mapping[str, Dimension], *, concurrency: int,
                           environ: Mapping[str, str], client_factory: Callable[..., JudgeClient],
                           on_result: Callable[[CallResult, Progress], Any],
                           cancel_event: CancelSignal | None,
                           images: JudgeImageLoader | None = None) -> Progress:
    """Debate every work item (one per item and dimension: anything with ``fields``,
    ``dimension`` and ``reference``), ``concurrency`` debates at once; each finished debate
    goes to ``on_result`` as a :class:`CallResult` keyed by its work item, whose verdict's
    rationale is the transcript (a failed one: ``error`` set, nothing to store). ``images``
    loads the images of the items' image fields (every debater sees them).

    Raises :class:`DebateSetupError` when a judge's API key variable is not set.
    """
    _check_keys(plan, environ)
    clients = {name: client_factory(judge.spec.endpoint(),
                                    api_key=api_key_from_env(judge.spec.endpoint(), environ))
               for name, judge in plan.judges.items()}
    decider = plan.judges[plan.debate.setup.decider].spec

    async def debate_one(work_item: Any, cancel: CancelSignal | None) -> CallResult:
        tokens = [0, 0]
        started = asyncio.get_running_loop().time()

        async def call(judge: str, messages: list[Message]) -> str:
            done = await clients[judge].complete(messages, cancel=cancel)
            tokens[0] += done.input_tokens or 0
            tokens[1] += done.output_tokens or 0
            if done.cancelled:
                raise DebateError("cancelled")
            if done.error is not None or done.text is None:
                raise RuntimeError(done.error or "no answer")
            return done.text

        dimension = dimensions[work_item.dimension]
        fields = (work_item.fields if images is None or not images.image_fields
                  else await asyncio.to_thread(images.fields, work_item.fields))
        try:
            messages = compiled.render(fields, dimension, reference=work_item.reference,
                                       output="verdict")
            result = await run_debate(plan.debate.setup, messages, dimension, call,
                                      n_responses=dimension.responses_in(fields))
        except (DebateError, PromptError) as error:
            cancelled = str(error) == "cancelled" or bool(cancel is not None and cancel.is_set())
            return CallResult(work_item, 0, None, None, None, "verdict", tokens[0], tokens[1],
                              None, 1, None if cancelled else str(error), cancelled)
        verdict = replace(result.verdict, rationale=result.transcript)
        return CallResult(work_item, 0, result.raw_text, verdict, decider.model, "verdict",
                          tokens[0], tokens[1], asyncio.get_running_loop().time() - started, 1)

    try:
        return await run_calls(work, call=debate_one, concurrency=concurrency,
                               on_result=on_result, cancel_event=cancel_event)
    finally:
        for client in clients.values():
            await client.close()
