"""Deny by default, checked exhaustively: every route declares a permission, and for every route × every
role × an object inside / outside the caller's scope the answer is the one roles.yaml says: allowed,
403 without the permission, 404 for an object outside the scope (or 403 for a target outside it)."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from anju.security.roles import get_role, load_roles
from anju.services import Services
from anju.web.app import create_app
from anju.web.auth import endpoint_permissions
from anju.web.hardening import RateLimiter
from tests.web.matrix_support import FRAMEWORK, PASSWORD, SLUG, Call, Case, World
from tests.web.matrix_support import estate as _estate
from tests.web.matrix_support import sample_records as _records


def _lists_only_inside(key: str, id_key: str) -> Callable[[World, httpx.Response, str], None]:
    def check(world: World, response: httpx.Response, where: str) -> None:
        found = {str(item[id_key]) for item in response.json()[key]}
        inside = world.record_in if key == "records" else str(world.quarantine_in)
        outside = world.record_out if key == "records" else str(world.quarantine_out)
        assert inside in found and outside not in found, (found, inside, outside)

    return check


def _export_only_inside(world: World, response: httpx.Response, where: str) -> None:
    ids = {orjson.loads(line)["ID"] for line in response.text.splitlines()}
    assert world.record_in in ids and world.record_out not in ids


def _user_for_disable(world: World, where: str) -> str:
    name = world.unique("victim")
    world.svc.identity.create_user(name, PASSWORD, "resident", _estate(where))
    return name


BOUNDARY = {
    "type": "Polygon",
    "coordinates": [[[114.30, 30.60], [114.31, 30.60], [114.31, 30.61], [114.30, 30.61], [114.30, 30.60]]],
}


def _only_inside(found: set[str], inside: str, outside: str) -> None:
    assert inside in found and outside not in found, found


def _registry_get(
    template: str, url: Callable[[World, str], str], *, permission: str = "registry:view"
) -> Case:
    """A registry read of one object named in the path: 200 inside the caller's scope, 404 outside."""
    return Case(
        "GET",
        template,
        permission,
        lambda w, h, where: w.client.get(url(w, where), headers=h),
        {"inside": 200, "outside": 404},
    )


def _found_only_inside(people: list[dict[str, Any]], where: str) -> None:
    assert len(people) == (1 if where == "inside" else 0), people


def _self_registration(world: World) -> dict[str, str]:
    from tests.registry.doorplate_fixture import id_number

    serial = next(world.counter) % 1000
    return {
        "name": "自助登记",
        "id_type": "111",
        "id_number": id_number(f"42010219920202{serial:03d}"),
        "phone": "13700000000",
        "category": "floating",
        "relation": "9",
        "moved_in": "2026-03-01",
    }


def _residence(world: World, where: str, status: str) -> str:
    """A fresh residence for one deregistration or decision (each succeeds once)."""
    from tests.registry.doorplate_fixture import add_residence

    info = world.registry[where]
    return add_residence(
        world.svc, house_id=info["house"], estate=_estate(where), address=info["address"], status=status
    )


