"""Layering rules (DESIGN.md §1), checked by parsing every module's imports with ``ast``.

``pages/`` + ``app.py`` -> ``components/`` -> ``storage/`` -> ``core/``: an import against the
arrow fails the test and names the file, the line and the import. Every page, ``app.py``
included, must call ``page_setup(...)`` before anything else runs, because that call is the
sign-in check (a deep link runs a page file without ``app.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Layer -> top-level modules it must not import, with the reason shown on failure.
FORBIDDEN: dict[str, dict[str, str]] = {
    "core": {
        "streamlit": "core/ is pure: no Streamlit",
        "sqlmodel": "core/ is pure: no database sessions",
        "sqlalchemy": "core/ is pure: no database sessions",
        "storage": "core/ imports nothing of ours",
        "components": "core/ imports nothing of ours",
        "pages": "core/ imports nothing of ours",
        "cli": "core/ imports nothing of ours",
        "app": "core/ imports nothing of ours",
    },
    "storage": {
        "streamlit": "storage/ never imports Streamlit",
        "components": "storage/ sits below components/",
        "pages": "storage/ sits below pages/",
        "cli": "storage/ sits below cli.py",
        "app": "storage/ sits below app.py",
    },
    "components": {
        "pages": "components/ sits below pages/",
        "app": "components/ sits below app.py",
        "cli": "components/ does not use the CLI",
    },
    "cli": {
        "streamlit": "cli.py is headless",
        "components": "cli.py is headless",
        "pages": "cli.py is headless",
    },
}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.imported} ({self.reason})"


def python_files(root: Path) -> list[Path]:
    """The modules the rules apply to; folders that do not exist yet contribute nothing."""
    files = [root / name for name in ("app.py", "cli.py") if (root / name).is_file()]
    for folder in ("core", "storage", "components", "pages"):
        if (root / folder).is_dir():
            files.extend(sorted((root / folder).rglob("*.py")))
    return files


def layer_of(root: Path, path: Path) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_modules(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parent.parts)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if node.module is None:  # `from . import x`: each name may be a module
                found.extend((node.lineno, f"{module}.{alias.name}".strip(".")) for alias in node.names)
            else:
                found.append((node.lineno, module))
        elif (isinstance(node, ast.Call) and _call_name(node) in {"import_module", "__import__"}
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def layer_violations(root: Path) -> list[Violation]:
    """Every import that points against the layer arrows."""
    violations = []
    for path in python_files(root):
        rules = FORBIDDEN.get(layer_of(root, path), {})
        for line, module in imported_modules(root, path):
            top = module.split(".", 1)[0]
            if top in rules:
                violations.append(Violation(str(path.relative_to(root)), line, module, rules[top]))
    return violations


def page_files(root: Path) -> list[Path]:
    files = [root / "app.py"] if (root / "app.py").is_file() else []
    if (root / "pages").is_dir():
        files.extend(sorted((root / "pages").glob("*.py")))
    return files


def page_setup_problem(path: Path) -> str | None:
    """None if the page calls page_setup(...) at module level before any other call."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for statement in tree.body:
        if isinstance(statement, ast.Import | ast.ImportFrom | ast.FunctionDef
                      | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)]
        if any(_call_name(call) == "page_setup" for call in calls):
            return None
        if calls:
            return (f"line {statement.lineno}: calls {_call_name(calls[0]) or 'something'}(...) "
                    "before page_setup(...)")
    return "never calls page_setup(...) at module level"


# --- the rules on this repository -------------------------------------------------------------

def test_imports_follow_the_layer_arrows():
    violations = layer_violations(REPO_ROOT)
    assert not violations, "imports against the layering:\n" + "\n".join(map(str, violations))


def test_the_scan_sees_the_core_and_storage_modules():
    scanned = {str(p.relative_to(REPO_ROOT)) for p in python_files(REPO_ROOT)}
    assert {"core/schema.py", "core/importing/readers.py", "storage/database.py", "cli.py"} <= scanned


def test_every_page_calls_page_setup_first():
    problems = {str(p.relative_to(REPO_ROOT)): page_setup_problem(p) for p in page_files(REPO_ROOT)}
    bad = {file: problem for file, problem in problems.items() if problem}
    assert not bad, "pages that do not start with page_setup(...):\n" + "\n".join(
        f"{file}: {problem}" for file, problem in bad.items())


