"""Authorization-matrix cases of /api/v1/affairs: special populations (police only), abnormal events,
public health, education and the archive. Each case makes its own object inside (E1) or outside (E2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from anju.affairs import education, events, health, special
from anju.registry.store import Provenance
from tests.web.matrix_support import Case, World, estate

P = "/api/v1/affairs"
WHEN = "2026-06-01T09:00:00+08:00"


def _community(where: str) -> str:
    return "C1" if where == "inside" else "C2"


def _person(w: World) -> str:
    """A fresh registry person (a case is one per person and category)."""
    pid = w.unique("AFFP")
    with w.svc.db.engine.begin() as conn:
        w.svc.registry.upsert(
            conn, "person", pid, {"name": "测试人员", "sex": "1"}, Provenance("staff"), now=datetime.now(UTC)
        )
    return pid


def _case(w: World, where: str) -> int:
    return special.open_case(
        w.svc,
        person_id=_person(w),
        estate=estate(where),
        category="mental_patient",
        officer="police",
        risk_level="medium",
        actor="matrix",
    )


def _event(w: World, where: str) -> int:
    return events.record_event(
        w.svc,
        estate=estate(where),
        type="dispute",
        occurred_at=WHEN,
        place="1栋",
        summary="邻里纠纷",
        actor="matrix",
    )


def _health(w: World, where: str) -> int:
    return health.create_event(
        w.svc,
        region=_community(where),
        title="诺如病毒聚集性疫情",
        kind="infectious_disease",
        level="IV",
        started_at=WHEN,
        description="……",
        actor="matrix",
    )


def _material(w: World, where: str) -> int:
    return education.create_material(
        w.svc,
        region=estate(where),
        title="防火",
        kind="article",
        groups=["all"],
        content="……",
        actor="matrix",
    )


def _activity(w: World, where: str) -> int:
    return education.record_activity(
        w.svc,
        region=estate(where),
        title="消防宣传",
        mode="online",
        channel="mobile_app",
        audience=["all"],
        participants=10,
        held_at=WHEN,
        actor="matrix",
    )


def _training(w: World, where: str) -> int:
    return education.record_training(
        w.svc,
        region=estate(where),
        title="物业消防培训",
        audience="property_staff",
        topics=["fire_safety"],
        held_at=WHEN,
        hours=2,
        actor="matrix",
    )


def _get(url: Callable[[World, str], str], params: Callable[[str], dict[str, Any]] | None = None) -> Any:
    def call(w: World, h: dict[str, str], where: str) -> httpx.Response:
        return w.client.get(url(w, where), params=params(where) if params else None, headers=h)

    return call


def _post(url: Callable[[World, str], str], body: Callable[[World, str], dict[str, Any]]) -> Any:
    def call(w: World, h: dict[str, str], where: str) -> httpx.Response:
        return w.client.post(url(w, where), json=body(w, where), headers=h)

    return call


def _case_body(w: World, where: str) -> dict[str, Any]:
    return {
        "person_id": _person(w),
        "estate": estate(where),
        "category": "drug_addict",
        "officer": "police",
        "risk_level": "high",
    }


INSIDE_ONLY = {"inside": 200, "outside": 404}
CREATED = {"inside": 201, "outside": 404}
CREATE_TARGET = {"inside": 201, "outside": 403}
LIST_FILTER = {"inside": 200, "outside": 403}

CASES: list[Case] = [
    Case("GET", f"{P}/catalog", "authenticated", _get(lambda w, where: f"{P}/catalog"), {}),
    # ---- special populations: community police only (property staff and grid workers get 403)
    Case(
        "GET",
        f"{P}/special/cases",
        "special_population:view",
        _get(lambda w, where: f"{P}/special/cases", lambda where: {"estate": estate(where)}),
        LIST_FILTER,
    ),
    Case(
        "POST",
        f"{P}/special/cases",
        "special_population:edit",
        _post(lambda w, where: f"{P}/special/cases", _case_body),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/special/cases/{{case_id}}",
        "special_population:view",
        _get(lambda w, where: f"{P}/special/cases/{_case(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "PATCH",
        f"{P}/special/cases/{{case_id}}",
        "special_population:edit",
        lambda w, h, where: w.client.patch(
            f"{P}/special/cases/{_case(w, where)}", json={"risk_level": "low"}, headers=h
        ),
        INSIDE_ONLY,
    ),
    Case(
        "POST",
        f"{P}/special/cases/{{case_id}}/visits",
        "special_population:edit",
        _post(
            lambda w, where: f"{P}/special/cases/{_case(w, where)}/visits",
            lambda w, where: {"visited_at": WHEN, "method": "home", "risk_level": "low"},
        ),
        CREATED,
    ),
    Case(
        "POST",
        f"{P}/special/cases/{{case_id}}/disposals",
        "special_population:edit",
        _post(
            lambda w, where: f"{P}/special/cases/{_case(w, where)}/disposals",
            lambda w, where: {"occurred_at": WHEN, "kind": "missing", "action": "联系家属"},
        ),
        CREATED,
    ),
    # ---- abnormal events
    Case(
        "GET",
        f"{P}/events",
        "abnormal_events:view",
        _get(lambda w, where: f"{P}/events", lambda where: {"estate": estate(where)}),
        LIST_FILTER,
    ),
    Case(
        "POST",
        f"{P}/events",
        "abnormal_events:edit",
        _post(
            lambda w, where: f"{P}/events",
            lambda w, where: {
                "estate": estate(where),
                "type": "theft",
                "occurred_at": WHEN,
                "place": "车棚",
                "summary": "电瓶被盗",
            },
        ),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/events/{{event_id}}",
        "abnormal_events:view",
        _get(lambda w, where: f"{P}/events/{_event(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "POST",
        f"{P}/events/{{event_id}}/actions",
        "abnormal_events:edit",
        _post(
            lambda w, where: f"{P}/events/{_event(w, where)}/actions",
            lambda w, where: {"action": "调解", "status": "handling"},
        ),
        CREATED,
    ),
    Case(
        "POST",
        f"{P}/events/{{event_id}}/upload",
        "abnormal_events:edit",
        _post(lambda w, where: f"{P}/events/{_event(w, where)}/upload", lambda w, where: {"result": "ok"}),
        INSIDE_ONLY,
    ),
    # ---- public health
    Case(
        "GET",
        f"{P}/health/events",
        "public_health:view",
        _get(lambda w, where: f"{P}/health/events", lambda where: {"region": _community(where)}),
        LIST_FILTER,
    ),
    Case(
        "POST",
        f"{P}/health/events",
        "public_health:edit",
        _post(
            lambda w, where: f"{P}/health/events",
            lambda w, where: {
                "region": _community(where),
                "title": "食物中毒",
                "kind": "food_poisoning",
                "level": "IV",
                "started_at": WHEN,
                "description": "……",
            },
        ),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/health/events/{{event_id}}",
        "public_health:view",
        _get(lambda w, where: f"{P}/health/events/{_health(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "POST",
        f"{P}/health/events/{{event_id}}/members",
        "public_health:edit",
        _post(
            lambda w, where: f"{P}/health/events/{_health(w, where)}/members",
            lambda w, where: {"name": "张医生", "role": "组长"},
        ),
        CREATED,
    ),
    Case(
        "POST",
        f"{P}/health/events/{{event_id}}/subjects",
        "public_health:edit",
        _post(
            lambda w, where: f"{P}/health/events/{_health(w, where)}/subjects",
            lambda w, where: {"list": "observation", "start_on": "2026-06-01", "name": "某某"},
        ),
        CREATED,
    ),
    Case(
        "POST",
        f"{P}/health/events/{{event_id}}/close",
        "public_health:edit",
        _post(lambda w, where: f"{P}/health/events/{_health(w, where)}/close", lambda w, where: {}),
        INSIDE_ONLY,
    ),
    Case(
        "GET",
        f"{P}/health/export",
        "public_health:export",
        _get(lambda w, where: f"{P}/health/export", lambda where: {"region": _community(where)}),
        LIST_FILTER,
    ),
    # ---- education and training
    Case(
        "GET",
        f"{P}/education/materials",
        "education:view",
        _get(lambda w, where: f"{P}/education/materials"),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        f"{P}/education/materials",
        "education:edit",
        _post(
            lambda w, where: f"{P}/education/materials",
            lambda w, where: {
                "region": estate(where),
                "title": "防诈骗",
                "kind": "poster",
                "groups": ["elderly"],
                "content": "……",
            },
        ),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/education/materials/{{material_id}}",
        "education:view",
        _get(lambda w, where: f"{P}/education/materials/{_material(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "POST",
        f"{P}/education/materials/{{material_id}}/versions",
        "education:edit",
        _post(
            lambda w, where: f"{P}/education/materials/{_material(w, where)}/versions",
            lambda w, where: {"content": "新版", "note": "更新"},
        ),
        CREATED,
    ),
    Case(
        "GET",
        f"{P}/education/activities",
        "education:view",
        _get(lambda w, where: f"{P}/education/activities"),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        f"{P}/education/activities",
        "education:edit",
        _post(
            lambda w, where: f"{P}/education/activities",
            lambda w, where: {
                "region": estate(where),
                "title": "防溺水讲座",
                "mode": "offline",
                "venue": "活动室",
                "audience": ["children"],
                "participants": 30,
                "held_at": WHEN,
            },
        ),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/education/activities/{{activity_id}}",
        "education:view",
        _get(lambda w, where: f"{P}/education/activities/{_activity(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "GET",
        f"{P}/education/trainings",
        "education:view",
        _get(lambda w, where: f"{P}/education/trainings"),
        {"inside": 200, "outside": 200},
    ),
    Case(
        "POST",
        f"{P}/education/trainings",
        "education:edit",
        _post(
            lambda w, where: f"{P}/education/trainings",
            lambda w, where: {
                "region": estate(where),
                "title": "九小场所消防培训",
                "audience": "small_places",
                "place_kinds": ["restaurant", "hotel"],
                "topics": ["fire_safety"],
                "held_at": WHEN,
                "hours": 1.5,
            },
        ),
        CREATE_TARGET,
    ),
    Case(
        "GET",
        f"{P}/education/trainings/{{training_id}}",
        "education:view",
        _get(lambda w, where: f"{P}/education/trainings/{_training(w, where)}"),
        INSIDE_ONLY,
    ),
    Case(
        "POST",
        f"{P}/education/trainings/{{training_id}}/attendance",
        "education:edit",
        _post(
            lambda w, where: f"{P}/education/trainings/{_training(w, where)}/attendance",
            lambda w, where: {"attendees": [{"name": "王五", "organisation": "某物业"}]},
        ),
        CREATED,
    ),
    # ---- archives
    Case(
        "GET",
        f"{P}/archives",
        "archives:view",
        _get(lambda w, where: f"{P}/archives", lambda where: {"region": _community(where)}),
        LIST_FILTER,
    ),
]
