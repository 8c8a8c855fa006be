"""The device board and the quarantine viewer in a browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from tests.web_console.conftest import Site, new_page, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.timeout(120)


def test_the_device_board_counts_and_lists_devices_in_scope(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    statuses = ["active"] * 3 + ["fault"] * 2 + ["offline"]
    for i, status in enumerate(statuses):
        site.svc.devices.register(
            f"E1-SMOKE-{i}",
            estate="E1",
            kind="smoke_sensor",
            actor="test",
            name=f"{i + 1}栋烟感",
            location=f"{i + 1}栋1楼",
            status=status,
        )
    site.svc.devices.register("E2-CAM", estate="E2", kind="camera", actor="test", status="fault")
    page = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, site, site.user("zhou_staff", "property_staff", "E1"), "/devices")
    expect(page.locator("[data-count=active]")).to_have_text("3")
    expect(page.locator("[data-count=fault]")).to_have_text("2")
    expect(page.locator("[data-count=offline]")).to_have_text("1")
    expect(page.locator("#dev-rows tr")).to_have_count(6)
    expect(page.locator("#dev-rows")).not_to_contain_text("E2-CAM")
    expect(page.locator("p.maps a[href='/map/E1']")).to_be_visible()
    expect(page.locator("a[href='/map/E2']")).to_have_count(0)
    screenshot(page, "30-devices-board")
    page.click(".tile[data-status=fault]")
    expect(page.locator("#dev-rows tr")).to_have_count(2)
    expect(page.locator("#dev-rows tr[data-status=fault]")).to_have_count(2)
    page.context.close()


def _bad_swipe(site: Site) -> int:
    from anju.ingest.decode import decode_body
    from anju.standard.samples import mixed_records

    rec = next(r for r, _ in mixed_records("access_swipe", 1, seed=21, defect_rate=0.0))
    rec["SK_FSDM"] = "ZZ"  # not a code of the card-swipe dictionary
    result = site.svc.pipeline.ingest(
        "access_swipe", decode_body(orjson.dumps([rec])), source="test", estate="E1"
    )
    assert result.rejected == 1
    entry = result.rejects[0].quarantine_id
    assert entry is not None
    return entry


def test_the_quarantine_shows_findings_and_replays(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    entry = _bad_swipe(site)
    page = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, site, site.user("qian_staff", "property_staff", "E1"), "/quarantine")
    row = page.locator(f"#q-rows tr[data-id='{entry}']")
    expect(row).to_contain_text("SK_FSDM")
    row.click()
    detail = page.locator("#q-detail")
    expect(detail.locator(".findings li").first).to_contain_text("SK_FSDM")
    expect(detail.locator("#q-raw")).to_contain_text('"SK_FSDM"')
    page.click("#q-replay")
    # The data is still wrong: it stays, its replay counted.
    expect(page.locator("#q-result")).to_have_text("仍未通过校验，保留在隔离区。")
    assert site.svc.quarantine.get(entry) is not None
    screenshot(page, "31-quarantine")
    page.context.close()

    viewer = new_page(browser)
    sign_in(viewer, site, site.user("sun_grid", "grid_worker", "E1"), "/quarantine")
    viewer.locator(f"#q-rows tr[data-id='{entry}']").click()
    expect(viewer.locator("#q-detail .findings li").first).to_be_visible()
    expect(viewer.locator("#q-replay")).to_have_count(0)  # grid workers may look, not replay
    viewer.context.close()
