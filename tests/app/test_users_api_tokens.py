"""Users page, API tokens section (AppTest): an admin creates a token for a user (shown once,
working), sees it listed, revokes it (refused from then on); on SQLite and PostgreSQL."""

from __future__ import annotations

from storage.api_tokens import check_token
from tests.app.apptest_helpers import open_page

USERS_PAGE = "pages/2_Users.py"


def test_an_admin_creates_lists_and_revokes_a_token(app_db_any, admin, annotator):
    db = app_db_any
    at = open_page(USERS_PAGE, user=admin)
    assert not at.exception
    assert [c.value for c in at.caption if "No API tokens" in c.value]
    at.selectbox(key="tokens.owner").set_value(annotator.id)
    at.text_input(key="tokens.label").input("notebook")
    at.button(key="tokens.create.submit").click()
    at.run()
    assert not at.exception
    [shown] = [block.value for block in at.code]
    found = check_token(db, secret=shown)
    assert found is not None and found.user.name == "ann"
    table = at.dataframe[1].value
    assert table[["user", "name", "state"]].values.tolist() == [["ann", "notebook", "active"]]
    at.run()  # any next run: the secret is gone from the page
    assert [block.value for block in at.code] == []
    at.selectbox(key="tokens.revoke").set_value(found.token_id)
    at.button(key="tokens.revoke.submit").click()
    at.run()
    assert not at.exception
    assert check_token(db, secret=shown) is None
    assert at.dataframe[1].value["state"].tolist() == ["revoked"]
    assert any("revoked" in s.value for s in at.success)


def test_an_empty_name_is_refused_with_the_reason(app_db, admin):
    at = open_page(USERS_PAGE, user=admin)
    at.button(key="tokens.create.submit").click()
    at.run()
    assert [e.value for e in at.error if "needs a name" in e.value]
    assert [block.value for block in at.code] == []
