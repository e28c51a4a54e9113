"""``/api/v1`` end to end through its routes: tokens, roles, limits, and answers equal to the
CLI's for the same request (import counts and problems, the metrics document, export files)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from components.api_openapi import openapi_document
from components.api_routes import PREFIX, api_routes
from core.templates import TEMPLATES
from storage.api_tokens import create_token, revoke_token
from storage.authz import OPERATOR
from storage.models import Item, Project
from storage.users import create_user, set_active
from tests.api.conftest import cli_json, run_cli

GUARDED = [("GET", "/projects"), ("GET", "/openapi.json"),
           ("POST", "/projects/pairwise/import?task=pairwise"),
           ("GET", "/projects/pairwise/metrics"), ("GET", "/projects/pairwise/exports/gold")]
ADMIN_ONLY = [("POST", "/projects/pairwise/import"), ("GET", "/projects/pairwise/metrics"),
              ("GET", "/projects/pairwise/exports/gold"),
              ("GET", "/projects/pairwise/exports/report?format=json")]
NDJSON = {"Content-Type": "application/x-ndjson"}


def line(record: dict) -> bytes:
    return json.dumps(record).encode() + b"\n"


GOOD = [{"id": f"q{i}", "prompt": f"What is {i} + {i}?", "response": str(2 * i),
         "reference": str(2 * i), "judges": {"gpt": {"correct": "correct"}},
         "humans": {"maria": {"correct": "correct"}}} for i in range(1, 4)]
BAD = {"id": "q9", "prompt": "p", "response": "r", "judges": {"gpt": {"correct": "maybe"}}}


def items_in(db, project: str) -> int | None:
    with db.read() as session:
        project_id = session.execute(select(Project.id).where(Project.name == project)).scalar()
        if project_id is None:
            return None
        return session.execute(select(func.count()).where(Item.project_id == project_id)).scalar()


def test_health_needs_no_token(api):
    answer = api.client.get(f"{PREFIX}/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_every_other_endpoint_needs_a_token(api, method, path):
    for headers in ({}, {"Authorization": "Bearer dkt_not-a-token"},
                    {"Authorization": f"Basic {api.admin_token}"}):
        answer = api.client.request(method, PREFIX + path, headers={**headers, **NDJSON},
                                    content=line(GOOD[0]) if method == "POST" else None)
        assert answer.status_code == 401, (path, headers)
        assert answer.json()["error"] == "unauthorized" and answer.json()["detail"]
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY)
def test_an_annotator_token_is_refused_what_annotators_may_not_do(api, method, path):
    answer = api.client.request(method, PREFIX + path, headers=api.headers(api.annotator_token,
                                                                           **NDJSON),
                                content=line(GOOD[0]) if method == "POST" else None)
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden" and "not an admin" in answer.json()["detail"]


def test_projects_lists_what_the_user_may_see(api, monkeypatch, capsys):
    admin = api.client.get(f"{PREFIX}/projects", headers=api.headers()).json()["projects"]
    code, out, _ = run_cli(monkeypatch, capsys, api.db, "projects")
    assert code == 0
    # The same lines as `cli.py projects`: name, template, items, judges, human labels.
    assert [(p["name"], p["template"], p["items"], p["judges"], p["human_labels"])
            for p in admin] == [
        (name, template, int(items), int(judges), int(labels))
        for name, template, items, judges, labels in re.findall(
            r"^(\S+)\s+(\S+)\s+(\d+) items\s+(\d+) judges\s+(\d+) human labels$", out, re.M)]
    assert sorted(p["name"] for p in admin) == sorted(TEMPLATES)  # the demo: one per template
    annotator = api.client.get(f"{PREFIX}/projects",
                               headers=api.headers(api.annotator_token)).json()["projects"]
    assert [p["name"] for p in annotator] == ["pairwise"]


def test_a_revoked_token_and_a_deactivated_user_get_401(api):
    assert api.client.get(f"{PREFIX}/projects",
                          headers=api.headers(api.annotator_token)).status_code == 200
    with api.db.write() as session:
        revoke_token(session=session, token_id=api.annotator_token_id, actor=OPERATOR)
    answer = api.client.get(f"{PREFIX}/projects", headers=api.headers(api.annotator_token))
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    with api.db.write() as session:
        bob = create_user(session=session, name="bob", role="annotator", password=None,
                          actor=OPERATOR)
        token = create_token(session=session, user_id=bob.id, name="bob", actor=OPERATOR).secret
    assert api.client.get(f"{PREFIX}/projects", headers=api.headers(token)).status_code == 200
    with api.db.write() as session:
        set_active(session=session, user_id=bob.id, active=False, actor=OPERATOR)
    assert api.client.get(f"{PREFIX}/projects", headers=api.headers(token)).status_code == 401


def test_import_writes_the_file_and_answers_the_clis_counts(api, monkeypatch, capsys, tmp_path):
    body = b"".join(line(r) for r in GOOD)
    answer = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness",
                             headers=api.headers(**NDJSON), content=body)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["added"], summary["verdicts"], summary["human_labels"], summary["skipped"],
            summary["problems"]) == (3, 3, 3, 0, [])
    assert items_in(api.db, "quiz") == 3
    # The same file through the CLI into another project: the same counts.
    path = tmp_path / "same.jsonl"
    path.write_bytes(body)
    code, out, _ = run_cli(monkeypatch, capsys, api.db, "import", str(path), "--project",
                           "quiz2", "--task", "correctness")
    assert code == 0 and out.splitlines()[0] == summary["line"].replace("quiz:", "quiz2:")
    again = api.client.post(f"{PREFIX}/projects/quiz/import", headers=api.headers(**NDJSON),
                            content=body).json()
    assert (again["added"], again["unchanged"]) == (0, 3)


def test_strict_import_with_a_bad_line_writes_nothing_and_returns_the_report(api):
    body = line(GOOD[0]) + line(BAD) + line(GOOD[1])
    answer = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness&on_error=strict",
                             headers=api.headers(**NDJSON), content=body)
    assert answer.status_code == 422
    report = answer.json()
    assert report["error"] == "invalid" and "nothing was imported" in report["detail"]
    assert "on_error=skip" in report["detail"]
    assert (report["total_records"], report["rejected_rows"]) == (3, 1)
    [problem] = report["problems"]
    assert (problem["line"], problem["field"]) == (2, "judge.gpt.correct")
    assert "maybe" in problem["message"]
    assert items_in(api.db, "quiz") is None  # not even the project
    skipped = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness&on_error=skip",
                              headers=api.headers(**NDJSON), content=body)
    assert skipped.status_code == 200
    assert (skipped.json()["added"], skipped.json()["skipped"]) == (2, 1)
    assert [p["line"] for p in skipped.json()["problems"]] == [2]
    assert items_in(api.db, "quiz") == 2


def test_import_accepts_csv_and_parquet(api, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = (b"id,prompt,response,judge.gpt.correct\n"
           b"c1,p,r,correct\nc2,p,r,incorrect\n")
    answer = api.client.post(f"{PREFIX}/projects/fromcsv/import?task=correctness",
                             headers=api.headers(**{"Content-Type": "text/csv; charset=utf-8"}),
                             content=csv)
    assert answer.status_code == 200 and answer.json()["added"] == 2
    table = pa.table({"id": ["p1"], "prompt": ["p"], "response": ["r"],
                      "judge.gpt.correct": ["correct"]})
    pq.write_table(table, tmp_path / "t.parquet")
    answer = api.client.post(f"{PREFIX}/projects/fromparquet/import?task=correctness",
                             headers=api.headers(
                                 **{"Content-Type": "application/vnd.apache.parquet"}),
                             content=(tmp_path / "t.parquet").read_bytes())
    assert answer.status_code == 200 and answer.json()["verdicts"] == 1


@pytest.mark.parametrize(("query", "headers", "status", "detail"), [
    ("?task=nope", NDJSON, 400, "not a built-in template"),
    ("?task=correctness&on_error=maybe", NDJSON, 400, "on_error"),
    ("?task=correctness", {"Content-Type": "image/png"}, 400, "Content-Type"),
    ("", NDJSON, 404, "?task="),
    ("?task=pairwise", NDJSON, 404, None),
])
def test_import_refusals(api, query, headers, status, detail):
    project = "pairwise" if query == "?task=pairwise" else "quiz"
    answer = api.client.post(f"{PREFIX}/projects/{project}/import{query}",
                             headers=api.headers(**headers), content=line(GOOD[0]))
    if project == "pairwise":  # the demo's pairwise project, imported as correctness: 409
        answer = api.client.post(f"{PREFIX}/projects/pairwise/import?task=correctness",
                                 headers=api.headers(**headers), content=line(GOOD[0]))
        status, detail = 409, "different schema"
    assert answer.status_code == status, answer.text
    assert set(answer.json()) >= {"error", "detail"}
    if detail:
        assert detail in answer.json()["detail"]


def test_an_oversize_body_is_refused_with_413_and_nothing_written(api, monkeypatch):
    monkeypatch.setenv("DOCKET_API_MAX_BODY_BYTES", "1K")
    body = b"".join(line({**GOOD[0], "id": f"q{i}"}) for i in range(20))
    assert len(body) > 1024
    answer = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness",
                             headers=api.headers(**NDJSON), content=body)
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"

    def chunks():  # no Content-Length: counted while streaming
        for i in range(20):
            yield line({**GOOD[0], "id": f"q{i}"})
    answer = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness",
                             headers=api.headers(**NDJSON), content=chunks())
    assert answer.status_code == 413
    assert items_in(api.db, "quiz") is None
    small = api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness",
                            headers=api.headers(**NDJSON), content=line(GOOD[0]))
    assert small.status_code == 200


def test_metrics_is_the_clis_document(api, monkeypatch, capsys):
    answer = api.client.get(f"{PREFIX}/projects/thematic_alignment/metrics?dimension=alignment",
                            headers=api.headers())
    assert answer.status_code == 200, answer.text
    expected = cli_json(monkeypatch, capsys, api.db, "metrics", "--project",
                        "thematic_alignment", "--dimension", "alignment", "--json")
    assert answer.json() == expected
    assert answer.json()["project"] == "thematic_alignment"
    # Warm: the same document again (kept until the project's data change).
    assert api.client.get(f"{PREFIX}/projects/thematic_alignment/metrics?dimension=alignment",
                          headers=api.headers()).json() == expected
    bad = api.client.get(f"{PREFIX}/projects/thematic_alignment/metrics?dimension=nope",
                         headers=api.headers())
    assert bad.status_code == 400 and "no dimension 'nope'" in bad.json()["detail"]
    assert api.client.get(f"{PREFIX}/projects/nope/metrics",
                          headers=api.headers()).status_code == 404


def test_metrics_follow_a_write_to_the_project(api):
    url = f"{PREFIX}/projects/quiz/metrics?bootstrap=0"
    api.client.post(f"{PREFIX}/projects/quiz/import?task=correctness",
                    headers=api.headers(**NDJSON), content=line(GOOD[0]))
    before = api.client.get(url, headers=api.headers()).json()
    api.client.post(f"{PREFIX}/projects/quiz/import", headers=api.headers(**NDJSON),
                    content=b"".join(line(r) for r in GOOD))
    after = api.client.get(url, headers=api.headers()).json()
    assert before != after


@pytest.mark.parametrize(("kind", "query"), [("gold", ""), ("gold", "?format=csv&policy=unanimous"),
                                             ("labels", "?format=parquet"),
                                             ("report", "?format=json&bootstrap=20")])
def test_an_export_is_streamed_with_the_sidecars_sha256(api, monkeypatch, capsys, tmp_path,
                                                        kind, query):
    with api.client.stream("GET", f"{PREFIX}/projects/pairwise/exports/{kind}{query}",
                           headers=api.headers()) as answer:
        assert answer.status_code == 200
        body = b"".join(answer.iter_bytes())
    assert answer.headers["x-docket-sha256"] == hashlib.sha256(body).hexdigest()
    if kind == "report":
        return  # the report carries its own creation time: not byte-equal to another export
    # The same export from the CLI: the same bytes, and its sidecar names the same SHA-256.
    params = dict(part.split("=") for part in query.lstrip("?").split("&") if part)
    target = tmp_path / "cli.out"
    argv = ["export", kind, "--project", "pairwise", "-o", str(target)]
    for name in ("format", "policy"):
        if name in params:
            argv += [f"--{name}", params[name]]
    monkeypatch.setenv("DOCKET_AUTH", "none")
    code, _, err = run_cli(monkeypatch, capsys, api.db, *argv)
    assert code == 0, err
    sidecar = json.loads(Path(f"{target}.meta.json").read_text(encoding="utf-8"))
    if params.get("format") == "parquet":  # Parquet files carry their writing time
        import pyarrow.parquet as pq

        (tmp_path / "api.parquet").write_bytes(body)
        assert pq.read_table(tmp_path / "api.parquet").equals(pq.read_table(target))
        return
    assert sidecar["sha256"] == answer.headers["x-docket-sha256"]
    assert target.read_bytes() == body


def test_export_refusals(api):
    assert api.client.get(f"{PREFIX}/projects/pairwise/exports/nope",
                          headers=api.headers()).status_code == 404
    bad = api.client.get(f"{PREFIX}/projects/pairwise/exports/gold?policy=nope",
                         headers=api.headers())
    assert bad.status_code == 400 and "unknown gold policy" in bad.json()["detail"]
    assert api.client.get(f"{PREFIX}/projects/nope/exports/gold",
                          headers=api.headers()).status_code == 404


def test_ranking_exports_take_the_pairs_and_the_tau_floor_as_the_cli_does(
        api, monkeypatch, capsys, tmp_path):
    """``pairs``, ``min_tau`` and ``margin`` reach the export: the bytes equal `cli.py export`
    with the same options (the demo's batch_ranking project)."""
    monkeypatch.setenv("DOCKET_AUTH", "none")
    for kind, query, options in (
            ("preferences", "?pairs=adjacent", ["--pairs", "adjacent"]),
            ("gold", "?min_tau=0.8&min_labels=2", ["--min-tau", "0.8", "--min-labels", "2"]),
            ("preferences", "?margin=2&pairs=all", ["--margin", "2"])):
        answer = api.client.get(f"{PREFIX}/projects/batch_ranking/exports/{kind}{query}",
                                headers=api.headers())
        assert answer.status_code == 200, answer.text
        target = tmp_path / f"{kind}.jsonl"
        code, _, err = run_cli(monkeypatch, capsys, api.db, "export", kind, "--project",
                               "batch_ranking", "-o", str(target), *options)
        assert code == 0, err
        assert answer.content == target.read_bytes()
    adjacent = api.client.get(f"{PREFIX}/projects/batch_ranking/exports/preferences"
                              "?pairs=adjacent", headers=api.headers())
    every = api.client.get(f"{PREFIX}/projects/batch_ranking/exports/preferences",
                           headers=api.headers())
    # Four responses: 3 adjacent pairs per gold ranking, 6 in all.
    assert (int(adjacent.headers["x-docket-rows"]) * 2 == int(every.headers["x-docket-rows"])
            > 0)
    floored = api.client.get(f"{PREFIX}/projects/batch_ranking/exports/gold?min_tau=1",
                             headers=api.headers())
    assert int(floored.headers["x-docket-rows"]) < int(api.client.get(
        f"{PREFIX}/projects/batch_ranking/exports/gold", headers=api.headers()
    ).headers["x-docket-rows"])


@pytest.mark.parametrize(("query", "detail"), [
    ("pairs=nope", "unknown pairs 'nope' (pairs: all, adjacent)"),
    ("min_tau=2", "min_tau must be between -1 and 1"),
    ("min_tau=high", "min_tau: expected a number, got 'high'"),
    ("margin=nan", "margin: expected a number, got 'nan'")])
def test_bad_ranking_export_options_are_400(api, query, detail):
    bad = api.client.get(f"{PREFIX}/projects/batch_ranking/exports/preferences?{query}",
                         headers=api.headers())
    assert bad.status_code == 400 and detail in bad.json()["detail"]


def test_the_rate_limit_answers_429_with_retry_after(api, monkeypatch):
    monkeypatch.setenv("DOCKET_API_RATE_LIMIT", "3")
    statuses = [api.client.get(f"{PREFIX}/projects", headers=api.headers()).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.client.get(f"{PREFIX}/projects", headers=api.headers())
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # 3 a minute: one every 20 s
    # Per token: the annotator's is untouched.
    assert api.client.get(f"{PREFIX}/projects",
                          headers=api.headers(api.annotator_token)).status_code == 200


def test_openapi_describes_exactly_the_routes(api):
    answer = api.client.get(f"{PREFIX}/openapi.json", headers=api.headers())
    assert answer.status_code == 200
    document = answer.json()
    assert document == openapi_document() and document["openapi"].startswith("3.")
    routes = {route.path.removeprefix(PREFIX): {m.lower() for m in route.methods} - {"head"}
              for route in api_routes()}
    assert routes == {path: set(operations) for path, operations in document["paths"].items()}


def test_a_bad_limit_setting_is_a_clear_server_error(api, monkeypatch):
    monkeypatch.setenv("DOCKET_API_RATE_LIMIT", "lots")
    answer = api.client.get(f"{PREFIX}/projects", headers=api.headers())
    assert answer.status_code == 500
    assert "DOCKET_API_RATE_LIMIT" in answer.json()["detail"]


def test_the_default_body_limit_is_the_imports_own_file_limit():
    from components.api_access import DEFAULT_MAX_BODY_BYTES, api_limits
    from core.importing import ImportLimits

    assert ImportLimits.max_total_bytes == DEFAULT_MAX_BODY_BYTES
    assert api_limits().max_body_bytes == DEFAULT_MAX_BODY_BYTES
