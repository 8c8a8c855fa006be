"""The alarm REST API over a real database: lists and reads scoped to the caller's estates (up the region
tree), 404 outside them, the lifecycle actions with their refusals, and an audit entry for each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anju.config import Settings
from anju.services import Services
from tests.alarms import T0, FakeClock, build_regions, clocked_services, signal
from tests.conftest import signed_in_client

BASE = "/api/v1/alarms"


@dataclass
class World:
    svc: Services
    clock: FakeClock
    e1: int  # an alarm in estate E1 (community C1)
    e2: int  # an alarm in estate E2 (community C2)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    clock = FakeClock()
    with clocked_services(settings, clock) as svc:
        build_regions(svc)
        e1 = svc.alarms.raise_signal(signal()).alarm_id
        e2 = svc.alarms.raise_signal(signal(estate="E2", originator_id="YG900", severity="critical")).alarm_id
        assert e1 and e2
        yield World(svc, clock, e1, e2)


def client(world: World, username: str, role: str, scope: str | None) -> TestClient:
    return signed_in_client(world.svc, username, ((role, scope),))


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code, body
    assert body["message_zh"] and body["message_en"]
    return body


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.text
    return {a["id"] for a in response.json()["alarms"]}


def test_each_level_of_the_region_tree_sees_its_own_alarms(world: World) -> None:
    estate_staff = client(world, "prop_e1", "property_staff", "E1")
    community = client(world, "police_c1", "community_police", "C1")
    other_community = client(world, "police_c2", "community_police", "C2")
    district = client(world, "super_d1", "district_supervisor", "D1")
    platform = client(world, "admin", "platform_admin", None)

    assert ids(estate_staff.get(BASE)) == {world.e1}
    assert ids(community.get(BASE)) == {world.e1}
    assert ids(other_community.get(BASE)) == {world.e2}
    assert ids(district.get(BASE)) == {world.e1, world.e2}
    assert ids(platform.get(BASE)) == {world.e1, world.e2}

    # One alarm: 200 inside, 404 outside (the same answer as for no alarm at all).
    r = community.get(f"{BASE}/{world.e1}")
    assert r.status_code == 200
    alarm = r.json()["alarm"]
    assert alarm["estate"] == "E1" and alarm["status"] == "active" and not alarm["acknowledged"]
    assert [e["action"] for e in alarm["events"]] == ["raised"]
    assert alarm["escalation"]["duty"]["region_level"] == "estate"
    outside = error(community.get(f"{BASE}/{world.e2}"), 404, "not_found")
    missing = error(community.get(f"{BASE}/999999"), 404, "not_found")
    assert outside["message_en"].replace(str(world.e2), "N") == missing["message_en"].replace("999999", "N")
    # Naming an estate outside the scope is refused rather than silently empty.
    error(community.get(BASE, params={"estate": "E2"}), 403, "scope_denied")
    assert ids(district.get(BASE, params={"estate": "E2"})) == {world.e2}


def test_list_filters_over_http(world: World) -> None:
    c = client(world, "admin", "platform_admin", None)
    world.svc.alarms.acknowledge(world.e2, actor="user:x")
    assert ids(c.get(BASE, params={"severity": "critical"})) == {world.e2}
    assert ids(c.get(BASE, params={"severity": "critical,major"})) == {world.e1, world.e2}
    assert ids(c.get(BASE, params={"acknowledged": "false"})) == {world.e1}
    assert ids(c.get(BASE, params={"status": "active", "open": "true"})) == {world.e1, world.e2}
    assert ids(c.get(BASE, params={"originator": "device:YG900"})) == {world.e2}
    assert ids(c.get(BASE, params={"type": "smoke_fire", "limit": 1})) <= {world.e1, world.e2}
    assert ids(c.get(BASE, params={"since": (T0 + timedelta(minutes=1)).isoformat()})) == set()
    assert c.get(BASE).json()["total"] == 2

    bad = error(c.get(BASE, params={"severity": "urgent"}), 422, "severity_unknown")
    assert (bad["field"], bad["value"]) == ("severity", "urgent")
    assert "critical" in bad["message_en"]
    error(c.get(BASE, params={"status": "open"}), 422, "status_unknown")
    naive = error(c.get(BASE, params={"since": "2026-05-04T10:00:00"}), 422, "since_without_offset")
    assert naive["field"] == "since"
    # The alarm ID is an integer: /stream and other words never reach /{alarm_id}.
    error(c.get(f"{BASE}/abc"), 422, "request_invalid")


def test_lifecycle_over_http_is_scoped_refused_and_audited(world: World) -> None:
    police = client(world, "police_c1", "community_police", "C1")
    grid = client(world, "grid_e1", "grid_worker", "E1")
    client(world, "police_c2", "community_police", "C2")  # exists, but cannot see E1's alarms
    supervisor = client(world, "super_d1", "district_supervisor", "D1")  # alarms:view only
    url = f"{BASE}/{world.e1}"

    # Without alarms:edit: 403; outside the scope: 404, and nothing changes.
    error(supervisor.post(f"{url}/acknowledge"), 403, "forbidden")
    error(police.post(f"{BASE}/{world.e2}/acknowledge"), 404, "not_found")
    error(police.post(f"{BASE}/{world.e2}/close", json={"result": "x"}), 404, "not_found")
    e2 = world.svc.alarms.get(world.e2)
    assert e2 is not None and not e2.acknowledged and e2.is_open

    world.clock.advance(minutes=3)
    r = police.post(f"{url}/acknowledge")
    assert r.status_code == 200, r.text
    assert r.json()["alarm"]["acknowledged_by"] == "user:police_c1"
    assert r.json()["alarm"]["acknowledged_at"] == world.clock.now.isoformat()
    again = error(police.post(f"{url}/acknowledge"), 409, "already_acknowledged")
    assert again["field"] == "alarm_id" and again["value"] == world.e1

    # Assignment only to a user who can see the alarm; the same answer for one who does not exist.
    for nobody in ("police_c2", "no_such_user"):
        bad = error(police.post(f"{url}/assign", json={"to": nobody}), 422, "assignee_unknown")
        assert (bad["field"], bad["value"]) == ("to", nobody)
    r = police.post(f"{url}/assign", json={"to": "grid_e1"})
    assert r.status_code == 200 and r.json()["alarm"]["assigned_to"] == "grid_e1"
    error(police.post(f"{url}/assign", json={"to": "grid_e1"}), 409, "already_assigned")

    assert grid.post(f"{url}/dispatch", json={"note": "网格员前往 3 栋核查"}).status_code == 200
    assert grid.post(f"{url}/comment", json={"text": "厨房油烟，非火情"}).status_code == 200
    error(grid.post(f"{url}/comment", json={"text": ""}), 422, "request_invalid")
    error(grid.post(f"{url}/comment", json={"text": "   "}), 422, "comment_invalid")
    assert grid.post(f"{url}/clear").status_code == 200
    error(grid.post(f"{url}/clear"), 409, "already_cleared")
    error(police.post(f"{url}/close", json={}), 422, "request_invalid")
    r = police.post(f"{url}/close", json={"result": "误报，已处置"})
    assert r.status_code == 200 and r.json()["alarm"]["status"] == "closed"
    error(police.post(f"{url}/close", json={"result": "again"}), 409, "alarm_closed")

    shown = police.get(url).json()["alarm"]
    assert [(e["action"], e["actor"]) for e in shown["events"]] == [
        ("raised", "rule:smoke_detected"),
        ("acknowledged", "user:police_c1"),
        ("assigned", "user:police_c1"),
        ("dispatched", "user:grid_e1"),
        ("commented", "user:grid_e1"),
        ("cleared", "user:grid_e1"),
        ("closed", "user:police_c1"),
    ]
    audited = [(e.action, e.actor) for e in world.svc.audit.query(target=f"alarm:{world.e1}")]
    assert audited == [
        ("alarms.raise", "rule:smoke_detected"),
        ("alarms.acknowledge", "user:police_c1"),
        ("alarms.assign", "user:police_c1"),
        ("alarms.dispatch", "user:grid_e1"),
        ("alarms.comment", "user:grid_e1"),
        ("alarms.clear", "user:grid_e1"),
        ("alarms.close", "user:police_c1"),
    ]
    # Refused and out-of-scope attempts changed nothing and wrote nothing.
    assert [e.action for e in world.svc.audit.query(target=f"alarm:{world.e2}")] == ["alarms.raise"]
    assert world.svc.audit.verify().ok


def test_unauthenticated_and_unprivileged_callers(world: World) -> None:
    from anju.web.app import create_app

    anonymous = TestClient(create_app(world.svc))
    error(anonymous.get(BASE), 401, "unauthenticated")
    error(anonymous.get(f"{BASE}/stream"), 401, "unauthenticated")
    error(anonymous.post(f"{BASE}/{world.e1}/acknowledge"), 401, "unauthenticated")
    resident = client(world, "resident1", "resident", "E1")
    error(resident.get(BASE), 403, "forbidden")
    error(resident.get(f"{BASE}/stream"), 403, "forbidden")
    auditor = client(world, "auditor1", "auditor", None)
    error(auditor.get(f"{BASE}/{world.e1}"), 403, "forbidden")
