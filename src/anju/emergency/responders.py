"""Emergency resources (SE66 应急指挥调度, SE43 多部门联动): the departments, teams and volunteers that can be
dispatched, and the trauma first-aid resources (AEDs, first-aid kits, trained first aiders) found nearest
to an incident.

A resource serves a region node (an estate, or a community or district above it: an estate's staff see the
resources of the nodes above their estate too). Its contact person and phone are personal: stored sealed
(SM4-GCM, bound to table, column and row), shown masked.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from anju.emergency.catalog import EmergencyError, coordinate, text
from anju.emergency.ops_catalog import iso, known_region, now, ops_catalog, phone, writing
from anju.security.masking import mask_name, mask_phone

if TYPE_CHECKING:
    from anju.services import Services

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine; ample at a community's scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def create_resource(
    svc: Services,
    *,
    region: str,
    kind: str,
    name: str,
    actor: str,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    address: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    available: bool = True,
) -> int:
    cat = ops_catalog()
    values: dict[str, Any] = {
        "kind": cat.pick("resource_kinds", "kind", kind),
        "name": text("name", name, max_len=200),
        "address": text("address", address, max_len=300, required=False),
        "lon": None if lon is None else coordinate("lon", lon, lon=True),
        "lat": None if lat is None else coordinate("lat", lat, lon=False),
        "available": bool(available),
    }
    if (values["lon"] is None) != (values["lat"] is None):
        raise EmergencyError.bad(
            "lat" if values["lat"] is None else "lon", None, "经纬度成对给出", "lon and lat together"
        )
    person = text("contact_name", contact_name, max_len=50, required=False)
    tel = phone("contact_phone", contact_phone)
    t = svc.db.table("emergency_resource")
    at = now(svc)
    cipher = svc.protector.cipher
    with writing(svc) as conn, conn.begin():
        code = known_region(conn, svc, "region", region, estate=False)
        rid = int(
            conn.execute(
                insert(t).values(region=code, created_at=at, created_by=actor, updated_at=at, **values)
            ).inserted_primary_key[0]
        )
        sealed = {
            col: None if v is None else cipher.encrypt_text(v, "emergency_resource", col, str(rid))
            for col, v in (("contact_name", person), ("contact_phone", tel))
        }
        conn.execute(update(t).where(t.c.id == rid).values(**sealed))
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.resource.create",
            target=f"emergency_resource:{rid}",
            detail={"kind": values["kind"]},
        )
    return rid


def set_available(svc: Services, resource_id: int, available: bool, *, actor: str) -> None:
    t = svc.db.table("emergency_resource")
    with writing(svc) as conn, conn.begin():
        if conn.execute(select(t.c.id).where(t.c.id == resource_id)).first() is None:
            raise EmergencyError.unknown("resource_id", resource_id, "应急资源", "emergency resource")
        conn.execute(update(t).where(t.c.id == resource_id).values(available=available, updated_at=now(svc)))
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.resource.availability",
            target=f"emergency_resource:{resource_id}",
            detail={"available": available},
        )


def resource_region(svc: Services, resource_id: int) -> str | None:
    t = svc.db.table("emergency_resource")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.region).where(t.c.id == resource_id)).scalar()
    return None if found is None else str(found)


def serving(svc: Services, estates: list[str]) -> list[str]:
    """The region nodes whose resources serve `estates`: the estates and every node above them."""
    out: set[str] = set()
    for e in estates:
        out.update(svc.regions.ancestors(e))
    return sorted(out)


def _view(svc: Services, row: Any) -> dict[str, Any]:
    cipher = svc.protector.cipher
    cat = ops_catalog()
    entry = cat.resource_kinds.get(row.kind)

    def opened(col: str) -> str | None:
        value = getattr(row, col)
        return None if value is None else cipher.decrypt_text(value, "emergency_resource", col, str(row.id))

    name, tel = opened("contact_name"), opened("contact_phone")
    return {
        "id": row.id,
        "region": row.region,
        "kind": row.kind,
        "kind_zh": entry.zh if entry else row.kind,
        "kind_en": entry.en if entry else row.kind,
        "department": cat.department(row.kind) if entry else None,
        "name": row.name,
        "contact_name": None if name is None else mask_name(name),
        "contact_phone": None if tel is None else mask_phone(tel),
        "address": row.address,
        "lon": row.lon,
        "lat": row.lat,
        "available": row.available,
        "updated_at": iso(row.updated_at),
    }


def list_resources(svc: Services, regions: list[str], *, kind: str | None = None) -> list[dict[str, Any]]:
    t = svc.db.table("emergency_resource")
    query = select(t).where(t.c.region.in_(regions)).order_by(t.c.region, t.c.kind, t.c.id)
    if kind is not None:
        query = query.where(t.c.kind == ops_catalog().pick("resource_kinds", "kind", kind))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_view(svc, r) for r in rows]


def nearest_first_aid(
    svc: Services, estate: str, lon: float, lat: float, *, limit: int = 5
) -> list[dict[str, Any]]:
    """Available first-aid resources serving the estate, nearest first, each with its distance in metres.
    Resources without a position cannot be ranked and are left out."""
    t = svc.db.table("emergency_resource")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(t).where(
                t.c.region.in_(serving(svc, [estate])),
                t.c.kind.in_(ops_catalog().first_aid_kinds()),
                t.c.available.is_(True),
                t.c.lon.is_not(None),
                t.c.lat.is_not(None),
            )
        ).all()
    ranked = sorted(((distance_m(lon, lat, r.lon, r.lat), r) for r in rows), key=lambda p: (p[0], p[1].id))
    return [{**_view(svc, r), "distance_m": round(d, 1)} for d, r in ranked[:limit]]
