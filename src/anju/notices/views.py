"""Notices as staff see them: lists within their scope and one notice with its deliveries and receipts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from anju.notices.catalog import NoticeError, catalog, iso
from anju.notices.publishing import STATUS_ZH

if TYPE_CHECKING:
    from anju.services import Services


def _summary(r: Any) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": r.id,
        "region": r.region,
        "title": r.title,
        "content_type": cat.content_types[r.content_type].to_json(),
        "category": cat.categories[r.category].to_json(),
        "audience": cat.audiences[r.audience].to_json(),
        "channels": list(r.channels),
        "status": r.status,
        "status_zh": STATUS_ZH.get(r.status, r.status),
        "created_at": iso(r.created_at),
        "created_by": r.created_by,
        "approved_at": iso(r.approved_at),
        "approved_by": r.approved_by,
        "publish_at": iso(r.publish_at),
        "published_at": iso(r.published_at),
        "published_by": r.published_by,
        "expires_at": iso(r.expires_at),
        "withdrawn_at": iso(r.withdrawn_at),
    }


def list_notices(
    svc: Services, regions: Iterable[str] | None, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Notices of the regions (None: all), newest first."""
    t = svc.db.table("notice")
    query = select(t)
    if regions is not None:
        query = query.where(t.c.region.in_(sorted(regions)))
    if status is not None:
        if status not in STATUS_ZH:
            raise NoticeError.bad(
                "status", status, f"以下之一：{'、'.join(STATUS_ZH)}", f"one of {', '.join(STATUS_ZH)}"
            )
        query = query.where(t.c.status == status)
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(limit)).all()
    return [_summary(r) for r in rows]


def notice_view(svc: Services, notice_id: int) -> dict[str, Any]:
    t, d, r = svc.db.table("notice"), svc.db.table("notice_delivery"), svc.db.table("notice_receipt")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == notice_id)).first()
        if row is None:
            raise NoticeError.unknown("notice_id", notice_id, "通知", "notice")
        deliveries = conn.execute(select(d).where(d.c.notice_id == notice_id).order_by(d.c.pk)).all()
        reads: dict[str, int] = dict(
            conn.execute(
                select(r.c.channel, func.count()).where(r.c.notice_id == notice_id).group_by(r.c.channel)
            ).all()
        )
    out = _summary(row)
    out["body"] = row.body
    out["lon"], out["lat"] = row.lon, row.lat
    out["withdraw_reason"] = row.withdraw_reason
    out["deliveries"] = [
        {
            "channel": x.channel,
            "adapter": x.adapter,
            "status": x.status,
            "detail": x.detail,
            "record_id": x.record_id,
            "attempted_at": iso(x.attempted_at),
            "confirmed_at": iso(x.confirmed_at),
            "confirmed_by": x.confirmed_by,
            "reads": int(reads.get(x.channel, 0)),
        }
        for x in deliveries
    ]
    return out
