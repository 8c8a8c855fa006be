"""Shelter routing on a hand-made estate whose answers are worked out by hand.

    B1 ─50─ J1 ─100─ S1            B1 60 people, B2 50, B3 40, B4 30
            │ ╲                    walks (metres):      S1    S2
          120  40                     B1 (J1)           150   260
            │    ╲                    B2 (J1 | J2)      140   175 (B2-J2-S2)
    B3 ─30─ J2 ─85─ B2                B3 (J2)           250   120
            │ ╲                       B4 (J3)           220   170
           90  60
            │    ╲
            S2    J3 ─20─ B4,   J3 ─200─ S1

Nearest: B1→S1 (B1 J1 S1), B2→S1 (B2 J1 S1), B3→S2 (B3 J2 S2), B4→S2 (B4 J3 J2 S2).
With S1 holding only 80, 30 of B1's and B2's 110 must go to S2; moving one of B2's people costs 35 m more,
one of B1's 110 m: so B2 sends 20 to S1 and 30 to S2 (B2 J2 S2), B1 all 60 to S1.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from anju.emergency.catalog import EmergencyError
from anju.emergency.routing import PathGraph, haversine_m
from anju.emergency.shelters import (
    building_population,
    evacuation,
    save_graph,
    save_shelter,
    set_shelter_status,
)
from anju.services import Services

POP = {"B1": 60, "B2": 50, "B3": 40, "B4": 30}
NODES: list[dict[str, Any]] = [
    {"id": "B1", "kind": "building", "lon": 114.3000, "lat": 30.6000},
    {"id": "B2", "kind": "building", "lon": 114.3010, "lat": 30.5995},
    {"id": "B3", "kind": "building", "lon": 114.2995, "lat": 30.5985},
    {"id": "B4", "kind": "building", "lon": 114.3015, "lat": 30.5980},
    {"id": "J1", "kind": "junction", "lon": 114.3005, "lat": 30.6000},
    {"id": "J2", "kind": "junction", "lon": 114.3005, "lat": 30.5988},
    {"id": "J3", "kind": "junction", "lon": 114.3010, "lat": 30.5982},
    {"id": "S1", "kind": "shelter", "lon": 114.3015, "lat": 30.6000},
    {"id": "S2", "kind": "shelter", "lon": 114.3005, "lat": 30.5978},
]
EDGES: list[dict[str, Any]] = [
    {"a": "B1", "b": "J1", "metres": 50},
    {"a": "B2", "b": "J1", "metres": 40},
    {"a": "J1", "b": "S1", "metres": 100},
    {"a": "J1", "b": "J2", "metres": 120},
    {"a": "B2", "b": "J2", "metres": 85},
    {"a": "B3", "b": "J2", "metres": 30},
    {"a": "J2", "b": "S2", "metres": 90},
    {"a": "B4", "b": "J3", "metres": 20},
    {"a": "J3", "b": "J2", "metres": 60},
    {"a": "J3", "b": "S1", "metres": 200},
]
NEAREST = {
    "B1": ("S1", ("B1", "J1", "S1"), 150),
    "B2": ("S1", ("B2", "J1", "S1"), 140),
    "B3": ("S2", ("B3", "J2", "S2"), 120),
    "B4": ("S2", ("B4", "J3", "J2", "S2"), 170),
}


def graph() -> PathGraph:
    return PathGraph.from_json(NODES, EDGES)


def test_nearest_shelter_and_path_of_every_building() -> None:
    nearest = graph().nearest(["S1", "S2"])
    assert {b: (r.shelter, r.path, r.metres) for b, r in nearest.items() if r} == NEAREST


def test_everyone_goes_to_the_nearest_when_there_is_room() -> None:
    a = graph().assign(POP, {"S1": 200, "S2": 200})
    got = {(p.building, p.shelter, p.people, p.path) for p in a.placements}
    assert got == {(b, s, POP[b], path) for b, (s, path, _) in NEAREST.items()}
    assert a.load == {"S1": 110, "S2": 70} and a.unplaced == {}


def test_a_full_shelter_sends_the_cheapest_overflow_elsewhere() -> None:
    a = graph().assign(POP, {"S1": 80, "S2": 200})
    got = sorted((p.building, p.shelter, p.people, p.path) for p in a.placements)
    assert got == [
        ("B1", "S1", 60, ("B1", "J1", "S1")),
        ("B2", "S1", 20, ("B2", "J1", "S1")),
        ("B2", "S2", 30, ("B2", "J2", "S2")),
        ("B3", "S2", 40, ("B3", "J2", "S2")),
        ("B4", "S2", 30, ("B4", "J3", "J2", "S2")),
    ]
    assert a.load == {"S1": 80, "S2": 100}
    # No room anywhere for everyone: nobody is squeezed in, the rest is reported unplaced.
    a = graph().assign(POP, {"S1": 80, "S2": 70})
    assert a.load == {"S1": 80, "S2": 70}
    assert sum(a.unplaced.values()) == 30
    assert all(a.load[s] <= c for s, c in {"S1": 80, "S2": 70}.items())


def test_edge_lengths_from_coordinates() -> None:
    assert haversine_m(114.3, 30.6, 114.3, 30.601) == pytest.approx(111.19, abs=0.05)
    edges = [{k: v for k, v in e.items() if k != "metres"} for e in EDGES]
    g = PathGraph.from_json(NODES, edges)
    b1, j1 = NODES[0], NODES[4]
    expected = haversine_m(b1["lon"], b1["lat"], j1["lon"], j1["lat"])
    assert math.isclose(g.graph["B1"]["J1"]["metres"], expected)
    assert expected == pytest.approx(47.9, abs=0.2)  # 0.0005° of longitude at 30.6° N


@pytest.mark.parametrize(
    ("nodes", "edges", "field"),
    [
        ([*NODES, {"id": "B1", "kind": "building", "lon": 114.3, "lat": 30.6}], EDGES, "nodes[9].id"),
        ([{**NODES[0], "kind": "tower"}, *NODES[1:]], EDGES, "nodes[0].kind"),
        ([{**NODES[0], "lat": 95}, *NODES[1:]], EDGES, "nodes[0].lat"),
        (NODES, [*EDGES, {"a": "B1", "b": "X9"}], "edges[10].b"),
        (NODES, [*EDGES, {"a": "B1", "b": "S2", "metres": -3}], "edges[10].metres"),
    ],
)
def test_bad_graphs_name_the_field(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(EmergencyError) as err:
        PathGraph.from_json(nodes, edges)
    assert err.value.field == field and "expected" in err.value.en


def test_stored_shelters_and_graph(esvc: Services) -> None:
    save_graph(esvc, "E1", NODES, EDGES, actor="user:li")
    save_shelter(
        esvc,
        id="S1",
        estate="E1",
        name="幸福里中心广场",
        type="emergency",
        capacity=80,
        lon=114.3015,
        lat=30.6,
        facilities=["water", "lighting"],
        actor="user:li",
    )
    save_shelter(
        esvc,
        id="S2",
        estate="E1",
        name="幼儿园操场",
        type="fixed",
        capacity=200,
        lon=114.3005,
        lat=30.5978,
        actor="user:li",
    )
    plan = evacuation(esvc, "E1", POP)
    assert plan["nearest"]["B4"] == {
        "building": "B4",
        "shelter": "S2",
        "path": ["B4", "J3", "J2", "S2"],
        "metres": 170.0,
    }
    assert plan["assignment"]["load"] == {"S1": 80, "S2": 100}
    # S2 closed: only S1 is open, everyone's nearest is S1, and only 80 fit.
    set_shelter_status(esvc, "S2", "closed", actor="user:li")
    plan = evacuation(esvc, "E1", POP)
    assert {b: r["shelter"] for b, r in plan["nearest"].items()} == dict.fromkeys(POP, "S1")
    assert plan["nearest"]["B3"]["path"] == ["B3", "J2", "J1", "S1"]
    assert plan["assignment"]["load"] == {"S1": 80} and sum(plan["assignment"]["unplaced"].values()) == 100
    with pytest.raises(EmergencyError) as err:
        save_shelter(
            esvc,
            id="S3",
            estate="E1",
            name="x",
            type="bunker",
            capacity=1,
            lon=114.3,
            lat=30.6,
            actor="user:li",
        )
    assert err.value.field == "type"


def test_population_from_the_registry(sqlite_services: Services) -> None:
    from tests.registry.rates_fixture import build

    build(sqlite_services)
    # E1-B1: H1 (P1, P2), H2 (P3), H3 (P4), H4 (P5) in force; E1-B2: H5 ended, H6 only pending.
    assert building_population(sqlite_services, "E1") == {"E1-B1": 5}
    nodes = [
        {"id": "E1-B1", "kind": "building", "lon": 114.30, "lat": 30.60},
        {"id": "E1-B2", "kind": "building", "lon": 114.301, "lat": 30.60},
        {"id": "SH", "kind": "shelter", "lon": 114.302, "lat": 30.60},
    ]
    edges = [{"a": "E1-B1", "b": "E1-B2"}, {"a": "E1-B2", "b": "SH"}]
    save_graph(sqlite_services, "E1", nodes, edges, actor="user:li")
    save_shelter(
        sqlite_services,
        id="SH",
        estate="E1",
        name="广场",
        type="emergency",
        capacity=3,
        lon=114.302,
        lat=30.6,
        actor="user:li",
    )
    plan = evacuation(sqlite_services, "E1")
    assert plan["population"] == {"E1-B1": 5, "E1-B2": 0}
    assert plan["assignment"]["load"] == {"SH": 3} and plan["assignment"]["unplaced"] == {"E1-B1": 2}
    assert plan["nearest"]["E1-B1"]["path"] == ["E1-B1", "E1-B2", "SH"]
