"""POST records in the data standard; read them back in the standard's form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import ColumnElement

from anju.ingest.decode import decode_body
from anju.ingest.items import Item
from anju.security.personal import BLIND_KINDS, blind_column, mask_record
from anju.services import Services
from anju.standard.export import iter_records, write_csv
from anju.standard.spec import RecordType
from anju.web.auth import Access, not_found, require, scope_denied
from anju.web.deps import checked_estate, known_type
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
    access: Annotated[Access, require("records:edit")],
    estate: Annotated[str | None, Query(description="estate (小区) code the records belong to")] = None,
) -> dict[str, Any]:
    svc = access.services
    rtype = known_type(record_type)
    estate = checked_estate(estate)
    principal = access.principal
    if principal.kind == "device":
        if estate is not None and estate != principal.estate:
            raise scope_denied("estate", estate)
        estate = principal.estate
    elif access.estates is not None:
        if estate is None:
            raise ApiError(
                422,
                "estate_required",
                "您的权限限于部分小区：请用 estate 参数指明记录所属小区",
                "your permission covers some estates only: name the records' estate with the estate parameter",
                field="estate",
            )
        if not access.covers(estate):
            raise scope_denied("estate", estate)
    request.app.state.limiter.check("ingest", principal.actor)
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
    if principal.kind == "device":
        _check_device_records(rtype, items, principal.device_id or "")
    result = await run_in_threadpool(
        svc.pipeline.ingest,
        rtype.slug,
        items,
        source="http",
        estate=estate,
        source_detail=request.client.host if request.client else None,
        actor=principal.actor,
    )
    return result.to_dict()


def _check_device_records(rtype: RecordType, items: list[Item], device_id: str) -> None:
    """A device credential may only send that device's own records: every decodable record must name
    the device in the type's device field. The whole request is refused otherwise, nothing stored."""
    code = rtype.device_field
    if code is None:
        raise ApiError(
            403,
            "device_type_denied",
            f"设备凭证不能提交 {rtype.slug} 记录（该类型没有设备编号字段）",
            f"a device credential cannot send {rtype.slug} records (the type has no device field)",
            field="record_type",
            value=rtype.slug,
        )
    for item in items:
        if not item.decoded or not isinstance(item.obj, dict):
            continue  # undecodable: the pipeline quarantines it, tied to this device by the audit entry
        sent = item.obj.get(code)
        if sent != device_id:
            raise ApiError(
                403,
                "device_mismatch",
                f"第 {item.index} 条记录的 {code}={str(sent)[:40]!r} 不是本设备 {device_id!r}；未保存任何记录",
                f"record {item.index}: {code}={str(sent)[:40]!r} is not this device {device_id!r}; "
                "nothing was stored",
                field=code,
                value=str(sent)[:40],
                index=item.index,
            )


_LIST_PARAMS = frozenset({"since", "limit", "unmask", "after", "event_from", "event_to"})


def _search_conditions(rtype: RecordType, request: Request, svc: Services) -> list[ColumnElement[bool]]:
    """Exact filters from query parameters named by field code: ID numbers, phones and plates through
    their blind index, plain text fields directly."""
    table = svc.db.table(rtype.table_name)
    where: list[ColumnElement[bool]] = []
    for name, value in request.query_params.multi_items():
        if name in _LIST_PARAMS:
            continue
        try:
            f = rtype.field(name.upper())
        except KeyError:
            raise ApiError(
                422,
                "unknown_parameter",
                f"未知的查询参数 {name!r}：应为 since、limit、unmask、after 或 {rtype.slug} 的字段代码",
                f"unknown query parameter {name!r}: expected since, limit, unmask, after or a field code of "
                f"{rtype.slug}",
                field=name[:40],
            ) from None
        if f.personal in BLIND_KINDS:
            column = table.c[blind_column(f.column)]
            where.append(column == svc.protector.search_key(f.personal or "", value))
        elif f.personal is None and f.type == "VARCHAR2":
            where.append(table.c[f.column] == value)
        else:
            raise ApiError(
                422,
                "field_not_searchable",
                f"字段 {f.code}（{f.zh}）不能用于精确查询：只支持身份证号、电话、号牌和非个人文本字段",
                f"field {f.code} ({f.en}) cannot be searched: only ID numbers, phones, plates and "
                "non-personal text fields can",
                field=f.code,
            )
    return where


