"""The pages without a browser: who is sent to sign in, who is refused, languages, assets served locally."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from anju.services import Services
from anju.web.app import create_app
from anju.web.hardening import RateLimiter
from tests.alarms import build_regions

PASSWORD = "pages password 123"


@pytest.fixture
def client(sqlite_services: Services) -> Iterator[TestClient]:
    build_regions(sqlite_services)
    with TestClient(create_app(sqlite_services, limiter=RateLimiter({})), follow_redirects=False) as c:
        yield c


def _sign_in(client: TestClient, svc: Services, username: str, role: str, scope: str) -> None:
    svc.identity.create_user(username, PASSWORD, role, scope)
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_pages_send_the_signed_out_to_sign_in_and_back(client: TestClient) -> None:
    for path in ("/console", "/evaluation/C1"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=" + path.replace("/", "%2F")
    assert client.get("/").headers["location"] == "/console"


def test_the_sign_in_page_is_chinese_by_default_and_english_on_request(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text and "用户名" in r.text
    r = client.get("/login?lang=en")
    assert '<html lang="en">' in r.text and "Username" in r.text
    assert r.cookies.get("lang") == "en"
    assert "Username" in client.get("/login").text  # the cookie keeps the choice


def test_the_next_page_after_sign_in_stays_on_this_site(client: TestClient) -> None:
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.get("/login", params={"next": evil})
        assert 'data-next="/console"' in r.text, evil
    assert 'data-next="/evaluation/C1"' in client.get("/login?next=/evaluation/C1").text


def test_every_asset_is_served_locally(client: TestClient) -> None:
    html = client.get("/login").text
    for url in re.findall(r'(?:href|src)="([^"]+)"', html):
        assert url.startswith("/") and not url.startswith("//"), url
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url
    css = client.get("/static/css/anju.css").text
    assert "http" not in css
    font = client.get("/fonts/noto-sans-sc.otf")
    assert font.status_code == 200 and font.headers["content-type"] == "font/otf"


def test_a_signed_in_caller_without_the_permission_is_refused(
    client: TestClient, sqlite_services: Services
) -> None:
    _sign_in(client, sqlite_services, "resident1", "resident", "E1")
    r = client.get("/console")
    # A browser gets a page naming the missing permission, with a way back; not the API's JSON.
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "没有权限" in r.text and 'id="missing-permission">alarms:view<' in r.text and 'id="back"' in r.text
    assert "Forbidden" in client.get("/console?lang=en").text


def test_an_integrator_with_a_token_keeps_the_json_refusal(
    client: TestClient, sqlite_services: Services
) -> None:
    sqlite_services.identity.create_user("gw_token", PASSWORD, "grid_worker", "E1")
    token = sqlite_services.identity.issue(sqlite_services.identity.authenticate("gw_token", PASSWORD))[0]
    r = client.get("/evaluation", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["error"]["permission"] == "evaluation:view"


def test_a_community_outside_the_scope_is_an_html_404(client: TestClient, sqlite_services: Services) -> None:
    _sign_in(client, sqlite_services, "admin_c1", "community_admin", "C1")
    for path in ("/evaluation/C2", "/evaluation/C2/plan", "/evaluation/C2/report.pdf"):
        r = client.get(path)
        assert r.status_code == 404 and "页面或对象不存在" in r.text, path


def test_ranking_plan_report_and_claims_for_an_evaluator(
    client: TestClient, sqlite_services: Services
) -> None:
    _sign_in(client, sqlite_services, "super_d", "district_supervisor", "S1")
    r = client.get("/evaluation")
    assert r.status_code == 200
    # Both communities under the street are ranked against each other, each with its bar.
    assert r.text.count('<div class="bar" data-code=') == 2 and 'data-code="C1"' in r.text
    plan = client.get("/evaluation/C1/plan")
    assert plan.status_code == 200 and plan.text.count('class="card plan"') == 3
    pdf = client.get("/evaluation/C1/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and "attachment" in pdf.headers["content-disposition"]
    html = client.get("/evaluation/C1/report.html")
    assert html.status_code == 200 and "<html" in html.text
    csrf = {"X-CSRF-Token": client.cookies.get("anju_csrf") or ""}
    bad = client.post("/evaluation/claims/check", content="不是公示材料".encode(), headers=csrf)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "file"
    assert client.post("/evaluation/claims/check", content=b"x").status_code == 403  # no CSRF token


def test_the_console_offers_only_estates_in_scope_and_actions_only_to_editors(
    client: TestClient, sqlite_services: Services
) -> None:
    _sign_in(client, sqlite_services, "super1", "district_supervisor", "C1")
    r = client.get("/console")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert 'value="E1"' in r.text and 'value="E2"' not in r.text
    assert '"canEdit": false' in r.text


def test_records_filter_on_their_own_event_time(client: TestClient, sqlite_services: Services) -> None:
    import orjson

    from anju.ingest.decode import decode_body
    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    rtype = record_type("access_swipe")
    assert rtype.time_field is not None
    records = []
    for i, stamp in enumerate(("2026-01-05 08:00:00", "2026-02-05 08:00:00", "2026-03-05 08:00:00")):
        rec = SampleFactory(7).record(rtype, i)
        rec[rtype.time_field] = stamp
        records.append(rec)
    result = sqlite_services.pipeline.ingest(
        rtype.slug, decode_body(orjson.dumps(records)), source="test", estate="E1"
    )
    assert result.accepted == 3
    _sign_in(client, sqlite_services, "police1", "community_police", "C1")
    r = client.get(
        "/api/v1/records/access_swipe",
        params={"event_from": "2026-02-01T00:00:00", "event_to": "2026-02-28T23:59:59"},
    )
    assert r.status_code == 200 and [x["ID"] for x in r.json()["records"]] == [records[1]["ID"]]
    r = client.get(
        "/api/v1/records/access_swipe",
        params={"event_from": "2026-03-01T00:00", "event_to": "2026-01-01T00:00"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "event_from"


def test_the_map_shows_risk_zones_only_to_emergency_viewers_and_people_only_as_counts(
    client: TestClient, sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.emergency import risk
    from anju.emergency.ops_catalog import ops_catalog
    from anju.security.roles import Role, load_roles
    from tests.emergency.test_ops_risk import add_special_residents, square

    svc = sqlite_services
    k = ops_catalog().special_population_k
    svc.devices.register(
        "RISK-DEV-1", estate="E1", kind="smoke_sensor", actor="test", lon=114.3005, lat=30.6005
    )
    add_special_residents(svc, "B-many", 114.3005, 30.6005, k + 1)
    add_special_residents(svc, "B-few", 114.3105, 30.6005, k - 1)
    for hazard, level, name, lon in (
        ("special_population", "moderate", "北区老年人集中区", 114.3),
        ("waterlogging", "high", "地下车库", 114.31),
    ):
        risk.create_zone(
            svc,
            estate="E1",
            hazard=hazard,
            level=level,
            name=name,
            geometry=square(lon, 30.6),
            assessed_on="2026-01-10",
            reviewer="community_admin",
            actor="test",
        )
    # No stock role reads devices without emergency data; a deployment's own role may.
    monkeypatch.setitem(
        load_roles(), "map_reader", Role("map_reader", "地图查看", "map reader", frozenset({"devices:view"}))
    )
    _sign_in(client, svc, "reader1", "map_reader", "E1")
    # emergency:view over another estate does not open this estate's zones.
    svc.identity.bind("reader1", "grid_worker", "E2")
    r = client.get("/map/E1")
    assert r.status_code == 200 and 'id="site-map"' in r.text
    for absent in ("risk-zone", "risk-panel", "toggle-risk", "北区老年人集中区", "地下车库", "风险"):
        assert absent not in r.text, absent

    _sign_in(client, svc, "staff1", "property_staff", "E1")
    r = client.get("/map/E1")
    assert r.status_code == 200
    assert r.text.count('class="risk-zone"') == 2 and 'id="toggle-risk"' in r.text
    assert "内涝 · 较大风险" in r.text and "特殊人群聚集 · 一般风险" in r.text
    # The special-population aggregate as the risk map carries it: the count from k, else "fewer than k".
    people = re.findall(r'<td class="risk-people">([^<]*)</td>', r.text)
    assert sorted(people) == sorted([f"{k + 1} 人", f"少于 {k} 人"]), people
    assert "居民B-" not in r.text and "elderly_alone" not in r.text
    r = client.get("/map/E1?lang=en")
    assert "waterlogging · high" in r.text and f"fewer than {k}" in r.text
