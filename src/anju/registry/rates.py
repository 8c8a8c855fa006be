"""Doorplate coverage and verification rates of 一标三实, per estate and per region node (a community
adds up its estates), with the lists that trace every numerator and denominator.

- Doorplate coverage: doors holding an active (unrevoked) QR doorplate over all doors — estate gates,
  buildings, units and houses (Wuhan: 大门、楼栋门、单元门、入户门), overall and per kind.
- Verification of 实有人口: people with an active residence in the estate whose person row is verified;
  of 实有房屋: houses verified; of 实有单位: org units verified. `verification` adds the three up.

With `as_of`, rows created after it are left out, doorplates count when issued by then and not revoked
by then, and a row counts as verified when its `verified_at` is not after it. The registry keeps no
history of deleted rows or of earlier verifications, so a past date is an approximation of that day.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, Connection, Table, and_, or_, select, true

from anju.registry.regions import RegionTree
from anju.registry.store import RegistryStore, naive_utc

DOOR_KINDS = ("gate", "building", "unit", "house")
DOOR_KIND_ZH = {"gate": "小区大门", "building": "楼栋门", "unit": "单元门", "house": "入户门"}
_CHUNK = 500


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def fraction(self) -> Fraction | None:
        """The exact rate; None when there is nothing to count (a rate of an empty set is not 0 or 1)."""
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def value(self) -> float | None:
        f = self.fraction
        return float(f) if f is not None else None

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.numerator + other.numerator, self.denominator + other.denominator)

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": None if v is None else round(v, 6),
            "percent": None if v is None else round(100 * v, 2),
        }


@dataclass(frozen=True)
class Entry:
    """One thing a list traces: a door without a plate, an unverified house, person or org unit."""

    kind: str
    id: str
    estate: str | None
    label: str | None  # gate / building / unit name, house address, org unit name; None for people

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "estate": self.estate, "label": self.label}


@dataclass(frozen=True)
class RegistryRates:
    scope: str
    level: Literal["estate", "region"]
    estates: tuple[str, ...]
    as_of: datetime | None
    doors: dict[str, Rate]  # door kind -> doors with an active plate / doors
    doors_without_plate: tuple[Entry, ...]
    population: Rate
    unverified_people: tuple[Entry, ...]
    houses: Rate
    unverified_houses: tuple[Entry, ...]
    org_units: Rate
    unverified_org_units: tuple[Entry, ...]

    @property
    def doorplates(self) -> Rate:
        return sum(self.doors.values(), Rate(0, 0))

    @property
    def verification(self) -> Rate:
        """一标三实 verification over people, houses and org units together."""
        return self.population + self.houses + self.org_units

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        def listed(entries: tuple[Entry, ...]) -> dict[str, Any]:
            shown = entries if limit is None else entries[:limit]
            return {"total": len(entries), "items": [e.to_dict() for e in shown]}

        return {
            "scope": self.scope,
            "level": self.level,
            "estates": list(self.estates),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "doorplates": {
                **self.doorplates.to_dict(),
                "by_kind": {k: {"zh": DOOR_KIND_ZH[k], **r.to_dict()} for k, r in self.doors.items()},
                "without_plate": listed(self.doors_without_plate),
            },
            "verification": {
                **self.verification.to_dict(),
                "population": {**self.population.to_dict(), "unverified": listed(self.unverified_people)},
                "houses": {**self.houses.to_dict(), "unverified": listed(self.unverified_houses)},
                "org_units": {**self.org_units.to_dict(), "unverified": listed(self.unverified_org_units)},
            },
        }


def _chunks(values: Collection[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _by(column: Column[Any], as_of: datetime | None) -> ColumnElement[bool]:
    """The row existed (or the act happened) by `as_of`."""
    return true() if as_of is None else column <= as_of


def _verified(value: datetime | None, as_of: datetime | None) -> bool:
    return value is not None and (as_of is None or value <= as_of)


def estates_under(conn: Connection, store: RegistryStore, regions: RegionTree, code: str) -> tuple[str, ...]:
    """The estates at or under a region node: estate-level nodes of the tree and estate rows."""
    below = regions.descendants([code])
    region_t, estate_t = store.table("region"), store.table("estate")
    found: set[str] = set()
    for part in _chunks(below):
        found.update(
            conn.execute(
                select(region_t.c.code).where(region_t.c.code.in_(part), region_t.c.level == "estate")
            ).scalars()
        )
        found.update(conn.execute(select(estate_t.c.code).where(estate_t.c.code.in_(part))).scalars())
    return tuple(sorted(found))


def estate_rates(
    conn: Connection, store: RegistryStore, estate: str, *, as_of: datetime | None = None
) -> RegistryRates:
    return _rates(conn, store, estate, "estate", (estate,), (), naive_utc(as_of))


def region_rates(
    conn: Connection, store: RegistryStore, regions: RegionTree, code: str, *, as_of: datetime | None = None
) -> RegistryRates:
    """Rates of every estate at or under a node (a community, a street…), added up; org units registered
    to a community without an estate count there too."""
    estates = estates_under(conn, store, regions, code)
    nodes = tuple(sorted(regions.descendants([code])))
    return _rates(conn, store, code, "region", estates, nodes, naive_utc(as_of))


def _rates(
    conn: Connection,
    store: RegistryStore,
    scope: str,
    level: Literal["estate", "region"],
    estates: tuple[str, ...],
    communities: tuple[str, ...],
    as_of: datetime | None,
) -> RegistryRates:
    t = store.tables
    doors: dict[str, list[Entry]] = {}
    label_of = {"gate": "name", "building": "name", "unit": "name", "house": "address"}
    houses: list[tuple[Entry, datetime | None]] = []
    for kind in DOOR_KINDS:
        table = t[kind]
        rows = conn.execute(
            select(table.c.id, table.c.estate, table.c[label_of[kind]], table.c.verified_at)
            .where(table.c.estate.in_(estates), _by(table.c.created_at, as_of))
            .order_by(table.c.estate, table.c.id)
        ).all()
        doors[kind] = [Entry(kind, r[0], r[1], r[2]) for r in rows]
        if kind == "house":
            houses = [(Entry("house", r[0], r[1], r[2]), r[3]) for r in rows]

    plate = t["doorplate"]
    not_revoked: ColumnElement[bool] = plate.c.revoked_at.is_(None)
    if as_of is not None:
        not_revoked = or_(not_revoked, plate.c.revoked_at > as_of)
    plated = {
        (k, i)
        for k, i in conn.execute(
            select(plate.c.target_kind, plate.c.target_id).where(
                plate.c.estate.in_(estates), not_revoked, _by(plate.c.issued_at, as_of)
            )
        )
    }
    by_kind = {
        kind: Rate(sum(1 for e in entries if (kind, e.id) in plated), len(entries))
        for kind, entries in doors.items()
    }
    missing = tuple(e for kind in DOOR_KINDS for e in doors[kind] if (kind, e.id) not in plated)

    population, unverified_people = _population(conn, store, estates, as_of)
    org_units, unverified_units = _org_units(conn, t["org_unit"], estates, communities, as_of)
    return RegistryRates(
        scope=scope,
        level=level,
        estates=estates,
        as_of=as_of,
        doors=by_kind,
        doors_without_plate=missing,
        population=population,
        unverified_people=unverified_people,
        houses=Rate(sum(1 for _, v in houses if _verified(v, as_of)), len(houses)),
        unverified_houses=tuple(e for e, v in houses if not _verified(v, as_of)),
        org_units=org_units,
        unverified_org_units=unverified_units,
    )


@dataclass(frozen=True)
class InForce:
    """A residence in force: who, where, in which category."""

    person_id: str
    house_id: str | None
    estate: str | None
    category: str


def residences_in_force(
    conn: Connection, store: RegistryStore, estates: Collection[str], as_of: datetime | None = None
) -> list[InForce]:
    """Residences in force (at `as_of`: active then, or ended after it) in the estates.

    A residence belongs to an estate by its own estate column or by its house's."""
    res, house = store.table("residence"), store.table("house")
    in_estates = or_(
        res.c.estate.in_(estates),
        res.c.house_id.in_(select(house.c.id).where(house.c.estate.in_(estates))),
    )
    if as_of is None:
        in_force: ColumnElement[bool] = res.c.status == "active"
    else:
        ended_after = and_(
            res.c.status == "ended",
            or_(res.c.moved_out > as_of, and_(res.c.moved_out.is_(None), res.c.decided_at > as_of)),
        )
        in_force = and_(res.c.created_at <= as_of, or_(res.c.status == "active", ended_after))
    rows = conn.execute(
        select(res.c.person_id, res.c.house_id, res.c.estate, house.c.estate, res.c.category)
        .select_from(res.outerjoin(house, house.c.id == res.c.house_id))
        .where(in_estates, in_force)
        .order_by(res.c.person_id, res.c.id)
    )
    return [
        InForce(person, house_id, via_house or own, category)
        for person, house_id, own, via_house, category in rows
    ]


