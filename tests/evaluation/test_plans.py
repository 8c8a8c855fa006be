"""Improvement plans: the shortest list of changes, each with what it gains."""

from __future__ import annotations

from anju.evaluation.paper import evaluate_paper
from anju.evaluation.plans import paper_plan, shandong_plan, wuhan_plan
from anju.evaluation.shandong import evaluate_shandong
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
from anju.evaluation.wuhan import evaluate_wuhan

from .conftest import with_facts
from .test_shandong import GROWTH
from .test_wuhan import FULL


def test_wuhan_plan_fewest_items_smallest_last() -> None:
    facts = dict(FULL)
    facts.update({"WH.ebikes_chipped": 179, "WH.records_conforming": 999, "WH.theft_cases": 16})
    r = evaluate_wuhan(wuhan_system(), "standard", with_facts("X", facts))
    # lost: item 5 (10), item 6 (15), item 14 (4): 100 - 29 = 71, 19 short of 90
    assert r.total == 71
    p = wuhan_plan(r)
    # largest first: item 6 (+15) -> 86; then the smallest item that still reaches 90: item 14 (+4), not 5
    assert [(c.ref, c.gain) for c in p.changes] == [("第6项", 15), ("第14项", 4)]
    assert p.projected == "90 分" and p.reachable and not p.reached_already
    assert "WH.records_conforming 需 ≥ 1000" in p.changes[0].actions[0]  # 999/1000: one more record


def test_wuhan_plan_already_passed_and_unreachable() -> None:
    assert wuhan_plan(evaluate_wuhan(wuhan_system(), "standard", with_facts("X", FULL))).reached_already
    p = wuhan_plan(evaluate_wuhan(wuhan_system(), "standard", with_facts("Y", {})))
    assert p.reachable  # all 13 items: 100
    # 90 of 100 leaves at most 10 points out: two items (4 + 4, or 5 + 5), never three (4 x 3 = 12);
    # largest first: 15 + 15 + 10 x 4 + 5 + 5 + 4 = 88, then the smallest that closes the gap: 4 -> 92
    assert len(p.changes) == 11 and p.projected == "92 分"


def test_wuhan_plan_respects_what_the_estate_is() -> None:
    # an open estate cannot become "closed": the plan asks for low-floor anti-climb, not a closed estate
    facts = dict(FULL)
    facts.update({"WH.closed_estate": False, "WH.anti_climb_low_floors": False, "WH.ebikes_chipped": 179})
    p = wuhan_plan(evaluate_wuhan(wuhan_system(), "standard", with_facts("X", facts)))
    # 80 points: item 1 and item 5 (10 each) are lost; one of them is enough, the first by number
    (item1,) = p.changes
    assert item1.ref == "第1项"
    assert item1.actions == (
        "半封闭或敞开型的楼栋低层安装防攀爬设施：现为否，需为是（WH.anti_climb_low_floors）",
    )


def test_shandong_plan_next_tier() -> None:
    facts = dict(GROWTH)
    facts.update({"SD.gigabit_households": 750, "SD.publicity_events": 1})
    r = evaluate_shandong(shandong_system(), with_facts("X", facts))
    assert r.reached is not None and r.reached.key == "basic"
    p = shandong_plan(r, None)
    assert p.target.startswith("达到成长型")
    assert [c.ref for c in p.changes] == ["成长型第1项", "成长型第25项"]
    assert "SD.gigabit_households 需 ≥ 800" in p.changes[0].actions[0]  # 80% of 1000 households
    assert p.changes[1].actions == ("每年开展2次智慧社区宣传普及活动：现为 1，需 ≥ 2（SD.publicity_events）",)
    top = shandong_plan(evaluate_shandong(shandong_system(), with_facts("Y", GROWTH)), None)
    assert top.reached_already and "标杆型" in top.notes[0]


def test_paper_plan_to_a_target_score() -> None:
    a = with_facts("A", {"SE11.1": True, "SE11.2": 3, "SE11.3": True, "SE32.1": 2, "SE32.2": 4})
    b = with_facts("B", {"SE21.1": True, "SE21.2": 0})
    r = evaluate_paper(paper_system(), [a, b])  # equal weights 1/32: a scores (100 + 84) / 32 = 5.75
    p = paper_plan(r, r.communities[0], 10)
    # 4.25 short = 136 indicator points / 32. Largest gain first: SE66.1, 100 points (+3.125); then the
    # smallest criterion that closes the 1.125 left (36 points): SE52.1 (36 points, +1.125)
    assert [c.ref for c in p.changes] == ["SE66.1", "SE52.1"]
    assert [round(c.gain or 0, 6) for c in p.changes] == [3.125, 1.125]
    assert p.projected == "10.00" and p.reachable
    assert p.changes[0].actions[0].startswith("SE66.1") and "再增加 10 项" in p.changes[0].actions[0]
    assert paper_plan(r, r.communities[0], 5).reached_already
    # deductions are not actions: the 100 is out of reach without SE21.2 and SE22.2 (80 points)
    assert not paper_plan(r, r.communities[0], 100).reachable


def test_paper_plan_partial_last_step() -> None:
    # only SE32 weighs (configured): A has 52 + 2 x 8 = 68; to reach 80 it needs 12 more points, that is
    # two more participant categories (2 x 8 = 16), not all four
    a = with_facts("A", {"SE32.1": 2, "SE32.2": ["residents", "volunteers"]})
    r = evaluate_paper(
        paper_system(), [a], configured={i.code: float(i.code == "SE32") for i in paper_system().indicators}
    )
    assert r.communities[0].score == 68
    p = paper_plan(r, r.communities[0], 80)
    (change,) = p.changes
    assert change.ref == "SE32.2" and change.gain == 16 and p.projected == "84.00"
    assert "现 2 项，再增加 2 项（可选：企业、政府、物业、社会组织）" in change.actions[0]
