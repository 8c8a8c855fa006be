"""Wuhan acceptance (seed 003 §五): hand-worked estates of both variants, pass at exactly 90."""

from __future__ import annotations

from typing import Any

from anju.evaluation.systems import wuhan_system
from anju.evaluation.wuhan import evaluate_wuhan

from .conftest import with_facts

FULL: dict[str, Any] = {
    "WH.closed_estate": True,
    "WH.perimeter_alarm": True,
    "WH.perimeter_popup": True,
    "WH.anti_climb_estate": True,
    "WH.anti_climb_low_floors": False,
    "WH.video_room": True,
    "WH.video_patrol": True,
    "WH.video_key_areas": True,
    "WH.entrance_face_capture": True,
    "WH.smart_access_gates": True,
    "WH.visitor_id_registration": True,
    "WH.plate_recognition": True,
    "WH.unit_door_face_access": True,
    "WH.elevator_cameras": True,
    "WH.unit_door_access": True,
    "WH.unit_door_access_above_11f": True,
    "WH.doors": 400,
    "WH.doors_qr": 400,
    "WH.ebikes": 200,
    "WH.ebikes_chipped": 180,  # 90%: "90%以上" includes 90
    "WH.patrol_system": True,
    "WH.patrol_records_queryable": True,
    "WH.fire_energy_monitoring": True,
    "WH.special_persons": 3,
    "WH.special_persons_equipped": 3,
    "WH.visual_platform": True,
    "WH.realtime_upload": True,
    "WH.records": 1000,
    "WH.records_conforming": 1000,
    "WH.police_officers": True,
    "WH.migrant_coordinators": True,
    "WH.property_management": True,
    "WH.security_staff": True,
    "WH.neighbourhood_watch": True,
    "WH.police_office": True,
    "WH.police_office_level2": True,
    "WH.police_office_area_m2": 60,  # "60 平方米以上" includes 60
    "WH.drug_manufacturing_cases": 0,
    "WH.resident_trafficking_cases": 0,
    "WH.drug_user_incidents": 0,
    "WH.entertainment_drug_cases": 0,
    "WH.gambling_media_exposure": 0,
    "WH.gambling_verified_complaints": 0,
    "WH.gambling_supervised_cases": 0,
    "WH.cult_harmful_activities": 0,
    "WH.cult_new_members": 0,
    "WH.cult_criminal_cases": 0,
    "WH.serious_cases": 0,
    "WH.theft_cases": 12,
    "WH.theft_cases_last_year": 15,  # down year on year, though above 10
    "WH.abnormal_petitions": 0,
    "WH.petition_ringleaders": 0,
    "WH.petition_self_harm": 0,
    "WH.sensitive_period_petitions": 0,
}


def score(variant: str, **changes: Any) -> tuple[int, int, int, bool]:
    facts = dict(FULL)
    for k, v in changes.items():
        key = "WH." + k
        if v is None:
            facts.pop(key)
        else:
            facts[key] = v
    r = evaluate_wuhan(wuhan_system(), variant, with_facts("X", facts))
    return r.category_points("smart"), r.category_points("safe"), r.total, r.passed


def test_variants_have_their_items_and_points() -> None:
    w = wuhan_system()
    demo, std = w.variant("demonstration"), w.variant("standard")
    assert [(i.no, i.points) for i in demo.items[:8]] == [
        (1, 10),
        (2, 10),
        (3, 10),
        (4, 10),
        (5, 10),
        (6, 5),
        (7, 5),
        (8, 10),
    ]
    assert [(i.no, i.points) for i in std.items[:6]] == [(1, 10), (2, 10), (3, 15), (4, 10), (5, 10), (6, 15)]
    assert [(i.no, i.points) for i in std.items[6:]] == [
        (9, 5),
        (10, 5),
        (11, 4),
        (12, 4),
        (13, 4),
        (14, 4),
        (15, 4),
    ]
    assert len(demo.items) == 15 and len(std.items) == 13
    assert w.pass_mark == 90


def test_full_estate_scores_100_in_both_variants() -> None:
    assert score("demonstration") == (70, 30, 100, True)
    assert score("standard") == (70, 30, 100, True)


def test_pass_at_exactly_90() -> None:
    # 179 of 200 bicycles chipped = 89.5% < 90%: item 5 (10 points) lost -> 100 - 10 = 90, still a pass
    assert score("standard", ebikes_chipped=179) == (60, 30, 90, True)
    # and one safe item more (item 14: theft up to 16 from 15, above 10) -> 90 - 4 = 86, a fail
    assert score("standard", ebikes_chipped=179, theft_cases=16) == (60, 26, 86, False)


def test_the_same_fact_weighs_differently_per_variant() -> None:
    # one record of 1000 off the standard: standard item 6 (15) and demonstration item 8 (10) fail
    assert score("standard", records_conforming=999) == (55, 30, 85, False)  # 100 - 15
    assert score("demonstration", records_conforming=999) == (60, 30, 90, True)  # 100 - 10
    # no entrance face capture: demonstration item 3 (10), standard item 3 (15)
    assert score("demonstration", entrance_face_capture=False) == (60, 30, 90, True)
    assert score("standard", entrance_face_capture=False) == (55, 30, 85, False)
    # no patrol system: only the demonstration variant asks it (item 6, 5 points)
    assert score("demonstration", patrol_system=False)[2] == 95
    assert score("standard", patrol_system=False)[2] == 100


def test_open_estate_conditions() -> None:
    # an open estate: anti-climb on the lower floors is what standard item 1 asks
    assert score("standard", closed_estate=False)[0] == 60  # no low-floor anti-climb: -10
    assert score("standard", closed_estate=False, anti_climb_low_floors=True)[0] == 70
    # standard item 3 asks gates and visitor registration of closed estates only
    assert (
        score("standard", closed_estate=False, anti_climb_low_floors=True, smart_access_gates=False)[0] == 70
    )
    assert score("standard", smart_access_gates=False)[0] == 55  # closed: -15
    # standard item 4: a closed estate needs the unit doors of buildings above 11 storeys, an open one all
    assert score("standard", unit_door_access=False)[0] == 70
    assert score("standard", unit_door_access=False, closed_estate=False, anti_climb_low_floors=True)[0] == 60


def test_theft_rule_and_missing_facts() -> None:
    assert score("standard", theft_cases=10, theft_cases_last_year=5)[1] == 30  # up, but 10 cases: "10起以下"
    assert score("standard", theft_cases=11, theft_cases_last_year=11)[1] == 26  # neither down nor ≤ 10
    # a fact nobody gave is not met: no evidence of "no cult cases" -> item 13 (4) lost
    assert score("standard", cult_new_members=None)[1] == 26
    # an estate without special persons has nobody to equip (demonstration item 7)
    assert score("demonstration", special_persons=0, special_persons_equipped=0)[2] == 100


def test_result_carries_evidence() -> None:
    r = evaluate_wuhan(wuhan_system(), "standard", with_facts("X", FULL)).to_dict()
    item5 = next(i for i in r["items"] if i["no"] == 5)
    ratio = item5["conditions"]["all"][0]
    assert ratio["met"] and ratio["evidence"]["WH.doors_qr"]["references"] == ["test#WH.doors_qr"]
    assert r["smart"] == 70 and r["safe"] == 30 and r["passed"]
