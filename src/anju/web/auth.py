"""Deny by default: every route declares what it needs, with one of three dependencies.

- `require("resource:action")`: an authenticated caller holding that permission somewhere; the route gets
  an `Access` that knows the estates the permission covers (the caller's scopes expanded down the region
  tree) and answers 404 for objects outside them.
- `authenticated()`: any signed-in caller (sign out, who am I).
- `public("why")`: no credentials needed, with the reason written down.
- `viewer("why")`: public too, but the route learns who is asking when credentials come along (a doorplate
  scan answers a resident, a grid worker and a police officer differently); declared as "public".

`tests/web/test_route_permissions.py` walks every route of the app and fails on one that declares none.
Bearer tokens (API) and device credentials come in the Authorization header; browser pages use the
HTTP-only session cookie, and then every unsafe method must also carry the session's CSRF token in
the `X-CSRF-Token` header.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from anju.security.identity import Principal
from anju.security.roles import is_permission
from anju.services import Services
from anju.web.errors import ApiError

SESSION_COOKIE = "anju_session"
CSRF_COOKIE = "anju_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Access:
    """What the caller may do under the permission a route required."""

    principal: Principal
    permission: str
    everywhere: bool
    estates: frozenset[str] | None  # None: the whole platform
    services: Services = field(repr=False)

    def covers(self, estate: str | None) -> bool:
        if self.estates is None:
            return True
        return estate is not None and estate in self.estates

    def also(self, permission: str) -> Access | None:
        """The caller's access under a second permission (unmask, export), or None if not held."""
        return _access(self.services, self.principal, permission)

    def require_also(self, permission: str) -> Access:
        """As `also`, but a permission not held is answered 403, as a route's own would be."""
        access = self.also(permission)
        if access is None:
            raise forbidden(permission)
        return access

    @property
    def actor(self) -> str:
        return self.principal.actor


def _access(svc: Services, principal: Principal, permission: str) -> Access | None:
    everywhere, scopes = principal.grant(permission)
    if not everywhere and not scopes:
        return None
    estates = None if everywhere else frozenset(svc.regions.descendants(scopes))
    return Access(principal, permission, everywhere, estates, svc)


def forbidden(permission: str) -> ApiError:
    return ApiError(
        403,
        "forbidden",
        f"没有权限：此操作需要 {permission}",
        f"forbidden: this needs the permission {permission}",
        permission=permission,
    )


def scope_denied(field_name: str, value: str | None) -> ApiError:
    """A target (an estate to write into, a scope to grant) outside the caller's scope."""
    shown_zh = repr(value) if value else "全平台"
    shown_en = repr(value) if value else "the whole platform"
    return ApiError(
        403,
        "scope_denied",
        f"{field_name}={shown_zh} 不在您的授权范围内",
        f"{field_name}={shown_en} is outside the scope of your permission",
        field=field_name,
        value=value,
    )


