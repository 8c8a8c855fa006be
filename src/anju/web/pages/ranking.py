"""The evaluation area beyond one scorecard: the ranking of the communities in the caller's scope (the
paper's CRITIC weights and TOPSIS closeness across them), a community's improvement plans, and its report
as PDF or HTML. Everything is scored by `evaluation/` from the platform's own data; nothing here scores.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from anju.evaluation.errors import EvaluationError
from anju.evaluation.inputs import gather
from anju.evaluation.plans import paper_plan, shandong_plan, wuhan_plan
from anju.evaluation.platform import platform_providers
from anju.evaluation.report.build import DEFAULT_PAPER_TARGET, Evaluation, community_report, evaluate_all
from anju.evaluation.report.labels import Lang as ReportLang
from anju.services import Services
from anju.web.auth import Access, not_found
from anju.web.errors import ApiError
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import language
from anju.web.pages.render import render

router = page_router()
CODE = r"^[A-Za-z0-9_\-]{1,40}$"


def communities_in_scope(svc: Services, access: Access) -> list[str]:
    region = svc.db.table("region")
    query = select(region.c.code).where(region.c.level == "community").order_by(region.c.code)
    with svc.db.engine.connect() as conn:
        codes = [str(c) for c in conn.execute(query).scalars()]
    return [c for c in codes if access.covers(c)]


def _evaluate(svc: Services, codes: list[str], as_of: date) -> Evaluation:
    return evaluate_all(gather([], codes, platform_providers(svc), as_of), as_of)


def _invalid(exc: EvaluationError) -> ApiError:
    return ApiError(
        422, "evaluation_input_invalid", f"评价输入无效：{exc}", f"invalid evaluation input: {exc}"
    )


def _ranking(ev: Evaluation) -> dict[str, Any]:
    paper = ev.paper
    rows = [
        {
            "rank": c.rank,
            "code": c.code,
            "name": c.name,
            "score": c.score,
            "closeness": c.closeness,
            "wuhan": f"{ev.wuhan[c.code].total}",
            "wuhan_passed": ev.wuhan[c.code].passed,
            "tier": (r.zh if (r := ev.shandong[c.code].reached) is not None else None),
        }
        for c in sorted(paper.communities, key=lambda c: c.rank)
    ]
    return {
        "rows": rows,
        "weighting_note": paper.weighting_note,
    }


@router.get("/evaluation", response_class=HTMLResponse, response_model=None)
async def ranking_page(
    request: Request, access: Annotated[Access | None, page("evaluation:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    svc = access.services
    codes = await run_in_threadpool(communities_in_scope, svc, access)
    today = date.today()
    ranking: dict[str, Any] = {"rows": [], "weighting_note": ""}
    if codes:
        try:
            ev = await run_in_threadpool(_evaluate, svc, codes, today)
        except EvaluationError as exc:
            raise _invalid(exc) from None
        ranking = _ranking(ev)
    return render(request, "ranking.html", principal=access.principal, ranking=ranking, as_of=today)


def _checked(access: Access, community: str) -> None:
    if not access.covers(community):
        raise not_found("社区", "community", community, "community")


async def _scope_evaluation(access: Access, community: str) -> Evaluation:
    """Scored against the other communities the caller may see: the same set as the ranking page."""
    codes = await run_in_threadpool(communities_in_scope, access.services, access)
    if community not in codes:
        raise not_found("社区", "community", community, "community")
    try:
        return await run_in_threadpool(_evaluate, access.services, codes, date.today())
    except EvaluationError as exc:
        raise _invalid(exc) from None


@router.get("/evaluation/{community}/plan", response_class=HTMLResponse, response_model=None)
async def plan_page(
    request: Request,
    community: Annotated[str, Path(pattern=CODE)],
    access: Annotated[Access | None, page("evaluation:view")],
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    _checked(access, community)
    ev = await _scope_evaluation(access, community)
    pc = ev.community(community)
    plans = [
        paper_plan(ev.paper, pc, DEFAULT_PAPER_TARGET).to_dict(),
        wuhan_plan(ev.wuhan[community]).to_dict(),
        shandong_plan(ev.shandong[community], None).to_dict(),
    ]
    return render(
        request,
        "plan.html",
        principal=access.principal,
        code=community,
        name=pc.name,
        plans=plans,
        as_of=ev.as_of,
    )


def _report_bytes(ev: Evaluation, community: str, fmt: Literal["pdf", "html"], lang: ReportLang) -> bytes:
    report = community_report(ev, community, lang)
    if fmt == "html":
        from anju.evaluation.report.html import render_html

        return render_html(report).encode("utf-8")
    from anju.evaluation.report.pdf import render_pdf

    with tempfile.TemporaryDirectory(prefix="anju-report-") as tmp:
        path = FilePath(tmp) / "report.pdf"
        render_pdf(report, path)
        return path.read_bytes()


@router.get("/evaluation/{community}/report.{fmt}", response_model=None)
async def report_download(
    request: Request,
    community: Annotated[str, Path(pattern=CODE)],
    fmt: Annotated[Literal["pdf", "html"], Path(description="pdf or html")],
    access: Annotated[Access | None, page("evaluation:view")],
) -> Response:
    if access is None:
        return to_login(request)
    _checked(access, community)
    ev = await _scope_evaluation(access, community)
    lang = ReportLang.zh if language(request) == "zh" else ReportLang.en
    try:
        data = await run_in_threadpool(_report_bytes, ev, community, fmt, lang)
    except EvaluationError as exc:
        raise _invalid(exc) from None
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="anju-report-{community}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
