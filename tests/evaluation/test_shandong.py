"""Shandong tiers: hand-worked communities, the tier reached, and the texts against seed 004."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from anju.evaluation.claims.notice import read_notice
from anju.evaluation.model import Tier
from anju.evaluation.shandong import evaluate_shandong
from anju.evaluation.systems import shandong_system

from .conftest import with_facts

GROWTH: dict[str, Any] = {
    "SD.households": 1000,
    "SD.gigabit_households": 800,  # 80%: growth's 80% exactly
    "SD.tv_households": 800,
    "SD.area_km2": 2.0,
    "SD.area_5g_km2": 1.8,  # 90%
    "SD.video_key_coverage_pct": 95,
    "SD.video_key_networked_pct": 95,
    "SD.video_key_intact_pct": 95,
    "SD.video_image_rate_pct": 85,
    "SD.video_compliance_pct": 95,
    "SD.public_lights": 100,
    "SD.smart_lights": 80,
    "SD.ebike_estates": 5,
    "SD.ebike_estates_charging_cutoff": 5,
    "SD.ebike_estates_charging_full": 5,
    "SD.remote_meters": 700,  # 70%
    "SD.platform_aggregation": True,
    "SD.platform_property_link": True,
    "SD.app_scenarios": 5,
    "SD.one_stop_service": True,
    "SD.elderly_emergency_call": True,
    "SD.residents": 3000,
    "SD.residents_60_plus": 600,  # 20%: no elderly-service count asked
    "SD.book_corners": 1,
    "SD.sports_venues_15min": 1,
    "SD.convenience_facilities": True,
    "SD.online_payment": True,
    "SD.estates": 5,
    "SD.estates_smart_garbage": 4,  # 4/5 = 80%
    "SD.police_info_publishing": True,
    "SD.closed_estates": 4,
    "SD.closed_estates_access": 4,
    "SD.closed_estates_perimeter": 4,
    "SD.highrise_12f": 3,
    "SD.highrise_12f_monitored": 3,
    "SD.highrise_19f": 0,  # none: nothing to monitor
    "SD.highrise_19f_monitored": 0,
    "SD.special_population_management": True,
    "SD.estates_fire_hazard_detection": 4,
    "SD.estates_ebike_elevator_detection": 4,
    "SD.fire_alarm_full_coverage": True,
    "SD.governance_platform": True,
    "SD.party_info_digitised": True,
    "SD.online_elections": True,
    "SD.online_consultations": 2,
    "SD.open_affairs": True,
    "SD.epidemic_info_management": True,
    "SD.epidemic_policy_publishing": True,
    "SD.leadership_mechanism": True,
    "SD.operator_designated": True,
    "SD.planning_included": True,
    "SD.publicity_events": 2,
    "SD.personal_info_encryption": True,
    "SD.tiered_authorisation_audit": True,
    "SD.innovation_scenarios": 1,
    "SD.city_promoted_scenarios": 1,
    "SD.satisfaction_pct": 70,
}


def run(tiers: list[str] | None = None, **changes: Any) -> Any:
    facts = dict(GROWTH)
    facts.update({"SD." + k: v for k, v in changes.items()})
    return evaluate_shandong(shandong_system(), with_facts("X", facts), tiers)


def failing(result: Any, tier: str) -> list[int]:
    t = next(t for t in result.tiers if t.tier.key == tier)
    return [i.indicator.no for i in t.failing]


def test_tiers_have_22_and_28_indicators() -> None:
    s = shandong_system()
    assert [(t.key, t.zh, len(t.indicators)) for t in s.tiers] == [
        ("basic", "基础型", 22),
        ("growth", "成长型", 28),
    ]


def test_growth_community_reaches_growth() -> None:
    r = run()
    assert failing(r, "basic") == [] and failing(r, "growth") == []
    assert r.reached is not None and r.reached.key == "growth"


def test_thresholds_differ_by_tier() -> None:
    # 75% gigabit households: basic asks 70% (passes), growth 80% (fails, its indicator 1)
    r = run(gigabit_households=750)
    assert failing(r, "basic") == [] and failing(r, "growth") == [1]
    assert r.reached is not None and r.reached.key == "basic"
    # 3 of 5 estates detect bicycles in lifts = 60%: basic's 50% passes (basic 15), growth's 80% fails (growth 19)
    r = run(estates_ebike_elevator_detection=3)
    assert failing(r, "basic") == [] and failing(r, "growth") == [19]
    # one publicity event: basic (1) passes, growth (2) fails at its 25
    assert failing(run(publicity_events=1), "growth") == [25]
    # 19-storey buildings unmonitored fail basic 14 though growth asks 12 storeys and up (all monitored)
    r = run(highrise_19f=2, highrise_19f_monitored=1)
    assert failing(r, "basic") == [14] and failing(r, "growth") == []
    assert (
        r.reached is not None and r.reached.key == "growth"
    )  # the highest tier whose every indicator passes


def test_elderly_care_only_asks_services_above_30_percent() -> None:
    # 900 of 3000 = 30%: not "超过30%", no services needed
    assert failing(run(residents_60_plus=900, elderly_services=0), "basic") == []
    # 901 of 3000 > 30%: 2 services needed
    assert failing(run(residents_60_plus=901, elderly_services=1), "basic") == [8]
    assert failing(run(residents_60_plus=901, elderly_services=2), "basic") == []


def test_no_tier_and_missing_facts() -> None:
    r = run(video_image_rate_pct=79)  # under basic's 80% and growth's 85%
    assert failing(r, "basic") == [4] and failing(r, "growth") == [4]
    assert r.reached is None
    facts = dict(GROWTH)
    del facts["SD.satisfaction_pct"]
    r2 = evaluate_shandong(shandong_system(), with_facts("X", facts))
    growth = r2.tiers[1]
    assert [i.indicator.no for i in growth.failing] == [28]
    assert growth.failing[0].result.missing_facts() == ["SD.satisfaction_pct"]


def test_only_the_tier_asked() -> None:
    r = run(["basic"])
    assert [t.tier.key for t in r.tiers] == ["basic"]
    assert r.to_dict()["reached"] == "basic"


def test_a_third_tier_is_data() -> None:
    # 标杆型 is not published; a tier added to the data is judged the same way, highest first
    s = shandong_system()
    growth = s.tier("growth")
    stricter = Tier("benchmark", "标杆型", "benchmark", growth.indicators)
    s3 = replace(s, tiers=(*s.tiers, stricter))
    r = evaluate_shandong(s3, with_facts("X", GROWTH))
    assert r.reached is not None and r.reached.key == "benchmark"


def test_texts_are_the_published_ones(seed_004: Path) -> None:
    # each tier's name, definition and requirement equal what seed 004's communities carry (the majority
    # text of the tier, compared without whitespace: the tables wrap lines differently)
    doc = read_notice(seed_004)
    s = shandong_system()

    def norm(t: str) -> str:
        return "".join(t.split())

    for tier in s.tiers:
        tables = [c for c in doc.communities if c.tier == tier.key]
        assert tables
        for ind in tier.indicators:
            for attr in ("name", "definition", "requirement"):
                texts = Counter(norm(getattr(c.indicator(ind.no), attr)) for c in tables)
                published = texts.most_common(1)[0][0]
                ours = ind.zh if attr == "name" else getattr(ind, attr)
                assert norm(ours) == published, (tier.key, ind.no, attr)
