"""The README's screenshots, regenerated from the demo data on a real server: the Annotate page
after a label is saved and the judges revealed, and the Dashboard of the ``correctness`` demo
project. The README must link both (checked without a browser)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image, ImageChops

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import load_demo_for_admin
from tests.e2e.test_browser import by_key, sign_in
from tests.e2e.test_offline_browser import elsewhere, record_requests

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
ANNOTATE_PNG = SCREENSHOTS / "annotate.png"
DASHBOARD_PNG = SCREENSHOTS / "dashboard.png"
PROJECT = "correctness"
VIEWPORT = {"width": 1280, "height": 1000}
SAME_PICTURE_PIXELS = 500


@pytest.fixture(scope="module")
def demo_server(own_docket_server):
    """The module's server with the demo projects; its admin annotates ``PROJECT``."""
    return load_demo_for_admin(own_docket_server, PROJECT)


@pytest.fixture
def tab(browser):
    """A tab of the README's screenshot size."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def settled(page) -> None:
    """Wait until the last run has finished and nothing on the page is stale."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    page.wait_for_function("() => !document.querySelector('[data-stale=true]')")


def differing_pixels(old_png: bytes, new_png: bytes) -> int:
    """How many pixels differ between two PNG pictures (all of them if the sizes differ)."""
    old, new = (Image.open(io.BytesIO(png)).convert("RGB") for png in (old_png, new_png))
    if old.size != new.size:
        return new.size[0] * new.size[1]
    return int(np.asarray(ImageChops.difference(old, new)).any(axis=2).sum())


def shot(page, path: Path) -> None:
    """Save the viewport as ``path`` (the folder is created if missing). A picture that
    differs from the one there in fewer than :data:`SAME_PICTURE_PIXELS` pixels (rendering
    jitter: a one-pixel column of an input's border was seen) leaves the file alone, so a
    test run does not rewrite a tracked file for nothing."""
    page.wait_for_timeout(500)  # let transitions (toasts, chart animations) end
    png = page.screenshot()
    if path.is_file() and differing_pixels(path.read_bytes(), png) < SAME_PICTURE_PIXELS:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)


@pytest.mark.browser
def test_dashboard_then_annotate_after_the_judges_are_revealed(tab, demo_server):
    # One test, in this order: the Dashboard is shot before the admin's own label joins the
    # demo's human labels.
    server = demo_server
    urls = record_requests(tab)
    tab.goto(f"{server.url}/Dashboard?dashboard.project={PROJECT}")
    sign_in(tab, server.admin_name, server.admin_password)
    tab.get_by_text("agrees best with the human consensus").wait_for()
    tab.locator(".js-plotly-plot .main-svg").first.wait_for()
    settled(tab)
    shot(tab, DASHBOARD_PNG)

    tab.locator('[data-testid="stSidebar"]').get_by_role("link", name="Annotate").click()
    tab.get_by_text(re.compile(r"^Item corr-\d+$")).wait_for()
    settled(tab)
    label = by_key(tab, "annotate.label.correct.0")
    label.get_by_role("button").click()
    label.locator('[data-testid="stBaseButton-primary"]').wait_for()
    settled(tab)
    tab.keyboard.press("Enter")  # save: the judges are revealed
    tab.get_by_text(re.compile(r"\d+ of \d+ judges agree with you")).wait_for()
    settled(tab)
    shot(tab, ANNOTATE_PNG)
    for path in (DASHBOARD_PNG, ANNOTATE_PNG):
        assert path.stat().st_size > 10_000, path  # a picture, not a blank page
    # What the pictures show (the verdicts' icons too) came from the app alone.
    assert urls and elsewhere(urls, urlsplit(server.url).netloc) == []


def test_the_readme_shows_both_screenshots_near_the_pages_table():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    pages = readme.split("\n## Pages\n", 1)[1].split("\n## ", 1)[0]
    for path in (ANNOTATE_PNG, DASHBOARD_PNG):
        link = path.relative_to(REPO_ROOT).as_posix()
        assert re.search(rf"!\[[^\]]+\]\({re.escape(link)}\)", pages), link
        assert path.is_file(), link
