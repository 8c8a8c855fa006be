"""Build a simulated community, deterministically for a seed: the same seed and sizes give the same plan,
byte for byte (`Community.to_json`). Nothing here touches a database (sim.load does that).

The site plan: estates side by side along a road, each a rectangle about 220 m × 170 m with a gate on
the road side (vehicles and people) and a pedestrian gate at the back, buildings in rows inside. Every
subsystem's devices stand where they would: a reader, a face camera and a camera at each pedestrian gate,
a barrier and a camera at the vehicle gate, a perimeter zone per side, a smoke sensor in every stairwell
and a reader at every unit door, hydrant pressure and a meter per building, a help button in the home of
each elderly resident living alone, and patrol checkpoints at the gates and plant rooms.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from functools import cache

from anju.registry.addresses import house_address
from anju.sim import catalog
from anju.sim.names import citizen_id, person_name
from anju.sim.plan import (
    Building,
    Community,
    Device,
    Estate,
    Gate,
    House,
    OrgUnit,
    Person,
    Point,
    Region,
    Shelter,
    Supply,
    Unit,
    Vehicle,
)
from anju.standard.dictionaries import load_dictionaries
from anju.standard.samples import mobile, plate

# Ages are counted at this date rather than today, so that a seed gives the same people on any day.
REFERENCE = date(2025, 1, 1)
DEFAULT_DISTRICT = "420116"  # 黄陂区: the district of the shipped ZRQ and XZJD sample dictionaries
_ORIGIN = Point(30.8702, 114.2731)  # where the first estate's south-west corner lies (黄陂区)
_ESTATE_W, _ESTATE_H = 220.0, 170.0  # metres
_HOUSES_PER_FLOOR = 2
_UNITS = 2
MAX_ESTATES = 20
MAX_HOUSEHOLDS = 20_000


class SizeInvalid(ValueError):
    def __init__(self, option: str, value: int, expected: str) -> None:
        super().__init__(f"{option}={value}: {expected}")
        self.option, self.value, self.expected = option, value, expected


@cache
def _counties() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Current county-level codes of GB/T 2260: (those of Hubei, all of them)."""
    xzqh = load_dictionaries()["XZQH"]
    codes = tuple(sorted(e.code for e in xzqh.entries() if e.level == "county" and xzqh.current(e.code)))
    return tuple(c for c in codes if c.startswith("42")), codes


def _birthplace(rng: random.Random) -> str:
    """Most residents of a Wuhan estate were born in Hubei; the rest anywhere in China."""
    hubei, everywhere = _counties()
    return rng.choice(hubei if rng.random() < 0.75 else everywhere)


def _born(rng: random.Random, age_from: int, age_to: int) -> date:
    age_days = rng.randrange(age_from * 365, age_to * 365 + 1)
    return REFERENCE - timedelta(days=age_days)


def _check_sizes(estates: int, households: int) -> None:
    if not 1 <= estates <= MAX_ESTATES:
        raise SizeInvalid("--estates", estates, f"应为 1-{MAX_ESTATES} / expected 1-{MAX_ESTATES}")
    if not estates <= households <= MAX_HOUSEHOLDS:
        raise SizeInvalid(
            "--households",
            households,
            f"应为 {estates}-{MAX_HOUSEHOLDS}（每个小区至少一户）/ expected {estates}-{MAX_HOUSEHOLDS} "
            "(at least one per estate)",
        )


