"""Page permissions: the API's rules, except that a browser without a session is sent to sign in.

`page("alarms:view")` is an `Authorizer`, so the route-enumeration test reads its permission like any
route's. A bearer token is still judged as the API judges it (a wrong token is 401, an integrator should
learn that); a missing or expired session cookie gives `None`, which the route turns into a redirect to
/login. A signed-in caller lacking the permission gets the API's 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from anju.services import Services
from anju.web.auth import SESSION_COOKIE, Access, Authorizer, current_principal


class PageAuthorizer(Authorizer):
    async def __call__(self, request: Request) -> Access | None:  # type: ignore[override]
        if request.headers.get("authorization"):
            principal = await current_principal(request)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                return None
            svc: Services = request.app.state.services
            resolved = await run_in_threadpool(svc.identity.resolve, cookie, "session")
            if resolved is None:
                return None
            principal = resolved
        return await super().__call__(request, principal)


def page(permission: str) -> Any:
    return Depends(PageAuthorizer(permission))


def to_login(request: Request) -> RedirectResponse:
    """303 to the sign-in page, which sends the user back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(raw: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, `//host`) becomes /console."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/console"
