"""The device registry over HTTP: registration, refusals naming the field, scope, last seen."""

from __future__ import annotations

from anju.services import Services
from tests.conftest import signed_in_client
from tests.registry.test_devices import ingest_swipes, swipes


def _regions(svc: Services) -> None:
    for code, level, parent in (("S9", "street", None), ("C9", "community", "S9"), ("E9", "estate", "C9")):
        svc.regions.add(svc.audit, code=code, name=code, level=level, parent=parent, actor="t")
    svc.regions.add(svc.audit, code="E8", name="E8", level="estate", parent="S9", actor="t")


def test_register_list_show_and_last_seen(sqlite_services: Services) -> None:
    svc = sqlite_services
    _regions(svc)
    with signed_in_client(svc, "admin9", (("community_admin", "C9"),)) as client:
        body = {
            "estate": "E9",
            "kind": "access_reader",
            "location": "1栋1单元门",
            "installed_on": "2026-03-01",
        }
        created = client.put("/api/v1/devices/MJ-001", json=body)
        assert created.status_code == 200, created.text
        assert created.json()["change"] == "created"
        device = created.json()["device"]
        assert (device["subsystem"], device["status"], device["installed_on"]) == (
            "access",
            "active",
            "2026-03-01",
        )
        again = client.put("/api/v1/devices/MJ-001", json=body)
        assert again.json()["change"] == "unchanged"

        bad = client.put("/api/v1/devices/MJ-002", json={**body, "kind": "toaster"})
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert (
            error["field"] == "kind"
            and error["value"] == "toaster"
            and "access_reader" in error["message_en"]
        )

        outside = client.put("/api/v1/devices/MJ-003", json={**body, "estate": "E8"})
        assert outside.status_code == 403 and outside.json()["error"]["field"] == "estate"

        ingest_swipes(svc, swipes("MJ-001", "2026-11-20 08:00:00", "2026-11-20 09:30:00"))
        shown = client.get("/api/v1/devices/MJ-001").json()
        assert shown["last_record_type"] == "access_swipe"
        assert shown["last_seen_at"].startswith("2026-11-20T01:30")  # 09:30 in Shanghai, stored in UTC

        listed = client.get("/api/v1/devices", params={"status": "active"}).json()
        assert [d["id"] for d in listed["devices"]] == ["MJ-001"] and listed["total"] == 1
        assert client.get("/api/v1/devices", params={"status": "broken"}).json()["error"]["field"] == "status"
        assert client.get("/api/v1/devices", params={"estate": "E8"}).status_code == 403
    actions = [e.action for e in svc.audit.query(action="devices.register", limit=10)]
    assert actions == ["devices.register"]
