"""Alarms over HTTP: list with filters, one alarm with its history, the lifecycle actions, and the live
stream (Server-Sent Events) of changes in the caller's estates.

Scoping: `alarms:view` / `alarms:edit` held over a region covers the estates under it (auth.Access), so an
estate's, a community's and a district's staff each see their own alarms; an alarm outside them is 404,
like one that does not exist. Every action is audited by the store, in the transaction that makes it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from anju.alarms.events import AlarmChange
from anju.alarms.store import Alarm, AlarmNotFound, AlarmRefused
from anju.alarms.tables import SEVERITIES
from anju.security.identity import IdentityError
from anju.security.roles import get_role
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"
MAX_ID = 2**31 - 1
AlarmId = Annotated[int, Path(ge=1, le=MAX_ID, description="the alarm's ID")]

STREAM_BACKLOG = 1000  # history rows replayed to a client that resumes
# A stream ends after an hour: the browser's EventSource reconnects at once with Last-Event-ID and is
# authorised afresh, so a revoked role or an expired token stops receiving within the hour.
STREAM_MAX_SECONDS = 3600.0
STREAM_RETRY_MS = 3000


# ---- bodies ---------------------------------------------------------------------------------------------
class AssignBody(BaseModel):
    to: str = Field(min_length=2, max_length=64, description="username of the person made responsible")


class DispatchBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="who was sent, where (处置派单说明)")


class CommentBody(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="a note in the alarm's history")


class CloseBody(BaseModel):
    result: str = Field(min_length=1, max_length=500, description="the outcome (处置结果)")


# ---- helpers --------------------------------------------------------------------------------------------
def _refused(exc: AlarmRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value)


def _missing(alarm_id: int) -> ApiError:
    return not_found("告警", "alarm", alarm_id, "alarm_id")


async def _visible(access: Access, alarm_id: int, *, events: bool = False) -> Alarm:
    alarm = await run_in_threadpool(access.services.alarms.get, alarm_id, events=events)
    if alarm is None or not access.covers(alarm.estate):
        raise _missing(alarm_id)
    return alarm


async def _act(access: Access, alarm_id: int, action: str, **kwargs: Any) -> dict[str, Any]:
    """Check the alarm is in scope, then run the store's action; refusals become 409/422 answers."""
    await _visible(access, alarm_id)
    store = access.services.alarms
    try:
        alarm = await run_in_threadpool(
            lambda: getattr(store, action)(alarm_id, actor=access.actor, **kwargs)
        )
    except AlarmRefused as exc:
        raise _refused(exc) from None
    except AlarmNotFound:
        raise _missing(alarm_id) from None
    return {"alarm": store.json(alarm)}


