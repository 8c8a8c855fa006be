"""Server-rendered pages of the web console (Jinja2), one router per area.

Pages hold no data of their own beyond what their route renders: the console reads the same REST API and
live stream as any client, so the API's scoping and masking are the only ones there are.
"""

from __future__ import annotations

from fastapi import APIRouter

from anju.web.pages import (
    assets,
    claims,
    console,
    evaluation,
    lookup,
    maps,
    operations,
    ranking,
    resident,
    signin,
)

ROUTERS: tuple[APIRouter, ...] = (
    assets.router,
    signin.router,
    console.router,
    evaluation.router,
    maps.router,
    lookup.router,
    operations.router,
    resident.router,
    ranking.router,
    claims.router,
    claims.check_router,
)
