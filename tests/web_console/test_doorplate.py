"""A resident scans a doorplate on a phone-sized screen and registers, without an account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.web_console.conftest import Site, new_page, screenshot, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.timeout(120)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def estate_site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    """The doorplate fixture's estate (it builds its own regions), with its doorplates issued."""
    from anju.registry.doorplates import Doorplates
    from tests.registry import doorplate_fixture as fx

    svc = open_services(make_settings(tmp_path, migrated_sqlite_url(tmp_path / "anju.db")))
    try:
        estate = fx.build(svc)
        plates = Doorplates(svc)
        plates.issue_for_estate("E1", actor="fixture")
        plate = plates.for_target("house", estate.houses["102"])
        assert plate is not None
        with serve(svc) as base:
            yield Site(svc, base), plates.token(plate)
    finally:
        svc.close()


def test_a_resident_registers_from_a_doorplate_on_a_phone(
    estate_site: tuple[Site, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    from tests.registry.doorplate_fixture import id_number

    site, token = estate_site
    page = new_page(browser, **PHONE)
    page.goto(f"{site.base}/d/{token}")
    expect(page.locator("#registration")).to_be_visible()
    page.fill("#f-name", "陈小梅")
    page.fill("#f-id_number", id_number("42010219950505123"))
    page.fill("#f-phone", "13900001111")
    page.fill("#f-moved_in", "2026-03-01")
    page.click("#registration button[type=submit]")
    result = page.locator("#result")
    expect(result).to_be_visible()
    expect(result).to_have_class("msg ok")
    expect(result).to_contain_text("已提交")
    # The page is laid out for the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "05-doorplate-phone-registration")
    page.context.close()
