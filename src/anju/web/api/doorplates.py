"""QR doorplates over HTTP: the page a scan opens, its JSON, self-registration, and staff decisions.

`/d/{token}` is what the printed code holds: a page for a phone, Chinese with English, no external
resources. Everything it shows comes from `registry/scan.py`, which decides per caller what to show; the
page and `GET /api/v1/doorplates/{token}` are the same view in two forms.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from anju.registry.doorplates import DoorplateError, Doorplates
from anju.registry.scan import Reach, ScanError, Scanner, Viewer, reach
from anju.security.identity import Principal
from anju.services import Services
from anju.web.auth import Access, require, viewer
from anju.web.errors import ApiError

router = APIRouter(tags=["doorplates"])

_SCAN = "a doorplate is scanned by anyone; who is signed in decides what it shows"
_REGISTER = "residents without accounts register themselves at their door (seed 003 二(十三) 2)"
_templates = Environment(
    loader=PackageLoader("anju.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class RegistrationBody(BaseModel):
    """Plain text fields: the domain checks them, so that every problem is answered field by field."""

    name: str | None = Field(default=None, max_length=200, description="姓名 name")
    id_type: str | None = Field(default="111", max_length=10, description="证件类型 (ZJLX) certificate type")
    id_number: str | None = Field(default=None, max_length=60, description="证件号码 certificate number")
    phone: str | None = Field(default=None, max_length=40, description="联系电话 phone")
    category: str | None = Field(default=None, max_length=20, description="lodger 寄住 | floating 流动")
    relation: str | None = Field(default=None, max_length=10, description="与户主关系 (YFZGX)")
    moved_in: str | None = Field(default=None, max_length=20, description="入住日期 YYYY-MM-DD")


class DeregisterBody(BaseModel):
    note: str | None = Field(default=None, max_length=500, description="注销说明 note")
    moved_out: date | None = Field(default=None, description="迁出日期 move-out date (default: today)")


class ConfirmBody(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class RejectBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="不通过原因 reason for rejecting")


class RevokeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200, description="撤销原因 reason for revoking")


def _api_error(exc: ScanError | DoorplateError) -> ApiError:
    extra: dict[str, Any] = {}
    if exc.field is not None:
        extra["field"] = exc.field
    if exc.value is not None:
        extra["value"] = exc.value
    if isinstance(exc, ScanError) and exc.problems:
        extra["problems"] = exc.problems
    return ApiError(exc.status, exc.code, exc.zh, exc.en, **extra)


def _scanner(svc: Services) -> Scanner:
    return Scanner(svc, clock=svc.audit.clock)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _view(svc: Services, token: str, principal: Principal | None) -> tuple[dict[str, Any], bool]:
    """The view, and whether the caller may act on it (registry:edit over its estate)."""
    view = _scanner(svc).view(token, Viewer.of(principal, svc.regions))
    can_edit = reach(principal, "registry:edit", svc.regions).covers(view["estate"]["code"])
    return view, can_edit


@router.get("/d/{token}", response_class=HTMLResponse, summary="The page a doorplate's QR code opens")
async def doorplate_page(
    request: Request, token: str, principal: Annotated[Principal | None, viewer(_SCAN)]
) -> HTMLResponse:
    svc: Services = request.app.state.services
    # A phone's browser shows the page, not JSON: failures are pages too, with the same codes and texts.
    headers = {"Cache-Control": "no-store"}
    try:
        view, can_edit = await run_in_threadpool(_view, svc, token, principal)
    except (ScanError, DoorplateError) as exc:
        html = _templates.get_template("doorplate.html").render(
            error={"code": exc.code, "zh": exc.zh, "en": exc.en}, view=None, token=token
        )
        return HTMLResponse(html, status_code=exc.status, headers=headers)
    html = _templates.get_template("doorplate.html").render(
        error=None, view=view, token=token, can_edit=can_edit, signed_in=principal is not None
    )
    return HTMLResponse(html, headers=headers)


@router.get("/api/v1/doorplates/{token}", summary="A doorplate scan as JSON: what this caller may see")
async def doorplate_view(
    request: Request, token: str, principal: Annotated[Principal | None, viewer(_SCAN)]
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    try:
        view, _ = await run_in_threadpool(_view, svc, token, principal)
    except (ScanError, DoorplateError) as exc:
        raise _api_error(exc) from None
    return view


@router.post(
    "/api/v1/doorplates/{token}/registrations",
    summary="Self-registration at a house doorplate (lodgers, floating population); pending until confirmed",
)
async def register(
    request: Request,
    token: str,
    body: RegistrationBody,
    principal: Annotated[Principal | None, viewer(_REGISTER)],
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    request.app.state.limiter.check("doorplate_register", _client(request))
    who = Viewer.of(principal, svc.regions)
    try:
        return await run_in_threadpool(_scanner(svc).register, token, body.model_dump(), who)
    except (ScanError, DoorplateError) as exc:
        raise _api_error(exc) from None


@router.post(
    "/api/v1/doorplates/{token}/residences/{residence_id}/deregister",
    summary="Deregister (注销) a lodger or floating resident at this house; never a permanent resident",
)
async def deregister(
    token: str,
    residence_id: str,
    access: Annotated[Access, require("registry:edit")],
    body: DeregisterBody | None = None,
) -> dict[str, Any]:
    body = body or DeregisterBody()
    try:
        return await run_in_threadpool(
            lambda: _scanner(access.services).deregister(
                token,
                residence_id,
                actor=access.actor,
                scope=Reach(access.estates),
                note=body.note,
                moved_out=body.moved_out,
            )
        )
    except (ScanError, DoorplateError) as exc:
        raise _api_error(exc) from None


@router.get("/api/v1/registry/registrations", summary="Pending registrations in the caller's estates")
async def pending_registrations(
    access: Annotated[Access, require("registry:view")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    scanner = _scanner(access.services)
    return await run_in_threadpool(lambda: scanner.pending(Reach(access.estates), limit=limit, offset=offset))


@router.post(
    "/api/v1/registry/registrations/{residence_id}/confirm",
    summary="Confirm a pending registration: active and verified",
)
async def confirm_registration(
    residence_id: str,
    access: Annotated[Access, require("registry:edit")],
    body: ConfirmBody | None = None,
) -> dict[str, Any]:
    note = body.note if body is not None else None
    try:
        return await run_in_threadpool(
            lambda: _scanner(access.services).confirm(
                residence_id, actor=access.actor, scope=Reach(access.estates), note=note
            )
        )
    except (ScanError, DoorplateError) as exc:
        raise _api_error(exc) from None


@router.post("/api/v1/registry/registrations/{residence_id}/reject", summary="Reject a pending registration")
async def reject_registration(
    residence_id: str, body: RejectBody, access: Annotated[Access, require("registry:edit")]
) -> dict[str, Any]:
    try:
        return await run_in_threadpool(
            lambda: _scanner(access.services).reject(
                residence_id, actor=access.actor, scope=Reach(access.estates), note=body.note
            )
        )
    except (ScanError, DoorplateError) as exc:
        raise _api_error(exc) from None


@router.post(
    "/api/v1/doorplates/{doorplate_id}/revoke", summary="Revoke a doorplate: its printed code stops working"
)
async def revoke_doorplate(
    doorplate_id: str, body: RevokeBody, access: Annotated[Access, require("registry:edit")]
) -> dict[str, Any]:
    plates = Doorplates(access.services, clock=access.services.audit.clock)
    try:
        plate, changed = await run_in_threadpool(
            lambda: plates.revoke(
                doorplate_id, reason=body.reason, actor=access.actor, estates=access.estates
            )
        )
    except DoorplateError as exc:
        raise _api_error(exc) from None
    return {**plate.to_json(), "changed": changed}
