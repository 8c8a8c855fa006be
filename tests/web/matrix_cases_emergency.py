"""Authorization-matrix cases of the emergency API's plans, drills, supplies, shelters, path graphs and
evacuation (issue 9). Each call makes its own object inside (E1, under the callers' C1) or outside (E2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from anju.emergency import plans, shelters, supplies
from tests.web.matrix_support import Call, Case, World, estate

API = "/api/v1/emergency"
CONTENTS = {"organization": "应急领导小组", "rescue_team": "救援队"}
NODES = [
    {"id": "B1", "kind": "building", "lon": 114.300, "lat": 30.600},
    {"id": "SH1", "kind": "shelter", "lon": 114.301, "lat": 30.600},
]
EDGES = [{"a": "B1", "b": "SH1"}]


def _community(where: str) -> str:
    return "C1" if where == "inside" else "C2"


def _new_estate(w: World, where: str) -> str:
    """A fresh estate under C1 or C2: a plan is one per region and hazard, so each call needs its own."""
    code = w.unique("EMG")
    w.svc.regions.add(
        w.svc.audit, code=code, name=code, level="estate", parent=_community(where), actor="matrix"
    )
    return code


def _plan(w: World, where: str) -> int:
    region = _new_estate(w, where)
    return plans.create_plan(
        w.svc, region=region, hazard="fire", title="预案", contents=CONTENTS, actor="m"
    ).id


def _drill(w: World, where: str) -> int:
    return plans.record_drill(
        w.svc,
        region=estate(where),
        title="演练",
        hazard="fire",
        scenario="起火",
        held_at="2026-01-15T09:30:00+08:00",
        participants=[{"category": "residents", "headcount": 5}],
        actor="m",
    )


def _followup(w: World, where: str) -> int:
    return plans.add_followup(w.svc, _drill(w, where), action="整改", actor="m")


def _store(w: World, where: str) -> int:
    return supplies.create_store(w.svc, estate=estate(where), name="储备点", location="1栋", actor="m")


def _item(w: World, where: str) -> int:
    return supplies.add_item(
        w.svc, _store(w, where), name="饮用水", unit="箱", quantity=5, minimum=1, actor="m"
    )


def _shelter(w: World, where: str) -> str:
    return shelters.save_shelter(
        w.svc,
        id=w.unique("SH"),
        estate=estate(where),
        name="广场",
        type="emergency",
        capacity=50,
        lon=114.301,
        lat=30.6,
        actor="m",
    )


def _graph(w: World, where: str) -> str:
    shelters.save_graph(w.svc, estate(where), NODES, EDGES, actor="m")
    return estate(where)


def _get(
    url: Callable[[World, str], str], params: Callable[[World, str], dict[str, Any]] | None = None
) -> Call:
    return lambda w, h, where: w.client.get(
        url(w, where), params=params(w, where) if params else None, headers=h
    )


def _send(
    method: str, url: Callable[[World, str], str], body: Callable[[World, str], Any] | None = None
) -> Call:
    def call(w: World, h: dict[str, str], where: str) -> httpx.Response:
        target = url(w, where)  # made first: the body may name the same objects
        return w.client.request(method, target, json=body(w, where) if body else None, headers=h)

    return call


READ = {"inside": 200, "outside": 404}
LIST = {"inside": 200, "outside": 403}
MADE = {"inside": 201, "outside": 403}
CHANGED = {"inside": 200, "outside": 404}
ADDED = {"inside": 201, "outside": 404}

CASES: list[Case] = [
    # plans
    Case(
        "GET",
        f"{API}/plans",
        "emergency:view",
        _get(lambda w, _: f"{API}/plans", lambda w, where: {"region": _community(where)}),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/plans/public",
        "public",
        _get(lambda w, _: f"{API}/plans/public", lambda w, where: {"region": estate(where)}),
        {},
    ),
    Case(
        "POST",
        f"{API}/plans",
        "emergency:edit",
        _send(
            "POST",
            lambda w, _: f"{API}/plans",
            lambda w, where: {
                "region": _new_estate(w, where),
                "hazard": "fire",
                "title": "预案",
                "contents": CONTENTS,
            },
        ),
        MADE,
    ),
    Case(
        "GET",
        f"{API}/plans/{{plan_id}}",
        "emergency:view",
        _get(lambda w, where: f"{API}/plans/{_plan(w, where)}"),
        READ,
    ),
    Case(
        "POST",
        f"{API}/plans/{{plan_id}}/revisions",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/plans/{_plan(w, where)}/revisions",
            lambda w, _: {"contents": {"contacts": "值班室"}},
        ),
        ADDED,
    ),
    Case(
        "POST",
        f"{API}/plans/{{plan_id}}/publish",
        "emergency:publish",
        _send("POST", lambda w, where: f"{API}/plans/{_plan(w, where)}/publish"),
        CHANGED,
    ),
    Case(
        "POST",
        f"{API}/plans/{{plan_id}}/improvements",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/plans/{_plan(w, where)}/improvements",
            lambda w, _: {"description": "改进"},
        ),
        ADDED,
    ),
    # drills
    Case(
        "GET",
        f"{API}/drills",
        "emergency:view",
        _get(lambda w, _: f"{API}/drills", lambda w, where: {"region": _community(where)}),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/drills",
        "emergency:edit",
        _send(
            "POST",
            lambda w, _: f"{API}/drills",
            lambda w, where: {
                "region": estate(where),
                "title": "演练",
                "hazard": "fire",
                "scenario": "起火",
                "held_at": "2026-01-15T09:30:00+08:00",
                "participants": [{"category": "residents", "headcount": 5}],
            },
        ),
        MADE,
    ),
    Case(
        "GET",
        f"{API}/drills/{{drill_id}}",
        "emergency:view",
        _get(lambda w, where: f"{API}/drills/{_drill(w, where)}"),
        READ,
    ),
    Case(
        "POST",
        f"{API}/drills/{{drill_id}}/followups",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/drills/{_drill(w, where)}/followups",
            lambda w, _: {"action": "整改"},
        ),
        ADDED,
    ),
    Case(
        "POST",
        f"{API}/followups/{{followup_id}}/complete",
        "emergency:edit",
        _send("POST", lambda w, where: f"{API}/followups/{_followup(w, where)}/complete"),
        CHANGED,
    ),
    # supplies
    Case(
        "GET",
        f"{API}/supplies",
        "emergency:view",
        _get(lambda w, _: f"{API}/supplies", lambda w, where: {"estate": estate(where)}),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/supplies/public",
        "public",
        _get(lambda w, _: f"{API}/supplies/public", lambda w, where: {"estate": estate(where)}),
        {},
    ),
    Case(
        "POST",
        f"{API}/stores",
        "emergency:edit",
        _send(
            "POST",
            lambda w, _: f"{API}/stores",
            lambda w, where: {"estate": estate(where), "name": "储备点", "location": "1栋"},
        ),
        MADE,
    ),
    Case(
        "POST",
        f"{API}/stores/{{store_id}}/items",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/stores/{_store(w, where)}/items",
            lambda w, _: {"name": "手电筒", "unit": "个", "quantity": 3, "minimum": 1},
        ),
        ADDED,
    ),
    Case(
        "PATCH",
        f"{API}/supplies/{{item_id}}",
        "emergency:edit",
        _send("PATCH", lambda w, where: f"{API}/supplies/{_item(w, where)}", lambda w, _: {"minimum": 2}),
        CHANGED,
    ),
    Case(
        "POST",
        f"{API}/supplies/{{item_id}}/movements",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/supplies/{_item(w, where)}/movements",
            lambda w, _: {"delta": 2, "reason": "stock_in"},
        ),
        ADDED,
    ),
    Case(
        "GET",
        f"{API}/supplies/{{item_id}}/movements",
        "emergency:view",
        _get(lambda w, where: f"{API}/supplies/{_item(w, where)}/movements"),
        READ,
    ),
    # shelters, graphs, evacuation
    Case(
        "GET",
        f"{API}/shelters",
        "emergency:view",
        _get(lambda w, _: f"{API}/shelters", lambda w, where: {"estate": estate(where)}),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/shelters/public",
        "public",
        _get(lambda w, _: f"{API}/shelters/public", lambda w, where: {"estate": estate(where)}),
        {},
    ),
    Case(
        "PUT",
        f"{API}/shelters/{{shelter_id}}",
        "emergency:edit",
        _send(
            "PUT",
            lambda w, _: f"{API}/shelters/{w.unique('SH')}",
            lambda w, where: {
                "estate": estate(where),
                "name": "广场",
                "type": "emergency",
                "capacity": 9,
                "lon": 114.3,
                "lat": 30.6,
            },
        ),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/shelters/{{shelter_id}}/status",
        "emergency:edit",
        _send(
            "POST",
            lambda w, where: f"{API}/shelters/{_shelter(w, where)}/status",
            lambda w, _: {"status": "closed"},
        ),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/graphs/{{estate}}",
        "emergency:view",
        _get(lambda w, where: f"{API}/graphs/{_graph(w, where)}"),
        READ,
    ),
    Case(
        "PUT",
        f"{API}/graphs/{{estate}}",
        "emergency:edit",
        _send(
            "PUT",
            lambda w, where: f"{API}/graphs/{estate(where)}",
            lambda w, _: {"nodes": NODES, "edges": EDGES},
        ),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/evacuation",
        "emergency:view",
        _get(lambda w, _: f"{API}/evacuation", lambda w, where: {"estate": _graph(w, where)}),
        READ,
    ),
    Case(
        "POST",
        f"{API}/evacuation",
        "emergency:view",
        _send(
            "POST",
            lambda w, _: f"{API}/evacuation",
            lambda w, where: {"estate": _graph(w, where), "population": {"B1": 3}},
        ),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/evacuation/public",
        "public",
        _get(lambda w, _: f"{API}/evacuation/public", lambda w, where: {"estate": _graph(w, where)}),
        {},
    ),
]