def _event_window(
    rtype: RecordType, svc: Services, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """Conditions on the type's own event time (`time_field` in the standard's files), stored in UTC."""
    if start is None and end is None:
        return []
    if rtype.time_field is None:
        name = "event_from" if start is not None else "event_to"
        raise ApiError(
            422,
            "no_event_time",
            f"{rtype.slug} 记录没有事件时间字段，不能使用 {name}；请改用 since（接收时间）",
            f"{rtype.slug} records have no event time field, so {name} cannot be used; use since "
            "(time received) instead",
            field=name,
        )
    tz = svc.settings.timezone
    first, last = _utc(start, tz), _utc(end, tz)
    if first is not None and last is not None and first > last:
        raise ApiError(
            422,
            "event_window_reversed",
            f"event_from={start} 晚于 event_to={end}：开始时间应不晚于结束时间",
            f"event_from={start} is after event_to={end}: the start must not be after the end",
            field="event_from",
            value=str(start),
        )
    column = svc.db.table(rtype.table_name).c[rtype.field(rtype.time_field).column]
    out: list[ColumnElement[bool]] = []
    if first is not None:
        out.append(column >= first.replace(tzinfo=None))
    if last is not None:
        out.append(column <= last.replace(tzinfo=None))
    return out


def _unmask_access(access: Access, unmask: bool) -> Access | None:
    return access.require_also("records:unmask") if unmask else None


def _narrow(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


@router.get(
    "/{record_type}", summary="Stored records of one type, masked unless unmasking is allowed and asked"
)
async def read(
    record_type: str,
    request: Request,
    access: Annotated[Access, require("records:view")],
    since: Annotated[
        datetime | None, Query(description="received at or after (ISO 8601; without an offset: local time)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    unmask: Annotated[
        bool, Query(description="show personal data in full (records:unmask; audited)")
    ] = False,
    event_from: Annotated[
        datetime | None,
        Query(description="the record's own event time (its type's time field) at or after; local if naive"),
    ] = None,
    event_to: Annotated[
        datetime | None, Query(description="the record's own event time at or before")
    ] = None,
) -> dict[str, Any]:
    svc = access.services
    rtype = known_type(record_type)
    where = _search_conditions(rtype, request, svc)
    where += _event_window(rtype, svc, event_from, event_to)
    full = _unmask_access(access, unmask)
    estates = _narrow(access.estates, full.estates if full else None)

    def fetch() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        since_utc = _utc(since, svc.settings.timezone)
        for rec in iter_records(
            svc.db, svc.settings, rtype.slug, svc.protector, since=since_utc, estates=estates, where=where
        ):
            out.append(rec if full else mask_record(rtype, rec))
            if len(out) >= limit:
                break
        if full and out:
            svc.audit.record(
                actor=access.actor,
                action="records.unmask",
                target=rtype.slug,
                detail={"ids": [str(r.get("ID")) for r in out[:100]], "count": len(out)},
            )
        return out

    records = await run_in_threadpool(fetch)
    return {"record_type": rtype.slug, "count": len(records), "masked": full is None, "records": records}


@router.get("/{record_type}/export", summary="Export records in the standard (NDJSON or CSV); audited")
async def export(
    record_type: str,
    access: Annotated[Access, require("records:export")],
    format: Annotated[Literal["ndjson", "csv"], Query()] = "ndjson",
    since: Annotated[datetime | None, Query(description="received at or after")] = None,
    unmask: Annotated[bool, Query(description="export personal data in full (records:unmask)")] = False,
) -> StreamingResponse:
    svc = access.services
    rtype = known_type(record_type)
    full = _unmask_access(access, unmask)
    estates = _narrow(access.estates, full.estates if full else None)
    await run_in_threadpool(
        svc.audit.record,
        actor=access.actor,
        action="records.export",
        target=rtype.slug,
        detail={
            "format": format,
            "unmasked": full is not None,
            "since": since.isoformat() if since else None,
        },
    )
    records = iter_records(
        svc.db,
        svc.settings,
        rtype.slug,
        svc.protector,
        since=_utc(since, svc.settings.timezone),
        estates=estates,
    )
    shown = records if full else (mask_record(rtype, r) for r in records)

    def ndjson() -> Iterator[bytes]:
        for rec in shown:
            yield orjson.dumps(rec) + b"\n"

    def csv_rows() -> Iterator[bytes]:
        buffer = io.StringIO()
        write_csv(rtype.slug, iter(()), buffer)
        yield buffer.getvalue().encode("utf-8")
        codes = [f.code for f in rtype.fields]
        for rec in shown:
            buffer = io.StringIO()
            csv.writer(buffer).writerow(["" if rec.get(c) is None else rec[c] for c in codes])
            yield buffer.getvalue().encode("utf-8")

    media = "application/x-ndjson" if format == "ndjson" else "text/csv; charset=utf-8"
    return StreamingResponse(
        ndjson() if format == "ndjson" else csv_rows(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{rtype.slug}.{format}"'},
    )


@router.get("/{record_type}/{record_id}", summary="One stored record by its ID")
async def read_one(
    record_type: str,
    record_id: str,
    access: Annotated[Access, require("records:view")],
    unmask: Annotated[
        bool, Query(description="show personal data in full (records:unmask; audited)")
    ] = False,
) -> dict[str, Any]:
    svc = access.services
    rtype = known_type(record_type)
    table = svc.db.table(rtype.table_name)
    full = _unmask_access(access, unmask)
    estates = _narrow(access.estates, full.estates if full else None)

    def fetch() -> dict[str, Any] | None:
        found = list(
            iter_records(
                svc.db,
                svc.settings,
                rtype.slug,
                svc.protector,
                estates=estates,
                where=[table.c.id == record_id],
            )
        )
        if found and full:
            svc.audit.record(
                actor=access.actor, action="records.unmask", target=f"{rtype.slug}/{record_id[:100]}"
            )
        return found[0] if found else None

    rec = await run_in_threadpool(fetch)
    if rec is None:
        raise not_found("记录", "record", record_id[:80], "record_id")
    return {
        "record_type": rtype.slug,
        "masked": full is None,
        "record": rec if full else mask_record(rtype, rec),
    }


def _utc(value: datetime | None, local: tzinfo) -> datetime | None:
    """A naive time means local time, as the standard's dates and `anju export --since` do."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=local)).astimezone(UTC)
