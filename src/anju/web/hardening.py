"""Rate limits and security headers for every response."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju.web.errors import ApiError, body


@dataclass(frozen=True)
class Rate:
    per_minute: int
    burst: int


# Sign-in is slow to guess against (argon2id, lockout after 5 failures per user); the per-client rate
# limit stops one client from cycling through usernames. Ingestion is limited per caller so that one
# misbehaving integrator cannot starve the others. Doorplate self-registration is open to anyone: a
# household registers a few people at a time, a script filling the pending queue is stopped per client.
DEFAULT_RATES = {
    "login": Rate(per_minute=20, burst=10),
    "ingest": Rate(per_minute=1200, burst=100),
    "doorplate_register": Rate(per_minute=6, burst=10),
}


class RateLimiter:
    """Token buckets keyed by (bucket, caller), in memory: one process enforces its own share."""

    MAX_KEYS = 100_000

    def __init__(
        self, rates: dict[str, Rate] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, bucket: str, key: str) -> None:
        rate = self.rates.get(bucket)
        if rate is None:
            return
        now = self.clock()
        refill = rate.per_minute / 60.0
        with self._lock:
            if len(self._buckets) > self.MAX_KEYS:
                self._buckets.clear()  # bounded memory under a flood of distinct callers
            tokens, last = self._buckets.get((bucket, key), (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + (now - last) * refill)
            if tokens < 1.0:
                self._buckets[(bucket, key)] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / refill) if refill > 0 else 60
                raise ApiError(
                    429,
                    "rate_limited",
                    f"请求过于频繁，请 {wait} 秒后再试",
                    f"too many requests; try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                    retry_after=wait,
                )
            self._buckets[(bucket, key)] = (tokens - 1.0, now)


# The API and the local Swagger page need nothing from other origins; pages get the same policy.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": _CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self)",
}


def install(app: FastAPI) -> None:
    quiet_access_log()

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            # Answers may hold personal data (even masked): keep them out of shared caches.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class BodyLimit:
    """ASGI middleware: a request body over the limit for its path prefix is answered 413 before the
    application reads it whole (the ingestion routes stream and check their own, larger limit)."""

    def __init__(self, app: ASGIApp, limits: dict[str, int]) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = next((n for prefix, n in self.limits if path.startswith(prefix)), None)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit, path)(scope, receive, send)
            return
        seen = 0
        cut_off = False  # the body went over the limit while the application was reading it
        started = False  # the application had begun its response before that

        async def limited() -> Message:
            nonlocal seen, cut_off
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut_off = True
                    raise _BodyTooLarge(limit)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if cut_off and not started:
                # FastAPI turns any exception while it reads a body into its own 400 ("error parsing
                # the body"); that answer is dropped here and the 413 below is sent instead.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except _BodyTooLarge:
            if started:
                raise  # too late to answer 413: the response is under way
        if cut_off and not started:
            await _too_large(limit, path)(scope, receive, send)


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _too_large(limit: int, path: str) -> JSONResponse:
    # Sent from outside the security-headers middleware, so it carries the headers itself.
    headers = dict(SECURITY_HEADERS)
    if path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
    return JSONResponse(
        body(
            "body_too_large",
            f"请求体超过 {limit} 字节上限",
            f"request body exceeds the limit of {limit} bytes",
            field="body",
            value=f">{limit} bytes",
        ),
        status_code=413,
        headers=headers,
    )


class QueryStringFilter(logging.Filter):
    """Access logs keep the path and drop the query string: searches carry ID numbers and phones
    (`?GMSFHM=…`), which must never reach a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


def quiet_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryStringFilter) for f in access.filters):
        access.addFilter(QueryStringFilter())
