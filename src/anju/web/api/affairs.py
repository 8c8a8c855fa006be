"""Community safety affairs over HTTP: special populations, abnormal events, public health, education,
archives."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/affairs", tags=["affairs"])
