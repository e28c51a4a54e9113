"""The README tells the truth: its commands, pages, CLI commands, templates and examples."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest

import cli
from components.layout import PAGES
from core.importing import check_policy, read_import_bytes, validate_table
from core.schema_toml import load_schema_text
from core.templates import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CREATE_VENV = "python3 -m venv .venv && . .venv/bin/activate"
INSTALL_AND_RUN = "pip install -r requirements.txt && streamlit run app.py"
TEST_COMMAND = "pip install -r requirements-dev.txt && pytest"


BENCH_README = ROOT / "bench" / "README.md"
APP_CODE = ("app.py", "cli.py", "pages", "components", "storage", "core")
ENV_NAME = re.compile(r"DOCKET_[A-Z0-9_]+")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## `` heading."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def environment_names(*paths: str) -> set[str]:
    """Every string literal that is a whole ``DOCKET_*`` name in the Python files under
    ``paths``: the environment variables the code reads (``os.environ.get(AUTH_ENV)`` reads a
    constant defined as such a literal). Docstrings that mention ``DOCKET_AUTH=none`` are not
    whole names, and ``DOCKET_VERSION`` is a Python name, not a string."""
    files = [file for path in paths for file in
             ([ROOT / path] if path.endswith(".py") else sorted((ROOT / path).rglob("*.py")))]
    return {node.value for file in files for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and ENV_NAME.fullmatch(node.value)}


def test_readme_gives_the_two_commands_after_creating_a_venv():
    bash = code_blocks("bash")
    assert [block.strip().splitlines() for block in bash[:2]] == [
        [CREATE_VENV, INSTALL_AND_RUN], [TEST_COMMAND]]


def test_ci_runs_exactly_the_readme_test_command_in_a_fresh_venv():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert commands[-1] == TEST_COMMAND
    created = next(i for i, command in enumerate(commands) if " -m venv " in command)
    activated = next(i for i, command in enumerate(commands) if "bin/activate" in command)
    assert created < activated < len(commands) - 1


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_readme_names_every_page(page):
    assert f"**{page.label}**" in README


@pytest.mark.parametrize("command", cli.command_names())
def test_readme_documents_every_cli_command(command):
    assert re.search(rf"^\| `{command}( |`)", README, flags=re.MULTILINE), command


@pytest.mark.parametrize("template", TEMPLATES)
def test_readme_documents_every_template(template):
    schema = TEMPLATES[template]
    row = next(line for line in README.splitlines() if line.startswith(f"| `{template}` |"))
    for name in (*schema.field_names, *schema.dimension_names):
        assert f"`{name}`" in row, (template, name)


def test_readme_schema_example_is_a_valid_schema():
    (example,) = code_blocks("toml")
    schema = load_schema_text(example, source="README.md")
    assert schema.dimension("helpful").label_values == ("1", "2", "3")
    assert (schema.dimension("tone_score").minimum, schema.dimension("tone_score").maximum) == (0, 10)


def test_readme_import_examples_are_clean_files():
    json_example, _ = code_blocks("json")
    (csv_example,) = code_blocks("csv")
    record = json.loads(json_example)
    jsonl = read_import_bytes((json.dumps(record) + "\n").encode(), fmt="jsonl", name="readme.jsonl")
    csv = read_import_bytes(csv_example.encode(), fmt="csv", name="readme.csv")
    for raw in (jsonl, csv):
        batch = validate_table(raw, TEMPLATES["correctness"])
        check_policy(batch, "strict")
        assert batch.rows[0].external_id == "q1"
        assert batch.judges[0] == "gpt-4o"
    assert [v.sample_index for v in validate_table(jsonl, TEMPLATES["correctness"]).rows[0].verdicts
            if v.judge == "llama-3-70b"] == [0, 1]


def test_readme_ranking_example_is_a_clean_file_and_its_errors_are_dockets():

    schema = TEMPLATES["batch_ranking"]
    _, ranking_example = code_blocks("json")
    raw = read_import_bytes((json.dumps(json.loads(ranking_example)) + "\n").encode(),
                            fmt="jsonl", name="r.jsonl")
    batch = validate_table(raw, schema)
    check_policy(batch, "strict")
    assert sorted(r.labels[0] for r in batch.rater_labels) == ["2,1,3,4", "2,1,4,3"]
    section = README.split("### Rankings")[1].split("\n### ")[0]
    documented = {line.split(": ", 1)[1] for line in section.splitlines()
                  if line.startswith("f.jsonl:line ")}
    bad = [{"id": "a", "prompt": "p", "responses": list("abcd"),
            "humans": {"ann": {"ranking": [1, 2, 3]}}},
           {"id": "b", "prompt": "p", "responses": list("abcd"),
            "humans": {"ann": {"ranking": [1, 1, 2, 3]}}},
           {"id": "c", "prompt": "p", "responses": ["x"], "humans": {"ann": {"ranking": [1, 2]}}}]
    raw = read_import_bytes("".join(json.dumps(r) + "\n" for r in bad).encode(), fmt="jsonl",
                            name="f.jsonl")
    produced = {str(problem).split(": ", 1)[1] for problem in validate_table(raw, schema).problems}
    assert documented == produced


def test_readme_documents_every_import_format():
    for extension in (".jsonl", ".json", "CSV", "Parquet"):
        assert extension in README


def test_readme_export_examples_have_the_exported_columns():
    from core.export.gold import gold_columns
    from core.export.labels import LABEL_COLUMNS
    from core.export.preferences import PREFERENCE_COLUMNS
    from core.export.registry import KINDS

    gold, labels, preferences = (json.loads(block) for block in code_blocks("jsonl"))
    assert list(gold) == [c.name for c in gold_columns(TEMPLATES["correctness"])]
    assert list(labels) == [c.name for c in LABEL_COLUMNS]
    assert list(preferences) == [c.name for c in PREFERENCE_COLUMNS]
    for kind in KINDS.values():
        assert f"| `{kind.name}` | " + ", ".join(f"`{f}`" for f in kind.formats) in README


def test_readme_links_the_benchmarks_once_and_keeps_their_figures_out():
    assert README.count("bench/README.md") == 1
    assert "](bench/README.md)" in section("Tests")
    # How to run a bench, and its percentiles, belong in bench/README.md, not the user's guide.
    for phrase in ("python bench/", "p50", "p99"):
        assert phrase not in README, phrase


@pytest.mark.parametrize("script", sorted(path.name for path in (ROOT / "bench").glob("*.py")))
def test_bench_readme_names_every_script(script):
    bench_readme = BENCH_README.read_text(encoding="utf-8")
    assert f"`{script}`" in bench_readme, script
    if script.endswith("_bench.py"):  # a runnable benchmark: its own section and command
        assert f"\n## {script}\n" in bench_readme, script
        assert f"python bench/{script}" in bench_readme, script


def test_configuration_documents_every_environment_variable_the_code_reads():
    names = environment_names(*APP_CODE)
    assert {"DOCKET_DATABASE_URL", "DOCKET_AUTH", "DOCKET_TRUSTED_PROXIES"} <= names  # the scan works
    configuration = section("Configuration")
    assert [name for name in sorted(names) if f"| `{name}` |" not in configuration] == []


def test_readme_documents_the_variables_the_tests_read():
    names = environment_names("tests/conftest.py")
    assert "DOCKET_TEST_POSTGRES_URL" in names
    tests = section("Tests")
    assert [name for name in sorted(names) if not re.search(rf"`{name}[`=]", tests)] == []


def test_configuration_lists_every_streamlit_setting_we_ship():
    with (ROOT / ".streamlit" / "config.toml").open("rb") as handle:
        config = tomllib.load(handle)
    configuration = section("Configuration")
    for group, settings in config.items():
        for key, value in settings.items():
            row = next((line for line in configuration.splitlines()
                        if line.startswith(f"| `{group}.{key}` |")), None)
            assert row is not None, f"{group}.{key}"
            assert json.dumps(value) in row, (f"{group}.{key}", value, row)


def test_configuration_links_the_import_limits():
    configuration = section("Configuration")
    assert "(#limits-and-refusals)" in configuration
    assert "\n### Limits and refusals\n" in section("Import")
    for option in ("--max-text-chars", "--max-total-bytes", "--max-rows"):
        assert option in configuration, option
