"""Judge definitions and their prompt versions (admins only).

A judge is an OpenAI-compatible endpoint and model (the *name* of the variable holding its API
key, never the key), sampling settings, prices and audit metadata — or an offline lexical
judge. Its prompt is versioned per task (schema name): the first version is the shipped
strategy (:func:`core.judges.prompting.builtin_prompt`), every edit adds the next version,
nothing is overwritten, so every verdict can name the exact prompt that produced it. In the
metrics a judge's verdicts appear as ``NAME`` (version 1), ``NAME@v2``, ... and the order-
swapped run of a pairwise task as ``NAME@swapped`` (:func:`rater_name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from sqlalchemy import func, select
from sqlmodel import Session

from core.judges.endpoints import Endpoint, EndpointError, vision_problem
from core.judges.lexical import LEXICAL_JUDGES
from core.judges.prompting import (
    STRATEGIES,
    PromptError,
    PromptTemplate,
    builtin_prompt,
    compile_prompt,
)
from core.safe_text import require_safe_text
from core.schema import TaskSchema
from storage.authz import ADMIN, Actor, authorize
from storage.models import AuditLog, JudgeDefinition, PromptVersion, utcnow

JUDGE_KINDS = ("llm", "lexical")
SWAPPED = "@swapped"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class JudgeError(ValueError):
    """A judge definition or prompt that is not acceptable; the message names the setting."""


@dataclass(frozen=True)
class JudgeSpec:
    """What an admin sets for a judge (``storage.models.JudgeDefinition`` without ids)."""

    name: str
    kind: str = "llm"
    lexical: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = 1024
    seed: int | None = None
    timeout_s: float = 60.0
    structured_output: bool = True
    vision: bool = False
    price_input_per_million: float | None = None
    price_output_per_million: float | None = None
    strategy: str = "direct"
    reference_guided: bool = False
    family: str | None = None
    size: str | None = None
    provider: str | None = None

    def endpoint(self) -> Endpoint:
        """The endpoint of an LLM judge; raises :class:`JudgeError` naming a bad setting."""
        if self.kind != "llm":
            raise JudgeError(f"judge {self.name!r} is {self.kind}: it calls no endpoint")
        try:
            return Endpoint(base_url=self.base_url or "", model=self.model or "",
                            api_key_env=self.api_key_env, temperature=self.temperature,
                            max_tokens=self.max_tokens, seed=self.seed, timeout=self.timeout_s,
                            price_input_per_million=self.price_input_per_million,
                            price_output_per_million=self.price_output_per_million,
                            structured_output=self.structured_output, vision=self.vision)
        except EndpointError as exc:
            raise JudgeError(f"judge {self.name!r}: {exc}") from None


@dataclass(frozen=True)
class JudgeInfo:
    """A stored judge: its id and settings."""

    id: int
    spec: JudgeSpec

    @property
    def name(self) -> str:
        """The judge's name."""
        return self.spec.name


@dataclass(frozen=True)
class PromptInfo:
    """One stored prompt version of a judge for a task."""

    id: int
    judge_id: int
    task: str
    version: int
    template: PromptTemplate
    reference_guided: bool
    note: str | None


def rater_name(judge: str, version: int, *, swapped: bool = False) -> str:
    """The judge row a run writes to: ``NAME`` for prompt version 1 (and lexical judges, 0),
    ``NAME@v2``, ...; ``@swapped`` appended for the order-swapped run of a pairwise task."""
    name = judge if version <= 1 else f"{judge}@v{version}"
    return name + (SWAPPED if swapped else "")


def check_spec(spec: JudgeSpec) -> JudgeSpec:
    """Return ``spec`` if every setting is valid; raise :class:`JudgeError` naming the first bad one."""
    if not NAME_PATTERN.fullmatch(spec.name or "") or "@" in spec.name:
        raise JudgeError(f"name: {spec.name!r} is not a judge name (1-100 letters, digits and "
                         "._-, starting with a letter or digit; '@' is kept for versions)")
    if spec.kind not in JUDGE_KINDS:
        raise JudgeError(f"kind: {spec.kind!r} is not one of {', '.join(JUDGE_KINDS)}")
    if spec.kind == "lexical":
        if spec.lexical not in LEXICAL_JUDGES:
            raise JudgeError(f"lexical: {spec.lexical!r} is not one of {', '.join(LEXICAL_JUDGES)}")
        return spec
    spec.endpoint()
    if spec.strategy not in STRATEGIES:
        raise JudgeError(f"strategy: {spec.strategy!r} is not one of {', '.join(STRATEGIES)}")
    for name in ("family", "size", "provider", "model"):
        value = getattr(spec, name)
        if value is not None:
            require_safe_text(value, what=name, error=JudgeError)
    return spec


def require_vision(judge: JudgeInfo, schema: TaskSchema) -> None:
    """Return when LLM judge ``judge`` may be run on ``schema``'s items: the task has no image
    fields, or the judge's endpoint is marked vision-capable. Otherwise raise
    :class:`JudgeError` naming the judge, its endpoint and the image fields."""
    refused = vision_problem(judge.spec.endpoint(), [f.name for f in schema.image_fields])
    if refused is not None:
        raise JudgeError(f"judge {judge.name!r}: {refused}; define a judge marked vision-capable "
                         "to run on this project (judge add --vision, or Vision-capable on "
                         "the Judges page)")


