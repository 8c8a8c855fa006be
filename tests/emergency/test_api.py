"""The emergency API over a real app and database (SQLite and PostgreSQL): a drill recorded over HTTP scores
SE32.2 through the evaluation endpoint, routing and capacity through /evacuation, supplies and their
alarms, the residents' views without personal data, plans, scope (404 / 403) and clear errors."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from anju.emergency.supplies import BELOW_MINIMUM, NEAR_EXPIRY, check_supplies
from anju.services import Services
from tests.conftest import signed_in_client
from tests.emergency.conftest import NOW
from tests.emergency.test_routing import EDGES, NODES, POP

API = "/api/v1/emergency"
CUSTODIAN, PHONE = "欧阳建华", "13812345678"


def _admin_c1(svc: Services) -> TestClient:
    """A community administrator of C1 (estates E1, E2) with evaluation:view; E3 (under C2) is outside."""
    return signed_in_client(svc, "admin-c1", (("community_admin", "C1"),))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_drill_recorded_over_http_scores_se32_2_32(esvc: Services) -> None:
    with _admin_c1(esvc) as client:
        drill = _ok(
            client.post(
                f"{API}/drills",
                json={
                    "region": "E1",
                    "title": "消防疏散演练",
                    "hazard": "fire",
                    "scenario": "3 栋 5 楼厨房起火",
                    "held_at": "2026-10-15T09:30:00+08:00",
                    "participants": [
                        {"category": "residents", "headcount": 120},
                        {"category": "物业", "headcount": 8},
                        {"category": "volunteers", "headcount": 15},
                        {"category": "governments", "headcount": 3, "organisations": ["大智街道办"]},
                    ],
                    "evacuation": [
                        {
                            "place": "3栋",
                            "people": 60,
                            "started_at": "2026-10-15T09:31:00+08:00",
                            "finished_at": "2026-10-15T09:35:30+08:00",
                        }
                    ],
                    "findings": ["3 栋 2 单元疏散指示灯不亮"],
                },
            ),
            201,
        )
        assert [p["category"] for p in drill["participants"]] == [
            "residents",
            "property",
            "volunteers",
            "governments",
        ]
        assert drill["evacuation"][0]["seconds"] == 270
        card = _ok(client.get("/api/v1/evaluation/paper", params={"community": "C1", "as_of": "2026-11-30"}))
        [community] = card["communities"]
        assert community["criteria"]["SE32.2"]["points"] == 32

        # Follow-ups: added, completed once; a second completion is refused with the field named.
        fid = _ok(
            client.post(
                f"{API}/drills/{drill['id']}/followups", json={"action": "更换指示灯", "owner": "物业"}
            ),
            201,
        )["id"]
        _ok(client.post(f"{API}/followups/{fid}/complete"))
        again = client.post(f"{API}/followups/{fid}/complete")
        assert again.status_code == 422 and again.json()["error"]["field"] == "followup_id"
        shown = _ok(client.get(f"{API}/drills/{drill['id']}"))
        assert shown["followups"][0]["done_at"] is not None
        assert [d["id"] for d in _ok(client.get(f"{API}/drills"))["drills"]] == [drill["id"]]


def test_evacuation_over_http_routes_every_building_and_respects_capacity(esvc: Services) -> None:
    with _admin_c1(esvc) as client:
        _ok(client.put(f"{API}/graphs/E1", json={"nodes": NODES, "edges": EDGES}))
        for ident, capacity, lon, lat in (("S1", 80, 114.3015, 30.6), ("S2", 200, 114.3005, 30.5978)):
            body = {"estate": "E1", "name": f"避难点{ident}", "type": "emergency", "capacity": capacity}
            _ok(client.put(f"{API}/shelters/{ident}", json={**body, "lon": lon, "lat": lat}))
        plan = _ok(client.post(f"{API}/evacuation", json={"estate": "E1", "population": POP}))
        assert {b: (r["shelter"], r["path"]) for b, r in plan["nearest"].items()} == {
            "B1": ("S1", ["B1", "J1", "S1"]),
            "B2": ("S1", ["B2", "J1", "S1"]),
            "B3": ("S2", ["B3", "J2", "S2"]),
            "B4": ("S2", ["B4", "J3", "J2", "S2"]),
        }
        # S1 holds 80 of the 110 whose nearest it is: B2 sends 30 the longer way to S2.
        assert plan["assignment"]["load"] == {"S1": 80, "S2": 100}
        assert sorted(
            (p["building"], p["shelter"], p["people"]) for p in plan["assignment"]["placements"]
        ) == [
            ("B1", "S1", 60),
            ("B2", "S1", 20),
            ("B2", "S2", 30),
            ("B3", "S2", 40),
            ("B4", "S2", 30),
        ]
        # From the registry (nobody registered here): routes still, nobody to place.
        registered = _ok(client.get(f"{API}/evacuation", params={"estate": "E1"}))
        assert (
            registered["population"] == dict.fromkeys(POP, 0) and registered["nearest"]["B4"]["metres"] == 170
        )
        # S2 closed: everyone's nearest is S1.
        _ok(client.post(f"{API}/shelters/S2/status", json={"status": "closed"}))
        plan = _ok(client.post(f"{API}/evacuation", json={"estate": "E1", "population": POP}))
        assert {r["shelter"] for r in plan["nearest"].values()} == {"S1"}
        assert sum(plan["assignment"]["unplaced"].values()) == 100
        assert _ok(client.get(f"{API}/graphs/E1"))["nodes"] == NODES
    # Residents, signed out: the open shelters and their building's route, nothing about people.
    with TestClient(client.app) as anonymous:
        mine = _ok(anonymous.get(f"{API}/evacuation/public", params={"estate": "E1", "building": "B3"}))
        assert [r["shelter"] for r in mine["routes"]] == ["S1"] and mine["routes"][0]["path"][0] == "B3"
        assert len(mine["routes"][0]["points"]) == len(mine["routes"][0]["path"])
        assert "assignment" not in mine and "population" not in mine
        assert [
            s["id"] for s in _ok(anonymous.get(f"{API}/shelters/public", params={"estate": "E1"}))["shelters"]
        ] == ["S1"]
        bad = anonymous.get(f"{API}/evacuation/public", params={"estate": "E1", "building": "B9"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "building"
        assert anonymous.get(f"{API}/shelters/public", params={"estate": "NOPE"}).status_code == 404


def test_supplies_over_http_alarms_and_a_resident_view_without_personal_data(esvc: Services) -> None:
    with _admin_c1(esvc) as client:
        store = _ok(
            client.post(
                f"{API}/stores",
                json={
                    "estate": "E1",
                    "name": "幸福里微型消防站",
                    "location": "1栋架空层",
                    "custodian": CUSTODIAN,
                    "custodian_phone": PHONE,
                },
            ),
            201,
        )["id"]
        water = _ok(
            client.post(
                f"{API}/stores/{store}/items",
                json={
                    "name": "饮用水",
                    "unit": "箱",
                    "quantity": 40,
                    "minimum": 30,
                    "expires_on": "2027-06-30",
                },
            ),
            201,
        )["id"]
        biscuits = _ok(
            client.post(
                f"{API}/stores/{store}/items",
                json={
                    "name": "压缩饼干",
                    "unit": "箱",
                    "quantity": 15,
                    "minimum": 10,
                    "expires_on": "2026-12-20",
                },
            ),
            201,
        )["id"]
        moved = _ok(
            client.post(
                f"{API}/supplies/{water}/movements",
                json={"delta": -15, "reason": "issue", "note": "发给 3栋 王建国"},
            ),
            201,
        )
        assert moved["quantity"] == 25
        history = _ok(client.get(f"{API}/supplies/{water}/movements"))["movements"]
        assert [(m["delta"], m["quantity_after"]) for m in history] == [(40, 40), (-15, 25)]
        too_many = client.post(f"{API}/supplies/{water}/movements", json={"delta": -99, "reason": "issue"})
        assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "delta"
        assert "expected" in too_many.json()["error"]["message_en"]
        [staff] = _ok(client.get(f"{API}/supplies", params={"estate": "E1"}))["stores"]
        assert staff["custodian_phone"] == "138****5678" and staff["custodian"] != CUSTODIAN
        assert {i["name"]: i["status"] for i in staff["items"]} == {
            "饮用水": "below_minimum",
            "压缩饼干": "near_expiry",
        }

    raised = check_supplies(esvc, NOW)
    assert sorted(raised.raised) == sorted([(BELOW_MINIMUM, water), (NEAR_EXPIRY, biscuits)])
    for kind, item in ((BELOW_MINIMUM, water), (NEAR_EXPIRY, biscuits)):
        _, [alarm] = esvc.alarms.list(is_open=True, type=kind)
        assert (alarm.originator_kind, alarm.originator_id, alarm.estate) == ("supply_item", str(item), "E1")
    assert check_supplies(esvc, NOW).raised == []

    with TestClient(client.app) as anonymous:
        resident = anonymous.get(f"{API}/supplies/public", params={"estate": "E1"})
        shown = json.dumps(resident.json(), ensure_ascii=False)
    assert resident.status_code == 200
    for secret in (CUSTODIAN, "欧阳", PHONE, "1381", "5678", "custodian", "王建国", "admin-c1", '"minimum"'):
        assert secret not in shown, secret
    [public_store] = resident.json()["stores"]
    assert public_store["name"] == "幸福里微型消防站"
    assert [(i["name"], i["quantity"]) for i in public_store["items"]] == [("饮用水", 25), ("压缩饼干", 15)]


def test_plans_over_http(esvc: Services) -> None:
    contents = {
        "organization": "社区应急领导小组",
        "risk_list": "地下车库内涝",
        "disposal_process": "发现—报告—疏散—处置—恢复",
        "contacts": "社区值班室 027-00000000",
    }
    with _admin_c1(esvc) as client:
        plan = _ok(
            client.post(
                f"{API}/plans",
                json={"region": "C1", "hazard": "flood", "title": "幸福社区防汛预案", "contents": contents},
            ),
            201,
        )
        assert plan["version"] == 1 and [v["version"] for v in plan["versions"]] == [1]
        twice = client.post(
            f"{API}/plans", json={"region": "C1", "hazard": "暴雨内涝", "title": "x", "contents": contents}
        )
        assert twice.status_code == 409 and twice.json()["error"]["field"] == "hazard"
        revised = _ok(
            client.post(
                f"{API}/plans/{plan['id']}/revisions",
                json={"contents": {"rescue_team": "应急救援队 20 人"}, "improvement": "补充救援队伍"},
            ),
            201,
        )
        assert revised["version"] == 2 and len(revised["versions"]) == 2
        assert revised["versions"][0]["contents"] == contents and len(revised["improvements"]) == 1
        _ok(
            client.post(f"{API}/plans/{plan['id']}/improvements", json={"description": "演练后调整集合点"}),
            201,
        )
        # Not yet published: residents see nothing.
        with TestClient(client.app) as anonymous:
            assert _ok(anonymous.get(f"{API}/plans/public", params={"region": "E1"}))["plans"] == []
        _ok(client.post(f"{API}/plans/{plan['id']}/publish"))
        with TestClient(client.app) as anonymous:
            [shown] = _ok(anonymous.get(f"{API}/plans/public", params={"region": "E1"}))["plans"]
        assert shown["version"] == 2 and "improvements" not in shown
        assert [p["id"] for p in _ok(client.get(f"{API}/plans"))["plans"]] == [plan["id"]]


def test_scope_and_errors(esvc: Services) -> None:
    from anju.emergency.plans import create_plan
    from anju.emergency.supplies import add_item, create_store

    outside_plan = create_plan(
        esvc, region="E3", hazard="fire", title="和平园火灾预案", contents={"organization": "x"}, actor="t"
    ).id
    outside_store = create_store(esvc, estate="E3", name="和平园储备点", location="门卫室", actor="t")
    outside_item = add_item(esvc, outside_store, name="灭火器", unit="具", quantity=5, minimum=2, actor="t")
    with _admin_c1(esvc) as client:
        # Objects outside: 404, the same as objects that do not exist.
        for url in (
            f"{API}/plans/{outside_plan}",
            f"{API}/supplies/{outside_item}/movements",
            f"{API}/graphs/E3",
        ):
            assert client.get(url).status_code == 404, url
        assert client.post(f"{API}/plans/{outside_plan}/publish").status_code == 404
        assert client.get(f"{API}/evacuation", params={"estate": "E3"}).status_code == 404
        # Targets outside: 403, naming the field.
        refused = client.post(f"{API}/stores", json={"estate": "E3", "name": "x", "location": "y"})
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "estate"
        assert client.get(f"{API}/supplies", params={"estate": "E3"}).status_code == 403
        assert client.put(f"{API}/graphs/E3", json={"nodes": NODES, "edges": EDGES}).status_code == 403
        # Lists hold only what is in scope.
        assert _ok(client.get(f"{API}/plans"))["plans"] == []
        assert _ok(client.get(f"{API}/supplies"))["stores"] == []
        # Bad input: 422 naming the field, the value and what is expected, in both languages.
        bad = client.post(
            f"{API}/drills",
            json={
                "region": "E1",
                "title": "x",
                "hazard": "meteor",
                "scenario": "x",
                "held_at": "2026-10-15T09:30:00+08:00",
            },
        )
        error = bad.json()["error"]
        assert bad.status_code == 422 and (error["field"], error["value"]) == ("hazard", "meteor")
        assert "fire" in error["message_en"] and "火灾" in error["message_zh"]
        future = client.post(
            f"{API}/drills",
            json={
                "region": "E1",
                "title": "x",
                "hazard": "fire",
                "scenario": "x",
                "held_at": "2027-10-15T09:30:00+08:00",
                "participants": [{"category": "residents", "headcount": 3}],
            },
        )
        assert future.status_code == 422 and future.json()["error"]["field"] == "held_at"
        graph = client.put(
            f"{API}/graphs/E1", json={"nodes": NODES, "edges": [*EDGES, {"a": "B1", "b": "X9"}]}
        )
        assert graph.status_code == 422 and graph.json()["error"]["field"] == "edges[10].b"
        assert client.get(f"{API}/graphs/E1").status_code == 404  # nothing stored by the refused save
