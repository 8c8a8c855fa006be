"""The data standard and its dictionaries, as the platform applies them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from anju.services import Services
from anju.standard.spec import FieldSpec, RecordType, load_standard
from anju.web.auth import public
from anju.web.deps import known_type, services
from anju.web.errors import ApiError

# The data standard and its code tables are published documents, not data about anyone.
router = APIRouter(
    prefix="/api/v1", tags=["standard"], dependencies=[public("the published data standard and code tables")]
)


def field_dict(f: FieldSpec) -> dict[str, Any]:
    return {
        "seq": f.seq,
        "code": f.code,
        "zh": f.zh,
        "en": f.en,
        "type": f.type_text(),
        "required": f.required,
        "dictionary": f.dictionary,
        "personal": f.personal,
        "check": f.check,
        "seed_code": f.seed_code,
        "resolution": f.resolution,
        "reading": f.reading,
    }


def type_dict(t: RecordType, *, fields: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "slug": t.slug,
        "section": t.section,
        "title_zh": t.title_zh,
        "title_en": t.title_en,
        "fields_count": len(t.fields),
        "required_count": sum(f.required for f in t.fields),
        "time_field": t.time_field,
        "device_field": t.device_field,
        "resolution": t.resolution,
    }
    if fields:
        d["fields"] = [field_dict(f) for f in t.fields]
        d["cross_rules"] = [{"kind": r.kind, **r.params} for r in t.cross]
    return d


@router.get("/standard", summary="The 12 record types of the Wuhan data standard")
async def list_types() -> list[dict[str, Any]]:
    return [type_dict(t, fields=False) for t in load_standard().values()]


@router.get("/standard/{record_type}", summary="One record type with every field")
async def show_type(record_type: str) -> dict[str, Any]:
    return type_dict(known_type(record_type), fields=True)


@router.get("/dictionaries", summary="The dictionaries in force (shipped and deployment overrides)")
async def list_dictionaries(svc: Annotated[Services, Depends(services)]) -> list[dict[str, Any]]:
    return [
        {
            "name": d.name,
            "title_zh": d.title_zh,
            "title_en": d.title_en,
            "source": d.source,
            "per_deployment": d.per_deployment,
            "codes": len(d.entries()),
        }
        for d in svc.pipeline.dictionaries.values()
    ]


@router.get("/dictionaries/{name}", summary="One dictionary with its codes")
async def show_dictionary(name: str, svc: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    d = svc.pipeline.dictionaries.get(name)
    if d is None:
        names = ", ".join(svc.pipeline.dictionaries)
        raise ApiError(
            404,
            "unknown_dictionary",
            f"未知的字典 {name!r}；可用字典：{names}",
            f"unknown dictionary {name!r}; expected one of: {names}",
            field="name",
            value=name[:80],
        )
    return {
        "name": d.name,
        "title_zh": d.title_zh,
        "title_en": d.title_en,
        "source": d.source,
        "note": d.note,
        "per_deployment": d.per_deployment,
        "codes": [
            {"code": e.code, "zh": e.zh, "en": e.en, "valid_from": e.valid_from, "valid_to": e.valid_to}
            for e in d.entries()
        ],
    }
