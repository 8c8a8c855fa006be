"""Information release over HTTP: drafts, approval of policy content, publication on channels."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])
