"""The command line: exit codes, the summary and problem lines, and the project list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from core.templates import TEMPLATES
from storage.database import Database
from storage.demo import demo_files
from tests.converters import write_csv, write_jsonl

RECORDS = [
    {"id": "a1", "prompt": "2 + 2?", "response": "4", "model": "m1",
     "judges": {"gpt-3.5-turbo": {"correct": "correct", "rationale": "fine"},
                "EM": {"correct": "correct"}},
     "humans": {"alice": {"correct": "correct", "comment": "ok"}}},
    {"id": "a2", "prompt": "Capital of Spain?", "response": "Barcelona", "model": "m2",
     "judges": {"gpt-3.5-turbo": {"correct": "incorrect"}, "EM": {"correct": "incorrect"}},
     "humans": {"alice": {"correct": "incorrect"}, "bob": {"correct": "incorrect"}}},
    {"id": "a3", "prompt": "Largest planet?", "response": "Jupiter", "model": "m1",
     "judges": {"gpt-3.5-turbo": {"correct": "yes"}}},
]
BAD = [*RECORDS, {"id": "a4", "prompt": "", "response": "x"},
       {"id": "a5", "prompt": "q", "judges": {"EM": {"correct": "maybe"}}}]

CUSTOM_TOML = """\
name = "sentiment"
title = "Sentiment"

[[fields]]
name = "text"

[[dimensions]]
name = "polarity"
scale = "nominal"

  [[dimensions.labels]]
  value = "positive"
  display = "Positive"

  [[dimensions.labels]]
  value = "negative"
  display = "Negative"
"""


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    """Run the CLI; return (exit code, stdout lines, stderr lines)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_init_creates_then_reports_ready(capsys, tmp_path: Path, database: str) -> None:
    assert run(capsys, "--database", database, "init") == (
        0, [f"database created: Database({database!r})"], [])
    assert (tmp_path / "cli.db").is_file()
    assert run(capsys, "--database", database, "init") == (
        0, [f"database ready: Database({database!r})"], [])