CASES: list[Case] = [
    Case("GET", "/healthz", "public", lambda w, h, _: w.client.get("/healthz", headers=h), {}),
    Case("GET", "/docs", "public", lambda w, h, _: w.client.get("/docs", headers=h), {}),
    Case(
        "GET", "/api/v1/standard", "public", lambda w, h, _: w.client.get("/api/v1/standard", headers=h), {}
    ),
    Case(
        "GET",
        "/api/v1/standard/{record_type}",
        "public",
        lambda w, h, _: w.client.get(f"/api/v1/standard/{SLUG}", headers=h),
        {},
    ),
    Case(
        "GET",
        "/api/v1/dictionaries",
        "public",
        lambda w, h, _: w.client.get("/api/v1/dictionaries", headers=h),
        {},
    ),
    Case(
        "GET",
        "/api/v1/dictionaries/{name}",
        "public",
        lambda w, h, _: w.client.get("/api/v1/dictionaries/XB", headers=h),
        {},
    ),
    Case(
        "POST",
        "/api/v1/auth/token",
        "public",
        lambda w, h, _: w.client.post(
            "/api/v1/auth/token", json={"username": "login-user", "password": PASSWORD}
        ),
        {},
    ),
    Case(
        "POST",
        "/api/v1/auth/login",
        "public",
        lambda w, h, _: _login(w),
        {},
    ),
    Case(
        "GET",
        "/api/v1/auth/me",
        "authenticated",
        lambda w, h, _: w.client.get("/api/v1/auth/me", headers=h),
        {},
    ),
    Case(
        "POST",
        "/api/v1/auth/logout",
        "authenticated",
        # With a token of its own, so that signing out does not revoke the token the other cases use.
        lambda w, h, _: w.client.post("/api/v1/auth/logout", headers=_fresh_token(w, h)),
        {},
    ),
    Case(
        "POST",
        "/api/v1/records/{record_type}",
        "records:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/records/{SLUG}",
            params={"estate": _estate(where)},
            json=_records(1, seed=1000 + next(w.counter)),
            headers=h,
        ),
        {"inside": 200, "outside": 403},
    ),
    Case(
        "GET",
        "/api/v1/records/{record_type}",
        "records:view",
        lambda w, h, _: w.client.get(f"/api/v1/records/{SLUG}", params={"limit": 1000}, headers=h),
        {"inside": 200, "outside": 200},
        _lists_only_inside("records", "ID"),
    ),
    Case(
        "GET",
        "/api/v1/records/{record_type}",
        "records:unmask",
        lambda w, h, _: w.client.get(f"/api/v1/records/{SLUG}", params={"unmask": True}, headers=h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "GET",
        "/api/v1/records/{record_type}/{record_id}",
        "records:view",
        lambda w, h, where: w.client.get(
            f"/api/v1/records/{SLUG}/{w.record_in if where == 'inside' else w.record_out}", headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/records/{record_type}/export",
        "records:export",
        lambda w, h, _: w.client.get(f"/api/v1/records/{SLUG}/export", headers=h),
        {"inside": 200, "outside": 200},
        _export_only_inside,
    ),
    Case(
        "GET",
        "/api/v1/quarantine",
        "quarantine:view",
        lambda w, h, _: w.client.get("/api/v1/quarantine", params={"limit": 1000}, headers=h),
        {"inside": 200, "outside": 200},
        _lists_only_inside("entries", "id"),
    ),
    Case(
        "GET",
        "/api/v1/quarantine/{entry_id}",
        "quarantine:view",
        lambda w, h, where: w.client.get(
            f"/api/v1/quarantine/{w.quarantine_in if where == 'inside' else w.quarantine_out}", headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/quarantine/{entry_id}",
        "quarantine:unmask",
        lambda w, h, where: w.client.get(
            f"/api/v1/quarantine/{w.quarantine_in if where == 'inside' else w.quarantine_out}",
            params={"unmask": True},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/quarantine/replay",
        "quarantine:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/quarantine/replay",
            json={"ids": [w.quarantine_in if where == "inside" else w.quarantine_out]},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/users",
        "users:view",
        lambda w, h, _: w.client.get("/api/v1/users", headers=h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        "/api/v1/users",
        "users:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/users",
            json={
                "username": w.unique("new"),
                "password": PASSWORD,
                "role": "resident",
                "scope": _estate(where),
            },
            headers=h,
        ),
        {"inside": 201, "outside": 403},
    ),
    Case(
        "POST",
        "/api/v1/users/{username}/roles",
        "users:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/users/login-user/roles", json={"role": "resident", "scope": _estate(where)}, headers=h
        ),
        {"inside": 200, "outside": 403},
    ),
    Case(
        "POST",
        "/api/v1/users/{username}/disable",
        "users:edit",
        lambda w, h, where: w.client.post(f"/api/v1/users/{_user_for_disable(w, where)}/disable", headers=h),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/regions",
        "regions:view",
        lambda w, h, _: w.client.get("/api/v1/regions", headers=h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        "/api/v1/regions",
        "regions:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/regions",
            json={"code": w.unique("B"), "name": "楼栋", "level": "estate", "parent": _estate(where)},
            headers=h,
        ),
        {"inside": 201, "outside": 403},
    ),
    Case(
        "POST",
        "/api/v1/devices/{device_id}/credential",
        "devices:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/devices/{w.unique('D')}/credential", params={"estate": _estate(where)}, headers=h
        ),
        {"inside": 201, "outside": 403},
    ),
    Case(
        "GET",
        "/api/v1/audit",
        "audit:view",
        lambda w, h, _: w.client.get("/api/v1/audit", headers=h),
        {"inside": 200, "outside": 200},
    ),
    # ---- registry (一标三实) ---------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/registry/estates",
        "registry:view",
        lambda w, h, _: w.client.get("/api/v1/registry/estates", headers=h),
        {"inside": 200, "outside": 200},
        lambda w, r, _: _only_inside({e["code"] for e in r.json()["estates"]}, "E1", "E2"),
    ),
    _registry_get(
        "/api/v1/registry/estates/{estate}", lambda w, where: f"/api/v1/registry/estates/{_estate(where)}"
    ),
    _registry_get(
        "/api/v1/registry/estates/{estate}/buildings",
        lambda w, where: f"/api/v1/registry/estates/{_estate(where)}/buildings",
    ),
    _registry_get(
        "/api/v1/registry/estates/{estate}/houses",
        lambda w, where: f"/api/v1/registry/estates/{_estate(where)}/houses",
    ),
    _registry_get(
        "/api/v1/registry/estates/{estate}/rates",
        lambda w, where: f"/api/v1/registry/estates/{_estate(where)}/rates",
    ),
    _registry_get(
        "/api/v1/registry/estates/{estate}/occupancy",
        lambda w, where: f"/api/v1/registry/estates/{_estate(where)}/occupancy?month=2026-10",
    ),
    _registry_get(
        "/api/v1/registry/communities/{community}/rates",
        lambda w, where: f"/api/v1/registry/communities/{'C1' if where == 'inside' else 'C2'}/rates",
    ),
    _registry_get(
        "/api/v1/registry/houses/{house_id}",
        lambda w, where: f"/api/v1/registry/houses/{w.registry[where]['house']}",
    ),
    _registry_get(
        "/api/v1/registry/houses/{house_id}",
        lambda w, where: f"/api/v1/registry/houses/{w.registry[where]['house']}?unmask=true",
        permission="registry:unmask",
    ),
    _registry_get(
        "/api/v1/registry/people/{person_id}",
        lambda w, where: f"/api/v1/registry/people/{w.registry[where]['person']}",
    ),
    _registry_get(
        "/api/v1/registry/people/{person_id}",
        lambda w, where: f"/api/v1/registry/people/{w.registry[where]['person']}?unmask=true",
        permission="registry:unmask",
    ),
    Case(
        "GET",
        "/api/v1/registry/people",
        "registry:view",
        lambda w, h, where: w.client.get(
            "/api/v1/registry/people", params={"id_number": w.registry[where]["id_number"]}, headers=h
        ),
        {"inside": 200, "outside": 200},
        lambda w, r, where: _found_only_inside(r.json()["people"], where),
    ),
    Case(
        "PUT",
        "/api/v1/registry/estates/{estate}/boundary",
        "registry:edit",
        lambda w, h, where: w.client.put(
            f"/api/v1/registry/estates/{_estate(where)}/boundary", json={"boundary": BOUNDARY}, headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "PUT",
        "/api/v1/registry/people/{person_id}/special_category",
        "special_population:edit",
        lambda w, h, where: w.client.put(
            f"/api/v1/registry/people/{w.registry[where]['person']}/special_category",
            json={"special_category": "mental_patient"},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/registry/{kind}/{item_id}/verify",
        "registry:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/registry/house/{w.registry[where]['house']}/verify", headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/registry/org_units",
        "registry:view",
        lambda w, h, _: w.client.get("/api/v1/registry/org_units", headers=h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        "/api/v1/registry/org_units",
        "registry:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/registry/org_units",
            json={"name": w.unique("商店"), "kind": "shop", "estate": _estate(where)},
            headers=h,
        ),
        {"inside": 201, "outside": 403},
    ),
    # ---- QR doorplates --------------------------------------------------------------------------------
    Case(
        "GET",
        "/d/{token}",
        "public",
        lambda w, h, where: w.client.get(f"/d/{w.registry[where]['token']}", headers=h),
        {},
    ),
    Case(
        "GET",
        "/api/v1/doorplates/{token}",
        "public",
        lambda w, h, where: w.client.get(f"/api/v1/doorplates/{w.registry[where]['token']}", headers=h),
        {},
    ),
    Case(
        "POST",
        "/api/v1/doorplates/{token}/registrations",
        "public",
        lambda w, h, where: w.client.post(
            f"/api/v1/doorplates/{w.registry[where]['token']}/registrations",
            json=_self_registration(w),
            headers=h,
        ),
        {},
    ),
    Case(
        "POST",
        "/api/v1/doorplates/{token}/residences/{residence_id}/deregister",
        "registry:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/doorplates/{w.registry[where]['token']}/residences/{_residence(w, where, 'active')}"
            "/deregister",
            json={"note": "已搬离"},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "GET",
        "/api/v1/registry/registrations",
        "registry:view",
        lambda w, h, _: w.client.get("/api/v1/registry/registrations", headers=h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        "/api/v1/registry/registrations/{residence_id}/confirm",
        "registry:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/registry/registrations/{_residence(w, where, 'pending')}/confirm", headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/registry/registrations/{residence_id}/reject",
        "registry:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/registry/registrations/{_residence(w, where, 'pending')}/reject",
            json={"note": "信息不实"},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/doorplates/{doorplate_id}/revoke",
        "registry:edit",
        lambda w, h, where: w.client.post(
            f"/api/v1/doorplates/{w.registry[where]['spare_plate']}/revoke",
            json={"reason": "门牌损坏"},
            headers=h,
        ),
        {"inside": 200, "outside": 404},
    ),
    # ---- devices ---------------------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/devices",
        "devices:view",
        lambda w, h, _: w.client.get("/api/v1/devices", headers=h),
        {"inside": 200, "outside": 200},
        lambda w, r, _: _only_inside({d["id"] for d in r.json()["devices"]}, "CAM-E1", "CAM-E2"),
    ),
    Case(
        "GET",
        "/api/v1/devices/{device_id}",
        "devices:view",
        lambda w, h, where: w.client.get(f"/api/v1/devices/CAM-{_estate(where)}", headers=h),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "PUT",
        "/api/v1/devices/{device_id}",
        "devices:edit",
        lambda w, h, where: w.client.put(
            f"/api/v1/devices/{w.unique('SMOKE-')}",
            json={"estate": _estate(where), "kind": "smoke_sensor", "location": "1栋1楼"},
            headers=h,
        ),
        {"inside": 200, "outside": 403},
    ),
    # ---- evaluation ------------------------------------------------------------------------------------
    Case(
        "GET",
        "/api/v1/evaluation/{system}",
        "evaluation:view",
        lambda w, h, where: w.client.get(
            "/api/v1/evaluation/wuhan", params={"community": "C1" if where == "inside" else "C2"}, headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/evaluation/attestations",
        "evaluation:edit",
        lambda w, h, where: w.client.post(
            "/api/v1/evaluation/attestations",
            json={
                "community": "C1" if where == "inside" else "C2",
                "key": "WH.video_room",
                "value": True,
                "note": "监控室照片",
            },
            headers=h,
        ),
        {"inside": 201, "outside": 403},
    ),
    Case(
        "GET",
        "/api/v1/evaluation/attestations/{community}",
        "evaluation:view",
        lambda w, h, where: w.client.get(
            f"/api/v1/evaluation/attestations/{'C1' if where == 'inside' else 'C2'}", headers=h
        ),
        {"inside": 200, "outside": 404},
    ),
]


def _alarm(world: World, where: str) -> int:
    """A new open alarm of the estate inside (E1) or outside (E2) the callers' scope C1."""
    from datetime import UTC, datetime

    from anju.alarms.model import AlarmSignal

    signal = AlarmSignal(
        type="smoke_fire",
        rule="matrix",
        severity="critical",
        originator_kind="device",
        originator_id=world.unique("SMOKE"),
        estate=_estate(where),
        at=datetime.now(UTC),
        title_zh="烟雾/火警",
        title_en="Smoke or fire",
    )
    alarm_id = world.svc.alarms.raise_signal(signal).alarm_id
    assert alarm_id is not None
    return alarm_id


def _alarm_action(action: str, body: dict[str, Any] | None = None) -> Call:
    return lambda w, h, where: w.client.post(
        f"/api/v1/alarms/{_alarm(w, where)}/{action}", json=body, headers=h
    )


def _stream(world: World, headers: dict[str, str]) -> httpx.Response:
    # A stream that ends at once after its greeting: the answer's status is what the matrix checks.
    from anju.web.api import alarms as alarms_api

    keep, alarms_api.STREAM_MAX_SECONDS = alarms_api.STREAM_MAX_SECONDS, 0.0
    try:
        return world.client.get("/api/v1/alarms/stream", headers=headers)
    finally:
        alarms_api.STREAM_MAX_SECONDS = keep


ALARM_CASES: list[Case] = [
    Case(
        "GET",
        "/api/v1/alarms",
        "alarms:view",
        lambda w, h, where: w.client.get("/api/v1/alarms", params={"estate": _estate(where)}, headers=h),
        {"inside": 200, "outside": 403},
    ),
    Case(
        "GET",
        "/api/v1/alarms/stream",
        "alarms:view",
        lambda w, h, where: _stream(w, h),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "GET",
        "/api/v1/alarms/{alarm_id}",
        "alarms:view",
        lambda w, h, where: w.client.get(f"/api/v1/alarms/{_alarm(w, where)}", headers=h),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/acknowledge",
        "alarms:edit",
        _alarm_action("acknowledge"),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/assign",
        "alarms:edit",
        _alarm_action("assign", {"to": "community_admin-c1"}),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/dispatch",
        "alarms:edit",
        _alarm_action("dispatch", {"note": "保安两人前往"}),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/comment",
        "alarms:edit",
        _alarm_action("comment", {"text": "已电话联系"}),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/clear",
        "alarms:edit",
        _alarm_action("clear"),
        {"inside": 200, "outside": 404},
    ),
    Case(
        "POST",
        "/api/v1/alarms/{alarm_id}/close",
        "alarms:edit",
        _alarm_action("close", {"result": "误报，已复位"}),
        {"inside": 200, "outside": 404},
    ),
]
CASES += ALARM_CASES


def _page(url: Callable[[str], str]) -> Call:
    """A page fetched without following its redirect, so that a sign-in redirect is seen as such."""
    return lambda w, h, where: w.client.get(url(where), headers=h, follow_redirects=False)


PAGE_CASES: list[Case] = [
    Case("GET", "/", "public", _page(lambda _: "/"), {}, public_status=303),
    Case("GET", "/login", "public", _page(lambda _: "/login"), {}),
    Case("GET", "/fonts/noto-sans-sc.otf", "public", _page(lambda _: "/fonts/noto-sans-sc.otf"), {}),
    Case(
        "GET",
        "/console",
        "alarms:view",
        _page(lambda _: "/console"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
    Case(
        "GET",
        "/evaluation/{community}",
        "evaluation:view",
        _page(lambda where: f"/evaluation/{'C1' if where == 'inside' else 'C2'}"),
        {"inside": 200, "outside": 404},
        signed_out=303,
    ),
    Case(
        "GET",
        "/map/{estate}",
        "devices:view",
        _page(lambda where: f"/map/{_estate(where)}"),
        {"inside": 200, "outside": 404},
        signed_out=303,
    ),
    Case(
        "GET",
        "/records",
        "records:view",
        _page(lambda _: "/records"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
    Case(
        "GET",
        "/devices",
        "devices:view",
        _page(lambda _: "/devices"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
    Case(
        "GET",
        "/quarantine",
        "quarantine:view",
        _page(lambda _: "/quarantine"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
]
CASES += PAGE_CASES


def _contributed() -> list[Case]:
    """The cases of every `matrix_cases_*.py` module beside this one, each area's routes in its own file."""
    found: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("matrix_cases_*.py")):
        found += importlib.import_module(f"tests.web.{path.stem}").CASES
    return found


CASES += _contributed()


def _login(world: World) -> httpx.Response:
    response = world.client.post("/api/v1/auth/login", json={"username": "login-user", "password": PASSWORD})
    world.client.cookies.clear()  # the session cookie must not ride along with the next (anonymous) call
    return response


def _fresh_token(world: World, headers: dict[str, str]) -> dict[str, str]:
    if not headers:
        return headers
    token = headers["Authorization"].split(" ", 1)[1]
    if token.startswith("dev."):
        return headers
    principal = world.svc.identity.resolve(token, "bearer")
    assert principal is not None
    return {"Authorization": f"Bearer {world.svc.identity.issue(principal)[0]}"}


@pytest.fixture
def world(sqlite_services: Services) -> Iterator[World]:
    svc = sqlite_services
    regions = [("D1", "district", None), ("S1", "street", "D1"), ("C1", "community", "S1")]
    regions += [("E1", "estate", "C1"), ("C2", "community", "S1"), ("E2", "estate", "C2")]
    with TestClient(create_app(svc, limiter=RateLimiter({}))) as client:
        w = World(svc, client)
        from datetime import UTC, datetime

        from sqlalchemy import insert

        with svc.db.engine.begin() as conn:
            now = datetime.now(UTC).replace(tzinfo=None)
            for code, level, parent in regions:
                conn.execute(
                    insert(svc.db.table("region")).values(
                        code=code, name=code, level=level, parent=parent, created_at=now
                    )
                )
        for where, seed in (("inside", 1), ("outside", 2)):
            rec = _records(1, seed=seed)[0]
            svc.pipeline.ingest(SLUG, _items([rec]), source="fixture", estate=_estate(where))
            bad = {**_records(1, seed=seed + 10)[0], "SK_FSDM": "ZZ"}
            result = svc.pipeline.ingest(SLUG, _items([bad]), source="fixture", estate=_estate(where))
            qid = result.rejects[0].quarantine_id
            if where == "inside":
                w.record_in, w.quarantine_in = rec["ID"], qid
            else:
                w.record_out, w.quarantine_out = rec["ID"], qid
        svc.identity.create_user("login-user", PASSWORD, "resident", "E1")
        _registry_world(w)
        for role in load_roles():
            if role == "device":
                w.tokens[role] = svc.identity.create_device_credential("DEV1", "E1")
                continue
            svc.identity.create_user(f"{role}-c1", PASSWORD, role, "C1")
            principal = svc.identity.authenticate(f"{role}-c1", PASSWORD)
            w.tokens[role] = svc.identity.issue(principal)[0]
        yield w


def _registry_world(world: World) -> None:
    """The doorplate fixture's estates (E1 inside, E2 outside) with their doorplates issued, and a
    resident of E2 for the outside cases."""
    from anju.registry.doorplates import Doorplates
    from tests.registry import doorplate_fixture as fx

    svc = world.svc
    estate = fx.build(svc)
    plates = Doorplates(svc)
    for code in ("E1", "E2"):
        plates.issue_for_estate(code, actor="matrix")
        svc.devices.register(f"CAM-{code}", estate=code, kind="camera", actor="matrix")
    outside = fx.add_residence(svc, house_id=estate.houses["other"], estate="E2", address=fx.ADDRESS_OTHER)
    with svc.db.engine.connect() as conn:
        residence = svc.registry.get(conn, "residence", outside)
        assert residence is not None
        person = svc.registry.get(conn, "person", residence.person_id)
        assert person is not None
        outside_number = str(svc.registry.opened("person", person)["id_number"])
    for where, house, spare, address, person_id, number in (
        (
            "inside",
            estate.houses["101"],
            estate.houses["102"],
            fx.ADDRESS_101,
            estate.persons["householder"],
            fx.PEOPLE[0].id_number,
        ),
        (
            "outside",
            estate.houses["other"],
            estate.houses["other"],
            fx.ADDRESS_OTHER,
            str(residence.person_id),
            outside_number,
        ),
    ):
        plate = plates.for_target("house", house)
        spare_plate = plates.for_target("house", spare)
        assert plate is not None and spare_plate is not None
        world.registry[where] = {
            "house": house,
            "address": address,
            "person": person_id,
            "id_number": number,
            "token": plates.token(plate),
            "spare_plate": spare_plate.id,
        }


def _items(records: list[dict[str, Any]]) -> list[Any]:
    from anju.ingest.decode import decode_body

    return decode_body(orjson.dumps(records))


def _expected(case: Case, role: str | None, where: str) -> int:
    if case.permission == "public":
        return case.public_status
    if role is None:
        return case.signed_out
    if case.permission == "authenticated":
        return 200
    if case.permission not in get_role(role).permissions:
        return 403
    # A device credential is additionally tied to its own records; the ingest case sends DEV1's.
    return case.allowed[where]


def test_every_route_declares_a_permission() -> None:
    undeclared = []
    for path, methods, declared in endpoint_permissions(create_app(_NoServices())):  # type: ignore[arg-type]
        if declared is None:
            if path not in FRAMEWORK:
                undeclared.append((path, methods, "framework route not on the allow-list"))
        elif len(declared) != 1:
            undeclared.append((path, methods, f"declares {sorted(declared) or 'nothing'}"))
    assert undeclared == []


class _NoServices:
    """Building an app needs no services until a request arrives."""


def test_matrix_covers_every_route() -> None:
    covered = {(c.method, c.path) for c in CASES}
    routes = {
        (m, path)
        for path, methods, declared in endpoint_permissions(create_app(_NoServices()))  # type: ignore[arg-type]
        if declared is not None
        for m in methods
        if m != "HEAD"
    }
    assert routes - covered == set(), "add these routes to CASES"
    for c in CASES:
        declared = next(
            d
            for p, ms, d in endpoint_permissions(create_app(_NoServices()))
            if p == c.path and c.method in ms
        )  # type: ignore[arg-type]
        # The unmask cases sit on a route that declares the view permission and asks for unmask inside.
        assert c.permission in (declared or set()) or c.permission.endswith(":unmask"), (
            c.path,
            c.permission,
            declared,
        )


def test_authorization_matrix(world: World) -> None:
    mismatches = []
    roles: list[str | None] = [None, *load_roles()]
    for case, role, where in itertools.product(CASES, roles, ("inside", "outside")):
        headers = {} if role is None else {"Authorization": f"Bearer {world.tokens[role]}"}
        response = case.call(world, headers, where)
        want = _expected(case, role, where)
        if response.status_code != want:
            mismatches.append(
                (
                    case.method,
                    case.path,
                    case.permission,
                    role,
                    where,
                    want,
                    response.status_code,
                    response.text[:160],
                )
            )
            continue
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"} and {"code", "message_zh", "message_en"} <= set(body["error"])
        elif case.check is not None and role is not None:
            case.check(world, response, where)
    assert mismatches == [], "\n".join(map(str, mismatches))