def create_judge(*, session: Session, spec: JudgeSpec, actor: Actor) -> JudgeInfo:
    """Store a new judge and return it. ``actor`` must be an admin
    (:class:`~storage.authz.NotAllowed`); raises :class:`JudgeError` for a bad setting or a
    name in use (ignoring case)."""
    actor_id = authorize(session, actor, role=ADMIN)
    check_spec(spec)
    taken = session.execute(select(JudgeDefinition.name).where(
        func.lower(JudgeDefinition.name) == spec.name.lower())).scalar()
    if taken is not None:
        raise JudgeError(f"name: a judge named {taken!r} exists already")
    row = JudgeDefinition(**{f.name: getattr(spec, f.name) for f in fields(spec)},
                          created_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    session.add(AuditLog(actor_id=actor_id, action="judge_created", subject_id=row.id,
                         new_value=spec.name))
    return _info(row)


def list_judges(*, session: Session) -> list[JudgeInfo]:
    """Every stored judge, by name."""
    rows = session.execute(select(JudgeDefinition).order_by(JudgeDefinition.name)).scalars()
    return [_info(row) for row in rows]


def find_judge(*, session: Session, name: str) -> JudgeInfo | None:
    """The judge called ``name``, or None."""
    row = session.execute(select(JudgeDefinition).where(JudgeDefinition.name == name)).scalar()
    return _info(row) if row is not None else None


def get_judge(*, session: Session, name: str) -> JudgeInfo:
    """The judge called ``name``; raises :class:`JudgeError` listing the judges otherwise."""
    judge = find_judge(session=session, name=name)
    if judge is None:
        names = [j.name for j in list_judges(session=session)]
        raise JudgeError(f"no judge named {name!r} (judges: {', '.join(names) or 'none yet'})")
    return judge


def prompt_versions(*, session: Session, judge_id: int, task: str) -> list[PromptInfo]:
    """Every prompt version of the judge for ``task``, oldest first."""
    rows = session.execute(select(PromptVersion).where(
        PromptVersion.judge_definition_id == judge_id, PromptVersion.task == task)
        .order_by(PromptVersion.version)).scalars()
    return [_prompt(row) for row in rows]


def current_prompt(*, session: Session, judge: JudgeInfo, schema: TaskSchema, actor: Actor
                   ) -> PromptInfo:
    """The judge's newest prompt for ``schema``'s task; the shipped strategy becomes version 1
    the first time (``actor`` must then be an admin). Raises :class:`JudgeError` for a
    lexical judge."""
    if judge.spec.kind != "llm":
        raise JudgeError(f"judge {judge.name!r} is {judge.spec.kind}: it has no prompt")
    versions = prompt_versions(session=session, judge_id=judge.id, task=schema.name)
    if versions:
        return versions[-1]
    template = builtin_prompt(schema, judge.spec.strategy, reference=judge.spec.reference_guided)
    return add_prompt_version(session=session, judge=judge, schema=schema, template=template,
                              actor=actor, note="shipped strategy")


def add_prompt_version(*, session: Session, judge: JudgeInfo, schema: TaskSchema,
                       template: PromptTemplate, actor: Actor, note: str | None = None
                       ) -> PromptInfo:
    """Store ``template`` as the judge's next prompt version for ``schema``'s task; return it.

    The template is compiled against the schema first: a field it does not know, a missing
    ``{output_format}`` or a stray brace is refused with :class:`JudgeError` naming it.
    ``actor`` must be an admin. An edit identical to the newest version adds nothing and
    returns that version.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    require_safe_text(template.system, what="prompt: the system text", error=JudgeError)
    require_safe_text(template.user, what="prompt: the user text", error=JudgeError)
    if note is not None:
        require_safe_text(note, what="the note", error=JudgeError)
    try:
        compiled = compile_prompt(template, schema)
    except PromptError as exc:
        raise JudgeError(f"prompt: {exc}") from None
    versions = prompt_versions(session=session, judge_id=judge.id, task=schema.name)
    if versions and versions[-1].template == template:
        return versions[-1]
    row = PromptVersion(judge_definition_id=judge.id, task=schema.name,
                        version=(versions[-1].version + 1) if versions else 1,
                        strategy=template.strategy, reference_guided=compiled.reference_guided,
                        system_text=template.system, user_text=template.user, note=note,
                        created_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    session.add(AuditLog(actor_id=actor_id, action="prompt_version", subject_id=judge.id,
                         new_value=f"{judge.name} {schema.name} v{row.version}", reason=note))
    return _prompt(row)


def _info(row: JudgeDefinition) -> JudgeInfo:
    spec = JudgeSpec(**{f.name: getattr(row, f.name) for f in fields(JudgeSpec)})
    return JudgeInfo(row.id, spec)


def _prompt(row: PromptVersion) -> PromptInfo:
    return PromptInfo(row.id, row.judge_definition_id, row.task, row.version,
                      PromptTemplate(system=row.system_text, user=row.user_text,
                                     strategy=row.strategy),
                      row.reference_guided, row.note)
