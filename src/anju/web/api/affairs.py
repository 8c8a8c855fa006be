"""Community safety affairs over HTTP: special populations, abnormal events, public health, education,
archives.

Objects outside the caller's estates answer 404 (as if absent); a target outside them (creating in another
estate or community) answers 403. Special-population reads are audited by the module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from anju.affairs import archives, education, events, health, special
from anju.affairs.catalog import catalog, instant
from anju.emergency.catalog import EmergencyError
from anju.web.auth import Access, authenticated, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/affairs", tags=["affairs"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"
T = TypeVar("T")

# Path parameters: a missing object among these is the object of the request (404), not bad input.
_OBJECTS = {
    "case_id": ("特殊人群档案", "special-population case"),
    "event_id": ("事件", "event"),
    "material_id": ("教育材料", "education material"),
    "activity_id": ("宣传教育活动", "education activity"),
    "training_id": ("培训", "training"),
}


def _error(exc: EmergencyError) -> ApiError:
    if exc.code == "not_found" and exc.field in _OBJECTS:
        zh, en = _OBJECTS[exc.field]
        return not_found(zh, en, exc.value, exc.field)
    return ApiError(
        422,
        exc.code if exc.code != "not_found" else "unknown_reference",
        exc.zh,
        exc.en,
        field=exc.field,
        value=exc.value,
    )


async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except EmergencyError as exc:  # AffairsError included
        raise _error(exc) from None


def _target(access: Access, field: str, code: str) -> None:
    if not access.covers(code):
        raise scope_denied(field, code)


def _filter(access: Access, field: str, code: str | None) -> None:
    """A list filtered to a region outside the caller's scope: refused, rather than silently empty."""
    if code is not None and not access.covers(code):
        raise scope_denied(field, code)


@router.get(
    "/catalog", summary="The module's lists (types, categories, channels, groups) in Chinese and English"
)
async def get_catalog(_: Annotated[Any, authenticated()]) -> dict[str, Any]:
    cat = catalog()
    names = [
        "special_categories",
        "risk_levels",
        "visit_methods",
        "equipment",
        "disposal_kinds",
        "event_types",
        "event_statuses",
        "event_roles",
        "upload_results",
        "health_kinds",
        "health_levels",
        "health_lists",
        "subject_statuses",
        "channels",
        "modes",
        "groups",
        "material_kinds",
        "audiences",
        "topics",
        "small_places",
        "archive_kinds",
    ]
    return {n: [{"key": e.key, "zh": e.zh, "en": e.en} for e in getattr(cat, n).values()] for n in names}


# ---- special populations ---------------------------------------------------------------------------------
class CaseIn(BaseModel):
    person_id: str = Field(min_length=1, max_length=32, description="registry person id")
    estate: str = Field(pattern=CODE)
    category: str = Field(max_length=40, description="SE42 category (catalog special_categories)")
    officer: str = Field(min_length=1, max_length=80, description="the responsible officer")
    risk_level: str = Field(max_length=20)
    visit_every_days: int | None = Field(default=None, ge=1, le=3650)
    equipment: list[str] = Field(default_factory=list, max_length=5)
    note: str | None = Field(default=None, max_length=4000)


class CaseChange(BaseModel):
    officer: str | None = Field(default=None, max_length=80)
    risk_level: str | None = Field(default=None, max_length=20)
    visit_every_days: int | None = Field(default=None, ge=1, le=3650)
    equipment: list[str] | None = Field(default=None, max_length=5)
    close: bool = False


class VisitIn(BaseModel):
    visited_at: datetime
    method: str = Field(max_length=20)
    risk_level: str = Field(max_length=20)
    finding: str | None = Field(default=None, max_length=4000)


class DisposalIn(BaseModel):
    occurred_at: datetime
    kind: str = Field(max_length=30)
    action: str = Field(min_length=1, max_length=4000)
    outcome: str | None = Field(default=None, max_length=200)


