"""Emergency management over HTTP: plans, drills, supplies, shelters, path graphs and evacuation.

Permissions: `emergency:view` to read, `emergency:edit` to record and change, `emergency:publish` to show a
plan to residents. Every object's region (a plan's or drill's community or estate, a store's, shelter's or
graph's estate) must be covered by the caller: reading or changing an object outside is 404, naming a
target outside (creating in another estate) is 403. Residents read supplies, shelters, their routes and
published plans through the `/public` routes, keyed by an estate or region, which carry no personal data
(docs/emergency.md says why these are public). The operations routes (risk map, duty, dispatch, incidents,
warnings) share the prefix and live in web/api/emergency_ops.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from anju.emergency import plans, shelters, supplies
from anju.emergency.catalog import EmergencyError
from anju.services import Services
from anju.web.api.emergency_common import CODE, MAX_ID, Code, Id
from anju.web.api.emergency_common import estates as _estates
from anju.web.api.emergency_common import in_scope as _in_scope
from anju.web.api.emergency_common import invalid as _invalid
from anju.web.api.emergency_common import regions as _regions
from anju.web.api.emergency_common import run as _run
from anju.web.api.emergency_common import target as _target
from anju.web.auth import Access, not_found, public, require, scope_denied

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])


def _known_region(svc: Services, code: str) -> bool:
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        return conn.execute(select(region.c.code).where(region.c.code == code)).first() is not None


def _published(svc: Services, region: str) -> list[dict[str, Any]]:
    """Published plans of the region and of the nodes above it (an estate's residents see their
    community's plans too), each with the published version's contents only."""
    listed = plans.list_plans(svc, svc.regions.ancestors(region), published_only=True)
    return [plans.plan_view(svc, p["id"], published_only=True) for p in listed]


def _known_estate(svc: Services, estate: str) -> bool:
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        found = conn.execute(
            select(region.c.code).where(region.c.code == estate, region.c.level == "estate")
        ).first()
    return found is not None


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def _public_estate(svc: Services, estate: str) -> None:
    if not await run_in_threadpool(_known_estate, svc, estate):
        raise not_found("小区", "estate", estate, "estate")


# ---- bodies ---------------------------------------------------------------------------------------------
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class PlanIn(BaseModel):
    region: str = Field(pattern=CODE, description="community or estate code")
    hazard: str = Field(min_length=1, max_length=40, description="hazards.yaml key, e.g. fire")
    title: Text200
    contents: dict[str, str] = Field(description="plan content item (categories.yaml) -> text")
    superior_plan: str | None = Field(default=None, max_length=300)
    adopted_at: datetime | None = None


class RevisionIn(BaseModel):
    contents: dict[str, str] = Field(description="changed items; the rest carry over")
    improvement: str | None = Field(default=None, max_length=5000, description="counts for SE31.3")
    at: datetime | None = None


class ImprovementIn(BaseModel):
    description: str = Field(min_length=1, max_length=5000)
    at: datetime | None = None


class ParticipantIn(BaseModel):
    category: str = Field(min_length=1, max_length=40, description="categories.yaml participants key")
    headcount: int
    organisations: list[str] = Field(default_factory=list, max_length=100)


class DrillIn(BaseModel):
    region: str = Field(pattern=CODE)
    title: Text200
    hazard: str = Field(min_length=1, max_length=40)
    scenario: str = Field(min_length=1, max_length=20000)
    held_at: datetime
    ended_at: datetime | None = None
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=20)
    evacuation: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    findings: list[str] = Field(default_factory=list, max_length=200)
    plan_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FollowupIn(BaseModel):
    action: str = Field(min_length=1, max_length=5000)
    owner: str | None = Field(default=None, max_length=200, description="a department or role")
    due_on: date | None = None


class StoreIn(BaseModel):
    estate: str = Field(pattern=CODE)
    name: Text200
    location: str = Field(min_length=1, max_length=300)
    lon: float | None = None
    lat: float | None = None
    custodian: str | None = Field(default=None, max_length=50, description="stored sealed")
    custodian_phone: str | None = Field(default=None, max_length=20, description="stored sealed")


class ItemIn(BaseModel):
    name: Text200
    unit: str = Field(min_length=1, max_length=20)
    quantity: int
    minimum: int
    expires_on: date | None = None
    location: str | None = Field(default=None, max_length=200)


class ItemChange(BaseModel):
    minimum: int | None = None
    expires_on: date | None = None


class MovementIn(BaseModel):
    delta: int = Field(description="positive in, negative out")
    reason: str = Field(min_length=1, max_length=20, description="supplies.yaml movement_reasons key")
    note: str | None = Field(default=None, max_length=500)


class ShelterIn(BaseModel):
    estate: str = Field(pattern=CODE)
    name: Text200
    type: str = Field(min_length=1, max_length=20, description="shelters.yaml types key")
    capacity: int
    lon: float
    lat: float
    facilities: list[str] = Field(default_factory=list, max_length=20)
    status: str = Field(default="open", max_length=20)
    address: str | None = Field(default=None, max_length=300)


class StatusIn(BaseModel):
    status: str = Field(min_length=1, max_length=20, description="open, closed or maintenance")


class GraphIn(BaseModel):
    nodes: list[dict[str, Any]] = Field(max_length=20000)
    edges: list[dict[str, Any]] = Field(max_length=50000)


class EvacuationIn(BaseModel):
    estate: str = Field(pattern=CODE)
    population: dict[str, int] = Field(description="building node -> people (a what-if; nothing stored)")


# ---- plans ----------------------------------------------------------------------------------------------
@router.get("/plans", summary="Emergency plans of the regions in scope")
async def list_plans(
    access: Annotated[Access, require("emergency:view")],
    region: Annotated[str | None, Query(pattern=CODE, description="a community or estate")] = None,
) -> dict[str, Any]:
    regions = _regions(access, region)
    found = await _run(lambda: plans.list_plans(access.services, regions))
    return {"plans": found}


@router.get("/plans/public", summary="Plans published to residents of a region (no sign-in)")
async def public_plans(
    request: Request,
    _: Annotated[None, public("residents read the plans published to them (SE31.2); plan texts only")],
    region: Annotated[str, Query(pattern=CODE, description="a community or estate")],
) -> dict[str, Any]:
    svc = _services(request)
    if not await run_in_threadpool(_known_region, svc, region):
        raise not_found("区划", "region", region, "region")
    shown = await _run(lambda: _published(svc, region))
    return {"region": region, "plans": shown}


@router.post("/plans", status_code=201, summary="Create a plan (version 1)")
async def create_plan(body: PlanIn, access: Annotated[Access, require("emergency:edit")]) -> dict[str, Any]:
    _target(access, "region", body.region)
    ref = await _run(
        lambda: plans.create_plan(
            access.services,
            region=body.region,
            hazard=body.hazard,
            title=body.title,
            contents=body.contents,
            actor=access.actor,
            superior_plan=body.superior_plan,
            adopted_at=body.adopted_at,
        )
    )
    return await _plan(access, ref.id)


async def _plan(access: Access, plan_id: int) -> dict[str, Any]:
    svc = access.services
    view = await _run(lambda: plans.plan_view(svc, plan_id))
    view["versions"] = await _run(lambda: plans.plan_versions(svc, plan_id))
    return view


async def _plan_in_scope(access: Access, plan_id: int) -> None:
    await _in_scope(
        access, lambda: plans.plan_region(access.services, plan_id), ("应急预案", "plan"), plan_id, "plan_id"
    )


@router.get("/plans/{plan_id}", summary="A plan with its current contents, every version and improvements")
async def show_plan(plan_id: Id, access: Annotated[Access, require("emergency:view")]) -> dict[str, Any]:
    await _plan_in_scope(access, plan_id)
    return await _plan(access, plan_id)


@router.post("/plans/{plan_id}/revisions", status_code=201, summary="A new version of a plan")
async def revise_plan(
    plan_id: Id, body: RevisionIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _plan_in_scope(access, plan_id)
    await _run(
        lambda: plans.revise_plan(
            access.services,
            plan_id,
            contents=body.contents,
            actor=access.actor,
            improvement=body.improvement,
            at=body.at,
        )
    )
    return await _plan(access, plan_id)


@router.post("/plans/{plan_id}/publish", summary="Publish the current version to residents")
async def publish_plan(
    plan_id: Id, access: Annotated[Access, require("emergency:publish")]
) -> dict[str, Any]:
    await _plan_in_scope(access, plan_id)
    await _run(lambda: plans.publish_plan(access.services, plan_id, actor=access.actor))
    return await _plan(access, plan_id)


@router.post("/plans/{plan_id}/improvements", status_code=201, summary="Record an improvement (SE31.3)")
async def improve_plan(
    plan_id: Id, body: ImprovementIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _plan_in_scope(access, plan_id)
    pk = await _run(
        lambda: plans.record_improvement(
            access.services, plan_id, description=body.description, actor=access.actor, at=body.at
        )
    )
    return {"id": pk, "plan_id": plan_id}


# ---- drills ---------------------------------------------------------------------------------------------
@router.get("/drills", summary="Drills of the regions in scope, newest first")
async def list_drills(
    access: Annotated[Access, require("emergency:view")],
    region: Annotated[str | None, Query(pattern=CODE)] = None,
) -> dict[str, Any]:
    regions = _regions(access, region)
    return {"drills": await _run(lambda: plans.list_drills(access.services, regions))}


@router.post("/drills", status_code=201, summary="Record a drill held (participants per SE32.2 category)")
async def record_drill(body: DrillIn, access: Annotated[Access, require("emergency:edit")]) -> dict[str, Any]:
    _target(access, "region", body.region)
    if body.plan_id is not None and not access.covers(
        await run_in_threadpool(plans.plan_region, access.services, body.plan_id)
    ):
        raise scope_denied("plan_id", str(body.plan_id))
    svc = access.services
    drill_id = await _run(
        lambda: plans.record_drill(
            svc,
            region=body.region,
            title=body.title,
            hazard=body.hazard,
            scenario=body.scenario,
            held_at=body.held_at,
            ended_at=body.ended_at,
            participants=[p.model_dump() for p in body.participants],
            evacuation=body.evacuation,
            findings=body.findings,
            plan_id=body.plan_id,
            actor=access.actor,
        )
    )
    return await _run(lambda: plans.drill_view(svc, drill_id))


@router.get("/drills/{drill_id}", summary="A drill with participants, timings, findings and follow-ups")
async def show_drill(drill_id: Id, access: Annotated[Access, require("emergency:view")]) -> dict[str, Any]:
    svc = access.services
    await _in_scope(
        access, lambda: plans.drill_region(svc, drill_id), ("演练", "drill"), drill_id, "drill_id"
    )
    return await _run(lambda: plans.drill_view(svc, drill_id))


@router.post("/drills/{drill_id}/followups", status_code=201, summary="Add a follow-up action to a drill")
async def add_followup(
    drill_id: Id, body: FollowupIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    await _in_scope(
        access, lambda: plans.drill_region(svc, drill_id), ("演练", "drill"), drill_id, "drill_id"
    )
    pk = await _run(
        lambda: plans.add_followup(
            svc, drill_id, action=body.action, owner=body.owner, due_on=body.due_on, actor=access.actor
        )
    )
    return {"id": pk, "drill_id": drill_id}


@router.post("/followups/{followup_id}/complete", summary="Mark a drill's follow-up done")
async def complete_followup(
    followup_id: Id, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    await _in_scope(
        access,
        lambda: plans.followup_region(svc, followup_id),
        ("整改事项", "follow-up"),
        followup_id,
        "followup_id",
    )
    await _run(lambda: plans.complete_followup(svc, followup_id, actor=access.actor))
    return {"id": followup_id, "done": True}


# ---- supplies -------------------------------------------------------------------------------------------
@router.get("/supplies", summary="Stores and items of the estates in scope, levels and custodians masked")
async def list_supplies(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
) -> dict[str, Any]:
    estates = await run_in_threadpool(_estates, access.services, access, estate)
    found = await _run(lambda: supplies.supplies_view(access.services, estates, resident=False))
    return {"stores": found}


@router.get("/supplies/public", summary="What supplies are where in an estate, for residents (no sign-in)")
async def public_supplies(
    _: Annotated[None, public("residents check the supplies reserve (SE65.2); no personal data")],
    request: Request,
    estate: Annotated[str, Query(pattern=CODE)],
) -> dict[str, Any]:
    svc = _services(request)
    await _public_estate(svc, estate)
    found = await _run(lambda: supplies.supplies_view(svc, [estate], resident=True))
    return {"estate": estate, "stores": found}


@router.post("/stores", status_code=201, summary="Register a supply store (custodian stored sealed)")
async def create_store(body: StoreIn, access: Annotated[Access, require("emergency:edit")]) -> dict[str, Any]:
    _target(access, "estate", body.estate)
    store_id = await _run(
        lambda: supplies.create_store(access.services, actor=access.actor, **body.model_dump())
    )
    return {"id": store_id, "estate": body.estate}


@router.post("/stores/{store_id}/items", status_code=201, summary="Add an item to a store")
async def add_item(
    store_id: Id, body: ItemIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    await _in_scope(
        access,
        lambda: supplies.store_estate(svc, store_id),
        ("物资储备点", "supply store"),
        store_id,
        "store_id",
    )
    item_id = await _run(lambda: supplies.add_item(svc, store_id, actor=access.actor, **body.model_dump()))
    return {"id": item_id, "store_id": store_id}


async def _item_in_scope(access: Access, item_id: int) -> None:
    await _in_scope(
        access,
        lambda: supplies.item_estate(access.services, item_id),
        ("物资", "supply item"),
        item_id,
        "item_id",
    )


@router.patch("/supplies/{item_id}", summary="Change an item's minimum level or expiry date")
async def change_item(
    item_id: Id, body: ItemChange, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _item_in_scope(access, item_id)
    await _run(
        lambda: supplies.update_item(
            access.services, item_id, actor=access.actor, minimum=body.minimum, expires_on=body.expires_on
        )
    )
    return {"id": item_id}


@router.post(
    "/supplies/{item_id}/movements", status_code=201, summary="Stock in or out (kept in the history)"
)
async def move_stock(
    item_id: Id, body: MovementIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    await _item_in_scope(access, item_id)
    after = await _run(
        lambda: supplies.move_stock(
            access.services, item_id, body.delta, reason=body.reason, note=body.note, actor=access.actor
        )
    )
    return {"id": item_id, "quantity": after}


@router.get("/supplies/{item_id}/movements", summary="An item's full stock history, oldest first")
async def item_movements(item_id: Id, access: Annotated[Access, require("emergency:view")]) -> dict[str, Any]:
    await _item_in_scope(access, item_id)
    return {"id": item_id, "movements": await _run(lambda: supplies.movements(access.services, item_id))}


# ---- shelters, graphs, evacuation ------------------------------------------------------------------------
@router.get("/shelters", summary="Shelters of the estates in scope")
async def list_shelters(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
) -> dict[str, Any]:
    estates = await run_in_threadpool(_estates, access.services, access, estate)
    return {"shelters": await _run(lambda: shelters.list_shelters(access.services, estates))}


@router.get("/shelters/public", summary="Open shelters of an estate for residents (no sign-in)")
async def public_shelters(
    _: Annotated[None, public("residents find their shelters (SE64.3); public places, no personal data")],
    request: Request,
    estate: Annotated[str, Query(pattern=CODE)],
) -> dict[str, Any]:
    svc = _services(request)
    await _public_estate(svc, estate)
    found = await _run(lambda: shelters.list_shelters(svc, [estate]))
    keep = ("id", "name", "type", "type_zh", "capacity", "facilities", "lon", "lat", "address")
    return {"estate": estate, "shelters": [{k: s[k] for k in keep} for s in found if s["status"] == "open"]}


@router.put("/shelters/{shelter_id}", summary="Create or replace a shelter's register entry")
async def save_shelter(
    shelter_id: Code, body: ShelterIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    _target(access, "estate", body.estate)
    current = await run_in_threadpool(shelters.shelter_estate, svc, shelter_id)
    if current is not None and not access.covers(current):
        # An id taken by another estate's shelter: neither moved nor revealed.
        raise scope_denied("shelter_id", shelter_id)
    await _run(lambda: shelters.save_shelter(svc, id=shelter_id, actor=access.actor, **body.model_dump()))
    listed = await run_in_threadpool(shelters.list_shelters, svc, [body.estate])
    [saved] = [s for s in listed if s["id"] == shelter_id]
    return saved


@router.post("/shelters/{shelter_id}/status", summary="Open, close or put a shelter under maintenance")
async def shelter_status(
    shelter_id: Code, body: StatusIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    svc = access.services
    await _in_scope(
        access,
        lambda: shelters.shelter_estate(svc, shelter_id),
        ("避难场所", "shelter"),
        shelter_id,
        "shelter_id",
    )
    await _run(lambda: shelters.set_shelter_status(svc, shelter_id, body.status, actor=access.actor))
    return {"id": shelter_id, "status": body.status}


@router.get("/graphs/{estate}", summary="An estate's walkable path graph")
async def show_graph(estate: Code, access: Annotated[Access, require("emergency:view")]) -> dict[str, Any]:
    if not access.covers(estate):
        raise not_found("疏散路网", "path graph", estate, "estate")
    try:
        return await run_in_threadpool(shelters.graph_view, access.services, estate)
    except EmergencyError:
        raise not_found("疏散路网", "path graph", estate, "estate") from None


@router.put("/graphs/{estate}", summary="Save an estate's path graph (replaces the previous one)")
async def save_graph(
    estate: Code, body: GraphIn, access: Annotated[Access, require("emergency:edit")]
) -> dict[str, Any]:
    _target(access, "estate", estate)
    svc = access.services
    graph = await _run(lambda: shelters.save_graph(svc, estate, body.nodes, body.edges, actor=access.actor))
    return {"estate": estate, "nodes": len(graph.nodes), "edges": graph.graph.number_of_edges()}


async def _evacuation(access: Access, estate: str, population: dict[str, int] | None) -> dict[str, Any]:
    try:
        return await run_in_threadpool(shelters.evacuation, access.services, estate, population)
    except EmergencyError as exc:
        if exc.code == "not_found" and exc.field == "estate":
            raise not_found("疏散路网", "path graph", estate, "estate") from None
        raise _invalid(exc) from None


@router.get("/evacuation", summary="Nearest open shelter and route per building; capacity-aware assignment")
async def evacuation(
    access: Annotated[Access, require("emergency:view")],
    estate: Annotated[str, Query(pattern=CODE)],
) -> dict[str, Any]:
    if not access.covers(estate):
        raise not_found("疏散路网", "path graph", estate, "estate")
    return await _evacuation(access, estate, None)


@router.post("/evacuation", summary="The same for a given population per building (what-if; nothing stored)")
async def evacuation_for(
    body: EvacuationIn, access: Annotated[Access, require("emergency:view")]
) -> dict[str, Any]:
    if not access.covers(body.estate):
        raise not_found("疏散路网", "path graph", body.estate, "estate")
    return await _evacuation(access, body.estate, body.population)


@router.get("/evacuation/public", summary="A building's route to its nearest open shelter (no sign-in)")
async def public_evacuation(
    _: Annotated[None, public("residents reach the nearest shelter (SE64); routes only, no people")],
    estate: Annotated[str, Query(pattern=CODE)],
    request: Request,
    building: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
) -> dict[str, Any]:
    svc = _services(request)
    await _public_estate(svc, estate)
    try:
        return await run_in_threadpool(shelters.resident_routes, svc, estate, building)
    except EmergencyError as exc:
        if exc.code == "not_found":
            raise not_found("疏散路网", "path graph", estate, "estate") from None
        raise _invalid(exc) from None
