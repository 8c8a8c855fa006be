"""Refusals and misses on pages as pages: a browser that opens a page it may not see, or an object outside
its scope, gets an HTML 403 / 404 in the interface's language with a way back, not the API's JSON.

Page routers use `PageRoute` as their route class: it catches the API's 403 and 404 answers (raised by the
page permission or by the handler) and renders them. A caller with an `Authorization` header is an
integrator, not a browser: it keeps the JSON body every API client gets.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from anju.web.errors import ApiError
from anju.web.pages.i18n import language
from anju.web.pages.render import render

PAGE_STATUSES = (403, 404)


def error_page(request: Request, exc: ApiError) -> Response:
    lang = language(request)
    return render(
        request,
        "error.html",
        status_code=exc.status,
        error={
            "status": exc.status,
            "code": exc.code,
            "message": exc.zh if lang == "zh" else exc.en,
            "permission": exc.extra.get("permission"),
        },
        # The front door sends each user on to a page they may open (the site sends no Referer).
        back="/",
    )


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                if exc.status in PAGE_STATUSES and not request.headers.get("authorization"):
                    return error_page(request, exc)
                raise

        return page_handler


def page_router(**options: Any) -> APIRouter:
    """An APIRouter for pages: hidden from the OpenAPI document, refusals rendered as pages."""
    return APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute, **options)