def _population(
    conn: Connection, store: RegistryStore, estates: Collection[str], as_of: datetime | None
) -> tuple[Rate, tuple[Entry, ...]]:
    people: dict[str, str | None] = {}
    for r in residences_in_force(conn, store, estates, as_of):
        people.setdefault(r.person_id, r.estate)
    person = store.table("person")
    verified: dict[str, datetime | None] = {}
    for part in _chunks(people):
        verified.update(
            conn.execute(select(person.c.id, person.c.verified_at).where(person.c.id.in_(part))).all()
        )
    unverified = tuple(
        Entry("person", pid, people[pid], None)
        for pid in sorted(people)
        if not _verified(verified.get(pid), as_of)
    )
    return Rate(len(people) - len(unverified), len(people)), unverified


def _org_units(
    conn: Connection,
    org: Table,
    estates: Collection[str],
    communities: Collection[str],
    as_of: datetime | None,
) -> tuple[Rate, tuple[Entry, ...]]:
    where: ColumnElement[bool] = org.c.estate.in_(estates)
    if communities:
        where = or_(where, and_(org.c.estate.is_(None), org.c.community.in_(communities)))
    rows = conn.execute(
        select(org.c.id, org.c.estate, org.c.community, org.c.name, org.c.verified_at)
        .where(where, _by(org.c.created_at, as_of))
        .order_by(org.c.id)
    ).all()
    unverified = tuple(
        Entry("org_unit", r.id, r.estate or r.community, r.name)
        for r in rows
        if not _verified(r.verified_at, as_of)
    )
    return Rate(len(rows) - len(unverified), len(rows)), unverified
