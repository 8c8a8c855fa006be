"""The region tree takes GB/T 2260 codes for districts and refuses codes that are not current ones."""

from __future__ import annotations

import pytest

from anju.registry.regions import RegionRefused
from anju.services import Services


def test_district_codes_are_checked_against_gb2260(sqlite_services: Services) -> None:
    svc = sqlite_services
    svc.regions.add(svc.audit, code="420102", name="江岸区", level="district", parent=None, actor="t")
    svc.regions.add(svc.audit, code="420102001", name="大智街道", level="street", parent="420102", actor="t")
    with pytest.raises(RegionRefused) as refused:
        svc.regions.add(svc.audit, code="429999", name="虚构区", level="district", parent=None, actor="t")
    assert refused.value.code == "not_gb2260" and refused.value.value == "429999"
    # A prefecture is not a county-level code.
    with pytest.raises(RegionRefused):
        svc.regions.add(svc.audit, code="420100", name="武汉市", level="district", parent=None, actor="t")
    # Deployment codes that are not six digits stand for themselves.
    svc.regions.add(svc.audit, code="D-demo", name="演示区", level="district", parent=None, actor="t")
    assert svc.regions.descendants(["420102"]) == {"420102", "420102001"}


def test_the_api_answers_422_naming_the_code(sqlite_services: Services) -> None:
    from tests.conftest import signed_in_client

    with signed_in_client(sqlite_services, "admin", (("platform_admin", None),)) as client:
        response = client.post(
            "/api/v1/regions", json={"code": "429999", "name": "虚构区", "level": "district", "parent": None}
        )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "not_gb2260" and body["error"]["value"] == "429999", body
