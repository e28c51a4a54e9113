"""Stored juries of a project (admins create and delete them; everyone reads them).

A jury is a name, two or more member judges of the project (its judge rows: ``NAME``,
``NAME@v2``, ``debate:NAME``...) and a rule: ``majority`` (nominal, ordinal scales),
``median`` (ordinal, interval) or ``mean`` (interval), checked against every dimension of the
project's task. In the metrics, the Dashboard and the exports it is the rater ``jury:NAME``
(:func:`core.metrics.consensus.jury_verdict`); on a dimension where a member has no verdict
it is left out.

Juries combine labels: a project with a ranking dimension (``scale = "ranking"``) gets none
(each judge's ranking is compared with the experts' on its own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlmodel import Session

from core.metrics.compare import JURY_NAME_CHARS
from core.metrics.consensus import JURY_RULES, RULE_SCALES, Jury
from core.metrics.ratings import JUDGE
from core.safe_text import require_safe_text
from storage.authz import ADMIN, Actor, authorize
from storage.models import AuditLog, Judge, utcnow
from storage.models import Jury as JuryRow
from storage.projects import project_by_id

# Like a judge's name, and spaces inside ("big two"): a jury name is only ever shown.
NAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._ -]*[A-Za-z0-9._-])?")


class JuryError(ValueError):
    """A jury that cannot be stored or used as given; the message names what is wrong."""


@dataclass(frozen=True)
class JuryInfo:
    """A stored jury: its name, member judges (rater names without ``judge:``) and rule."""

    id: int
    project_id: int
    name: str
    members: tuple[str, ...]
    rule: str

    @property
    def jury(self) -> Jury:
        """The jury as the metrics take it."""
        return Jury(self.members, self.rule)


def _judge_names(session: Session, project_id: int) -> list[str]:
    return list(session.execute(select(Judge.name).where(Judge.project_id == project_id)
                                .order_by(Judge.name)).scalars())


def check_jury(*, session: Session, project_id: int, name: str, members: Sequence[str],
               rule: str) -> tuple[str, tuple[str, ...], str]:
    """Return the cleaned ``(name, members, rule)``; raise :class:`JuryError` naming the first
    problem: a bad or taken name, an unknown member, fewer than two members, a rule that is
    not one of :data:`~core.metrics.consensus.JURY_RULES` or does not fit a dimension's scale,
    a project with a ranking dimension (juries are for label dimensions)."""
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name) or len(name) > JURY_NAME_CHARS:
        raise JuryError(f"jury name {name!r}: use 1 to {JURY_NAME_CHARS} letters, digits and "
                        "._- and inner spaces, starting with a letter or digit")
    taken = session.execute(select(JuryRow.name).where(
        JuryRow.project_id == project_id, func.lower(JuryRow.name) == name.lower())).scalar()
    if taken is not None:
        raise JuryError(f"jury name {name!r}: the project has a jury named {taken!r} already")
    cleaned = tuple(dict.fromkeys(m.strip().removeprefix(f"{JUDGE}:") for m in members
                                  if m.strip()))
    for member in cleaned:
        require_safe_text(member, what="a jury member", error=JuryError)
    known = _judge_names(session, project_id)
    unknown = [m for m in cleaned if m not in known]
    if unknown:
        raise JuryError(f"jury {name!r}: unknown judge {unknown[0]!r} in this project (judges: "
                        f"{', '.join(known) or 'none yet'})")
    if len(cleaned) < 2:
        raise JuryError(f"jury {name!r}: a jury needs at least two different judges, got "
                        f"{list(cleaned)}")
    if rule not in RULE_SCALES:
        raise JuryError(f"jury {name!r}: rule {rule!r} is not one of {', '.join(JURY_RULES)}")
    schema = project_by_id(session=session, project_id=project_id).schema
    for dimension in schema.dimensions:
        if dimension.is_ranking:
            raise JuryError(f"jury {name!r}: juries combine the labels of nominal, ordinal and "
                            f"interval dimensions, and dimension {dimension.name!r} is a "
                            "ranking: compare each judge's ranking with the experts' instead")
        if dimension.scale not in RULE_SCALES[rule]:
            fitting = [r for r, scales in RULE_SCALES.items() if dimension.scale in scales]
            raise JuryError(f"jury {name!r}: rule {rule!r} does not fit dimension "
                            f"{dimension.name!r} ({dimension.scale}); use {' or '.join(fitting)}")
    return name, cleaned, rule


def create_jury(*, session: Session, project_id: int, name: str, members: Sequence[str],
                rule: str, actor: Actor) -> JuryInfo:
    """Store a jury of the project and return it. ``actor`` must be an admin
    (:class:`~storage.authz.NotAllowed`); raises :class:`JuryError` as :func:`check_jury`."""
    actor_id = authorize(session, actor, role=ADMIN, action="define juries")
    name, members, rule = check_jury(session=session, project_id=project_id, name=name,
                                     members=members, rule=rule)
    row = JuryRow(project_id=project_id, name=name, members_json=json.dumps(list(members)),
                  rule=rule, created_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    session.add(AuditLog(actor_id=actor_id, action="jury_created", subject_id=row.id,
                         new_value=f"{name} = {rule} of {', '.join(members)}"))
    return _info(row)


def list_juries(*, session: Session, project_id: int) -> list[JuryInfo]:
    """The project's stored juries, by name."""
    rows = session.execute(select(JuryRow).where(JuryRow.project_id == project_id)
                           .order_by(JuryRow.name)).scalars()
    return [_info(row) for row in rows]


def delete_jury(*, session: Session, project_id: int, name: str, actor: Actor) -> None:
    """Delete the project's jury ``name``. ``actor`` must be an admin; raises
    :class:`JuryError` (listing the juries) when there is none of that name."""
    actor_id = authorize(session, actor, role=ADMIN, action="delete juries")
    row = session.execute(select(JuryRow).where(JuryRow.project_id == project_id,
                                                JuryRow.name == name)).scalar()
    if row is None:
        names = [j.name for j in list_juries(session=session, project_id=project_id)]
        raise JuryError(f"no jury named {name!r} in this project (juries: "
                        f"{', '.join(names) or 'none'})")
    session.execute(delete(JuryRow).where(JuryRow.id == row.id))
    session.add(AuditLog(actor_id=actor_id, action="jury_deleted", subject_id=row.id,
                         old_value=name))


def jury_map(*, session: Session, project_id: int,
             extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, Jury]:
    """The project's stored juries by name, then ``extra`` ones (``--jury NAME=a,b``: the
    scale's default rule). Raises :class:`JuryError` when an extra jury's name is taken."""
    juries = {info.name: info.jury for info in list_juries(session=session, project_id=project_id)}
    for name, members in (extra or {}).items():
        if name in juries:
            raise JuryError(f"--jury {name}: the project has a stored jury of that name")
        juries[name] = Jury(tuple(members))
    return juries


def usable_juries(juries: Mapping[str, Jury], judges: Sequence[str]) -> tuple[dict[str, Jury], list[str]]:
    """The juries whose members all have verdicts among ``judges`` (``judge:<name>`` raters of
    one dimension), and the names of those left out."""
    present = {name.split(":", 1)[1] for name in judges}
    kept = {name: jury for name, jury in juries.items()
            if {m.removeprefix(f"{JUDGE}:") for m in jury.members} <= present}
    return kept, [name for name in juries if name not in kept]


def _info(row: JuryRow) -> JuryInfo:
    return JuryInfo(row.id, row.project_id, row.name, tuple(json.loads(row.members_json)), row.rule)
