"""Emergency operations over HTTP: the risk map, duty coverage, resources, dispatch, incidents, warnings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])
