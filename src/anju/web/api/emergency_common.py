"""What the emergency routers share (web/api/emergency.py, emergency_ops.py): path types, the mapping of the
module's refusals to answers, and the scope checks of objects and targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Path
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from anju.emergency.catalog import EmergencyError
from anju.services import Services
from anju.web.auth import Access, not_found, scope_denied
from anju.web.errors import ApiError

CODE = r"^[A-Za-z0-9_\-]{1,40}$"
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Code = Annotated[str, Path(pattern=CODE)]
T = TypeVar("T")
# Refusals that are a conflict with the object's state (409), not bad input (422).
CONFLICTS = frozenset(
    {
        "plan_exists",
        "not_published",
        "incident_closed",
        "already_acknowledged",
        "already_arrived",
        "alarm_closed",
        "resource_unavailable",
        "warning_exists",
        "warning_superseded",
        "warning_cancelled",
    }
)


def invalid(exc: EmergencyError) -> ApiError:
    status = 409 if exc.code in CONFLICTS else 422
    return ApiError(status, f"emergency_{exc.code}", exc.zh, exc.en, field=exc.field, value=exc.value)


async def run(call: Callable[[], T]) -> T:
    """Run a module call off the event loop; its refusals become 422 (409 for conflicts) answers."""
    try:
        return await run_in_threadpool(call)
    except EmergencyError as exc:
        raise invalid(exc) from None


async def in_scope(
    access: Access, lookup: Callable[[], str | None], kind: tuple[str, str], key: Any, field: str
) -> str:
    """The region of an object named in the path, or 404 when it does not exist or lies outside."""
    region = await run_in_threadpool(lookup)
    if region is None or not access.covers(region):
        raise not_found(kind[0], kind[1], key, field)
    return region


def target(access: Access, field: str, value: str) -> None:
    """A target named by the caller (where to create, which estate to list): 403 outside the scope."""
    if not access.covers(value):
        raise scope_denied(field, value)


def estates(svc: Services, access: Access, estate: str | None) -> list[str]:
    """The estates a list covers: one named (403 outside the caller's scope), else all in scope."""
    if estate is not None:
        target(access, "estate", estate)
        return [estate]
    if access.estates is not None:
        return sorted(access.estates)
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        return [
            str(c) for c in conn.execute(select(region.c.code).where(region.c.level == "estate")).scalars()
        ]


def regions(access: Access, region: str | None) -> list[str] | None:
    """The regions a list covers: one named with everything under it (403 outside), else the scope."""
    if region is not None:
        target(access, "region", region)
        return sorted(access.services.regions.descendants([region]))
    return None if access.estates is None else sorted(access.estates)
