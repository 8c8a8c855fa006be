"""/docs works on a machine with no network: every asset it references is served by Anju itself."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from anju.services import Services
from anju.web.app import create_app


def test_docs_reference_only_local_assets(sqlite_services: Services) -> None:
    client = TestClient(create_app(sqlite_services))
    page = client.get("/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page.text)
    assert refs, "the page should load Swagger UI"
    for ref in refs:
        assert ref.startswith("/"), f"{ref} would need the network"
        assert client.get(ref).status_code == 200, ref
    assert "/openapi.json" in page.text
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN; it is switched off
    spec = client.get("/openapi.json").json()
    assert "/api/v1/records/{record_type}" in spec["paths"]
