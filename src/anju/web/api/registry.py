"""The registry (一标三实) over HTTP: estates and their boundaries, buildings, houses and who lives there,
people, org units, verification, doorplate coverage and verification rates, occupancy.

Scope: every object belongs to estates (a person to those of their residences, an org unit to its estate
or community); an object outside the estates the caller's permission covers is answered 404, exactly like
one that does not exist, and a write naming a target outside them (in the body) 403 `scope_denied`.
Personal values are masked unless `unmask=true` with registry:unmask over the object's estate (audited).
重点人口 and the special-population category appear only to callers holding special_population:view over
the object's estate; grid workers and property staff never see them.
Coordinates are stored in WGS-84 and answered in both WGS-84 and GCJ-02 (for Chinese web maps).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Connection, and_, func, or_, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.registry import catalog
from anju.registry.geo import (
    BoundaryInvalid,
    Datum,
    area_m2,
    boundary_geojson,
    centroid,
    contains,
    parse_boundary,
    point_json,
    stored_boundary,
    to_wgs84,
)
from anju.registry.occupancy import Window, judge_estate
from anju.registry.rates import estate_rates, region_rates, residences_in_force
from anju.registry.store import Provenance, naive_utc
from anju.services import Services
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

CODE = r"^[A-Za-z0-9_\-]{1,40}$"
_SPECIAL = ("key_population", "special_category", "special_note")
_LIST_MAX = 1000
T = TypeVar("T")

# kind in the verify path -> (table, zh, en)
VERIFIABLE: dict[str, tuple[str, str, str]] = {
    "person": ("person", "人员", "person"),
    "residence": ("residence", "居住登记", "residence"),
    "house": ("house", "房屋", "house"),
    "unit": ("unit", "单元", "unit"),
    "building": ("building", "楼栋", "building"),
    "org_unit": ("org_unit", "单位", "org unit"),
}


async def _run(fn: Callable[[], T]) -> T:
    return await run_in_threadpool(fn)


def _now(svc: Services) -> datetime:
    """The services' clock (tests set it), as the naive UTC the tables store."""
    now = naive_utc(svc.pipeline.clock())
    assert now is not None
    return now


def _writing(svc: Services) -> Connection:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """A row for an answer: no blind indexes, no internal keys."""
    return {k: v for k, v in values.items() if not k.startswith("_")}


# ---- scope -------------------------------------------------------------------------------------------
def _estate_row(conn: Connection, svc: Services, code: str) -> dict[str, Any] | None:
    """The estate's registry row, or a stand-in from the region tree for an estate not yet registered."""
    row = svc.registry.get(conn, "estate", code, key="code")
    if row is not None:
        return dict(row._mapping)
    region = svc.registry.table("region")
    node = conn.execute(select(region).where(region.c.code == code, region.c.level == "estate")).first()
    if node is None:
        return None
    return {"code": code, "name": node.name, "registered": False}


def _visible_estate(conn: Connection, access: Access, code: str) -> dict[str, Any]:
    found = _estate_row(conn, access.services, code) if access.covers(code) else None
    if found is None:
        raise not_found("小区", "estate", code, "estate")
    return found


def _scoped_estates(conn: Connection, access: Access) -> list[str]:
    """Codes of the estates (registered or only in the region tree) the caller's access covers."""
    svc = access.services
    estate, region = svc.registry.table("estate"), svc.registry.table("region")
    codes = set(conn.execute(select(estate.c.code)).scalars())
    codes.update(conn.execute(select(region.c.code).where(region.c.level == "estate")).scalars())
    return sorted(c for c in codes if access.covers(c))


def _person_estates(conn: Connection, svc: Services, person_id: str) -> set[str]:
    """The estates of a person: those of every residence they have or had (any status)."""
    res, house = svc.registry.table("residence"), svc.registry.table("house")
    rows = conn.execute(
        select(res.c.estate, house.c.estate)
        .select_from(res.outerjoin(house, house.c.id == res.c.house_id))
        .where(res.c.person_id == person_id)
    )
    return {e for pair in rows for e in pair if e}


def _covers_any(access: Access, estates: Iterable[str | None]) -> bool:
    return access.estates is None or any(access.covers(e) for e in estates)


def _special_visible(access: Access, estates: Iterable[str | None]) -> bool:
    special = access.also("special_population:view")
    return special is not None and _covers_any(special, estates)


