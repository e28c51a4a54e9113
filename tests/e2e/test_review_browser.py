"""Browser walk through the Dashboard, Disagreements and Export pages on the demo projects: the
headline and its chart appear after signing in through a deep link, a gold decision made in
the browser lands in the database with who decided it, and an export downloads as the file its
metadata describes. Screenshots go to /tmp."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.error_tags import item_error_tags
from storage.models import Gold, UserAccount
from storage.projects import get_project
from storage.review import find_item_id
from tests.e2e.test_browser import by_key, sign_in, snapshot

pytestmark = pytest.mark.browser


def settled(page) -> None:
    """Wait until the script run that drew the page has finished."""
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")


def test_dashboard_headline_and_chart(page, demo_server):
    page.goto(f"{demo_server.url}/Dashboard?dashboard.project=correctness")
    sign_in(page, demo_server.admin_name, demo_server.admin_password)

    page.get_by_text("agrees best with the human consensus").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    settled(page)
    assert page.get_by_role("heading", name="Dashboard").count() == 1
    assert "gpt-4o" in page.get_by_text("agrees best with the human consensus").inner_text()
    snapshot(page, "docket_dashboard.png")


def test_gold_decided_in_the_browser_is_stored(page, demo_server):
    db = Database(demo_server.database_url)
    try:
        with db.read() as session:
            project_id = get_project(session=session, name="correctness").id
            item_id = find_item_id(session=session, project_id=project_id, external_id="corr-001")
        page.goto(f"{demo_server.url}/Disagreements?disagreements.project=correctness"
                  "&disagreements.item=corr-001")
        sign_in(page, demo_server.admin_name, demo_server.admin_password)
        page.get_by_text("Item corr-001", exact=True).wait_for()
        settled(page)

        gold = by_key(page, f"disagreements.gold.{item_id}.correct")
        gold.scroll_into_view_if_needed()
        gold.get_by_role("button", name="Open").click()
        page.get_by_role("option", name="Incorrect", exact=True).click()
        note = by_key(page, f"disagreements.gold.{item_id}.note").get_by_role("textbox")
        note.fill("Unsafe dosing advice.")
        by_key(page, f"disagreements.gold.{item_id}.save").get_by_role("button").click()
        page.get_by_text("Gold saved: 2 changes.").wait_for()
        settled(page)
        snapshot(page, "docket_disagreements.png")

        with db.read() as session:
            gold = session.execute(select(Gold).where(Gold.item_id == item_id)).scalars().one()
            decider = session.get(UserAccount, gold.decided_by)
        assert (gold.label, gold.note, decider.name) == ("incorrect", "Unsafe dosing advice.",
                                                         demo_server.admin_name)
    finally:
        db.dispose()


def test_an_error_tagged_in_the_browser_is_stored_and_counted(page, demo_server):
    db = Database(demo_server.database_url)
    try:
        with db.read() as session:
            project_id = get_project(session=session, name="correctness").id
            item_id = find_item_id(session=session, project_id=project_id, external_id="corr-002")
        page.goto(f"{demo_server.url}/Disagreements?disagreements.project=correctness"
                  "&disagreements.item=corr-002")
        sign_in(page, demo_server.admin_name, demo_server.admin_password)
        page.get_by_text("Item corr-002", exact=True).wait_for()
        settled(page)

        tags = by_key(page, f"disagreements.error_tags.{item_id}.gpt-4o.correct")
        tags.scroll_into_view_if_needed()
        box = tags.get_by_role("combobox")
        box.click()
        box.press_sequentially("penalised")
        page.get_by_role("option", name="penalised correct paraphrase", exact=True).wait_for()
        box.press("Enter")
        box.press("Escape")
        by_key(page, f"disagreements.error_tags.{item_id}.gpt-4o.save").get_by_role(
            "button").click()
        page.get_by_text("Error tags of gpt-4o saved (1).").wait_for()
        settled(page)

        with db.read() as session:
            assert item_error_tags(session=session, item_id=item_id) == {
                ("gpt-4o", "correct"): ("penalised correct paraphrase",)}
        page.goto(f"{demo_server.url}/Dashboard?dashboard.project=correctness")
        # Still signed in after the navigation (persistent sessions).
        page.get_by_text("agrees best with the human consensus").wait_for()
        by_key(page, "dashboard.view").get_by_text("Why judges err", exact=True).click()
        page.get_by_text("judge:gpt-4o (1 tagged)").first.wait_for()
        settled(page)
        snapshot(page, "docket_error_taxonomy.png")
    finally:
        db.dispose()


def test_an_export_downloads_with_its_checksum(page, demo_server, tmp_path):
    page.goto(f"{demo_server.url}/Export?export.project=pairwise")
    sign_in(page, demo_server.admin_name, demo_server.admin_password)
    page.get_by_role("heading", name="Export").wait_for()
    settled(page)
    by_key(page, "export.kind").get_by_text("Preferences", exact=True).click()
    settled(page)
    page.get_by_role("button", name="Prepare export").click()
    download_button = page.get_by_role("button", name="Download pairwise-preferences.jsonl",
                                       exact=True)
    download_button.wait_for()
    settled(page)
    snapshot(page, "docket_export.png")

    with page.expect_download() as data_download:
        download_button.click()
    with page.expect_download() as meta_download:
        page.get_by_role("button", name="Download pairwise-preferences.jsonl.meta.json").click()

    data = tmp_path / "pairs.jsonl"
    data_download.value.save_as(data)
    meta = json.loads(meta_download.value.path().read_text(encoding="utf-8"))
    assert data_download.value.suggested_filename == "pairwise-preferences.jsonl"
    assert hashlib.sha256(data.read_bytes()).hexdigest() == meta["sha256"]
    pairs = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == meta["rows"] > 0 and meta["kind"] == "preferences"
    assert {"prompt", "chosen", "rejected"} <= set(pairs[0])
