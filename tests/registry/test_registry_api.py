"""The registry's HTTP API over the fixture (rates_fixture.py): answers scoped and masked per role,
special categories invisible without special_population:view, writes audited.

Callers: a grid worker of E1, community police of C1 (E1 and E2), property staff of E2, a district
supervisor (view only) and a platform administrator (no unmask, no special populations)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from anju.ingest.decode import decode_body
from anju.registry.geo import wgs84_to_gcj02
from anju.security.audit import AuditEntry
from anju.security.masking import mask_name, mask_phone
from anju.services import Services
from tests.conftest import signed_in_client
from tests.registry.rates_fixture import NAMES, Fixture, build
from tests.registry.test_occupancy import EXPECTED, _swipes

ROLES = {
    "grid": (("grid_worker", "E1"),),
    "police": (("community_police", "C1"),),
    "staff2": (("property_staff", "E2"),),
    "supervisor": (("district_supervisor", "420102"),),
    "admin": (("platform_admin", None),),
}
SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[114.300, 30.600], [114.301, 30.600], [114.301, 30.601], [114.300, 30.601], [114.300, 30.600]]
    ],
}
API = "/api/v1/registry"


class World:
    def __init__(self, svc: Services, fx: Fixture) -> None:
        self.svc, self.fx = svc, fx
        self.clients: dict[str, TestClient] = {}

    def __getitem__(self, who: str) -> TestClient:
        if who not in self.clients:
            self.clients[who] = signed_in_client(self.svc, who, ROLES[who]).__enter__()
        return self.clients[who]

    def audit(self, action: str) -> list[AuditEntry]:
        return [e for e in self.svc.audit.tail(200) if e.action == action]


@pytest.fixture
def world(sqlite_services: Services) -> Iterator[World]:
    w = World(sqlite_services, build(sqlite_services))
    try:
        yield w
    finally:
        for client in w.clients.values():
            client.__exit__(None, None, None)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code, body
    return body


# ---- estates -------------------------------------------------------------------------------------------
def test_estates_are_listed_within_scope_with_counts(world: World) -> None:
    grid = world["grid"].get(f"{API}/estates").json()
    assert [e["code"] for e in grid["estates"]] == ["E1"]
    assert grid["estates"][0]["counts"] == {
        "gates": 2,
        "buildings": 2,
        "units": 3,
        "houses": 6,
        "org_units": 3,
        "doorplates": 9,
        "residents": 5,
    }
    assert [e["code"] for e in world["police"].get(f"{API}/estates").json()["estates"]] == ["E1", "E2"]
    assert len(world["admin"].get(f"{API}/estates").json()["estates"]) == 3
    _error(world["grid"].get(f"{API}/estates/E2"), 404, "not_found")
    _error(world["grid"].get(f"{API}/estates/NOPE"), 404, "not_found")
    e1 = world["grid"].get(f"{API}/estates/E1").json()
    assert e1["name"] == "幸福里" and e1["boundary"] is None and e1["centre"] is None


def test_a_boundary_is_validated_stored_in_wgs84_and_shown_in_both(world: World) -> None:
    response = world["grid"].put(f"{API}/estates/E1/boundary", json={"boundary": SQUARE})
    assert response.status_code == 200, response.text
    e1 = response.json()
    assert e1["boundary"]["wgs84"] == SQUARE
    gcj = wgs84_to_gcj02(30.6005, 114.3005)
    assert e1["centre"]["wgs84"] == pytest.approx({"lat": 30.6005, "lon": 114.3005})
    assert e1["centre"]["gcj02"] == pytest.approx({"lat": gcj.lat, "lon": gcj.lon}, abs=1e-6)
    assert e1["boundary"]["gcj02"]["coordinates"][0][0] != SQUARE["coordinates"][0][0]
    assert e1["boundary"]["area_m2"] == pytest.approx(10_642, rel=1e-3)
    # The west gate's coordinates lie outside the new boundary: said, not refused.
    assert e1["outside_boundary"] == [{"kind": "gate", "id": "E1-G2", "name": "西门"}]
    [entry] = world.audit("registry.estate.boundary")
    assert entry.actor == "user:grid" and entry.target == "estate/E1"
    assert world["grid"].get(f"{API}/estates/E1").json()["boundary"]["wgs84"] == SQUARE

    # Drawn on a Chinese web map: sent in GCJ-02, stored in WGS-84.
    drawn = e1["boundary"]["gcj02"]
    again = world["grid"].put(f"{API}/estates/E1/boundary", json={"boundary": drawn, "datum": "gcj02"}).json()
    stored = [c for pos in again["boundary"]["wgs84"]["coordinates"][0] for c in pos]
    assert stored == pytest.approx([c for pos in SQUARE["coordinates"][0] for c in pos], abs=1e-6)

    open_ring = {"type": "Polygon", "coordinates": [SQUARE["coordinates"][0][:-1]]}
    body = _error(
        world["grid"].put(f"{API}/estates/E1/boundary", json={"boundary": open_ring}), 422, "boundary_invalid"
    )
    assert body["field"] == "boundary.coordinates[0]" and "not closed" in body["message_en"]
    _error(world["grid"].put(f"{API}/estates/E2/boundary", json={"boundary": SQUARE}), 404, "not_found")
    _error(world["supervisor"].put(f"{API}/estates/E1/boundary", json={"boundary": SQUARE}), 403, "forbidden")


def test_buildings_and_houses_of_an_estate(world: World) -> None:
    buildings = world["grid"].get(f"{API}/estates/E1/buildings").json()["buildings"]
    assert [(b["id"], b["units"], b["houses"], b["doorplate"] is not None) for b in buildings] == [
        ("E1-B1", 2, 4, True),
        ("E1-B2", 1, 2, True),
    ]
    houses = world["grid"].get(f"{API}/estates/E1/houses", params={"building_id": "E1-B2"}).json()
    assert houses["total"] == 2 and [h["id"] for h in houses["houses"]] == ["E1-H5", "E1-H6"]
    assert all("key_house" not in h for h in houses["houses"])
    # H5's plate is revoked; H6 has none.
    assert [h["doorplate"] for h in houses["houses"]] == [None, None]
    police = world["police"].get(f"{API}/estates/E1/houses").json()["houses"]
    assert {h["id"]: h["key_house"] for h in police}["E1-H4"] is True
    assert {h["id"]: h["residents"] for h in police} == {
        "E1-H1": 2,
        "E1-H2": 1,
        "E1-H3": 1,
        "E1-H4": 1,
        "E1-H5": 0,
        "E1-H6": 0,
    }
    _error(world["grid"].get(f"{API}/estates/E2/houses"), 404, "not_found")
    _error(world["grid"].get(f"{API}/estates/E3/buildings"), 404, "not_found")


# ---- houses and people ---------------------------------------------------------------------------------
def test_house_detail_is_masked_and_unmasking_is_audited(world: World) -> None:
    fx = world.fx
    h1 = world["grid"].get(f"{API}/houses/E1-H1").json()
    assert h1["masked"] and not h1["special_visible"]
    names = [r["person"]["name"] for r in h1["residents"]]
    assert sorted(names) == sorted([mask_name(NAMES["P1"]), mask_name(NAMES["P2"])])
    for r in h1["residents"]:
        person = r["person"]
        assert person["id_number"] != fx.id_numbers[person["id"]] and person["id_number"].count("*") >= 10
        assert person["phone"] == mask_phone(fx.phones[person["id"]])
        assert not {"key_population", "special_category", "special_note"} & set(person)
        assert len(person["birth_date"]) == 4  # the year only
        assert "*" in r["residence"]["address"]
    assert h1["house"]["agent_name"] == mask_name("周代理") and "key_house" not in h1["house"]
    assert h1["doorplate"] is not None and h1["building"]["name"] == "1栋"
    _error(world["grid"].get(f"{API}/houses/E1-H1", params={"unmask": "true"}), 403, "forbidden")
    assert world.audit("registry.unmask") == []

    h3 = world["police"].get(f"{API}/houses/E1-H3", params={"unmask": "true"}).json()
    [resident] = h3["residents"]
    assert resident["person"]["name"] == NAMES["P4"]
    assert resident["person"]["id_number"] == fx.id_numbers["P4"]
    assert resident["person"]["special_category"] == "released_prisoner"
    assert resident["person"]["key_population"] is True
    assert h3["special_visible"] and not h3["masked"] and h3["house"]["key_house"] is False
    [entry] = world.audit("registry.unmask")
    assert entry.actor == "user:police" and entry.target == "house/E1-H3"

    # Pending and ended residences: the pending one is shown, the ended one only when asked.
    assert [
        r["residence"]["status"] for r in world["grid"].get(f"{API}/houses/E1-H6").json()["residents"]
    ] == ["pending"]
    assert world["grid"].get(f"{API}/houses/E1-H5").json()["residents"] == []
    ended = world["grid"].get(f"{API}/houses/E1-H5", params={"ended": "true"}).json()["residents"]
    assert [r["residence"]["status"] for r in ended] == ["ended"]

    for who in ("grid", "police", "staff2"):
        _error(world[who].get(f"{API}/houses/E3-H1"), 404, "not_found")
    _error(world["staff2"].get(f"{API}/houses/E1-H1"), 404, "not_found")
    assert world["supervisor"].get(f"{API}/houses/E3-H1").status_code == 200
    _error(world["admin"].get(f"{API}/houses/E1-H1", params={"unmask": "true"}), 403, "forbidden")


def test_people_are_found_through_the_blind_index_within_scope(world: World) -> None:
    fx = world.fx
    found = world["grid"].get(f"{API}/people", params={"id_number": fx.id_numbers["P1"]}).json()
    assert found["count"] == 1 and found["masked"]
    [p1] = found["people"]
    assert p1["id"] == "P1" and p1["name"] == mask_name(NAMES["P1"])
    assert p1["estates"] == ["E1"]  # P1 also lodges in E2, which the grid worker does not cover
    police = world["police"].get(f"{API}/people", params={"id_number": fx.id_numbers["P1"].lower()}).json()
    assert police["people"][0]["estates"] == ["E1", "E2"]
    by_phone = world["grid"].get(f"{API}/people", params={"phone": fx.phones["P3"]}).json()
    assert [p["id"] for p in by_phone["people"]] == ["P3"]
    # P9 lives in E3: outside the grid worker's scope the search finds nobody.
    assert world["grid"].get(f"{API}/people", params={"id_number": fx.id_numbers["P9"]}).json()["count"] == 0
    assert world["admin"].get(f"{API}/people", params={"id_number": fx.id_numbers["P9"]}).json()["count"] == 1
    _error(world["grid"].get(f"{API}/people"), 422, "search_key_required")
    _error(
        world["grid"].get(
            f"{API}/people", params={"id_number": fx.id_numbers["P1"], "phone": fx.phones["P1"]}
        ),
        422,
        "search_key_required",
    )
    # Special categories never reach a search by someone without special_population:view.
    p4 = world["grid"].get(f"{API}/people", params={"id_number": fx.id_numbers["P4"]}).json()["people"][0]
    assert "special_category" not in p4 and "key_population" not in p4


def test_person_detail(world: World) -> None:
    p4 = world["grid"].get(f"{API}/people/P4").json()
    assert "special_category" not in p4["person"] and not p4["special_visible"]
    assert p4["person"]["birth_date"] == "1990"
    police_p4 = world["police"].get(f"{API}/people/P4").json()
    assert police_p4["person"]["special_category"] == "released_prisoner" and police_p4["special_visible"]

    p1 = world["grid"].get(f"{API}/people/P1").json()
    assert [r["id"] for r in p1["residences"]] == ["R1"]  # R9 is in E2
    assert p1["emergency_contacts"][0]["phone"] == mask_phone("13700002222")
    full = world["police"].get(f"{API}/people/P1", params={"unmask": "true"}).json()
    assert [r["id"] for r in full["residences"]] == ["R1", "R9"]
    assert full["person"]["name"] == NAMES["P1"] and full["person"]["birth_date"] == "1950-05-01"
    assert full["emergency_contacts"][0] == {
        "person_id": "P1",
        "name": "王小明",
        "phone": "13700002222",
        "relation": "子",
        "source": "staff",
        "created_at": "2026-01-01T00:00:00",
    }
    [entry] = world.audit("registry.unmask")
    assert entry.target == "person/P1"
    _error(world["grid"].get(f"{API}/people/P9"), 404, "not_found")
    _error(world["grid"].get(f"{API}/people/NOPE"), 404, "not_found")


def test_special_categories_are_set_by_police_only_and_audited(world: World) -> None:
    body = {"special_category": "mental_patient", "key_population": True, "special_note": "家属张三陪护"}
    _error(world["grid"].put(f"{API}/people/P2/special_category", json=body), 403, "forbidden")
    _error(world["admin"].put(f"{API}/people/P2/special_category", json=body), 403, "forbidden")
    response = world["police"].put(f"{API}/people/P2/special_category", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["special_category_zh"] == "严重精神障碍患者"
    [entry] = world.audit("registry.special_category")
    assert entry.actor == "user:police" and entry.target == "person/P2"
    assert entry.detail == {
        "from": None,
        "to": "mental_patient",
        "key_population": {"from": False, "to": True},
        "note_changed": True,
    }
    assert "张三" not in orjson.dumps(entry.detail).decode()
    # The grid worker still sees none of it; the police do.
    assert "special_category" not in world["grid"].get(f"{API}/people/P2").json()["person"]
    shown = world["police"].get(f"{API}/people/P2").json()["person"]
    assert (shown["special_category"], shown["key_population"], shown["special_note"]) == (
        "mental_patient",
        True,
        "家属张三陪护",
    )
    # Cleared: null clears the category, the omitted mark stays.
    world["police"].put(f"{API}/people/P2/special_category", json={"special_category": None})
    shown = world["police"].get(f"{API}/people/P2").json()["person"]
    assert shown["special_category"] is None and shown["key_population"] is True

    bad = _error(
        world["police"].put(f"{API}/people/P2/special_category", json={"special_category": "vip"}),
        422,
        "special_category_unknown",
    )
    assert (
        bad["field"] == "special_category" and bad["value"] == "vip" and "mental_patient" in bad["message_en"]
    )
    _error(world["police"].put(f"{API}/people/P9/special_category", json=body), 404, "not_found")


# ---- verification --------------------------------------------------------------------------------------
def test_verification_is_scoped_audited_and_moves_the_rates(world: World) -> None:
    grid = world["grid"]
    before = grid.get(f"{API}/estates/E1/rates").json()["verification"]
    assert (before["houses"]["numerator"], before["houses"]["denominator"]) == (3, 6)
    for kind, item in (
        ("house", "E1-H4"),
        ("person", "P2"),
        ("residence", "R5"),
        ("unit", "E1-B1-U1"),
        ("building", "E1-B2"),
        ("org_unit", "O2"),
    ):
        response = grid.post(f"{API}/{kind}/{item}/verify")
        assert response.status_code == 200, (kind, response.text)
        assert response.json()["verified_by"] == "user:grid"
    after = grid.get(f"{API}/estates/E1/rates").json()["verification"]
    assert (
        after["houses"]["numerator"],
        after["population"]["numerator"],
        after["org_units"]["numerator"],
    ) == (
        4,
        4,
        3,
    )
    entries = world.audit("registry.verify")
    assert {e.target for e in entries} == {
        "house/E1-H4",
        "person/P2",
        "residence/R5",
        "unit/E1-B1-U1",
        "building/E1-B2",
        "org_unit/O2",
    }
    assert all(e.actor == "user:grid" for e in entries)

    for path in ("house/E3-H1", "building/E2-B1", "person/P9", "residence/R8", "org_unit/O4", "house/NOPE"):
        _error(grid.post(f"{API}/{path}/verify"), 404, "not_found")
    _error(grid.post(f"{API}/gizmo/X/verify"), 404, "kind_unknown")
    _error(world["supervisor"].post(f"{API}/house/E1-H4/verify"), 403, "forbidden")
    # Police of C1 may verify the community-level org unit.
    assert world["police"].post(f"{API}/org_unit/O4/verify").status_code == 200


# ---- org units -----------------------------------------------------------------------------------------
def test_org_units_are_listed_within_scope_and_created_with_known_kinds(world: World) -> None:
    grid = world["grid"].get(f"{API}/org_units").json()
    assert [o["id"] for o in grid["org_units"]] == ["O1", "O2", "O3"]
    assert grid["org_units"][0]["contact_name"] == mask_name("孙经理") and grid["org_units"][0]["small_place"]
    police = world["police"].get(f"{API}/org_units").json()
    assert [o["id"] for o in police["org_units"]] == ["O1", "O2", "O3", "O4"]
    assert [
        o["id"] for o in world["police"].get(f"{API}/org_units", params={"kind": "hotel"}).json()["org_units"]
    ] == ["O4"]
    assert world["police"].get(f"{API}/org_units", params={"small_place": "false"}).json()["total"] == 0
    _error(world["grid"].get(f"{API}/org_units", params={"kind": "zoo"}), 422, "org_kind_unknown")

    new = {
        "name": "幸福网吧",
        "kind": "internet_cafe",
        "estate": "E1",
        "contact_phone": "13812345678",
        "lat": 30.6005,
        "lon": 114.3005,
    }
    response = world["grid"].post(f"{API}/org_units", json=new)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["community"] == "C1" and created["small_place"] and created["kind_zh"] == "网吧"
    assert created["contact_phone"] == mask_phone("13812345678")
    assert created["location"]["wgs84"] == {"lat": 30.6005, "lon": 114.3005}
    [entry] = world.audit("registry.org_unit.create")
    assert entry.target == f"org_unit/{created['id']}" and entry.detail["kind"] == "internet_cafe"
    # Coordinates picked on a Chinese web map come in GCJ-02.
    gcj = wgs84_to_gcj02(30.6005, 114.3005)
    drawn = (
        world["grid"]
        .post(
            f"{API}/org_units",
            json={
                **new,
                "name": "幸福书店",
                "kind": "shop",
                "lat": gcj.lat,
                "lon": gcj.lon,
                "datum": "gcj02",
            },
        )
        .json()
    )
    assert drawn["location"]["wgs84"] == pytest.approx({"lat": 30.6005, "lon": 114.3005}, abs=1e-8)

    _error(world["grid"].post(f"{API}/org_units", json={**new, "estate": "E2"}), 403, "scope_denied")
    _error(world["grid"].post(f"{API}/org_units", json={**new, "kind": "zoo"}), 422, "org_kind_unknown")
    _error(world["grid"].post(f"{API}/org_units", json={**new, "estate": None}), 422, "org_place_required")
    _error(world["admin"].post(f"{API}/org_units", json={**new, "estate": "E9"}), 422, "estate_unknown")
    community_level = {"name": "社区诊所", "kind": "clinic", "community": "C1"}
    assert world["police"].post(f"{API}/org_units", json=community_level).status_code == 201
    _error(world["grid"].post(f"{API}/org_units", json=community_level), 403, "scope_denied")
    _error(world["supervisor"].post(f"{API}/org_units", json=new), 403, "forbidden")


# ---- rates and occupancy -------------------------------------------------------------------------------
def test_rates_of_an_estate_and_a_community(world: World) -> None:
    e1 = world["grid"].get(f"{API}/estates/E1/rates", params={"limit": 1}).json()
    assert (e1["doorplates"]["numerator"], e1["doorplates"]["denominator"]) == (9, 13)
    assert e1["doorplates"]["by_kind"]["unit"]["numerator"] == 2
    assert (
        e1["doorplates"]["without_plate"]["total"] == 4
        and len(e1["doorplates"]["without_plate"]["items"]) == 1
    )
    # A community's rates add up estates the grid worker does not cover: not theirs to see.
    _error(world["grid"].get(f"{API}/communities/C1/rates"), 404, "not_found")
    c1 = world["police"].get(f"{API}/communities/C1/rates").json()
    assert (c1["doorplates"]["numerator"], c1["doorplates"]["denominator"]) == (11, 16)
    assert c1["estates"] == ["E1", "E2"]
    _error(world["police"].get(f"{API}/communities/C2/rates"), 404, "not_found")
    _error(world["grid"].get(f"{API}/estates/E2/rates"), 404, "not_found")


def test_occupancy_of_a_month(world: World) -> None:
    result = world.svc.pipeline.ingest(
        "access_swipe", decode_body(orjson.dumps(_swipes(world.fx))), source="test"
    )
    assert result.rejected == 0
    report = world["grid"].get(f"{API}/estates/E1/occupancy", params={"month": "2026-03"}).json()
    assert {h["house_id"]: (h["label"], h["rule"]) for h in report["houses"]} == EXPECTED
    assert report["window"] == {"start": "2026-03-01", "end": "2026-03-31"}
    only = (
        world["grid"]
        .get(f"{API}/estates/E1/occupancy", params={"month": "2026-03", "label": "unknown"})
        .json()
    )
    assert [h["house_id"] for h in only["houses"]] == ["E1-H4", "E1-H6"]
    days = world["grid"].get(f"{API}/estates/E1/occupancy", params={"end": "2026-03-15", "days": 6}).json()
    assert days["window"] == {"start": "2026-03-10", "end": "2026-03-15"}
    _error(world["grid"].get(f"{API}/estates/E1/occupancy", params={"month": "2026-3"}), 422, "month_invalid")
    _error(
        world["grid"].get(f"{API}/estates/E1/occupancy", params={"month": "2026-03", "days": 7}),
        422,
        "window_ambiguous",
    )
    _error(world["grid"].get(f"{API}/estates/E2/occupancy", params={"month": "2026-03"}), 404, "not_found")


def test_an_estate_only_in_the_region_tree_is_registered_by_its_boundary(world: World) -> None:
    svc = world.svc
    svc.regions.add(svc.audit, code="E4", name="新建小区", level="estate", parent="C1", actor="test")
    e4 = world["police"].get(f"{API}/estates/E4").json()
    assert e4["registered"] is False and e4["counts"]["houses"] == 0
    response = world["police"].put(f"{API}/estates/E4/boundary", json={"boundary": SQUARE})
    assert response.status_code == 200, response.text
    assert response.json()["registered"] is True and response.json()["name"] == "新建小区"
    assert [e["code"] for e in world["police"].get(f"{API}/estates").json()["estates"]] == ["E1", "E2", "E4"]
