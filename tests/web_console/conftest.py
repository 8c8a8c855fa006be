"""A real server over a temporary SQLite database, and Debian's Chromium driven by Playwright.

Without /usr/bin/chromium or the `playwright` package the browser tests skip with the reason; with
ANJU_REQUIRE_SERVICES=1 (CI) they fail instead. Screenshots go to test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from anju.services import Services, open_services
from anju.web.app import create_app
from anju.web.hardening import RateLimiter
from tests.alarms import build_regions
from tests.conftest import make_settings, migrated_sqlite_url, services_required

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("ANJU_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "console password 123"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _unavailable() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    reason = _unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"ANJU_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def serve(svc: Services) -> Iterator[str]:
    """uvicorn in a thread on a free port; the socket listens first, so no polling for readiness."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = create_app(svc, limiter=RateLimiter({}))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        # An open EventSource keeps its response running: the graceful shutdown ends it.
        thread.join(timeout=30)
        sock.close()


@dataclass
class Site:
    svc: Services
    base: str

    def user(self, username: str, role: str, scope: str | None) -> str:
        self.svc.identity.create_user(username, PASSWORD, role, scope)
        return username

    def token(self, username: str) -> str:
        return self.svc.identity.issue(self.svc.identity.authenticate(username, PASSWORD))[0]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    svc = open_services(make_settings(tmp_path, migrated_sqlite_url(tmp_path / "anju.db")))
    try:
        build_regions(svc)
        with serve(svc) as base:
            yield Site(svc, base)
    finally:
        svc.close()


def new_page(browser: Browser, **options: Any) -> Page:
    context = browser.new_context(locale="zh-CN", **options)
    return context.new_page()


def sign_in(page: Page, site: Site, username: str, next_path: str = "/console") -> None:
    page.goto(f"{site.base}{next_path}")
    page.wait_for_url("**/login?next=*")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.base}{next_path}")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Web fonts load asynchronously: wait for them so the Chinese text is drawn, not boxes.
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(path), full_page=True)
    return path
