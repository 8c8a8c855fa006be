"""Shelters and evacuation: the shelter register, an estate's path graph, and routing people to shelters.

`evacuation(svc, estate)` routes from what is stored: the estate's path graph, its shelters that are open
(their node in the graph has the shelter's id), and each building's population from the registry's
residences in force (or given). Answers every building's nearest open shelter and route, and the
capacity-respecting assignment (routing.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.emergency.catalog import EmergencyError, catalog, coordinate, text, whole
from anju.emergency.routing import PathGraph, parse_edges, parse_nodes
from anju.registry.rates import residences_in_force

if TYPE_CHECKING:
    from anju.services import Services


def _now(svc: Services) -> datetime:
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def _estate(svc: Services, conn: Any, code: Any) -> str:
    value = text("estate", code, max_len=40)
    assert value is not None
    region, estate = svc.db.table("region"), svc.db.table("estate")
    known = conn.execute(
        select(region.c.code).where(region.c.code == value, region.c.level == "estate")
    ).first()
    known = known or conn.execute(select(estate.c.code).where(estate.c.code == value)).first()
    if known is None:
        raise EmergencyError.unknown("estate", value, "小区", "estate")
    return value


def save_shelter(
    svc: Services,
    *,
    id: str,
    estate: str,
    name: str,
    type: str,
    capacity: int,
    lon: float,
    lat: float,
    actor: str,
    facilities: Sequence[str] = (),
    status: str = "open",
    address: str | None = None,
) -> str:
    """Create or replace a shelter's register entry."""
    cat = catalog()
    ident = text("id", id, max_len=40)
    values = {
        "name": text("name", name, max_len=200),
        "type": cat.check("shelter_types", "type", type),
        "capacity": whole("capacity", capacity),
        "facilities": [cat.check("facilities", f"facilities[{i}]", f) for i, f in enumerate(facilities)],
        "status": cat.check("shelter_statuses", "status", status),
        "lon": coordinate("lon", lon, lon=True),
        "lat": coordinate("lat", lat, lon=False),
        "address": text("address", address, max_len=300, required=False),
        "updated_at": _now(svc),
    }
    t = svc.db.table("shelter")
    with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
        values["estate"] = _estate(svc, conn, estate)
        if conn.execute(select(t.c.id).where(t.c.id == ident)).first():
            conn.execute(update(t).where(t.c.id == ident).values(**values))
        else:
            conn.execute(insert(t).values(id=ident, **values))
        svc.audit.append(conn, actor=actor, action="emergency.shelter.save", target=f"shelter:{ident}")
    assert ident is not None
    return ident


def set_shelter_status(svc: Services, shelter_id: str, status: str, *, actor: str) -> None:
    value = catalog().check("shelter_statuses", "status", status)
    t = svc.db.table("shelter")
    with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
        if not conn.execute(
            update(t).where(t.c.id == shelter_id).values(status=value, updated_at=_now(svc))
        ).rowcount:
            raise EmergencyError.unknown("shelter_id", shelter_id, "避难场所", "shelter")
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.shelter.status",
            target=f"shelter:{shelter_id}",
            detail={"status": value},
        )


def list_shelters(svc: Services, estates: Sequence[str]) -> list[dict[str, Any]]:
    t = svc.db.table("shelter")
    cat = catalog()
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.estate.in_(estates)).order_by(t.c.estate, t.c.id)).all()
    return [
        {
            "id": r.id,
            "estate": r.estate,
            "name": r.name,
            "type": r.type,
            "type_zh": cat.shelter_types[r.type].zh,
            "capacity": r.capacity,
            "facilities": r.facilities,
            "status": r.status,
            "status_zh": cat.shelter_statuses[r.status].zh,
            "lon": r.lon,
            "lat": r.lat,
            "address": r.address,
        }
        for r in rows
    ]


def save_graph(
    svc: Services,
    estate: str,
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    *,
    actor: str,
) -> PathGraph:
    """Check and store an estate's path graph (replacing the previous one)."""
    parsed = parse_nodes(nodes)
    parse_edges(edges, parsed)
    graph = PathGraph.from_json(nodes, edges)
    t = svc.db.table("evacuation_graph")
    values = {
        "nodes": [{"id": n.id, "kind": n.kind, "lon": n.lon, "lat": n.lat} for n in parsed],
        "edges": [dict(e) for e in edges],
        "updated_at": _now(svc),
        "updated_by": actor,
    }
    with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
        code = _estate(svc, conn, estate)
        if conn.execute(select(t.c.estate).where(t.c.estate == code)).first():
            conn.execute(update(t).where(t.c.estate == code).values(**values))
        else:
            conn.execute(insert(t).values(estate=code, **values))
        svc.audit.append(conn, actor=actor, action="emergency.graph.save", target=f"estate:{code}")
    return graph


