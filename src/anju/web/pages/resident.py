"""The resident's pages behind a house doorplate (no account needed, the signed token is the key): the
help button, the nearest open shelter with its route, and the estate's notices.

The help button stores one `emergency_call` record through the ingestion pipeline (`help_call.py`); the
alarm engine raises the emergency-call alarm on the duty console from it like from any call box.

The notices are `notices.publishing.published_notices` for the house's estate (no personal data), warnings
from the emergency module (category `emergency_warning`) apart and first. Nothing is recorded as read: read
receipts belong to the channels that identify a reader (the app, the mini program), and whoever holds a
doorplate link is nobody in particular.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from anju.notices.publishing import published_notices
from anju.registry.doorplates import DoorplateError, Target
from anju.registry.scan import services_text
from anju.security.identity import Principal
from anju.services import Services
from anju.web.auth import public, viewer
from anju.web.errors import ApiError
from anju.web.pages import evacuation
from anju.web.pages.errors import page_router
from anju.web.pages.help_call import HelpError, call_for_help, house_of
from anju.web.pages.i18n import Lang, language
from anju.web.pages.render import render

router = page_router()
_OPEN = "the doorplate's printed code is the resident's key; no account is needed to ask for help"
CALL_ID = r"^[A-Za-z0-9_\-]{1,50}$"
WARNING = "emergency_warning"
# Notices meant for property and community staff are not for whoever scans a doorplate.
STAFF_ONLY = frozenset({"staff"})
NOTICE_LIMIT = 30


class HelpBody(BaseModel):
    name: str | None = Field(default=None, max_length=200, description="求助人姓名 name (optional)")
    phone: str | None = Field(default=None, max_length=40, description="联系电话 phone (optional)")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _house_or_page(request: Request, svc: Services, token: str) -> Target | HTMLResponse:
    try:
        return house_of(svc, token)
    except (DoorplateError, HelpError) as exc:
        return render(
            request,
            "resident.html",
            status_code=exc.status,
            error={"code": exc.code, "zh": exc.zh, "en": exc.en},
            token=token,
            sent=None,
        )


def _parse(at: str | None) -> datetime | None:
    if not at:
        return None
    parsed = datetime.fromisoformat(at)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _notices(svc: Services, estate: str, lang: Lang) -> dict[str, list[dict[str, Any]]]:
    """The estate's notices in force, shaped for the page: warnings first (newest first), then the rest."""
    now = svc.pipeline.clock().astimezone(UTC)
    local = svc.settings.timezone

    def shown(at: datetime | None) -> str:
        return "" if at is None else at.astimezone(local).strftime("%Y-%m-%d %H:%M")

    out: dict[str, list[dict[str, Any]]] = {"warnings": [], "others": []}
    for n in published_notices(svc, estate, limit=NOTICE_LIMIT):
        audience = n["audience"]
        if audience["key"] in STAFF_ONLY:
            continue
        expires = _parse(n["expires_at"])
        # The clock's tick expires notices; between ticks a notice past its end is not shown as current.
        if expires is not None and expires <= now:
            continue
        category = n["category"]
        out["warnings" if category["key"] == WARNING else "others"].append(
            {
                "id": n["id"],
                "title": n["title"],
                "body": n["body"],
                "category": category[lang],
                "audience": None if audience["key"] == "all_residents" else audience[lang],
                "published": shown(_parse(n["published_at"])),
                "expires": shown(expires),
            }
        )
    return out


def _help_view(svc: Services, target: Target, lang: Lang) -> dict[str, Any]:
    return {
        "shelter": evacuation.nearest(svc, target.estate, target.building_id),
        "hotline": services_text().get("hotline", ""),
        "notices": _notices(svc, target.estate, lang),
    }


@router.get("/d/{token}/help", response_class=HTMLResponse, response_model=None)
async def help_page(request: Request, token: str, _: Annotated[None, public(_OPEN)]) -> HTMLResponse:
    svc: Services = request.app.state.services
    found = await run_in_threadpool(_house_or_page, request, svc, token)
    if isinstance(found, HTMLResponse):
        return found
    view = await run_in_threadpool(_help_view, svc, found, language(request))
    return render(request, "resident.html", error=None, token=token, target=found, view=view, sent=None)


@router.post("/d/{token}/help", summary="Press the help button of a house doorplate")
async def press_help(
    request: Request,
    token: str,
    principal: Annotated[Principal | None, viewer(_OPEN)],
    body: HelpBody | None = None,
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    request.app.state.limiter.check("doorplate_register", _client(request))
    body = body or HelpBody()
    actor = principal.actor if principal is not None else "anonymous"
    try:
        target, call = await run_in_threadpool(
            lambda: call_for_help(svc, token, name=body.name, phone=body.phone, actor=actor)
        )
    except DoorplateError as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en, field="token") from None
    except HelpError as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value) from None
    return {
        "record_id": call.record_id,
        "at": call.at,
        "repeated": call.repeated,
        "address": target.label,
        "next": f"/d/{token}/help/sent?call={call.record_id}",
    }


@router.get("/d/{token}/help/sent", response_class=HTMLResponse, response_model=None)
async def help_sent(
    request: Request,
    token: str,
    _: Annotated[None, public(_OPEN)],
    call: Annotated[str, Query(max_length=50)] = "",
) -> HTMLResponse:
    svc: Services = request.app.state.services
    found = await run_in_threadpool(_house_or_page, request, svc, token)
    if isinstance(found, HTMLResponse):
        return found
    view = await run_in_threadpool(_help_view, svc, found, language(request))
    # Only a well-formed call number is echoed; anything else is left out rather than shown.
    shown = call if re.fullmatch(CALL_ID, call) else ""
    return render(
        request, "resident.html", error=None, token=token, target=found, view=view, sent={"call": shown}
    )
