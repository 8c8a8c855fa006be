"""The interface font, served from the platform itself (no web font service, no CDN).

Pages list the usual system CJK fonts first, so a phone or desktop that has one never downloads this; a
machine without any Chinese font (a kiosk, a fresh Linux box, CI's headless browser) gets Noto Sans SC
from the `pylopdf-fonts-zh-cn` dependency that the evaluation reports use too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import FileResponse

from anju.evaluation.errors import EvaluationError
from anju.evaluation.report.fonts import source_font
from anju.web.auth import public
from anju.web.errors import ApiError
from anju.web.pages.errors import page_router

router = page_router()
FONT_PATH = "/fonts/noto-sans-sc.otf"


@router.get(FONT_PATH)
async def interface_font(
    _: Annotated[None, public("the sign-in page needs its font before anyone is signed in")],
) -> FileResponse:
    try:
        path = source_font()
    except EvaluationError as exc:
        raise ApiError(
            404, "font_missing", "界面字体未安装", f"the interface font is missing: {exc}"
        ) from None
    return FileResponse(
        path, media_type="font/otf", headers={"Cache-Control": "public, max-age=604800, immutable"}
    )
