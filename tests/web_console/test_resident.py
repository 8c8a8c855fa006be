"""A resident at a house doorplate on a phone: the help button raises the emergency-call alarm on the duty
console within 2 s, a mashed button sends one call, and the nearest shelter is shown with its route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.web_console.conftest import Site, new_page, screenshot, serve, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.timeout(150)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# E1's walkable paths: building 1栋 to a junction, on to two shelters; 广场 is nearer (about 145 m).
NODES = [
    {"id": "E1-B1", "kind": "building", "lon": 114.3000, "lat": 30.6000},
    {"id": "J1", "kind": "junction", "lon": 114.3008, "lat": 30.6000},
    {"id": "SH-SQUARE", "kind": "shelter", "lon": 114.3008, "lat": 30.6010},
    {"id": "SH-SCHOOL", "kind": "shelter", "lon": 114.3030, "lat": 30.5990},
]
EDGES = [{"a": "E1-B1", "b": "J1"}, {"a": "J1", "b": "SH-SQUARE"}, {"a": "J1", "b": "SH-SCHOOL"}]


@pytest.fixture
def resident_site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    from anju.emergency.shelters import save_graph, save_shelter
    from anju.registry.doorplates import Doorplates
    from tests.registry import doorplate_fixture as fx

    svc = open_services(make_settings(tmp_path, migrated_sqlite_url(tmp_path / "anju.db")))
    try:
        estate = fx.build(svc)
        for sid, name, node in (("SH-SQUARE", "幸福广场应急避难场所", 2), ("SH-SCHOOL", "幸福小学操场", 3)):
            save_shelter(
                svc,
                id=sid,
                estate="E1",
                name=name,
                type="emergency",
                capacity=500,
                lon=NODES[node]["lon"],
                lat=NODES[node]["lat"],
                actor="fixture",
            )
        save_graph(svc, "E1", NODES, EDGES, actor="fixture")
        plates = Doorplates(svc)
        plates.issue_for_estate("E1", actor="fixture")
        plate = plates.for_target("house", estate.houses["102"])
        assert plate is not None
        with serve(svc) as base:
            yield Site(svc, base), plates.token(plate)
    finally:
        svc.close()


def _calls(site: Site) -> int:
    table = site.svc.db.table("rec_emergency_call")
    with site.svc.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_help_button_reaches_the_duty_console_within_two_seconds(
    resident_site: tuple[Site, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    site, token = resident_site
    console = new_page(browser, viewport={"width": 1366, "height": 900})
    sign_in(console, site, site.user("duty_op", "property_staff", "E1"))
    expect(console.locator("#live")).to_have_attribute("data-state", "open", timeout=5000)

    phone = new_page(browser, **PHONE)
    phone.goto(f"{site.base}/d/{token}")
    phone.click("#help-link")
    phone.wait_for_url(f"**/d/{token}/help")
    expect(phone.locator("#shelter-name")).to_have_text("幸福广场应急避难场所")
    expect(phone.locator("svg.route-map polyline.route")).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "10-resident-help-phone")

    phone.click("#help-button")
    phone.wait_for_url("**/help/sent?call=*")
    expect(phone.locator("h1")).to_have_text("求助已发出")
    expect(phone.locator("#sent")).to_contain_text("求助已发出")
    row = console.locator("#alarm-rows tr", has_text="紧急求助")
    expect(row).to_be_visible(timeout=2000)  # the acceptance: on the console within 2 s, no reload
    expect(row).to_contain_text("幸福小区1栋1单元102室")
    screenshot(phone, "11-resident-help-sent-phone")
    screenshot(console, "12-console-emergency-call")
    assert _calls(site) == 1

    # A mashed button: presses inside the cooldown answer the same call, nothing more is stored.
    for _ in range(5):
        r = phone.request.post(f"{site.base}/d/{token}/help", data={})
        assert r.status == 200 and r.json()["repeated"] is True
    assert _calls(site) == 1
    phone.context.close()
    console.context.close()


def test_the_help_page_speaks_english_and_refuses_a_bad_phone(
    resident_site: tuple[Site, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    site, token = resident_site
    phone = new_page(browser, **PHONE)
    phone.goto(f"{site.base}/d/{token}/help?lang=en")
    expect(phone.locator("#help-button")).to_have_text("Call for help now")
    phone.locator("details summary").click()
    phone.fill("#help-phone", "12ab")
    phone.click("#help-button")
    expect(phone.locator("#help-error")).to_contain_text("phone '12ab' is invalid")
    assert _calls(site) == 0
    response = phone.goto(f"{site.base}/d/not-a-token/help")
    assert response is not None and response.status == 404
    phone.context.close()


def test_the_resident_page_shows_warnings_first_in_red_and_the_estates_notices(
    resident_site: tuple[Site, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    from anju.notices.publishing import create_notice, publish, publish_system_notice, withdraw

    site, token = resident_site
    svc = site.svc
    channels = ["bulletin_board", "mobile_app"]

    def notice(title: str, body: str, category: str, audience: str, region: str = "E1") -> int:
        notice_id = create_notice(
            svc,
            region=region,
            title=title,
            body=body,
            category=category,
            audience=audience,
            actor="user:property_clerk",
            channels=channels,
            lon=114.3,
            lat=30.6,
        )
        publish(svc, notice_id, actor="user:property_clerk")
        return notice_id

    notice(
        "周六上午停水通知", "因管网检修，本周六 8:00-12:00 停水，请提前储水。", "property", "all_residents"
    )
    notice(
        "反诈提醒：冒充客服退款", "凡自称客服要求转账的，一律是诈骗。", "anti_fraud", "elderly", region="C1"
    )
    notice("物业内部排班调整", "仅供物业人员。", "general", "staff")
    withdraw(
        svc, notice("已撤回的通知", "不应显示。", "general", "all_residents"), actor="user:property_clerk"
    )
    # As the emergency module publishes a warning (warning_ops.publish → publish_system_notice).
    publish_system_notice(
        svc,
        region="E1",
        title="暴雨红色预警",
        body="预计未来3小时降雨量将达100毫米以上，请勿前往地下车库，低洼住户请做好转移准备。",
        category="emergency_warning",
        audience="all_residents",
        actor="user:duty_officer",
        source="emergency:warning",
        channels=channels,
        lon=114.3,
        lat=30.6,
    )

    phone = new_page(browser, **PHONE)
    phone.goto(f"{site.base}/d/{token}")
    expect(phone.locator("#help-link")).to_contain_text("通知")
    phone.click("#help-link")
    phone.wait_for_url(f"**/d/{token}/help")
    warnings = phone.locator("#warnings")
    expect(warnings).to_contain_text("暴雨红色预警")
    expect(warnings).to_contain_text("预警信息")
    expect(warnings.locator(".notice")).to_have_count(1)
    # First and red: above the help button, in the page's alarm red.
    top = phone.evaluate(
        "['warnings', 'help', 'notices'].map(id => document.getElementById(id).getBoundingClientRect().top)"
    )
    assert top[0] < top[1] < top[2], top
    colour = warnings.evaluate("e => getComputedStyle(e).borderTopColor")
    assert colour == "rgb(179, 38, 30)", colour
    notices = phone.locator("#notices")
    expect(notices.locator(".notice")).to_have_count(2)
    expect(notices).to_contain_text("周六上午停水通知")
    expect(notices).to_contain_text("反诈提醒：冒充客服退款")  # the community's notice reaches its estates
    expect(notices).to_contain_text("面向：老年人")
    expect(notices).not_to_contain_text("暴雨红色预警")
    for hidden in ("物业内部排班调整", "已撤回的通知", "property_clerk", "duty_officer"):
        assert hidden not in phone.content(), hidden
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "13-resident-notices-phone")

    phone.goto(f"{site.base}/d/{token}/help?lang=en")
    expect(phone.locator("#warnings h2")).to_contain_text("Warnings")
    expect(phone.locator("#warnings")).to_contain_text("Emergency warning")
    expect(phone.locator("#notices h2")).to_have_text("Notices")
    # Reading on a doorplate page is nobody's read receipt: nothing is recorded.
    with svc.db.engine.connect() as conn:
        receipts = conn.execute(select(func.count()).select_from(svc.db.table("notice_receipt"))).scalar_one()
    assert receipts == 0
    phone.context.close()
