"""Users page (AppTest): add users, set passwords, change roles, (de)activate, last-admin rule.

Every change is read back from the database through ``storage``, and passwords are checked by
signing in with them.
"""

from __future__ import annotations

from sqlalchemy import select

from components.auth import USER_KEY
from storage.authz import OPERATOR
from storage.models import UserAccount
from storage.sign_in import authenticate
from storage.users import create_user, find_user
from tests.app.apptest_helpers import open_page, rendered
from tests.app.conftest import ADMIN_PASSWORD, ANNOTATOR_PASSWORD

USERS_PAGE = "pages/2_Users.py"


def plain(text: str) -> str:
    return text.replace("\\", "")


def user_in_db(db, name: str):
    with db.read() as session:
        return find_user(session=session, name=name)


def add_user(at, name: str, role: str, password: str, repeat: str | None = None,
             display_name: str = ""):
    at.text_input(key="users.add.name").input(name)
    at.text_input(key="users.add.display_name").input(display_name)
    at.selectbox(key="users.add.role").set_value(role)
    at.text_input(key="users.add.password").input(password)
    at.text_input(key="users.add.repeat").input(password if repeat is None else repeat)
    at.button(key="users.add.submit").click()
    return at.run()


def pick(at, db, name: str):
    at.selectbox(key="users.pick").set_value(user_in_db(db, name).id)
    return at.run()


def test_admin_sees_the_user_list_and_the_forms(app_db, admin, annotator):
    at = open_page(USERS_PAGE, user=admin)
    assert not at.exception
    table = at.dataframe[0].value
    assert table[["user", "display name", "role", "active", "can sign in"]].values.tolist() == [
        ["ada", "Ada Admin", "admin", True, True], ["ann", "", "annotator", True, True]]
    assert at.selectbox(key="users.add.role").options == ["admin", "annotator"]
    assert at.selectbox(key="users.add.role").value == "annotator"
    assert at.text_input(key="users.add.password").proto.type == at.text_input(
        key="users.add.password").proto.PASSWORD


def test_admin_adds_an_annotator_who_can_then_sign_in(app_db_any, admin):
    db = app_db_any
    at = open_page(USERS_PAGE, user=admin)
    add_user(at, "maria@example.org", "annotator", "marias password", display_name="Maria")
    assert not at.exception
    assert plain(at.success[0].value) == "Added maria@example.org (annotator)."
    assert "maria@example.org" in list(at.dataframe[0].value["user"])
    user = user_in_db(db, "maria@example.org")
    assert (user.role, user.display_name, user.active) == ("annotator", "Maria", True)
    with db.read() as session:
        stored = session.execute(select(UserAccount.password_hash)
                                 .where(UserAccount.id == user.id)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert authenticate(db, name="maria@example.org", password="marias password") == user
    # The form is emptied; the passwords are not kept in the session.
    assert at.text_input(key="users.add.name").value == ""
    assert at.session_state["users.add.password"] == at.session_state["users.add.repeat"] == ""


def test_adding_a_user_with_bad_input_changes_nothing_and_never_echoes_the_password(app_db, admin):
    at = open_page(USERS_PAGE, user=admin)
    add_user(at, "bob", "annotator", "bobs password", repeat="bobs passw0rd")
    assert [e.value for e in at.error] == ["Not added: the two passwords differ."]
    add_user(at, "bob", "annotator", "Zr4&kd")
    assert [plain(e.value) for e in at.error] == [
        "Not changed: password is too short: at least 10 characters."]
    assert "Zr4&kd" not in at.error[0].value
    add_user(at, "ada", "annotator", "a fine password")
    assert [plain(e.value) for e in at.error] == ["Not changed: a user named 'ada' exists already."]
    add_user(at, "bob smith", "annotator", "a fine password")
    assert "may only contain letters, digits" in plain(at.error[0].value)
    assert user_in_db(app_db, "bob") is None and user_in_db(app_db, "bob smith") is None
    assert not at.exception


def test_admin_changes_a_role_and_the_user_gets_the_admin_pages(app_db, admin, annotator):
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "ann")
    assert at.button(key="users.change_role").disabled  # the role it has already
    at.selectbox(key=f"users.role.{annotator.id}").set_value("admin").run()
    at.button(key="users.change_role").click().run()
    assert not at.exception
    assert plain(at.success[0].value) == "ann is now admin."
    assert user_in_db(app_db, "ann").role == "admin"
    # The role change ended ann's sessions; signed in again, ann has the admin pages.
    assert USER_KEY not in open_page(USERS_PAGE, user=annotator).session_state
    promoted = open_page(USERS_PAGE, user=user_in_db(app_db, "ann"))
    assert promoted.title[0].value == "Users"


