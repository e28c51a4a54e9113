"""requirements.txt holds what the app imports; requirements-dev.txt adds the test tools."""

from __future__ import annotations

import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.test_architecture import imported_modules, python_files

ROOT = Path(__file__).resolve().parent.parent
OURS = {"app", "cli", "core", "storage", "components", "pages"}
# Needed at run time but never imported by our code: SQLAlchemy loads it for postgresql:// URLs.
DRIVERS = {"psycopg"}
TEST_TOOLS = {"pytest", "hypothesis", "playwright", "ruff", "datasets", "krippendorff",
              "ppi-python", "rapidfuzz"}


def requirement_names(name: str) -> list[str]:
    """The distribution names of a requirements file, normalised, in file order."""
    names = []
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(normalise(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0]))
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def app_distributions() -> set[str]:
    """The distributions whose modules the app and the CLI import (not tests, not bench)."""
    distributions = packages_distributions()
    found = set()
    for path in python_files(ROOT):
        for _, module in imported_modules(ROOT, path):
            top = module.split(".", 1)[0]
            if top and top not in OURS and top not in sys.stdlib_module_names:
                found.update(normalise(d) for d in distributions[top])
    return found


def test_runtime_requirements_are_exactly_what_the_app_imports():
    runtime = set(requirement_names("requirements.txt"))
    assert runtime - DRIVERS == app_distributions()
    assert runtime >= DRIVERS


def test_no_test_tool_is_a_runtime_requirement():
    assert not TEST_TOOLS & set(requirement_names("requirements.txt"))


def test_dev_requirements_are_the_runtime_plus_the_test_tools():
    lines = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "-r requirements.txt"
    assert set(requirement_names("requirements-dev.txt")) >= TEST_TOOLS
