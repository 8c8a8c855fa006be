"""Occupancy judgement (自住 / 出租 / 空置) of every house of an estate over a window of days.

Two kinds of evidence, set against each other:
- registration: the residences present in the window (active, or ended within it), by category, with
  their relation to the householder (YFZGX; relation 0 is the householder);
- access swipes (rec_access_swipe) attributed to a house, either through the swiper's certificate (the
  swipe's `_bi_gmsfhm` is the blind index of the person's `_bi_id_number`, so nothing is decrypted) and
  that person's residences in the estate, or through MP_ID naming the house by its ID or code.

The rule, in order (thresholds from data/occupancy.yaml):
1. registered people swiped on at least `occupied_min_days` distinct days: lived in by them; rented when
   a registered resident is a tenant (`rented_relations` / `rented_categories`) and none is the
   householder, otherwise self-occupied;
2. otherwise, people not registered at the house swiped there on at least that many days: the evidence
   contradicts the registration, so "unknown" (to be checked on site);
3. otherwise nobody was seen living there: vacant, whether or not someone is registered (a stale
   registration is exactly what this judgement exists to find).
An estate with no swipes at all in the window has no access-control data to judge by: houses are then
labelled from registration alone (vacant when nobody is registered), and the rule says so.
Days are local calendar days in the deployment's time zone.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from anju.registry import catalog
from anju.registry.store import RegistryStore

SWIPES = "rec_access_swipe"
# TG_PDBZ = "0" is a refused swipe: a card the door did not accept says nothing about who lives there.
_REFUSED = "0"
_SAMPLE = 20  # swipe record IDs kept per house as references
_CHUNK = 500  # IN-list size for lookups by key

_RULES: dict[str, tuple[str, str]] = {
    "lived_in_householder": (
        "登记人员在 {days} 天有刷卡（≥ {min} 天），住户含户主或其家庭成员",
        "registered people swiped on {days} days (≥ {min}); the household includes the householder or family",
    ),
    "lived_in_tenants": (
        "登记人员在 {days} 天有刷卡（≥ {min} 天），住户为租户且无户主",
        "registered people swiped on {days} days (≥ {min}); tenants live here and no householder",
    ),
    "unregistered_swipers": (
        "登记人员刷卡 {days} 天（< {min} 天），未在本房屋登记的人员刷卡 {other} 天（≥ {min} 天），与登记不符",
        "registered people swiped on {days} days (< {min}) but people not registered here on {other} days "
        "(≥ {min}): the registration does not match",
    ),
    "not_seen": (
        "窗口内有人居住的刷卡证据不足：登记人员 {days} 天、其他人员 {other} 天（均 < {min} 天）",
        "too little sign of anyone living here: registered people swiped on {days} days, others on {other} "
        "(both < {min})",
    ),
    "registration_only_householder": (
        "小区在窗口内无门禁数据，按登记判断：住户含户主或其家庭成员",
        "no access-control data for the estate in the window; judged from registration: householder or family",
    ),
    "registration_only_tenants": (
        "小区在窗口内无门禁数据，按登记判断：住户为租户且无户主",
        "no access-control data for the estate in the window; judged from registration: tenants, no householder",
    ),
    "registration_only_none": (
        "小区在窗口内无门禁数据，且无登记住户",
        "no access-control data for the estate in the window and nobody registered",
    ),
}


@dataclass(frozen=True)
class Window:
    """Local calendar days `start` to `end`, both included."""

    start: date
    end: date

    @classmethod
    def month(cls, text: str) -> Window:
        """A month written YYYY-MM."""
        try:
            year, month = (int(part) for part in text.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise ValueError(f"month {text!r} is not a month written YYYY-MM") from None
        return cls(first, date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def ending(cls, end: date, days: int | None = None) -> Window:
        """`days` days ending on `end` (default: occupancy.yaml's window_days)."""
        n = int(days if days is not None else catalog.occupancy_rules()["window_days"])
        if n < 1:
            raise ValueError(f"window days {n} must be at least 1")
        return cls(end - timedelta(days=n - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) as naive UTC datetimes, the way times are stored."""
        lo = datetime.combine(self.start, time(0), tz).astimezone(UTC).replace(tzinfo=None)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC).replace(tzinfo=None)
        return lo, hi


@dataclass(frozen=True)
class Rules:
    occupied_min_days: int
    rented_relations: frozenset[str]
    rented_categories: frozenset[str]
    labels: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, data: Mapping[str, Any] | None = None) -> Rules:
        d = data if data is not None else catalog.occupancy_rules()
        return cls(
            int(d["occupied_min_days"]),
            frozenset(str(x) for x in d.get("rented_relations") or ()),
            frozenset(str(x) for x in d.get("rented_categories") or ()),
            dict(d["labels"]),
        )


@dataclass
class _Seen:
    registered_days: set[date] = field(default_factory=set)
    registered_swipers: set[str] = field(default_factory=set)
    other_days: set[date] = field(default_factory=set)
    other_swipers: set[str] = field(default_factory=set)
    swipes: int = 0
    sample: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HouseOccupancy:
    house_id: str
    code: str | None
    address: str
    building_id: str
    label: str  # self_occupied | rented | vacant | unknown
    rule: str
    reason_zh: str
    reason_en: str
    residents: Mapping[str, int]  # residence category -> registered people present in the window
    householders: int
    tenants: int
    registered_swipe_days: int
    other_swipe_days: int
    swipers: tuple[str, ...]  # person IDs of registered residents who swiped
    other_swipers: int  # distinct certificates of swipers not registered at the house
    swipes: int
    swipe_records: tuple[str, ...]  # up to 20 swipe record IDs

    def to_dict(self, labels: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        return {
            "house_id": self.house_id,
            "code": self.code,
            "address": self.address,
            "building_id": self.building_id,
            "label": self.label,
            "label_zh": labels[self.label]["zh"],
            "label_en": labels[self.label]["en"],
            "rule": self.rule,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "evidence": {
                "residents": dict(self.residents),
                "householders": self.householders,
                "tenants": self.tenants,
                "registered_swipe_days": self.registered_swipe_days,
                "other_swipe_days": self.other_swipe_days,
                "swipers": list(self.swipers),
                "other_swipers": self.other_swipers,
                "swipes": self.swipes,
                "swipe_records": list(self.swipe_records),
            },
        }


@dataclass(frozen=True)
class OccupancyReport:
    estate: str
    window: Window
    rules: Rules
    swipe_data: bool  # whether the estate had any accepted swipe in the window
    houses: tuple[HouseOccupancy, ...]
    refused_swipes: int
    unattributed_swipes: int  # accepted swipes that named no house and no registered resident

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(h.label for h in self.houses)
        return {label: counted.get(label, 0) for label in self.rules.labels}

    def by_house(self) -> dict[str, HouseOccupancy]:
        return {h.house_id: h for h in self.houses}

    def to_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "window": {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
            "occupied_min_days": self.rules.occupied_min_days,
            "swipe_data": self.swipe_data,
            "counts": self.counts,
            "refused_swipes": self.refused_swipes,
            "unattributed_swipes": self.unattributed_swipes,
            "houses": [h.to_dict(self.rules.labels) for h in self.houses],
        }


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _present(row: Mapping[str, Any], lo: datetime, hi: datetime) -> bool:
    """Whether a residence was in force at some time of [lo, hi)."""
    moved_in = row["moved_in"]
    if moved_in is not None and moved_in >= hi:
        return False
    if row["status"] == "active":
        return row["moved_out"] is None or row["moved_out"] >= lo
    ended = row["moved_out"] or row["decided_at"]
    return ended is not None and ended >= lo


def judge_estate(
    conn: Connection,
    store: RegistryStore,
    estate: str,
    window: Window,
    *,
    tz: tzinfo,
    rules: Rules | None = None,
) -> OccupancyReport:
    rules = rules or Rules.load()
    house_t, res_t, person_t = store.table("house"), store.table("residence"), store.table("person")
    swipe_t = store.table(SWIPES)
    lo, hi = window.utc_bounds(tz)

    houses = conn.execute(
        select(house_t.c.id, house_t.c.code, house_t.c.address, house_t.c.building_id)
        .where(house_t.c.estate == estate)
        .order_by(house_t.c.id)
    ).all()
    by_plate: dict[str, str] = {}
    for h in houses:
        by_plate[h.id] = h.id
        if h.code:
            by_plate.setdefault(h.code, h.id)

    residences = [
        dict(r._mapping)
        for r in conn.execute(
            select(
                res_t.c.person_id,
                res_t.c.house_id,
                res_t.c.category,
                res_t.c.relation,
                res_t.c.status,
                res_t.c.moved_in,
                res_t.c.moved_out,
                res_t.c.decided_at,
            ).where(
                res_t.c.house_id.in_(select(house_t.c.id).where(house_t.c.estate == estate)),
                res_t.c.status.in_(("active", "ended")),
            )
        )
        if _present(dict(r._mapping), lo, hi)
    ]
    living: dict[str, list[Mapping[str, Any]]] = {}
    homes: dict[str, set[str]] = {}  # person -> houses of the estate they are registered at
    for r in residences:
        living.setdefault(r["house_id"], []).append(r)
        homes.setdefault(r["person_id"], set()).add(r["house_id"])
    person_of: dict[str, str] = {}  # certificate blind index -> person
    for part in _chunks(homes):
        for pid, blind in conn.execute(
            select(person_t.c.id, person_t.c._bi_id_number).where(person_t.c.id.in_(part))
        ):
            if blind:
                person_of[blind] = pid

    seen: dict[str, _Seen] = {}
    refused = unattributed = accepted = 0
    for swipe_id, blind, plate, at, passed in conn.execute(
        select(
            swipe_t.c.id, swipe_t.c._bi_gmsfhm, swipe_t.c.mp_id, swipe_t.c.sk_rqsj, swipe_t.c.tg_pdbz
        ).where(swipe_t.c._estate == estate, swipe_t.c.sk_rqsj >= lo, swipe_t.c.sk_rqsj < hi)
    ):
        if passed == _REFUSED:
            refused += 1
            continue
        accepted += 1
        day = at.replace(tzinfo=UTC).astimezone(tz).date()
        person = person_of.get(blind) if blind else None
        registered_at = homes.get(person, set()) if person else set()
        named = by_plate.get(plate) if plate else None
        targets = set(registered_at)
        if named is not None:
            targets.add(named)
        if not targets:
            unattributed += 1
            continue
        for house_id in targets:
            s = seen.setdefault(house_id, _Seen())
            s.swipes += 1
            if len(s.sample) < _SAMPLE:
                s.sample.append(swipe_id)
            if house_id in registered_at and person is not None:
                s.registered_days.add(day)
                s.registered_swipers.add(person)
            else:
                s.other_days.add(day)
                s.other_swipers.add(blind or f"record:{swipe_id}")

    out = [
        _judge(h.id, h.code, h.address, h.building_id, living.get(h.id, []), seen.get(h.id), rules, accepted)
        for h in houses
    ]
    return OccupancyReport(estate, window, rules, accepted > 0, tuple(out), refused, unattributed)


def _judge(
    house_id: str,
    code: str | None,
    address: str,
    building_id: str,
    living: list[Mapping[str, Any]],
    seen: _Seen | None,
    rules: Rules,
    estate_swipes: int,
) -> HouseOccupancy:
    s = seen or _Seen()
    categories = Counter(str(r["category"]) for r in living)
    householders = sum(1 for r in living if r["relation"] == "0")
    tenants = sum(
        1
        for r in living
        if r["relation"] in rules.rented_relations or r["category"] in rules.rented_categories
    )
    days, other, need = len(s.registered_days), len(s.other_days), rules.occupied_min_days
    by_registration = "self_occupied" if householders or not tenants else "rented"
    if estate_swipes == 0:
        if not living:
            label, rule = "vacant", "registration_only_none"
        elif by_registration == "self_occupied":
            label, rule = by_registration, "registration_only_householder"
        else:
            label, rule = by_registration, "registration_only_tenants"
    elif living and days >= need:
        label = by_registration
        rule = "lived_in_householder" if label == "self_occupied" else "lived_in_tenants"
    elif other >= need:
        label, rule = "unknown", "unregistered_swipers"
    else:
        label, rule = "vacant", "not_seen"
    zh, en = _RULES[rule]
    values = {"days": days, "other": other, "min": need}
    return HouseOccupancy(
        house_id=house_id,
        code=code,
        address=address,
        building_id=building_id,
        label=label,
        rule=rule,
        reason_zh=zh.format(**values),
        reason_en=en.format(**values),
        residents=dict(sorted(categories.items())),
        householders=householders,
        tenants=tenants,
        registered_swipe_days=days,
        other_swipe_days=other,
        swipers=tuple(sorted(s.registered_swipers)),
        other_swipers=len(s.other_swipers),
        swipes=s.swipes,
        swipe_records=tuple(s.sample),
    )