def _unmasking(access: Access, unmask: bool, estates: Iterable[str | None]) -> bool:
    """Whether to answer in full; registry:unmask is required over one of the object's estates."""
    if not unmask:
        return False
    full = access.require_also("registry:unmask")
    listed = sorted(e for e in estates if e)
    if not _covers_any(full, listed):
        raise scope_denied("estate", listed[0] if listed else None)
    return True


# ---- shaping answers -----------------------------------------------------------------------------------
def _person_out(svc: Services, row: Any, *, full: bool, special: bool) -> dict[str, Any]:
    store = svc.registry
    values = store.opened("person", row) if full else store.masked("person", row)
    out = _plain(values)
    if not special:
        for column in _SPECIAL:
            out.pop(column, None)
    born = out.get("birth_date")
    if not full and isinstance(born, date):
        # The full birth date is half an ID number: masked answers keep the year only.
        out["birth_date"] = f"{born.year:04d}"
    return out


def _residence_out(svc: Services, row: Any, *, full: bool) -> dict[str, Any]:
    store = svc.registry
    values = store.opened("residence", row) if full else store.masked("residence", row)
    out = _plain(values)
    category = catalog.residence_categories().get(str(out.get("category")), {})
    out["category_zh"] = category.get("zh")
    return out


def _active_plates(conn: Connection, svc: Services, estate: str, kind: str) -> dict[str, str]:
    plate = svc.registry.table("doorplate")
    rows = conn.execute(
        select(plate.c.target_id, plate.c.id).where(
            plate.c.estate == estate, plate.c.target_kind == kind, plate.c.revoked_at.is_(None)
        )
    )
    return {target: plate_id for target, plate_id in rows}


def _group_count(conn: Connection, column: Any, where: Any) -> dict[str, int]:
    return {k: int(n) for k, n in conn.execute(select(column, func.count()).where(where).group_by(column))}


def _estate_counts(conn: Connection, svc: Services, codes: list[str]) -> dict[str, dict[str, int]]:
    t = svc.registry.tables
    counts: dict[str, dict[str, int]] = {c: {} for c in codes}
    for name in ("gate", "building", "unit", "house", "org_unit"):
        table = t[name]
        for code, n in _group_count(conn, table.c.estate, table.c.estate.in_(codes)).items():
            counts[code][name + "s"] = n
    plate = t["doorplate"]
    where = and_(plate.c.estate.in_(codes), plate.c.revoked_at.is_(None))
    for code, n in _group_count(conn, plate.c.estate, where).items():
        counts[code]["doorplates"] = n
    people: dict[str, set[str]] = {}
    for r in residences_in_force(conn, svc.registry, codes):
        if r.estate:
            people.setdefault(r.estate, set()).add(r.person_id)
    for code in codes:
        counts[code]["residents"] = len(people.get(code, ()))
        for name in ("gates", "buildings", "units", "houses", "org_units", "doorplates"):
            counts[code].setdefault(name, 0)
    return counts


def _estate_out(row: dict[str, Any], counts: dict[str, int], *, with_boundary: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": row["code"],
        "name": row["name"],
        "registered": row.get("registered", True),
        "address": row.get("address"),
        "police_station": row.get("police_station"),
        "centre": point_json(row.get("centre_lat"), row.get("centre_lon")),
        "has_boundary": bool(row.get("boundary")),
        "verified_at": row.get("verified_at"),
        "verified_by": row.get("verified_by"),
        "counts": counts,
    }
    if with_boundary:
        polygon = stored_boundary(row.get("boundary"))
        out["boundary"] = (
            None
            if polygon is None
            else {
                "wgs84": boundary_geojson(polygon),
                "gcj02": boundary_geojson(polygon, datum="gcj02"),
                "area_m2": round(area_m2(polygon), 1),
            }
        )
    return out


# ---- estates -------------------------------------------------------------------------------------------
@router.get("/estates", summary="Estates within the caller's scope, with counts and centres")
async def list_estates(access: Annotated[Access, require("registry:view")]) -> dict[str, Any]:
    svc = access.services

    def fetch() -> list[dict[str, Any]]:
        with svc.db.engine.connect() as conn:
            codes = _scoped_estates(conn, access)
            counts = _estate_counts(conn, svc, codes)
            rows = [_estate_row(conn, svc, c) for c in codes]
        return [_estate_out(r, counts[r["code"]], with_boundary=False) for r in rows if r is not None]

    estates = await _run(fetch)
    return {"count": len(estates), "estates": estates}


