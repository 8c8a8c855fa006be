"""The records look-up page in a browser: a grid worker finds access swipes by ID number and sees only
masked ID numbers; a community police officer (records:unmask) reveals one record with 显示, audited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.web_console.conftest import Site, new_page, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.timeout(120)
NUMBER = "420105199612151552"  # the sample's (valid, fictitious) ID number
MASKED = re.compile(r"^4\*{15}52$")
LOCAL = ZoneInfo("Asia/Shanghai")


def _swipes(site: Site) -> list[dict[str, Any]]:
    """Three swipes in E1 a minute ago: two by the person with NUMBER, one by someone else."""
    from anju.ingest.decode import decode_body
    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    recent = (datetime.now(LOCAL) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    records = []
    for i in range(3):
        rec = SampleFactory(3 + i).record(record_type("access_swipe"), i)
        for key, value in list(rec.items()):
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
                rec[key] = recent
        rec["SB_BH"] = f"MJ-{i}"
        if i < 2:
            rec["GMSFHM"] = NUMBER
        records.append(rec)
    assert records[2]["GMSFHM"] != NUMBER
    result = site.svc.pipeline.ingest(
        "access_swipe", decode_body(orjson.dumps(records)), source="test", estate="E1"
    )
    assert result.accepted == 3, result.to_dict()
    return records


def _search(page: Page, number: str = "", device: str = "", start: str = "", end: str = "") -> None:
    page.select_option("#rec-type", "access_swipe")
    page.select_option("#rec-field", "GMSFHM")
    page.fill("#rec-value", number)
    page.fill("#rec-device", device)
    page.fill("#rec-from", start)
    page.fill("#rec-to", end)
    page.click("#rec-search")


def test_a_grid_worker_sees_only_masked_id_numbers(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    records = _swipes(site)
    page = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(page, site, site.user("wang_grid", "grid_worker", "E1"), "/records")
    expect(page.locator("h1")).to_have_text("记录查询")

    _search(page, NUMBER)
    rows = page.locator("#rec-rows tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#rec-summary")).to_contain_text("个人信息已脱敏")
    shown = page.locator("#rec-rows td[data-field=GMSFHM]").all_inner_texts()
    assert len(shown) == 2 and all(MASKED.match(s) for s in shown), shown
    assert {t for t in page.locator("#rec-rows td[data-field=ID]").all_inner_texts()} == {
        records[0]["ID"],
        records[1]["ID"],
    }
    # Not in the table, not in the expanded fields, nowhere in the page; and no reveal button.
    page.locator("#rec-rows details summary").first.click()
    assert NUMBER not in page.content()
    assert NUMBER not in page.inner_text("body")
    expect(page.locator("button.reveal")).to_have_count(0)
    screenshot(page, "20-records-grid-worker-masked")

    # By device, and by time range on the record's own time.
    _search(page, device="MJ-2")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td[data-field=SB_BH]")).to_have_text("MJ-2")
    now = datetime.now(LOCAL)
    _search(page, NUMBER, start=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    expect(rows).to_have_count(2)
    _search(page, NUMBER, end=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#rec-summary")).to_have_text("没有符合条件的记录。")
    expect(page.locator("#rec-table")).to_be_hidden()
    page.context.close()


def test_unmasking_is_offered_to_police_and_audited(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    records = _swipes(site)
    officer = site.user("li_police", "community_police", "E1")
    page = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(page, site, officer, "/records")
    _search(page, NUMBER)
    expect(page.locator("#rec-rows tr")).to_have_count(2)
    first = page.locator(f"#rec-rows tr[data-id='{records[0]['ID']}']")
    expect(first.locator("td[data-field=GMSFHM]")).to_have_text(MASKED)
    assert NUMBER not in page.content()  # masked until asked

    button = first.locator("button.reveal")
    expect(button).to_have_text("显示")
    button.click()
    expect(first.locator("td[data-field=GMSFHM]")).to_have_text(NUMBER)
    expect(button).to_have_text("已显示（已审计）")
    # The other record stays masked.
    other = page.locator(f"#rec-rows tr[data-id='{records[1]['ID']}'] td[data-field=GMSFHM]")
    expect(other).to_have_text(MASKED)
    screenshot(page, "21-records-police-revealed")

    entries = site.svc.audit.query(actor=f"user:{officer}", action="records.unmask")
    assert [e.target for e in entries] == [f"access_swipe/{records[0]['ID']}"]
    page.context.close()
