"""The device board (`/devices`: online, faulty and offline counts and the list, per estate, with the way
to each estate's map) and the quarantine viewer (`/quarantine`: rejected records with their findings, and
the replay button for those who may replay). Both pages carry only their filter choices; the data comes
from `/api/v1/devices` and `/api/v1/quarantine` in the pages' scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from anju.registry import catalog
from anju.standard.spec import load_standard
from anju.web.auth import Access
from anju.web.pages.access import page, to_login
from anju.web.pages.console import _estates
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import language
from anju.web.pages.render import render

router = page_router()
BOARD_STATUSES = ("active", "fault", "offline")


@router.get("/devices", response_class=HTMLResponse, response_model=None)
async def devices_page(
    request: Request, access: Annotated[Access | None, page("devices:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    lang = language(request)
    estates = await run_in_threadpool(_estates, access.services, access.estates)
    statuses = {k: str(v[lang]) for k, v in catalog.device_statuses().items()}
    config = {
        "statuses": statuses,
        "board": list(BOARD_STATUSES),
        "kinds": {k: str(v[lang]) for k, v in catalog.device_kinds().items()},
        "estates": {e["code"]: e["name"] for e in estates},
        "lang": lang,
    }
    return render(
        request,
        "devices.html",
        principal=access.principal,
        estates=estates,
        statuses=statuses,
        board=BOARD_STATUSES,
        config=config,
    )


@router.get("/quarantine", response_class=HTMLResponse, response_model=None)
async def quarantine_page(
    request: Request, access: Annotated[Access | None, page("quarantine:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    lang = language(request)
    types = {
        slug: (r.title_zh if lang == "zh" else r.title_en) for slug, r in sorted(load_standard().items())
    }
    config = {
        "types": types,
        # The replay button only for those who may press it; the API checks again.
        "canReplay": access.also("quarantine:edit") is not None,
        "lang": lang,
    }
    return render(request, "quarantine.html", principal=access.principal, types=types, config=config)