def _unauthenticated() -> ApiError:
    return ApiError(
        401,
        "unauthenticated",
        "需要登录：请提供有效的访问令牌或会话",
        "authentication required: send a valid bearer token or session cookie",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_principal(request: Request) -> Principal:
    svc: Services = request.app.state.services
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated()
        principal = await run_in_threadpool(svc.identity.resolve, token.strip(), "bearer")
        if principal is None:
            raise _unauthenticated()
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _unauthenticated()
    principal = await run_in_threadpool(svc.identity.resolve, cookie, "session")
    if principal is None:
        raise _unauthenticated()
    _check_csrf(request, principal)
    request.state.principal = principal
    return principal


def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in _SAFE:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    # Compared as bytes: compare_digest refuses str holding non-ASCII characters (a TypeError, so a
    # 500), and a header may carry any Latin-1 text.
    if not principal.csrf or not secrets.compare_digest(sent.encode(), principal.csrf.encode()):
        raise ApiError(
            403,
            "csrf_failed",
            "缺少或错误的 X-CSRF-Token 请求头（会话登录的修改操作必须携带）",
            "missing or wrong X-CSRF-Token header (required for changes made with a session cookie)",
            field="X-CSRF-Token",
        )


class Authorizer:
    """The dependency behind `require`; its `permission` is what the route-enumeration test reads."""

    def __init__(self, permission: str) -> None:
        if not is_permission(permission):
            raise ValueError(
                f"route declares unknown permission {permission!r} (see security/data/roles.yaml)"
            )
        self.permission = permission

    async def __call__(self, request: Request, principal: Principal = Depends(current_principal)) -> Access:
        svc: Services = request.app.state.services
        access = await run_in_threadpool(_access, svc, principal, self.permission)
        if access is None:
            raise forbidden(self.permission)
        request.state.principal = principal
        return access


class Authenticated:
    permission = "authenticated"

    async def __call__(self, principal: Principal = Depends(current_principal)) -> Principal:
        return principal


class Public:
    permission = "public"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self) -> None:
        return None


class MaybeSignedIn:
    """Public, but answers the caller it knows differently: the principal, or None for nobody.

    A bad bearer token is still 401 (an integrator should learn that its token is wrong). A session cookie
    that no longer resolves is treated as no cookie: a resident whose session expired must still be able
    to scan a doorplate, and an unknown cookie grants nothing. A live session keeps its CSRF check."""

    permission = "public"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self, request: Request) -> Principal | None:
        if request.headers.get("authorization"):
            return await current_principal(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        svc: Services = request.app.state.services
        principal = await run_in_threadpool(svc.identity.resolve, cookie, "session")
        if principal is None:
            return None
        _check_csrf(request, principal)
        request.state.principal = principal
        return principal


def require(permission: str) -> Any:
    return Depends(Authorizer(permission))


def authenticated() -> Any:
    return Depends(Authenticated())


def public(reason: str) -> Any:
    return Depends(Public(reason))


def viewer(reason: str) -> Any:
    return Depends(MaybeSignedIn(reason))


def declared_permission(dependency: Any) -> str | None:
    """The permission a dependency callable declares, or None if it is not one of ours."""
    if isinstance(dependency, Authorizer | Authenticated | Public | MaybeSignedIn):
        return dependency.permission
    return None


def not_found(kind_zh: str, kind_en: str, key: Any, field_name: str) -> ApiError:
    """The answer for an object that does not exist *or* lies outside the caller's scope: the same,
    so that scope boundaries do not leak which objects exist."""
    return ApiError(
        404,
        "not_found",
        f"没有{kind_zh} {key!r}",
        f"no {kind_en} {key!r}",
        field=field_name,
        value=str(key)[:80],
    )


def _declared(dependant: Any) -> set[str]:
    found: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        permission = declared_permission(getattr(dep, "call", None))
        if permission is not None:
            found.add(permission)
        stack.extend(getattr(dep, "dependencies", ()))
    return found


def endpoint_permissions(app: Any) -> list[tuple[str, tuple[str, ...], set[str] | None]]:
    """(path, methods, declared permissions) for every endpoint of the app; None for routes the framework
    adds itself (the OpenAPI document, static mounts), which have no dependencies at all.

    FastAPI ≥ 0.16x keeps included routers as branches (`effective_route_contexts`); older versions
    flatten them into APIRoutes. Both are walked."""
    out: list[tuple[str, tuple[str, ...], set[str] | None]] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                out.append((ctx.path, tuple(sorted(ctx.methods or ())), _declared(ctx.dependant)))
        elif getattr(route, "dependant", None) is not None:
            out.append((route.path, tuple(sorted(route.methods or ())), _declared(route.dependant)))
        else:
            out.append(
                (
                    getattr(route, "path", repr(route)),
                    tuple(sorted(getattr(route, "methods", None) or ())),
                    None,
                )
            )
    return out
