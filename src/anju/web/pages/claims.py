"""Claim checks in the console: upload self-reported acceptance material (the published notice as text,
like seed 004) and see the findings of `evaluation/claims` grouped by community.

The page's script reads the chosen file and POSTs its bytes; the check route is a plain API-style route
(`require`, so a cookie session must send its CSRF token), answering JSON the page renders.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from anju.evaluation.claims import check_document
from anju.evaluation.claims.notice import parse_notice
from anju.evaluation.errors import EvaluationError
from anju.web.auth import Access, require
from anju.web.errors import ApiError
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.render import render

router = page_router()
check_router = APIRouter(tags=["pages"], include_in_schema=False)
PATH = "/evaluation/claims/check"
MAX_BYTES = 4 * 1024 * 1024  # seed 004's notice of 14 communities is 170 kB


@router.get(PATH, response_class=HTMLResponse, response_model=None)
async def claims_page(
    request: Request, access: Annotated[Access | None, page("evaluation:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    return render(request, "claims.html", principal=access.principal, max_bytes=MAX_BYTES)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ApiError(
        422,
        "file_encoding",
        "文件既不是 UTF-8 也不是 GB18030 编码的文本",
        "the file is neither UTF-8 nor GB18030 text",
        field="file",
    )


def check_text(raw: bytes, source: str) -> dict[str, Any]:
    try:
        doc = parse_notice(_decode(raw), source)
    except EvaluationError as exc:
        raise ApiError(
            422,
            "claims_unreadable",
            f"无法读取自报材料 {source!r}：{exc}",
            f"cannot read the self-reported material {source!r}: {exc}",
            field="file",
            value=source,
        ) from None
    findings = check_document(doc)
    counts = Counter(f.kind.value for f in findings)
    return {
        "source": source,
        "communities": [{"name": c.name, "street": c.street, "tier": c.tier_label} for c in doc.communities],
        "counts": dict(sorted(counts.items())),
        "findings": [f.to_dict() for f in findings],
    }


@check_router.post(PATH, summary="Check self-reported acceptance material (text) and answer the findings")
async def check_claims(
    request: Request, access: Annotated[Access, require("evaluation:view")]
) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BYTES:
            raise ApiError(
                413,
                "file_too_large",
                f"文件超过 {MAX_BYTES} 字节上限",
                f"the file exceeds the limit of {MAX_BYTES} bytes",
                field="file",
                value=f">{MAX_BYTES} bytes",
            )
    if not raw.strip():
        raise ApiError(
            400,
            "file_empty",
            "文件为空：应为公示的验收材料文本（.txt）",
            "the file is empty: expected the published acceptance material as text (.txt)",
            field="file",
        )
    # The script sends the file's name percent-encoded: header values are Latin-1 only.
    name = unquote(request.headers.get("x-file-name") or "upload.txt")[:120]
    return await run_in_threadpool(check_text, raw, name)
