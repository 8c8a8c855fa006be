"""The disaster risk map (SE67): risk zones drawn as WGS-84 polygons per hazard, with level, assessment date
and reviewer, exported as a GeoJSON FeatureCollection.

Special populations (SE42's categories in the registry) are never drawn person by person: each zone carries
only how many registered special-population residents live in buildings inside it, and a count below
`special_population_k` (risk.yaml) is replaced by "fewer than k" so that nobody can be singled out. Only
the total is shown, never a split by category, so that no small category can be recovered by subtraction.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import shapely  # type: ignore[import-untyped]
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape  # type: ignore[import-untyped]
from sqlalchemy import Connection, insert, select, update

from anju.emergency.catalog import EmergencyError, day, text
from anju.emergency.ops_catalog import iso, known_region, now, ops_catalog, writing

if TYPE_CHECKING:
    from anju.services import Services


def geometry(value: Any) -> dict[str, Any]:
    """A GeoJSON Polygon or MultiPolygon in WGS-84 that is valid (closed rings, no self-intersection)."""
    expected_zh = "GeoJSON Polygon 或 MultiPolygon（WGS-84 经纬度，闭合、不自相交）"
    expected_en = "a GeoJSON Polygon or MultiPolygon (WGS-84 lon/lat, closed rings, not self-intersecting)"
    shown = json.dumps(value, ensure_ascii=False)[:120] if value is not None else None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise EmergencyError.bad("geometry", shown, expected_zh, expected_en)
    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError):
        raise EmergencyError.bad("geometry", shown, expected_zh, expected_en) from None
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise EmergencyError.bad("geometry", shown, expected_zh, expected_en)
    lon0, lat0, lon1, lat1 = geom.bounds
    if not (-180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
        raise EmergencyError.bad(
            "geometry",
            shown,
            "经度 -180..180、纬度 -90..90 的坐标",
            "coordinates within lon -180..180, lat -90..90",
        )
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        raise EmergencyError.bad("geometry", why[:120], expected_zh, expected_en)
    out: dict[str, Any] = json.loads(json.dumps(mapping(geom)))  # tuples -> lists
    return out


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    cat = ops_catalog()
    out: dict[str, Any] = {}
    if "hazard" in values:
        out["hazard"] = cat.pick("risk_hazards", "hazard", values["hazard"])
    if "level" in values:
        out["level"] = cat.pick("risk_levels", "level", values["level"])
    if "name" in values:
        out["name"] = text("name", values["name"], max_len=200)
    if "geometry" in values:
        out["geometry"] = geometry(values["geometry"])
    if "description" in values:
        out["description"] = text("description", values["description"], max_len=4000, required=False)
    if "assessed_on" in values:
        out["assessed_on"] = day("assessed_on", values["assessed_on"])
    if "reviewer" in values:
        out["reviewer"] = text("reviewer", values["reviewer"], max_len=80)
    return out


def create_zone(
    svc: Services,
    *,
    estate: str,
    hazard: str,
    level: str,
    name: str,
    geometry: dict[str, Any],
    assessed_on: date | str,
    reviewer: str,
    actor: str,
    description: str | None = None,
) -> int:
    values = _fields(
        {
            "hazard": hazard,
            "level": level,
            "name": name,
            "geometry": geometry,
            "assessed_on": assessed_on,
            "reviewer": reviewer,
            "description": description,
        }
    )
    t = svc.db.table("risk_zone")
    at = now(svc)
    with writing(svc) as conn, conn.begin():
        code = known_region(conn, svc, "estate", estate, estate=True)
        zone_id = int(
            conn.execute(
                insert(t).values(estate=code, created_at=at, created_by=actor, updated_at=at, **values)
            ).inserted_primary_key[0]
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.risk_zone.create",
            target=f"risk_zone:{zone_id}",
            detail={"hazard": values["hazard"], "level": values["level"]},
        )
    return zone_id


def zone_estate(svc: Services, zone_id: int) -> str | None:
    t = svc.db.table("risk_zone")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == zone_id)).scalar()
    return None if found is None else str(found)


def reassess(svc: Services, zone_id: int, changes: dict[str, Any], *, actor: str) -> None:
    """Record a new assessment of a zone (level, date, reviewer, and optionally its outline or name)."""
    allowed = {"level", "assessed_on", "reviewer", "geometry", "name", "description"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise EmergencyError.bad(
            unknown[0],
            changes[unknown[0]],
            "、".join(sorted(allowed)) + " 之一",
            "one of " + ", ".join(sorted(allowed)),
        )
    for needed in ("level", "assessed_on", "reviewer"):
        if needed not in changes:
            raise EmergencyError.bad(
                needed, None, "每次复评都要写明的值", "a value every reassessment states"
            )
    values = _fields(changes)
    t = svc.db.table("risk_zone")
    with writing(svc) as conn, conn.begin():
        row = conn.execute(select(t.c.id, t.c.retired_at).where(t.c.id == zone_id).with_for_update()).first()
        if row is None:
            raise EmergencyError.unknown("zone_id", zone_id, "风险区域", "risk zone")
        conn.execute(
            update(t).where(t.c.id == zone_id).values(updated_at=now(svc), retired_at=None, **values)
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.risk_zone.reassess",
            target=f"risk_zone:{zone_id}",
            detail={k: str(v) for k, v in values.items() if k != "geometry"},
        )


def retire(svc: Services, zone_id: int, *, actor: str) -> None:
    t = svc.db.table("risk_zone")
    with writing(svc) as conn, conn.begin():
        if conn.execute(select(t.c.id).where(t.c.id == zone_id)).first() is None:
            raise EmergencyError.unknown("zone_id", zone_id, "风险区域", "risk zone")
        conn.execute(update(t).where(t.c.id == zone_id).values(retired_at=now(svc), updated_at=now(svc)))
        svc.audit.append(
            conn, actor=actor, action="emergency.risk_zone.retire", target=f"risk_zone:{zone_id}"
        )


def _special_points(conn: Connection, svc: Services, estates: list[str]) -> list[tuple[str, str, Point]]:
    """(estate, person, building position) of each registered special-population resident living there."""
    person, residence, house, building = (
        svc.db.table(n) for n in ("person", "residence", "house", "building")
    )
    rows = conn.execute(
        select(house.c.estate, person.c.id, building.c.lon, building.c.lat)
        .select_from(
            person.join(residence, residence.c.person_id == person.c.id)
            .join(house, house.c.id == residence.c.house_id)
            .join(building, building.c.id == house.c.building_id)
        )
        .where(
            person.c.special_category.is_not(None),
            residence.c.status == "active",
            house.c.estate.in_(estates),
            building.c.lon.is_not(None),
            building.c.lat.is_not(None),
        )
    ).all()
    return [(str(r[0]), str(r[1]), Point(float(r[2]), float(r[3]))) for r in rows]


def special_population(count: int) -> dict[str, Any]:
    """The shown form of a zone's count: the number from k upwards, else only that it is below k."""
    k = ops_catalog().special_population_k
    if count >= k:
        return {"count": count, "suppressed": False, "k": k}
    return {"count": None, "suppressed": True, "k": k}