def test_the_last_admin_cannot_be_deactivated_or_demoted_from_the_page(app_db, admin, annotator):
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "ada")
    at.button(key="users.toggle_active").click().run()
    assert [plain(e.value) for e in at.error] == [
        "Not changed: 'ada' is the last active admin and cannot be deactivated; make another "
        "user admin first."]
    at.selectbox(key=f"users.role.{admin.id}").set_value("annotator").run()
    at.button(key="users.change_role").click().run()
    assert [plain(e.value) for e in at.error] == [
        "Not changed: 'ada' is the last active admin; make another user admin first, then "
        "change this one."]
    assert at.selectbox(key=f"users.role.{admin.id}").value == "admin"  # back to the real role
    ada = user_in_db(app_db, "ada")
    assert (ada.role, ada.active) == ("admin", True)
    assert at.session_state[USER_KEY] == admin.id and at.title[0].value == "Users"


def test_deactivate_and_activate_a_user(app_db, admin, annotator):
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "ann")
    at.button(key="users.toggle_active").click().run()
    assert plain(at.success[0].value) == "ann is now deactivated."
    assert not user_in_db(app_db, "ann").active
    assert authenticate(app_db, name="ann", password=ANNOTATOR_PASSWORD) is None
    assert at.button(key="users.toggle_active").label == "Activate"
    at.button(key="users.toggle_active").click().run()
    assert user_in_db(app_db, "ann").active
    assert authenticate(app_db, name="ann", password=ANNOTATOR_PASSWORD) is not None


def test_reset_a_password(app_db, admin, annotator):
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "ann")
    assert at.button(key="users.password.submit").label == "Reset password"
    at.text_input(key="users.password.new").input("new ann password")
    at.text_input(key="users.password.repeat").input("new ann password")
    at.button(key="users.password.submit").click().run()
    assert not at.exception
    assert plain(at.success[0].value) == "New password set for ann."
    assert authenticate(app_db, name="ann", password=ANNOTATOR_PASSWORD) is None
    assert authenticate(app_db, name="ann", password="new ann password") is not None


def test_an_imported_annotator_gets_a_first_password(app_db, admin):
    with app_db.write() as session:
        create_user(session=session, name="imported", role="annotator", password=None, actor=OPERATOR)
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "imported")
    assert at.button(key="users.password.submit").label == "Set password"
    at.text_input(key="users.password.new").input("first password")
    at.text_input(key="users.password.repeat").input("first password")
    at.button(key="users.password.submit").click().run()
    assert authenticate(app_db, name="imported", password="first password") is not None


def test_admin_resetting_their_own_password_stays_signed_in(app_db, admin):
    at = open_page(USERS_PAGE, user=admin)
    pick(at, app_db, "ada")
    at.text_input(key="users.password.new").input("ada new password")
    at.text_input(key="users.password.repeat").input("ada new password")
    at.button(key="users.password.submit").click().run()
    at.run()  # the next click
    assert at.session_state[USER_KEY] == admin.id
    assert at.title[0].value == "Users"
    assert authenticate(app_db, name="ada", password=ADMIN_PASSWORD) is None


def test_annotator_cannot_act_on_the_users_page(app_db, annotator):
    at = open_page(USERS_PAGE, user=annotator)
    assert not at.exception
    assert "not allowed" in at.error[0].value
    assert not [key for _, key, _ in rendered(at) if key]  # no widget at all in the page
    assert not at.dataframe
    # Even a forged session-state entry of the page's widgets does nothing.
    at.session_state["users.add.name"] = "intruder"
    at.session_state["users.add.password"] = at.session_state["users.add.repeat"] = "intruder pw 1"
    at.run()
    assert user_in_db(app_db, "intruder") is None
