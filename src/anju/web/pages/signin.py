"""Sign-in page and the site's front door. Signing in and out themselves are the API's
(`POST /api/v1/auth/login`, `/logout`); the page's script calls them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from anju.web.auth import public
from anju.web.pages.access import safe_next
from anju.web.pages.errors import page_router
from anju.web.pages.render import render

router = page_router()


@router.get("/", response_class=RedirectResponse)
async def home(_: Annotated[None, public("the front door only points to the console")]) -> RedirectResponse:
    # The console sends anyone not signed in on to /login.
    return RedirectResponse("/console", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request,
    _: Annotated[None, public("signing in needs no credentials")],
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next))
