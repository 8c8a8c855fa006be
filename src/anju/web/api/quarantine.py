"""The quarantine: look at rejected records and replay them after fixing data or dictionaries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from anju.security.personal import mask_raw
from anju.web.auth import Access, require
from anju.web.deps import known_type
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])


# Quarantine entry ids are 32-bit integers in the database.
MAX_ENTRY_ID = 2**31 - 1
EntryId = Annotated[int, Field(ge=1, le=MAX_ENTRY_ID)]


class ReplayRequest(BaseModel):
    ids: list[EntryId] | None = Field(default=None, description="entries to replay", max_length=100_000)
    all: bool = Field(default=False, description="replay every open entry")

    @model_validator(mode="after")
    def one_of(self) -> ReplayRequest:
        if (self.ids is None) == (not self.all):
            raise ValueError("give either ids or all=true, not both and not neither")
        return self


def _no_entry(entry_id: int, field_name: str) -> ApiError:
    """Also the answer for an entry outside the caller's scope: scope boundaries do not reveal entries."""
    return ApiError(
        404,
        "quarantine_entry_not_found",
        f"隔离区中没有编号 {entry_id} 的记录",
        f"no quarantine entry {entry_id}",
        field=field_name,
        value=entry_id,
    )


@router.get("", summary="Quarantined records")
async def list_entries(
    access: Annotated[Access, require("quarantine:view")],
    status: Annotated[Literal["open", "released", "any"], Query()] = "open",
    record_type: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ENTRY_ID)] = 0,
) -> dict[str, Any]:
    if record_type is not None:
        known_type(record_type)
    total, entries = await run_in_threadpool(
        access.services.quarantine.list,
        estates=access.estates,
        status=None if status == "any" else status,
        record_type=record_type,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "entries": [e.to_dict() for e in entries]}


@router.get("/{entry_id}", summary="One quarantined record with its raw payload (masked unless unmasked)")
async def show_entry(
    entry_id: int,
    access: Annotated[Access, require("quarantine:view")],
    unmask: Annotated[
        bool, Query(description="the raw payload in full (quarantine:unmask; audited)")
    ] = False,
) -> dict[str, Any]:
    svc = access.services
    full = access.require_also("quarantine:unmask") if unmask else None
    in_range = 1 <= entry_id <= MAX_ENTRY_ID
    entry = await run_in_threadpool(svc.quarantine.get, entry_id) if in_range else None
    if entry is not None and not (full or access).covers(entry.estate):
        entry = None
    if entry is None:
        raise _no_entry(entry_id, "entry_id")
    if full is not None:
        await run_in_threadpool(
            svc.audit.record, actor=access.actor, action="quarantine.unmask", target=f"quarantine/{entry_id}"
        )
        return entry.to_dict(with_raw=True)
    shown = entry.to_dict(with_raw=True)
    shown["raw"] = mask_raw(entry.record_type, entry.raw or "", entry.raw_encoding or "utf-8")
    shown["masked"] = True
    return shown


@router.post("/replay", summary="Validate quarantined records again; release those that now pass")
async def replay(
    request: ReplayRequest, access: Annotated[Access, require("quarantine:edit")]
) -> dict[str, Any]:
    if request.ids is not None and access.estates is not None:
        # Entries outside the caller's scope are answered as if they did not exist.
        estates = await run_in_threadpool(access.services.quarantine.estates_of, request.ids)
        for entry_id in request.ids:
            if entry_id not in estates or not access.covers(estates[entry_id]):
                raise _no_entry(entry_id, "ids")
    result = await run_in_threadpool(
        access.services.quarantine.replay,
        None if request.all else request.ids,
        estates=access.estates,
        actor=access.actor,
    )
    out = result.to_dict()
    out["released"] = result.accepted + result.duplicates
    out["still_quarantined"] = result.rejected
    return out