def list_zones(svc: Services, estates: list[str], *, include_retired: bool = False) -> list[dict[str, Any]]:
    t = svc.db.table("risk_zone")
    query = select(t).where(t.c.estate.in_(estates)).order_by(t.c.estate, t.c.id)
    if not include_retired:
        query = query.where(t.c.retired_at.is_(None))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
        points = _special_points(conn, svc, sorted({r.estate for r in rows})) if rows else []
    cat = ops_catalog()
    stale_before = now(svc).date() - timedelta(days=cat.review_days)
    out = []
    for r in rows:
        zone = shape(r.geometry)
        inside = {p for e, p, pt in points if e == r.estate and zone.covers(pt)}
        h, lv = cat.risk_hazards.get(r.hazard), cat.risk_levels.get(r.level)
        out.append(
            {
                "id": r.id,
                "estate": r.estate,
                "name": r.name,
                "hazard": r.hazard,
                "hazard_zh": h.zh if h else r.hazard,
                "hazard_en": h.en if h else r.hazard,
                "natural": bool(h and h.extra.get("natural")),
                "level": r.level,
                "level_zh": lv.zh if lv else r.level,
                "level_en": lv.en if lv else r.level,
                "colour": lv.extra.get("colour") if lv else None,
                "assessed_on": r.assessed_on.isoformat(),
                "stale": r.assessed_on < stale_before,
                "reviewer": r.reviewer,
                "description": r.description,
                "special_population": special_population(len(inside)),
                "retired_at": iso(r.retired_at),
                "updated_at": iso(r.updated_at),
                "geometry": r.geometry,
            }
        )
    return out


def risk_map(svc: Services, estates: list[str]) -> dict[str, Any]:
    """The zones in force as a GeoJSON FeatureCollection (RFC 7946: WGS-84 lon/lat)."""
    features = []
    for z in list_zones(svc, estates):
        geom = z.pop("geometry")
        features.append({"type": "Feature", "id": z["id"], "geometry": geom, "properties": z})
    return {"type": "FeatureCollection", "features": features}
