"""A community's scorecard page: the paper's 32 indicators from the platform's own data, the radar of the
seven dimensions, and every criterion with the evidence its points rest on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from anju.evaluation.errors import EvaluationError
from anju.evaluation.inputs import gather
from anju.evaluation.paper import Weighting, evaluate_paper
from anju.evaluation.platform import platform_providers
from anju.evaluation.systems import paper_system
from anju.services import Services
from anju.web.auth import Access, not_found
from anju.web.errors import ApiError
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import Lang, language
from anju.web.pages.radar import radar_png
from anju.web.pages.render import render

router = page_router()
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


@dataclass(frozen=True)
class Scorecard:
    community: dict[str, Any]
    weighting_note: str
    dimensions: list[dict[str, Any]]
    radar: str


def _criterion(key: str, text: str, most: float, scored: dict[str, Any]) -> dict[str, Any]:
    got = scored["criteria"].get(key, {})
    evidence = got.get("evidence")
    return {
        "key": key,
        "text": text,
        "points": got.get("points") or 0.0,
        "max": got.get("max", most),
        "detail": got.get("detail") or "",
        # The same evidence chain `GET /api/v1/evaluation/paper` gives the same caller, nothing more.
        "evidence": json.dumps(evidence, ensure_ascii=False, indent=1, default=str) if evidence else "",
    }


def _scorecard(svc: Services, community: str, as_of: date, lang: Lang) -> Scorecard:
    system = paper_system()
    facts = gather([], [community], platform_providers(svc), as_of)
    # One community has no spread for CRITIC to measure: equal weights, as the API does and says.
    result = evaluate_paper(system, facts, weighting=Weighting.equal).to_dict()
    mine = result["communities"][0]
    dimensions = []
    for d in system.dimensions:
        indicators = []
        for i in d.indicators:
            criteria = [
                _criterion(c.key, c.zh if lang == "zh" else c.text, c.points, mine) for c in i.criteria
            ]
            indicators.append(
                {"code": i.code, "name": i.zh if lang == "zh" else i.en, "value": mine["indicators"][i.code]}
                | {"criteria": criteria}
            )
        dimensions.append(
            {
                "code": d.code,
                "name": d.zh if lang == "zh" else d.en,
                "value": mine["dimensions"][d.code],
                "indicators": indicators,
            }
        )
    title = f"{mine['name']}  {mine['score']:.1f}"
    radar = radar_png([d["name"] for d in dimensions], [d["value"] for d in dimensions], title)
    return Scorecard(mine, result["weighting_note"], dimensions, radar)


@router.get("/evaluation/{community}", response_class=HTMLResponse, response_model=None)
async def scorecard_page(
    request: Request,
    community: Annotated[str, Path(pattern=CODE)],
    access: Annotated[Access | None, page("evaluation:view")],
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    if not access.covers(community):
        raise not_found("社区", "community", community, "community")
    lang = language(request)
    today = date.today()
    try:
        card = await run_in_threadpool(_scorecard, access.services, community, today, lang)
    except EvaluationError as exc:
        raise ApiError(
            422, "evaluation_input_invalid", f"评价输入无效：{exc}", f"invalid evaluation input: {exc}"
        ) from None
    return render(
        request, "scorecard.html", principal=access.principal, card=card, code=community, as_of=today
    )
