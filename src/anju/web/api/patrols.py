"""Electronic patrols over HTTP: routes, checkpoints, shifts and check-ins."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"])