def _severities(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    values = [s.strip() for s in raw.split(",") if s.strip()]
    for s in values:
        if s not in SEVERITIES:
            expected = " | ".join(SEVERITIES)
            raise ApiError(
                422,
                "severity_unknown",
                f"severity={s!r} 无效，应为 {expected}（可用逗号分隔多个）",
                f"severity={s!r} is not a severity; expected {expected} (several separated by commas)",
                field="severity",
                value=s[:80],
            )
    return values or None


# ---- list and show --------------------------------------------------------------------------------------
@router.get("", summary="Alarms of the estates in scope, newest activity first")
async def list_alarms(
    access: Annotated[Access, require("alarms:view")],
    estate: Annotated[str | None, Query(pattern=CODE, description="one estate in scope")] = None,
    open: Annotated[bool | None, Query(description="true: open alarms only; false: closed only")] = None,
    status: Annotated[str | None, Query(description="active | cleared")] = None,
    acknowledged: Annotated[bool | None, Query()] = None,
    severity: Annotated[
        str | None, Query(max_length=100, description="critical, major, minor, warning, indeterminate; a,b")
    ] = None,
    type: Annotated[str | None, Query(max_length=40, description="alarm type, e.g. smoke_fire")] = None,
    since: Annotated[datetime | None, Query(description="last seen at or after (ISO 8601)")] = None,
    originator: Annotated[str | None, Query(max_length=100, description="<kind>:<id> or an ID")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict[str, Any]:
    if estate is not None and not access.covers(estate):
        raise scope_denied("estate", estate)
    if status is not None and status not in ("active", "cleared"):
        raise ApiError(
            422,
            "status_unknown",
            f"status={status[:40]!r} 无效，应为 active 或 cleared",
            f"status={status[:40]!r} is not an alarm status; expected active or cleared",
            field="status",
            value=status[:80],
        )
    if since is not None and since.tzinfo is None:
        raise ApiError(
            422,
            "since_without_offset",
            f"since={since.isoformat()!r} 缺少时区，应为带偏移的 ISO 8601 时间，如 2024-05-01T08:00:00+08:00",
            f"since={since.isoformat()!r} has no UTC offset; expected e.g. 2024-05-01T08:00:00+08:00",
            field="since",
            value=since.isoformat(),
        )
    estates = frozenset({estate}) if estate is not None else access.estates
    store = access.services.alarms
    try:
        total, alarms = await run_in_threadpool(
            lambda: store.list(
                estates,
                is_open=open,
                status=status,
                acknowledged=acknowledged,
                severities=_severities(severity),
                type=type,
                since=since,
                originator=originator,
                limit=limit,
                offset=offset,
            )
        )
    except AlarmRefused as exc:
        raise _refused(exc) from None
    return {"total": total, "alarms": [store.json(a) for a in alarms]}


@router.get("/stream", summary="Live changes of alarms in scope (Server-Sent Events, text/event-stream)")
async def stream_alarms(
    request: Request,
    access: Annotated[Access, require("alarms:view")],
    since: Annotated[
        int | None, Query(ge=0, le=2**62, description="resume after this event ID (as Last-Event-ID)")
    ] = None,
    keepalive: Annotated[
        float, Query(ge=0.2, le=60, description="seconds between keep-alive comments")
    ] = 15.0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """Each change is one event: `id:` the history row's ID (resume point; absent for plain re-triggers),
    `event: alarm`, `data:` {alarm_id, change, estate, at, actor, event_id, detail, alarm}. A client too slow
    to keep up is sent `event: dropped` with how many changes it lost, and should re-read the list."""
    start = since
    if start is None and last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise ApiError(
                422,
                "last_event_id_invalid",
                f"Last-Event-ID={last_event_id[:20]!r} 无效，应为事件编号（非负整数）",
                f"Last-Event-ID={last_event_id[:20]!r} is invalid; expected an event ID (a non-negative integer)",
                field="Last-Event-ID",
                value=last_event_id[:20],
            )
        start = int(last_event_id.strip())
    store = access.services.alarms

    async def events() -> AsyncIterator[str]:
        # Subscribed inside the generator, so that its `finally` always unsubscribes (a generator that never
        # started would never run it); subscribed before the backlog is read, so that nothing falls between
        # the two — the duplicates this allows are skipped by event ID.
        sub = store.events.subscribe_async(access.estates)
        deadline = time.monotonic() + STREAM_MAX_SECONDS
        last = start or 0
        dropped = 0
        try:
            backlog = (
                await run_in_threadpool(store.changes_since, start, access.estates, limit=STREAM_BACKLOG)
                if start is not None
                else []
            )
            yield f"retry: {STREAM_RETRY_MS}\n: connected 已连接\n\n"
            for change in backlog:
                last = max(last, change.event_id or 0)
                yield _sse(change)
            while time.monotonic() < deadline:
                try:
                    change = await asyncio.wait_for(sub.get(), timeout=keepalive)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if sub.dropped != dropped:
                    lost, dropped = sub.dropped - dropped, sub.dropped
                    yield f"event: dropped\ndata: {json.dumps({'dropped': lost})}\n\n"
                if change.event_id is not None and change.event_id <= last:
                    continue  # already sent from the backlog
                if change.event_id is not None:
                    last = change.event_id
                yield _sse(change)
        finally:
            sub.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        # No proxy buffering (nginx), no caching: each event must reach the browser as it happens.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(change: AlarmChange) -> str:
    data = json.dumps(change.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {change.event_id}\n" if change.event_id is not None else ""
    return f"{head}event: alarm\ndata: {data}\n\n"


@router.get("/{alarm_id}", summary="One alarm with its history (who did what, when)")
async def show_alarm(alarm_id: AlarmId, access: Annotated[Access, require("alarms:view")]) -> dict[str, Any]:
    alarm = await _visible(access, alarm_id, events=True)
    return {"alarm": access.services.alarms.json(alarm)}


# ---- lifecycle ------------------------------------------------------------------------------------------
@router.post("/{alarm_id}/acknowledge", summary="Acknowledge: seen; escalation and reminders stop (audited)")
async def acknowledge_alarm(
    alarm_id: AlarmId, access: Annotated[Access, require("alarms:edit")]
) -> dict[str, Any]:
    return await _act(access, alarm_id, "acknowledge")


@router.post("/{alarm_id}/assign", summary="Assign to a person who can see the alarm (audited)")
async def assign_alarm(
    alarm_id: AlarmId, body: AssignBody, access: Annotated[Access, require("alarms:edit")]
) -> dict[str, Any]:
    alarm = await _visible(access, alarm_id)
    if not await run_in_threadpool(_may_see, access, body.to, alarm.estate):
        # The same answer for a user who does not exist and one who could not see the alarm.
        raise ApiError(
            422,
            "assignee_unknown",
            f"to={body.to!r}：没有能查看此告警的用户 {body.to!r}",
            f"to={body.to!r}: there is no user {body.to!r} who can see this alarm",
            field="to",
            value=body.to,
        )
    return await _act(access, alarm_id, "assign", to=body.to)


def _may_see(access: Access, username: str, estate: str | None) -> bool:
    svc = access.services
    try:
        user = svc.identity.get_user(username)
    except IdentityError:
        return False
    if user.disabled:
        return False
    for role, scope in user.bindings:
        if "alarms:view" not in get_role(role).permissions:
            continue
        if scope == "" or (estate is not None and estate in svc.regions.descendants([scope])):
            return True
    return False


@router.post("/{alarm_id}/dispatch", summary="Dispatch people; acknowledges it too (audited)")
async def dispatch_alarm(
    alarm_id: AlarmId, body: DispatchBody, access: Annotated[Access, require("alarms:edit")]
) -> dict[str, Any]:
    return await _act(access, alarm_id, "dispatch", note=body.note)


@router.post("/{alarm_id}/comment", summary="Add a comment to the alarm's history (audited)")
async def comment_alarm(
    alarm_id: AlarmId, body: CommentBody, access: Annotated[Access, require("alarms:edit")]
) -> dict[str, Any]:
    return await _act(access, alarm_id, "comment", text=body.text)


@router.post("/{alarm_id}/clear", summary="Clear: the condition is over; the alarm stays open (audited)")
async def clear_alarm(alarm_id: AlarmId, access: Annotated[Access, require("alarms:edit")]) -> dict[str, Any]:
    return await _act(access, alarm_id, "clear")


@router.post("/{alarm_id}/close", summary="Close with a result (audited)")
async def close_alarm(
    alarm_id: AlarmId, body: CloseBody, access: Annotated[Access, require("alarms:edit")]
) -> dict[str, Any]:
    return await _act(access, alarm_id, "close", result=body.result)
