"""Administration: users and role bindings, the region tree, device credentials, the audit log."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from anju.registry.regions import LEVELS, RegionRefused
from anju.security.identity import IdentityError, UserInfo
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["administration"])

CODE = r"^[A-Za-z0-9_\-]{1,40}$"


def _identity_error(exc: IdentityError) -> ApiError:
    status = 409 if exc.code == "username_taken" else 404 if exc.code == "user_unknown" else 422
    return ApiError(status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value)


def _visible(access: Access, user: UserInfo) -> bool:
    """A scoped administrator sees the users bound somewhere inside the scope."""
    return access.estates is None or any(s and s in access.estates for _, s in user.bindings)


# ---- users --------------------------------------------------------------------------------------------
class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str = Field(min_length=1, max_length=40)
    scope: str | None = Field(default=None, pattern=CODE, description="region or estate code; none: platform")
    display_name: str | None = Field(default=None, max_length=100)


class Binding(BaseModel):
    role: str = Field(min_length=1, max_length=40)
    scope: str | None = Field(default=None, pattern=CODE)


@router.get("/users", summary="Users with their roles and scopes", tags=["users"])
async def list_users(access: Annotated[Access, require("users:view")]) -> dict[str, Any]:
    users = await run_in_threadpool(access.services.identity.list_users)
    shown = [u.to_json() for u in users if _visible(access, u)]
    return {"count": len(shown), "users": shown}


@router.post("/users", status_code=201, summary="Create a user with a first role binding", tags=["users"])
async def create_user(new: NewUser, access: Annotated[Access, require("users:edit")]) -> dict[str, Any]:
    if not access.covers(new.scope) and access.estates is not None:
        raise scope_denied("scope", new.scope)
    try:
        user = await run_in_threadpool(
            access.services.identity.create_user,
            new.username,
            new.password,
            new.role,
            new.scope,
            display_name=new.display_name,
            actor=access.actor,
        )
    except IdentityError as exc:
        raise _identity_error(exc) from None
    return user.to_json()


@router.post("/users/{username}/roles", summary="Grant a user a role over a scope", tags=["users"])
async def bind(
    username: str, binding: Binding, access: Annotated[Access, require("users:edit")]
) -> dict[str, Any]:
    if access.estates is not None and not access.covers(binding.scope):
        raise scope_denied("scope", binding.scope)
    try:
        user = await run_in_threadpool(
            access.services.identity.bind, username, binding.role, binding.scope, actor=access.actor
        )
    except IdentityError as exc:
        raise _identity_error(exc) from None
    return user.to_json()


@router.post("/users/{username}/disable", summary="Disable a user and revoke their tokens", tags=["users"])
async def disable(username: str, access: Annotated[Access, require("users:edit")]) -> dict[str, Any]:
    identity = access.services.identity
    try:
        user = await run_in_threadpool(identity.get_user, username)
    except IdentityError:
        raise not_found("用户", "user", username[:64], "username") from None
    if not _visible(access, user):
        raise not_found("用户", "user", username[:64], "username")
    await run_in_threadpool(identity.disable, username, actor=access.actor)
    return {"username": username, "disabled": True}


# ---- regions ------------------------------------------------------------------------------------------
class NewRegion(BaseModel):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    level: str = Field(pattern="^(district|street|community|estate)$", description=" | ".join(LEVELS))
    parent: str | None = Field(default=None, pattern=CODE)


@router.get("/regions", summary="Region tree nodes within the caller's scope", tags=["regions"])
async def list_regions(access: Annotated[Access, require("regions:view")]) -> dict[str, Any]:
    svc = access.services
    t = svc.db.table("region")

    def fetch() -> list[dict[str, Any]]:
        with svc.db.engine.connect() as conn:
            rows = conn.execute(select(t.c.code, t.c.name, t.c.level, t.c.parent).order_by(t.c.code)).all()
        return [dict(r._mapping) for r in rows if access.covers(r.code)]

    regions = await run_in_threadpool(fetch)
    return {"count": len(regions), "regions": regions}


@router.post("/regions", status_code=201, summary="Add a node to the region tree", tags=["regions"])
async def create_region(new: NewRegion, access: Annotated[Access, require("regions:edit")]) -> dict[str, Any]:
    svc = access.services
    if access.estates is not None and not access.covers(new.parent):
        raise scope_denied("parent", new.parent)
    try:
        await run_in_threadpool(
            partial(svc.regions.add, svc.audit, **new.model_dump(), actor=access.actor),
        )
    except RegionRefused as exc:
        status = 409 if exc.code == "region_exists" else 422
        raise ApiError(status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value) from None
    return new.model_dump()


# ---- device credentials -------------------------------------------------------------------------------
@router.post(
    "/devices/{device_id}/credential",
    status_code=201,
    summary="Issue a device credential (shown once) for ingesting that device's records",
    tags=["devices"],
)
async def device_credential(
    device_id: str,
    access: Annotated[Access, require("devices:edit")],
    estate: Annotated[str, Query(pattern=CODE, description="the device's estate")],
) -> dict[str, Any]:
    if not access.covers(estate):
        raise scope_denied("estate", estate)
    try:
        token = await run_in_threadpool(
            access.services.identity.create_device_credential, device_id, estate, actor=access.actor
        )
    except IdentityError as exc:
        raise _identity_error(exc) from None
    return {"device_id": device_id, "estate": estate, "credential": token}


# ---- audit --------------------------------------------------------------------------------------------
@router.get("/audit", summary="Audit log entries, newest first", tags=["audit"])
async def audit_entries(
    access: Annotated[Access, require("audit:view")],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    entries = await run_in_threadpool(
        access.services.audit.query,
        actor=actor,
        action=action,
        before_seq=before_seq,
        newest_first=True,
        limit=limit,
    )
    return {"count": len(entries), "entries": [e.to_json() for e in entries]}
