"""The duty console: alarms of the caller's estates, kept live by the alarm stream, acted on in place.

The page carries only the filter choices (estates in scope, alarm types, severities); the list, the
detail and every action go through `/api/v1/alarms` from `static/js/console.js`, under the same scoping,
masking and auditing as any API client.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from anju.alarms.tables import SEVERITIES
from anju.services import Services
from anju.web.auth import Access
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import language
from anju.web.pages.render import render

router = page_router()
WINDOWS = ("1h", "6h", "24h", "all")


def _estates(svc: Services, covered: frozenset[str] | None) -> list[dict[str, str]]:
    region = svc.db.table("region")
    query = select(region.c.code, region.c.name).where(region.c.level == "estate").order_by(region.c.code)
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"code": r.code, "name": r.name} for r in rows if covered is None or r.code in covered]


def _types(svc: Services, lang: str) -> dict[str, str]:
    return {code: (t.zh if lang == "zh" else t.en) for code, t in sorted(svc.engine.rules.types.items())}


@router.get("/console", response_class=HTMLResponse, response_model=None)
async def console_page(
    request: Request, access: Annotated[Access | None, page("alarms:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    svc = access.services
    lang = language(request)
    estates = await run_in_threadpool(_estates, svc, access.estates)
    config: dict[str, Any] = {
        "types": _types(svc, lang),
        "severities": list(SEVERITIES),
        "estates": {e["code"]: e["name"] for e in estates},
        # Buttons are offered only to those who may press them; the API checks again.
        "canEdit": access.also("alarms:edit") is not None,
        "lang": lang,
    }
    return render(
        request,
        "console.html",
        principal=access.principal,
        estates=estates,
        types=config["types"],
        severities=SEVERITIES,
        windows=WINDOWS,
        config=config,
    )
