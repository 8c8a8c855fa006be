"""The device registry over HTTP: list, show, register or change a device of an estate in scope."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from anju.registry import catalog
from anju.registry.devices import Device, DeviceRefused
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


class DeviceBody(BaseModel):
    estate: str = Field(pattern=CODE, description="the estate the device belongs to")
    kind: str = Field(max_length=30, description="a kind of registry/data/device_kinds.yaml")
    name: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    vendor: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=200, description="where it is, in words")
    building_id: str | None = Field(default=None, max_length=60)
    lon: float | None = Field(default=None, description="WGS-84 longitude")
    lat: float | None = Field(default=None, description="WGS-84 latitude")
    installed_on: date | None = None
    status: str | None = Field(default=None, max_length=12, description="active | fault | offline | retired")


def _refused(exc: DeviceRefused) -> ApiError:
    return ApiError(422, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value)


def _visible(access: Access, device: Device | None, device_id: str) -> Device:
    if device is None or not access.covers(device.estate):
        raise not_found("设备", "device", device_id, "device_id")
    return device


@router.get("", summary="Devices of the estates in scope")
async def list_devices(
    access: Annotated[Access, require("devices:view")],
    estate: Annotated[str | None, Query(pattern=CODE)] = None,
    status: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    if estate is not None and not access.covers(estate):
        raise scope_denied("estate", estate)
    if status is not None and status not in catalog.device_statuses():
        allowed = " | ".join(catalog.device_statuses())
        raise ApiError(
            422,
            "device_status_unknown",
            f"设备状态 {status!r} 无效，应为 {allowed}",
            f"status {status!r} is not a device status; expected {allowed}",
            field="status",
            value=status,
        )
    estates = frozenset({estate}) if estate is not None else access.estates
    total, devices = await run_in_threadpool(
        access.services.devices.list, estates, status=status, limit=limit, offset=offset
    )
    return {"total": total, "devices": [d.to_json() for d in devices]}


@router.get("/{device_id}", summary="One device, with when it last reported")
async def show_device(device_id: str, access: Annotated[Access, require("devices:view")]) -> dict[str, Any]:
    device = await run_in_threadpool(access.services.devices.get, device_id[:80])
    return _visible(access, device, device_id).to_json()


@router.put("/{device_id}", summary="Register a device, or change a registered one (audited)")
async def put_device(
    device_id: str, body: DeviceBody, access: Annotated[Access, require("devices:edit")]
) -> dict[str, Any]:
    svc = access.services
    if not access.covers(body.estate):
        raise scope_denied("estate", body.estate)
    existing = await run_in_threadpool(svc.devices.get, device_id[:80])
    if existing is not None:
        _visible(access, existing, device_id)  # moving a device out of another scope is not this caller's
    try:
        change = await run_in_threadpool(
            lambda: svc.devices.register(device_id, actor=access.actor, **body.model_dump())
        )
    except DeviceRefused as exc:
        raise _refused(exc) from None
    device = await run_in_threadpool(svc.devices.get, device_id)
    assert device is not None
    return {"change": change, "device": device.to_json()}
