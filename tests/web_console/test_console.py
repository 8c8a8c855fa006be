"""The duty console in a browser: sign in, an alarm raised by a posted record appears without a reload,
the operator acknowledges, comments and closes it, and the timeline says who did what."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.web_console.conftest import Site, new_page, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.timeout(120)


def _fire_record() -> dict[str, Any]:
    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    record = SampleFactory(3).record(record_type("fire_energy"), 0)
    record.update(BJ_ZT="火警", CS_ZT="0", YW_ZT="0")
    # A minute ago in the standard's local time: never in the future, inside the console's 1 h window.
    recent = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    for key, value in list(record.items()):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
            record[key] = recent
    return record


def test_an_alarm_appears_live_and_is_handled_with_its_timeline(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    operator = site.user("zhang_op", "property_staff", "E1")
    feeder = site.token(site.user("feeder", "property_staff", "E1"))
    page = new_page(browser, viewport={"width": 1366, "height": 900})
    page.goto(f"{site.base}/login")
    expect(page.locator("h1")).to_have_text("登录")
    screenshot(page, "01-login")

    sign_in(page, site, operator)
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=5000)
    expect(page.locator("#no-alarms")).to_be_visible()

    record = _fire_record()
    r = httpx.post(
        f"{site.base}/api/v1/records/fire_energy",
        params={"estate": "E1"},
        json=[record],
        headers={"Authorization": f"Bearer {feeder}"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    # The sample record also trips the (minor) energy rule; the fire is the critical one.
    row = page.locator("#alarm-rows tr[data-severity=critical]")
    expect(row).to_be_visible(timeout=2000)  # the acceptance: on the console within 2 s, no reload
    expect(row).to_contain_text("紧急")
    alarm_id = int(row.get_attribute("data-id") or 0)
    expect(page.locator("#critical-banner")).to_be_visible()
    expect(page.locator("#critical-banner")).to_have_class(re.compile(r"\bflash\b"))
    assert page.evaluate("document.body.dataset.beeps") == "1"
    screenshot(page, "02-console-new-critical-alarm")

    row.click()
    detail = page.locator("#detail")
    expect(detail.locator("[data-action=acknowledge]")).to_be_visible()
    expect(detail).to_contain_text(f"fire_energy:{record['ID']}")
    detail.locator("[data-action=acknowledge]").click()
    expect(page.locator("#timeline li[data-action=acknowledged]")).to_contain_text(operator)

    detail.locator("input[name=comment]").fill("已联系物业值班人员到场查看")
    detail.locator("button[data-action=comment]").click()
    expect(page.locator("#timeline li[data-action=commented]")).to_contain_text("已联系物业值班人员到场查看")

    detail.locator("input[name=close]").fill("误报：厨房油烟，已复位")
    detail.locator("button[data-action=close]").click()
    closed = page.locator("#timeline li[data-action=closed]")
    expect(closed).to_contain_text(operator)
    expect(closed).to_contain_text("误报：厨房油烟，已复位")
    expect(page.locator("#timeline li[data-action=raised]")).to_be_visible()
    # Closed alarms leave the default "open" filter; the detail panel keeps its history.
    expect(page.locator(f"#alarm-rows tr[data-id='{alarm_id}']")).to_have_count(0)
    screenshot(page, "03-console-alarm-closed-timeline")

    stored = site.svc.alarms.get(alarm_id)
    assert stored is not None and stored.closed_by == f"user:{operator}"
    page.context.close()


def test_the_console_switches_to_english(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, site, site.user("li_op", "grid_worker", "E1"))
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Duty console · alarms")
    page.reload()  # the choice is kept in a cookie
    expect(page.locator("h1")).to_have_text("Duty console · alarms")
    page.context.close()
