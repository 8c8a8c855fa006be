"""A small registry built by hand, whose rates and occupancy are counted by hand in the tests.

Region tree: 420102 江岸区 → 420102001 街道 → C1 社区 → estates E1, E2; and 420102001 → C2 → E3 (outside C1).

E1 (幸福里): gates G1, G2; buildings B1, B2; units B1-U1, B1-U2, B2-U1; houses H1..H6
    H1, H2 in B1-U1; H3, H4 in B1-U2; H5, H6 in B2-U1.
    Doorplates: G1, B1, B2, B1-U1, B1-U2, H1, H2 (issued 2026-01-05), H3, H4 (issued 2026-06-01),
    H5 (issued 2026-01-05, revoked 2026-05-01). No plate: G2, B2-U1, H6.
    People and residences (P = person):
      P1 H1 resident, householder (0), born 1950, verified; also lodger at E2-H1
      P2 H1 resident, spouse (1), born 1985
      P3 H2 resident, householder (0), verified
      P4 H3 floating, tenant (9), verified
      P5 H4 floating, no relation
      P6 H5 resident householder, ENDED 2026-02-01, verified
      P7 H6 lodger, PENDING
    Houses verified: H1, H2, H5. Org units: O1 restaurant (verified), O2 shop, O3 school (verified).
E2: gate E2-G1 (plated), building E2-B1 (no plate), house E2-H1 (plated, verified, no unit);
    P8 resident householder (verified); P1 lodger.
C1 also has O4 (hotel, community-level, no estate, unverified).
E3 (under C2): house E3-H1 (plated), P9 resident (unverified), O5 (verified).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert

from anju.registry.addresses import house_address, normalise
from anju.registry.store import Provenance
from anju.services import Services
from anju.standard.samples import id_number, mobile

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
VERIFIED = datetime(2026, 1, 10, tzinfo=UTC)
STAFF = Provenance("staff")
STREET_ADDRESS = {"E1": "武汉市江岸区幸福路1号", "E2": "武汉市江岸区安宁路8号", "E3": "武汉市江岸区和平路3号"}
NAMES = {
    "P1": "王建国",
    "P2": "李秀英",
    "P3": "张伟",
    "P4": "刘洋",
    "P5": "陈静",
    "P6": "杨磊",
    "P7": "赵敏",
    "P8": "黄志鹏",
    "P9": "吴芳",
}


@dataclass
class Fixture:
    id_numbers: dict[str, str] = field(default_factory=dict)  # person -> ID number
    phones: dict[str, str] = field(default_factory=dict)
    house_codes: dict[str, str] = field(default_factory=dict)  # house id -> FW_BM


def _regions(svc: Services) -> None:
    add = svc.regions.add
    add(svc.audit, code="420102", name="江岸区", level="district", parent=None, actor="test")
    add(svc.audit, code="420102001", name="大智街道", level="street", parent="420102", actor="test")
    add(svc.audit, code="C1", name="幸福社区", level="community", parent="420102001", actor="test")
    add(svc.audit, code="C2", name="和平社区", level="community", parent="420102001", actor="test")
    add(svc.audit, code="E1", name="幸福里", level="estate", parent="C1", actor="test")
    add(svc.audit, code="E2", name="安宁苑", level="estate", parent="C1", actor="test")
    add(svc.audit, code="E3", name="和平园", level="estate", parent="C2", actor="test")


def _up(svc: Services, conn: Connection, table: str, row_id: str, values: dict[str, Any], **kw: Any) -> None:
    svc.registry.upsert(conn, table, row_id, values, STAFF, now=CREATED, **kw)


def _house(
    svc: Services,
    conn: Connection,
    fx: Fixture,
    house_id: str,
    estate: str,
    building: tuple[str, str],
    unit: tuple[str, str] | None,
    number: str,
) -> None:
    address = house_address(STREET_ADDRESS[estate], building[1], unit[1] if unit else None, number)
    code = f"FW{len(fx.house_codes) + 1:04d}"
    fx.house_codes[house_id] = code
    _up(
        svc,
        conn,
        "house",
        house_id,
        {
            "estate": estate,
            "building_id": building[0],
            "unit_id": unit[0] if unit else None,
            "code": code,
            "number": number,
            "address": address,
            "address_key": normalise(address),
            "key_house": house_id == "E1-H4",
            "agent_name": "周代理" if house_id == "E1-H1" else None,
            "agent_phone": "13900001111" if house_id == "E1-H1" else None,
        },
    )


def _person(
    svc: Services,
    conn: Connection,
    fx: Fixture,
    rng: random.Random,
    pid: str,
    born: date,
    special: str | None = None,
) -> None:
    fx.id_numbers[pid] = id_number(rng, birth=datetime(born.year, born.month, born.day))
    fx.phones[pid] = mobile(rng)
    _up(
        svc,
        conn,
        "person",
        pid,
        {
            "name": NAMES[pid],
            "id_type": "111",
            "id_number": fx.id_numbers[pid],
            "phone": fx.phones[pid],
            "birth_date": born,
            "key_population": special is not None,
            "special_category": special,
        },
    )


def _residence(
    svc: Services,
    conn: Connection,
    rid: str,
    pid: str,
    house_id: str,
    estate: str,
    category: str,
    relation: str | None,
    status: str = "active",
    moved_out: datetime | None = None,
) -> None:
    address = f"{STREET_ADDRESS[estate]}{house_id}"
    _up(
        svc,
        conn,
        "residence",
        rid,
        {
            "person_id": pid,
            "house_id": house_id,
            "estate": estate,
            "address": address,
            "_bi_address": svc.registry.sealer.blind("address", normalise(address)),
            "category": category,
            "relation": relation,
            "moved_in": datetime(2025, 6, 1),
            "moved_out": moved_out,
            "status": status,
        },
    )


def _plate(
    conn: Connection,
    svc: Services,
    estate: str,
    kind: str,
    target: str,
    issued: datetime,
    revoked: datetime | None = None,
) -> None:
    conn.execute(
        insert(svc.registry.table("doorplate")).values(
            id=f"DP-{kind}-{target}"[:24],
            estate=estate,
            target_kind=kind,
            target_id=target,
            version=1,
            issued_at=issued,
            issued_by="test",
            revoked_at=revoked,
            revoked_by="test" if revoked else None,
        )
    )


def build(svc: Services) -> Fixture:
    """Build the fixture registry (see the module's docstring) in one transaction."""
    fx = Fixture()
    rng = random.Random(20260301)
    _regions(svc)
    with svc.db.engine.begin() as conn:
        for code, name in (("E1", "幸福里"), ("E2", "安宁苑"), ("E3", "和平园")):
            _up(svc, conn, "estate", code, {"name": name, "address": STREET_ADDRESS[code]}, key="code")
        for gid, estate, name, lat, lon in (
            ("E1-G1", "E1", "东门", 30.6003, 114.3005),
            ("E1-G2", "E1", "西门", 30.6004, 114.2990),
            ("E2-G1", "E2", "正门", None, None),
        ):
            _up(svc, conn, "gate", gid, {"estate": estate, "name": name, "lat": lat, "lon": lon})
        buildings = {
            "E1-B1": ("E1", "1栋"),
            "E1-B2": ("E1", "2栋"),
            "E2-B1": ("E2", "1栋"),
            "E3-B1": ("E3", "1栋"),
        }
        for bid, (estate, name) in buildings.items():
            _up(
                svc,
                conn,
                "building",
                bid,
                {
                    "estate": estate,
                    "code": bid,
                    "name": name,
                    "address": STREET_ADDRESS[estate],
                    "safety_level": "A",
                    "floors_above": 6,
                },
            )
        units = {
            "E1-B1-U1": ("E1-B1", "1单元"),
            "E1-B1-U2": ("E1-B1", "2单元"),
            "E1-B2-U1": ("E1-B2", "1单元"),
        }
        for uid, (bid, name) in units.items():
            _up(svc, conn, "unit", uid, {"building_id": bid, "estate": "E1", "code": uid, "name": name})
        for hid, bid, uid, number in (
            ("E1-H1", "E1-B1", "E1-B1-U1", "101"),
            ("E1-H2", "E1-B1", "E1-B1-U1", "102"),
            ("E1-H3", "E1-B1", "E1-B1-U2", "201"),
            ("E1-H4", "E1-B1", "E1-B1-U2", "202"),
            ("E1-H5", "E1-B2", "E1-B2-U1", "101"),
            ("E1-H6", "E1-B2", "E1-B2-U1", "102"),
            ("E2-H1", "E2-B1", None, "101"),
            ("E3-H1", "E3-B1", None, "101"),
        ):
            estate = hid[:2]
            unit = (uid, units[uid][1]) if uid else None
            _house(svc, conn, fx, hid, estate, (bid, buildings[bid][1]), unit, number)

        for pid, born, special in (
            ("P1", date(1950, 5, 1), None),
            ("P2", date(1985, 7, 2), None),
            ("P3", date(1970, 1, 3), None),
            ("P4", date(1990, 2, 4), "released_prisoner"),
            ("P5", date(1995, 3, 5), None),
            ("P6", date(1960, 4, 6), None),
            ("P7", date(2000, 5, 7), None),
            ("P8", date(1956, 6, 8), None),
            ("P9", date(1980, 7, 9), None),
        ):
            _person(svc, conn, fx, rng, pid, born, special)
        _residence(svc, conn, "R1", "P1", "E1-H1", "E1", "resident", "0")
        _residence(svc, conn, "R2", "P2", "E1-H1", "E1", "resident", "1")
        _residence(svc, conn, "R3", "P3", "E1-H2", "E1", "resident", "0")
        _residence(svc, conn, "R4", "P4", "E1-H3", "E1", "floating", "9")
        _residence(svc, conn, "R5", "P5", "E1-H4", "E1", "floating", None)
        _residence(svc, conn, "R6", "P6", "E1-H5", "E1", "resident", "0", "ended", datetime(2026, 2, 1))
        _residence(svc, conn, "R7", "P7", "E1-H6", "E1", "lodger", None, "pending")
        _residence(svc, conn, "R8", "P8", "E2-H1", "E2", "resident", "0")
        _residence(svc, conn, "R9", "P1", "E2-H1", "E2", "lodger", None)
        _residence(svc, conn, "R10", "P9", "E3-H1", "E3", "resident", "0")
        # Emergency contacts have an autoincrement key; their sealed values are bound to the person.
        sealed = svc.registry.sealer.seal(
            "emergency_contact", "P1", {"name": "王小明", "phone": "13700002222"}
        )
        conn.execute(
            insert(svc.registry.table("emergency_contact")).values(
                person_id="P1",
                relation="子",
                source="staff",
                created_at=CREATED.replace(tzinfo=None),
                **sealed,
            )
        )

        for oid, estate, community, name, kind in (
            ("O1", "E1", "C1", "幸福餐馆", "restaurant"),
            ("O2", "E1", "C1", "幸福超市", "shop"),
            ("O3", "E1", "C1", "幸福幼儿园", "school"),
            ("O4", None, "C1", "社区旅馆", "hotel"),
            ("O5", "E3", "C2", "和平诊所", "clinic"),
        ):
            _up(
                svc,
                conn,
                "org_unit",
                oid,
                {
                    "estate": estate,
                    "community": community,
                    "name": name,
                    "kind": kind,
                    "contact_name": "孙经理",
                },
            )

        for table, row_id in (
            ("person", "P1"),
            ("person", "P3"),
            ("person", "P4"),
            ("person", "P6"),
            ("person", "P8"),
            ("house", "E1-H1"),
            ("house", "E1-H2"),
            ("house", "E1-H5"),
            ("house", "E2-H1"),
            ("org_unit", "O1"),
            ("org_unit", "O3"),
            ("org_unit", "O5"),
        ):
            assert svc.registry.verify(conn, table, row_id, actor="user:fixture", now=VERIFIED)

        early, late = datetime(2026, 1, 5), datetime(2026, 6, 1)
        for kind, target in (
            ("gate", "E1-G1"),
            ("building", "E1-B1"),
            ("building", "E1-B2"),
            ("unit", "E1-B1-U1"),
            ("unit", "E1-B1-U2"),
            ("house", "E1-H1"),
            ("house", "E1-H2"),
        ):
            _plate(conn, svc, "E1", kind, target, early)
        _plate(conn, svc, "E1", "house", "E1-H3", late)
        _plate(conn, svc, "E1", "house", "E1-H4", late)
        _plate(conn, svc, "E1", "house", "E1-H5", early, revoked=datetime(2026, 5, 1))
        _plate(conn, svc, "E2", "gate", "E2-G1", early)
        _plate(conn, svc, "E2", "house", "E2-H1", early)
        _plate(conn, svc, "E3", "house", "E3-H1", early)
    return fx
