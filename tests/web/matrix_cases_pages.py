"""Authorization-matrix cases of the console's resident and evaluation pages (issue 8)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from anju.emergency.shelters import save_graph
from tests.evaluation.conftest import SEED_004
from tests.web.matrix_support import Call, Case, World


def _page(url: Callable[[World, str], str]) -> Call:
    """Fetched without following redirects, so that the sign-in redirect is seen as such."""
    return lambda w, h, where: w.client.get(url(w, where), headers=h, follow_redirects=False)


def _community(where: str) -> str:
    return "C1" if where == "inside" else "C2"


def _token(w: World, where: str) -> str:
    return w.registry[where]["token"]


def _press_help(w: World, h: dict[str, str], where: str) -> httpx.Response:
    """The doorplate fixture's buildings have no position: their estate's path graph places them."""
    house = w.svc.db.table("house")
    with w.svc.db.engine.connect() as conn:
        row = conn.execute(house.select().where(house.c.id == w.registry[where]["house"])).first()
    assert row is not None
    building, estate = str(row.building_id), str(row.estate)
    nodes = [
        {"id": building, "kind": "building", "lon": 114.3, "lat": 30.6},
        {"id": f"{estate}-S", "kind": "shelter", "lon": 114.301, "lat": 30.6},
    ]
    save_graph(w.svc, estate, nodes, [{"a": building, "b": f"{estate}-S"}], actor="matrix")
    return w.client.post(f"/d/{_token(w, where)}/help", json={}, headers=h)


def _first_community_of_seed_004() -> bytes:
    lines = SEED_004.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith("智慧社区建设指标（成长型）")]
    return "\n".join(lines[starts[0] : starts[1]]).encode("utf-8")


CASES: list[Case] = [
    Case("GET", "/d/{token}/help", "public", _page(lambda w, where: f"/d/{_token(w, where)}/help"), {}),
    Case("POST", "/d/{token}/help", "public", _press_help, {}),
    Case(
        "GET",
        "/d/{token}/help/sent",
        "public",
        _page(lambda w, where: f"/d/{_token(w, where)}/help/sent?call=HELP-1"),
        {},
    ),
    Case(
        "GET",
        "/evaluation",
        "evaluation:view",
        _page(lambda w, where: "/evaluation"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
    Case(
        "GET",
        "/evaluation/{community}/plan",
        "evaluation:view",
        _page(lambda w, where: f"/evaluation/{_community(where)}/plan"),
        {"inside": 200, "outside": 404},
        signed_out=303,
    ),
    Case(
        "GET",
        "/evaluation/{community}/report.{fmt}",
        "evaluation:view",
        _page(lambda w, where: f"/evaluation/{_community(where)}/report.html"),
        {"inside": 200, "outside": 404},
        signed_out=303,
    ),
    Case(
        "GET",
        "/evaluation/claims/check",
        "evaluation:view",
        _page(lambda w, where: "/evaluation/claims/check"),
        {"inside": 200, "outside": 200},
        signed_out=303,
    ),
    Case(
        "POST",
        "/evaluation/claims/check",
        "evaluation:view",
        lambda w, h, where: w.client.post(
            "/evaluation/claims/check", content=_first_community_of_seed_004(), headers=h
        ),
        {"inside": 200, "outside": 200},
    ),
]
