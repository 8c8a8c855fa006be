"""Plans and drills are stored, versioned and published, and score SE31 and SE32 through the evaluation
engine from the platform's own data (paper Table C-1: SE32.2 is 8 points per participant category, 48 at
most)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from anju.emergency.catalog import EmergencyError, catalog
from anju.emergency.evidence import KEYS, EmergencyEvidence
from anju.emergency.plans import (
    add_followup,
    complete_followup,
    create_plan,
    drill_view,
    plan_view,
    publish_plan,
    record_drill,
    record_improvement,
    revise_plan,
)
from anju.evaluation.evidence import EvidenceProvider, SourceKind
from anju.evaluation.inputs import gather
from anju.evaluation.paper import evaluate_paper
from anju.evaluation.platform import platform_providers
from anju.evaluation.systems import paper_system
from anju.services import Services

AS_OF = date(2026, 11, 30)
FULL = {
    "organization": "社区应急领导小组：书记任组长",
    "risk_list": "老旧小区电动车充电、地下车库内涝",
    "disposal_process": "发现—报告—疏散—处置—恢复",
    "contacts": "社区值班室 027-00000000",
    "rescue_team": "社区应急救援队 20 人",
}


def _drill(svc: Services, held: str, categories: dict[str, int], region: str = "E1", **kw: Any) -> int:
    return record_drill(
        svc,
        region=region,
        title="消防疏散演练",
        hazard="fire",
        scenario="3 栋 5 楼厨房起火，浓烟进入楼道",
        held_at=held,
        participants=[{"category": c, "headcount": n} for c, n in categories.items()],
        actor="user:li",
        **kw,
    )


def test_participant_categories_are_the_papers_items() -> None:
    se322 = paper_system().criteria["SE32.2"]
    assert list(catalog().participants) == [i.key for i in se322.items]
    assert (se322.per, se322.points) == (8, 48)


def test_a_drill_of_four_categories_scores_32_through_the_engine(esvc: Services) -> None:
    drill = _drill(
        esvc,
        "2026-10-15T09:30:00+08:00",
        {"residents": 120, "property": 8, "volunteers": 15, "governments": 3},
        evacuation=[
            {
                "place": "3栋",
                "people": 60,
                "started_at": "2026-10-15T09:31:00+08:00",
                "finished_at": "2026-10-15T09:35:30+08:00",
            }
        ],
        findings=["3 栋 2 单元疏散指示灯不亮"],
    )
    [community] = gather([], ["C1"], platform_providers(esvc), AS_OF)
    ev = community.facts["SE32.2"]
    assert ev.provider == "emergency" and ev.source is SourceKind.records
    assert set(ev.value) == {"residents", "property", "volunteers", "governments"}
    result = evaluate_paper(paper_system(), [community])
    [scored] = result.communities
    assert scored.criteria["SE32.2"].points == 32
    # One drill is not the two a year SE32.1 asks for: no partial credit.
    assert community.facts["SE32.1"].value == 1 and scored.criteria["SE32.1"].points == 0
    assert scored.indicators["SE32"] == 32

    # A second drill in the year adds SE32.1's 52 and its new categories, each category counted once.
    _drill(esvc, "2026-06-01T15:00:00+08:00", {"residents": 80, "enterprises": 2})
    [community] = gather([], ["C1"], platform_providers(esvc), AS_OF)
    [scored] = evaluate_paper(paper_system(), [community]).communities
    assert scored.criteria["SE32.2"].points == 40
    assert scored.indicators["SE32"] == 92
    view = drill_view(esvc, drill)
    assert view["evacuation"][0]["seconds"] == 270
    assert [p["zh"] for p in view["participants"]] == ["居民", "物业", "志愿者", "政府部门"]


def test_the_twelve_month_window_and_other_communities(esvc: Services) -> None:
    _drill(esvc, "2025-11-30T10:00:00+08:00", {"residents": 10, "enterprises": 1})  # before the window
    _drill(esvc, "2026-03-01T10:00:00+08:00", {"volunteers": 5}, region="E3")  # C2, not C1
    provider = EmergencyEvidence(esvc)
    assert isinstance(provider, EvidenceProvider)
    facts = provider.facts("C1", AS_OF)
    assert set(facts) <= KEYS
    assert facts["SE32.1"].value == 0 and facts["SE32.2"].value == ()
    assert provider.facts("C2", AS_OF)["SE32.2"].value == ("volunteers",)
    # Nothing recorded for a community: the facts are missing, not zero.
    assert EmergencyEvidence(esvc).facts("420102001", date(2024, 1, 1)) == {}
    # The drill on 1 December 2025 local time is inside the year ending 30 November 2026.
    _drill(esvc, "2025-12-01T00:30:00+08:00", {"social_organizations": 4})
    assert provider.facts("C1", AS_OF)["SE32.2"].value == ("social_organizations",)


def test_plans_versions_publication_and_improvements(esvc: Services) -> None:
    partial = {k: v for k, v in FULL.items() if k != "rescue_team"}
    ref = create_plan(
        esvc,
        region="C1",
        hazard="火灾",
        title="幸福社区火灾应急预案",
        contents=partial,
        actor="user:li",
        adopted_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    provider = EmergencyEvidence(esvc)
    facts = provider.facts("C1", AS_OF)
    assert facts["SE31.1"].value is False
    assert facts["SE31.1"].references == (f"emergency_plan:{ref.id}:rescue_team",)
    assert facts["SE31.2"].value is False and facts["SE31.3"].value == 0

    v2 = revise_plan(
        esvc,
        ref.id,
        contents={"rescue_team": FULL["rescue_team"]},
        actor="user:li",
        improvement="补充救援队伍名单",
        at=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert v2.version == 2
    publish_plan(esvc, ref.id, actor="user:li", at=datetime(2026, 4, 2, tzinfo=UTC))
    for month in (5, 6, 7):
        record_improvement(
            esvc,
            ref.id,
            description=f"{month} 月优化疏散路线",
            actor="user:li",
            at=datetime(2026, month, 1, tzinfo=UTC),
        )
    revise_plan(esvc, ref.id, contents={"contacts": "新值班电话"}, actor="user:li")  # v3, not published yet

    [community] = gather([], ["C1"], platform_providers(esvc), AS_OF)
    [scored] = evaluate_paper(paper_system(), [community]).communities
    assert community.facts["SE31.3"].value == 4
    assert (
        scored.criteria["SE31.1"].points,
        scored.criteria["SE31.2"].points,
        scored.criteria["SE31.3"].points,
    ) == (50, 25, 20)
    # Residents see the published version (2), staff the current one (3); both keep every item.
    resident = plan_view(esvc, ref.id, published_only=True)
    staff = plan_view(esvc, ref.id)
    assert resident["version"] == 2 and staff["version"] == 3
    assert "improvements" not in resident and len(staff["improvements"]) == 4
    assert {c["key"]: c["text"] for c in resident["contents"]}["contacts"] == FULL["contacts"]
    assert {c["key"]: c["text"] for c in staff["contents"]}["contacts"] == "新值班电话"


def test_follow_ups(esvc: Services) -> None:
    drill = _drill(esvc, "2026-10-15T09:30:00+08:00", {"residents": 3})
    fid = add_followup(
        esvc,
        drill,
        action="更换 3 栋 2 单元疏散指示灯",
        owner="物业工程部",
        due_on="2026-12-15",
        actor="user:li",
    )
    complete_followup(esvc, fid, actor="user:wang")
    [f] = drill_view(esvc, drill)["followups"]
    assert f["done_at"] is not None and f["due_on"] == "2026-12-15"
    with pytest.raises(EmergencyError) as err:
        complete_followup(esvc, fid, actor="user:wang")
    assert err.value.field == "followup_id"


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"region": "NOWHERE"}, "region", "no such region"),
        ({"hazard": "meteor"}, "hazard", "one of fire"),
        ({"held_at": "2026-10-15 09:30"}, "held_at", "with an offset"),
        ({"held_at": "2999-01-01T00:00:00+08:00"}, "held_at", "not in the future"),
        (
            {"participants": [{"category": "pets", "headcount": 2}]},
            "participants[0].category",
            "one of residents",
        ),
        ({"participants": [{"category": "residents", "headcount": 0}]}, "participants[0].headcount", "≥ 1"),
    ],
)
def test_bad_drills_are_refused_naming_field_value_and_expectation(
    sqlite_services: Services, change: dict[str, Any], field: str, expected: str
) -> None:
    from tests.emergency.conftest import add_regions

    add_regions(sqlite_services)
    args: dict[str, Any] = {
        "region": "E1",
        "title": "演练",
        "hazard": "fire",
        "scenario": "起火",
        "held_at": "2026-10-15T09:30:00+08:00",
        "participants": [{"category": "residents", "headcount": 3}],
        **change,
    }
    with pytest.raises(EmergencyError) as err:
        record_drill(sqlite_services, actor="user:li", **args)
    assert err.value.field == field
    assert expected in err.value.en
    assert err.value.zh
