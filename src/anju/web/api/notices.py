"""Information release over HTTP: drafts, approval of policy content, publication on channels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from anju.notices import publishing, views
from anju.notices.catalog import NoticeError, catalog
from anju.security.identity import Principal
from anju.services import Services
from anju.web.auth import Access, authenticated, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


def _error(exc: NoticeError) -> ApiError:
    if exc.status == 404:
        return not_found("通知", "notice", exc.value, exc.field)
    return ApiError(exc.status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value)


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except NoticeError as exc:
        raise _error(exc) from None


async def _reach(access: Access, notice_id: int) -> None:
    """404 for a notice that does not exist or lies outside the caller's scope."""
    region = await run_in_threadpool(publishing.notice_region, access.services, notice_id)
    if region is None or not access.covers(region):
        raise not_found("通知", "notice", notice_id, "notice_id")


@router.get("/channels", summary="Channels, content types, categories and audiences (data files)")
async def channels(access: Annotated[Access, require("notices:view")]) -> dict[str, Any]:
    cat = catalog()
    return {
        "channels": [c.to_json() for c in cat.channels.values()],
        "content_types": [c.to_json() for c in cat.content_types.values()],
        "categories": [c.to_json() for c in cat.categories.values()],
        "audiences": [c.to_json() for c in cat.audiences.values()],
    }


@router.get("", summary="Notices of a region within the caller's scope, newest first")
async def list_notices(
    access: Annotated[Access, require("notices:view")],
    region: Annotated[str | None, Query(pattern=CODE)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> list[dict[str, Any]]:
    if region is not None and not access.covers(region):
        raise scope_denied("region", region)
    regions = None if access.estates is None and region is None else ({region} if region else access.estates)
    result: list[dict[str, Any]] = await _run(views.list_notices, access.services, regions, status=status)
    return result


class NoticeIn(BaseModel):
    region: str = Field(pattern=CODE, description="community or estate code")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=19000)
    category: str = Field(max_length=40, description="see GET /api/v1/notices/channels")
    audience: str = Field(default="all_residents", max_length=40)
    channels: list[str] = Field(min_length=1, max_length=7)
    content_type: str | None = Field(default=None, max_length=40, description="general or policy")
    expires_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


@router.post("", status_code=201, summary="Draft a notice")
async def create(body: NoticeIn, access: Annotated[Access, require("notices:edit")]) -> dict[str, Any]:
    if not access.covers(body.region):
        raise scope_denied("region", body.region)
    notice_id = await _run(
        lambda: publishing.create_notice(
            access.services,
            region=body.region,
            title=body.title,
            body=body.body,
            category=body.category,
            audience=body.audience,
            channels=body.channels,
            actor=access.actor,
            content_type=body.content_type,
            expires_at=body.expires_at,
            lon=body.lon,
            lat=body.lat,
        )
    )
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


@router.get("/{notice_id}", summary="One notice with its deliveries and read counts")
async def show(notice_id: int, access: Annotated[Access, require("notices:view")]) -> dict[str, Any]:
    await _reach(access, notice_id)
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


@router.post("/{notice_id}/approve", summary="Approve policy content (not one's own draft)")
async def approve(notice_id: int, access: Annotated[Access, require("notices:approve")]) -> dict[str, Any]:
    await _reach(access, notice_id)
    await _run(publishing.approve, access.services, notice_id, actor=access.actor)
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


class PublishIn(BaseModel):
    publish_at: datetime | None = Field(default=None, description="later: scheduled; absent or past: now")


@router.post("/{notice_id}/publish", summary="Publish now or schedule (policy content must be approved)")
async def publish(
    notice_id: int, access: Annotated[Access, require("notices:publish")], body: PublishIn | None = None
) -> dict[str, Any]:
    await _reach(access, notice_id)
    at = body.publish_at if body else None
    await _run(publishing.publish, access.services, notice_id, actor=access.actor, publish_at=at)
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


class WithdrawIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


@router.post("/{notice_id}/withdraw", summary="Withdraw a draft, scheduled or published notice")
async def withdraw(
    notice_id: int, access: Annotated[Access, require("notices:publish")], body: WithdrawIn | None = None
) -> dict[str, Any]:
    await _reach(access, notice_id)
    reason = body.reason if body else None
    await _run(publishing.withdraw, access.services, notice_id, actor=access.actor, reason=reason)
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


@router.post("/{notice_id}/deliveries/{channel}/confirm", summary="Confirm a manual channel's posting")
async def confirm(
    notice_id: int, channel: str, access: Annotated[Access, require("notices:publish")]
) -> dict[str, Any]:
    await _reach(access, notice_id)
    await _run(publishing.confirm_delivery, access.services, notice_id, channel, actor=access.actor)
    result: dict[str, Any] = await _run(views.notice_view, access.services, notice_id)
    return result


class ReceiptIn(BaseModel):
    channel: str = Field(max_length=40, description="mobile_app or mini_program")
    reader: str | None = Field(
        default=None, max_length=200, description="the app's reader identifier; default: the caller"
    )


@router.post("/{notice_id}/receipts", summary="A reader opened a published notice")
async def receipt(
    notice_id: int, body: ReceiptIn, request: Request, principal: Annotated[Principal, authenticated()]
) -> dict[str, Any]:
    # Any signed-in caller (the app's back end with a device or integration account, a resident): a
    # published notice is public to its residents, and the reader is stored only as a keyed digest.
    svc: Services = request.app.state.services
    new = await _run(publishing.record_receipt, svc, notice_id, body.channel, body.reader or principal.actor)
    return {"notice": notice_id, "channel": body.channel, "recorded": bool(new)}