@router.get("/special/cases", summary="Special-population cases in scope (audited)")
async def list_cases(
    access: Annotated[Access, require("special_population:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    _filter(access, "estate", estate)
    cases = await _run(
        special.list_cases,
        access.services,
        access.estates,
        actor=access.actor,
        estate=estate,
        category=category,
        status=status,
        overdue=overdue,
        limit=limit,
    )
    return {"cases": cases}


@router.post("/special/cases", status_code=201, summary="Open a special-population case")
async def create_case(
    body: CaseIn, access: Annotated[Access, require("special_population:edit")]
) -> dict[str, Any]:
    _target(access, "estate", body.estate)
    case_id = await _run(special.open_case, access.services, actor=access.actor, **body.model_dump())
    return await _run(special.case_view, access.services, case_id, access.estates, actor=access.actor)


@router.get("/special/cases/{case_id}", summary="One case with visits and disposals (audited)")
async def get_case(
    case_id: int, access: Annotated[Access, require("special_population:view")]
) -> dict[str, Any]:
    return await _run(special.case_view, access.services, case_id, access.estates, actor=access.actor)


@router.patch("/special/cases/{case_id}", summary="Change the officer, risk, plan or equipment; close")
async def change_case(
    case_id: int, body: CaseChange, access: Annotated[Access, require("special_population:edit")]
) -> dict[str, Any]:
    await _run(
        special.update_case,
        access.services,
        case_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return await _run(special.case_view, access.services, case_id, access.estates, actor=access.actor)


@router.post("/special/cases/{case_id}/visits", status_code=201, summary="Record a visit")
async def add_visit(
    case_id: int, body: VisitIn, access: Annotated[Access, require("special_population:edit")]
) -> dict[str, Any]:
    pk = await _run(
        special.record_visit,
        access.services,
        case_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return {"id": pk, "case_id": case_id}


@router.post("/special/cases/{case_id}/disposals", status_code=201, summary="Record an emergency disposal")
async def add_disposal(
    case_id: int, body: DisposalIn, access: Annotated[Access, require("special_population:edit")]
) -> dict[str, Any]:
    pk = await _run(
        special.record_disposal,
        access.services,
        case_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return {"id": pk, "case_id": case_id}


# ---- abnormal events ---------------------------------------------------------------------------------------
class PersonRef(BaseModel):
    person_id: str = Field(min_length=1, max_length=32)
    role: str = Field(max_length=20)


class EventIn(BaseModel):
    estate: str = Field(pattern=CODE)
    type: str = Field(max_length=40)
    occurred_at: datetime
    place: str = Field(min_length=1, max_length=300)
    summary: str = Field(min_length=1, max_length=4000)
    injured: int = Field(default=0, ge=0)
    dead: int = Field(default=0, ge=0)
    people: list[PersonRef] = Field(default_factory=list, max_length=100)
    lon: float | None = None
    lat: float | None = None


class ActionIn(BaseModel):
    action: str = Field(min_length=1, max_length=4000)
    status: str = Field(max_length=20)


class UploadIn(BaseModel):
    result: str = Field(max_length=20)
    uploaded_at: datetime | None = None
    reference: str | None = Field(default=None, max_length=100)


@router.get("/events", summary="Abnormal events and injuries in scope")
async def list_events(
    access: Annotated[Access, require("abnormal_events:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    _filter(access, "estate", estate)
    found = await _run(
        events.list_events,
        access.services,
        access.estates,
        estate=estate,
        type=type,
        status=status,
        start=start,
        end=end,
        limit=limit,
    )
    return {"events": found}


@router.post("/events", status_code=201, summary="Record an abnormal event or injury")
async def create_event(
    body: EventIn, access: Annotated[Access, require("abnormal_events:edit")]
) -> dict[str, Any]:
    _target(access, "estate", body.estate)
    values = body.model_dump()
    event_id = await _run(events.record_event, access.services, actor=access.actor, **values)
    return await _run(events.event_view, access.services, event_id, access.estates)


@router.get("/events/{event_id}", summary="One abnormal event with its people (masked) and handling")
async def get_event(
    event_id: int, access: Annotated[Access, require("abnormal_events:view")]
) -> dict[str, Any]:
    return await _run(events.event_view, access.services, event_id, access.estates)


@router.post("/events/{event_id}/actions", status_code=201, summary="Record a handling step")
async def add_action(
    event_id: int, body: ActionIn, access: Annotated[Access, require("abnormal_events:edit")]
) -> dict[str, Any]:
    await _run(
        events.handle,
        access.services,
        event_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return await _run(events.event_view, access.services, event_id, access.estates)


@router.post("/events/{event_id}/upload", summary="Record the upload to the upper platform")
async def add_upload(
    event_id: int, body: UploadIn, access: Annotated[Access, require("abnormal_events:edit")]
) -> dict[str, Any]:
    await _run(
        events.record_upload,
        access.services,
        event_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return await _run(events.event_view, access.services, event_id, access.estates)


# ---- public health -------------------------------------------------------------------------------------------
class HealthEventIn(BaseModel):
    region: str = Field(pattern=CODE, description="community or estate")
    title: str = Field(min_length=1, max_length=200)
    kind: str = Field(max_length=40)
    level: str = Field(max_length=4)
    started_at: datetime
    description: str = Field(min_length=1, max_length=8000)


class MemberIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    role: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=20)
    unit: str | None = Field(default=None, max_length=200)


class SubjectIn(BaseModel):
    list: str = Field(max_length=20, description="investigation | observation | management")
    start_on: date
    person_id: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    estate: str | None = Field(default=None, pattern=CODE)
    end_on: date | None = None
    status: str = Field(default="open", max_length=20)
    note: str | None = Field(default=None, max_length=4000)


class CloseIn(BaseModel):
    ended_at: datetime | None = None


@router.get("/health/events", summary="Public health events in scope")
async def list_health_events(
    access: Annotated[Access, require("public_health:view")],
    region: Annotated[str | None, Query(pattern=CODE)] = None,
) -> dict[str, Any]:
    _filter(access, "region", region)
    return {"events": await _run(health.list_events, access.services, access.estates, region=region)}


@router.post("/health/events", status_code=201, summary="Record a public health event")
async def create_health_event(
    body: HealthEventIn, access: Annotated[Access, require("public_health:edit")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    event_id = await _run(health.create_event, access.services, actor=access.actor, **body.model_dump())
    return await _run(health.event_view, access.services, event_id, access.estates)


@router.get("/health/events/{event_id}", summary="One event with its work group and lists (masked)")
async def get_health_event(
    event_id: int, access: Annotated[Access, require("public_health:view")]
) -> dict[str, Any]:
    return await _run(health.event_view, access.services, event_id, access.estates)


@router.post("/health/events/{event_id}/members", status_code=201, summary="Add a work-group member")
async def add_member(
    event_id: int, body: MemberIn, access: Annotated[Access, require("public_health:edit")]
) -> dict[str, Any]:
    pk = await _run(
        health.add_member,
        access.services,
        event_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return {"id": pk, "event_id": event_id}


@router.post("/health/events/{event_id}/subjects", status_code=201, summary="Add a person to a list")
async def add_subject(
    event_id: int, body: SubjectIn, access: Annotated[Access, require("public_health:edit")]
) -> dict[str, Any]:
    if body.estate is not None:
        _target(access, "estate", body.estate)
    pk = await _run(
        health.add_subject,
        access.services,
        event_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return {"id": pk, "event_id": event_id}


@router.post("/health/events/{event_id}/close", summary="Close a public health event")
async def close_health_event(
    event_id: int, body: CloseIn, access: Annotated[Access, require("public_health:edit")]
) -> dict[str, Any]:
    await _run(
        health.close_event,
        access.services,
        event_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return await _run(health.event_view, access.services, event_id, access.estates)


@router.get("/health/export", summary="Export the public health database for the upper platform (audited)")
async def export_health(
    access: Annotated[Access, require("public_health:export")],
    format: Literal["ndjson", "csv"] = "ndjson",
    region: Annotated[str | None, Query(pattern=CODE)] = None,
) -> StreamingResponse:
    _filter(access, "region", region)
    # The export is recorded and audited before the response starts: drain the generator's first step here.
    chunks = await _run(
        lambda: list(
            health.export(access.services, access.estates, fmt=format, actor=access.actor, region=region)
        )
    )
    media = "application/x-ndjson" if format == "ndjson" else "text/csv; charset=utf-8"
    return StreamingResponse(
        iter(chunks),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="public-health.{format}"'},
    )


# ---- education and training ------------------------------------------------------------------------------------
class MaterialIn(BaseModel):
    region: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    kind: str = Field(max_length=20)
    groups: list[str] = Field(min_length=1, max_length=20)
    content: str = Field(min_length=1, max_length=100_000)
    url: str | None = Field(default=None, max_length=500)
    published: bool = True


class MaterialChange(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    content: str | None = Field(default=None, max_length=100_000)
    url: str | None = Field(default=None, max_length=500)
    groups: list[str] | None = Field(default=None, max_length=20)
    published: bool | None = None
    note: str | None = Field(default=None, max_length=500)


class ActivityIn(BaseModel):
    region: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    mode: str = Field(max_length=10)
    audience: list[str] = Field(min_length=1, max_length=20)
    participants: int = Field(ge=0)
    held_at: datetime
    channel: str | None = Field(default=None, max_length=40)
    venue: str | None = Field(default=None, max_length=200)
    material_ids: list[int] = Field(default_factory=list, max_length=50)


class TrainingIn(BaseModel):
    region: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    audience: str = Field(max_length=20)
    topics: list[str] = Field(min_length=1, max_length=10)
    held_at: datetime
    hours: float
    place_kinds: list[str] = Field(default_factory=list, max_length=20)
    trainer: str | None = Field(default=None, max_length=200)


class AttendeeIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    organisation: str | None = Field(default=None, max_length=200)
    org_unit_id: str | None = Field(default=None, max_length=64)
    attended: bool = True


class AttendanceIn(BaseModel):
    attendees: list[AttendeeIn] = Field(min_length=1, max_length=500)


@router.get("/education/materials", summary="Safety education materials in scope")
async def list_materials(
    access: Annotated[Access, require("education:view")],
    group: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    return {"materials": await _run(education.list_materials, access.services, access.estates, group=group)}


@router.post("/education/materials", status_code=201, summary="Add a material (version 1)")
async def create_material(
    body: MaterialIn, access: Annotated[Access, require("education:edit")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    mid = await _run(education.create_material, access.services, actor=access.actor, **body.model_dump())
    return await _run(education.material_view, access.services, mid, access.estates)


@router.get("/education/materials/{material_id}", summary="One material with its versions")
async def get_material(
    material_id: int, access: Annotated[Access, require("education:view")]
) -> dict[str, Any]:
    return await _run(education.material_view, access.services, material_id, access.estates)


@router.post("/education/materials/{material_id}/versions", status_code=201, summary="Revise a material")
async def revise_material(
    material_id: int, body: MaterialChange, access: Annotated[Access, require("education:edit")]
) -> dict[str, Any]:
    await _run(
        education.revise_material,
        access.services,
        material_id,
        actor=access.actor,
        scope=access.estates,
        **body.model_dump(),
    )
    return await _run(education.material_view, access.services, material_id, access.estates)


@router.get("/education/activities", summary="Education activities in scope")
async def list_activities(access: Annotated[Access, require("education:view")]) -> dict[str, Any]:
    return {"activities": await _run(education.list_activities, access.services, access.estates)}


@router.post("/education/activities", status_code=201, summary="Record an activity online or offline")
async def create_activity(
    body: ActivityIn, access: Annotated[Access, require("education:edit")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    aid = await _run(education.record_activity, access.services, actor=access.actor, **body.model_dump())
    return await _run(education.activity_view, access.services, aid, access.estates)


@router.get("/education/activities/{activity_id}", summary="One education activity")
async def get_activity(
    activity_id: int, access: Annotated[Access, require("education:view")]
) -> dict[str, Any]:
    return await _run(education.activity_view, access.services, activity_id, access.estates)


@router.get("/education/trainings", summary="Trainings in scope")
async def list_trainings(
    access: Annotated[Access, require("education:view")],
    audience: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    return {
        "trainings": await _run(education.list_trainings, access.services, access.estates, audience=audience)
    }


@router.post("/education/trainings", status_code=201, summary="Record a training")
async def create_training(
    body: TrainingIn, access: Annotated[Access, require("education:edit")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    tid = await _run(education.record_training, access.services, actor=access.actor, **body.model_dump())
    return await _run(education.training_view, access.services, tid, access.estates)


@router.get("/education/trainings/{training_id}", summary="One training with its attendance (names masked)")
async def get_training(
    training_id: int, access: Annotated[Access, require("education:view")]
) -> dict[str, Any]:
    return await _run(education.training_view, access.services, training_id, access.estates)


@router.post("/education/trainings/{training_id}/attendance", status_code=201, summary="Record attendance")
async def add_attendance(
    training_id: int, body: AttendanceIn, access: Annotated[Access, require("education:edit")]
) -> dict[str, Any]:
    await _run(
        education.record_attendance,
        access.services,
        training_id,
        actor=access.actor,
        scope=access.estates,
        attendees=[a.model_dump() for a in body.attendees],
    )
    return await _run(education.training_view, access.services, training_id, access.estates)


# ---- archives ---------------------------------------------------------------------------------------------------
@router.get("/archives", summary="Search the electronic archive by region, kind, period and words")
async def search_archives(
    access: Annotated[Access, require("archives:view")],
    region: Annotated[str | None, Query(pattern=CODE)] = None,
    kind: Annotated[list[str] | None, Query(max_length=10)] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    _filter(access, "region", region)
    regions: set[str] | None = None if access.estates is None else set(access.estates)
    if region is not None:
        under = access.services.regions.descendants([region])
        regions = under if regions is None else regions & under

    def run() -> list[dict[str, Any]]:
        s = None if start is None else instant("start", start if start.tzinfo else start.astimezone())
        e = None if end is None else instant("end", end if end.tzinfo else end.astimezone())
        found = archives.search(
            access.services, regions, kinds=kind, start=s, end=e, words=q, limit=limit, offset=offset
        )
        return [x.to_json() for x in found]

    return {"entries": await _run(run)}
