"""The pages act for the user as re-read at the click, and never overwrite a newer decision.

A click can wait in the browser while another admin deactivates, demotes or resets the
clicker; the button's callback runs before the page re-checks the session. Each callback
re-reads the user first (and the storage function checks again in its transaction): the
change is not made, the clicker is signed out with the reason. Two admins editing the same
gold or the same project settings: the later save from a stale form is refused with who
changed it and when. AppTest on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

import components.users_view
from components.auth import MESSAGE_KEY, SESSION_ENDED, USER_KEY
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings, get_settings
from storage.annotator_view import user_labels
from storage.authz import OPERATOR
from storage.gold import item_gold
from storage.models import UserAccount
from storage.review import find_item_id
from storage.users import change_role, create_user, find_user, set_active, set_password
from tests.app.annotate_helpers import PROJECTS_PAGE, make_annotation_project, open_annotate
from tests.app.review_helpers import DISAGREEMENTS, open_with

USERS_PAGE = "pages/2_Users.py"
PASSWORD = "second admin password"

REVOKE = {
    "deactivated": lambda s, uid: set_active(session=s, user_id=uid, active=False, actor=OPERATOR),
    "demoted": lambda s, uid: change_role(session=s, user_id=uid, role="annotator", actor=OPERATOR),
    "password reset": lambda s, uid: set_password(session=s, user_id=uid, password="reset by ada",
                                                  actor=OPERATOR),
}


@pytest.fixture
def admin2(app_db_any, admin):
    with app_db_any.write() as session:
        return create_user(session=session, name="admin2", role="admin", password=PASSWORD,
                           actor=OPERATOR)


def revoke(db, user, how: str) -> None:
    with db.write() as session:
        REVOKE[how](session, user.id)


def signed_out_with_reason(at) -> bool:
    """Signed out, and the sign-in form says why."""
    return (USER_KEY not in at.session_state and MESSAGE_KEY not in at.session_state
            and [e.value for e in at.error] == [SESSION_ENDED]
            and at.title[0].value == "Sign in to Docket")


@pytest.mark.parametrize("how", list(REVOKE))
def test_a_revoked_admin_cannot_add_an_admin_with_a_pending_click(app_db_any, admin2, how,
                                                                  monkeypatch):
    calls = []
    monkeypatch.setattr(components.users_view, "create_user",
                        lambda **kwargs: calls.append(kwargs))
    at = open_annotate(admin2, page=USERS_PAGE)
    at.text_input(key="users.add.name").input("mallory")
    at.selectbox(key="users.add.role").set_value("admin")
    at.text_input(key="users.add.password").input("mallory password 1")
    at.text_input(key="users.add.repeat").input("mallory password 1")
    revoke(app_db_any, admin2, how)

    at.button(key="users.add.submit").click().run()

    assert not at.exception
    assert calls == []  # the callback re-read the user before it called storage
    assert signed_out_with_reason(at)
    with app_db_any.read() as session:
        assert find_user(session=session, name="mallory") is None


@pytest.mark.parametrize("how", list(REVOKE))
def test_a_revoked_admin_cannot_apply_project_settings(app_db_any, admin2, annotator, how,
                                                       tmp_path):
    project = make_annotation_project(app_db_any, tmp_path, [annotator])
    at = open_annotate(admin2, page=PROJECTS_PAGE)
    at.toggle(key=f"projects.blind.{project}").set_value(False)
    revoke(app_db_any, admin2, how)

    at.button(key=f"projects.apply.{project}").click().run()

    assert not at.exception and signed_out_with_reason(at)
    with app_db_any.read() as session:
        assert get_settings(session=session, project_id=project) == ProjectSettings()


def test_an_annotator_whose_password_was_reset_saves_no_further_label(app_db_any, annotator,
                                                                      tmp_path):
    project = make_annotation_project(app_db_any, tmp_path, [annotator])
    at = open_annotate(annotator, project_id=project)
    at.button(key="annotate.label.correct.0").click().run()
    revoke(app_db_any, annotator, "password reset")

    at.button(key="annotate.submit").click().run()

    assert not at.exception and signed_out_with_reason(at)
    with app_db_any.read() as session:
        assert not [row for row in session.execute(
            select(UserAccount.id).where(UserAccount.name == "ann"))
            if user_labels(session=session, item_id=1, user_id=row[0])]


# --- optimistic concurrency -------------------------------------------------------------------

def test_a_stale_gold_form_does_not_overwrite_a_newer_decision(app_db_any, admin, admin2,
                                                               annotator, tmp_path):
    project = make_annotation_project(app_db_any, tmp_path, [annotator])
    with app_db_any.read() as session:
        item_id = find_item_id(session=session, project_id=project, external_id="q0")
    # The expert says correct, judge-omega incorrect: q0 is a disagreement to adjudicate.
    submit_labels(app_db_any, project_id=project, user_id=annotator.id, item_id=item_id,
                  labels={"correct": "correct"}, actor=annotator)
    params = {"disagreements.project": "quiz", "disagreements.item": "q0"}
    first = open_with(DISAGREEMENTS, user=admin, params=params)
    second = open_with(DISAGREEMENTS, user=admin2, params=params)

    first.selectbox(key=f"disagreements.gold.{item_id}.correct").set_value("incorrect")
    first.button(key=f"disagreements.gold.{item_id}.save").click().run()
    assert first.success[0].value.startswith("Gold saved:")
    second.selectbox(key=f"disagreements.gold.{item_id}.correct").set_value("correct")
    second.button(key=f"disagreements.gold.{item_id}.save").click().run()

    assert not second.exception
    (error,) = [e.value.replace("\\", "") for e in second.error]
    assert error.startswith("Not saved: this item's gold: changed by ada at ")
    assert error.endswith(" UTC, after you opened it; nothing was saved — reload to see it")
    with app_db_any.read() as session:
        assert item_gold(session=session, item_id=item_id)["correct"].label == "incorrect"
    # Reloading brings ada's decision into the form; then admin2 may decide anew.
    second.button(key=f"disagreements.gold.{item_id}.reload").click().run()
    assert second.selectbox(key=f"disagreements.gold.{item_id}.correct").value == "incorrect"
    second.selectbox(key=f"disagreements.gold.{item_id}.correct").set_value("correct")
    second.button(key=f"disagreements.gold.{item_id}.save").click().run()
    assert second.success[0].value.startswith("Gold saved:")


def test_stale_project_settings_are_refused_with_who_changed_them(app_db_any, admin, admin2,
                                                                  annotator, tmp_path):
    project = make_annotation_project(app_db_any, tmp_path, [annotator])
    first = open_annotate(admin, page=PROJECTS_PAGE)
    second = open_annotate(admin2, page=PROJECTS_PAGE)

    first.number_input(key=f"projects.seed.{project}").set_value(11)
    first.button(key=f"projects.apply.{project}").click().run()
    second.toggle(key=f"projects.blind.{project}").set_value(False)
    second.button(key=f"projects.apply.{project}").click().run()

    (error,) = [e.value.replace("\\", "") for e in second.error]
    assert error.startswith("Not applied: the settings of project 'quiz': changed by ada at ")
    with app_db_any.read() as session:
        assert get_settings(session=session, project_id=project) == ProjectSettings(queue_seed=11)
    assert "after you opened them" in second.warning[-1].value
    second.button(key=f"projects.reload.{project}").click().run()
    assert second.number_input(key=f"projects.seed.{project}").value == 11
    second.toggle(key=f"projects.blind.{project}").set_value(False)
    second.button(key=f"projects.apply.{project}").click().run()
    assert "items are waiting" in second.success[0].value
    with app_db_any.read() as session:
        assert get_settings(session=session, project_id=project) == ProjectSettings(
            blind=False, queue_seed=11)
