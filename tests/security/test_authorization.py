"""Every state-changing storage function checks its actor inside its own transaction.

The matrix: each function of :data:`CHANGES` x each way an actor can have lost the right to
act (an annotator calling an admin function; deactivated; demoted; password reset since the
session signed in; deactivated and re-activated; acting in someone else's queue) -> refused
with :class:`NotAllowed`, and nothing written (the whole database compared before and after).
The same call by a rightful actor succeeds, so every refusal below is the check's doing.
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from core.templates import TEMPLATES
from storage.annotation import reveal_verdicts, set_flag, skip_item, submit_labels
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR, NotAllowed, authorize
from storage.database import Database
from storage.demo import load_demo
from storage.error_tags import set_error_categories, set_error_tags
from storage.export import ExportRequest, export_project
from storage.gold import adjudicate
from storage.importer import import_file
from storage.projects import get_project
from storage.queues import rebuild_queues
from storage.review import find_item_id
from storage.users import UserInfo, change_role, create_user, find_user, set_active, set_password
from tests.converters import write_jsonl

PASSWORD = "a long enough password"
TABLES = ("user_account", "project", "item", "judge", "verdict", "annotation", "gold",
          "project_member", "assignment", "audit_log", "error_tag")


@dataclass
class World:
    """A correctness project with two items in ann's queue, two admins and ann."""

    db: Database
    tmp: Path
    project_id: int
    items: list[int]
    ann: UserInfo
    admin: UserInfo   # the one who revokes
    admin2: UserInfo  # the one whose rights are revoked

    def user(self, name: str) -> UserInfo:
        with self.db.read() as session:
            found = find_user(session=session, name=name)
        assert found is not None
        return found


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    records = [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
                "judges": {"gpt": {"correct": "correct"}}} for i in range(2)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.write() as session:
        project_id = get_project(session=session, name="quiz").id
        users = [create_user(session=session, name=name, role=role, password=PASSWORD,
                             actor=OPERATOR)
                 for name, role in (("ann", "annotator"), ("boss", "admin"), ("admin2", "admin"))]
        update_settings(session=session, project_id=project_id, settings=ProjectSettings(),
                        actor=OPERATOR)
        set_members(session=session, project_id=project_id, user_ids=[users[0].id],
                    actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        items = [find_item_id(session=session, project_id=project_id, external_id=f"q{i}")
                 for i in range(2)]
    return World(db, tmp_path, project_id, items, *users)


# --- the state-changing functions ------------------------------------------------------------

Change = Callable[[World, UserInfo], object]


def _write(world: World, change: Callable) -> object:
    with world.db.write() as session:
        return change(session)


ADMIN_CHANGES: dict[str, Change] = {
    "create_user": lambda w, actor: _write(w, lambda s: create_user(
        session=s, name="mallory", role="admin", password=PASSWORD, actor=actor)),
    "set_password": lambda w, actor: _write(w, lambda s: set_password(
        session=s, user_id=w.ann.id, password="another long password", actor=actor)),
    "change_role": lambda w, actor: _write(w, lambda s: change_role(
        session=s, user_id=w.ann.id, role="admin", actor=actor)),
    "set_active": lambda w, actor: _write(w, lambda s: set_active(
        session=s, user_id=w.ann.id, active=False, actor=actor)),
    "update_settings": lambda w, actor: _write(w, lambda s: update_settings(
        session=s, project_id=w.project_id, settings=ProjectSettings(blind=False, overlap=2),
        actor=actor)),
    "set_members": lambda w, actor: _write(w, lambda s: set_members(
        session=s, project_id=w.project_id, user_ids=[w.ann.id, w.admin.id], actor=actor)),
    "rebuild_queues": lambda w, actor: rebuild_queues(w.db, project_id=w.project_id, actor=actor),
    "adjudicate": lambda w, actor: _write(w, lambda s: adjudicate(
        session=s, item_id=w.items[0], labels={"correct": "incorrect"}, actor=actor)),
    "set_error_tags": lambda w, actor: _write(w, lambda s: set_error_tags(
        session=s, item_id=w.items[0], judge="gpt", dimension="correct", categories=["format"],
        actor=actor)),
    "set_error_categories": lambda w, actor: _write(w, lambda s: set_error_categories(
        session=s, project_id=w.project_id, categories=["format"], actor=actor)),
    "import_file": lambda w, actor: import_file(
        w.db, write_jsonl([{"id": "q9", "prompt": "New?", "response": "Yes"}], w.tmp / "new.jsonl"),
        project_name="quiz", schema=None, actor=actor),
    "load_demo": lambda w, actor: load_demo(w.db, actor=actor),
    "export_project": lambda w, actor: export_project(
        w.db, project_name="quiz", request=ExportRequest(kind="labels", fmt="jsonl"),
        path=w.tmp / "labels.jsonl", actor=actor),
}

SELF_CHANGES: dict[str, Change] = {
    "submit_labels": lambda w, actor: submit_labels(
        w.db, project_id=w.project_id, user_id=w.ann.id, item_id=w.items[0],
        labels={"correct": "correct"}, actor=actor),
    "skip_item": lambda w, actor: skip_item(
        w.db, project_id=w.project_id, user_id=w.ann.id, item_id=w.items[0], reason="unsure",
        actor=actor),
    "set_flag": lambda w, actor: set_flag(
        w.db, project_id=w.project_id, user_id=w.ann.id, item_id=w.items[0], flagged=True,
        actor=actor),
    "reveal_verdicts": lambda w, actor: reveal_verdicts(
        w.db, project_id=w.project_id, user_id=w.ann.id, item_id=w.items[0], actor=actor),
}


# --- how an actor loses the right to act -----------------------------------------------------

def _revoke(world: World, name: str, change: Callable) -> UserInfo:
    """The session's view of ``name`` as it signed in, then ``change`` made by the admin."""
    signed_in = world.user(name)
    _write(world, lambda s: change(s, signed_in.id))
    return signed_in


ADMIN_REVOCATIONS: dict[str, Callable[[World], UserInfo]] = {
    "annotator": lambda w: w.user("ann"),
    "deactivated": lambda w: _revoke(w, "admin2", lambda s, uid: set_active(
        session=s, user_id=uid, active=False, actor=w.admin)),
    "demoted": lambda w: _revoke(w, "admin2", lambda s, uid: change_role(
        session=s, user_id=uid, role="annotator", actor=w.admin)),
    "password reset": lambda w: _revoke(w, "admin2", lambda s, uid: set_password(
        session=s, user_id=uid, password="reset by the boss", actor=w.admin)),
    "deactivated and re-activated": lambda w: _revoke(w, "admin2", lambda s, uid: (
        set_active(session=s, user_id=uid, active=False, actor=w.admin),
        set_active(session=s, user_id=uid, active=True, actor=w.admin))),
}

SELF_REVOCATIONS: dict[str, Callable[[World], UserInfo]] = {
    "deactivated": lambda w: _revoke(w, "ann", lambda s, uid: set_active(
        session=s, user_id=uid, active=False, actor=w.admin)),
    "password reset": lambda w: _revoke(w, "ann", lambda s, uid: set_password(
        session=s, user_id=uid, password="reset by the boss", actor=w.admin)),
    "promoted": lambda w: _revoke(w, "ann", lambda s, uid: change_role(
        session=s, user_id=uid, role="admin", actor=w.admin)),
    "someone else's queue": lambda w: w.user("admin2"),
}


def database_contents(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, for a before/after comparison."""
    with db.read() as session:
        return {table: sorted(tuple(map(repr, row)) for row in
                              session.execute(text(f"SELECT * FROM {table}")))
                for table in TABLES}


@pytest.mark.parametrize("revocation", list(ADMIN_REVOCATIONS))
@pytest.mark.parametrize("function", list(ADMIN_CHANGES))
def test_an_admin_function_refuses_an_actor_without_the_right(world, function, revocation):
    actor = ADMIN_REVOCATIONS[revocation](world)
    before = database_contents(world.db)

    with pytest.raises(NotAllowed):
        ADMIN_CHANGES[function](world, actor)

    assert database_contents(world.db) == before
    assert not (world.tmp / "labels.jsonl").exists()


@pytest.mark.parametrize("revocation", list(SELF_REVOCATIONS))
@pytest.mark.parametrize("function", list(SELF_CHANGES))
def test_a_labelling_function_refuses_an_actor_without_the_right(world, function, revocation):
    if function == "reveal_verdicts":  # allowed after a label in a blind project
        submit_labels(world.db, project_id=world.project_id, user_id=world.ann.id,
                      item_id=world.items[0], labels={"correct": "correct"}, actor=world.ann)
    actor = SELF_REVOCATIONS[revocation](world)
    before = database_contents(world.db)

    with pytest.raises(NotAllowed):
        SELF_CHANGES[function](world, actor)

    assert database_contents(world.db) == before


@pytest.mark.parametrize("function", list(ADMIN_CHANGES))
def test_a_rightful_admin_makes_every_admin_change(world, function):
    before = database_contents(world.db)
    ADMIN_CHANGES[function](world, world.admin2)
    changed = database_contents(world.db) != before
    assert changed or function == "export_project"
    assert function != "export_project" or (world.tmp / "labels.jsonl").exists()


@pytest.mark.parametrize("function", list(SELF_CHANGES))
def test_an_annotator_makes_every_change_in_their_own_queue(world, function):
    if function == "reveal_verdicts":
        submit_labels(world.db, project_id=world.project_id, user_id=world.ann.id,
                      item_id=world.items[0], labels={"correct": "correct"}, actor=world.ann)
    before = database_contents(world.db)
    SELF_CHANGES[function](world, world.ann)
    assert database_contents(world.db) != before


def test_the_refusal_says_why(world):
    ann, admin2 = world.ann, world.admin2
    with world.db.write() as session, pytest.raises(NotAllowed) as caught:
        authorize(session, ann, role="admin", action="export")
    assert str(caught.value) == "'ann' is not an admin: only admins may export"
    reset = ADMIN_REVOCATIONS["password reset"](world)
    with world.db.write() as session, pytest.raises(NotAllowed) as caught:
        authorize(session, reset, role="admin")
    assert str(caught.value) == ("the account 'admin2' was changed since it signed in (password, "
                                 "role or activation): sign in again")
    _write(world, lambda s: set_active(session=s, user_id=admin2.id, active=False,
                                       actor=world.admin))
    with world.db.write() as session, pytest.raises(NotAllowed) as caught:
        authorize(session, world.user("admin2"), role="admin")
    assert str(caught.value) == "the account 'admin2' is deactivated or deleted"


def test_the_command_line_operator_needs_no_account(world):
    with world.db.write() as session:
        assert authorize(session, OPERATOR, role="admin") is None
