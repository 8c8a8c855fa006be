"""SE67 (risk map) and SE62 (warnings), SE61 (duty), SE66/SE43 (departments, joint dispositions) from the
platform's own records through the evaluation engine."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from anju.emergency import dispatch, incidents, responders, risk, warning_ops
from anju.evaluation.evidence import SourceKind
from anju.evaluation.inputs import gather
from anju.evaluation.paper import evaluate_paper
from anju.evaluation.platform import platform_providers
from anju.evaluation.systems import paper_system
from anju.services import Services
from tests.emergency.conftest import NOW, Clock
from tests.emergency.test_ops_dispatch import ROSTER
from tests.emergency.test_ops_risk import square

AS_OF = date(2026, 11, 30)


def _zone(svc: Services, hazard: str, assessed_on: str = "2026-09-01") -> int:
    return risk.create_zone(
        svc,
        estate="E1",
        hazard=hazard,
        level="moderate",
        name=hazard,
        geometry=square(114.3, 30.6),
        assessed_on=assessed_on,
        reviewer="community_admin",
        actor="admin",
    )


def _scored(svc: Services) -> tuple[object, object]:
    [community] = gather([], ["C1"], platform_providers(svc), AS_OF)
    [scored] = evaluate_paper(paper_system(), [community]).communities
    return community, scored


def test_se67_from_the_risk_map(esvc: Services) -> None:
    community, _ = _scored(esvc)
    assert "SE67.1" not in community.facts  # type: ignore[attr-defined]
    for hazard in ("flood", "waterlogging", "geological"):
        _zone(esvc, hazard)
    _zone(esvc, "building_structure", assessed_on="2020-01-01")  # stale: not counted as displayed
    community, scored = _scored(esvc)
    facts = community.facts  # type: ignore[attr-defined]
    assert facts["SE67.1"].value is True and facts["SE67.1"].provider == "emergency_ops"
    assert facts["SE67.2"].value == 3 and facts["SE67.2"].source is SourceKind.records
    assert facts["SE67.3"].value is True  # building structure is a human-factor risk on the map
    crit = scored.criteria  # type: ignore[attr-defined]
    assert (crit["SE67.1"].points, crit["SE67.2"].points, crit["SE67.3"].points) == (50, 15, 25)


def test_se62_from_warnings(esvc: Services, clock: Clock) -> None:
    def issue(exercise: bool = False) -> str:
        return warning_ops.issue(
            esvc,
            region="E1",
            hazard="flood",
            headline="暴雨预警",
            description="暴雨",
            instruction="避险",
            actor="p",
            exercise=exercise,
        )

    kept, cancelled = issue(), issue()
    issue(exercise=True)  # exercises never count as warnings of emergencies
    clock.now = NOW + timedelta(minutes=5)
    warning_ops.cancel_warning(esvc, cancelled, "误报", actor="p")
    community, scored = _scored(esvc)
    facts = community.facts  # type: ignore[attr-defined]
    assert facts["SE62.1"].value is True
    assert facts["SE62.3"].value == 1 and facts["SE62.3"].references == (f"emergency_warning:{kept}",)
    assert scored.criteria["SE62.3"].points == 5  # type: ignore[attr-defined]
    # Published only when a notice channel carried it; a pending publication is not claimed.
    states = {w["id"]: (w["publication"] or {}).get("state") for w in warning_ops.list_warnings(esvc, ["E1"])}
    assert facts["SE62.2"].value == (states[kept] == "published" or states[cancelled] == "published")


def test_publication_through_the_notice_channel_and_pending_retry(
    esvc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(svc: Services, **kw: object) -> int:
        raise RuntimeError("notice channels unavailable")

    with monkeypatch.context() as m:
        m.setattr(warning_ops, "publish_system_notice", unavailable)
        wid = warning_ops.issue(
            esvc,
            region="E1",
            hazard="flood",
            headline="暴雨",
            description="暴雨",
            instruction="避险",
            actor="p",
        )
    assert warning_ops.warning_view(esvc, wid)["publication"]["state"] == "pending"
    community, _ = _scored(esvc)
    assert community.facts["SE62.2"].value is False  # type: ignore[attr-defined]
    # Still pending while a notice has no position to carry (the data standard requires one): E1 has no
    # geometry in the registry, and the deployment has not configured one.
    assert warning_ops.publish_pending(esvc, actor="p") == {"published": 0, "pending": 1}
    (esvc.settings.data_dir / "notice_channels.yaml").write_text(
        "position: {lon: 114.30, lat: 30.60}\n", encoding="utf-8"
    )
    # The retry publishes it as a notice, which emits its `notice` record.
    assert warning_ops.publish_pending(esvc, actor="p") == {"published": 1, "pending": 0}
    view = warning_ops.warning_view(esvc, wid)
    notice_id = view["publication"]["notice_id"]
    assert view["publication"]["state"] == "published" and isinstance(notice_id, int)
    notice, records = esvc.db.table("notice"), esvc.db.table("rec_notice")
    with esvc.db.engine.connect() as conn:
        row = conn.execute(select(notice).where(notice.c.id == notice_id)).one()
        stored = conn.execute(select(func.count()).select_from(records)).scalar_one()
    assert row.category == "emergency_warning" and row.status == "published"
    assert row.source == f"emergency_warning:{wid}" and stored >= 1
    community, _ = _scored(esvc)
    assert community.facts["SE62.2"].value is True  # type: ignore[attr-defined]


def test_se61_se66_se43_from_duty_dispatch_and_incidents(esvc: Services) -> None:
    (esvc.settings.data_dir / "duty.yaml").write_text(ROSTER, encoding="utf-8")
    fire = responders.create_resource(esvc, region="420102", kind="fire", name="消防站", actor="a")
    police = responders.create_resource(esvc, region="C1", kind="police", name="派出所", actor="a")
    responders.create_resource(esvc, region="E1", kind="volunteers", name="志愿者", actor="a")
    iid = incidents.open_incident(esvc, estate="E1", title="电动车起火", commander="chief", actor="duty")
    dispatch.dispatch(esvc, resource_id=fire, incident_id=iid, note="灭火", actor="duty")
    dispatch.dispatch(esvc, resource_id=police, incident_id=iid, note="警戒", actor="duty")
    incidents.close_incident(
        esvc,
        iid,
        outcome="resolved",
        report={"summary": "扑灭", "causes": "违规充电", "improvements": "集中充电"},
        actor="chief",
    )
    community, scored = _scored(esvc)
    facts = community.facts  # type: ignore[attr-defined]
    assert set(facts["SE66.1"].value) == {"fire", "public_security"}
    assert set(facts["SE43.1"].value) == {"fire", "public_security"}
    assert facts["SE43.2"].value == 1
    assert facts["SE61.1"].value is True and facts["SE61.2"].value is True
    # E2 has no estate-level officer but the community officer covers it around the clock; E1 likewise.
    assert facts["SE61.4"].value is True
    crit = scored.criteria  # type: ignore[attr-defined]
    assert crit["SE66.1"].points == 20 and crit["SE43.2"].points == 10
