"""Emergency management over HTTP: plans, drills, supplies, shelters, evacuation, warnings, the risk map."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"])
