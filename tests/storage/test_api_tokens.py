"""Personal API tokens (storage.api_tokens): stored hashed, acting as their user's current
role, revocable, refused for a deactivated user; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.api_tokens import check_token, create_token, list_tokens, revoke_token
from storage.authz import OPERATOR, NotAllowed
from storage.models import ApiToken, utcnow
from storage.users import UserError, change_role, create_user, set_active

PASSWORD = "token test password"


@pytest.fixture
def people(db):
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=PASSWORD,
                            actor=OPERATOR)
        ann = create_user(session=session, name="ann", role="annotator", password=PASSWORD,
                          actor=OPERATOR)
        bob = create_user(session=session, name="bob", role="annotator", password=PASSWORD,
                          actor=OPERATOR)
    return admin, ann, bob


def test_a_token_is_stored_only_as_its_sha256_and_acts_as_its_user(db, people):
    _, ann, _ = people
    with db.write() as session:
        new = create_token(session=session, user_id=ann.id, name="nightly", actor=ann)
    with db.read() as session:
        stored = session.execute(select(ApiToken.token_hash)).scalars().all()
    assert stored == [hashlib.sha256(new.secret.encode()).hexdigest()]
    assert new.secret not in stored
    found = check_token(db, secret=new.secret)
    assert found is not None and (found.token_id, found.user.name) == (new.info.id, "ann")
    assert check_token(db, secret=new.secret + "x") is None
    assert check_token(db, secret="not even the prefix") is None


def test_the_token_carries_the_role_at_the_time_of_use(db, people):
    admin, ann, _ = people
    with db.write() as session:
        new = create_token(session=session, user_id=ann.id, name="t", actor=admin)
    assert check_token(db, secret=new.secret).user.role == "annotator"
    with db.write() as session:
        change_role(session=session, user_id=ann.id, role="admin", actor=OPERATOR)
    assert check_token(db, secret=new.secret).user.role == "admin"


def test_revoked_token_and_deactivated_user_are_refused(db, people):
    _, ann, bob = people
    with db.write() as session:
        first = create_token(session=session, user_id=ann.id, name="one", actor=ann)
        second = create_token(session=session, user_id=bob.id, name="two", actor=bob)
    with db.write() as session:
        revoked = revoke_token(session=session, token_id=first.info.id, actor=ann)
    assert revoked.revoked_at is not None and not revoked.active
    assert check_token(db, secret=first.secret) is None
    with db.write() as session:
        set_active(session=session, user_id=bob.id, active=False, actor=OPERATOR)
    assert check_token(db, secret=second.secret) is None
    with db.write() as session:
        set_active(session=session, user_id=bob.id, active=True, actor=OPERATOR)
    assert check_token(db, secret=second.secret) is not None  # revoked stays revoked, this one not


def test_only_the_user_or_an_admin_manages_a_token(db, people):
    admin, ann, bob = people
    with db.write() as session, pytest.raises(NotAllowed, match="not an admin"):
        create_token(session=session, user_id=bob.id, name="theirs", actor=ann)
    with db.write() as session:
        new = create_token(session=session, user_id=bob.id, name="for bob", actor=admin)
    with db.write() as session, pytest.raises(NotAllowed, match="not an admin"):
        revoke_token(session=session, token_id=new.info.id, actor=ann)
    with db.write() as session, pytest.raises(UserError, match="needs a name"):
        create_token(session=session, user_id=ann.id, name="  ", actor=ann)
    with db.write() as session, pytest.raises(UserError, match="no API token"):
        revoke_token(session=session, token_id=9999, actor=admin)
    with db.read() as session:
        assert [t.name for t in list_tokens(session=session, user_id=bob.id)] == ["for bob"]
        assert [t.user_name for t in list_tokens(session=session)] == ["bob"]


def test_last_use_is_written_at_most_once_a_minute(db, people):
    _, ann, _ = people
    with db.write() as session:
        new = create_token(session=session, user_id=ann.id, name="t", actor=ann)
    start = utcnow()
    check_token(db, secret=new.secret, now=start)
    check_token(db, secret=new.secret, now=start + timedelta(seconds=30))
    with db.read() as session:
        [info] = list_tokens(session=session)
    assert info.last_used_at == start
    check_token(db, secret=new.secret, now=start + timedelta(seconds=61))
    with db.read() as session:
        [info] = list_tokens(session=session)
    assert info.last_used_at == start + timedelta(seconds=61)
