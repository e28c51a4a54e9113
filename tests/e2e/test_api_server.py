"""The HTTP API served by ``streamlit run app.py`` itself (st.App routes): a token made with
``cli.py token create``, a file pushed in one chunked (streamed) request, the metrics
document, an export streamed with its SHA-256, a revoked token. No browser needed."""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import DocketServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with running_server(tmp_path_factory.mktemp("api-server")) as served:
        yield served


def cli(server: DocketServer, *argv: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "cli.py", "--database", server.database_url, *argv],
                          cwd=REPO_ROOT, input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def request(server: DocketServer, method: str, path: str, *, token: str | None = None,
            body=None, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body, headers=sent,
                           encode_chunked=body is not None and not isinstance(body, bytes))
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def test_the_api_on_the_apps_own_server(server: DocketServer, tmp_path: Path):
    status, _, body = request(server, "GET", "/api/v1/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, headers, body = request(server, "GET", "/api/v1/projects")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert set(json.loads(body)) == {"error", "detail"}

    token = cli(server, "token", "create", "--user", server.admin_name, "--name", "e2e",
                stdin=server.admin_password + "\n").strip()
    assert token.startswith("dkt_")

    records = [{"id": f"q{i}", "prompt": f"{i} + {i}?", "response": str(2 * i),
                "judges": {"gpt": {"correct": "correct" if i % 3 else "incorrect"}},
                "humans": {"maria": {"correct": "correct"}}} for i in range(300)]

    def chunks():  # sent with Transfer-Encoding: chunked, a line at a time
        for record in records:
            yield json.dumps(record).encode() + b"\n"
    status, _, body = request(server, "POST", "/api/v1/projects/quiz/import?task=correctness",
                              token=token, body=chunks(),
                              headers={"Content-Type": "application/x-ndjson"})
    assert status == 200, body
    summary = json.loads(body)
    assert (summary["added"], summary["verdicts"], summary["human_labels"]) == (300, 300, 300)
    assert "quiz" in cli(server, "projects")

    status, _, body = request(server, "GET", "/api/v1/projects", token=token)
    assert [p["name"] for p in json.loads(body)["projects"]] == ["quiz"]
    status, _, body = request(server, "GET", "/api/v1/projects/quiz/metrics", token=token)
    assert status == 200
    assert json.loads(body) == json.loads(cli(server, "metrics", "--project", "quiz", "--json"))

    status, headers, body = request(server, "GET", "/api/v1/projects/quiz/exports/labels?format=csv",
                                    token=token)
    assert status == 200 and headers["x-docket-sha256"] == hashlib.sha256(body).hexdigest()
    assert body.count(b"\n") == 601  # a header, a row per verdict and human label

    listing = cli(server, "token", "list", "--user", server.admin_name,
                  stdin=server.admin_password + "\n")
    token_id = listing.split()[0]
    cli(server, "token", "revoke", token_id, "--user", server.admin_name,
        stdin=server.admin_password + "\n")
    status, _, body = request(server, "GET", "/api/v1/projects", token=token)
    assert status == 401 and json.loads(body)["error"] == "unauthorized"
