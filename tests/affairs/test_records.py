"""Abnormal events, public health, education and the archive: storage, masking, exports, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select

from anju.affairs import archives, education, events, health
from anju.affairs.catalog import AffairsError
from anju.affairs.evidence import AffairsEvidence
from tests.affairs.conftest import AS_OF, World
from tests.conftest import signed_in_client


def test_event_handling_and_people_by_reference(world: World) -> None:
    svc = world.svc
    event_id = events.record_event(
        svc,
        estate="E1",
        type="老人跌倒",  # the Chinese name is accepted too
        occurred_at="2026-11-01T07:30:00+08:00",
        place="1栋1单元门口",
        summary="老人晨练跌倒",
        injured=1,
        people=[{"person_id": world.people["parent"], "role": "injured"}],
        actor="user:staff",
    )
    events.handle(svc, event_id, action="呼叫120，通知家属", status="handling", actor="user:staff")
    events.handle(svc, event_id, action="已送医，办结", status="closed", actor="user:staff")
    with pytest.raises(AffairsError) as exc:
        events.handle(svc, event_id, action="再次处置", status="handling", actor="user:staff")
    assert exc.value.code == "closed"
    view = events.event_view(svc, event_id, frozenset({"E1"}))
    assert view["type"]["key"] == "elderly_fall" and view["status"]["key"] == "closed"
    assert [a["status"] for a in view["actions"]] == ["handling", "closed"]
    [person] = view["people"]
    assert person["id"] == world.people["parent"] and person["name"] != "李秀英"
    with svc.db.engine.connect() as conn:
        stored = conn.execute(select(svc.db.table("abnormal_event").c.people)).scalar_one()
    assert stored == [{"person_id": world.people["parent"], "role": "injured"}]


def test_public_health_lists_sealed_export_masked_and_audited(world: World) -> None:
    svc = world.svc
    event_id = health.create_event(
        svc,
        region="C1",
        title="诺如病毒聚集性疫情",
        kind="infectious_disease",
        level="IV",
        started_at="2026-11-29T08:00:00+08:00",
        description="幼儿园呕吐腹泻病例",
        actor="user:admin",
    )
    health.add_member(svc, event_id, name="张卫国", phone="13711112222", role="组长", actor="user:admin")
    health.add_subject(
        svc, event_id, list="observation", start_on="2026-11-29", name="孙小红", actor="user:admin"
    )
    health.add_subject(
        svc,
        event_id,
        list="investigation",
        start_on="2026-11-29",
        person_id=world.people["tenant"],
        actor="user:a",
    )
    with svc.db.engine.connect() as conn:
        names = conn.execute(select(svc.db.table("health_subject").c.name)).scalars().all()
        member = conn.execute(select(svc.db.table("health_member").c.phone)).scalar_one()
    assert not any(n and "孙小红" in n for n in names) and "13711112222" not in member
    view = health.event_view(svc, event_id, frozenset({"C1", "E1"}))
    assert view["work_group"][0]["phone"] == "137****2222"
    assert [s["name"] for s in view["observation"]] == ["孙*红"]

    facts = AffairsEvidence(svc).facts("C1", AS_OF)
    assert facts["SE44.1"].value is True and facts["SE44.2"].value is True
    assert facts["SE44.3"].value is False  # not exported yet
    world.clock.now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # 10 hours after the start: in time
    before = svc.audit.count()
    lines = b"".join(
        health.export(svc, frozenset({"C1", "E1"}), fmt="ndjson", actor="user:admin")
    ).splitlines()
    rows = [orjson.loads(x) for x in lines]
    assert [r["record"] for r in rows] == ["event", "subject", "subject"]
    assert "孙小红" not in lines[1].decode() and svc.audit.count() == before + 1
    assert svc.audit.tail(1)[0].action == "public_health.export"
    assert AffairsEvidence(svc).facts("C1", AS_OF)["SE44.3"].value is True
    csv_text = b"".join(health.export(svc, None, fmt="csv", actor="user:admin")).decode()
    assert csv_text.splitlines()[0].startswith("record,event_id") and len(csv_text.splitlines()) == 4
    with pytest.raises(AffairsError) as exc:
        list(health.export(svc, None, fmt="xml", actor="user:admin"))
    assert exc.value.field == "format"


def test_materials_versions_trainings_and_the_archive(world: World) -> None:
    svc = world.svc
    mid = education.create_material(
        svc,
        region="C1",
        title="燃气安全",
        kind="handbook",
        groups=["elderly", "tenants"],
        content="v1",
        actor="u",
    )
    assert education.revise_material(svc, mid, content="v2", actor="u", note="更新阀门图示") == 2
    view = education.material_view(svc, mid, None)
    assert view["content"] == "v2" and [v["version"] for v in view["versions"]] == [1, 2]
    tid = education.record_training(
        svc,
        region="E1",
        title="九小场所消防培训",
        audience="small_places",
        place_kinds=["餐饮场所", "hotel"],
        topics=["fire_safety", "emergency_management"],
        held_at="2026-10-10T14:00:00+08:00",
        hours=2,
        actor="u",
    )
    education.record_attendance(
        svc,
        tid,
        attendees=[{"name": "刘大厨", "organisation": "老刘面馆"}, {"name": "周经理", "attended": False}],
        actor="u",
    )
    t = education.training_view(svc, tid, None)
    assert t["attended"] == 1 and [a["name"] for a in t["attendance"]] == ["刘*厨", "周*理"]
    assert [k["key"] for k in t["place_kinds"]] == ["restaurant", "hotel"]
    with pytest.raises(AffairsError) as exc:
        education.record_training(
            svc,
            region="E1",
            title="x",
            audience="small_places",
            topics=["fire_safety"],
            held_at="2026-10-10T14:00:00+08:00",
            hours=1,
            actor="u",
        )
    assert exc.value.field == "place_kinds"
    facts = AffairsEvidence(svc).facts("C1", AS_OF)
    assert facts["SE72.3"].value == 1 and facts["SE72.3"].references == (f"edu_training:{tid}",)
    assert facts["SE72.2"].value == 0 and facts["SE72.1"].value is False

    event_id = events.record_event(
        svc,
        estate="E1",
        type="fire",
        occurred_at="2026-09-01T20:00:00+08:00",
        place="车棚",
        summary="电动车充电起火",
        actor="u",
    )
    found = archives.search(svc, svc.regions.descendants(["C1"]))
    assert {e.to_json()["ref"] for e in found} == {
        f"education_material:{mid}",
        f"training:{tid}",
        f"abnormal_event:{event_id}",
    }
    assert [e.id for e in archives.search(svc, None, kinds=["training"])] == [tid]
    assert [e.id for e in archives.search(svc, None, words="起火")] == [event_id]
    assert archives.search(svc, {"E2", "C2"}) == []
    facts = AffairsEvidence(svc).facts("C1", AS_OF)
    assert facts["SE15.1"].value is True
    # entered on 30 November, weeks after the training and the fire: not "in time"
    assert facts["SE15.2"].value is False
    assert set(facts["SE15.2"].references) == {f"training:{tid}", f"abnormal_event:{event_id}"}


def test_api_refuses_bad_input_clearly(world: World) -> None:
    client = signed_in_client(world.svc)
    response = client.post(
        "/api/v1/affairs/events",
        json={
            "estate": "E1",
            "type": "alien",
            "occurred_at": "2026-11-01T08:00:00+08:00",
            "place": "x",
            "summary": "y",
        },
    )
    assert response.status_code == 422
    err = response.json()["error"]
    assert err["field"] == "type" and err["value"] == "alien" and "elderly_fall" in err["message_en"]
    assert "应为" in err["message_zh"]
    response = client.post(
        "/api/v1/affairs/events",
        json={
            "estate": "E1",
            "type": "theft",
            "occurred_at": "2026-11-01T08:00:00",
            "place": "x",
            "summary": "y",
        },
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "occurred_at"
    assert client.get("/api/v1/affairs/events/999").status_code == 404