def generate(*, estates: int, households: int, seed: int, district: str = DEFAULT_DISTRICT) -> Community:
    """A community of `estates` estates holding `households` houses in all (spread evenly)."""
    _check_sizes(estates, households)
    rng = random.Random(seed)
    names = catalog.load("names")
    xzqh = load_dictionaries()["XZQH"]
    entry = xzqh.get(district)
    if entry is None or entry.level != "county" or not xzqh.current(district):
        raise SizeInvalid("--district", int(district) if district.isdigit() else -1, "现行县级区划代码")
    street_name = rng.choice(names["streets"])
    community_name = rng.choice(names["communities"])
    c = Community(
        seed=seed,
        district=Region(district, entry.zh),
        street=Region("001", street_name),
        community=Region(f"{district}001{seed % 1000:03d}", community_name),
        police_station=rng.choice(names["police_stations"]),
        manager=_person(rng, "", "", "0", floating=False, age=(30, 55)),
    )
    estate_names = rng.sample(names["estate_names"], min(estates, len(names["estate_names"])))
    road = rng.choice(names["roads"])
    for i in range(estates):
        share = households // estates + (1 if i < households % estates else 0)
        name = estate_names[i] if i < len(estate_names) else f"{estate_names[i % len(estate_names)]}{i + 1}期"
        estate = _estate(rng, c, i, name, road, share)
        c.estates.append(estate)
        _residents(rng, c, estate)
        _devices(c, estate)
        _org_units(rng, estate, names)
        _emergency(c, estate, names)
    c.watch_plate = _new_plate(rng, {v.plate for v in c.vehicles})
    return c


def _estate(rng: random.Random, c: Community, i: int, name: str, road: str, households: int) -> Estate:
    code = f"SIM{c.seed % 100000}-{i + 1:02d}"
    sw = _ORIGIN.offset(i * (_ESTATE_W + 40.0), 0.0)
    corners = [sw, sw.offset(_ESTATE_W, 0), sw.offset(_ESTATE_W, _ESTATE_H), sw.offset(0, _ESTATE_H)]
    address = f"武汉市{c.district.name}{road}{(i + 1) * 18}号"
    estate = Estate(
        code=code,
        name=name,
        road=road,
        address=address,
        boundary=[*corners, corners[0]],
        centre=sw.offset(_ESTATE_W / 2, _ESTATE_H / 2),
    )
    estate.gates = [
        Gate(f"{code}-G1", "南门", sw.offset(_ESTATE_W / 2, 0), vehicles=True),
        Gate(f"{code}-G2", "北门", sw.offset(_ESTATE_W / 2, _ESTATE_H), vehicles=False),
    ]
    per_building = _UNITS * _HOUSES_PER_FLOOR
    count = max(2, min(12, math.ceil(households / (per_building * 6))))
    floors = max(3, min(33, math.ceil(households / (count * per_building))))
    cols = min(count, 4)
    rows = math.ceil(count / cols)
    left = households
    for n in range(count):
        col, row = n % cols, n // cols
        at = sw.offset(
            30 + col * (_ESTATE_W - 60) / max(cols - 1, 1), 35 + row * (_ESTATE_H - 70) / max(rows, 1)
        )
        bid = f"{code}-B{n + 1:02d}"
        b = Building(
            bid, bid, f"{n + 1}栋", at, floors, date(rng.randrange(1998, 2020), rng.randrange(1, 13), 1)
        )
        for u in range(1, _UNITS + 1):
            unit = Unit(f"{bid}-U{u}", f"{bid}-U{u}", f"{u}单元", bid)
            for floor in range(1, floors + 1):
                for door in range(1, _HOUSES_PER_FLOOR + 1):
                    if left <= 0:
                        break
                    number = f"{floor}{door:02d}"
                    unit.houses.append(
                        House(
                            id=f"{unit.id}-{number}",
                            code=f"{unit.id}-{number}",
                            number=number,
                            floor=floor,
                            estate=code,
                            building_id=bid,
                            unit_id=unit.id,
                            address=house_address(address, b.name, unit.name, number),
                            rented=rng.random() < 0.15,
                            vacant=rng.random() < 0.08,
                        )
                    )
                    left -= 1
            b.units.append(unit)
        estate.buildings.append(b)
    return estate


