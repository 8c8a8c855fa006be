"""Scorecards from the platform's own data, and attestations of what the data cannot show."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from anju.evaluation.attestations import Attachment, open_attestations
from anju.evaluation.errors import EvaluationError
from anju.evaluation.inputs import gather
from anju.evaluation.paper import Weighting, evaluate_paper
from anju.evaluation.platform import platform_providers
from anju.evaluation.shandong import evaluate_shandong
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
from anju.evaluation.wuhan import evaluate_wuhan
from anju.services import Services
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


def _invalid(exc: EvaluationError) -> ApiError:
    return ApiError(
        422,
        "evaluation_input_invalid",
        f"评价输入无效：{exc}",
        f"invalid evaluation input: {exc}",
        field=exc.field or None,
        value=exc.value if isinstance(exc.value, str | int | float | bool) else None,
    )


def _scorecard(
    svc: Services, system: str, community: str, as_of: date, variant: str, tier: str | None
) -> dict[str, Any]:
    communities = gather([], [community], platform_providers(svc), as_of)
    if system == "paper":
        # One community cannot be weighted by CRITIC (no spread to measure): equal weights, said so.
        return evaluate_paper(paper_system(), communities, weighting=Weighting.equal).to_dict()
    if system == "wuhan":
        results = [evaluate_wuhan(wuhan_system(), variant, c) for c in communities]
        return {"system": "wuhan", "variant": variant, "communities": [r.to_dict() for r in results]}
    chosen = [tier] if tier else None
    results_sd = [evaluate_shandong(shandong_system(), c, chosen) for c in communities]
    return {"system": "shandong", "communities": [r.to_dict() for r in results_sd]}


@router.get("/{system}", summary="One community's scorecard from the platform's data and attestations")
async def scorecard(
    system: Literal["paper", "wuhan", "shandong"],
    access: Annotated[Access, require("evaluation:view")],
    community: Annotated[str, Query(pattern=CODE, description="community (or estate) code")],
    as_of: Annotated[date | None, Query(description="evaluation date, default today")] = None,
    variant: Annotated[Literal["standard", "demonstration"], Query()] = "standard",
    tier: Annotated[Literal["basic", "growth"] | None, Query()] = None,
) -> dict[str, Any]:
    if not access.covers(community):
        raise not_found("社区", "community", community, "community")
    try:
        return await run_in_threadpool(
            _scorecard, access.services, system, community, as_of or date.today(), variant, tier
        )
    except EvaluationError as exc:
        raise _invalid(exc) from None


class FileIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    content_base64: str = Field(max_length=14_000_000, description="the file, base64 (at most 10 MB)")


class AttestationIn(BaseModel):
    community: str = Field(pattern=CODE)
    key: str = Field(min_length=1, max_length=40, description="fact key, e.g. WH.video_room or SE32.1")
    value: bool | int | float | str | list[str] = Field(description="the stated value")
    note: str = Field(min_length=1, max_length=2000, description="what the value rests on")
    files: list[FileIn] = Field(default_factory=list, max_length=10)


@router.post("/attestations", status_code=201, summary="State a fact with files (audited)")
async def attest(
    body: AttestationIn, access: Annotated[Access, require("evaluation:edit")]
) -> dict[str, Any]:
    if not access.covers(body.community):
        raise scope_denied("community", body.community)
    files = []
    for i, f in enumerate(body.files):
        try:
            files.append(Attachment(f.name, base64.b64decode(f.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            raise ApiError(
                422,
                "file_not_base64",
                f"第 {i + 1} 个附件 {f.name!r} 不是有效的 base64",
                f"file {i + 1} ({f.name!r}) is not valid base64",
                field=f"files[{i}].content_base64",
            ) from None
    store = open_attestations(access.services)
    try:
        made = await run_in_threadpool(
            lambda: store.add(
                body.community, body.key, body.value, note=body.note, actor=access.actor, files=files
            )
        )
    except EvaluationError as exc:
        raise _invalid(exc) from None
    return made.to_json()


@router.get("/attestations/{community}", summary="A community's attestations, revoked ones included")
async def list_attestations(
    community: str, access: Annotated[Access, require("evaluation:view")]
) -> dict[str, Any]:
    if not access.covers(community):
        raise not_found("社区", "community", community, "community")
    listed = await run_in_threadpool(open_attestations(access.services).list, community)
    return {"community": community, "attestations": [a.to_json() for a in listed]}
