"""``python cli.py create-user``: the password comes from stdin (a pipe, or a terminal prompt)."""

from __future__ import annotations

import io
import os
import pty
import select as io_select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import cli
from storage.database import Database
from storage.models import UserAccount
from storage.sign_in import authenticate
from storage.users import find_user
from tests.conftest import REPO_ROOT


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(capsys, monkeypatch, stdin: str, *argv: str) -> tuple[int, list[str], list[str]]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def user(database: str, name: str):
    db = Database(database)
    try:
        with db.read() as session:
            return find_user(session=session, name=name)
    finally:
        db.dispose()


def test_create_user_reads_one_line_from_stdin(capsys, monkeypatch, database):
    code, out, err = run(capsys, monkeypatch, "s3cret pass phrase\n", "--database", database,
                         "create-user", "maria", "--role", "admin", "--display-name", "Maria R.")
    assert (code, out, err) == (0, ["user created: maria (admin)"], [])
    db = Database(database)
    try:
        created = authenticate(db, name="maria", password="s3cret pass phrase")
        with db.read() as session:
            stored = session.execute(select(UserAccount.password_hash)).scalar_one()
    finally:
        db.dispose()
    assert (created.role, created.display_name) == ("admin", "Maria R.")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


def test_only_the_line_end_is_stripped(capsys, monkeypatch, database):
    run(capsys, monkeypatch, "  spaces kept  \r\nsecond line ignored\n", "--database", database,
        "create-user", "bob", "--role", "annotator")
    db = Database(database)
    try:
        assert authenticate(db, name="bob", password="  spaces kept  ") is not None
    finally:
        db.dispose()


@pytest.mark.parametrize(("stdin", "error"), [
    ("", "error: no password on stdin (give it as one line)"),
    ("\n", "error: password is empty"),
    ("Kp9!x\n", "error: password is too short: at least 10 characters"),
])
def test_missing_or_short_passwords_are_refused_in_one_line(capsys, monkeypatch, database, stdin,
                                                           error):
    code, out, err = run(capsys, monkeypatch, stdin, "--database", database,
                         "create-user", "maria", "--role", "admin")
    assert (code, out, err) == (1, [], [error])
    assert user(database, "maria") is None


def test_bad_name_duplicate_and_bad_role(capsys, monkeypatch, database):
    assert run(capsys, monkeypatch, "a good password\n", "--database", database,
               "create-user", "maria smith", "--role", "admin")[2] == [
        "error: user name 'maria smith' may only contain letters, digits and . _ @ + - and must "
        "start with a letter or digit"]
    run(capsys, monkeypatch, "a good password\n", "--database", database,
        "create-user", "maria", "--role", "admin")
    assert run(capsys, monkeypatch, "a good password\n", "--database", database,
               "create-user", "MARIA", "--role", "annotator") == (
        1, [], ["error: a user named 'maria' exists already"])
    code, _, err = run(capsys, monkeypatch, "a good password\n", "--database", database,
                       "create-user", "root", "--role", "superuser")
    assert code == 2 and "invalid choice: 'superuser'" in err[-1]


def _talk_to_terminal(argv: list[str], answers: list[str]) -> tuple[int, str]:
    """Run ``python cli.py ARGV`` on a real pseudo-terminal; answer each prompt in turn.

    Returns the exit code and everything the terminal showed.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and the controlling terminal are the pty
        os.chdir(REPO_ROOT)
        os.execv(sys.executable, [sys.executable, "cli.py", *argv])
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = io_select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        # getpass switches echo off before it writes the prompt: answer only a fresh prompt.
        if pending and shown.endswith(b": "):
            os.write(fd, pending.pop(0).encode() + b"\n")
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode().replace("\r\n", "\n")


def test_a_terminal_is_asked_twice_and_nothing_typed_is_echoed(database):
    code, shown = _talk_to_terminal(
        ["--database", database, "create-user", "maria", "--role", "admin"],
        ["typed secret 1", "typed secret 1"])
    assert code == 0, shown
    assert shown == "Password for maria: \nRepeat the password: \nuser created: maria (admin)\n"
    db = Database(database)
    try:
        assert authenticate(db, name="maria", password="typed secret 1") is not None
    finally:
        db.dispose()


def test_a_terminal_with_two_different_entries_is_refused(database):
    code, shown = _talk_to_terminal(
        ["--database", database, "create-user", "bob", "--role", "admin"],
        ["typed secret 2", "typed Secret 2"])
    assert code == 1, shown
    assert shown.splitlines()[-1] == "error: the two passwords differ"
    assert "typed" not in shown
    assert user(database, "bob") is None


def test_create_user_from_a_real_pipe(tmp_path):
    # The command as the README shows it, in a separate process reading a real pipe.
    database = f"sqlite:///{tmp_path / 'pipe.db'}"
    done = subprocess.run(
        [sys.executable, "cli.py", "--database", database, "create-user", "maria", "--role", "admin"],
        input="piped password\n", capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "user created: maria (admin)\n", "")
    db = Database(database)
    try:
        assert authenticate(db, name="maria", password="piped password").role == "admin"
    finally:
        db.dispose()
