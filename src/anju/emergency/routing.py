"""Shelter routing: an estate's walkable path graph, each building's nearest open shelter and route, and
an assignment of people to shelters that never puts more people in a shelter than it holds.

The graph is given as nodes (buildings, junctions, shelters, with WGS-84 lon/lat) and undirected edges
(walkable paths); an edge's length is the great-circle distance between its ends unless given (a path that
bends). Nearest means shortest walk (Dijkstra). The capacity-aware assignment is a minimum-cost flow:
people flow from buildings to open shelters at the cost of the walk, each shelter taking at most its
capacity, so the total distance walked is the least possible; a building's people may be split between
shelters, and people who fit nowhere are reported as unplaced rather than squeezed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from anju.emergency.catalog import EmergencyError, coordinate, text

NODE_KINDS = ("building", "junction", "shelter")
_EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    metres: float | None = None


@dataclass(frozen=True)
class Route:
    building: str
    shelter: str
    path: tuple[str, ...]
    metres: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "building": self.building,
            "shelter": self.shelter,
            "path": list(self.path),
            "metres": round(self.metres, 1),
        }


@dataclass(frozen=True)
class Placement:
    building: str
    shelter: str
    people: int
    path: tuple[str, ...]
    metres: float


@dataclass
class Assignment:
    placements: list[Placement] = field(default_factory=list)
    unplaced: dict[str, int] = field(default_factory=dict)  # building -> people who fit in no shelter
    load: dict[str, int] = field(default_factory=dict)  # shelter -> people assigned

    def of(self, building: str) -> list[Placement]:
        return [p for p in self.placements if p.building == building]

    def to_dict(self) -> dict[str, Any]:
        return {
            "placements": [
                {
                    "building": p.building,
                    "shelter": p.shelter,
                    "people": p.people,
                    "path": list(p.path),
                    "metres": round(p.metres, 1),
                }
                for p in self.placements
            ],
            "unplaced": self.unplaced,
            "load": self.load,
        }


def parse_nodes(raw: Sequence[Mapping[str, Any]]) -> list[Node]:
    out: list[Node] = []
    seen: set[str] = set()
    for i, n in enumerate(raw):
        if not isinstance(n, Mapping):
            raise EmergencyError.bad(
                f"nodes[{i}]", n, "含 id、kind、lon、lat 的映射", "a mapping with id, kind, lon, lat"
            )
        ident = text(f"nodes[{i}].id", n.get("id"), max_len=80)
        assert ident is not None
        if ident in seen:
            raise EmergencyError.bad(
                f"nodes[{i}].id", ident, "图中唯一的节点编号", "a node id not used before in the graph"
            )
        seen.add(ident)
        kind = n.get("kind")
        if kind not in NODE_KINDS:
            raise EmergencyError.bad(
                f"nodes[{i}].kind", kind, "building、junction 或 shelter", "building, junction or shelter"
            )
        lon = coordinate(f"nodes[{i}].lon", n.get("lon"), lon=True)
        lat = coordinate(f"nodes[{i}].lat", n.get("lat"), lon=False)
        out.append(Node(ident, str(kind), lon, lat))
    return out


def parse_edges(raw: Sequence[Mapping[str, Any]], nodes: Sequence[Node]) -> list[Edge]:
    ids = {n.id for n in nodes}
    out: list[Edge] = []
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping):
            raise EmergencyError.bad(
                f"edges[{i}]",
                e,
                "含 a、b（及可选 metres）的映射",
                "a mapping with a, b and optionally metres",
            )
        for end in ("a", "b"):
            if e.get(end) not in ids:
                raise EmergencyError.bad(
                    f"edges[{i}].{end}", e.get(end), "图中已有的节点编号", "the id of a node of the graph"
                )
        if e["a"] == e["b"]:
            raise EmergencyError.bad(f"edges[{i}].b", e["b"], "与 a 不同的节点", "a node other than a")
        metres = e.get("metres")
        if metres is not None and (
            isinstance(metres, bool) or not isinstance(metres, int | float) or not metres > 0
        ):
            raise EmergencyError.bad(
                f"edges[{i}].metres", metres, "大于 0 的米数", "a length in metres above 0"
            )
        out.append(Edge(str(e["a"]), str(e["b"]), None if metres is None else float(metres)))
    return out


class PathGraph:
    """The walkable paths of one estate."""

    def __init__(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        self.nodes = {n.id: n for n in nodes}
        self.graph: nx.Graph[str] = nx.Graph()
        for n in nodes:
            self.graph.add_node(n.id, kind=n.kind)
        for e in edges:
            a, b = self.nodes[e.a], self.nodes[e.b]
            length = e.metres if e.metres is not None else haversine_m(a.lon, a.lat, b.lon, b.lat)
            self.graph.add_edge(e.a, e.b, metres=length)

    @classmethod
    def from_json(cls, nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> PathGraph:
        parsed = parse_nodes(nodes)
        return cls(parsed, parse_edges(edges, parsed))

    def of_kind(self, kind: str) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind == kind]

    def _distances(self, shelter: str) -> tuple[dict[str, float], dict[str, list[str]]]:
        dist, paths = nx.single_source_dijkstra(self.graph, shelter, weight="metres")
        assert isinstance(dist, dict) and isinstance(paths, dict)
        return dist, paths

    def routes(self, shelters: Sequence[str]) -> dict[str, dict[str, Route]]:
        """building -> shelter -> shortest route, for every reachable pair."""
        out: dict[str, dict[str, Route]] = {b: {} for b in self.of_kind("building")}
        for s in shelters:
            if s not in self.nodes or self.nodes[s].kind != "shelter":
                raise EmergencyError.bad(
                    "shelter", s, "路网图中的避难场所节点", "a shelter node of the path graph"
                )
            dist, paths = self._distances(s)
            for b in out:
                if b in dist:
                    # Paths come from the shelter; a route is walked from the building.
                    out[b][s] = Route(b, s, tuple(reversed(paths[b])), float(dist[b]))
        return out

    def nearest(self, shelters: Sequence[str]) -> dict[str, Route | None]:
        """Each building's nearest shelter among `shelters` (the open ones) and its route; None where no
        shelter can be reached. Ties go to the shelter id that sorts first."""
        table = self.routes(sorted(shelters))
        out: dict[str, Route | None] = {}
        for b, by_shelter in table.items():
            best = min(by_shelter.values(), key=lambda r: (r.metres, r.shelter), default=None)
            out[b] = best
        return out

    def assign(self, population: Mapping[str, int], capacity: Mapping[str, int]) -> Assignment:
        """People of each building to open shelters (`capacity`: shelter -> people it holds), least total
        walk first, no shelter over its capacity (minimum-cost flow)."""
        for b, n in population.items():
            if b not in self.nodes or self.nodes[b].kind != "building":
                raise EmergencyError.bad(
                    "population", b, "路网图中的楼栋节点", "a building node of the path graph"
                )
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise EmergencyError.bad(f"population.{b}", n, "不小于 0 的人数", "a number of people ≥ 0")
        for s, c in capacity.items():
            if isinstance(c, bool) or not isinstance(c, int) or c < 0:
                raise EmergencyError.bad(
                    f"capacity.{s}", c, "不小于 0 的容量（人）", "a capacity in people ≥ 0"
                )
        table = self.routes(sorted(capacity))
        flow_net: nx.DiGraph[str] = nx.DiGraph()
        total = sum(population.values())
        # Costs in whole decimetres (network simplex wants integers); an unplaced person costs more than
        # any walk, so people are left out only when no shelter has room for them.
        longest = max((r.metres for rs in table.values() for r in rs.values()), default=0.0)
        overflow = int(longest * 10) + 1_000_000
        flow_net.add_node("sink", demand=total)
        for b, n in population.items():
            if n == 0:
                continue
            flow_net.add_node(f"b:{b}", demand=-n)
            flow_net.add_edge(f"b:{b}", "unplaced", weight=overflow)
            for s, r in table[b].items():
                flow_net.add_edge(f"b:{b}", f"s:{s}", weight=round(r.metres * 10))
        for s, c in capacity.items():
            flow_net.add_edge(f"s:{s}", "sink", capacity=c)
        flow_net.add_edge("unplaced", "sink")
        result = Assignment(load={s: 0 for s in sorted(capacity)})
        if total == 0:
            return result
        flow = nx.min_cost_flow(flow_net)
        for b in sorted(population):
            sent = flow.get(f"b:{b}", {})
            for s in sorted(capacity):
                n = int(sent.get(f"s:{s}", 0))
                if n:
                    r = table[b][s]
                    result.placements.append(Placement(b, s, n, r.path, r.metres))
                    result.load[s] += n
            left = int(sent.get("unplaced", 0))
            if left:
                result.unplaced[b] = left
        return result
