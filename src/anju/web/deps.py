"""Shared request helpers for the API routers."""

from __future__ import annotations

from fastapi import Request

from anju.ingest.pipeline import EstateInvalid, check_estate
from anju.services import Services
from anju.standard.spec import RecordType, UnknownRecordType, load_standard, record_type
from anju.web.errors import ApiError


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def known_type(slug: str) -> RecordType:
    try:
        return record_type(slug)
    except UnknownRecordType:
        types = ", ".join(load_standard())
        raise ApiError(
            404,
            "unknown_record_type",
            f"未知的记录类型 {slug!r}；可用类型：{types}",
            f"unknown record type {slug!r}; expected one of: {types}",
            field="record_type",
            value=slug[:80],
        ) from None


def checked_estate(estate: str | None) -> str | None:
    try:
        return check_estate(estate)
    except EstateInvalid as exc:
        shown = exc.estate[:80]
        raise ApiError(
            422,
            "estate_invalid",
            f"小区编码 estate={shown!r} 无效：应为 1-40 位字母、数字、_ 或 -",
            f"estate={shown!r} is invalid: expected 1-40 letters, digits, _ or -",
            field="estate",
            value=shown,
        ) from None
