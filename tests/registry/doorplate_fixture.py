"""A small estate for the doorplate tests, written through the registry store as any writer would.

E1 (幸福小区) under C1: one gate, one building, one unit, two houses. House 101 has three residents — a
常住 householder, a 寄住 parent and a 流动 tenant marked 重点人口 with an SE42 category — and an owner's agent;
house 102 is empty. E2 under C2 has one house, for scope checks. Two patrol records of E1 are ingested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from anju.ingest.decode import decode_body
from anju.registry.addresses import normalise
from anju.registry.regions import RegionRefused
from anju.registry.store import Provenance
from anju.services import Services
from anju.standard.checks import id_check_char
from anju.standard.samples import mixed_records

ESTATE = "E1"
OTHER_ESTATE = "E2"
ADDRESS_101 = "武汉市江岸区幸福路1号幸福小区1栋1单元101室"
ADDRESS_102 = "武汉市江岸区幸福路1号幸福小区1栋1单元102室"
ADDRESS_OTHER = "武汉市江岸区和平路8号和平小区2栋201室"
PASSWORD = "correct horse battery staple"


def id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    id_number: str
    phone: str
    category: str
    relation: str
    key_population: bool = False
    special_category: str | None = None


PEOPLE = (
    Person("householder", "王建国", id_number("42010219700101001"), "13800000001", "resident", "0"),
    Person("parent", "李秀英", id_number("42010219450303002"), "13800000002", "lodger", "5"),
    Person(
        "tenant",
        "赵小明",
        id_number("42010219950505003"),
        "13800000003",
        "floating",
        "9",
        key_population=True,
        special_category="released_prisoner",
    ),
)
NEWCOMER = Person("newcomer", "陈晓燕", id_number("42010219980808004"), "13900000004", "floating", "9")


@dataclass
class Estate:
    houses: dict[str, str] = field(default_factory=dict)  # "101", "102", "other" -> house ID
    residences: dict[str, str] = field(default_factory=dict)  # person key -> residence ID
    persons: dict[str, str] = field(default_factory=dict)  # person key -> person ID
    patrol_ids: list[str] = field(default_factory=list)


def _regions(svc: Services) -> None:
    for code, name, level, parent in (
        ("D1", "江岸区", "district", None),
        ("S1", "幸福街道", "street", "D1"),
        ("C1", "幸福社区", "community", "S1"),
        (ESTATE, "幸福小区", "estate", "C1"),
        ("C2", "和平社区", "community", "S1"),
        (OTHER_ESTATE, "和平小区", "estate", "C2"),
    ):
        try:
            svc.regions.add(svc.audit, code=code, name=name, level=level, parent=parent, actor="fixture")
        except RegionRefused as exc:
            if exc.code != "region_exists":  # a caller (the authorization matrix) may have built the tree
                raise


def build(svc: Services) -> Estate:
    _regions(svc)
    store = svc.registry
    now = datetime.now(UTC)
    staff = Provenance("staff", verified_by="fixture")
    out = Estate()
    with svc.db.engine.begin() as conn:
        store.upsert(
            conn,
            "estate",
            ESTATE,
            {"name": "幸福小区", "address": "武汉市江岸区幸福路1号幸福小区"},
            staff,
            now=now,
            key="code",
        )
        store.upsert(
            conn,
            "estate",
            OTHER_ESTATE,
            {"name": "和平小区", "address": "武汉市江岸区和平路8号和平小区"},
            staff,
            now=now,
            key="code",
        )
        store.upsert(conn, "gate", "E1-G1", {"estate": ESTATE, "name": "东门"}, staff, now=now)
        store.upsert(
            conn,
            "building",
            "E1-B1",
            {"estate": ESTATE, "code": "B1", "name": "1栋", "address": "武汉市江岸区幸福路1号幸福小区"},
            staff,
            now=now,
        )
        store.upsert(
            conn,
            "unit",
            "E1-B1-U1",
            {"building_id": "E1-B1", "estate": ESTATE, "code": "U1", "name": "1单元"},
            staff,
            now=now,
        )
        for key, number, address, estate, building, unit in (
            ("101", "101", ADDRESS_101, ESTATE, "E1-B1", "E1-B1-U1"),
            ("102", "102", ADDRESS_102, ESTATE, "E1-B1", "E1-B1-U1"),
            ("other", "201", ADDRESS_OTHER, OTHER_ESTATE, "E2-B2", None),
        ):
            house_id = f"H-{estate}-{number}"
            values: dict[str, Any] = {
                "estate": estate,
                "building_id": building,
                "unit_id": unit,
                "number": number,
                "address": address,
                "address_key": normalise(address),
                "key_house": False,
            }
            if key == "101":
                values.update(
                    agent_name="王建国",
                    agent_id_type="111",
                    agent_id_number=PEOPLE[0].id_number,
                    agent_phone="13800000001",
                    ownership_type="私有",
                )
            store.upsert(conn, "house", house_id, values, staff, now=now)
            out.houses[key] = house_id
        moved = now - timedelta(days=400)
        for person in PEOPLE:
            person_id = store.new_id()
            store.upsert(
                conn,
                "person",
                person_id,
                {
                    "name": person.name,
                    "id_type": "111",
                    "id_number": person.id_number,
                    "phone": person.phone,
                    "key_population": person.key_population,
                    "special_category": person.special_category,
                },
                staff,
                now=now,
            )
            residence_id = store.new_id()
            store.upsert(
                conn,
                "residence",
                residence_id,
                {
                    "person_id": person_id,
                    "house_id": out.houses["101"],
                    "estate": ESTATE,
                    "address": ADDRESS_101,
                    "_bi_address": store.sealer.blind("address", normalise(ADDRESS_101)),
                    "category": person.category,
                    "relation": person.relation,
                    "moved_in": moved,
                    "status": "active",
                },
                staff,
                now=now,
            )
            out.persons[person.key] = person_id
            out.residences[person.key] = residence_id
    out.patrol_ids = _patrols(svc, now)
    return out


def _patrols(svc: Services, now: datetime) -> list[str]:
    records = [r for r, _ in mixed_records("patrol_record", 2, seed=77, defect_rate=0.0)]
    local = now.astimezone(svc.settings.timezone).replace(tzinfo=None)
    for i, rec in enumerate(records):
        at = local - timedelta(hours=2 + i)
        for code in ("XL_RQSJ", "DD_RQSJ", "KS_RQSJ", "CJ_RQSJ", "XG_RQSJ"):
            rec[code] = at.strftime("%Y-%m-%d %H:%M:%S")
        rec["JS_RQSJ"] = (at + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
        rec["XLR_XM"] = "巡逻员甲乙"
    result = svc.pipeline.ingest(
        "patrol_record", decode_body(orjson.dumps(records)), source="fixture", estate=ESTATE
    )
    assert result.accepted == len(records), result.to_dict()
    return [str(r["ID"]) for r in records]


def token_for(svc: Services, kind: str, target_id: str) -> str:
    from anju.registry.doorplates import Doorplates

    plates = Doorplates(svc)
    plate = plates.for_target(kind, target_id)
    assert plate is not None, (kind, target_id)
    return plates.token(plate)


# Users by role, scoped to the estate's community (C1) unless said otherwise.
USERS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "resident-1": (("resident", ESTATE),),
    "grid-1": (("grid_worker", "C1"),),
    "property-1": (("property_staff", ESTATE),),
    "police-1": (("community_police", "C1"),),
    "grid-2": (("grid_worker", "C2"),),
}


def add_residence(
    svc: Services,
    *,
    house_id: str,
    estate: str,
    address: str,
    category: str = "floating",
    status: str = "active",
) -> str:
    """A new person living at a house, with a fresh valid ID number: each call gives a residence that can
    be deregistered (active lodger/floating) or decided (pending) once, e.g. for the authorization matrix."""
    store = svc.registry
    person_id = store.new_id()
    serial = int(person_id[:6], 16) % 1000
    number = id_number(f"42010219900101{serial:03d}")
    residence_id = store.new_id()
    now = datetime.now(UTC)
    with svc.db.engine.begin() as conn:
        existing = store.person_by_id_number(conn, number)
        if existing is not None:
            person_id = existing
        else:
            store.upsert(
                conn,
                "person",
                person_id,
                {"name": "测试人员", "id_type": "111", "id_number": number, "phone": "13600000000"},
                Provenance("staff"),
                now=now,
            )
        store.upsert(
            conn,
            "residence",
            residence_id,
            {
                "person_id": person_id,
                "house_id": house_id,
                "estate": estate,
                "address": address,
                # The person may already live here (a serial repeats): a residence ID of its own keeps the
                # (person, address) pair unique.
                "_bi_address": store.sealer.blind("address", normalise(address) + f"#{residence_id}"),
                "category": category,
                "relation": "9",
                "moved_in": now - timedelta(days=30),
                "status": status,
            },
            Provenance("staff" if status == "active" else "doorplate"),
            now=now,
        )
    return residence_id
