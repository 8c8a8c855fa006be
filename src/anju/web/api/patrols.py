"""Electronic patrols over HTTP: routes, checkpoints, shifts and check-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from anju.notices.catalog import NoticeError
from anju.patrols import matching, plans
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except NoticeError as exc:
        if exc.status == 404:
            raise not_found("巡更对象", "patrol object", exc.value, exc.field) from None
        raise ApiError(exc.status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value) from None


async def _reach(access: Access, table: str, object_id: int, kind: tuple[str, str, str]) -> None:
    estate = await run_in_threadpool(plans.estate_of, access.services, table, object_id)
    if estate is None or not access.covers(estate):
        raise not_found(kind[0], kind[1], object_id, kind[2])


class CheckpointIn(BaseModel):
    estate: str = Field(pattern=CODE)
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    lon: float
    lat: float
    device_id: str | None = Field(default=None, max_length=100)
    qr_code: str | None = Field(default=None, max_length=100)


@router.get("/checkpoints", summary="Checkpoints of the estates in the caller's scope")
async def checkpoints(access: Annotated[Access, require("patrols:view")]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await _run(plans.list_checkpoints, access.services, access.estates)
    return result


@router.post("/checkpoints", status_code=201, summary="Register a checkpoint")
async def add_checkpoint(
    body: CheckpointIn, access: Annotated[Access, require("patrols:edit")]
) -> dict[str, Any]:
    if not access.covers(body.estate):
        raise scope_denied("estate", body.estate)
    cp_id = await _run(lambda: plans.add_checkpoint(access.services, actor=access.actor, **body.model_dump()))
    return {"id": cp_id, **body.model_dump()}


class Window(BaseModel):
    start: str = Field(pattern=r"^\d\d:\d\d$")
    end: str = Field(pattern=r"^\d\d:\d\d$")


class RouteIn(BaseModel):
    estate: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    checkpoints: list[str] = Field(min_length=1, max_length=200, description="checkpoint codes in order")
    ordered: bool = True
    windows: list[Window] = Field(default_factory=list, max_length=24)


@router.get("/routes", summary="Routes of the estates in the caller's scope")
async def routes(access: Annotated[Access, require("patrols:view")]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await _run(plans.list_routes, access.services, access.estates)
    return result


@router.post("/routes", status_code=201, summary="Plan a route of ordered checkpoints")
async def create_route(body: RouteIn, access: Annotated[Access, require("patrols:edit")]) -> dict[str, Any]:
    if not access.covers(body.estate):
        raise scope_denied("estate", body.estate)
    route_id = await _run(
        lambda: plans.create_route(
            access.services,
            estate=body.estate,
            name=body.name,
            checkpoints=body.checkpoints,
            ordered=body.ordered,
            windows=[w.model_dump() for w in body.windows],
            actor=access.actor,
        )
    )
    return {"id": route_id}


class ShiftIn(BaseModel):
    route_id: int
    guard_name: str = Field(min_length=1, max_length=50)
    guard_user: str | None = Field(default=None, max_length=80)
    starts_at: datetime
    ends_at: datetime


@router.get("/shifts", summary="Shifts of the estates in the caller's scope, with their status")
async def shifts(access: Annotated[Access, require("patrols:view")]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await _run(plans.list_shifts, access.services, access.estates)
    return result


@router.post("/shifts", status_code=201, summary="Assign a route to a guard for a window")
async def create_shift(body: ShiftIn, access: Annotated[Access, require("patrols:edit")]) -> dict[str, Any]:
    await _reach(access, "patrol_route", body.route_id, ("巡更路线", "patrol route", "route_id"))
    shift_id = await _run(
        lambda: plans.create_shift(
            access.services,
            route_id=body.route_id,
            guard_name=body.guard_name,
            guard_user=body.guard_user,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            actor=access.actor,
        )
    )
    result: dict[str, Any] = await _run(plans.shift_view, access.services, shift_id)
    return result


@router.get("/shifts/{shift_id}", summary="A shift's checkpoints: checked, in order, missed")
async def shift(shift_id: int, access: Annotated[Access, require("patrols:view")]) -> dict[str, Any]:
    await _reach(access, "patrol_shift", shift_id, ("巡更班次", "patrol shift", "shift_id"))
    result: dict[str, Any] = await _run(plans.shift_view, access.services, shift_id)
    return result


class CheckinIn(BaseModel):
    method: Literal["qr", "nfc", "device", "manual"]
    checkpoint: str | None = Field(default=None, pattern=CODE)
    qr_code: str | None = Field(default=None, max_length=100)
    at: datetime | None = Field(default=None, description="default: now")


@router.post(
    "/shifts/{shift_id}/checkins", status_code=201, summary="Check in at a checkpoint (a patrol_record)"
)
async def check_in(
    shift_id: int, body: CheckinIn, access: Annotated[Access, require("patrols:edit")]
) -> dict[str, Any]:
    await _reach(access, "patrol_shift", shift_id, ("巡更班次", "patrol shift", "shift_id"))
    result: dict[str, Any] = await _run(
        lambda: matching.check_in(
            access.services,
            shift_id,
            method=body.method,
            checkpoint=body.checkpoint,
            qr_code=body.qr_code,
            at=body.at,
            actor=access.actor,
        )
    )
    return result
