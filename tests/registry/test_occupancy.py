"""Occupancy judgement over a month of access swipes ingested through the real pipeline, on SQLite and
PostgreSQL: every house of the fixture estate gets the label counted by hand below."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from anju.ingest.decode import decode_body
from anju.registry import catalog
from anju.registry.occupancy import Rules, Window, judge_estate
from anju.services import Services
from anju.standard.samples import SampleFactory, id_number
from anju.standard.spec import record_type
from tests.registry.rates_fixture import Fixture, build

# occupancy.yaml's threshold, on which the cases below sit.
MIN_DAYS = 4

# house -> (expected label, rule): the hand judgement of the swipes in `_swipes`.
EXPECTED = {
    # P1 (householder) swiped on 3, 4, 5 and 6 March (three times on the 6th): 4 days, lived in.
    "E1-H1": ("self_occupied", "lived_in_householder"),
    # P3 swiped at 00:30 on 1 March and on 2 and 3 March: 3 days. 23:30 on 28 February and 00:10 on
    # 1 April (local time) lie outside the month, although in UTC the latter falls on 31 March.
    "E1-H2": ("vacant", "not_seen"),
    # P4, a tenant (relation 9) with no householder registered, swiped on 10-15 March: 6 days.
    "E1-H3": ("rented", "lived_in_tenants"),
    # P5 (registered) swiped on 2 days only; someone not registered there, through MP_ID = the house's
    # code, on 5 days: the registration does not match what the doors saw.
    "E1-H4": ("unknown", "unregistered_swipers"),
    # P6's residence ended in February: P6's swipes name no house and count nowhere. Refused swipes
    # (TG_PDBZ = 0) naming H5 on 6 days are ignored.
    "E1-H5": ("vacant", "not_seen"),
    # Only a pending registration; someone unregistered swiped with MP_ID = the house's ID on exactly
    # 4 days.
    "E1-H6": ("unknown", "unregistered_swipers"),
}


def _swipes(fx: Fixture) -> list[dict[str, Any]]:
    factory = SampleFactory(11)
    rtype = record_type("access_swipe")
    strangers = {name: id_number(factory.rng) for name in ("X1", "X2", "X3")}
    certificate = {**fx.id_numbers, **strangers}
    plan: list[tuple[str, str, str | None, str]] = []  # (who, local time, MP_ID, TG_PDBZ)
    plan += [("P1", f"2026-03-{d:02d} 08:1{d}:00", None, "1") for d in (3, 4, 5, 6)]
    plan += [("P1", "2026-03-06 12:00:00", None, "1"), ("P1", "2026-03-06 19:30:00", None, "1")]
    plan += [
        ("P3", "2026-02-28 23:30:00", None, "1"),
        ("P3", "2026-03-01 00:30:00", None, "1"),
        ("P3", "2026-03-02 08:00:00", None, "1"),
        ("P3", "2026-03-03 08:00:00", None, "1"),
        ("P3", "2026-04-01 00:10:00", None, "1"),
    ]
    plan += [("P4", f"2026-03-{d:02d} 07:45:00", None, "1") for d in range(10, 16)]
    plan += [("P5", f"2026-03-{d:02d} 18:00:00", None, "1") for d in (1, 2)]
    plan += [("X1", f"2026-03-{d:02d} 21:00:00", fx.house_codes["E1-H4"], "1") for d in range(10, 15)]
    plan += [("P6", f"2026-03-{d:02d} 09:00:00", None, "1") for d in range(1, 9)]
    plan += [("X2", f"2026-03-{d:02d} 09:00:00", "E1-H5", "0") for d in range(1, 7)]
    plan += [("X3", f"2026-03-{d:02d} 22:00:00", "E1-H6", "1") for d in range(20, 24)]
    records = []
    for i, (who, when, plate, passed) in enumerate(plan):
        rec = factory.record(rtype, i)
        rec.update(
            ID=f"SW-{i:05d}",
            SB_BH="MJ-E1-01",
            XQ_BS="E1",
            GMSFHM=certificate[who],
            SK_RQSJ=when,
            TG_PDBZ=passed,
            MP_ID=plate,
        )
        if plate is None:
            rec.pop("MP_ID")
        records.append(rec)
    return records


def test_occupancy_of_a_month_matches_the_hand_judgement(services: Services) -> None:
    assert catalog.occupancy_rules()["occupied_min_days"] == MIN_DAYS
    fx = build(services)
    result = services.pipeline.ingest("access_swipe", decode_body(orjson.dumps(_swipes(fx))), source="test")
    assert result.rejected == 0, result.rejects

    with services.db.engine.connect() as conn:
        report = judge_estate(
            conn, services.registry, "E1", Window.month("2026-03"), tz=services.settings.timezone
        )
    got = {h.house_id: (h.label, h.rule) for h in report.houses}
    assert got == EXPECTED
    assert report.swipe_data
    assert report.counts == {"self_occupied": 1, "rented": 1, "vacant": 2, "unknown": 2}
    assert report.refused_swipes == 6
    # P6's eight swipes name no house and P6 no longer lives anywhere in E1.
    assert report.unattributed_swipes == 8

    h = report.by_house()
    assert h["E1-H1"].registered_swipe_days == 4 and h["E1-H1"].swipers == ("P1",)
    assert h["E1-H1"].residents == {"resident": 2} and h["E1-H1"].householders == 1
    assert h["E1-H1"].swipes == 6
    assert h["E1-H2"].registered_swipe_days == 3
    assert h["E1-H3"].tenants == 1 and h["E1-H3"].householders == 0
    assert h["E1-H4"].registered_swipe_days == 2 and h["E1-H4"].other_swipe_days == 5
    assert h["E1-H4"].other_swipers == 1
    assert h["E1-H5"].residents == {} and h["E1-H5"].swipes == 0
    assert h["E1-H6"].residents == {} and h["E1-H6"].other_swipe_days == MIN_DAYS

    shown = report.to_dict()
    first = shown["houses"][0]
    assert first["label_zh"] == "自住" and "4" in first["reason_zh"]
    assert set(first["evidence"]["swipe_records"]) <= {f"SW-{i:05d}" for i in range(len(_swipes(fx)))}


def test_a_window_of_days_and_the_registration_only_case(sqlite_services: Services) -> None:
    svc = sqlite_services
    fx = build(svc)
    svc.pipeline.ingest("access_swipe", decode_body(orjson.dumps(_swipes(fx))), source="test")
    with svc.db.engine.connect() as conn:
        # 10-15 March: only P4's six days and X1's five fall inside.
        narrow = judge_estate(
            conn, svc.registry, "E1", Window.ending(date(2026, 3, 15), 6), tz=svc.settings.timezone
        )
        # E2 had no swipes at all: houses are judged from registration alone, and say so.
        e2 = judge_estate(conn, svc.registry, "E2", Window.month("2026-03"), tz=svc.settings.timezone)
    labels = {x.house_id: x.label for x in narrow.houses}
    assert labels["E1-H3"] == "rented" and labels["E1-H4"] == "unknown" and labels["E1-H1"] == "vacant"
    assert not e2.swipe_data
    assert [(x.house_id, x.label, x.rule) for x in e2.houses] == [
        ("E2-H1", "self_occupied", "registration_only_householder")
    ]


def test_thresholds_come_from_the_data_file(sqlite_services: Services) -> None:
    svc = sqlite_services
    fx = build(svc)
    svc.pipeline.ingest("access_swipe", decode_body(orjson.dumps(_swipes(fx))), source="test")
    stricter = Rules.load({**catalog.occupancy_rules(), "occupied_min_days": 5})
    with svc.db.engine.connect() as conn:
        report = judge_estate(
            conn, svc.registry, "E1", Window.month("2026-03"), tz=svc.settings.timezone, rules=stricter
        )
    labels = {x.house_id: x.label for x in report.houses}
    # At 5 days P1's 4 no longer count as living there, and H6's stranger's 4 days are too few to doubt.
    assert labels["E1-H1"] == "vacant" and labels["E1-H6"] == "vacant" and labels["E1-H3"] == "rented"


@pytest.mark.parametrize("text", ["2026-13", "March", "2026-3-1"])
def test_a_month_must_be_written_yyyy_mm(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Window.month(text)
