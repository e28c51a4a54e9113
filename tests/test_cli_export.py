"""``python cli.py export``: admins only (password on stdin), every kind and format, errors."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

import cli
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.migrations import migrate
from storage.users import create_user

PASSWORD = "export pass phrase 1"


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    migrate(db)
    load_demo(db, actor=OPERATOR)
    with db.write() as session:
        create_user(session=session, name="ada", role="admin", password=PASSWORD, actor=OPERATOR)
        create_user(session=session, name="ann", role="annotator", password=PASSWORD, actor=OPERATOR)
    db.dispose()
    return url


def run(capsys, monkeypatch, stdin: str, *argv: str) -> tuple[int, list[str], list[str]]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.mark.parametrize(("kind", "fmt"), [
    ("gold", "jsonl"), ("gold", "csv"), ("gold", "parquet"), ("labels", "csv"),
    ("preferences", "jsonl"), ("report", "json"), ("report", "csv"), ("report", "html")])
def test_an_admin_exports_every_kind(capsys, monkeypatch, database, tmp_path, kind, fmt):
    target = tmp_path / f"out.{fmt}"
    code, out, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database, "export",
                         kind, "--project", "pairwise", "--format", fmt, "-o", str(target),
                         "--user", "ada", "--bootstrap", "50")
    assert (code, err) == (0, [])
    assert out[0].startswith("exported the report to " if kind == "report" and fmt != "csv"
                             else "exported ") and str(target) in out[0]
    meta = json.loads(Path(f"{target}.meta.json").read_text(encoding="utf-8"))
    assert (meta["kind"], meta["format"], meta["project"]) == (kind, fmt, "pairwise")
    assert target.stat().st_size == meta["bytes"] > 0


def test_the_default_format_is_the_kinds_first(capsys, monkeypatch, database, tmp_path):
    target = tmp_path / "gold.out"
    code, out, _ = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database, "export",
                       "gold", "--project", "correctness", "-o", str(target), "--user", "ada",
                       "--policy", "unanimous", "--min-labels", "3")
    assert code == 0 and "left out:" in out[0]
    first = json.loads(target.read_text(encoding="utf-8").splitlines()[0])
    assert first["gold_correct_method"] in ("unanimous", "adjudicated")
    assert first["gold_correct_annotators"] >= 3


@pytest.mark.parametrize(("user", "password", "message"), [
    ("ann", PASSWORD, "error: 'ann' is not an admin: only admins may export"),
    ("ada", "wrong password", "error: Wrong user name or password."),
    ("nobody", PASSWORD, "error: Wrong user name or password."),
])
def test_only_an_admin_with_the_right_password_exports(capsys, monkeypatch, database, tmp_path,
                                                       user, password, message):
    target = tmp_path / "gold.jsonl"
    code, out, err = run(capsys, monkeypatch, password + "\n", "--database", database, "export",
                         "gold", "--project", "correctness", "-o", str(target), "--user", user)
    assert (code, out) == (1, [])
    assert err == [message]
    assert not target.exists() and not Path(f"{target}.meta.json").exists()


def test_export_errors_are_one_line(capsys, monkeypatch, database, tmp_path):
    def fails(*argv: str) -> str:
        code, out, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database,
                             "export", *argv, "--user", "ada")
        assert code != 0 and out == []
        return err[-1]

    assert fails("gold", "--project", "nope", "-o", str(tmp_path / "x")).startswith(
        "error: no project named 'nope'")
    assert "cannot be written as 'html'" in fails("gold", "--project", "pairwise", "--format",
                                                  "html", "-o", str(tmp_path / "x"))
    assert "does not exist" in fails("gold", "--project", "pairwise", "-o",
                                     str(tmp_path / "missing" / "x.jsonl"))
    assert "no dimension to build preference pairs" in fails(
        "preferences", "--project", "thematic_alignment", "--dimension", "missing_themes", "-o",
        str(tmp_path / "x"))
    code, _, err = run(capsys, monkeypatch, "", "--database", database, "export", "gold",
                       "--project", "pairwise", "-o", str(tmp_path / "x"), "--user", "ada")
    assert code == 1 and err[-1] == "error: no password on stdin (give it as one line)"


def test_without_user_only_single_user_mode_exports(capsys, monkeypatch, database, tmp_path):
    target = tmp_path / "gold.jsonl"
    monkeypatch.delenv("DOCKET_AUTH", raising=False)
    code, out, err = run(capsys, monkeypatch, "", "--database", database, "export", "gold",
                         "--project", "pairwise", "-o", str(target))
    assert (code, out) == (1, [])
    assert err == ["error: exports are for admins only: give --user NAME (the password is read "
                   "from stdin)"]
    assert not target.exists()

    monkeypatch.setenv("DOCKET_AUTH", "none")
    code, out, _ = run(capsys, monkeypatch, "", "--database", database, "export", "gold",
                       "--project", "pairwise", "-o", str(target))
    assert code == 0 and out[0].startswith("exported ") and target.is_file()

    monkeypatch.setenv("DOCKET_AUTH", "nobody")
    code, _, err = run(capsys, monkeypatch, "", "--database", database, "export", "gold",
                       "--project", "pairwise", "-o", str(target))
    assert code == 1 and err[-1].startswith("error: DOCKET_AUTH must be one of password, none")


def test_the_report_takes_the_human_range_overlap(capsys, monkeypatch, database, tmp_path):
    def report(*options: str) -> tuple[str, dict]:
        target = tmp_path / "report.html"
        code, _, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database, "export",
                           "report", "--project", "correctness", "-o", str(target), "--user",
                           "ada", "--bootstrap", "20", *options)
        assert (code, err) == (0, [])
        meta = json.loads(Path(f"{target}.meta.json").read_text(encoding="utf-8"))
        return target.read_text(encoding="utf-8"), meta

    # The demo's correctness annotators: dr_ahmed shares 10 items with each of the others,
    # li.wei and maria 21.
    html, meta = report()
    assert meta["human_range"] == {"min_pair_items": 20}
    assert "pairs of annotators sharing at least 20 items" in html
    assert "dr_ahmed × li.wei (n = 10)" in html
    html, meta = report("--min-pair-items", "5")
    assert meta["human_range"] == {"min_pair_items": 5}
    assert "pairs of annotators sharing at least 5 items" in html
    assert "Left out of the human range" not in html
    code, _, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database, "export",
                       "report", "--project", "correctness", "-o", str(tmp_path / "r.html"),
                       "--user", "ada", "--min-pair-items", "0")
    assert code == 1 and err[-1] == "error: min_pair_items must be at least 1, got 0"


def test_the_last_admin_is_never_locked_out_of_the_command_line(capsys, monkeypatch, database,
                                                                tmp_path):
    # The command line runs on the server's own machine: failed attempts are counted, but the
    # only admin can always sign in there (the browser's throttling still applies elsewhere).
    target = tmp_path / "gold.jsonl"
    for _ in range(8):
        code, _, err = run(capsys, monkeypatch, "wrong password\n", "--database", database,
                           "export", "gold", "--project", "pairwise", "-o", str(target),
                           "--user", "ada")
        assert (code, err) == (1, ["error: Wrong user name or password."])
    code, _, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database, "export",
                       "gold", "--project", "pairwise", "-o", str(target), "--user", "ada")
    assert (code, err) == (0, []) and target.exists()


def test_rankings_export_gold_and_all_or_adjacent_pairs(capsys, monkeypatch, database, tmp_path):
    """Issue 18: a batch ranking project through the CLI: `--min-tau`, `--pairs adjacent`."""
    from core.templates import TEMPLATE_DIR
    from tests.converters import write_jsonl

    records = [{"id": "a", "prompt": "P", "responses": ["r1", "r2", "r3", "r4"],
                "humans": {"ann": {"ranking": [2, 1, 4, 3]}, "bob": {"ranking": "2,1,4,3"}}},
               {"id": "b", "prompt": "Q", "responses": ["s1", "s2", "s3"],
                "humans": {"ann": {"ranking": [1, 2, 3]}, "bob": {"ranking": [3, 2, 1]}}}]
    code, _, err = run(capsys, monkeypatch, "", "--database", database, "import",
                       str(write_jsonl(records, tmp_path / "rank.jsonl")), "--project", "rank",
                       "--task", str(TEMPLATE_DIR / "batch_ranking.toml"))
    assert code == 0, err

    def exported(*argv: str) -> list[dict]:
        target = tmp_path / "out.jsonl"
        code, out, err = run(capsys, monkeypatch, PASSWORD + "\n", "--database", database,
                             "export", *argv, "--project", "rank", "-o", str(target),
                             "--user", "ada")
        assert (code, err) == (0, []) and out[0].startswith("exported ")
        return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]

    # b's orders are reversed (τ-b = -1): a floor of 0 leaves only a.
    assert [(row["id"], row["gold_ranking"]) for row in exported("gold", "--min-tau", "0")] == [
        ("a", [2, 1, 4, 3])]
    everything = exported("preferences")
    assert len(everything) == 6 + 3
    adjacent = exported("preferences", "--pairs", "adjacent")
    # b: Borda points 2 + 0 each; first places 1 -> 1, 3 -> 1, 2 -> 0; then position: (1, 3, 2).
    assert [(row["chosen"], row["rejected"]) for row in adjacent] == [
        ("r2", "r1"), ("r1", "r4"), ("r4", "r3"), ("s1", "s3"), ("s3", "s2")]
