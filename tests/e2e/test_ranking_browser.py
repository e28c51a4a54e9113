"""Ranking four responses with the keyboard alone on the real server (issue 18): the response
numbers typed best first, Backspace, the implied last one, Enter to save; then each judge's
ranking beside the expert's with Kendall's τ-b (scipy's). Read back from the server's database."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from scipy.stats import kendalltau

from core.templates import TEMPLATES
from storage.annotator_view import user_labels
from storage.queues import find_assignment
from tests.app.annotate_helpers import make_annotation_project
from tests.conftest import REPO_ROOT
from tests.e2e.test_annotate_browser import (
    new_annotator,
    open_annotate,
    server_db,
    settled,
    shows_item,
)

pytestmark = pytest.mark.browser
server_db = server_db  # the fixture, re-exported for this module

RANKING = TEMPLATES["batch_ranking"]
DEMO = REPO_ROOT / "storage" / "demo_data" / "batch_ranking.jsonl"


def demo_items(n: int) -> list[dict]:
    """The first ``n`` demo items, without the annotators' rankings (the judges' stay)."""
    lines = DEMO.read_text(encoding="utf-8").splitlines()[:n]
    return [{key: value for key, value in json.loads(line).items() if key != "humans"}
            for line in lines]


def order_line(page, text: str):
    """The ranking input's order line showing ``text``."""
    return page.locator('[data-testid="stMarkdownContainer"] strong', has_text=text).first


def type_key(page, key: str, before: str, after: str) -> None:
    """Press ``key`` and wait until the order line shows ``after``; a key lost while the panel
    redrew (tests/e2e/test_annotate_browser.press_until) is pressed again only if the line
    still shows ``before``, so Backspace is never applied twice."""
    for attempt in range(3):
        page.keyboard.press(key)
        try:
            order_line(page, after).wait_for(timeout=7_000)
            settled(page)
            return
        except PlaywrightTimeoutError:
            if attempt == 2 or not order_line(page, before).is_visible():
                raise


def tau(a: list[int], b: list[int]) -> float:
    return kendalltau([a.index(r) for r in range(1, 5)], [b.index(r) for r in range(1, 5)]).statistic


def test_four_responses_ranked_with_the_keyboard_then_the_judges_rankings(
        page, own_docket_server, server_db, tmp_path):
    user = new_annotator(server_db)
    items = demo_items(2)
    project = make_annotation_project(server_db, tmp_path, [user], name="ranking keyboard",
                                      schema=RANKING, records=items)
    open_annotate(page, own_docket_server, user, project)
    shows_item(page, "rank-01")
    page.get_by_text("Press the response numbers from best to worst.").wait_for()
    content = page.content()
    assert "gpt-4o" not in content and "llama-3.1-70b" not in content  # blind: not in the DOM

    type_key(page, "2", "…", "2 › …")
    type_key(page, "1", "2 › …", "2 › 1 › …")
    type_key(page, "Backspace", "2 › 1 › …", "2 › …")
    type_key(page, "1", "2 › …", "2 › 1 › …")
    type_key(page, "4", "2 › 1 › …", "2 › 1 › 4 › 3")  # the last one implied
    page.get_by_text("#1 best").wait_for()

    page.keyboard.press("Enter")  # save; a blind project then shows the judges
    page.get_by_text("The judges' rankings").wait_for()
    settled(page)
    for judge, verdict in items[0]["judges"].items():
        order = verdict["ranking"]
        expected = f"{judge} — {' › '.join(map(str, order))} · τ-b {tau([2, 1, 4, 3], order):+.2f}"
        page.get_by_text(expected).wait_for()
    page.get_by_text("You — 2 › 1 › 4 › 3").wait_for()

    with server_db.read() as session:
        item = find_assignment(session=session, project_id=project, user_id=user.id,
                               external_id="rank-01").item_id
        assert user_labels(session=session, item_id=item, user_id=user.id) == {
            "ranking": "2,1,4,3"}
    page.keyboard.press("Enter")  # on to the next item
    shows_item(page, "rank-02")
