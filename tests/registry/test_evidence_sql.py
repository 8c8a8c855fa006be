"""Every fact RegistryEvidence gives, against a plain Python count over every row of the seeded random
registry test_rates_sql.py builds (ended, pending and future residences, people in several estates or
without a person row, residences whose own estate differs from their house's), with birth dates and
building ratings added, on SQLite and PostgreSQL: values, references and descriptions alike, and with a
reference cap small enough that the lists are cut while the counts stay whole."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from anju.evaluation.evidence import Evidence, SourceKind
from anju.registry import evidence as registry_evidence
from anju.registry.evidence import RegistryEvidence
from anju.registry.rates import DOOR_KIND_ZH
from anju.services import Services
from tests.registry.test_rates_sql import (
    ALL_ESTATES,
    COMMUNITY_ESTATES,
    World,
    _build,
    _expected,
    _expected_in_force,
)

EDGE_BIRTHS = (date(1966, 4, 1), date(1966, 4, 2), date(1966, 3, 31), date(1964, 2, 29))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _cutoff(svc: Services, as_of: date) -> datetime:
    end = datetime.combine(as_of + timedelta(days=1), time(0), svc.settings.timezone)
    return end.astimezone(UTC).replace(tzinfo=None) - timedelta(microseconds=1)


def _complete(svc: Services, w: World, births: str, ratings: str, seed: int = 7) -> None:
    """Birth dates for people (with `births="all"` every resident has one, rows added for those without a
    person row; otherwise some stay unknown) and safety levels for buildings."""
    rng = random.Random(seed)
    person, building = svc.registry.table("person"), svc.registry.table("building")
    known = {p["id"] for p in w.rows["person"]}
    if births == "all":
        missing = sorted({r["person_id"] for r in w.rows["residence"]} - known)
        added = [
            {
                "id": pid,
                "key_population": False,
                "verified_at": None,
                "source": "staff",
                "created_at": w.rows["person"][0]["created_at"],
                "updated_at": w.rows["person"][0]["created_at"],
            }
            for pid in missing
        ]
        with svc.db.engine.begin() as conn:
            conn.execute(insert(person), added)
        w.rows["person"].extend(added)
    for p in w.rows["person"]:
        if births != "all" and rng.random() < 0.1:
            p["birth_date"] = None
        elif rng.random() < 0.15:
            p["birth_date"] = rng.choice(EDGE_BIRTHS)
        else:
            p["birth_date"] = date(1930, 1, 1) + timedelta(days=rng.randint(0, 30_000))
    levels = {"all_a": ("A", " a", "A "), "worse": ("A", "A", "B", "d", None), "unrated": ("A", "A", None)}
    for b in w.rows["building"]:
        b["safety_level"] = rng.choice(levels[ratings])
    with svc.db.engine.begin() as conn:
        for p in w.rows["person"]:
            conn.execute(update(person).where(person.c.id == p["id"]).values(birth_date=p["birth_date"]))
        for b in w.rows["building"]:
            conn.execute(
                update(building).where(building.c.id == b["id"]).values(safety_level=b["safety_level"])
            )


def _expected_facts(
    svc: Services,
    w: World,
    scope: str,
    estates: tuple[str, ...],
    communities: tuple[str, ...],
    as_of: date,
    refs: int,
) -> dict[str, Evidence]:
    cutoff = _cutoff(svc, as_of)
    out: dict[str, Evidence] = {}
    rates = _expected(w, estates, communities, cutoff)
    doors, without = rates["doors"], rates["doors_without_plate"]
    if sum(d for _, d in doors.values()):
        per_kind = "，".join(f"{DOOR_KIND_ZH[k]} {n}/{d}" for k, (n, d) in doors.items())
        out["WH.doors"] = Evidence(
            sum(d for _, d in doors.values()),
            SourceKind.records,
            f"登记的小区大门、楼栋、单元、房屋数（{per_kind}）/ registered gates, buildings, units and houses",
        )
        out["WH.doors_qr"] = Evidence(
            sum(n for n, _ in doors.values()),
            SourceKind.records,
            f"其中有有效二维码门牌的门数（{per_kind}）；引用为尚无门牌的门 / doors with an active QR "
            f"doorplate; the references are the {len(without)} doors still without one",
            tuple(f"{kind}:{i}" for kind, i, _, _ in without[:refs]),
        )
    if len(estates) > 1 or estates != (scope,):
        out["SD.estates"] = Evidence(
            len(estates),
            SourceKind.records,
            f"登记的小区数（区划树与小区登记）/ estates registered under {scope}",
            tuple(f"estate:{e}" for e in estates[:refs]),
        )

    in_force = _expected_in_force(w, estates, cutoff)
    if in_force:
        residents = {p for p, _, _, category in in_force if category == "resident"}
        out["SD.households"] = Evidence(
            len({h for _, h, _, _ in in_force if h}),
            SourceKind.records,
            "有在住登记的房屋数（户）/ houses with at least one residence in force",
        )
        out["SD.residents"] = Evidence(
            len(residents),
            SourceKind.records,
            "常住人口登记人数（居住类别为常住）/ people registered as permanent residents",
        )
        born = {p["id"]: p.get("birth_date") for p in w.rows["person"]}
        if residents and all(born.get(p) is not None for p in residents):
            out["SD.residents_60_plus"] = Evidence(
                sum(_age(born[p], as_of) >= 60 for p in residents),  # type: ignore[arg-type]
                SourceKind.records,
                f"常住人口中截至 {as_of.isoformat()} 年满 60 周岁的人数 / permanent residents aged 60 or over",
            )

    buildings = sorted(
        (b for b in w.rows["building"] if b["estate"] in estates and b["created_at"] <= cutoff),
        key=lambda b: b["id"],
    )
    worse = [b["id"] for b in buildings if b["safety_level"] and b["safety_level"].strip().upper() != "A"]
    if worse:
        out["SE46.3"] = Evidence(
            False,
            SourceKind.records,
            f"{len(worse)} 栋房屋安全等级低于 A 级 / buildings rated below A",
            tuple(f"building:{b}" for b in worse[:refs]),
        )
    elif buildings and all(b["safety_level"] for b in buildings):
        out["SE46.3"] = Evidence(
            True, SourceKind.records, f"全部 {len(buildings)} 栋房屋安全等级为 A 级 / every building rated A"
        )
    return out


SCOPES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("C1", COMMUNITY_ESTATES, ("C1",)),
    ("S1", ALL_ESTATES, ("C1", "C2", "S1")),
    ("EA", ("EA",), ()),
)
DATES = (date(2025, 12, 31), date(2026, 2, 15), date(2026, 4, 1), date(2026, 12, 31))


@pytest.mark.parametrize(
    ("births", "ratings"), [("all", "all_a"), ("some", "worse"), ("all", "unrated"), ("all", "worse")]
)
def test_facts_match_a_python_count_over_every_row(
    services: Services, monkeypatch: pytest.MonkeyPatch, births: str, ratings: str
) -> None:
    w = _build(services)
    _complete(services, w, births, ratings)
    provider = RegistryEvidence(services)
    seen: set[str] = set()
    for refs in (registry_evidence._REFERENCES, 3):
        monkeypatch.setattr(registry_evidence, "_REFERENCES", refs)
        for scope, estates, communities in SCOPES:
            for as_of in DATES:
                got = dict(provider.facts(scope, as_of))
                want = _expected_facts(services, w, scope, estates, communities, as_of, refs)
                assert got == want, (scope, as_of, refs)
                seen.update(got)
    # The fixture reaches every fact the provider has, so none of them goes unchecked.
    expected_keys = {"WH.doors", "WH.doors_qr", "SD.estates", "SD.households", "SD.residents"}
    if births == "all":
        expected_keys.add("SD.residents_60_plus")
    if ratings != "unrated":
        expected_keys.add("SE46.3")
    assert seen == expected_keys


def test_the_cap_cuts_references_not_counts(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    w = _build(services)
    _complete(services, w, "all", "worse")
    monkeypatch.setattr(registry_evidence, "_REFERENCES", 2)
    facts = RegistryEvidence(services).facts("S1", date(2026, 12, 31))
    without = _expected(w, ALL_ESTATES, ("C1", "C2", "S1"), _cutoff(services, date(2026, 12, 31)))[
        "doors_without_plate"
    ]
    assert len(without) > 2
    assert len(facts["WH.doors_qr"].references) == 2
    assert f"the {len(without)} doors still without one" in facts["WH.doors_qr"].description
    assert len(facts["SD.estates"].references) == 2 and facts["SD.estates"].value == 3


def _tiny(svc: Services, births: list[date]) -> None:
    """One estate whose residents were all registered long ago, born on the given dates."""
    created = datetime(1900, 1, 1)
    svc.regions.add(svc.audit, code="CT", name="社区", level="community", parent=None, actor="test")
    svc.regions.add(svc.audit, code="ET", name="小区", level="estate", parent="CT", actor="test")
    stamp: dict[str, Any] = {"source": "staff", "created_at": created, "updated_at": created}
    people = [
        {"id": f"P{i:03d}", "key_population": False, "birth_date": b, **stamp} for i, b in enumerate(births)
    ]
    residences = [
        {
            "id": f"R{i:03d}",
            "person_id": p["id"],
            "house_id": f"H{i % 7}",
            "estate": "ET",
            "_bi_address": f"BI{i:03d}",
            "category": "resident",
            "status": "active",
            **stamp,
        }
        for i, p in enumerate(people)
    ]
    with svc.db.engine.begin() as conn:
        conn.execute(insert(svc.registry.table("person")), people)
        conn.execute(insert(svc.registry.table("residence")), residences)


def test_sixty_on_the_day_leap_days_included(services: Services) -> None:
    # 1900 was no leap year: on 29 February 1960 someone born on 28 February 1900 has turned 60, one
    # born on 1 March 1900 has not.
    days = (date(1960, 2, 29), date(2024, 2, 29), date(2026, 4, 1), date(2025, 2, 28), date(2025, 3, 1))
    births = sorted(
        {
            d.replace(year=d.year - 60) if (d.month, d.day) != (2, 29) else date(d.year - 60, 2, 28)
            for d in days
        }
        | {date(1900, 2, 28), date(1900, 3, 1), date(1964, 2, 29), date(1964, 3, 1), date(1965, 2, 28)}
        | {date(1966, 4, 1), date(1966, 4, 2), date(1966, 3, 31), date(1965, 3, 1), date(1964, 2, 28)}
    )
    _tiny(services, births)
    provider = RegistryEvidence(services)
    for on in days:
        facts = provider.facts("CT", on)
        assert facts["SD.residents"].value == len(births)
        assert facts["SD.households"].value == 7
        assert facts["SD.residents_60_plus"].value == sum(_age(b, on) >= 60 for b in births), on
