"""``python cli.py token create|list|revoke``: password on stdin, the token printed once."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

import cli
from storage.api_tokens import check_token
from storage.authz import OPERATOR
from storage.database import Database
from storage.migrations import migrate
from storage.users import create_user

PASSWORD = "token cli password"


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    migrate(db)
    with db.write() as session:
        create_user(session=session, name="ada", role="admin", password=PASSWORD, actor=OPERATOR)
        create_user(session=session, name="ann", role="annotator", password=PASSWORD,
                    actor=OPERATOR)
    db.dispose()
    return url


def run(capsys, monkeypatch, database: str, *argv: str, stdin: str = PASSWORD + "\n"):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["--database", database, "token", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def user_of(database: str, secret: str) -> str | None:
    db = Database(database)
    try:
        found = check_token(db, secret=secret)
        return None if found is None else found.user.name
    finally:
        db.dispose()


def test_create_prints_only_the_token_on_stdout(capsys, monkeypatch, database):
    code, out, err = run(capsys, monkeypatch, database, "create", "--user", "ann", "--name",
                         "notebook")
    assert code == 0 and len(out) == 1 and out[0].startswith("dkt_")
    assert "shown once" in err[0] and "notebook" in err[0]
    assert user_of(database, out[0]) == "ann"


def test_an_admin_creates_for_another_user_an_annotator_may_not(capsys, monkeypatch, database):
    code, out, _ = run(capsys, monkeypatch, database, "create", "--user", "ada", "--for", "ann")
    assert code == 0 and user_of(database, out[0]) == "ann"
    code, out, err = run(capsys, monkeypatch, database, "create", "--user", "ann", "--for", "ada")
    assert (code, out) == (1, []) and "not an admin" in err[0]


def test_a_wrong_password_creates_nothing(capsys, monkeypatch, database):
    code, out, err = run(capsys, monkeypatch, database, "create", "--user", "ada",
                         stdin="wrong password\n")
    assert (code, out) == (1, []) and err[0].startswith("error: ")
    code, out, _ = run(capsys, monkeypatch, database, "list", "--user", "ada")
    assert out == ["no API tokens yet: create one with `python cli.py token create`"]


def test_list_and_revoke(capsys, monkeypatch, database):
    _, [ann_token], _ = run(capsys, monkeypatch, database, "create", "--user", "ann", "--name", "a")
    _, [ada_token], _ = run(capsys, monkeypatch, database, "create", "--user", "ada", "--name", "b")
    _, own, _ = run(capsys, monkeypatch, database, "list", "--user", "ann")
    assert len(own) == 1 and own[0].split()[1:3] == ["ann", "a"] and own[0].endswith("active")
    _, every, _ = run(capsys, monkeypatch, database, "list", "--user", "ada")
    assert [line.split()[1] for line in every] == ["ada", "ann"]
    ada_id = every[0].split()[0]
    code, _, err = run(capsys, monkeypatch, database, "revoke", ada_id, "--user", "ann")
    assert code == 1 and "not an admin" in err[0]
    code, out, _ = run(capsys, monkeypatch, database, "revoke", ada_id, "--user", "ada")
    assert code == 0 and out == [f"token {ada_id} of ada (b) revoked"]
    assert user_of(database, ada_token) is None and user_of(database, ann_token) == "ann"


def test_single_user_mode_needs_no_user(capsys, monkeypatch, database):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    code, out, _ = run(capsys, monkeypatch, database, "create", stdin="")
    assert code == 0 and user_of(database, out[0]) == "local-admin"
