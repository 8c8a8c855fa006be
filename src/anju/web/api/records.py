"""POST records in the data standard; read them back in the standard's form."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from anju.ingest.decode import decode_body
from anju.services import Services
from anju.standard.export import iter_records
from anju.web.deps import checked_estate, known_type, services
from anju.web.errors import ApiError

router = APIRouter(prefix="/api/v1/records", tags=["records"])


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(
                413,
                "body_too_large",
                f"请求体超过 {limit} 字节上限，请分批提交",
                f"request body exceeds the limit of {limit} bytes; send smaller batches",
                field="body",
                value=f">{limit} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{record_type}",
    summary="Ingest records (JSON array or NDJSON) of one record type",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest(
    record_type: str,
    request: Request,
    svc: Annotated[Services, Depends(services)],
    estate: Annotated[str | None, Query(description="estate (小区) code the records belong to")] = None,
) -> dict[str, Any]:
    rtype = known_type(record_type)
    estate = checked_estate(estate)
    body = await _read_body(request, svc.settings.http_max_body_bytes)
    if not body.strip():
        raise ApiError(
            400,
            "body_empty",
            "请求体为空：应为记录的 JSON 数组或 NDJSON",
            "the request body is empty: expected a JSON array or NDJSON of records",
            field="body",
        )
    items = decode_body(body)
    limit = svc.settings.http_max_records
    if len(items) > limit:
        raise ApiError(
            413,
            "too_many_records",
            f"一次最多提交 {limit} 条记录，收到 {len(items)} 条；未保存任何记录",
            f"at most {limit} records per request, got {len(items)}; nothing was stored",
            field="body",
            value=len(items),
        )
    result = await run_in_threadpool(
        svc.pipeline.ingest,
        rtype.slug,
        items,
        source="http",
        estate=estate,
        source_detail=request.client.host if request.client else None,
    )
    return result.to_dict()


@router.get("/{record_type}", summary="Stored records of one type, in the standard's field codes and formats")
async def read(
    record_type: str,
    svc: Annotated[Services, Depends(services)],
    since: Annotated[
        datetime | None, Query(description="received at or after (ISO 8601; without an offset: local time)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rtype = known_type(record_type)

    def fetch() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for rec in iter_records(svc.db, svc.settings, rtype.slug, since=_utc(since, svc.settings.timezone)):
            out.append({k: (v.hex() if isinstance(v, bytes) else v) for k, v in rec.items()})
            if len(out) >= limit:
                break
        return out

    records = await run_in_threadpool(fetch)
    return {"record_type": rtype.slug, "count": len(records), "records": records}


def _utc(value: datetime | None, local: tzinfo) -> datetime | None:
    """A naive time means local time, as the standard's dates and `anju export --since` do."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=local)).astimezone(UTC)
