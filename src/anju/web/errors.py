"""One error body for every failure: {"error": {code, message_zh, message_en, field?, value?}}.

No stack trace ever reaches a client; an unexpected failure is logged with an id the client is given.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from anju.standard.dictionaries import DictionaryError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, zh: str, en: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.extra = status, code, zh, en, extra
        self.headers = headers


def body(code: str, zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message_zh": zh, "message_en": en, **extra}}


_STATUS_TEXT = {
    404: ("not_found", "未找到该地址", "no such resource"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            body(exc.code, exc.zh, exc.en, **exc.extra), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, zh, en = _STATUS_TEXT.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return JSONResponse(body(code, zh, en), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path")) or "body"
            problems.append({"field": loc, "value": _short(e.get("input")), "expected": e.get("msg")})
        first = problems[0] if problems else {"field": None, "value": None, "expected": ""}
        return JSONResponse(
            body(
                "request_invalid",
                f"请求参数 {first['field']} 无效：{first['expected']}",
                f"request parameter {first['field']} is invalid: {first['expected']}",
                field=first["field"],
                value=first["value"],
                problems=problems,
            ),
            status_code=422,
        )

    @app.exception_handler(DictionaryError)
    async def dictionary_error(_: Request, exc: DictionaryError) -> JSONResponse:
        log.error("dictionary override unusable: %s", exc)
        return JSONResponse(
            body(
                "dictionary_invalid",
                f"字典配置有误，请管理员修正：{exc}",
                f"a dictionary file is invalid; the administrator must fix it: {exc}",
            ),
            status_code=503,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s", ref)
        return JSONResponse(
            body(
                "internal_error",
                f"服务器内部错误（编号 {ref}），请联系管理员",
                f"internal error (reference {ref}); please contact the administrator",
                reference=ref,
            ),
            status_code=500,
        )


def _short(value: Any) -> Any:
    text = value if isinstance(value, str) else repr(value)
    # A lone surrogate (a JSON "\ud800" escape) cannot be encoded as UTF-8 in the answer: escape it.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 80 else text[:80] + "…"