@router.get("/estates/{estate}", summary="One estate: counts, centre and boundary (WGS-84 and GCJ-02)")
async def show_estate(estate: str, access: Annotated[Access, require("registry:view")]) -> dict[str, Any]:
    svc = access.services

    def fetch() -> dict[str, Any]:
        with svc.db.engine.connect() as conn:
            row = _visible_estate(conn, access, estate)
            counts = _estate_counts(conn, svc, [estate])[estate]
        return _estate_out(row, counts, with_boundary=True)

    return await _run(fetch)


class BoundaryBody(BaseModel):
    boundary: dict[str, Any] = Field(description="GeoJSON Polygon (or Feature holding one), [lon, lat]")
    datum: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="datum of the coordinates: gcj02 when drawn on a Chinese web map"
    )


def _boundary_error(exc: BoundaryInvalid) -> ApiError:
    return ApiError(
        422,
        "boundary_invalid",
        f"边界 {exc.field} 无效（{exc.value}）：{exc.zh}",
        f"boundary {exc.field} is invalid ({exc.value}): {exc.en}",
        field=exc.field,
        value=exc.value,
    )


@router.put("/estates/{estate}/boundary", summary="Set an estate's boundary (validated GeoJSON); audited")
async def put_boundary(
    estate: str, body: BoundaryBody, access: Annotated[Access, require("registry:edit")]
) -> dict[str, Any]:
    svc = access.services
    datum: Datum = body.datum
    try:
        polygon = parse_boundary(body.boundary, datum=datum)
    except BoundaryInvalid as exc:
        raise _boundary_error(exc) from None
    centre = centroid(polygon)
    area = area_m2(polygon)

    def write() -> dict[str, Any]:
        with _writing(svc) as conn, conn.begin():
            row = _visible_estate(conn, access, estate)
            values: dict[str, Any] = {
                "boundary": json.dumps(boundary_geojson(polygon), separators=(",", ":")),
                "centre_lon": centre.lon,
                "centre_lat": centre.lat,
            }
            if row.get("registered") is False:
                values["name"] = row["name"]
            svc.registry.upsert(
                conn, "estate", estate, values, Provenance("staff"), now=_now(svc), key="code"
            )
            outside = _points_outside(conn, svc, estate, polygon)
            svc.audit.append(
                conn,
                actor=access.actor,
                action="registry.estate.boundary",
                target=f"estate/{estate}",
                detail={"datum": datum, "area_m2": round(area, 1), "outside": len(outside)},
            )
            counts = _estate_counts(conn, svc, [estate])[estate]
            fresh = _estate_row(conn, svc, estate)
        assert fresh is not None
        out = _estate_out(fresh, counts, with_boundary=True)
        out["outside_boundary"] = outside
        return out

    return await _run(write)


def _points_outside(conn: Connection, svc: Services, estate: str, polygon: Any) -> list[dict[str, Any]]:
    """Gates, buildings and org units of the estate whose coordinates lie outside the new boundary: a
    wrong boundary or a wrong coordinate, for staff to look at."""
    out = []
    for kind in ("gate", "building", "org_unit"):
        t = svc.registry.table(kind)
        rows = conn.execute(
            select(t.c.id, t.c.name, t.c.lat, t.c.lon).where(
                t.c.estate == estate, t.c.lat.is_not(None), t.c.lon.is_not(None)
            )
        )
        for r in rows:
            if not contains(polygon, r.lat, r.lon):
                out.append({"kind": kind, "id": r.id, "name": r.name})
    return out


@router.get("/estates/{estate}/buildings", summary="Buildings of an estate")
async def list_buildings(estate: str, access: Annotated[Access, require("registry:view")]) -> dict[str, Any]:
    svc = access.services

    def fetch() -> list[dict[str, Any]]:
        t = svc.registry.tables
        with svc.db.engine.connect() as conn:
            _visible_estate(conn, access, estate)
            rows = conn.execute(
                select(t["building"]).where(t["building"].c.estate == estate).order_by(t["building"].c.id)
            ).all()
            units = _group_count(conn, t["unit"].c.building_id, t["unit"].c.estate == estate)
            houses = _group_count(conn, t["house"].c.building_id, t["house"].c.estate == estate)
            plates = _active_plates(conn, svc, estate, "building")
        out = []
        for r in rows:
            values = _plain(dict(r._mapping))
            lat, lon = values.pop("lat"), values.pop("lon")
            values.update(
                location=point_json(lat, lon),
                units=units.get(r.id, 0),
                houses=houses.get(r.id, 0),
                doorplate=plates.get(r.id),
            )
            out.append(values)
        return out

    buildings = await _run(fetch)
    return {"estate": estate, "count": len(buildings), "buildings": buildings}


