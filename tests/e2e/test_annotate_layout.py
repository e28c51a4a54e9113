"""Layout at 1024 and 1920 px in the real browser: the Annotate page on the demo projects and
the Disagreements filters, measured from the element boxes (not by eye). Screenshots of every
measured page go to the test's ``tmp_path``.

At 1024 px the sidebar takes 300 px; what is measured is what used to go wrong there: a label
column of ~170 px with descriptions wrapped to five lines, a reference box that cut long
references, the source texts of a thematic item in a 340 px inner scroll, a toolbar that broke
onto two rows when the item was flagged, and a sort select cut to a few letters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.annotation import set_flag, submit_labels
from storage.annotation_settings import set_members
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.projects import get_project
from storage.queues import find_assignment, rebuild_queues
from storage.users import create_user
from tests.e2e.test_annotate_browser import ANNOTATOR_PASSWORD, settled
from tests.e2e.test_browser import by_key, sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1024, 1920)
ANNOTATOR = "e2e-layout"

# Every measure is read in one evaluation, from the boxes the browser laid out.
LABEL_LINES = """(dimension) => {
  const box = document.querySelector(`.st-key-annotate-dim-${dimension}`);
  const texts = '[data-testid^="stBaseButton"] [data-testid="stMarkdownContainer"] p';
  const lines = [...box.querySelectorAll(texts)]
    .map(p => Math.round(p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight)));
  return {width: box.getBoundingClientRect().width, lines};
}"""
TOOLBAR = """() => {
  const bar = document.querySelector('.st-key-annotate-toolbar');
  const boxes = [...bar.children].map(child => child.getBoundingClientRect());
  const heading = bar.children[0].querySelector('[data-testid="stMarkdownContainer"]');
  const cut = [heading, ...heading.querySelectorAll('*')]
    .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1).length;
  return {children: boxes.length, one_row: Math.max(...boxes.map(b => b.top))
                                           < Math.min(...boxes.map(b => b.bottom)),
          overflow: bar.scrollWidth - bar.clientWidth, heading_cut: cut};
}"""
REFERENCE = """() => {
  const area = document.querySelector('[class*="st-key-annotate-reference-"] textarea');
  return {scroll: area.scrollHeight, client: area.clientHeight};
}"""
INNER_SCROLLS = """() => {
  const item = document.querySelector('.st-key-annotate-body [data-testid="stColumn"]');
  return [...item.querySelectorAll('*')].filter(e =>
    ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)
    && e.scrollHeight > e.clientHeight + 1).length;
}"""
SELECT_CUT = """(selector) => {
  const input = document.querySelector(`${selector} input`);
  return {value: input.value, scroll: input.scrollWidth, client: input.clientWidth};
}"""


@pytest.fixture(scope="module")
def demo(own_docket_server):
    """The demo on the server; one annotator with every item of every project in their queue,
    corr-001 labelled and flagged (the longest toolbar heading)."""
    db = Database(own_docket_server.database_url)
    try:
        load_demo(db, actor=OPERATOR)
        with db.write() as session:
            user = create_user(session=session, name=ANNOTATOR, role="annotator",
                               password=ANNOTATOR_PASSWORD, actor=OPERATOR)
            projects = {name: get_project(session=session, name=name).id
                        for name in ("correctness", "thematic_alignment", "exam_question")}
            for project_id in projects.values():
                set_members(session=session, project_id=project_id, user_ids=[user.id],
                            actor=OPERATOR)
        for project_id in projects.values():
            rebuild_queues(db, project_id=project_id, actor=OPERATOR)
        with db.read() as session:
            item_id = find_assignment(session=session, project_id=projects["correctness"],
                                      user_id=user.id, external_id="corr-001").item_id
        submit_labels(db, project_id=projects["correctness"], user_id=user.id, item_id=item_id,
                      labels={"correct": "incorrect"}, actor=OPERATOR)
        set_flag(db, project_id=projects["correctness"], user_id=user.id, item_id=item_id,
                 flagged=True, note="dosing", actor=OPERATOR)
    finally:
        db.dispose()
    return own_docket_server, projects


def open_page(page, url: str, user: str, password: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(url)
    sign_in(page, user, password)


def shot(page, folder: Path, name: str) -> None:
    """Save the whole page (made tall for the shot: Streamlit scrolls its own container)."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / f"{name}-{size['width']}.png"))
    page.set_viewport_size(size)


@pytest.mark.parametrize("width", WIDTHS)
def test_label_column_and_descriptions(page, demo, width, tmp_path):
    server, projects = demo
    open_page(page, f"{server.url}/Annotate?project={projects['exam_question']}&item=exam-02",
              ANNOTATOR, ANNOTATOR_PASSWORD, width)
    page.get_by_text("Item exam-02", exact=True).wait_for()
    settled(page)
    shot(page, tmp_path, "annotate-exam")
    exam = page.evaluate(LABEL_LINES, "correctness")
    page.goto(f"{server.url}/Annotate?project={projects['thematic_alignment']}&item=ta-18")
    page.get_by_text("Item ta-18", exact=True).wait_for()
    settled(page)
    shot(page, tmp_path, "annotate-thematic")
    thematic = page.evaluate(LABEL_LINES, "alignment")

    assert len(exam["lines"]) == len(thematic["lines"]) == 5
    if width == 1024:
        assert exam["width"] >= 300 and thematic["width"] >= 300  # was ~190
        assert max(exam["lines"]) <= 2 and max(thematic["lines"]) <= 3  # were 4-5
    else:
        assert exam["width"] >= 500
        assert max(exam["lines"]) == 1 and max(thematic["lines"]) <= 2
    # ta-18's eleven one-line source texts are read whole, not through an inner scroll.
    assert page.evaluate(INNER_SCROLLS) == 0
    assert page.locator('[data-testid="stText"]').filter(
        has_text="The price increase made me cancel.").is_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_flagged_items_toolbar_stays_on_one_row_and_the_reference_is_whole(
        page, demo, width, tmp_path):
    server, projects = demo
    open_page(page, f"{server.url}/Annotate?project={projects['correctness']}&item=corr-001",
              ANNOTATOR, ANNOTATOR_PASSWORD, width)
    page.get_by_text("Item corr-001", exact=True).wait_for()
    settled(page)
    shot(page, tmp_path, "annotate-flagged")

    toolbar = page.evaluate(TOOLBAR)
    assert toolbar == {"children": 6, "one_row": True, "overflow": 0, "heading_cut": 0}
    assert "Flagged" in by_key(page, "annotate.toolbar").inner_text()
    # corr-001's reference (169 characters) fits its box whole at both widths.
    reference = page.evaluate(REFERENCE)
    assert reference["scroll"] <= reference["client"] + 1, reference


@pytest.mark.parametrize("width", WIDTHS)
def test_disagreements_selects_show_their_whole_choice(page, demo, width, tmp_path):
    server, _ = demo
    open_page(page, f"{server.url}/Disagreements?disagreements.project=exam_question",
              server.admin_name, server.admin_password, width)
    by_key(page, "disagreements.sort").wait_for()
    sort = by_key(page, "disagreements.sort")
    sort.locator("input").click()
    page.get_by_role("option", name="number of judges against the humans").click()
    page.wait_for_function("() => document.querySelector('.st-key-disagreements-sort input')"
                           ".value === 'number of judges against the humans'")
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')")
    shot(page, tmp_path, "disagreements")

    for selector in (".st-key-disagreements-sort", '[class*="st-key-disagreements-dimension-"]'):
        select = page.evaluate(SELECT_CUT, selector)
        assert select["scroll"] <= select["client"], select
