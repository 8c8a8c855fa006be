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
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_the_console_offers_only_estates_in_scope_and_actions_only_to_editors(
    client: TestClient, sqlite_services: Services
) -> None:
    _sign_in(client, sqlite_services, "super1", "district_supervisor", "C1")
    r = client.get("/console")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert 'value="E1"' in r.text and 'value="E2"' not in r.text
    assert '"canEdit": false' in r.text