def load_graph(svc: Services, estate: str) -> PathGraph:
    t = svc.db.table("evacuation_graph")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t.c.nodes, t.c.edges).where(t.c.estate == estate)).first()
    if row is None:
        raise EmergencyError.unknown("estate", estate, "该小区的疏散路网", "path graph for this estate")
    return PathGraph.from_json(row.nodes, row.edges)


def building_population(svc: Services, estate: str) -> dict[str, int]:
    """People with a residence in force, per building of the estate (the registry's residences)."""
    house = svc.db.table("house")
    with svc.db.engine.connect() as conn:
        in_force = residences_in_force(conn, svc.registry, [estate])
        houses = {r.house_id for r in in_force if r.house_id}
        building_of: dict[str, str | None] = {}
        if houses:
            rows = conn.execute(select(house.c.id, house.c.building_id).where(house.c.id.in_(sorted(houses))))
            building_of = {r.id: r.building_id for r in rows}
    people: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for r in in_force:
        b = building_of.get(r.house_id) if r.house_id else None
        if b and (r.person_id, b) not in seen:
            seen.add((r.person_id, b))
            people[b] += 1
    return dict(people)


def evacuation(svc: Services, estate: str, population: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Nearest open shelter and route of every building of the graph, and the capacity-aware assignment."""
    graph = load_graph(svc, estate)
    t = svc.db.table("shelter")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.id, t.c.capacity).where(t.c.estate == estate, t.c.status == "open")
        ).all()
    in_graph = set(graph.of_kind("shelter"))
    capacity = {r.id: int(r.capacity) for r in rows if r.id in in_graph}
    if population is None:
        registered = building_population(svc, estate)
        population = {b: registered.get(b, 0) for b in graph.of_kind("building")}
    nearest = graph.nearest(sorted(capacity))
    assignment = graph.assign(population, capacity)
    return {
        "estate": estate,
        "open_shelters": capacity,
        "population": dict(population),
        "nearest": {b: (None if r is None else r.to_dict()) for b, r in nearest.items()},
        "assignment": assignment.to_dict(),
    }


def shelter_estate(svc: Services, shelter_id: str) -> str | None:
    """The estate of a shelter, or None if there is no such shelter (scope checks)."""
    t = svc.db.table("shelter")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == shelter_id)).scalar()
    return None if found is None else str(found)


def graph_view(svc: Services, estate: str) -> dict[str, Any]:
    """An estate's stored path graph as it was saved (nodes, edges), with who saved it and when."""
    t = svc.db.table("evacuation_graph")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.estate == estate)).first()
    if row is None:
        raise EmergencyError.unknown("estate", estate, "该小区的疏散路网", "path graph for this estate")
    return {
        "estate": row.estate,
        "nodes": row.nodes,
        "edges": row.edges,
        "updated_at": row.updated_at.replace(tzinfo=UTC).isoformat(),
        "updated_by": row.updated_by,
    }


def resident_routes(svc: Services, estate: str, building: str | None = None) -> dict[str, Any]:
    """What a resident needs to reach a shelter (SE64.3): the open shelters of the estate, and each
    building's (or one building's) nearest one with the walk's nodes and their positions. Nothing about
    people: no population, no assignment."""
    graph = load_graph(svc, estate)
    if building is not None and building not in graph.of_kind("building"):
        raise EmergencyError.bad(
            "building", building, "该小区路网中的楼栋编号", "a building of this estate's path graph"
        )
    shelters = [s for s in list_shelters(svc, [estate]) if s["status"] == "open"]
    in_graph = set(graph.of_kind("shelter"))
    nearest = graph.nearest(sorted(s["id"] for s in shelters if s["id"] in in_graph))
    by_id = {s["id"]: s for s in shelters}
    routes: list[dict[str, Any]] = []
    for b, r in sorted(nearest.items()):
        if building is not None and b != building:
            continue
        if r is None:
            routes.append({"building": b, "shelter": None})
            continue
        s = by_id[r.shelter]
        routes.append(
            {
                **r.to_dict(),
                "shelter_name": s["name"],
                "points": [[graph.nodes[n].lon, graph.nodes[n].lat] for n in r.path],
            }
        )
    public = ("id", "name", "type", "type_zh", "capacity", "facilities", "lon", "lat", "address")
    return {
        "estate": estate,
        "shelters": [{k: s[k] for k in public} for s in shelters],
        "routes": routes,
    }
