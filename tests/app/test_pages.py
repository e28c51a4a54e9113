"""Every page guards itself: opened cold (a deep link, no session) it shows only the sign-in
form; signed in, the navigation lists exactly the pages the user's role may open; an annotator
on an admin page sees only "not allowed"."""

import ast

import pytest

from components.layout import PAGES
from tests.app.apptest_helpers import open_page, rendered
from tests.conftest import REPO_ROOT

ADMIN_PAGES = [page for page in PAGES if page.role == "admin"]
SIGN_IN_ONLY = [
    ("title", None, "Sign in to Docket"),
    ("text_input", "auth.sign_in.name", ""),
    ("text_input", "auth.sign_in.password", ""),
    ("button", "auth.sign_in.submit", None),
]
FIRST_ADMIN_ONLY = [
    ("title", None, "Welcome to Docket"),
    ("markdown", None, "There is no admin account yet. Create the first one: it can import data, "
                       "add annotators and other admins, and export results."),
    ("text_input", "auth.first.name", ""),
    ("text_input", "auth.first.display_name", ""),
    ("text_input", "auth.first.password", ""),
    ("text_input", "auth.first.repeat", ""),
    ("button", "auth.first.submit", None),
]


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
    if isinstance(body[0], ast.If) and ast.unparse(body[0].test) == "__name__ == '__main__'":
        body = body[0].body  # app.py: the page is its script branch; the module serves st.App
    call = body[0].value
    assert isinstance(call, ast.Call) and call.func.id == "page_setup"
    roles = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert roles.get("role") == page.role


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_page_opened_cold_shows_only_the_sign_in_form(app_db_any, admin, page):
    at = open_page(page.path)
    assert not at.exception
    assert rendered(at) == SIGN_IN_ONLY
    assert rendered(at, "sidebar") == []  # not even the navigation


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_page_opened_cold_on_an_empty_database_shows_only_the_first_admin_form(app_db, page):
    at = open_page(page.path)
    assert not at.exception
    assert rendered(at) == FIRST_ADMIN_ONLY
    assert rendered(at, "sidebar") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_signed_in_admin_opens_every_page_with_the_full_navigation(app_db, admin, page):
    at = open_page(page.path, user=admin)
    assert not at.exception
    assert at.title[0].value == ("Docket" if page.path == "app.py" else page.label)
    nav = [link.label for link in at.sidebar.get("page_link")]
    assert nav == [entry.label for entry in PAGES]
    assert at.sidebar.caption[0].value == "Signed in as **Ada Admin** (admin)"
    assert at.sidebar.button(key="auth.sign_out").label == "Sign out"


def test_annotator_navigation_lists_only_the_pages_of_their_role(app_db, annotator):
    at = open_page("app.py", user=annotator)
    assert not at.exception
    nav = [link.label for link in at.sidebar.get("page_link")]
    assert nav == [page.label for page in PAGES if page.role in (None, "annotator")]
    assert not set(nav) & {page.label for page in ADMIN_PAGES}
    assert at.sidebar.caption[0].value == "Signed in as **ann** (annotator)"


@pytest.mark.parametrize("page", ADMIN_PAGES, ids=lambda page: page.label)
def test_annotator_on_an_admin_page_sees_only_not_allowed(app_db, annotator, page):
    at = open_page(page.path, user=annotator)
    assert not at.exception
    assert rendered(at) == [("error", None, (
        f"You are not allowed to open **{page.label}**: it is for the admin role, and you are "
        "signed in as ann (annotator)."))]
    # Nothing to act with: the only widget on the whole page is the sign-out button.
    assert [key for kind, key, _ in rendered(at, "sidebar") if key] == ["auth.sign_out"]


def test_unusable_database_url_is_reported_not_raised(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DOCKET_DATABASE_URL", "mysql://someone@localhost/docket")
    at = open_page("app.py")
    assert not at.exception
    assert at.error[0].value.startswith("Docket is not available")
    assert "unsupported backend" not in at.error[0].value  # the reason is for the server log
    assert "unsupported backend 'mysql'" in caplog.text
    assert not at.button  # the page stopped before drawing anything that needs the database
