"""How a project is annotated: its settings (blind, overlap, queue order and seed, trusted
fields, the label-budget target) and its annotators (members).

:class:`AnnotationError` is the error of every annotation call whose reason the person can
act on (a bad setting, an unknown item, a label outside the scale); the queue, view and write
modules raise it too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlmodel import Session

from core.queues import MAX_OVERLAP, QUEUE_ORDERS
from storage.authz import ADMIN, Actor, authorize
from storage.models import AuditLog, Project, ProjectMember, UserAccount
from storage.projects import ProjectInfo, project_by_id
from storage.revisions import Revision, check_revision, latest_revision

SETTINGS_ACTIONS = ("settings", "members")


class AnnotationError(ValueError):
    """A labelling action that is not allowed or not valid; the message says why."""


@dataclass(frozen=True)
class ProjectSettings:
    """How a project is annotated."""

    blind: bool = True
    overlap: int = 1
    queue_order: str = "sequential"
    queue_seed: int = 0
    trusted_fields: tuple[str, ...] = ()
    target_halfwidth: float = 0.05


def get_settings(*, session: Session, project_id: int) -> ProjectSettings:
    """Return the project's annotation settings; raises AnnotationError for an unknown project."""
    project = session.get(Project, project_id)
    if project is None:
        raise AnnotationError(f"no project with id {project_id}")
    return ProjectSettings(project.blind, project.overlap, project.queue_order,
                           project.queue_seed, tuple(json.loads(project.trusted_fields)),
                           project.target_halfwidth)


def update_settings(*, session: Session, project_id: int, settings: ProjectSettings,
                    actor: Actor, expected_revision: int | None = None) -> None:
    """Store ``settings`` (validated) and log the change; raises AnnotationError if invalid.

    Changing the order, seed or overlap takes effect on queues at :func:`rebuild_queues`.
    ``actor`` must be an admin (:class:`~storage.authz.NotAllowed` otherwise). With
    ``expected_revision`` (:func:`settings_revision` when the form was drawn) a newer change
    by someone else is refused with :class:`~storage.revisions.StaleEdit`.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    project = session.get(Project, project_id, with_for_update=_postgres(session))
    if project is None:
        raise AnnotationError(f"no project with id {project_id}")
    check_revision(session=session, expected=expected_revision,
                   what=f"the settings of project {project.name!r}", actions=SETTINGS_ACTIONS,
                   subject_id=project_id)
    if not 1 <= settings.overlap <= MAX_OVERLAP:
        raise AnnotationError(f"overlap must be between 1 and {MAX_OVERLAP}, got {settings.overlap}")
    if settings.queue_order not in QUEUE_ORDERS:
        raise AnnotationError(f"unknown queue order {settings.queue_order!r} "
                              f"(orders: {', '.join(QUEUE_ORDERS)})")
    if not 0 < settings.target_halfwidth <= 1000:
        raise AnnotationError(f"the target half-width must be a positive number (at most "
                              f"1000), got {settings.target_halfwidth}")
    schema = project_by_id(session=session, project_id=project_id).schema
    unknown = set(settings.trusted_fields) - set(schema.field_names)
    if unknown:
        raise AnnotationError(f"unknown field(s) {sorted(unknown)} (fields: "
                              f"{', '.join(schema.field_names)})")
    old = get_settings(session=session, project_id=project_id)
    project.blind = settings.blind
    project.overlap = settings.overlap
    project.queue_order = settings.queue_order
    project.queue_seed = settings.queue_seed
    project.trusted_fields = json.dumps(list(settings.trusted_fields))
    project.target_halfwidth = settings.target_halfwidth
    session.add(AuditLog(actor_id=actor_id, action="settings", subject_id=project_id,
                         old_value=repr(old), new_value=repr(settings),
                         reason=f"project {project.name}"))


def set_members(*, session: Session, project_id: int, user_ids: Sequence[int],
                actor: Actor) -> None:
    """Make exactly ``user_ids`` the project's annotators (their labels stay when removed).

    Raises AnnotationError for an unknown or inactive user, and
    :class:`~storage.authz.NotAllowed` unless ``actor`` is an admin.
    """
    actor_id = authorize(session, actor, role=ADMIN)
    wanted = set(user_ids)
    users = {u.id: u for u in session.execute(
        select(UserAccount).where(UserAccount.id.in_(wanted))).scalars()} if wanted else {}
    for user_id in wanted:
        user = users.get(user_id)
        if user is None or not user.active:
            raise AnnotationError(f"user {user_id} does not exist or is not active")
    current = set(session.execute(select(ProjectMember.user_id)
                                  .where(ProjectMember.project_id == project_id)).scalars())
    if current - wanted:
        session.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id,
                                                    ProjectMember.user_id.in_(current - wanted)))
    for user_id in sorted(wanted - current):
        session.add(ProjectMember(project_id=project_id, user_id=user_id))
    if current != wanted:
        session.add(AuditLog(actor_id=actor_id, action="members", subject_id=project_id,
                             old_value=json.dumps(sorted(current)), new_value=json.dumps(sorted(wanted)),
                             reason=f"project {project_id}"))


def settings_revision(*, session: Session, project_id: int) -> Revision:
    """The newest change of the project's settings or members (for the Projects form)."""
    return latest_revision(session=session, actions=SETTINGS_ACTIONS, subject_id=project_id)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def member_ids(*, session: Session, project_id: int) -> list[int]:
    """Return the ids of the project's annotators."""
    return sorted(session.execute(select(ProjectMember.user_id)
                                  .where(ProjectMember.project_id == project_id)).scalars())


def member_projects(*, session: Session, user_id: int) -> list[ProjectInfo]:
    """Return the projects ``user_id`` annotates, by name."""
    ids = session.execute(select(ProjectMember.project_id).join(Project)
                          .where(ProjectMember.user_id == user_id).order_by(Project.name)).scalars()
    return [project_by_id(session=session, project_id=project_id) for project_id in ids]
