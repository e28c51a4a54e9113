"""The HTTP API's routes (components.api_routes) on a Starlette TestClient over the same
SQLite file or PostgreSQL database the CLI writes, with an admin's and an annotator's token."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import cli
from components.api_routes import api_routes
from storage.annotation_settings import set_members
from storage.api_tokens import create_token
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.projects import get_project
from storage.users import create_user

PASSWORD = "api test password"


@dataclass
class Api:
    """A client of the routes, their database and the tokens of ``ada`` (admin) and ``ann``
    (annotator of the demo ``pairwise`` project)."""

    client: TestClient
    db: Database
    admin_token: str
    annotator_token: str
    annotator_token_id: int

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """The bearer header of ``token`` (default: the admin's) and ``extra`` headers."""
        return {"Authorization": f"Bearer {token or self.admin_token}", **extra}


@pytest.fixture
def api(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.delenv("DOCKET_API_RATE_LIMIT", raising=False)
    monkeypatch.delenv("DOCKET_API_MAX_BODY_BYTES", raising=False)
    load_demo(db, actor=OPERATOR)
    with db.write() as session:
        ada = create_user(session=session, name="ada", role="admin", password=PASSWORD,
                          actor=OPERATOR)
        ann = create_user(session=session, name="ann", role="annotator", password=PASSWORD,
                          actor=OPERATOR)
        set_members(session=session, project_id=get_project(session=session, name="pairwise").id,
                    user_ids=[ann.id], actor=OPERATOR)
        admin_token = create_token(session=session, user_id=ada.id, name="admin", actor=ada)
        annotator_token = create_token(session=session, user_id=ann.id, name="ann", actor=ann)
    with TestClient(Starlette(routes=api_routes(lambda: db))) as client:
        yield Api(client, db, admin_token.secret, annotator_token.secret,
                  annotator_token.info.id)


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: Database,
            *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """Run ``cli.py --database <db's URL> ARGV`` in this process; return code, out, err."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["--database", db.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(monkeypatch, capsys, db: Database, *argv: str) -> dict:
    """The JSON document a ``--json`` CLI command prints."""
    code, out, err = run_cli(monkeypatch, capsys, db, *argv)
    assert code == 0, err
    return json.loads(out)
