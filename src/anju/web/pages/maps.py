"""The estate map: an SVG site plan drawn from the registry's own geometry, no map tiles.

The route projects the estate's boundary, buildings, gates and devices (WGS-84) onto a flat plane in
metres around the estate's centre and hands the page compact arrays; `static/js/map.js` draws the devices
as one path per status with grid clusters per zoom level (so thousands of devices cost a few paths and at
most a screenful of cluster badges), and the alarms from `/api/v1/alarms`, kept live by the alarm stream,
pulsing where they are. A clicked device is read from `/api/v1/devices/{id}`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from anju.registry import catalog
from anju.registry.geo import stored_boundary
from anju.services import Services
from anju.web.auth import Access, not_found
from anju.web.pages import evacuation, risk_layer
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import Lang, language
from anju.web.pages.render import render

router = page_router()
CODE = r"^[A-Za-z0-9_\-]{1,40}$"
M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
STATUSES = ("active", "fault", "offline", "retired")
MARGIN_M = 15.0


@dataclass(frozen=True)
class Projection:
    """Equirectangular around the estate's centre: x east, y south (SVG), in metres; exact enough over
    the few hundred metres of an estate."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return M_PER_DEG * math.cos(math.radians(self.lat0))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return round((lon - self.lon0) * self.kx, 1), round((self.lat0 - lat) * M_PER_DEG, 1)


def _centre(boundary: Any, points: Iterable[tuple[float | None, float | None]]) -> tuple[float, float] | None:
    if boundary is not None:
        c = boundary.centroid
        return float(c.x), float(c.y)
    located = [(lon, lat) for lon, lat in points if lon is not None and lat is not None]
    if not located:
        return None
    return sum(p[0] for p in located) / len(located), sum(p[1] for p in located) / len(located)


