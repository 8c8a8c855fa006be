"""Sign-in: bearer tokens for the API, HTTP-only cookie sessions for pages, sign-out, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from anju.security.identity import LoginFailed, Principal
from anju.services import Services
from anju.web.auth import CSRF_COOKIE, SESSION_COOKIE, authenticated, public
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, description="用户名 username")
    password: str = Field(min_length=1, max_length=256, description="密码 password")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _sign_in(request: Request, creds: Credentials) -> Principal:
    svc: Services = request.app.state.services
    request.app.state.limiter.check("login", _client(request))
    try:
        return await run_in_threadpool(
            svc.identity.authenticate, creds.username, creds.password, client=_client(request)
        )
    except LoginFailed as exc:
        if exc.reason == "locked":
            raise ApiError(
                429,
                "account_locked",
                f"登录失败次数过多，账号已临时锁定，请 {exc.retry_after} 秒后再试",
                f"too many failed sign-ins: the account is locked; try again in {exc.retry_after} s",
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            ) from None
        raise ApiError(
            401,
            "login_failed",
            "用户名或密码错误",
            "wrong username or password",
            field="password",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


@router.post("/token", summary="Exchange username and password for a bearer token")
async def token(
    request: Request, creds: Credentials, _: Annotated[None, public("signing in needs no credentials")]
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    principal = await _sign_in(request, creds)
    value, _csrf, expires = await run_in_threadpool(svc.identity.issue, principal, "bearer")
    return {
        "access_token": value,
        "token_type": "bearer",
        "expires_at": expires.isoformat(),
        "roles": [{"role": r, "scope": s or None} for r, s in principal.bindings],
    }


@router.post("/login", summary="Sign in for pages: sets the HTTP-only session cookie and the CSRF token")
async def login(
    request: Request,
    response: Response,
    creds: Credentials,
    _: Annotated[None, public("signing in needs no credentials")],
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    principal = await _sign_in(request, creds)
    value, csrf, expires = await run_in_threadpool(svc.identity.issue, principal, "session")
    secure = request.url.scheme == "https"
    max_age = int((expires - svc.pipeline.clock()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE, value, max_age=max_age, httponly=True, secure=secure, samesite="strict", path="/"
    )
    # Readable by the page's script, which echoes it in X-CSRF-Token; useless to another site.
    response.set_cookie(CSRF_COOKIE, csrf or "", max_age=max_age, secure=secure, samesite="strict", path="/")
    return {"username": principal.name, "csrf_token": csrf, "expires_at": expires.isoformat()}


@router.post("/logout", summary="Sign out: revoke the session or bearer token used for this request")
async def logout(
    request: Request, response: Response, principal: Annotated[Principal, authenticated()]
) -> dict[str, Any]:
    svc: Services = request.app.state.services
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header else request.cookies.get(SESSION_COOKIE, "")
    if principal.kind == "user" and token:
        await run_in_threadpool(svc.identity.revoke, token)
        await run_in_threadpool(
            svc.audit.record, actor=principal.actor, action="logout", target=principal.actor
        )
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"signed_out": True}


@router.get("/me", summary="Who the caller is, with roles and scopes")
async def me(principal: Annotated[Principal, authenticated()]) -> dict[str, Any]:
    return {
        "kind": principal.kind,
        "name": principal.name,
        "via": principal.via,
        "roles": [{"role": r, "scope": s or None} for r, s in principal.bindings],
    }
