"""Emergency operations over HTTP (SQLite and PostgreSQL): the risk map as GeoJSON, duty coverage, resources
with masked contacts, dispatch and incidents, warnings as CAP XML and their import with schema errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from lxml import etree

from anju.emergency.cap import schema
from anju.services import Services
from tests.conftest import signed_in_client
from tests.emergency.test_ops_risk import square

API = "/api/v1/emergency"


def _client(svc: Services, role: str = "community_admin") -> TestClient:
    return signed_in_client(svc, f"{role}-c1", ((role, "C1"),))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_risk_map_duty_resources_dispatch_and_incident_over_http(esvc: Services) -> None:
    with _client(esvc) as client:
        bad = client.post(
            f"{API}/risk-zones",
            json={
                "estate": "E1",
                "hazard": "flood",
                "level": "high",
                "name": "x",
                "geometry": {"type": "Point", "coordinates": [1, 2]},
                "assessed_on": "2026-10-01",
                "reviewer": "r",
            },
        )
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "geometry"
        _ok(
            client.post(
                f"{API}/risk-zones",
                json={
                    "estate": "E1",
                    "hazard": "flood",
                    "level": "high",
                    "name": "低洼",
                    "geometry": square(114.3, 30.6),
                    "assessed_on": "2026-10-01",
                    "reviewer": "r",
                },
            ),
            201,
        )
        got = client.get(f"{API}/risk-map", params={"estate": "E1"})
        assert got.headers["content-type"].startswith("application/geo+json")
        assert got.json()["type"] == "FeatureCollection" and len(got.json()["features"]) == 1
        assert client.get(f"{API}/risk-map", params={"estate": "E3"}).status_code == 403
        coverage = _ok(client.get(f"{API}/duty/coverage", params={"estate": "E1", "days": 1}))
        assert coverage["covered"] is False and {g["level"] for g in coverage["gaps"]} == {0, 1, 2}
        rid = _ok(
            client.post(
                f"{API}/resources",
                json={
                    "region": "C1",
                    "kind": "medical",
                    "name": "卫生站",
                    "contact_name": "张三丰",
                    "contact_phone": "13912345678",
                },
            ),
            201,
        )["id"]
        (res,) = _ok(client.get(f"{API}/resources", params={"estate": "E1"}))["resources"]
        assert res["contact_phone"] != "13912345678" and res["contact_name"] != "张三丰"
        iid = _ok(
            client.post(
                f"{API}/incidents",
                json={"estate": "E1", "title": "摔伤", "commander": "c", "lon": 114.3, "lat": 30.6},
            ),
            201,
        )["id"]
        did = _ok(
            client.post(f"{API}/dispatches", json={"resource_id": rid, "incident_id": iid, "note": "前往"}),
            201,
        )["id"]
        _ok(client.post(f"{API}/dispatches/{did}/acknowledge", json={}))
        again = client.post(f"{API}/dispatches/{did}/acknowledge", json={})
        assert again.status_code == 409 and again.json()["error"]["code"] == "emergency_already_acknowledged"
        _ok(client.post(f"{API}/dispatches/{did}/arrive", json={}))
        aid = _ok(client.get(f"{API}/incidents/{iid}/first-aid"))
        assert aid["resources"] == []
        bad_close = client.post(
            f"{API}/incidents/{iid}/close", json={"outcome": "won", "report": {"summary": "x"}}
        )
        assert bad_close.status_code == 422 and bad_close.json()["error"]["field"] == "outcome"
        _ok(
            client.post(
                f"{API}/incidents/{iid}/close",
                json={"outcome": "resolved", "report": {"summary": "s", "causes": "c", "improvements": "i"}},
            )
        )
        view = _ok(client.get(f"{API}/incidents/{iid}"))
        assert [e["kind"] for e in view["log"]] == ["opened", "dispatch", "ack", "arrival", "closed"]


def test_warning_cap_over_http_and_import_errors(esvc: Services) -> None:
    with _client(esvc, "grid_worker") as viewer:
        denied = viewer.post(
            f"{API}/warnings",
            json={"region": "E1", "hazard": "flood", "headline": "h", "description": "d", "instruction": "i"},
        )
        assert denied.status_code == 403  # issuing needs emergency:publish
    with _client(esvc) as client:
        made = _ok(
            client.post(
                f"{API}/warnings",
                json={
                    "region": "E1",
                    "hazard": "flood",
                    "headline": "暴雨",
                    "description": "d",
                    "instruction": "i",
                    "severity": "Severe",
                },
            ),
            201,
        )
        cap = client.get(f"{API}/warnings/{made['id']}/cap")
        assert cap.headers["content-type"].startswith("application/xml")
        assert schema().validate(etree.fromstring(cap.content))
        upd = _ok(client.post(f"{API}/warnings/{made['id']}/update", json={"severity": "Extreme"}), 201)
        assert upd["msg_type"] == "Update" and upd["references"][0].split(",")[1] == made["id"]
        stale = client.post(f"{API}/warnings/{made['id']}/cancel", json={"reason": "r"})
        assert stale.status_code == 409
        cancel = _ok(client.post(f"{API}/warnings/{upd['id']}/cancel", json={"reason": "解除"}), 201)
        assert cancel["msg_type"] == "Cancel" and len(cancel["references"]) == 2
        broken = cap.content.replace(b"<status>Actual</status>", b"<status>Maybe</status>")
        refused = client.post(f"{API}/warnings/import", params={"region": "E1"}, content=broken)
        body = refused.json()["error"]
        assert refused.status_code == 422 and body["field"] == "cap" and "status" in body["value"]
        assert (
            client.post(f"{API}/warnings/import", params={"region": "E1"}, content=b"<x").status_code == 422
        )
        foreign = cap.content.replace(made["id"].encode(), b"CMA-1")
        imported = _ok(client.post(f"{API}/warnings/import", params={"region": "E1"}, content=foreign), 201)
        assert imported["id"] == "CMA-1"
        ids = {w["id"] for w in _ok(client.get(f"{API}/warnings", params={"region": "E1"}))["warnings"]}
        assert ids == {made["id"], upd["id"], cancel["id"], "CMA-1"}
