"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from anju import __version__
from anju.services import Services, open_services
from anju.web import docs, errors, hardening
from anju.web.api import (
    admin,
    affairs,
    alarms,
    auth,
    devices,
    doorplates,
    emergency,
    emergency_ops,
    evaluation,
    notices,
    patrols,
    quarantine,
    records,
    registry,
    standard,
)
from anju.web.auth import public
from anju.web.hardening import BodyLimit, RateLimiter
from anju.web.pages import ROUTERS as PAGE_ROUTERS

# Sign-in and administration bodies are small; only ingestion carries large ones (its own limit).
SMALL_BODY = 64 * 1024


def create_app(services: Services | None = None, *, limiter: RateLimiter | None = None) -> FastAPI:
    """An app over the given services, or over services opened from the environment at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or open_services()
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="Anju 安居 — smart community safety platform",
        version=__version__,
        description="Ingestion in the Wuhan smart-safe-estate data standard (武汉市智慧平安小区建设数据标准), "
        "quarantine and replay, export.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if services is not None:
        app.state.services = services
    app.state.limiter = limiter or RateLimiter()
    errors.install(app)
    hardening.install(app)
    app.add_middleware(
        BodyLimit,
        limits={
            "/api/v1/auth/": 8 * 1024,
            "/api/v1/users": SMALL_BODY,
            "/api/v1/regions": SMALL_BODY,
            "/api/v1/doorplates": SMALL_BODY,
            "/api/v1/devices": SMALL_BODY,
            # Attestations carry their files (10 MB each at most, base64).
            "/api/v1/evaluation": 64 * 1024 * 1024,
            # An estate boundary may carry a few thousand positions.
            "/api/v1/registry": 1024 * 1024,
            "/api/v1/emergency": 1024 * 1024,
            "/api/v1/notices": 1024 * 1024,
            "/api/v1/patrols": SMALL_BODY,
            "/api/v1/affairs": 1024 * 1024,
        },
    )
    docs.install(app)
    app.include_router(auth.router)
    app.include_router(records.router)
    app.include_router(standard.router)
    app.include_router(quarantine.router)
    app.include_router(admin.router)
    app.include_router(doorplates.router)
    app.include_router(registry.router)
    app.include_router(devices.router)
    app.include_router(alarms.router)
    app.include_router(evaluation.router)
    app.include_router(emergency.router)
    app.include_router(emergency_ops.router)
    app.include_router(notices.router)
    app.include_router(patrols.router)
    app.include_router(affairs.router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    # After docs.install, whose /static/swagger mount must keep answering first.
    app.mount("/static", StaticFiles(packages=[("anju.web", "static")]), name="static")

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness and database reachability",
        dependencies=[public("load balancers and monitors probe it without credentials")],
    )
    async def healthz() -> dict[str, Any]:
        svc: Services = app.state.services
        return {
            "status": "ok",
            "version": __version__,
            "database": svc.db.dialect,
            "schema": svc.db.current_revision(),
        }

    return app
