"""Shelters and evacuation routes for the pages: the nearest open shelter of a building with its walk
drawn as a small SVG (the resident's page), and every building's route for the estate map.

Routing is the emergency package's (`emergency/shelters.py`, `routing.py`); this module only projects
the path graph's nodes (WGS-84) onto the page's plane in metres, as the estate map does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from anju.emergency.catalog import EmergencyError
from anju.emergency.routing import PathGraph, Route
from anju.emergency.shelters import list_shelters, load_graph

if TYPE_CHECKING:
    from anju.services import Services
    from anju.web.pages.maps import Projection

SVG_SIZE = 320.0  # the resident's drawing, in CSS pixels (fits a 360-pixel phone with its margins)
PAD = 28.0


@dataclass(frozen=True)
class Layer:
    graph: PathGraph
    shelters: list[dict[str, Any]]  # every shelter of the estate (open or not), as list_shelters gives
    open_ids: list[str]  # open shelters that are nodes of the graph


def layer(svc: Services, estate: str) -> Layer | None:
    """The estate's path graph and shelters; None when no path graph is stored for it."""
    try:
        graph = load_graph(svc, estate)
    except EmergencyError:
        return None
    shelters = list_shelters(svc, [estate])
    in_graph = set(graph.of_kind("shelter"))
    open_ids = sorted(s["id"] for s in shelters if s["status"] == "open" and s["id"] in in_graph)
    return Layer(graph, shelters, open_ids)


def nearest(svc: Services, estate: str, building: str | None) -> dict[str, Any] | None:
    """The building's nearest open shelter, its walk and the drawing; None when there is none to show."""
    found = layer(svc, estate)
    if found is None or building is None or building not in found.graph.nodes or not found.open_ids:
        return None
    route = found.graph.nearest(found.open_ids).get(building)
    if route is None:
        return None
    shelter = next(s for s in found.shelters if s["id"] == route.shelter)
    return {"shelter": shelter, "metres": round(route.metres), "svg": route_svg(found.graph, route, shelter)}


def _fit(graph: PathGraph) -> tuple[float, float, float, float]:
    lons = [n.lon for n in graph.nodes.values()]
    lats = [n.lat for n in graph.nodes.values()]
    return min(lons), min(lats), max(lons), max(lats)


def route_svg(graph: PathGraph, route: Route, shelter: dict[str, Any]) -> Markup:
    """The estate's paths in grey, the route in bold from the building (square) to the shelter (circle)."""
    lon0, lat0, lon1, lat1 = _fit(graph)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    width = max((lon1 - lon0) * kx, 1e-9)
    height = max(lat1 - lat0, 1e-9)
    scale = (SVG_SIZE - 2 * PAD) / max(width, height)

    def xy(node_id: str) -> tuple[float, float]:
        n = graph.nodes[node_id]
        return (
            round(PAD + (n.lon - lon0) * kx * scale, 1),
            round(PAD + (lat1 - n.lat) * scale, 1),
        )

    lines = []
    for a, b in graph.graph.edges():
        (x1, y1), (x2, y2) = xy(a), xy(b)
        lines.append(f'<line class="path" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>')
    points = " ".join(f"{x},{y}" for x, y in (xy(n) for n in route.path))
    bx, by = xy(route.building)
    sx, sy = xy(route.shelter)
    h = max(round(height * scale + 2 * PAD, 1), 120.0)
    label = escape(shelter["name"])
    return Markup(
        f'<svg class="route-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_SIZE:g} {h:g}" '
        f'role="img" aria-label="疏散路线 {label}">'
        + "".join(lines)
        + f'<polyline class="route" points="{points}"/>'
        + f'<rect class="from" x="{bx - 7}" y="{by - 7}" width="14" height="14"/>'
        + f'<circle class="to" cx="{sx}" cy="{sy}" r="9"/>'
        + f'<text class="from-label" x="{bx}" y="{by - 11}">您的位置</text>'
        + f'<text class="to-label" x="{sx}" y="{sy + 22}">{label}</text>'
        + "</svg>"
    )


def map_layer(svc: Services, estate: str, proj: Projection) -> dict[str, Any]:
    """Shelters and every building's route to its nearest open shelter, in the estate map's metres."""
    shelters = list_shelters(svc, [estate])
    out: dict[str, Any] = {
        "shelters": [
            {"id": s["id"], "name": s["name"], "status": s["status"], "capacity": s["capacity"]}
            | dict(zip(("x", "y"), proj.xy(s["lon"], s["lat"]), strict=True))
            for s in shelters
            if s["lon"] is not None and s["lat"] is not None
        ],
        "routes": [],
    }
    found = layer(svc, estate)
    if found is None or not found.open_ids:
        return out
    for building, route in sorted(found.graph.nearest(found.open_ids).items()):
        if route is None:
            continue
        out["routes"].append(
            {
                "building": building,
                "shelter": route.shelter,
                "metres": round(route.metres),
                "d": _path(found.graph, route.path, proj),
            }
        )
    return out


def _path(graph: PathGraph, path: Sequence[str], proj: Projection) -> str:
    pts = [proj.xy(graph.nodes[n].lon, graph.nodes[n].lat) for n in path]
    return "M" + "L".join(f"{x:g},{y:g}" for x, y in pts)
