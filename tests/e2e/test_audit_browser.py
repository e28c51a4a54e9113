"""Browser: the Dashboard's Bias card of a pairwise demo judge draws its chart and table, with
an undefined figure's reason in words; the Win rates view draws both rankings."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import sign_in, snapshot
from tests.e2e.test_review_browser import settled

pytestmark = pytest.mark.browser


def test_bias_card_and_win_rates_in_the_browser(page, demo_server):
    page.goto(f"{demo_server.url}/Dashboard?dashboard.project=pairwise")
    sign_in(page, demo_server.admin_name, demo_server.admin_password)
    page.get_by_text("agrees best with the human consensus").wait_for()
    settled(page)

    page.get_by_text("Bias card", exact=True).click()
    caption = page.get_by_text("Bias card of", exact=False)
    caption.wait_for()
    settled(page)
    assert "gpt-3.5-turbo" in caption.inner_text()
    assert "model family: none" in caption.inner_text()
    table = page.locator('[data-testid="stDataFrame"]').last
    table.scroll_into_view_if_needed()
    table.wait_for()
    # The chart of the defined figures is drawn beside the headline's.
    assert page.locator(".js-plotly-plot").count() >= 2
    snapshot(page, "docket_bias_card.png")

    page.get_by_text("Win rates", exact=True).click()
    page.get_by_text("Bradley–Terry strength by the human consensus", exact=False).wait_for()
    settled(page)
    assert page.locator(".js-plotly-plot").count() >= 2
    snapshot(page, "docket_win_rates.png")