# --- the checker itself, on small trees (so the rules above cannot pass vacuously) -----------

def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_reports_each_wrong_arrow_with_file_and_line(tmp_path):
    root = make_tree(tmp_path, {
        "core/__init__.py": "",
        "core/good.py": "import json\nfrom core.schema import TaskSchema\n",
        "core/bad.py": "import os\nimport streamlit as st\nfrom sqlalchemy.orm import Session\n",
        # `from .. import cli` is core.cli here, not the top-level cli.py: no violation.
        "core/sub/deep.py": "from ...storage import models\nfrom .. import cli\n",
        "core/dynamic.py": "import importlib\nimportlib.import_module('sqlmodel')\n",
        "storage/db.py": "from sqlalchemy import select\nfrom components.layout import x\n",
        "storage/ui.py": "def f():\n    import streamlit\n",
        "components/view.py": "import streamlit as st\nfrom storage.db import Database\n"
                              "from pages import home\n",
        "pages/1_Home.py": "from components.layout import page_setup\npage_setup('Home')\n",
        "cli.py": "from storage.db import Database\nimport streamlit\n",
    })
    assert sorted(map(str, layer_violations(root))) == sorted([
        "core/bad.py:2: imports streamlit (core/ is pure: no Streamlit)",
        "core/bad.py:3: imports sqlalchemy.orm (core/ is pure: no database sessions)",
        "core/sub/deep.py:1: imports storage (core/ imports nothing of ours)",
        "core/dynamic.py:2: imports sqlmodel (core/ is pure: no database sessions)",
        "storage/db.py:2: imports components.layout (storage/ sits below components/)",
        "storage/ui.py:2: imports streamlit (storage/ never imports Streamlit)",
        "components/view.py:3: imports pages (components/ sits below pages/)",
        "cli.py:2: imports streamlit (cli.py is headless)",
    ])


def test_checker_accepts_missing_or_empty_ui_folders(tmp_path):
    root = make_tree(tmp_path, {"core/a.py": "import json\n", "storage/b.py": "import core.a\n"})
    assert layer_violations(root) == []
    assert page_files(root) == []
    (root / "pages").mkdir()
    (root / "components").mkdir()
    assert layer_violations(root) == []
    assert page_files(root) == []


@pytest.mark.parametrize(("source", "problem"), [
    ('"""Doc."""\nfrom components.layout import page_setup\n\nKEY = "x"\n'
     'context = page_setup("Home", role="admin")\nrender(context)\n', None),
    ("import components.layout as layout\nlayout.page_setup('Home')\n", None),
    ("from components.layout import page_setup\nimport streamlit as st\n\n"
     "st.title('Hi')\npage_setup('Home')\n", "line 4: calls title(...) before page_setup(...)"),
    ("import streamlit as st\nst.write('no login')\n", "line 2: calls write(...) before page_setup(...)"),
    ("from components.layout import page_setup\n\ndef main():\n    page_setup('x')\n",
     "never calls page_setup(...) at module level"),
    ("", "never calls page_setup(...) at module level"),
])
def test_page_setup_check(tmp_path, source, problem):
    path = tmp_path / "page.py"
    path.write_text(source, encoding="utf-8")
    assert page_setup_problem(path) == problem


# --- the tests' own rule: a coroutine runs through tests/event_loops.run_async ----------------

def direct_asyncio_runs(files: list[Path]) -> list[str]:
    """``file:line`` of every ``asyncio.run(...)`` call in ``files``."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "asyncio"):
                found.append(f"{path}:{node.lineno}")
    return found


def test_tests_run_coroutines_on_a_thread_of_their_own():
    """The browser tests' Playwright keeps an event loop running on the main thread for the
    whole session, so a bare ``asyncio.run`` in a test passes alone and fails in the suite."""
    tests = [p for p in (REPO_ROOT / "tests").rglob("*.py") if p.name != "event_loops.py"]
    calls = direct_asyncio_runs(tests)
    assert not calls, "use tests.event_loops.run_async instead of asyncio.run:\n" + "\n".join(calls)


def test_the_asyncio_run_scan_finds_a_call(tmp_path):
    module = make_tree(tmp_path, {"t.py": "import asyncio\n\nasyncio.run(main())\n"}) / "t.py"
    assert direct_asyncio_runs([module]) == [f"{module}:3"]