def _person(
    rng: random.Random,
    estate: str,
    house: str,
    relation: str,
    *,
    floating: bool,
    age: tuple[int, int],
    sex: str | None = None,
) -> Person:
    sex = sex or rng.choice("12")
    born = _born(rng, *age)
    return Person(
        id_number=citizen_id(rng, _birthplace(rng), born, sex),
        name=person_name(rng, sex, born),
        sex=sex,
        born=born,
        phone=mobile(rng),
        estate=estate,
        house_id=house,
        relation=relation,
        floating=floating,
        card=f"K{rng.randrange(10**9, 10**10)}",
    )


def _residents(rng: random.Random, c: Community, estate: Estate) -> None:
    """A household per occupied house: an elderly person living alone (about one in ten), tenants, or a
    family of one to five (householder, spouse, children, perhaps a parent)."""
    for h in estate.houses():
        if h.vacant:
            continue
        code = estate.code
        if not h.rented and rng.random() < 0.1:
            old = _person(rng, code, h.id, "0", floating=False, age=(66, 90))
            old.elderly_alone = True
            c.people.append(old)
            continue
        if h.rented:
            for _ in range(rng.choice((1, 1, 2, 3))):
                c.people.append(_person(rng, code, h.id, "9", floating=True, age=(20, 45)))
            continue
        head = _person(rng, code, h.id, "0", floating=False, age=(30, 65))
        family = [head]
        if rng.random() < 0.8:
            spouse_age = max(22, (REFERENCE - head.born).days // 365 + rng.randrange(-5, 4))
            spouse_sex = "2" if head.sex == "1" else "1"
            family.append(
                _person(rng, code, h.id, "1", floating=False, age=(spouse_age, spouse_age), sex=spouse_sex)
            )
        for _ in range(rng.choice((0, 1, 1, 2))):
            child = _person(rng, code, h.id, "2", floating=False, age=(1, 25))
            child.relation = "2" if child.sex == "1" else "3"
            family.append(child)
        if rng.random() < 0.15:
            family.append(_person(rng, code, h.id, "5", floating=False, age=(62, 88)))
        c.people.extend(family)
        if rng.random() < 0.6:
            c.vehicles.append(Vehicle(_new_plate(rng, {v.plate for v in c.vehicles}), code, head.id_number))


def _new_plate(rng: random.Random, taken: set[str]) -> str:
    while True:
        p = plate(rng)
        if p not in taken:
            return p


def _devices(c: Community, e: Estate) -> None:
    code = e.code
    add = e.devices.append
    sw = e.boundary[0]
    for g in e.gates:
        tag = g.id.rsplit("-", 1)[1]
        if g.vehicles:
            add(
                Device(
                    f"{code}-VG-{tag}",
                    "vehicle_gate",
                    code,
                    f"{g.name}道闸",
                    f"{e.name}{g.name}车行道",
                    g.at,
                    watches=g.id,
                )
            )
        add(
            Device(
                f"{code}-AC-{tag}",
                "access_reader",
                code,
                f"{g.name}门禁",
                f"{e.name}{g.name}",
                g.at,
                watches=g.id,
            )
        )
        add(
            Device(
                f"{code}-FC-{tag}",
                "face_camera",
                code,
                f"{g.name}人脸抓拍",
                f"{e.name}{g.name}",
                g.at,
                watches=g.id,
            )
        )
        add(
            Device(
                f"{code}-CAM-{tag}",
                "camera",
                code,
                f"{g.name}监控",
                f"{e.name}{g.name}出入口",
                g.at.offset(3, 3),
                watches=g.id,
            )
        )
    for n, (side, east, north) in enumerate(
        (
            ("南侧", _ESTATE_W / 2, 0.0),
            ("东侧", _ESTATE_W, _ESTATE_H / 2),
            ("北侧", _ESTATE_W / 2, _ESTATE_H),
            ("西侧", 0.0, _ESTATE_H / 2),
        ),
        start=1,
    ):
        add(
            Device(
                f"{code}-PA-Z{n}",
                "perimeter_sensor",
                code,
                f"周界{n}号防区",
                f"{e.name}{side}围墙",
                sw.offset(east, north),
                watches=f"Z{n}",
            )
        )
    elderly = {p.house_id for p in c.people if p.elderly_alone and p.estate == code}
    for b in e.buildings:
        tag = b.id.rsplit("-", 1)[1]
        add(
            Device(
                f"{code}-HYD-{tag}",
                "water_sensor",
                code,
                f"{b.name}消火栓水压",
                f"{e.name}{b.name}消火栓",
                b.at.offset(-8, 0),
                b.id,
            )
        )
        add(
            Device(
                f"{code}-MTR-{tag}",
                "meter",
                code,
                f"{b.name}电表",
                f"{e.name}{b.name}配电间",
                b.at.offset(8, 0),
                b.id,
            )
        )
        for u in b.units:
            ut = f"{tag}{u.id.rsplit('-', 1)[1]}"
            place = f"{e.name}{b.name}{u.name}"
            add(
                Device(
                    f"{code}-AC-{ut}",
                    "access_reader",
                    code,
                    f"{b.name}{u.name}门禁",
                    f"{place}单元门",
                    b.at,
                    b.id,
                    u.id,
                )
            )
            add(
                Device(
                    f"{code}-SMK-{ut}",
                    "smoke_sensor",
                    code,
                    f"{b.name}{u.name}楼道烟感",
                    f"{place}楼梯间",
                    b.at,
                    b.id,
                    u.id,
                )
            )
            for h in u.houses:
                if h.id in elderly:
                    add(
                        Device(
                            f"{code}-SOS-{ut}-{h.number}",
                            "help_button",
                            code,
                            "一键求助",
                            f"{place}{h.number}室",
                            b.at,
                            b.id,
                            h.id,
                        )
                    )
    for n, (what, east, north) in enumerate(
        (
            ("南门岗亭", _ESTATE_W / 2 + 6, 4.0),
            ("北门", _ESTATE_W / 2 - 6, _ESTATE_H - 4),
            ("水泵房", 12.0, 12.0),
            ("配电房", _ESTATE_W - 12, 12.0),
        ),
        start=1,
    ):
        add(
            Device(
                f"{code}-CP-{n}",
                "patrol_checkpoint",
                code,
                f"巡更点{n}",
                f"{e.name}{what}",
                sw.offset(east, north),
            )
        )


def _org_units(rng: random.Random, e: Estate, names: dict[str, object]) -> None:
    choices = list(names["org_units"])  # type: ignore[call-overload]
    for n, org in enumerate(rng.sample(choices, min(2, len(choices))), start=1):
        e.org_units.append(
            OrgUnit(
                f"{e.code}-O{n}",
                f"{e.name}{org['name']}",
                str(org["kind"]),
                e.code,
                e.centre.offset(-40 + 30 * n, -50),
            )
        )


def _emergency(c: Community, e: Estate, names: dict[str, object]) -> None:
    """Shelters and supplies: no table holds them yet; they stay in the plan for a later issue."""
    shelters = list(names["shelters"])  # type: ignore[call-overload]
    houses = len(e.houses())
    c.shelters.append(
        Shelter(
            f"{e.code}-SH1",
            f"{e.name}{shelters[len(c.shelters) % len(shelters)]}",
            e.code,
            e.centre,
            max(50, houses * 3),
        )
    )
    for item in names["supplies"]:  # type: ignore[attr-defined]
        if "per_building" in item:
            for b in e.buildings:
                c.supplies.append(
                    Supply(str(item["name"]), str(item["unit"]), int(item["per_building"]), e.code, b.id)
                )
        else:
            c.supplies.append(
                Supply(str(item["name"]), str(item["unit"]), int(item["per_estate"]), e.code, None)
            )
