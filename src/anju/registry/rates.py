"""Doorplate coverage and verification rates of 一标三实, per estate and per region node (a community
adds up its estates), with the lists that trace every numerator and denominator.

- Doorplate coverage: doors holding an active (unrevoked) QR doorplate over all doors — estate gates,
  buildings, units and houses (Wuhan: 大门、楼栋门、单元门、入户门), overall and per kind.
- Verification of 实有人口: people with an active residence in the estate whose person row is verified;
  of 实有房屋: houses verified; of 实有单位: org units verified. `verification` adds the three up.

With `as_of`, rows created after it are left out, doorplates count when issued by then and not revoked
by then, and a row counts as verified when its `verified_at` is not after it. The registry keeps no
history of deleted rows or of earlier verifications, so a past date is an approximation of that day.

Every count is made by the database (COUNT, COUNT DISTINCT over joins): a community holds tens of
thousands of people, and fetching their rows to count them in Python cost most of a scorecard. Only the
entries of the trace lists are fetched, and with `limit` only the first of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    Column,
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

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
        def listed(entries: tuple[Entry, ...], rate: Rate) -> dict[str, Any]:
            shown = entries if limit is None else entries[:limit]
            # From the rate rather than len(entries): rates computed with a `limit` list only the first.
            return {"total": rate.denominator - rate.numerator, "items": [e.to_dict() for e in shown]}

        return {
            "scope": self.scope,
            "level": self.level,
            "estates": list(self.estates),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "doorplates": {
                **self.doorplates.to_dict(),
                "by_kind": {k: {"zh": DOOR_KIND_ZH[k], **r.to_dict()} for k, r in self.doors.items()},
                "without_plate": listed(self.doors_without_plate, self.doorplates),
            },
            "verification": {
                **self.verification.to_dict(),
                "population": {
                    **self.population.to_dict(),
                    "unverified": listed(self.unverified_people, self.population),
                },
                "houses": {
                    **self.houses.to_dict(),
                    "unverified": listed(self.unverified_houses, self.houses),
                },
                "org_units": {
                    **self.org_units.to_dict(),
                    "unverified": listed(self.unverified_org_units, self.org_units),
                },
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


def _verified_sql(column: Column[Any], as_of: datetime | None) -> ColumnElement[bool]:
    """`_verified` in SQL."""
    verified = column.is_not(None)
    return verified if as_of is None else and_(verified, column <= as_of)


def _unverified_sql(column: Column[Any], as_of: datetime | None) -> ColumnElement[bool]:
    """The complement of `_verified_sql`, written out so that a NULL never makes it unknown."""
    unverified = column.is_(None)
    return unverified if as_of is None else or_(unverified, column > as_of)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _codepoint(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`column` ordered as Python sorts str (by code point), whatever the database's collation: SQLite's
    BINARY already does, PostgreSQL's "C" does on UTF-8."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column


def _listed(conn: Connection, query: Select[Any], limit: int | None) -> list[Any]:
    if limit is not None:
        if limit <= 0:
            return []
        query = query.limit(limit)
    return list(conn.execute(query).all())


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
    conn: Connection,
    store: RegistryStore,
    estate: str,
    *,
    as_of: datetime | None = None,
    limit: int | None = None,
) -> RegistryRates:
    """Rates of one estate. With `limit`, each trace list holds only its first `limit` entries (in the
    order a full list has); the rates still count everything, and `to_dict` reports the full totals."""
    return _rates(conn, store, estate, "estate", (estate,), (), naive_utc(as_of), limit)


def region_rates(
    conn: Connection,
    store: RegistryStore,
    regions: RegionTree,
    code: str,
    *,
    as_of: datetime | None = None,
    limit: int | None = None,
) -> RegistryRates:
    """Rates of every estate at or under a node (a community, a street…), added up; org units registered
    to a community without an estate count there too. `limit` as in `estate_rates`."""
    estates = estates_under(conn, store, regions, code)
    nodes = tuple(sorted(regions.descendants([code])))
    return _rates(conn, store, code, "region", estates, nodes, naive_utc(as_of), limit)


def _rates(
    conn: Connection,
    store: RegistryStore,
    scope: str,
    level: Literal["estate", "region"],
    estates: tuple[str, ...],
    communities: tuple[str, ...],
    as_of: datetime | None,
    limit: int | None,
) -> RegistryRates:
    doors, missing = _doors(conn, store, estates, as_of, limit)
    population, unverified_people = _population(conn, store, estates, as_of, limit)
    houses, unverified_houses = _houses(conn, store.table("house"), estates, as_of, limit)
    org_units, unverified_units = _org_units(
        conn, store.table("org_unit"), estates, communities, as_of, limit
    )
    return RegistryRates(
        scope=scope,
        level=level,
        estates=estates,
        as_of=as_of,
        doors=doors,
        doors_without_plate=missing,
        population=population,
        unverified_people=unverified_people,
        houses=houses,
        unverified_houses=unverified_houses,
        org_units=org_units,
        unverified_org_units=unverified_units,
    )


_LABEL = {"gate": "name", "building": "name", "unit": "name", "house": "address"}


def _doors(
    conn: Connection,
    store: RegistryStore,
    estates: tuple[str, ...],
    as_of: datetime | None,
    limit: int | None,
) -> tuple[dict[str, Rate], tuple[Entry, ...]]:
    """Doors per kind and those with an active plate (one query), and the doors without one."""
    plate = store.table("doorplate")
    not_revoked: ColumnElement[bool] = plate.c.revoked_at.is_(None)
    if as_of is not None:
        not_revoked = or_(not_revoked, plate.c.revoked_at > as_of)

    def plated(kind: str) -> Select[Any]:
        # Uncorrelated, so both databases build the set of plated ids once, not once per door.
        return select(plate.c.target_id).where(
            plate.c.target_kind == kind,
            plate.c.estate.in_(estates),
            not_revoked,
            _by(plate.c.issued_at, as_of),
        )

    counts = union_all(
        *(
            select(
                literal(i).label("kind"),
                func.count().label("doors"),
                _count_if(store.table(kind).c.id.in_(plated(kind))).label("plated"),
            ).where(store.table(kind).c.estate.in_(estates), _by(store.table(kind).c.created_at, as_of))
            for i, kind in enumerate(DOOR_KINDS)
        )
    )
    found = {int(r.kind): Rate(int(r.plated), int(r.doors)) for r in conn.execute(counts)}
    rates = {kind: found.get(i, Rate(0, 0)) for i, kind in enumerate(DOOR_KINDS)}

    missing: list[Entry] = []
    for kind in DOOR_KINDS:
        left = None if limit is None else limit - len(missing)
        rate = rates[kind]
        if rate.numerator == rate.denominator or left == 0:
            continue
        table = store.table(kind)
        rows = _listed(
            conn,
            select(table.c.id, table.c.estate, table.c[_LABEL[kind]])
            .where(
                table.c.estate.in_(estates),
                _by(table.c.created_at, as_of),
                table.c.id.not_in(plated(kind)),
            )
            .order_by(table.c.estate, table.c.id),
            left,
        )
        missing.extend(Entry(kind, r[0], r[1], r[2]) for r in rows)
    return rates, tuple(missing)


def _houses(
    conn: Connection, house: Table, estates: Collection[str], as_of: datetime | None, limit: int | None
) -> tuple[Rate, tuple[Entry, ...]]:
    where = and_(house.c.estate.in_(estates), _by(house.c.created_at, as_of))
    total, verified = conn.execute(
        select(func.count(), _count_if(_verified_sql(house.c.verified_at, as_of))).where(where)
    ).one()
    rows = _listed(
        conn,
        select(house.c.id, house.c.estate, house.c.address)
        .where(where, _unverified_sql(house.c.verified_at, as_of))
        .order_by(house.c.estate, house.c.id),
        limit if verified < total else 0,
    )
    return Rate(int(verified), int(total)), tuple(Entry("house", r[0], r[1], r[2]) for r in rows)


@dataclass(frozen=True)
class InForce:
    """A residence in force: who, where, in which category."""

    person_id: str
    house_id: str | None
    estate: str | None
    category: str


def _in_force(store: RegistryStore, estates: Collection[str], as_of: datetime | None) -> ColumnElement[bool]:
    """Residences in force at `as_of` in the estates: active then, or ended after it. A residence belongs
    to an estate by its own estate column or by its house's."""
    res, house = store.table("residence"), store.table("house")
    in_estates = or_(
        res.c.estate.in_(estates),
        res.c.house_id.in_(select(house.c.id).where(house.c.estate.in_(estates))),
    )
    if as_of is None:
        return and_(in_estates, res.c.status == "active")
    ended_after = and_(
        res.c.status == "ended",
        or_(res.c.moved_out > as_of, and_(res.c.moved_out.is_(None), res.c.decided_at > as_of)),
    )
    return and_(in_estates, res.c.created_at <= as_of, or_(res.c.status == "active", ended_after))


