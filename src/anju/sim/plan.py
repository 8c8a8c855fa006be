"""The simulated community as a plain object: the site plan (estates with boundary polygons, gates,
buildings, units, houses, devices placed on it), the people and vehicles, and what no table holds yet
(shelters, emergency supplies). sim.generate builds it; sim.load enters it through the pipeline and the
registry's own functions; `to_json` is the file the generator writes beside the database."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

# Metres per degree of latitude; a degree of longitude is this times cos(latitude).
_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float

    def offset(self, east_m: float, north_m: float) -> Point:
        """The point `east_m` metres east and `north_m` metres north, rounded to the standard's 6 places."""
        lat = self.lat + north_m / _M_PER_DEG
        lon = self.lon + east_m / (_M_PER_DEG * math.cos(math.radians(self.lat)))
        return Point(round(lat, 6), round(lon, 6))


@dataclass(slots=True)
class Device:
    id: str
    kind: str  # registry/data/device_kinds.yaml
    estate: str
    name: str
    location: str
    at: Point
    building_id: str | None = None
    # What the device watches: a gate, a unit's stairwell, a house (help buttons), a perimeter zone.
    watches: str | None = None


@dataclass(slots=True)
class House:
    id: str
    code: str
    number: str  # 门牌: floor and door, e.g. 1203
    floor: int
    estate: str
    building_id: str
    unit_id: str
    address: str  # the standard address the registry builds for it (registry.addresses.house_address)
    rented: bool = False
    vacant: bool = False


@dataclass(slots=True)
class Unit:
    id: str
    code: str
    name: str
    building_id: str
    houses: list[House] = field(default_factory=list)


@dataclass(slots=True)
class Building:
    id: str
    code: str
    name: str  # 1栋
    at: Point
    floors: int
    built: date
    units: list[Unit] = field(default_factory=list)


@dataclass(slots=True)
class Gate:
    id: str
    name: str
    at: Point
    vehicles: bool  # a vehicle gate with a barrier, or a pedestrian gate


@dataclass(slots=True)
class OrgUnit:
    id: str
    name: str
    kind: str  # registry/data/org_kinds.yaml
    estate: str
    at: Point


@dataclass(slots=True)
class Estate:
    code: str
    name: str
    road: str
    address: str  # 武汉市黄陂区幸福路18号
    boundary: list[Point]  # a closed ring, first point repeated last
    centre: Point
    gates: list[Gate] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    org_units: list[OrgUnit] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)

    def houses(self) -> list[House]:
        return [h for b in self.buildings for u in b.units for h in u.houses]

    def boundary_geojson(self) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": [[[p.lon, p.lat] for p in self.boundary]]}


@dataclass(slots=True)
class Person:
    id_number: str
    name: str
    sex: str  # GB/T 2261.1: 1 male, 2 female
    born: date
    phone: str
    estate: str
    house_id: str
    relation: str  # YFZGX: 0 householder, 1 spouse, 2 son, 3 daughter, 5 parent, 9 other (tenant)
    floating: bool  # a tenant: registered by the property desk and by the police population sync
    elderly_alone: bool = False
    card: str = ""  # 居民卡编号 of the access-control card


@dataclass(slots=True)
class Vehicle:
    plate: str
    estate: str
    owner: str | None  # the owner's ID number; None for a visitor's car


@dataclass(slots=True)
class Shelter:
    id: str
    name: str
    estate: str
    at: Point
    capacity: int


@dataclass(slots=True)
class Supply:
    name: str
    unit: str
    quantity: int
    estate: str
    building_id: str | None


@dataclass(slots=True)
class Region:
    code: str
    name: str


@dataclass(slots=True)
class Community:
    seed: int
    district: Region  # a current GB/T 2260 county
    street: Region  # three-digit street code within the district
    community: Region
    police_station: str
    manager: Person  # the property manager, 委托代理人 of the building records
    estates: list[Estate] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    shelters: list[Shelter] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    watch_plate: str = ""  # a plate on the watchlist that turns up in the stream (incident watchlist_plate)

    def estate(self, code: str) -> Estate:
        for e in self.estates:
            if e.code == code:
                return e
        raise KeyError(code)

    def devices(self) -> list[Device]:
        return [d for e in self.estates for d in e.devices]

    def houses(self) -> list[House]:
        return [h for e in self.estates for h in e.houses()]

    def to_json(self) -> bytes:
        """The whole plan as JSON (dates as ISO text): identical bytes for identical plans."""
        return orjson.dumps(self, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
