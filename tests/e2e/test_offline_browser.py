"""Nothing is fetched from outside, and the offline report is readable in a real browser.

Every page of the app, signed in as an admin with the demo data loaded, makes requests (and
opens websockets) to the app's own host only. The agreement report downloaded from the Export
page makes none at all, and asks for nothing its Content-Security-Policy would block; at 1000
and 1920 px every tick label, axis title and legend entry of its figures (the rater names) lies
inside its figure and the page.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.layout import PAGES
from tests.e2e.conftest import load_demo_for_admin
from tests.e2e.test_browser import by_key, sign_in

pytestmark = pytest.mark.browser

REPORT_PROJECT = "correctness"
WIDTHS = (1000, 1920)
# Plotly's SVG text that names raters, labels and models: tick labels, axis titles, legend.
FIGURE_TEXT = (".xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .legendtext, "
               ".annotation-text")
# [figure id, text, left, right, top, bottom, why] of each text drawn (not hidden) outside
# its figure's SVG or the page's width, and the number of texts checked per figure.
OUTSIDE_TEXT = """(selector) => {
  const width = document.documentElement.clientWidth, outside = [], checked = {};
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
    checked[plot.id] = 0;
    for (const text of plot.querySelectorAll(selector)) {
      const box = text.getBoundingClientRect();
      if (!text.textContent.trim() || (box.width === 0 && box.height === 0)) continue;
      checked[plot.id] += 1;
      const where = [plot.id, text.textContent, box.left, box.right, box.top, box.bottom];
      if (box.left < svg.left - 1 || box.right > svg.right + 1 || box.top < svg.top - 1
          || box.bottom > svg.bottom + 1) outside.push([...where, 'outside its figure']);
      else if (box.left < -1 || box.right > width + 1) outside.push([...where, 'off the page']);
    }
  }
  return {outside, checked};
}"""
# Collects what the Content-Security-Policy blocked (a fetch the page tried but never made).
RECORD_CSP_VIOLATIONS = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (event) => window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));"""


@pytest.fixture(scope="module")
def demo_server(own_docket_server):
    """The module's server with the demo projects; its admin annotates ``REPORT_PROJECT``."""
    return load_demo_for_admin(own_docket_server, REPORT_PROJECT)


def record_requests(page) -> list[str]:
    """Every URL ``page`` requests or opens a websocket to, from now on (appended live)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda socket: urls.append(socket.url))
    return urls


def elsewhere(urls: list[str], host: str) -> list[str]:
    """The URLs that reach a host other than ``host`` ("" for a page opened from a file,
    which may reach no host at all); ``data:`` and ``blob:`` URLs are made in the page and
    reach nobody."""
    return [url for url in urls if urlsplit(url).scheme not in ("data", "blob")
            and urlsplit(url).netloc != host]


def settled(page) -> None:
    """Wait until the script run that drew the page has finished."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')")


def test_no_page_requests_anything_from_another_host(page, demo_server):
    host = urlsplit(demo_server.url).netloc
    urls = record_requests(page)
    page.goto(demo_server.url)
    sign_in(page, demo_server.admin_name, demo_server.admin_password)
    fetched_elsewhere = {}
    for entry in PAGES:
        title = "Docket" if entry.path == "app.py" else entry.label
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name=entry.label).click()
        page.locator('[data-testid="stMain"]').get_by_role("heading", name=title, exact=True).wait_for()
        settled(page)
        page.wait_for_load_state("networkidle")
        fetched_elsewhere[entry.label] = elsewhere(urls, host)
        urls.clear()
    # The walk reached every page and drew their icons (the navigation's, the buttons').
    assert list(fetched_elsewhere) == [entry.label for entry in PAGES]
    assert fetched_elsewhere == {entry.label: [] for entry in PAGES}


def download_report(page, server, folder: Path) -> Path:
    """The agreement report of :data:`REPORT_PROJECT` as the Export page downloads it."""
    page.goto(f"{server.url}/Export?export.project={REPORT_PROJECT}")
    sign_in(page, server.admin_name, server.admin_password)
    page.get_by_role("heading", name="Export").wait_for()
    settled(page)
    by_key(page, "export.kind").get_by_text("Report", exact=True).click()
    settled(page)
    resamples = by_key(page, "export.resamples").get_by_role("spinbutton")
    resamples.fill("100")
    page.get_by_role("button", name="Prepare export").click()
    button = page.get_by_role("button", name=f"Download {REPORT_PROJECT}-report.html", exact=True)
    button.wait_for(timeout=120_000)
    settled(page)
    with page.expect_download() as download:
        button.click()
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path


def test_the_exported_report_fetches_nothing_and_keeps_every_name_on_the_page(
        browser, page, demo_server, tmp_path):
    report = download_report(page, demo_server, tmp_path)
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 1000})
        try:
            tab = context.new_page()
            tab.add_init_script(RECORD_CSP_VIOLATIONS)
            urls = record_requests(tab)
            tab.goto(report.as_uri())
            tab.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot .main-svg').length"
                " && document.querySelectorAll('.js-plotly-plot').length"
                " === document.querySelectorAll('figure.chart').length", timeout=60_000)
            tab.wait_for_load_state("load")
            found = tab.evaluate(OUTSIDE_TEXT, FIGURE_TEXT)
            violations = tab.evaluate("() => window.cspViolations")
            texts = tab.eval_on_selector_all(
                ".js-plotly-plot", "plots => plots.map(plot => plot.textContent).join(' ')")
        finally:
            context.close()
        assert found["checked"] and all(found["checked"].values()), found["checked"]
        for rater in ("dr_ahmed", "human consensus", "prometheus-2-7b (n=32)"):
            assert rater in texts, rater  # the rater names are among what was checked
        assert found["outside"] == [], f"at {width} px"
        assert urls and elsewhere(urls, "") == []
        assert violations == []