@router.get("/estates/{estate}/houses", summary="Houses of an estate (optionally of one building)")
async def list_houses(
    estate: str,
    access: Annotated[Access, require("registry:view")],
    building_id: Annotated[str | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=_LIST_MAX)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    svc = access.services
    special = _special_visible(access, [estate])

    def fetch() -> dict[str, Any]:
        t = svc.registry.tables
        house = t["house"]
        where = [house.c.estate == estate]
        if building_id is not None:
            where.append(house.c.building_id == building_id)
        with svc.db.engine.connect() as conn:
            _visible_estate(conn, access, estate)
            total = conn.execute(select(func.count()).select_from(house).where(*where)).scalar_one()
            rows = conn.execute(
                select(house).where(*where).order_by(house.c.id).limit(limit).offset(offset)
            ).all()
            res = t["residence"]
            residents = _group_count(
                conn, res.c.house_id, and_(res.c.house_id.in_([r.id for r in rows]), res.c.status == "active")
            )
            plates = _active_plates(conn, svc, estate, "house")
        out = []
        for r in rows:
            values = _plain(svc.registry.masked("house", r))
            if not special:
                values.pop("key_house", None)
            values.update(residents=residents.get(r.id, 0), doorplate=plates.get(r.id))
            out.append(values)
        return {"estate": estate, "total": total, "count": len(out), "houses": out}

    return await _run(fetch)


# ---- houses --------------------------------------------------------------------------------------------
@router.get(
    "/houses/{house_id}", summary="One house with the people registered there (masked unless unmasked)"
)
async def show_house(
    house_id: str,
    access: Annotated[Access, require("registry:view")],
    unmask: Annotated[bool, Query(description="personal data in full (registry:unmask; audited)")] = False,
    ended: Annotated[bool, Query(description="also residences that have ended")] = False,
) -> dict[str, Any]:
    svc = access.services
    if unmask:
        access.require_also("registry:unmask")  # before any lookup: the answer reveals nothing of the house

    def fetch() -> dict[str, Any]:
        store = svc.registry
        with svc.db.engine.connect() as conn:
            row = store.get(conn, "house", house_id)
            if row is None or not access.covers(row.estate):
                raise not_found("房屋", "house", house_id, "house_id")
            full = _unmasking(access, unmask, [row.estate])
            special = _special_visible(access, [row.estate])
            res = store.table("residence")
            statuses = ("active", "pending", "ended") if ended else ("active", "pending")
            residences = conn.execute(
                select(res)
                .where(res.c.house_id == house_id, res.c.status.in_(statuses))
                .order_by(res.c.relation, res.c.id)
            ).all()
            person = store.table("person")
            people = {
                p.id: p
                for p in conn.execute(
                    select(person).where(person.c.id.in_([r.person_id for r in residences]))
                ).all()
            }
            building = store.get(conn, "building", row.building_id)
            unit = store.get(conn, "unit", row.unit_id) if row.unit_id else None
            plates = _active_plates(conn, svc, row.estate, "house")
        house = _plain(store.opened("house", row) if full else store.masked("house", row))
        if not special:
            house.pop("key_house", None)
        residents = [
            {
                "residence": _residence_out(svc, r, full=full),
                "person": (
                    _person_out(svc, people[r.person_id], full=full, special=special)
                    if r.person_id in people
                    else None
                ),
            }
            for r in residences
        ]
        if full:
            svc.audit.record(
                actor=access.actor,
                action="registry.unmask",
                target=f"house/{house_id[:80]}",
                detail={"residents": len(residents)},
            )
        return {
            "house": house,
            "building": {"id": building.id, "name": building.name} if building else None,
            "unit": {"id": unit.id, "name": unit.name} if unit else None,
            "doorplate": plates.get(house_id),
            "residents": residents,
            "masked": not full,
            "special_visible": special,
        }

    return await _run(fetch)


# ---- people --------------------------------------------------------------------------------------------
@router.get("/people", summary="Find people by ID number or phone (exact, through the blind index; masked)")
async def search_people(
    access: Annotated[Access, require("registry:view")],
    id_number: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    phone: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> dict[str, Any]:
    if (id_number is None) == (phone is None):
        raise ApiError(
            422,
            "search_key_required",
            "请只给出 id_number（身份证号）或 phone（电话）之一",
            "give exactly one of id_number or phone",
            field="id_number" if id_number is not None else "phone",
        )
    svc = access.services

    def fetch() -> list[dict[str, Any]]:
        store = svc.registry
        with svc.db.engine.connect() as conn:
            if id_number is not None:
                found = store.person_by_id_number(conn, id_number)
                ids = [found] if found else []
            else:
                ids = store.people_by_phone(conn, phone or "")
            out = []
            for pid in ids:
                estates = _person_estates(conn, svc, pid)
                if not _covers_any(access, estates):  # nobody's estate: platform-wide callers only
                    continue
                row = store.get(conn, "person", pid)
                if row is None:
                    continue
                shown = _person_out(svc, row, full=False, special=_special_visible(access, estates))
                shown["estates"] = sorted(e for e in estates if access.covers(e))
                out.append(shown)
        return out

    people = await _run(fetch)
    return {"count": len(people), "people": people, "masked": True}


def _visible_person(conn: Connection, access: Access, person_id: str) -> tuple[Any, set[str]]:
    svc = access.services
    row = svc.registry.get(conn, "person", person_id)
    estates = _person_estates(conn, svc, person_id) if row is not None else set()
    if row is None or (access.estates is not None and not any(access.covers(e) for e in estates)):
        raise not_found("人员", "person", person_id, "person_id")
    return row, estates


@router.get("/people/{person_id}", summary="One person with residences and emergency contacts")
async def show_person(
    person_id: str,
    access: Annotated[Access, require("registry:view")],
    unmask: Annotated[bool, Query(description="personal data in full (registry:unmask; audited)")] = False,
) -> dict[str, Any]:
    svc = access.services
    if unmask:
        access.require_also("registry:unmask")  # before any lookup: the answer reveals nothing of the person

    def fetch() -> dict[str, Any]:
        store = svc.registry
        with svc.db.engine.connect() as conn:
            row, estates = _visible_person(conn, access, person_id)
            full = _unmasking(access, unmask, estates)
            special = _special_visible(access, estates)
            res, house = store.table("residence"), store.table("house")
            residences = conn.execute(
                select(res, house.c.address.label("house_address"), house.c.estate.label("house_estate"))
                .select_from(res.outerjoin(house, house.c.id == res.c.house_id))
                .where(res.c.person_id == person_id)
                .order_by(res.c.created_at, res.c.id)
            ).all()
            contacts_t = store.table("emergency_contact")
            contacts = conn.execute(
                select(contacts_t).where(contacts_t.c.person_id == person_id).order_by(contacts_t.c.pk)
            ).all()
        shown_res = []
        for r in residences:
            values = dict(r._mapping)
            where = values.pop("house_estate") or values["estate"]
            if not access.covers(where):
                continue
            address = values.pop("house_address")
            out = _residence_out(svc, values, full=full)
            out["house_address"] = address
            shown_res.append(out)
        shown_contacts = []
        for c in contacts:
            values = dict(c._mapping)
            opened = store.sealer.open("emergency_contact", person_id, values)
            if not full:
                opened = store.sealer.masked("emergency_contact", person_id, values)
            shown_contacts.append(_plain({k: v for k, v in opened.items() if k != "pk"}))
        if full:
            svc.audit.record(actor=access.actor, action="registry.unmask", target=f"person/{person_id[:40]}")
        return {
            "person": _person_out(svc, row, full=full, special=special),
            "residences": shown_res,
            "emergency_contacts": shown_contacts,
            "masked": not full,
            "special_visible": special,
        }

    return await _run(fetch)


class SpecialCategoryBody(BaseModel):
    special_category: str | None = Field(
        description="a code of registry/data/special_populations.yaml, or null to clear", max_length=30
    )
    key_population: bool | None = Field(default=None, description="重点人口 mark; omitted: unchanged")
    special_note: str | None = Field(default=None, max_length=2000, description="replaces the note")


@router.put(
    "/people/{person_id}/special_category",
    summary="Set or clear a person's special-population category (SE42) and 重点人口 mark; audited",
)
async def put_special_category(
    person_id: str,
    body: SpecialCategoryBody,
    access: Annotated[Access, require("special_population:edit")],
) -> dict[str, Any]:
    categories = catalog.special_categories()
    code = body.special_category
    if code is not None and code not in categories:
        expected = ", ".join(categories)
        raise ApiError(
            422,
            "special_category_unknown",
            f"special_category={code[:40]!r} 不是特殊人群类别：应为 {expected} 之一，或 null",
            f"special_category={code[:40]!r} is not a special-population category: expected one of "
            f"{expected}, or null",
            field="special_category",
            value=code[:40],
        )
    svc = access.services

    def write() -> dict[str, Any]:
        person = svc.registry.table("person")
        with _writing(svc) as conn, conn.begin():
            row, _ = _visible_person(conn, access, person_id)
            values: dict[str, Any] = {"special_category": code, "special_note": body.special_note}
            if body.key_population is not None:
                values["key_population"] = body.key_population
            now = _now(svc)
            conn.execute(update(person).where(person.c.id == person_id).values(**values, updated_at=now))
            detail: dict[str, Any] = {"from": row.special_category, "to": code}
            if body.key_population is not None and body.key_population != row.key_population:
                detail["key_population"] = {"from": row.key_population, "to": body.key_population}
            # The note is free text and may name people: the audit says that it changed, not what it says.
            detail["note_changed"] = (row.special_note or None) != (body.special_note or None)
            svc.audit.append(
                conn,
                actor=access.actor,
                action="registry.special_category",
                target=f"person/{person_id[:40]}",
                detail=detail,
            )
        category = categories.get(code or "", {})
        return {
            "person_id": person_id,
            "special_category": code,
            "special_category_zh": category.get("zh"),
            "key_population": body.key_population if body.key_population is not None else row.key_population,
            "special_note": body.special_note,
        }

    return await _run(write)


# ---- verification ----------------------------------------------------------------------------------------
def _estates_of(conn: Connection, svc: Services, kind: str, row: Any) -> set[str]:
    if kind == "person":
        return _person_estates(conn, svc, row.id)
    if kind == "residence":
        found = {row.estate} if row.estate else set()
        if row.house_id:
            house = svc.registry.get(conn, "house", row.house_id)
            if house is not None:
                found.add(house.estate)
        return found
    if kind == "org_unit":
        return {e for e in (row.estate, row.community) if e}
    return {row.estate}


@router.post("/{kind}/{item_id}/verify", summary="Mark a registry entry verified by the caller; audited")
async def verify(
    kind: str, item_id: str, access: Annotated[Access, require("registry:edit")]
) -> dict[str, Any]:
    if kind not in VERIFIABLE:
        raise ApiError(
            404,
            "kind_unknown",
            f"不能核实 {kind[:40]!r}：应为 {', '.join(VERIFIABLE)} 之一",
            f"{kind[:40]!r} cannot be verified: expected one of {', '.join(VERIFIABLE)}",
            field="kind",
            value=kind[:40],
        )
    table, zh, en = VERIFIABLE[kind]
    svc = access.services

    def write() -> dict[str, Any]:
        now = _now(svc)
        with _writing(svc) as conn, conn.begin():
            row = svc.registry.get(conn, table, item_id)
            if row is None or not _covers_any(access, _estates_of(conn, svc, kind, row) or {None}):
                raise not_found(zh, en, item_id, "item_id")
            svc.registry.verify(conn, table, item_id, actor=access.actor, now=now)
            svc.audit.append(
                conn,
                actor=access.actor,
                action="registry.verify",
                target=f"{kind}/{item_id[:80]}",
                detail={"previously_verified": row.verified_at is not None},
            )
        return {"kind": kind, "id": item_id, "verified_at": now, "verified_by": access.actor}

    return await _run(write)


# ---- org units -----------------------------------------------------------------------------------------
def _org_out(svc: Services, row: Any) -> dict[str, Any]:
    values = _plain(svc.registry.masked("org_unit", row))
    lat, lon = values.pop("lat"), values.pop("lon")
    kind = catalog.org_kinds().get(values["kind"], {})
    values.update(
        location=point_json(lat, lon),
        kind_zh=kind.get("zh"),
        small_place=bool(kind.get("small_place", False)),
    )
    return values


@router.get("/org_units", summary="Actual units (实有单位) within the caller's scope; the nine small places")
async def list_org_units(
    access: Annotated[Access, require("registry:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    community: Annotated[str | None, Query(pattern=CODE)] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    small_place: Annotated[bool | None, Query(description="only the nine small places (九小场所)")] = None,
    limit: Annotated[int, Query(ge=1, le=_LIST_MAX)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    kinds = catalog.org_kinds()
    if kind is not None and kind not in kinds:
        raise _kind_error(kind, kinds)
    svc = access.services

    def fetch() -> dict[str, Any]:
        org = svc.registry.table("org_unit")
        where: list[Any] = []
        if access.estates is not None:
            scope = sorted(access.estates)
            where.append(
                or_(org.c.estate.in_(scope), and_(org.c.estate.is_(None), org.c.community.in_(scope)))
            )
        if estate is not None:
            where.append(org.c.estate == estate)
        if community is not None:
            where.append(org.c.community == community)
        if kind is not None:
            where.append(org.c.kind == kind)
        if small_place is not None:
            wanted = [k for k, v in kinds.items() if bool(v.get("small_place")) == small_place]
            where.append(org.c.kind.in_(wanted))
        with svc.db.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(org).where(*where)).scalar_one()
            rows = conn.execute(
                select(org).where(*where).order_by(org.c.id).limit(limit).offset(offset)
            ).all()
        return {"total": total, "count": len(rows), "org_units": [_org_out(svc, r) for r in rows]}

    return await _run(fetch)


def _kind_error(kind: str, kinds: dict[str, Any]) -> ApiError:
    expected = ", ".join(kinds)
    return ApiError(
        422,
        "org_kind_unknown",
        f"kind={kind[:40]!r} 不是单位类别：应为 {expected} 之一",
        f"kind={kind[:40]!r} is not an org-unit kind: expected one of {expected}",
        field="kind",
        value=kind[:40],
    )


class NewOrgUnit(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=30, description="a kind of registry/data/org_kinds.yaml")
    estate: str | None = Field(default=None, pattern=CODE)
    community: str | None = Field(default=None, pattern=CODE, description="for a unit outside any estate")
    house_id: str | None = Field(default=None, max_length=80)
    address: str | None = Field(default=None, max_length=300)
    licence_no: str | None = Field(
        default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$", description="统一社会信用代码 (18 characters)"
    )
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=20, pattern=r"^[0-9+\- ]{5,20}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    datum: Literal["wgs84", "gcj02"] = Field(default="wgs84", description="datum of lat/lon")


@router.post("/org_units", status_code=201, summary="Register an actual unit (实有单位); audited")
async def create_org_unit(
    new: NewOrgUnit, access: Annotated[Access, require("registry:edit")]
) -> dict[str, Any]:
    kinds = catalog.org_kinds()
    if new.kind not in kinds:
        raise _kind_error(new.kind, kinds)
    if new.estate is None and new.community is None:
        raise ApiError(
            422,
            "org_place_required",
            "请给出单位所在的 estate（小区）或 community（社区）",
            "give the estate or the community the unit belongs to",
            field="estate",
        )
    if (new.lat is None) != (new.lon is None):
        raise ApiError(
            422,
            "coordinates_incomplete",
            "lat 与 lon 须同时给出",
            "lat and lon must be given together",
            field="lat" if new.lat is None else "lon",
        )
    place_field, place = ("estate", new.estate) if new.estate is not None else ("community", new.community)
    if not access.covers(place):
        raise scope_denied(place_field, place)
    svc = access.services

    def write() -> dict[str, Any]:
        store = svc.registry
        with _writing(svc) as conn, conn.begin():
            community = new.community
            if new.estate is not None:
                if _estate_row(conn, svc, new.estate) is None:
                    raise _unknown_place("estate", new.estate)
                if community is None:
                    community = _community_of(svc, new.estate)
            elif not _region_exists(conn, svc, new.community or ""):
                raise _unknown_place("community", new.community or "")
            if new.house_id is not None:
                house = store.get(conn, "house", new.house_id)
                if house is None or house.estate != new.estate:
                    raise ApiError(
                        422,
                        "house_not_in_estate",
                        f"house_id={new.house_id[:80]!r} 不是小区 {new.estate!r} 的房屋",
                        f"house_id={new.house_id[:80]!r} is not a house of estate {new.estate!r}",
                        field="house_id",
                        value=new.house_id[:80],
                    )
            point = (
                to_wgs84(new.lat, new.lon, new.datum) if new.lat is not None and new.lon is not None else None
            )
            unit_id = store.new_id()
            values = {
                "estate": new.estate,
                "community": community,
                "house_id": new.house_id,
                "name": new.name,
                "kind": new.kind,
                "address": new.address,
                "licence_no": new.licence_no,
                "contact_name": new.contact_name,
                "contact_phone": new.contact_phone,
                "lat": point.lat if point else None,
                "lon": point.lon if point else None,
            }
            store.upsert(conn, "org_unit", unit_id, values, Provenance("staff"), now=_now(svc))
            svc.audit.append(
                conn,
                actor=access.actor,
                action="registry.org_unit.create",
                target=f"org_unit/{unit_id}",
                detail={"kind": new.kind, "estate": new.estate, "community": community},
            )
            row = store.get(conn, "org_unit", unit_id)
        return _org_out(svc, row)

    return await _run(write)


def _unknown_place(field_name: str, value: str) -> ApiError:
    zh = "小区" if field_name == "estate" else "社区"
    return ApiError(
        422,
        f"{field_name}_unknown",
        f"{field_name}={value!r} 不是已登记的{zh}",
        f"{field_name}={value!r} is not a registered {field_name}",
        field=field_name,
        value=value,
    )


def _region_exists(conn: Connection, svc: Services, code: str) -> bool:
    region = svc.registry.table("region")
    return conn.execute(select(region.c.code).where(region.c.code == code)).first() is not None


def _community_of(svc: Services, estate: str) -> str | None:
    """The community node above an estate in the region tree, if the tree has one."""
    region = svc.registry.table("region")
    above = svc.regions.ancestors(estate)[1:]
    if not above:
        return None
    with svc.db.engine.connect() as conn:
        levels = dict(
            conn.execute(select(region.c.code, region.c.level).where(region.c.code.in_(above))).all()
        )
    return next((c for c in above if levels.get(c) == "community"), None)


# ---- rates and occupancy ---------------------------------------------------------------------------------
@router.get("/estates/{estate}/rates", summary="Doorplate coverage and verification rates of an estate")
async def estate_rates_view(
    estate: str,
    access: Annotated[Access, require("registry:view")],
    limit: Annotated[int, Query(ge=0, le=10_000, description="entries listed per trace list")] = 100,
) -> dict[str, Any]:
    svc = access.services

    def fetch() -> dict[str, Any]:
        with svc.db.engine.connect() as conn:
            _visible_estate(conn, access, estate)
            return estate_rates(conn, svc.registry, estate, limit=limit).to_dict(limit)

    return await _run(fetch)


@router.get(
    "/communities/{community}/rates",
    summary="Doorplate coverage and verification rates of a community (its estates added up)",
)
async def community_rates_view(
    community: str,
    access: Annotated[Access, require("registry:view")],
    limit: Annotated[int, Query(ge=0, le=10_000, description="entries listed per trace list")] = 100,
) -> dict[str, Any]:
    svc = access.services

    def fetch() -> dict[str, Any]:
        with svc.db.engine.connect() as conn:
            # Rates of a community add up all its estates: a caller covering only some does not get them.
            if not access.covers(community) or not _region_exists(conn, svc, community):
                raise not_found("社区", "community", community, "community")
            return region_rates(conn, svc.registry, svc.regions, community, limit=limit).to_dict(limit)

    return await _run(fetch)


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@router.get(
    "/estates/{estate}/occupancy",
    summary="Occupancy (自住/出租/空置/待核实) of every house over a month or a window of days, with evidence",
)
async def occupancy_view(
    estate: str,
    access: Annotated[Access, require("registry:view")],
    month: Annotated[str | None, Query(description="YYYY-MM")] = None,
    end: Annotated[date | None, Query(description="last day of the window (default: today)")] = None,
    days: Annotated[
        int | None, Query(ge=1, le=366, description="window length (default: occupancy.yaml)")
    ] = None,
    label: Annotated[
        Literal["self_occupied", "rented", "vacant", "unknown"] | None, Query(description="only this label")
    ] = None,
) -> dict[str, Any]:
    svc = access.services
    if month is not None:
        if end is not None or days is not None:
            raise ApiError(
                422,
                "window_ambiguous",
                "请只给出 month，或 end/days，不要同时给出",
                "give either month or end/days, not both",
                field="month",
                value=month[:20],
            )
        if not _MONTH.match(month):
            raise ApiError(
                422,
                "month_invalid",
                f"month={month[:20]!r} 无效：应为 YYYY-MM，如 2025-03",
                f"month={month[:20]!r} is invalid: expected YYYY-MM, e.g. 2025-03",
                field="month",
                value=month[:20],
            )
        window = Window.month(month)
    else:
        last = end or svc.pipeline.clock().astimezone(svc.settings.timezone).date()
        window = Window.ending(last, days)

    def fetch() -> dict[str, Any]:
        with svc.db.engine.connect() as conn:
            _visible_estate(conn, access, estate)
            report = judge_estate(conn, svc.registry, estate, window, tz=svc.settings.timezone)
        out = report.to_dict()
        if label is not None:
            out["houses"] = [h for h in out["houses"] if h["label"] == label]
        return out

    return await _run(fetch)
