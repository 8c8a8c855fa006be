"""The rates counted by the database (rates.py) against a plain Python count over every row, on SQLite and
PostgreSQL, on a seeded random registry with the awkward cases: ended, pending and rejected residences,
residences created or ended around the date, people with several residences across estates (the first by
residence id decides their estate), residences whose own estate differs from their house's or that have
no house, people without a person row, verifications after the date, doors plated from another estate
and plates revoked or issued late."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from anju.registry.rates import (
    DOOR_KINDS,
    Entry,
    Rate,
    RegistryRates,
    estate_rates,
    region_rates,
    residences_in_force,
)
from anju.services import Services

T0 = datetime(2026, 1, 1)
AS_OF = datetime(2026, 4, 1)
COMMUNITY_ESTATES = ("EA", "EB")  # C1's estates; EC belongs to C2
ALL_ESTATES = ("EA", "EB", "EC")


def _when(rng: random.Random) -> datetime:
    """A time in the first half of 2026, so about a third fall after AS_OF."""
    return T0 + timedelta(days=rng.randint(0, 180), seconds=rng.randint(0, 86_399))


def _maybe(rng: random.Random) -> datetime | None:
    return None if rng.random() < 0.35 else _when(rng)


def _id(rng: random.Random, prefix: str) -> str:
    # Mixed case and digits, so that an order by the database's collation and Python's would differ
    # under a locale collation; random, so that id order is not insertion order.
    return prefix + "".join(rng.choice("0123456789ABCDEFabcdef") for _ in range(8))


@dataclass
class World:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        values.setdefault("source", "staff")
        values.setdefault("created_at", T0)
        values.setdefault("updated_at", values["created_at"])
        self.rows.setdefault(table, []).append(values)
        return values


def _build(svc: Services, seed: int = 20260601) -> World:
    rng = random.Random(seed)
    add = svc.regions.add
    add(svc.audit, code="S1", name="街道", level="street", parent=None, actor="test")
    add(svc.audit, code="C1", name="一社区", level="community", parent="S1", actor="test")
    add(svc.audit, code="C2", name="二社区", level="community", parent="S1", actor="test")
    for estate in ALL_ESTATES:
        community = "C1" if estate in COMMUNITY_ESTATES else "C2"
        add(svc.audit, code=estate, name=estate, level="estate", parent=community, actor="test")

    w = World()
    houses: list[dict[str, Any]] = []
    for estate in ALL_ESTATES:
        for g in range(3):
            w.add("gate", id=f"{estate}-G{g}", estate=estate, name=f"门{g}", created_at=_when(rng))
        for b in range(3):
            building = f"{estate}-B{b}"
            w.add("building", id=building, estate=estate, code=building, name=f"{b}栋", created_at=_when(rng))
            for u in range(2):
                unit = f"{building}-U{u}"
                w.add(
                    "unit",
                    id=unit,
                    building_id=building,
                    estate=estate,
                    name=f"{u}单元",
                    created_at=_when(rng),
                )
                for _ in range(4):
                    address = f"{estate}{b}{u}{rng.randint(100, 999)}"
                    houses.append(
                        w.add(
                            "house",
                            id=_id(rng, f"{estate}-H"),
                            estate=estate,
                            building_id=building,
                            unit_id=unit,
                            address=address,
                            address_key=address,
                            key_house=False,
                            created_at=_when(rng),
                            verified_at=_maybe(rng),
                        )
                    )
    for kind in DOOR_KINDS:
        for door in w.rows[kind]:
            if rng.random() < 0.25:
                continue  # never plated
            # Now and then a plate registered under another estate of the community, or outside it.
            estate = door["estate"] if rng.random() < 0.85 else rng.choice(ALL_ESTATES)
            issued = _when(rng)
            w.add(
                "doorplate",
                id=_id(rng, "DP"),
                estate=estate,
                target_kind=kind,
                target_id=door["id"],
                version=1,
                issued_at=issued,
                issued_by="test",
                revoked_at=issued + timedelta(days=rng.randint(1, 90)) if rng.random() < 0.3 else None,
            )

    for _ in range(70):
        pid = _id(rng, "P")
        if rng.random() < 0.9:  # the others have residences but no person row
            w.add("person", id=pid, key_population=False, created_at=_when(rng), verified_at=_maybe(rng))
        for _ in range(rng.choice((1, 1, 2, 3))):
            house = rng.choice(houses)
            house_id: str | None
            own: str | None
            roll = rng.random()
            if roll < 0.1:
                house_id, own = None, rng.choice((*ALL_ESTATES, None))  # no house matched yet
            elif roll < 0.2:
                house_id, own = house["id"], rng.choice(ALL_ESTATES)  # own estate may disagree
            elif roll < 0.25:
                house_id, own = "NO-SUCH-HOUSE", rng.choice(ALL_ESTATES)
            else:
                house_id, own = house["id"], house["estate"]
            status = rng.choice(("active", "active", "active", "ended", "ended", "pending", "rejected"))
            ended = status == "ended"
            w.add(
                "residence",
                id=_id(rng, "R"),
                person_id=pid,
                house_id=house_id,
                estate=own,
                _bi_address=_id(rng, "BI"),
                category=rng.choice(("resident", "lodger", "floating")),
                status=status,
                moved_out=_when(rng) if ended and rng.random() < 0.6 else None,
                decided_at=_when(rng) if ended or rng.random() < 0.5 else None,
                created_at=_when(rng),
            )

    for i in range(12):
        org_estate = rng.choice((*ALL_ESTATES, None))
        w.add(
            "org_unit",
            id=_id(rng, "O"),
            estate=org_estate,
            community=rng.choice(("C1", "C2", None)) if org_estate is None else None,
            name=f"单位{i}",
            kind="shop",
            created_at=_when(rng),
            verified_at=_maybe(rng),
        )

    with svc.db.engine.begin() as conn:
        for table, rows in w.rows.items():
            conn.execute(insert(svc.registry.table(table)), rows)
    return w


# ---- the same rates, counted in Python over every row -------------------------------------------------------
def _by(value: datetime | None, as_of: datetime | None) -> bool:
    return as_of is None or (value is not None and value <= as_of)


def _verified(value: datetime | None, as_of: datetime | None) -> bool:
    return value is not None and (as_of is None or value <= as_of)


def _in_force(r: dict[str, Any], as_of: datetime | None) -> bool:
    if as_of is None:
        return bool(r["status"] == "active")
    if r["created_at"] > as_of:
        return False
    if r["status"] == "active":
        return True
    ended_after = (r["moved_out"] is not None and r["moved_out"] > as_of) or (
        r["moved_out"] is None and r["decided_at"] is not None and r["decided_at"] > as_of
    )
    return r["status"] == "ended" and ended_after


def _expected_in_force(
    w: World, estates: tuple[str, ...], as_of: datetime | None
) -> list[tuple[str, str | None, str | None, str]]:
    house_estate = {h["id"]: h["estate"] for h in w.rows["house"]}
    rows = sorted(
        (
            r
            for r in w.rows["residence"]
            if (r["estate"] in estates or house_estate.get(r["house_id"]) in estates) and _in_force(r, as_of)
        ),
        key=lambda r: (r["person_id"], r["id"]),
    )
    return [
        (r["person_id"], r["house_id"], house_estate.get(r["house_id"]) or r["estate"], r["category"])
        for r in rows
    ]


def _expected(
    w: World, estates: tuple[str, ...], communities: tuple[str, ...], as_of: datetime | None
) -> dict[str, Any]:
    label = {"gate": "name", "building": "name", "unit": "name", "house": "address"}
    plated = {
        (p["target_kind"], p["target_id"])
        for p in w.rows["doorplate"]
        if p["estate"] in estates
        and _by(p["issued_at"], as_of)
        and (p["revoked_at"] is None or (as_of is not None and p["revoked_at"] > as_of))
    }
    doors: dict[str, tuple[int, int]] = {}
    missing: list[tuple[str, str, str | None, str | None]] = []
    for kind in DOOR_KINDS:
        rows = sorted(
            (d for d in w.rows[kind] if d["estate"] in estates and _by(d["created_at"], as_of)),
            key=lambda d: (d["estate"], d["id"]),
        )
        doors[kind] = (sum((kind, d["id"]) in plated for d in rows), len(rows))
        missing += [
            (kind, d["id"], d["estate"], d[label[kind]]) for d in rows if (kind, d["id"]) not in plated
        ]

    houses = sorted(
        (h for h in w.rows["house"] if h["estate"] in estates and _by(h["created_at"], as_of)),
        key=lambda h: (h["estate"], h["id"]),
    )
    people: dict[str, str | None] = {}
    for person, _, estate, _ in _expected_in_force(w, estates, as_of):
        people.setdefault(person, estate)
    verified_at = {p["id"]: p["verified_at"] for p in w.rows["person"]}
    orgs = sorted(
        (
            o
            for o in w.rows["org_unit"]
            if (o["estate"] in estates or (o["estate"] is None and o["community"] in communities))
            and _by(o["created_at"], as_of)
        ),
        key=lambda o: o["id"],
    )
    unverified_people = [
        ("person", p, people[p], None) for p in sorted(people) if not _verified(verified_at.get(p), as_of)
    ]
    return {
        "doors": doors,
        "doors_without_plate": missing,
        "population": (len(people) - len(unverified_people), len(people)),
        "unverified_people": unverified_people,
        "houses": (sum(_verified(h["verified_at"], as_of) for h in houses), len(houses)),
        "unverified_houses": [
            ("house", h["id"], h["estate"], h["address"])
            for h in houses
            if not _verified(h["verified_at"], as_of)
        ],
        "org_units": (sum(_verified(o["verified_at"], as_of) for o in orgs), len(orgs)),
        "unverified_org_units": [
            ("org_unit", o["id"], o["estate"] or o["community"], o["name"])
            for o in orgs
            if not _verified(o["verified_at"], as_of)
        ],
    }


def _got(r: RegistryRates) -> dict[str, Any]:
    def pair(rate: Rate) -> tuple[int, int]:
        return (rate.numerator, rate.denominator)

    def listed(entries: tuple[Entry, ...]) -> list[tuple[str, str, str | None, str | None]]:
        return [(e.kind, e.id, e.estate, e.label) for e in entries]

    return {
        "doors": {k: pair(v) for k, v in r.doors.items()},
        "doors_without_plate": listed(r.doors_without_plate),
        "population": pair(r.population),
        "unverified_people": listed(r.unverified_people),
        "houses": pair(r.houses),
        "unverified_houses": listed(r.unverified_houses),
        "org_units": pair(r.org_units),
        "unverified_org_units": listed(r.unverified_org_units),
    }


KINDS = ("population", "houses", "org_units")
LISTS = ("doors_without_plate", "unverified_people", "unverified_houses", "unverified_org_units")


@pytest.mark.parametrize("as_of", [None, AS_OF, datetime(2026, 2, 15, 12), datetime(2025, 12, 31)])
def test_rates_match_a_python_count_over_every_row(services: Services, as_of: datetime | None) -> None:
    w = _build(services)
    with services.db.engine.connect() as conn:
        region = region_rates(conn, services.registry, services.regions, "C1", as_of=as_of)
        street = region_rates(conn, services.registry, services.regions, "S1", as_of=as_of)
        estate = estate_rates(conn, services.registry, "EA", as_of=as_of)
        limited = region_rates(conn, services.registry, services.regions, "C1", as_of=as_of, limit=3)
        none = region_rates(conn, services.registry, services.regions, "C1", as_of=as_of, limit=0)

    want = _expected(w, COMMUNITY_ESTATES, ("C1",), as_of)
    assert _got(region) == want
    assert _got(street) == _expected(w, ALL_ESTATES, ("C1", "C2", "S1"), as_of)
    assert _got(estate) == _expected(w, ("EA",), (), as_of)
    if as_of is None or as_of > T0 + timedelta(days=30):
        # The fixture exercises what it means to: mixed verification and plates within the community.
        assert 0 < want["population"][0] < want["population"][1]
        assert 0 < want["houses"][0] < want["houses"][1]
        assert want["doors_without_plate"]

    # A limit shortens the lists only, never the counts; to_dict's totals stay the full ones.
    got = _got(limited)
    for key in LISTS:
        assert got[key] == want[key][:3]
    assert {k: v for k, v in got.items() if k not in LISTS} == {
        k: v for k, v in want.items() if k not in LISTS
    }
    assert all(not getattr(none, key) for key in LISTS)
    assert limited.to_dict(3) == region.to_dict(3)
    shown, empty = region.to_dict(), none.to_dict()
    for where in (("doorplates", "without_plate"), *(("verification", k, "unverified") for k in KINDS)):
        a, b = shown, empty
        for key in where:
            a, b = a[key], b[key]
        assert b == {"total": a["total"], "items": []}
    full = region.to_dict()
    assert full["doorplates"]["without_plate"]["total"] == len(want["doors_without_plate"])
    assert full["verification"]["population"]["unverified"]["total"] == len(want["unverified_people"])


@pytest.mark.parametrize("as_of", [None, AS_OF])
def test_residences_in_force_match_a_python_filter(services: Services, as_of: datetime | None) -> None:
    w = _build(services)
    with services.db.engine.connect() as conn:
        got = residences_in_force(conn, services.registry, COMMUNITY_ESTATES, as_of)
    want = _expected_in_force(w, COMMUNITY_ESTATES, as_of)
    assert [(r.person_id, r.house_id, r.estate, r.category) for r in got] == want
    assert len({r.person_id for r in got}) < len(got)  # some people have several residences in force
