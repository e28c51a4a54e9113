"""The CLI starts without the heavy libraries: ``--help`` and ``projects`` import none of them.

Structural, not timed (bench/cli_startup_bench.py measures the CPU time): each command runs
in a fresh interpreter that reports which modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What some command needs but these two never do (scipy.stats alone takes 0.9 s of CPU).
HEAVY = ("scipy", "sklearn", "pandas", "numpy", "pyarrow", "plotly", "krippendorff", "streamlit",
         "argon2")
DATABASE = ("sqlalchemy", "sqlmodel")

PROBE = """
import json, runpy, sys
out, sys.argv = sys.argv[1], ["cli.py", *sys.argv[2:]]
try:
    runpy.run_path("cli.py", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
with open(out, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""


def loaded_modules(tmp_path: Path, *argv: str) -> set[str]:
    """Run ``python cli.py ARGV`` in a new interpreter; return the top-level modules it loaded."""
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(out), *argv], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    result = json.loads(out.read_text())
    assert result["code"] == 0, result
    return {name.split(".", 1)[0] for name in result["modules"]}


def test_help_loads_neither_heavy_libraries_nor_the_database_layer(tmp_path):
    loaded = loaded_modules(tmp_path, "--help")
    assert "argparse" in loaded  # the probe did run the CLI
    assert not loaded & {*HEAVY, *DATABASE}, sorted(loaded & {*HEAVY, *DATABASE})


@pytest.mark.parametrize("argv", [["projects"], ["init"], ["projects", "--help"],
                                  ["audit", "--help"]])
def test_database_commands_load_no_heavy_library(tmp_path, argv):
    loaded = loaded_modules(tmp_path, "--database", f"sqlite:///{tmp_path / 'x.db'}", *argv)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_projects_does_open_the_database(tmp_path):
    loaded_modules(tmp_path, "--database", f"sqlite:///{tmp_path / 'x.db'}", "projects")
    assert (tmp_path / "x.db").is_file()


def test_the_startup_bench_prints_every_figure_and_both_goals():
    result = subprocess.run([sys.executable, "bench/cli_startup_bench.py", "--runs", "1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("python -c pass", "python -c 'import sqlmodel'", "cli.py --help", "cli.py projects"):
        assert any(line.startswith(name) and " s  (" in line for line in lines), name
    assert any(line.startswith("goal --help: ") for line in lines)
    assert any(line.startswith("goal projects: ") and "over import sqlmodel" in line for line in lines)
