"""Special-population cases: visit plan, visits, disposals, sealed notes, audited reads, clear refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from anju.affairs import special
from anju.affairs.catalog import AffairsError
from tests.affairs.conftest import World


def _case(w: World, category: str = "mental_patient", **kw: object) -> int:
    return special.open_case(
        w.svc,
        person_id=w.people["tenant"],
        estate="E1",
        category=category,
        officer="police-li",
        risk_level="high",
        actor="user:police-li",
        **kw,  # type: ignore[arg-type]
    )


def test_case_visits_disposals_and_every_read_audited(world: World) -> None:
    svc = world.svc
    note = "家属电话 13912345678，情绪不稳"
    case_id = _case(world, note=note, equipment=["locator_band"])
    # the plan of a high-risk case: a visit every 7 days from today (30 Nov local)
    before = svc.audit.count()
    [listed] = special.list_cases(svc, frozenset({"C1", "E1"}), actor="user:police-li")
    assert listed["next_visit_on"] == "2026-12-07" and listed["visit_every_days"] == 7
    assert listed["person"]["name"] != "赵小明" and listed["person"]["name"].startswith("赵")
    special.record_visit(
        svc,
        case_id,
        visited_at="2026-12-01T10:00:00+08:00",
        method="home",
        risk_level="medium",
        actor="user:li",
        finding="服药正常",
    )
    special.record_disposal(
        svc,
        case_id,
        occurred_at="2026-12-02T22:00:00+08:00",
        kind="missing",
        action="联系家属并调取监控，找回",
        outcome="已找回",
        actor="user:li",
    )
    view = special.case_view(svc, case_id, frozenset({"E1"}), actor="user:police-li")
    assert view["risk_level"]["key"] == "medium" and view["next_visit_on"] == "2026-12-08"
    assert view["note"] == "家属电话 139****5678，情绪不稳"  # free text opened for police, identifiers masked
    assert [d["kind"]["key"] for d in view["disposals"]] == ["missing"]
    assert view["visits"][0]["finding"] == "服药正常"
    actions = [e.action for e in svc.audit.tail(10)]
    assert "special_population.list" in actions and "special_population.view" in actions
    assert svc.audit.count() == before + 4  # list, visit, disposal, view

    # sealed at rest: the note's text is not in the table
    with svc.db.engine.connect() as conn:
        stored = conn.execute(select(svc.db.table("special_case").c.note)).scalar_one()
        assert "13912345678" not in stored and "情绪" not in stored
        assert (
            conn.execute(text("select count(*) from special_disposal where action like '%监控%'")).scalar()
            == 0
        )

    # outside the caller's estates: the same answer as absent
    with pytest.raises(AffairsError) as exc:
        special.case_view(svc, case_id, frozenset({"E2"}), actor="user:other")
    assert exc.value.code == "not_found" and exc.value.field == "case_id"


def test_refusals_name_the_field(world: World) -> None:
    with pytest.raises(AffairsError) as exc:
        _case(world, category="vip")
    assert exc.value.field == "category" and "mental_patient" in exc.value.en and "应为" in exc.value.zh
    with pytest.raises(AffairsError) as exc:
        special.open_case(
            world.svc,
            person_id="nobody",
            estate="E1",
            category="drug_addict",
            officer="x",
            risk_level="low",
            actor="user:x",
        )
    assert exc.value.field == "person_id[0]"
    _case(world)
    with pytest.raises(AffairsError) as exc:
        _case(world)
    assert exc.value.code == "duplicate"


def test_key_rotation_reseals_the_sealed_affairs_columns(world: World) -> None:
    from anju.security.rotation import rotate

    svc = world.svc
    case_id = _case(world, note="家属电话 13912345678")
    special.record_visit(
        svc,
        case_id,
        visited_at="2026-12-01T10:00:00+08:00",
        method="home",
        risk_level="high",
        actor="user:li",
        finding="服药正常",
    )
    report = rotate(svc, actor="test")
    assert report.resealed["special_case"] == 1 and report.resealed["special_visit"] == 1
    with svc.db.engine.connect() as conn:
        note = conn.execute(text("SELECT note FROM special_case")).scalar_one()
        finding = conn.execute(text("SELECT finding FROM special_visit")).scalar_one()
    assert note.startswith(f"v1:{report.version}:") and finding.startswith(f"v1:{report.version}:")
    view = special.case_view(svc, case_id, frozenset({"E1"}), actor="user:police-li")
    assert view["note"] == "家属电话 139****5678" and view["visits"][0]["finding"] == "服药正常"
