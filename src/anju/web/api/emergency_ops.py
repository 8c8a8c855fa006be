"""Emergency operations over HTTP: the risk map, duty coverage, resources, dispatch, incidents, warnings.

Permissions: `emergency:view` to read, `emergency:edit` to record (zones, resources, incidents, dispatches),
`emergency:publish` to issue, update, cancel or import a warning. An object outside the caller's estates is
404; naming a target outside (creating in another estate or region) is 403. Resources serve a region node:
an estate's staff see the resources of their estates and of the nodes above them (a district's police).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from anju.alarms.duty import LEVELS
from anju.emergency import dispatch, incidents, responders, risk, warning_ops
from anju.emergency.duty_coverage import coverage_gaps
from anju.web.api.emergency_common import CODE, MAX_ID, Id
from anju.web.api.emergency_common import estates as _estates
from anju.web.api.emergency_common import in_scope as _visible
from anju.web.api.emergency_common import regions as _regions
from anju.web.api.emergency_common import run as _run
from anju.web.api.emergency_common import target as _target
from anju.web.auth import Access, not_found, require
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])
WARNING_ID = r"^[A-Za-z0-9_.:@\-]{1,120}$"
WarningId = Annotated[str, Path(pattern=WARNING_ID)]
MAX_CAP_BYTES = 1_000_000


def _resource_visible(access: Access, region: str | None) -> bool:
    """A resource is seen by whoever covers its region or an estate it serves (a node below it)."""
    if region is None:
        return False
    if access.covers(region):
        return True
    return access.estates is not None and any(
        region in access.services.regions.ancestors(e) for e in access.estates
    )


# ---- risk zones and the risk map -----------------------------------------------------------------------
class ZoneIn(BaseModel):
    estate: str = Field(pattern=CODE)
    hazard: str = Field(min_length=1, max_length=40, description="risk.yaml hazards")
    level: str = Field(min_length=1, max_length=20, description="risk.yaml levels")
    name: str = Field(min_length=1, max_length=200)
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS-84")
    assessed_on: date
    reviewer: str = Field(min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=4000)


class AssessIn(BaseModel):
    level: str = Field(min_length=1, max_length=20)
    assessed_on: date
    reviewer: str = Field(min_length=1, max_length=80)
    geometry: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)


@router.get("/risk-zones", summary="Risk zones of the estates in scope (special populations as counts only)")
async def list_zones(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    retired: Annotated[bool, Query(description="include withdrawn zones")] = False,
) -> dict[str, Any]:
    svc = access.services
    estates = _estates(svc, access, estate)
    return {"zones": await _run(lambda: risk.list_zones(svc, estates, include_retired=retired))}


@router.post("/risk-zones", status_code=201, summary="Draw a risk zone (audited)")
async def create_zone(body: ZoneIn, access: Annotated[Access, require("emergency:edit")]) -> dict[str, Any]:
    _target(access, "estate", body.estate)
    zone_id = await _run(lambda: risk.create_zone(access.services, actor=access.actor, **body.model_dump()))
    return {"id": zone_id}


@router.post("/risk-zones/{zone_id}/assessments", summary="Reassess a zone: level, date, reviewer")
async def assess_zone(
    zone_id: Id, body: AssessIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    await _visible(
        access, lambda: risk.zone_estate(svc, zone_id), ("风险区域", "risk zone"), zone_id, "zone_id"
    )
    changes = body.model_dump(exclude_none=True)
    await _run(lambda: risk.reassess(svc, zone_id, changes, actor=access.actor))
    return {"id": zone_id}


@router.post("/risk-zones/{zone_id}/retire", summary="Withdraw a zone from the map")
async def retire_zone(zone_id: Id, access: Annotated[Access, require("emergency:edit")]) -> dict[str, Any]:
    svc = access.services
    await _visible(
        access, lambda: risk.zone_estate(svc, zone_id), ("风险区域", "risk zone"), zone_id, "zone_id"
    )
    await _run(lambda: risk.retire(svc, zone_id, actor=access.actor))
    return {"id": zone_id, "retired": True}


@router.get("/risk-map", summary="The risk map of an estate as a GeoJSON FeatureCollection")
async def risk_map(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str, Query(pattern=CODE)],
) -> JSONResponse:
    svc = access.services
    estates = _estates(svc, access, estate)
    doc = await _run(lambda: risk.risk_map(svc, estates))
    return JSONResponse(doc, media_type="application/geo+json")


# ---- duty coverage -------------------------------------------------------------------------------------
@router.get("/duty/coverage", summary="Periods when nobody is on duty, per estate and level")
async def duty_coverage(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    start: Annotated[date | None, Query(alias="from", description="first day (local), default today")] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    level: Annotated[list[int] | None, Query(description="0 estate, 1 community, 2 district")] = None,
) -> dict[str, Any]:
    svc = access.services
    levels = tuple(level) if level else LEVELS
    for lv in levels:
        if lv not in LEVELS:
            raise ApiError(
                422,
                "level_unknown",
                f"level={lv} 无效，应为 0（小区）、1（社区）或 2（区）",
                f"level={lv} is not a duty level; expected 0 (estate), 1 (community) or 2 (district)",
                field="level",
                value=lv,
            )
    estates = _estates(svc, access, estate)
    tz = svc.settings.timezone
    first = start or svc.pipeline.clock().astimezone(tz).date()
    begin = datetime.combine(first, time(0), tz)

    def compute() -> list[dict[str, object]]:
        gaps = coverage_gaps(
            svc.duty.officers(),
            estates,
            {e: svc.regions.ancestors(e) for e in estates},
            start=begin,
            end=begin + timedelta(days=days),
            tz=tz,
            levels=levels,
        )
        return [g.to_json() for g in gaps]

    gaps = await run_in_threadpool(compute)
    return {
        "from": begin.isoformat(),
        "days": days,
        "levels": list(levels),
        "gaps": gaps,
        "covered": not gaps,
    }


# ---- resources -----------------------------------------------------------------------------------------
class ResourceIn(BaseModel):
    region: str = Field(pattern=CODE, description="estate, community or district it serves")
    kind: str = Field(min_length=1, max_length=30, description="resources.yaml kinds")
    name: str = Field(min_length=1, max_length=200)
    contact_name: str | None = Field(default=None, max_length=50, description="stored sealed, shown masked")
    contact_phone: str | None = Field(default=None, max_length=20, description="stored sealed, shown masked")
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = None
    lat: float | None = None
    available: bool = True


class AvailabilityIn(BaseModel):
    available: bool


@router.get("/resources", summary="Resources serving the estates in scope, contacts masked")
async def list_resources(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
) -> dict[str, Any]:
    svc = access.services
    estates = _estates(svc, access, estate)
    regions = await run_in_threadpool(responders.serving, svc, estates)
    return {"resources": await _run(lambda: responders.list_resources(svc, regions, kind=kind))}


@router.post("/resources", status_code=201, summary="Register a resource (contact sealed; audited)")
async def create_resource(
    body: ResourceIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    rid = await _run(
        lambda: responders.create_resource(access.services, actor=access.actor, **body.model_dump())
    )
    return {"id": rid}


@router.post("/resources/{resource_id}/availability", summary="Mark a resource available or not")
async def resource_availability(
    resource_id: Id, body: AvailabilityIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    region = await run_in_threadpool(responders.resource_region, svc, resource_id)
    if not access.covers(region):  # changing it needs its own region, not just being served by it
        raise not_found("应急资源", "resource", resource_id, "resource_id")
    await _run(lambda: responders.set_available(svc, resource_id, body.available, actor=access.actor))
    return {"id": resource_id, "available": body.available}


# ---- dispatch ------------------------------------------------------------------------------------------
class DispatchIn(BaseModel):
    resource_id: int = Field(ge=1, le=MAX_ID)
    incident_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    alarm_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    note: str = Field(min_length=1, max_length=500, description="what the resource is sent to do")


class WhenIn(BaseModel):
    at: datetime | None = Field(default=None, description="when it happened (with an offset); default now")


@router.get("/dispatches", summary="Dispatches to the estates in scope, newest first")
async def list_dispatches(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    alarm_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    svc = access.services
    estates = _estates(svc, access, estate)
    return {
        "dispatches": await _run(lambda: dispatch.list_dispatches(svc, estates=estates, alarm_id=alarm_id))
    }


@router.post("/dispatches", status_code=201, summary="Send a resource to an incident or an alarm (audited)")
async def create_dispatch(
    body: DispatchIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    where = await _run(lambda: dispatch.target_estate(svc, body.incident_id, body.alarm_id))
    if where is None or not access.covers(where):
        field, key = ("incident_id", body.incident_id) if body.incident_id else ("alarm_id", body.alarm_id)
        raise not_found("事件或告警", "incident or alarm", key, field)
    region = await run_in_threadpool(responders.resource_region, svc, body.resource_id)
    if not _resource_visible(access, region):
        raise not_found("应急资源", "resource", body.resource_id, "resource_id")
    did = await _run(
        lambda: dispatch.dispatch(
            svc,
            resource_id=body.resource_id,
            note=body.note,
            actor=access.actor,
            incident_id=body.incident_id,
            alarm_id=body.alarm_id,
        )
    )
    return {"id": did}


async def _dispatch_step(
    access: Access, dispatch_id: int, step: Literal["ack", "arrive"], at: datetime | None
) -> dict[str, Any]:
    svc = access.services
    await _visible(
        access,
        lambda: dispatch.dispatch_estate(svc, dispatch_id),
        ("调度", "dispatch"),
        dispatch_id,
        "dispatch_id",
    )
    call = dispatch.acknowledge if step == "ack" else dispatch.arrive
    await _run(lambda: call(svc, dispatch_id, actor=access.actor, at=at))
    return {"id": dispatch_id}


@router.post("/dispatches/{dispatch_id}/acknowledge", summary="The resource acknowledged the dispatch")
async def acknowledge_dispatch(
    dispatch_id: Id, body: WhenIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    return await _dispatch_step(access, dispatch_id, "ack", body.at)


@router.post("/dispatches/{dispatch_id}/arrive", summary="The resource arrived on scene")
async def arrive_dispatch(
    dispatch_id: Id, body: WhenIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    return await _dispatch_step(access, dispatch_id, "arrive", body.at)


# ---- incidents -----------------------------------------------------------------------------------------
class IncidentIn(BaseModel):
    estate: str = Field(pattern=CODE)
    title: str = Field(min_length=1, max_length=200)
    commander: str = Field(min_length=1, max_length=80, description="username of the commander")
    hazard: str | None = Field(default=None, max_length=40)
    alarm_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    lon: float | None = None
    lat: float | None = None


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CommanderIn(BaseModel):
    commander: str = Field(min_length=1, max_length=80)


class CloseIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=20, description="resources.yaml outcomes")
    report: dict[str, str] = Field(description="summary, causes, improvements; timeline, what_went_well")


@router.get("/incidents", summary="Incidents of the estates in scope, newest first")
async def list_incidents(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    open: Annotated[bool, Query(description="open incidents only")] = False,
) -> dict[str, Any]:
    svc = access.services
    estates = _estates(svc, access, estate)
    return {"incidents": await _run(lambda: incidents.list_incidents(svc, estates, open_only=open))}


@router.post("/incidents", status_code=201, summary="Open an incident with its commander (audited)")
async def open_incident(
    body: IncidentIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    _target(access, "estate", body.estate)
    iid = await _run(
        lambda: incidents.open_incident(access.services, actor=access.actor, **body.model_dump())
    )
    return {"id": iid}


async def _incident(access: Access, incident_id: int) -> str:
    svc = access.services
    return await _visible(
        access,
        lambda: incidents.incident_estate(svc, incident_id),
        ("事件", "incident"),
        incident_id,
        "incident_id",
    )


@router.get("/incidents/{incident_id}", summary="An incident with its action log, dispatches and report")
async def show_incident(
    incident_id: Id, access: Annotated[Access, require("emergency:view")]
) -> dict[str, Any]:
    await _incident(access, incident_id)
    return await _run(lambda: incidents.incident_view(access.services, incident_id))


@router.post("/incidents/{incident_id}/log", status_code=201, summary="Add to an incident's action log")
async def incident_note(
    incident_id: Id, body: NoteIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _incident(access, incident_id)
    await _run(lambda: incidents.add_note(access.services, incident_id, body.text, actor=access.actor))
    return {"id": incident_id}


@router.post("/incidents/{incident_id}/commander", summary="Hand command over")
async def incident_commander(
    incident_id: Id, body: CommanderIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _incident(access, incident_id)
    await _run(lambda: incidents.hand_over(access.services, incident_id, body.commander, actor=access.actor))
    return {"id": incident_id}


@router.post("/incidents/{incident_id}/close", summary="Close with the after-action report")
async def close_incident(
    incident_id: Id, body: CloseIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _incident(access, incident_id)
    await _run(
        lambda: incidents.close_incident(
            access.services, incident_id, outcome=body.outcome, report=dict(body.report), actor=access.actor
        )
    )
    return {"id": incident_id, "status": "closed"}


@router.get("/incidents/{incident_id}/first-aid", summary="Nearest AEDs, first-aid kits and first aiders")
async def incident_first_aid(
    incident_id: Id,
    access: Annotated[Access, require("emergency:view")],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    estate = await _incident(access, incident_id)
    view = await _run(lambda: incidents.incident_view(access.services, incident_id))
    if view["lon"] is None or view["lat"] is None:
        raise ApiError(
            422,
            "incident_without_position",
            f"事件 {incident_id} 没有位置，无法按距离查找急救资源；请在开启事件时给出经纬度",
            f"incident {incident_id} has no position; give lon/lat when opening it to rank first-aid resources",
            field="incident_id",
            value=incident_id,
        )
    found = await _run(
        lambda: responders.nearest_first_aid(access.services, estate, view["lon"], view["lat"], limit=limit)
    )
    return {"incident_id": incident_id, "resources": found}


# ---- warnings ------------------------------------------------------------------------------------------
# A notice channel (notices/data/channels.yaml); warning_ops checks it and names the field when it is not one.
Channel = Annotated[str, Field(min_length=1, max_length=40)]


def _app() -> list[Channel]:
    return list(warning_ops.DEFAULT_CHANNELS)


class WarningIn(BaseModel):
    region: str = Field(pattern=CODE)
    hazard: str = Field(min_length=1, max_length=40, description="hazards.yaml")
    headline: str = Field(min_length=1, max_length=160)
    description: str = Field(min_length=1, max_length=4000)
    instruction: str = Field(min_length=1, max_length=4000)
    urgency: str = Field(default="Expected", max_length=12)
    severity: str = Field(default="Moderate", max_length=12)
    certainty: str = Field(default="Likely", max_length=12)
    area_desc: str | None = Field(default=None, max_length=300)
    expires: datetime | None = None
    exercise: bool = False
    drill_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    channels: list[Channel] = Field(default_factory=_app, min_length=1, max_length=7)


class WarningUpdateIn(BaseModel):
    headline: str | None = Field(default=None, max_length=160)
    description: str | None = Field(default=None, max_length=4000)
    instruction: str | None = Field(default=None, max_length=4000)
    urgency: str | None = Field(default=None, max_length=12)
    severity: str | None = Field(default=None, max_length=12)
    certainty: str | None = Field(default=None, max_length=12)
    area_desc: str | None = Field(default=None, max_length=300)
    expires: datetime | None = None
    channels: list[Channel] = Field(default_factory=_app, min_length=1, max_length=7)


class WarningCancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    channels: list[Channel] = Field(default_factory=_app, min_length=1, max_length=7)


@router.get("/warnings", summary="Warning messages of the regions in scope, newest first")
async def list_warnings(
    access: Annotated[Access, require("emergency:view")],
    region: Annotated[str | None, Query(pattern=CODE)] = None,
) -> dict[str, Any]:
    regions = _regions(access, region)
    return {"warnings": await _run(lambda: warning_ops.list_warnings(access.services, regions))}


@router.post("/warnings", status_code=201, summary="Issue a warning (CAP Alert) and publish it to residents")
async def issue_warning(
    body: WarningIn, access: Annotated[Access, require("emergency:publish")]
) -> dict[str, Any]:
    _target(access, "region", body.region)
    values = body.model_dump()
    wid = await _run(lambda: warning_ops.issue(access.services, actor=access.actor, **values))
    return await _run(lambda: warning_ops.warning_view(access.services, wid))


async def _warning(access: Access, warning_id: str) -> str:
    svc = access.services
    return await _visible(
        access,
        lambda: warning_ops.warning_region(svc, warning_id),
        ("预警", "warning"),
        warning_id,
        "warning_id",
    )


@router.post("/warnings/import", status_code=201, summary="Record a CAP 1.2 warning received (XML body)")
async def import_warning(
    request: Request,
    access: Annotated[Access, require("emergency:publish")],
    region: Annotated[str, Query(pattern=CODE, description="the region the warning concerns")],
    publish: Annotated[
        list[Channel] | None, Query(description="channels to publish it on; none: record only")
    ] = None,
) -> dict[str, Any]:
    _target(access, "region", region)
    doc = await request.body()
    if len(doc) > MAX_CAP_BYTES:
        raise ApiError(
            413, "cap_too_large", "CAP 文档超过 1 MB", "the CAP document is larger than 1 MB", field="body"
        )
    wid = await _run(
        lambda: warning_ops.import_cap(
            access.services, doc, region=region, actor=access.actor, channels=publish
        )
    )
    return await _run(lambda: warning_ops.warning_view(access.services, wid))


@router.get("/warnings/{warning_id}", summary="A warning message, what followed it and its publications")
async def show_warning(
    warning_id: WarningId, access: Annotated[Access, require("emergency:view")]
) -> dict[str, Any]:
    await _warning(access, warning_id)
    return await _run(lambda: warning_ops.warning_view(access.services, warning_id))


@router.get(
    "/warnings/{warning_id}/cap", summary="The warning as its CAP 1.2 document", response_class=Response
)
async def warning_cap(
    warning_id: WarningId, access: Annotated[Access, require("emergency:view")]
) -> Response:
    await _warning(access, warning_id)
    doc = await _run(lambda: warning_ops.cap_document(access.services, warning_id))
    return Response(doc, media_type="application/xml")


@router.post(
    "/warnings/{warning_id}/update", status_code=201, summary="Issue an Update of the newest message"
)
async def update_warning(
    warning_id: WarningId, body: WarningUpdateIn, access: Annotated[Access, require("emergency:publish")]
) -> dict[str, Any]:
    await _warning(access, warning_id)
    changes = body.model_dump(exclude_none=True, exclude={"channels"})
    wid = await _run(
        lambda: warning_ops.update_warning(
            access.services, warning_id, changes, actor=access.actor, channels=body.channels
        )
    )
    return await _run(lambda: warning_ops.warning_view(access.services, wid))


@router.post("/warnings/{warning_id}/cancel", status_code=201, summary="Issue a Cancel of the newest message")
async def cancel_warning(
    warning_id: WarningId, body: WarningCancelIn, access: Annotated[Access, require("emergency:publish")]
) -> dict[str, Any]:
    await _warning(access, warning_id)
    wid = await _run(
        lambda: warning_ops.cancel_warning(
            access.services, warning_id, body.reason, actor=access.actor, channels=body.channels
        )
    )
    return await _run(lambda: warning_ops.warning_view(access.services, wid))