def _plan(svc: Services, estate: str, lang: Lang, *, risk: bool = False) -> dict[str, Any] | None:
    """The site plan; with `risk` (the caller holds emergency:view over the estate) the risk zones too."""
    db = svc.db
    est, region = db.table("estate"), db.table("region")
    building, gate = db.table("building"), db.table("gate")
    with db.engine.connect() as conn:
        row = conn.execute(select(est).where(est.c.code == estate)).mappings().first()
        name = conn.execute(
            select(region.c.name).where(region.c.code == estate, region.c.level == "estate")
        ).scalar_one_or_none()
        if row is None and name is None:
            return None
        buildings = conn.execute(
            select(building.c.id, building.c.name, building.c.lon, building.c.lat)
            .where(building.c.estate == estate)
            .order_by(building.c.id)
        ).all()
        gates = conn.execute(
            select(gate.c.id, gate.c.name, gate.c.lon, gate.c.lat)
            .where(gate.c.estate == estate)
            .order_by(gate.c.id)
        ).all()
    devices = svc.devices.list_estate(estate)
    boundary = stored_boundary(row["boundary"]) if row is not None else None
    centre = _centre(
        boundary,
        [(b.lon, b.lat) for b in buildings]
        + [(g.lon, g.lat) for g in gates]
        + [(d.lon, d.lat) for d in devices],
    )
    kinds = catalog.device_kinds()
    statuses = catalog.device_statuses()
    out: dict[str, Any] = {
        "estate": {"code": estate, "name": (row["name"] if row is not None else None) or name or estate},
        "has_boundary": boundary is not None,
        "lang": lang,
        "statuses": {s: str(statuses[s][lang]) for s in STATUSES if s in statuses},
        "kinds": {k: str(v[lang]) for k, v in kinds.items()},
        "counts": {s: 0 for s in STATUSES},
        "unplaced": 0,
    }
    if centre is None:
        out.update(boundary="", view=[-100, -100, 200, 200], buildings=[], gates=[])
        out["evacuation"] = {"shelters": [], "routes": []}
        out["devices"] = {"id": [], "x": [], "y": [], "s": [], "k": []}
        out["counts"] = _count(d.status for d in devices)
        out["unplaced"] = len(devices)
        out["risk"] = risk_layer.map_layer(svc, estate, None, lang) if risk else None
        return out
    proj = Projection(*centre)
    out["risk"] = risk_layer.map_layer(svc, estate, proj, lang) if risk else None
    out["evacuation"] = evacuation.map_layer(svc, estate, proj)
    out["projection"] = {"lon0": proj.lon0, "lat0": proj.lat0, "kx": proj.kx, "ky": M_PER_DEG}
    xs: list[float] = []
    ys: list[float] = []
    path = ""
    if boundary is not None:
        rings = [list(boundary.exterior.coords), *(list(h.coords) for h in boundary.interiors)]
        parts = []
        for ring in rings:
            pts = [proj.xy(lon, lat) for lon, lat in ring]
            xs += [p[0] for p in pts]
            ys += [p[1] for p in pts]
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in pts) + "Z")
        path = "".join(parts)
    placed_b = []
    for b in buildings:
        if b.lon is None or b.lat is None:
            continue
        x, y = proj.xy(b.lon, b.lat)
        placed_b.append({"id": b.id, "name": b.name, "x": x, "y": y})
        xs.append(x)
        ys.append(y)
    placed_g = []
    for g in gates:
        if g.lon is None or g.lat is None:
            continue
        x, y = proj.xy(g.lon, g.lat)
        placed_g.append({"id": g.id, "name": g.name, "x": x, "y": y})
        xs.append(x)
        ys.append(y)
    kind_index = {k: i for i, k in enumerate(kinds)}
    status_index = {s: i for i, s in enumerate(STATUSES)}
    dev: dict[str, list[Any]] = {"id": [], "x": [], "y": [], "s": [], "k": []}
    unplaced = 0
    for d in devices:
        if d.lon is None or d.lat is None:
            unplaced += 1
            continue
        x, y = proj.xy(d.lon, d.lat)
        dev["id"].append(d.id)
        dev["x"].append(x)
        dev["y"].append(y)
        dev["s"].append(status_index.get(d.status, 0))
        dev["k"].append(kind_index.get(d.kind, -1))
    if dev["x"]:
        xs += [min(dev["x"]), max(dev["x"])]
        ys += [min(dev["y"]), max(dev["y"])]
    x0, x1 = min(xs, default=-100.0), max(xs, default=100.0)
    y0, y1 = min(ys, default=-100.0), max(ys, default=100.0)
    out.update(
        boundary=path,
        view=[
            round(x0 - MARGIN_M, 1),
            round(y0 - MARGIN_M, 1),
            round(x1 - x0 + 2 * MARGIN_M, 1),
            round(y1 - y0 + 2 * MARGIN_M, 1),
        ],
        buildings=placed_b,
        gates=placed_g,
        devices=dev,
        counts=_count(d.status for d in devices),
        unplaced=unplaced,
        kind_order=list(kinds),
        status_order=list(STATUSES),
    )
    return out


def _count(statuses: Iterable[str]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


@router.get("/map/{estate}", response_class=HTMLResponse, response_model=None)
async def map_page(
    request: Request,
    estate: Annotated[str, Path(pattern=CODE)],
    access: Annotated[Access | None, page("devices:view")],
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    if not access.covers(estate):
        raise not_found("小区", "estate", estate, "estate")
    lang = language(request)
    # Risk zones are emergency:view data: a map reader without it over this estate never receives them.
    emergency = access.also("emergency:view")
    show_risk = emergency is not None and emergency.covers(estate)
    plan = await run_in_threadpool(lambda: _plan(access.services, estate, lang, risk=show_risk))
    if plan is None:
        raise not_found("小区", "estate", estate, "estate")
    # The zones are drawn by the template; the script needs only to know whether the layer is there.
    risk = plan.pop("risk")
    plan["hasRisk"] = risk is not None
    # Alarms are drawn only for those who may see them; the API and stream check again.
    plan["canAlarms"] = access.also("alarms:view") is not None
    plan.setdefault("kind_order", list(plan["kinds"]))
    plan.setdefault("status_order", list(STATUSES))
    return render(request, "map.html", principal=access.principal, plan=plan, risk=risk)