def _materialized(conn: Connection, cte: CTE) -> CTE:
    """Left to itself, SQLite orders residences by person through the (person_id, _bi_address) index,
    fetching each row from the table in that order: several times slower than scanning the table and
    sorting what it found, which a materialized CTE makes it do. PostgreSQL plans this well as it is."""
    version = conn.dialect.server_version_info or ()
    if conn.dialect.name == "sqlite" and version >= (3, 35):
        return cte.prefix_with("MATERIALIZED")
    return cte


def residences_in_force(
    conn: Connection, store: RegistryStore, estates: Collection[str], as_of: datetime | None = None
) -> list[InForce]:
    """Residences in force (at `as_of`: active then, or ended after it) in the estates, by person and
    residence id. A residence belongs to an estate by its own estate column or by its house's.

    To count people or houses, count in SQL (as `_population` does) rather than through this list."""
    res, house = store.table("residence"), store.table("house")
    found = _materialized(
        conn,
        select(
            res.c.person_id,
            res.c.id,
            res.c.house_id,
            res.c.estate,
            house.c.estate.label("house_estate"),
            res.c.category,
        )
        .select_from(res.outerjoin(house, house.c.id == res.c.house_id))
        .where(_in_force(store, estates, as_of))
        .cte("in_force"),
    )
    rows = conn.execute(
        select(
            found.c.person_id, found.c.house_id, found.c.estate, found.c.house_estate, found.c.category
        ).order_by(found.c.person_id, found.c.id)
    ).all()  # fetchall: iterating the result fetches row by row, several times slower
    return [
        InForce(person, house_id, via_house or own, category)
        for person, house_id, own, via_house, category in rows
    ]


