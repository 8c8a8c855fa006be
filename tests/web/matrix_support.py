"""What the authorization matrix's cases are made of, shared by test_authorization_matrix.py and the
case modules `matrix_cases_*.py` beside it (one per area, each exporting `CASES`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient

from anju.services import Services
from anju.standard.samples import mixed_records

SLUG = "access_swipe"
PASSWORD = "matrix password 123"
# Framework routes with no dependencies at all: the OpenAPI document and the Swagger UI's static files.
# The console's own stylesheets and scripts (no personal data) are a plain static mount too.
FRAMEWORK = {"/openapi.json", "/static/swagger", "/static"}


@dataclass
class World:
    """The fixture every case runs in: regions D1 > S1 > {C1 > E1, C2 > E2}, one user per role bound to C1
    (`tokens`), a record and a quarantined record in each estate, the doorplate fixture's registry.
    A case that needs an object of its own makes it in its call, inside or outside (`estate(where)`)."""

    svc: Services
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token of a user scoped to C1
    record_in: str = ""
    record_out: str = ""
    quarantine_in: int = 0
    quarantine_out: int = 0
    counter: itertools.count[int] = field(default_factory=itertools.count)
    registry: dict[str, dict[str, str]] = field(default_factory=dict)  # where -> {house, person, token, ...}

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"


Call = Callable[[World, dict[str, str], str], httpx.Response]


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the route's template, as endpoint_permissions reports it
    permission: str  # a resource:action, "public" or "authenticated"
    call: Call
    allowed: dict[str, int]  # where ("inside"/"outside") -> status when the permission is held
    check: Callable[[World, httpx.Response, str], None] | None = None
    signed_out: int = 401  # pages send a caller without credentials to /login (303) instead
    public_status: int = 200  # a public redirect answers 303


def sample_records(n: int, seed: int, device: str = "DEV1") -> list[dict[str, Any]]:
    recs = [r for r, _ in mixed_records(SLUG, n, seed=seed, defect_rate=0.0)]
    for r in recs:
        r["SB_BH"] = device
    return recs


def estate(where: str) -> str:
    """The estate inside (E1, under community C1) or outside (E2, under C2) every caller's scope C1."""
    return "E1" if where == "inside" else "E2"
