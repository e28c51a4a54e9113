"""Browser walk through the real server: sign-in, demo data on the home page, an upload on Import.

The final check reads the server's SQLite database through ``storage`` to confirm that exactly
the valid rows were written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.templates import TEMPLATES
from storage.database import Database
from storage.demo import demo_files
from storage.projects import find_project, project_summaries
from storage.readback import items_frame, verdicts_frame
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp")


def grid_cells(page, containing: str) -> list[str]:
    """Texts of the cells of the data grid whose header row contains ``containing``."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text=containing)
    # The grid draws on a canvas; its cells are in a hidden accessibility table.
    grid.first.locator("[role=gridcell]").first.wait_for(state="attached")
    return grid.first.locator("[role=gridcell]").all_inner_texts()


def snapshot(page, name: str) -> None:
    """Save a screenshot of the whole page to /tmp (Streamlit scrolls inside its own container,
    so the viewport is made tall for the shot instead of using ``full_page``)."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2600})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / name))
    page.set_viewport_size(size)


def by_key(page, key: str):
    """The element Streamlit rendered for the widget with ``key`` (class ``st-key-<key>``)."""
    return page.locator(f".st-key-{key.replace('.', '-')}")


def sign_in(page, name: str, password: str) -> None:
    """Fill in the sign-in form shown on the current page and submit it with Enter."""
    page.get_by_role("heading", name="Sign in to Docket").wait_for()
    page.get_by_role("textbox", name="User name", exact=True).fill(name)
    password_box = page.get_by_role("textbox", name="Password", exact=True)
    password_box.fill(password)
    password_box.press("Enter")


def test_deep_link_shows_only_the_sign_in_form_until_signed_in(page, docket_server):
    page.goto(f"{docket_server.url}/Import")  # a fresh server process, straight to an admin page
    page.get_by_role("heading", name="Sign in to Docket").wait_for()
    password_box = page.get_by_role("textbox", name="Password", exact=True)
    assert password_box.get_attribute("type") == "password"
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    assert page.get_by_role("link", name="Import").count() == 0  # no navigation either
    snapshot(page, "docket_sign_in.png")

    sign_in(page, docket_server.admin_name, "not the password")
    page.get_by_text("Wrong user name or password.").wait_for()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    # The typed password is gone from the field (and from the server's session state).
    assert page.get_by_role("textbox", name="Password", exact=True).input_value() == ""

    sign_in(page, docket_server.admin_name, docket_server.admin_password)
    page.get_by_role("heading", name="Import").first.wait_for()
    by_key(page, "import.uploader").wait_for()
    page.get_by_text(f"Signed in as {docket_server.admin_name}").wait_for()

    by_key(page, "auth.sign_out").get_by_role("button").click()
    page.get_by_role("heading", name="Sign in to Docket").wait_for()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0


def test_home_loads_the_demo_projects(page, docket_server):
    missing = [path.name for path in demo_files().values() if not path.is_file()]
    if missing:
        skip_or_fail(f"storage/demo_data is incomplete, missing: {', '.join(missing)}")
    page.goto(docket_server.url)
    sign_in(page, docket_server.admin_name, docket_server.admin_password)
    page.get_by_role("heading", name="Docket").first.wait_for()
    page.get_by_text("There are no projects yet").wait_for()
    snapshot(page, "docket_home_empty.png")
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text(f"Demo data loaded: {len(TEMPLATES)} projects").wait_for()
    cells = grid_cells(page, "human labels")
    for template in TEMPLATES:
        assert template in cells
    snapshot(page, "docket_home.png")


# A judge name is file content: it must show as text, never as an image the browser fetches.
TRACKER_JUDGE = "![t](http://127.0.0.1:9/pixel.png)"
BAD_ROW_FILE = [
    {"id": "e1", "prompt": "Capital of Peru?", "response": "Lima",
     "judges": {"judge_x": {"correct": "yes"}, TRACKER_JUDGE: {"correct": "yes"}}},
    {"id": "e2", "prompt": "Boiling point of water at sea level?", "response": "90 °C",
     "judges": {"judge_x": {"correct": "no"}}},
    {"id": "e3", "prompt": "Author of Hamlet?", "response": "Shakespeare",
     "judges": {"judge_x": {"correct": "perhaps"}}},
    {"id": "e4", "prompt": "Square root of 81?", "response": "9",
     "judges": {"judge_x": {"correct": "correct"}}},
]


def test_import_reports_the_bad_row_and_skip_writes_only_the_valid_ones(page, docket_server,
                                                                        tmp_path):
    data_file = tmp_path / "answers.jsonl"
    data_file.write_text("".join(json.dumps(r) + "\n" for r in BAD_ROW_FILE), encoding="utf-8")

    page.goto(docket_server.url)
    sign_in(page, docket_server.admin_name, docket_server.admin_password)
    page.get_by_role("link", name="Import").first.click()
    page.get_by_role("heading", name="Import").first.wait_for()
    by_key(page, "import.uploader").locator('input[type="file"]').set_input_files(data_file)
    page.get_by_text("answers.jsonl").wait_for()
    project_mode = by_key(page, "import.project_mode")
    if project_mode.count():  # projects exist already (the demo test ran first)
        project_mode.get_by_text("New project").click()
    name = page.get_by_label("New project name")
    name.fill("browser import")
    name.press("Enter")
    by_key(page, "import.template").wait_for()
    by_key(page, "import.validate").get_by_role("button").click()

    page.get_by_text("Validation report").wait_for()
    problems = grid_cells(page, "reason")
    assert problems == ["line 3", "judge.judge_x.correct",
                            "unknown label 'perhaps' (allowed: correct, incorrect)"]
    page.get_by_text("Nothing will be written unless the file is clean").wait_for()
    judges_text = page.locator('[data-testid="stText"]').first.inner_text()
    assert judges_text == f"{TRACKER_JUDGE}, judge_x"  # sorted names, verbatim
    assert page.locator("img[src*='pixel.png']").count() == 0
    assert by_key(page, "import.run").count() == 0  # strict: no Import button to suggest one
    snapshot(page, "docket_import_report.png")

    by_key(page, "import.policy").get_by_text("Skip: import the valid records").click()
    page.get_by_text("Skip: 3 valid records will be imported").wait_for()
    import_button = by_key(page, "import.run").get_by_role("button")
    assert import_button.is_enabled()
    import_button.click()
    page.get_by_text("Imported into").wait_for()
    summary = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any(text.split() == ["Added", "3"] for text in summary)
    assert any(text.split() == ["Skipped", "1"] for text in summary)
    snapshot(page, "docket_import_done.png")

    db = Database(docket_server.database_url)
    try:
        with db.read() as session:
            project = find_project(session=session, name="browser import")
            assert project is not None and project.template == "correctness"
            items = items_frame(session=session, project_id=project.id)
            verdicts = verdicts_frame(session=session, project_id=project.id)
            names = [s.name for s in project_summaries(session=session)]
    finally:
        db.dispose()
    assert list(items["id"]) == ["e1", "e2", "e4"]
    judge_x = verdicts[verdicts["judge"] == "judge_x"]
    assert sorted(zip(judge_x["id"], judge_x["label"], strict=True)) == [
        ("e1", "correct"), ("e2", "incorrect"), ("e4", "correct")]
    assert verdicts[verdicts["judge"] == TRACKER_JUDGE]["id"].tolist() == ["e1"]
    assert "browser import" in names


def test_a_file_of_another_type_leaves_the_uploader_when_the_next_file_comes(page, docket_server,
                                                                             tmp_path):
    # With a type filter the browser refused notes.txt but kept it listed, with its error,
    # beside the next file.
    wrong, right = tmp_path / "notes.txt", tmp_path / "answers.jsonl"
    wrong.write_text("hello\n", encoding="utf-8")
    right.write_text(json.dumps(BAD_ROW_FILE[0]) + "\n", encoding="utf-8")
    page.goto(f"{docket_server.url}/Import")
    sign_in(page, docket_server.admin_name, docket_server.admin_password)
    uploader = by_key(page, "import.uploader")
    uploader.locator('input[type="file"]').set_input_files(wrong)
    page.get_by_text("notes.txt: unknown file type").wait_for()

    uploader.locator('input[type="file"]').set_input_files(right)
    page.get_by_text("unknown file type").wait_for(state="detached")
    listed = uploader.inner_text()
    assert "answers.jsonl" in listed and "notes.txt" not in listed
