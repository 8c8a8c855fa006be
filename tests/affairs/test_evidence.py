"""The affairs provider feeds the evaluation engine: SE41 and SE71 scored from the records, with the
evidence chain down to record ids (engine in process and through GET /api/v1/evaluation/paper)."""

from __future__ import annotations

from datetime import UTC, datetime

from anju.affairs import education, events
from anju.affairs.evidence import KEYS, AffairsEvidence
from anju.evaluation.evidence import EvidenceProvider, SourceKind
from anju.evaluation.inputs import gather
from anju.evaluation.paper import evaluate_paper
from anju.evaluation.platform import platform_providers
from anju.evaluation.systems import paper_system
from tests.affairs.conftest import AS_OF, NOW, World
from tests.conftest import signed_in_client


def _event(w: World, when: str, estate: str = "E1", type: str = "elderly_fall") -> int:
    return events.record_event(
        w.svc,
        estate=estate,
        type=type,
        occurred_at=when,
        place="1栋楼下",
        summary="老人跌倒，送医",
        injured=1,
        people=[{"person_id": w.people["parent"], "role": "injured"}],
        actor="user:staff",
    )


def test_se41_from_abnormal_events(world: World) -> None:
    svc = world.svc
    provider = AffairsEvidence(svc)
    assert isinstance(provider, EvidenceProvider)
    assert "SE41.1" not in provider.facts("C1", AS_OF)  # nothing recorded: missing, not zero
    ids = [_event(world, f"2026-{m:02d}-10T08:00:00+08:00") for m in (3, 6, 9)]
    events.record_upload(
        svc, ids[0], result="ok", actor="user:staff", uploaded_at="2026-03-11T09:00:00+08:00"
    )
    events.record_upload(
        svc, ids[1], result="ok", actor="user:staff", uploaded_at="2026-06-11T09:00:00+08:00"
    )
    events.record_upload(svc, ids[2], result="rejected", actor="user:staff")
    other = _event(world, "2026-05-01T08:00:00+08:00", estate="E2")  # C2: not C1's
    events.record_upload(svc, other, result="ok", actor="user:staff")

    [community] = gather([], ["C1"], platform_providers(svc), AS_OF)
    ev = community.facts["SE41.2"]
    assert ev.provider == "affairs" and ev.source is SourceKind.records
    assert ev.value == 2 and ev.references == tuple(f"abnormal_event:{i}" for i in ids[:2])
    assert community.facts["SE41.1"].references == tuple(f"abnormal_event:{i}" for i in ids)
    [scored] = evaluate_paper(paper_system(), [community]).communities
    assert scored.criteria["SE41.1"].points == 70 and scored.criteria["SE41.2"].points == 10
    assert scored.indicators["SE41"] == 80
    facts = provider.facts("C1", AS_OF)
    assert set(facts) <= KEYS
    assert facts["WH.drug_user_incidents"].value == 0
    _event(world, "2026-11-01T08:00:00+08:00", type="drug_incident")
    assert provider.facts("C1", AS_OF)["WH.drug_user_incidents"].value == 1


def _activity(w: World, when: str, mode: str, channel: str | None, venue: str | None = None) -> int:
    return education.record_activity(
        w.svc,
        region="C1",
        title=f"{mode} 安全宣传",
        mode=mode,
        channel=channel,
        venue=venue,
        audience=["all"],
        participants=40,
        held_at=when,
        actor="user:staff",
    )


def test_se71_from_education_records_through_the_engine_and_the_api(world: World) -> None:
    svc = world.svc
    a1 = _activity(world, "2026-04-01T19:00:00+08:00", "online", "wechat_official_account")
    a2 = _activity(world, "2026-05-01T19:00:00+08:00", "online", "mobile_app")
    a3 = _activity(world, "2026-06-01T09:00:00+08:00", "offline", "bulletin_board", venue="社区广场")
    _activity(world, "2025-10-01T19:00:00+08:00", "online", "portal_website")  # before the twelve months
    world.clock.now = datetime(2025, 6, 1, tzinfo=UTC)
    stale = education.create_material(
        svc,
        region="E1",
        title="老年人防跌倒",
        kind="article",
        groups=["elderly"],
        content="……",
        actor="user:s",
    )
    world.clock.now = NOW
    education.create_material(
        svc,
        region="C1",
        title="儿童防溺水",
        kind="video",
        groups=["children", "all"],
        content="……",
        actor="user:s",
    )

    [community] = gather([], ["C1"], platform_providers(svc), AS_OF)
    channels = community.facts["SE71.1"]
    assert channels.value == ("bulletin_board", "wechat_official_account", "mobile_app")
    assert set(channels.references) == {
        f"edu_activity:{a1}:wechat_official_account",
        f"edu_activity:{a2}:mobile_app",
        f"edu_activity:{a3}:bulletin_board",
    }
    assert community.facts["SE71.5"].value is False
    assert community.facts["SE71.5"].references == (f"edu_material:{stale}",)
    [scored] = evaluate_paper(paper_system(), [community]).communities
    points = {k: scored.criteria[k].points for k in ("SE71.1", "SE71.2", "SE71.3", "SE71.4", "SE71.5")}
    assert points == {"SE71.1": 12, "SE71.2": 28, "SE71.3": 24, "SE71.4": 10, "SE71.5": 0}
    assert scored.indicators["SE71"] == 74

    # Updating the stale material (a new version) brings SE71.5's 10 points.
    assert education.revise_material(svc, stale, content="新版内容", actor="user:s", note="年度更新") == 2
    client = signed_in_client(svc)
    response = client.get("/api/v1/evaluation/paper", params={"community": "C1", "as_of": "2026-11-30"})
    assert response.status_code == 200, response.text
    [card] = response.json()["communities"]
    assert card["indicators"]["SE71"] == 84
    se711 = card["criteria"]["SE71.1"]
    assert se711["points"] == 12 and se711["evidence"]["provider"] == "affairs"
    assert f"edu_activity:{a1}:wechat_official_account" in se711["evidence"]["references"]
    assert card["criteria"]["SE41.1"]["evidence"] is None  # no events recorded: shown as missing
