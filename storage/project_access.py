"""Which projects a signed-in user may see: every project for an admin, the projects they
annotate for anyone else (the HTTP API's project list; the app's pages show the same)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage.authz import ADMIN, Actor, authorize
from storage.models import Project, ProjectMember, UserAccount
from storage.projects import ProjectSummary, project_summaries


def visible_project_summaries(*, session: Session, actor: Actor) -> list[ProjectSummary]:
    """Return the project lines ``actor`` may see, sorted by name: all of them for an admin
    or the command line's operator, else the projects the actor is a member of.

    Raises :class:`~storage.authz.NotAllowed` for a deactivated or changed account.
    """
    user_id = authorize(session, actor, action="list projects")
    summaries = project_summaries(session=session)
    if user_id is None or session.get(UserAccount, user_id).role == ADMIN:
        return summaries
    member_of = set(session.execute(select(Project.name).join(
        ProjectMember, ProjectMember.project_id == Project.id).where(
        ProjectMember.user_id == user_id)).scalars())
    return [summary for summary in summaries if summary.name in member_of]