def _population(
    conn: Connection,
    store: RegistryStore,
    estates: Collection[str],
    as_of: datetime | None,
    limit: int | None,
) -> tuple[Rate, tuple[Entry, ...]]:
    """People with a residence in force in the estates, each once, and those whose person row is not
    verified (or missing), listed by person id with the estate of their first residence by id."""
    res, house, person = store.table("residence"), store.table("house"), store.table("person")
    where = _in_force(store, estates, as_of)
    with_person = res.outerjoin(person, person.c.id == res.c.person_id)
    people, verified = conn.execute(
        select(
            func.count(res.c.person_id.distinct()),
            # A person's verification is one value, so every residence of theirs agrees on it.
            func.count(case((_verified_sql(person.c.verified_at, as_of), res.c.person_id)).distinct()),
        )
        .select_from(with_person)
        .where(where)
    ).one()
    rate = Rate(int(verified), int(people))
    if verified == people or limit == 0:
        return rate, ()
    # Every residence of an unverified person passes this filter, so the window below sees them all.
    unverified = _materialized(
        conn,
        select(res.c.person_id, res.c.id, res.c.house_id, res.c.estate)
        .select_from(with_person)
        .where(where, _unverified_sql(person.c.verified_at, as_of))
        .cte("unverified"),
    )
    first = select(
        unverified,
        func.row_number().over(partition_by=unverified.c.person_id, order_by=unverified.c.id).label("nth"),
    ).subquery("first")
    rows = _listed(
        conn,
        # `residences_in_force` gives a residence its house's estate, else its own (`via_house or own`).
        select(first.c.person_id, func.coalesce(func.nullif(house.c.estate, ""), first.c.estate))
        .select_from(first.outerjoin(house, house.c.id == first.c.house_id))
        .where(first.c.nth == 1)
        .order_by(_codepoint(conn, first.c.person_id)),
        limit,
    )
    return rate, tuple(Entry("person", r[0], r[1], None) for r in rows)


def _org_units(
    conn: Connection,
    org: Table,
    estates: Collection[str],
    communities: Collection[str],
    as_of: datetime | None,
    limit: int | None,
) -> tuple[Rate, tuple[Entry, ...]]:
    in_scope: ColumnElement[bool] = org.c.estate.in_(estates)
    if communities:
        in_scope = or_(in_scope, and_(org.c.estate.is_(None), org.c.community.in_(communities)))
    where = and_(in_scope, _by(org.c.created_at, as_of))
    total, verified = conn.execute(
        select(func.count(), _count_if(_verified_sql(org.c.verified_at, as_of))).where(where)
    ).one()
    rows = _listed(
        conn,
        select(org.c.id, org.c.estate, org.c.community, org.c.name)
        .where(where, _unverified_sql(org.c.verified_at, as_of))
        .order_by(org.c.id),
        limit if verified < total else 0,
    )
    return Rate(int(verified), int(total)), tuple(
        Entry("org_unit", r.id, r.estate or r.community, r.name) for r in rows
    )
