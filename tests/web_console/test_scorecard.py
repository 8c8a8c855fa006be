"""The scorecard page in a browser: the radar chart is drawn, indicators show their criteria."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.web_console.conftest import Site, new_page, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.timeout(120)


def test_the_scorecard_shows_the_radar_chart_and_the_indicators(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, viewport={"width": 1280, "height": 900})
    sign_in(page, site, site.user("wang_admin", "community_admin", "C1"), "/evaluation/C1")
    expect(page.locator("h1")).to_contain_text("社区评价得分卡")
    radar = page.locator("img.radar")
    expect(radar).to_be_visible()
    # A decoded image, not a broken one: the PNG came with the page.
    assert page.evaluate("document.querySelector('img.radar').naturalWidth") > 300
    expect(page.locator("details.indicator")).to_have_count(32)
    page.locator("details.indicator summary").first.click()
    expect(page.locator("details.indicator").first).to_contain_text("SE11.1")
    screenshot(page, "04-scorecard")
    page.context.close()


def test_a_community_outside_the_scope_is_not_found(site: Site, browser: Browser) -> None:
    page = new_page(browser)
    sign_in(page, site, site.user("zhao_admin", "community_admin", "C1"), "/console")
    response = page.goto(f"{site.base}/evaluation/C2")
    assert response is not None and response.status == 404
    page.context.close()