def test_import_prints_the_summary(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(RECORDS, tmp_path / "items.csv")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness")

    assert (code, err) == (0, [])
    assert out == ["qa: 3 added, 0 updated, 0 unchanged, 0 skipped; 5 verdicts written (2 judges), "
                   "3 human labels written (2 annotators)"]


def test_reimport_prints_changed_rows(capsys, tmp_path: Path, database: str) -> None:
    path = write_jsonl(RECORDS, tmp_path / "items.jsonl")
    run(capsys, "--database", database, "import", str(path), "--project", "qa", "--task", "correctness")
    edited = [RECORDS[0], {**RECORDS[1], "response": "Madrid"}, RECORDS[2]]
    path = write_jsonl(edited, tmp_path / "items.jsonl")

    code, out, _ = run(capsys, "--database", database, "import", str(path), "--project", "qa")

    assert code == 0
    assert out == ["qa: 0 added, 1 updated, 2 unchanged, 0 skipped; 2 verdicts written (2 judges), "
                   "2 human labels written (2 annotators)",
                   "changed rows: a2"]


def test_strict_failure_lists_problems_then_one_error(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(BAD, tmp_path / "bad.csv")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness")

    assert (code, out) == (1, [])
    assert err[:-1] == [
        f"problem: {path}:line 5: prompt: missing required field",
        f"problem: {path}:line 6: judge.EM.correct: unknown label 'maybe' (allowed: correct, incorrect)",
    ]
    assert err[-1] == (f"error: {path}: 2 problem(s) in 2 of 5 records; nothing was imported (use "
                       f"--on-error skip to import the valid rows). First: {path}:line 5: prompt: "
                       "missing required field")
    assert sum(line.startswith("error:") for line in err) == 1
    assert run(capsys, "--database", database, "projects")[1] == [
        "no projects yet: run `python cli.py demo` or `python cli.py import FILE ...`"]


def test_skip_imports_valid_rows_and_lists_skipped(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(BAD, tmp_path / "bad.csv")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness", "--on-error", "skip")

    assert code == 0
    assert err == [
        f"skipped: {path}:line 5: prompt: missing required field",
        f"skipped: {path}:line 6: judge.EM.correct: unknown label 'maybe' (allowed: correct, incorrect)",
    ]
    assert out == ["qa: 3 added, 0 updated, 0 unchanged, 2 skipped; 5 verdicts written (2 judges), "
                   "3 human labels written (2 annotators)"]


def test_max_text_chars(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(RECORDS, tmp_path / "items.csv")
    code, _, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                       "--task", "correctness", "--max-text-chars", "8")
    assert code == 1
    assert err[0] == (f"problem: {path}:line 3: prompt: text too long: 17 characters (limit 8)")
    assert err[1] == (f"problem: {path}:line 3: response: text too long: 9 characters (limit 8)")


def test_custom_task_schema_from_toml(capsys, tmp_path: Path, database: str) -> None:
    schema = tmp_path / "my.toml"
    schema.write_text(CUSTOM_TOML, encoding="utf-8")
    rows = [{"id": "r1", "text": "I love it", "judges": {"gpt-4o": {"polarity": "Positive"}}},
            {"id": "r2", "text": "Meh", "humans": {"carla": {"polarity": "negative"}}}]
    path = write_csv(rows, tmp_path / "reviews.csv")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "reviews",
                         "--task", str(schema))

    assert (code, err) == (0, [])
    assert out == ["reviews: 2 added, 0 updated, 0 unchanged, 0 skipped; 1 verdicts written (1 judge), "
                   "1 human labels written (1 annotator)"]
    assert run(capsys, "--database", database, "projects")[1] == [
        "reviews  sentiment                 2 items    1 judges        1 human labels"]


def test_unknown_template_lists_the_builtins(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(RECORDS, tmp_path / "items.csv")
    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "nosuch")
    assert (code, out) == (1, [])
    assert err == [f"error: --task: nosuch: not a built-in template ({', '.join(TEMPLATES)}) "
                   "nor a .toml file"]
    assert "correctness, thematic_alignment, exam_question, pairwise" in err[0]


def test_missing_task_file_and_missing_import_file(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(RECORDS, tmp_path / "items.csv")
    assert run(capsys, "--database", database, "import", str(path), "--project", "qa",
               "--task", str(tmp_path / "gone.toml")) == (
        1, [], [f"error: {tmp_path / 'gone.toml'}: <file>: file not found"])
    code, _, err = run(capsys, "--database", database, "import", str(tmp_path / "gone.csv"),
                       "--project", "qa", "--task", "correctness")
    assert code == 1
    assert err == [f"error: {tmp_path / 'gone.csv'}:file: cannot read: No such file or directory"]


def test_import_into_unknown_project_without_task_suggests_task(capsys, tmp_path: Path,
                                                                database: str) -> None:
    path = write_csv(RECORDS, tmp_path / "items.csv")
    assert run(capsys, "--database", database, "import", str(path), "--project", "qa") == (
        1, [], ["error: no project named 'qa' (projects: none yet); to create it, give its task: "
                f"--task TEMPLATE ({', '.join(TEMPLATES)}) or --task SCHEMA.toml"])


# --- problem lists: the first 20 on screen, every one in the JSONL report -----------------------

MANY_BAD = [*RECORDS, *({"id": f"b{n}", "prompt": "", "response": "x"} for n in range(30))]


def report_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_strict_failure_prints_20_problems_and_writes_all_to_the_report(
        capsys, tmp_path: Path, database: str, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_csv(MANY_BAD, tmp_path / "many.csv")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness")

    assert (code, out) == (1, [])
    assert err[:20] == [f"problem: {path}:line {n}: prompt: missing required field"
                        for n in range(5, 25)]
    assert err[20] == "problem: ... and 10 more problems; full report: many.problems.jsonl"
    assert err[21].startswith(f"error: {path}: 30 problem(s) in 30 of 33 records; nothing was imported")
    assert len(err) == 22
    assert report_records(tmp_path / "many.problems.jsonl") == [
        {"file": str(path), "location": f"line {n}", "line": n, "field": "prompt",
         "message": "missing required field"} for n in range(5, 35)]


def test_skip_caps_the_skipped_lines_too(capsys, tmp_path: Path, database: str) -> None:
    path = write_csv(MANY_BAD, tmp_path / "many.csv")
    report = tmp_path / "out" / "problems.jsonl"
    report.parent.mkdir()

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness", "--on-error", "skip", "--report", str(report))

    assert code == 0
    assert err[:20] == [f"skipped: {path}:line {n}: prompt: missing required field"
                        for n in range(5, 25)]
    assert err[20:] == [f"skipped: ... and 10 more problems; full report: {report}"]
    assert [record["line"] for record in report_records(report)] == list(range(5, 35))
    assert out[0].startswith("qa: 3 added, 0 updated, 0 unchanged, 30 skipped;")


def test_a_few_problems_write_no_report_unless_asked(capsys, tmp_path: Path, database: str,
                                                     monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_csv(BAD, tmp_path / "bad.csv")
    run(capsys, "--database", database, "import", str(path), "--project", "qa", "--task", "correctness")
    assert not (tmp_path / "bad.problems.jsonl").exists()

    code, _, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                       "--task", "correctness", "--report", "mine.jsonl")

    assert code == 1
    assert err[2] == "problem: full report: mine.jsonl"
    assert [record["line"] for record in report_records(tmp_path / "mine.jsonl")] == [5, 6]


def test_an_unparsable_file_lists_20_errors_and_writes_the_report(capsys, tmp_path: Path,
                                                                 database: str, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "broken.jsonl"
    path.write_text("".join('{"id": "x", \n' for _ in range(25)), encoding="utf-8")

    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", "correctness")

    assert (code, out, len(err)) == (1, [], 21)
    assert all(line.startswith(f"error: {path}:line ") for line in err[:20])
    assert err[20] == "error: ... and 5 more problems; full report: broken.problems.jsonl"
    assert [record["line"] for record in report_records(tmp_path / "broken.problems.jsonl")] == list(
        range(1, 26))


def test_every_header_problem_is_an_error_line(capsys, tmp_path: Path, database: str) -> None:
    path = tmp_path / "header.csv"
    path.write_text("id,,prompt,prompt,\n1,2,3,4,5\n", encoding="utf-8")
    assert run(capsys, "--database", database, "import", str(path), "--project", "qa",
               "--task", "correctness") == (1, [], [
        f"error: {path}:header: column 2: empty column name",
        f"error: {path}:header: prompt: duplicate column name",
        f"error: {path}:header: column 5: empty column name",
    ])


def test_an_unknown_file_type_names_every_accepted_extension(capsys, tmp_path: Path,
                                                             database: str) -> None:
    path = tmp_path / "items.txt"
    path.write_text("id\n1\n", encoding="utf-8")
    assert run(capsys, "--database", database, "import", str(path), "--project", "qa",
               "--task", "correctness") == (1, [], [
        f"error: {path}:file: unknown file type '.txt'; use .jsonl, .ndjson, .json, .csv, .parquet, .pq"])


def test_a_schema_file_reports_all_its_problems(capsys, tmp_path: Path, database: str) -> None:
    schema = tmp_path / "bad.toml"
    schema.write_text('name = "Bad Name"\n[[fields]]\nname = "text"\nkind = "audio"\n',
                      encoding="utf-8")
    path = write_csv(RECORDS, tmp_path / "items.csv")
    code, out, err = run(capsys, "--database", database, "import", str(path), "--project", "qa",
                         "--task", str(schema))
    assert (code, out) == (1, [])
    assert err == [
        f"error: {schema}: name: 'Bad Name' is not a valid name (lowercase letter first, then a-z, "
        "0-9 or _, at most 64 characters)",
        f"error: {schema}: fields[0].kind: 'audio' is not one of text, texts, image, images",
        f"error: {schema}: dimensions: is required",
    ]


def test_projects_lists_each_project(capsys, tmp_path: Path, database: str) -> None:
    run(capsys, "--database", database, "import", str(write_csv(RECORDS, tmp_path / "a.csv")),
        "--project", "answers", "--task", "correctness")
    pairwise = [{"id": "p1", "prompt": "Say hi", "response_a": "hi", "response_b": "hello",
                 "judges": {"gpt-4o": {"preference": "B"}}}]
    run(capsys, "--database", database, "import", str(write_jsonl(pairwise, tmp_path / "p.jsonl")),
        "--project", "a-much-longer-project-name", "--task", "pairwise")

    code, out, _ = run(capsys, "--database", database, "projects")

    assert code == 0
    assert out == [
        "a-much-longer-project-name  pairwise                  1 items    1 judges        0 human labels",
        "answers                     correctness               3 items    2 judges        3 human labels",
    ]


def test_cli_on_postgresql(capsys, tmp_path: Path, postgres_db: Database) -> None:
    url = postgres_db.url
    path = write_csv(RECORDS, tmp_path / "items.csv")
    code, out, _ = run(capsys, "--database", url, "import", str(path), "--project", "qa",
                       "--task", "correctness")
    assert (code, out[0][:14]) == (0, "qa: 3 added, 0")
    assert run(capsys, "--database", url, "projects") == (
        0, ["qa  correctness               3 items    2 judges        3 human labels"], [])
    assert run(capsys, "--database", url, "init")[1] == [f"database ready: {postgres_db!r}"]


def test_database_from_environment(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "env.db").is_file()


def test_bad_database_url(capsys) -> None:
    assert run(capsys, "--database", "mysql://root@localhost/x", "projects") == (
        1, [], ["error: DOCKET_DATABASE_URL: unsupported backend 'mysql' (use sqlite:///PATH or "
                "postgresql://USER@HOST/DB)"])


def test_demo_loads_every_template_idempotently(capsys, database: str) -> None:
    missing = [str(path) for path in demo_files().values() if not path.is_file()]
    if missing:
        pytest.skip(f"demo data not written yet: {', '.join(missing)}")

    code, out, err = run(capsys, "--database", database, "demo")
    assert (code, err) == (0, [])
    assert [line.split(":")[0] for line in out] == list(TEMPLATES)
    assert all(", 0 updated, 0 unchanged, 0 skipped;" in line for line in out)

    code, again, _ = run(capsys, "--database", database, "demo")
    assert code == 0
    assert all(" 0 added, 0 updated, " in line and "; 0 verdicts written" in line for line in again)
    _, projects, _ = run(capsys, "--database", database, "projects")
    assert [line.split()[:2] for line in projects] == [[name, name] for name in sorted(TEMPLATES)]


@pytest.mark.parametrize("argv", [["frobnicate"], [], ["import"], ["import", "f.csv"],
                                  ["import", "f.csv", "--project", "p", "--on-error", "ignore"]])
def test_usage_errors_exit_2(capsys, argv: list[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage: python cli.py" in capsys.readouterr().err


def test_command_names() -> None:
    assert {"init", "import", "projects", "demo"} <= set(cli.command_names())


@pytest.mark.parametrize("command", cli.command_names())
def test_each_command_has_its_help(capsys, command: str) -> None:
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python cli.py {command}")
    assert cli.COMMANDS[command].help in " ".join(out.split())  # argparse wraps the lines


def test_every_user_error_names_an_exception_class() -> None:
    import importlib

    for module, names in cli.USER_ERRORS.items():
        for name in names:
            assert issubclass(getattr(importlib.import_module(module), name), Exception), (module, name)
