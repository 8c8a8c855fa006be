"""Authorization-matrix cases of emergency operations (issue 9 items 5-7): risk zones and map, duty
coverage, resources, dispatches, incidents and warnings. Each call makes its own object inside (E1, under
the callers' C1) or outside (E2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from anju.emergency import dispatch, incidents, responders, risk, warning_ops
from anju.emergency.cap import CapWarning, to_cap
from tests.web.matrix_support import Call, Case, World, estate

API = "/api/v1/emergency"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[114.3, 30.6], [114.301, 30.6], [114.301, 30.601], [114.3, 30.601], [114.3, 30.6]]],
}
READ = {"inside": 200, "outside": 404}
LIST = {"inside": 200, "outside": 403}
MADE = {"inside": 201, "outside": 403}
CHANGED = {"inside": 200, "outside": 404}
ADDED = {"inside": 201, "outside": 404}


def _zone(w: World, where: str) -> int:
    return risk.create_zone(
        w.svc,
        estate=estate(where),
        hazard="flood",
        level="low",
        name="低洼",
        geometry=SQUARE,
        assessed_on="2026-10-01",
        reviewer="m",
        actor="m",
    )


def _resource(w: World, where: str, kind: str = "fire") -> int:
    return responders.create_resource(
        w.svc, region=estate(where), kind=kind, name="资源", lon=114.3, lat=30.6, actor="m"
    )


def _incident(w: World, where: str) -> int:
    return incidents.open_incident(
        w.svc, estate=estate(where), title="事件", commander="m", actor="m", lon=114.3, lat=30.6
    )


def _dispatch(w: World, where: str) -> int:
    return dispatch.dispatch(
        w.svc, resource_id=_resource(w, where), incident_id=_incident(w, where), note="前往", actor="m"
    )


def _warning(w: World, where: str) -> str:
    return warning_ops.issue(
        w.svc,
        region=estate(where),
        hazard="flood",
        headline="暴雨预警",
        description="暴雨",
        instruction="避险",
        actor="m",
    )


def _cap(w: World, where: str) -> bytes:
    return to_cap(
        CapWarning(
            identifier=w.unique("EXT-"),
            sender="cma@weather.example.cn",
            sent=datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
            status="Actual",
            msg_type="Alert",
            event="暴雨",
            category="Met",
            urgency="Expected",
            severity="Severe",
            certainty="Likely",
            headline="暴雨橙色预警",
            description="暴雨",
            instruction="避险",
            area_desc=estate(where),
        )
    )


def _get(
    url: Callable[[World, str], str], params: Callable[[World, str], dict[str, Any]] | None = None
) -> Call:
    return lambda w, h, where: w.client.get(
        url(w, where), params=params(w, where) if params else None, headers=h
    )


def _send(url: Callable[[World, str], str], body: Callable[[World, str], Any] | None = None) -> Call:
    def call(w: World, h: dict[str, str], where: str) -> httpx.Response:
        target = url(w, where)
        return w.client.post(target, json=body(w, where) if body else {}, headers=h)

    return call


def _import(w: World, h: dict[str, str], where: str) -> httpx.Response:
    return w.client.post(
        f"{API}/warnings/import",
        params={"region": estate(where)},
        content=_cap(w, where),
        headers={**h, "Content-Type": "application/xml"},
    )


def _in(where: str) -> dict[str, str]:
    return {"estate": estate(where)}


CASES: list[Case] = [
    Case(
        "GET",
        f"{API}/risk-zones",
        "emergency:view",
        _get(lambda w, _: f"{API}/risk-zones", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/risk-zones",
        "emergency:edit",
        _send(
            lambda w, _: f"{API}/risk-zones",
            lambda w, where: {
                "estate": estate(where),
                "hazard": "fire",
                "level": "high",
                "name": "配电房",
                "geometry": SQUARE,
                "assessed_on": "2026-10-01",
                "reviewer": "m",
            },
        ),
        MADE,
    ),
    Case(
        "POST",
        f"{API}/risk-zones/{{zone_id}}/assessments",
        "emergency:edit",
        _send(
            lambda w, where: f"{API}/risk-zones/{_zone(w, where)}/assessments",
            lambda w, _: {"level": "high", "assessed_on": "2026-11-01", "reviewer": "m"},
        ),
        CHANGED,
    ),
    Case(
        "POST",
        f"{API}/risk-zones/{{zone_id}}/retire",
        "emergency:edit",
        _send(lambda w, where: f"{API}/risk-zones/{_zone(w, where)}/retire"),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/risk-map",
        "emergency:view",
        _get(lambda w, _: f"{API}/risk-map", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/duty/coverage",
        "emergency:view",
        _get(lambda w, _: f"{API}/duty/coverage", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "GET",
        f"{API}/resources",
        "emergency:view",
        _get(lambda w, _: f"{API}/resources", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/resources",
        "emergency:edit",
        _send(
            lambda w, _: f"{API}/resources",
            lambda w, where: {
                "region": estate(where),
                "kind": "aed",
                "name": "AED",
                "contact_phone": "13800000000",
            },
        ),
        MADE,
    ),
    Case(
        "POST",
        f"{API}/resources/{{resource_id}}/availability",
        "emergency:edit",
        _send(
            lambda w, where: f"{API}/resources/{_resource(w, where)}/availability",
            lambda w, _: {"available": False},
        ),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/dispatches",
        "emergency:view",
        _get(lambda w, _: f"{API}/dispatches", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/dispatches",
        "emergency:edit",
        _send(
            lambda w, _: f"{API}/dispatches",
            lambda w, where: {
                "resource_id": _resource(w, where),
                "incident_id": _incident(w, where),
                "note": "前往",
            },
        ),
        ADDED,
    ),
    Case(
        "POST",
        f"{API}/dispatches/{{dispatch_id}}/acknowledge",
        "emergency:edit",
        _send(lambda w, where: f"{API}/dispatches/{_dispatch(w, where)}/acknowledge"),
        CHANGED,
    ),
    Case(
        "POST",
        f"{API}/dispatches/{{dispatch_id}}/arrive",
        "emergency:edit",
        _send(lambda w, where: f"{API}/dispatches/{_dispatch(w, where)}/arrive"),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/incidents",
        "emergency:view",
        _get(lambda w, _: f"{API}/incidents", lambda w, wh: _in(wh)),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/incidents",
        "emergency:edit",
        _send(
            lambda w, _: f"{API}/incidents",
            lambda w, where: {"estate": estate(where), "title": "火情", "commander": "m"},
        ),
        MADE,
    ),
    Case(
        "GET",
        f"{API}/incidents/{{incident_id}}",
        "emergency:view",
        _get(lambda w, where: f"{API}/incidents/{_incident(w, where)}"),
        READ,
    ),
    Case(
        "POST",
        f"{API}/incidents/{{incident_id}}/log",
        "emergency:edit",
        _send(lambda w, where: f"{API}/incidents/{_incident(w, where)}/log", lambda w, _: {"text": "到场"}),
        ADDED,
    ),
    Case(
        "POST",
        f"{API}/incidents/{{incident_id}}/commander",
        "emergency:edit",
        _send(
            lambda w, where: f"{API}/incidents/{_incident(w, where)}/commander",
            lambda w, _: {"commander": "m2"},
        ),
        CHANGED,
    ),
    Case(
        "POST",
        f"{API}/incidents/{{incident_id}}/close",
        "emergency:edit",
        _send(
            lambda w, where: f"{API}/incidents/{_incident(w, where)}/close",
            lambda w, _: {
                "outcome": "resolved",
                "report": {"summary": "处置完毕", "causes": "电线老化", "improvements": "更换线路"},
            },
        ),
        CHANGED,
    ),
    Case(
        "GET",
        f"{API}/incidents/{{incident_id}}/first-aid",
        "emergency:view",
        _get(lambda w, where: f"{API}/incidents/{_incident(w, where)}/first-aid"),
        READ,
    ),
    Case(
        "GET",
        f"{API}/warnings",
        "emergency:view",
        _get(lambda w, _: f"{API}/warnings", lambda w, wh: {"region": estate(wh)}),
        LIST,
    ),
    Case(
        "POST",
        f"{API}/warnings",
        "emergency:publish",
        _send(
            lambda w, _: f"{API}/warnings",
            lambda w, where: {
                "region": estate(where),
                "hazard": "flood",
                "headline": "暴雨预警",
                "description": "暴雨",
                "instruction": "避险",
            },
        ),
        MADE,
    ),
    Case("POST", f"{API}/warnings/import", "emergency:publish", _import, MADE),
    Case(
        "GET",
        f"{API}/warnings/{{warning_id}}",
        "emergency:view",
        _get(lambda w, where: f"{API}/warnings/{_warning(w, where)}"),
        READ,
    ),
    Case(
        "GET",
        f"{API}/warnings/{{warning_id}}/cap",
        "emergency:view",
        _get(lambda w, where: f"{API}/warnings/{_warning(w, where)}/cap"),
        READ,
    ),
    Case(
        "POST",
        f"{API}/warnings/{{warning_id}}/update",
        "emergency:publish",
        _send(
            lambda w, where: f"{API}/warnings/{_warning(w, where)}/update",
            lambda w, _: {"severity": "Severe"},
        ),
        ADDED,
    ),
    Case(
        "POST",
        f"{API}/warnings/{{warning_id}}/cancel",
        "emergency:publish",
        _send(
            lambda w, where: f"{API}/warnings/{_warning(w, where)}/cancel", lambda w, _: {"reason": "解除"}
        ),
        ADDED,
    ),
]
