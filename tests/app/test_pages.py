"""Every page opens cold (a deep link, no session) without an exception and shows the nav."""

import ast

import pytest

from components.layout import PAGES
from tests.app.apptest_helpers import open_page
from tests.conftest import REPO_ROOT


def test_registry_lists_every_page_file():
    page_files = {f"pages/{path.name}" for path in (REPO_ROOT / "pages").glob("*.py")}
    registered = {page.path for page in PAGES}
    assert page_files | {"app.py"} == registered
    assert all((REPO_ROOT / page.path).is_file() for page in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_page_setup_is_the_first_call_with_the_registered_role(page):
    # DESIGN.md §2: a deep link runs the page file alone, so the guard must come first in it.
    tree = ast.parse((REPO_ROOT / page.path).read_text(encoding="utf-8"))
    body = [node for node in tree.body
            if not isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    call = body[0].value
    assert isinstance(call, ast.Call) and call.func.id == "page_setup"
    roles = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert roles.get("role") == page.role


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_page_opens_cold_with_the_navigation(app_db, page):
    at = open_page(page.path)
    assert not at.exception
    assert at.title[0].value == ("Docket" if page.path == "app.py" else page.label)
    nav = [link.label for link in at.sidebar.get("page_link")]
    assert nav == [entry.label for entry in PAGES]


def test_unusable_database_url_is_reported_not_raised(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKET_DATABASE_URL", "mysql://someone@localhost/docket")
    at = open_page("app.py")
    assert not at.exception
    assert "cannot open its database" in at.error[0].value
    assert "unsupported backend" in at.error[0].value
    assert not at.button  # the page stopped before drawing anything that needs the database
