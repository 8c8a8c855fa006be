"""Notices from draft to publication (seed 003 二(十)): drafts, approval of policy content, publication on
channels (now or scheduled), withdrawal and expiry, manual confirmation and read receipts.

The approval rule (content types in data/notices.yaml): a `general` notice may be published by anyone
holding notices:publish; a `policy` notice must first be approved by a holder of notices:approve (the API
checks the permission), and never by the account that drafted it (four eyes). Every publication emits one
`notice` record per channel (FB_FSDM holds one channel code) through the ingestion pipeline, so the data
standard's table holds what was released, where and when, validated like any other source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, func, insert, or_, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.ingest.decode import decode_body
from anju.notices.catalog import NoticeError, catalog, instant, iso, text
from anju.notices.channels import deliver, load_config, payload

if TYPE_CHECKING:
    from anju.services import Services

SLUG = "notice"
EDITABLE = ("draft", "approved")
LIVE = "published"
STATUS_ZH = {
    "draft": "草稿",
    "publishing": "发布中",
    "approved": "已审核",
    "scheduled": "定时待发布",
    "published": "已发布",
    "withdrawn": "已撤回",
    "expired": "已过期",
}


def _now(svc: Services) -> datetime:
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def _writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def _position(svc: Services, region: str, lon: float | None, lat: float | None) -> tuple[float, float]:
    """Where a notice is published (DQJD/DQWD are required): as given, else the centre of the region's
    estates in the registry, else the deployment's `position` (notice_channels.yaml)."""
    if lon is not None or lat is not None:
        if lon is None or lat is None:
            raise NoticeError.bad(
                "lat" if lat is None else "lon", None, "经纬度成对给出", "lon and lat together"
            )
        if not (-180 <= lon <= 180):
            raise NoticeError.bad("lon", lon, "-180 到 180 的经度", "a longitude between -180 and 180")
        if not (-90 <= lat <= 90):
            raise NoticeError.bad("lat", lat, "-90 到 90 的纬度", "a latitude between -90 and 90")
        return float(lon), float(lat)
    estate = svc.db.table("estate")
    estates = svc.regions.descendants([region])
    with svc.db.engine.connect() as conn:
        row = conn.execute(
            select(func.avg(estate.c.centre_lon), func.avg(estate.c.centre_lat)).where(
                estate.c.code.in_(estates), estate.c.centre_lon.is_not(None), estate.c.centre_lat.is_not(None)
            )
        ).first()
    if row is not None and row[0] is not None and row[1] is not None:
        return round(float(row[0]), 6), round(float(row[1]), 6)
    configured = load_config(svc.settings.data_dir).position
    if configured is not None:
        return configured
    raise NoticeError.bad(
        "lon",
        None,
        "发布位置经纬度（该区域在登记库中没有中心点，部署配置也未设 position）",
        "the position of the notice (the region has no centre in the registry and no position is configured)",
    )


def _region(svc: Services, code: Any) -> str:
    value = text("region", code, max_len=40)
    assert value is not None
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        if conn.execute(select(region.c.code).where(region.c.code == value)).first() is None:
            raise NoticeError.bad(
                "region", value, "已登记的社区或小区代码", "the code of a registered community or estate"
            )
    return value


def _channels(values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not values:
        raise NoticeError.bad("channels", values, "至少一个发布渠道的列表", "a list of at least one channel")
    out: list[str] = []
    for i, v in enumerate(values):
        key = catalog().check("channels", f"channels[{i}]", v).key
        if key not in out:
            out.append(key)
    return out


def create_notice(
    svc: Services,
    *,
    region: str,
    title: str,
    body: str,
    category: str,
    audience: str,
    channels: Sequence[str],
    actor: str,
    content_type: str | None = None,
    expires_at: datetime | str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    source: str = "api",
) -> int:
    """A draft. The content type defaults to the category's (data/notices.yaml); policy stays policy."""
    cat = catalog()
    chosen = cat.check("categories", "category", category)
    kind = cat.check("content_types", "content_type", content_type or chosen.extra["content_type"]).key
    if cat.approval_needed(str(chosen.extra["content_type"])) and not cat.approval_needed(kind):
        raise NoticeError.bad(
            "content_type",
            kind,
            f"类别 {chosen.zh} 的政策性内容须审核",
            f"policy content (category {chosen.key})",
        )
    values: dict[str, Any] = {
        "region": _region(svc, region),
        "title": text("title", title, max_len=200),
        "body": text("body", body, max_len=19000),
        "content_type": kind,
        "category": chosen.key,
        "audience": cat.check("audiences", "audience", audience).key,
        "channels": _channels(channels),
        "expires_at": instant("expires_at", expires_at),
        "source": text("source", source, max_len=80),
    }
    values["lon"], values["lat"] = _position(svc, values["region"], lon, lat)
    now = _now(svc)
    with _writing(svc) as conn, conn.begin():
        notice_id = int(
            conn.execute(
                insert(svc.db.table("notice")).values(
                    status="draft", created_at=now, created_by=actor, **values
                )
            ).inserted_primary_key[0]
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="notices.notice.create",
            target=f"notice:{notice_id}",
            detail={"content_type": kind, "region": values["region"]},
        )
    return notice_id


def _row(conn: Connection, svc: Services, notice_id: int, *, lock: bool = False) -> Any:
    t = svc.db.table("notice")
    query = select(t).where(t.c.id == notice_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NoticeError.unknown("notice_id", notice_id, "通知", "notice")
    return row


def notice_region(svc: Services, notice_id: int) -> str | None:
    """The region of a notice, or None if there is none (the API's scope checks)."""
    t = svc.db.table("notice")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.region).where(t.c.id == notice_id)).scalar()
    return None if found is None else str(found)


def approve(svc: Services, notice_id: int, *, actor: str) -> None:
    """Approve a policy notice (the caller holds notices:approve). The drafter may not approve it."""
    t = svc.db.table("notice")
    with _writing(svc) as conn, conn.begin():
        row = _row(conn, svc, notice_id, lock=True)
        if not catalog().approval_needed(row.content_type):
            raise NoticeError.state(
                "approval_not_needed",
                "content_type",
                row.content_type,
                "一般性通知无需审核，可直接发布",
                "a general notice needs no approval; publish it directly",
            )
        if row.status != "draft":
            raise NoticeError.state(
                "not_a_draft",
                "status",
                row.status,
                f"只能审核草稿，该通知状态为“{STATUS_ZH.get(row.status, row.status)}”",
                f"only a draft can be approved; this notice is {row.status}",
            )
        if row.created_by == actor:
            raise NoticeError.state(
                "self_approval",
                "actor",
                actor,
                "政策性内容须由起草人以外的社区或社区民警审核",
                "policy content must be approved by someone other than its drafter",
            )
        conn.execute(
            update(t)
            .where(t.c.id == notice_id)
            .values(status="approved", approved_at=_now(svc), approved_by=actor)
        )
        svc.audit.append(conn, actor=actor, action="notices.notice.approve", target=f"notice:{notice_id}")


def publish(svc: Services, notice_id: int, *, actor: str, publish_at: datetime | str | None = None) -> str:
    """Publish now, or schedule for `publish_at` (the alarm clock's tick publishes it when due).
    Answers the status after: published or scheduled."""
    at = instant("publish_at", publish_at)
    now = _now(svc)
    t = svc.db.table("notice")
    with _writing(svc) as conn, conn.begin():
        row = _row(conn, svc, notice_id, lock=True)
        if row.status not in EDITABLE:
            raise NoticeError.state(
                "not_publishable",
                "status",
                row.status,
                f"该通知状态为“{STATUS_ZH.get(row.status, row.status)}”，不能发布",
                f"this notice is {row.status} and cannot be published",
            )
        if catalog().approval_needed(row.content_type) and row.status != "approved":
            raise NoticeError.state(
                "approval_required",
                "content_type",
                row.content_type,
                "政策性内容须经社区或社区民警审核后才能发布",
                "policy content must be approved by the community or community police before publication",
            )
        scheduled = at is not None and at > now
        conn.execute(
            update(t)
            .where(t.c.id == notice_id)
            .values(
                status="scheduled" if scheduled else "publishing",
                publish_at=at if scheduled else None,
                published_by=actor,
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="notices.notice.schedule" if scheduled else "notices.notice.publish",
            target=f"notice:{notice_id}",
            detail={"publish_at": iso(at)} if scheduled else None,
        )
    if scheduled:
        return "scheduled"
    _go_live(svc, notice_id, now)
    return LIVE


def _local(svc: Services, at: datetime) -> str:
    return at.replace(tzinfo=UTC).astimezone(svc.settings.timezone).strftime("%Y-%m-%d %H:%M:%S")


def _go_live(svc: Services, notice_id: int, now: datetime) -> None:
    """Deliver on every channel, emit the `notice` records, record the outcomes. Outside the claiming
    transaction: a webhook that times out must not hold a row lock."""
    t, d = svc.db.table("notice"), svc.db.table("notice_delivery")
    with _writing(svc) as conn, conn.begin():
        conn.execute(update(t).where(t.c.id == notice_id).values(status=LIVE, published_at=now))
        row = _row(conn, svc, notice_id)
    cat, config = catalog(), load_config(svc.settings.data_dir)
    notice = {c: getattr(row, c) for c in ("id", "region", "title", "body", "category", "audience")}
    notice["published_at"], notice["expires_at"] = iso(now), iso(row.expires_at)
    category = cat.categories[row.category]
    publisher = str(row.published_by or row.created_by).removeprefix("user:")[:50]
    outcomes: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for key in row.channels:
        channel = cat.channels[key]
        outcome = deliver(config.channels[key], channel, svc.settings.data_dir, payload(notice, channel))
        record_id = f"NOTICE-{notice_id}-{channel.extra['code']}"
        records.append(
            {
                "ID": record_id,
                "FB_LX": f"{cat.content_types[row.content_type].zh}/{category.zh}"[:100],
                "FB_NR": f"{row.title}\n{row.body}"[:20000],
                "FB_RQSJ": _local(svc, now),
                "FB_FSDM": channel.extra["code"],
                "FB_ZT": "已发布"
                if outcome.status == "sent"
                else "待确认"
                if outcome.status != "failed"
                else "发布失败",
                "DQJD": row.lon,
                "DQWD": row.lat,
                "FBR_XM": publisher,
            }
        )
        outcomes.append(
            {
                "notice_id": notice_id,
                "channel": key,
                "adapter": config.channels[key].adapter,
                "status": outcome.status,
                "detail": outcome.detail,
                "record_id": record_id,
                "attempted_at": now,
            }
        )
    estate = row.region if row.region in _estates_only(svc, [row.region]) else None
    result = svc.pipeline.ingest(
        SLUG, decode_body(orjson.dumps(records)), source="notices", actor=str(row.published_by), estate=estate
    )
    with _writing(svc) as conn, conn.begin():
        conn.execute(insert(d), outcomes)
        svc.audit.append(
            conn,
            actor="system:notices",
            action="notices.notice.delivered",
            target=f"notice:{notice_id}",
            detail={
                "channels": {o["channel"]: o["status"] for o in outcomes},
                "records": {
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "rejected": result.rejected,
                },
            },
        )


def _estates_only(svc: Services, codes: Sequence[str]) -> set[str]:
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        return {
            str(c)
            for c in conn.execute(
                select(region.c.code).where(region.c.code.in_(list(codes)), region.c.level == "estate")
            ).scalars()
        }


def withdraw(svc: Services, notice_id: int, *, actor: str, reason: str | None = None) -> None:
    why = text("reason", reason, max_len=500, required=False)
    t = svc.db.table("notice")
    with _writing(svc) as conn, conn.begin():
        row = _row(conn, svc, notice_id, lock=True)
        if row.status in ("withdrawn", "expired", "publishing"):
            raise NoticeError.state(
                "not_withdrawable",
                "status",
                row.status,
                f"该通知状态为“{STATUS_ZH.get(row.status, row.status)}”，不能撤回",
                f"this notice is {row.status} and cannot be withdrawn",
            )
        conn.execute(
            update(t)
            .where(t.c.id == notice_id)
            .values(status="withdrawn", withdrawn_at=_now(svc), withdrawn_by=actor, withdraw_reason=why)
        )
        svc.audit.append(conn, actor=actor, action="notices.notice.withdraw", target=f"notice:{notice_id}")


def confirm_delivery(svc: Services, notice_id: int, channel: str, *, actor: str) -> None:
    """Staff confirm that a manual channel's posting (radio, bulletin board) was made."""
    d = svc.db.table("notice_delivery")
    key = catalog().check("channels", "channel", channel).key
    with _writing(svc) as conn, conn.begin():
        _row(conn, svc, notice_id)
        found = conn.execute(
            select(d.c.status).where(d.c.notice_id == notice_id, d.c.channel == key)
        ).scalar()
        if found is None:
            raise NoticeError.unknown(
                "channel", key, "该通知在此渠道的发布", "publication of this notice on that channel"
            )
        if found != "pending_confirmation":
            raise NoticeError.state(
                "not_pending",
                "channel",
                key,
                f"该渠道的发布状态为 {found}，无需确认",
                f"the publication on this channel is {found}; there is nothing to confirm",
            )
        conn.execute(
            update(d)
            .where(d.c.notice_id == notice_id, d.c.channel == key)
            .values(status="confirmed", confirmed_at=_now(svc), confirmed_by=actor)
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="notices.delivery.confirm",
            target=f"notice:{notice_id}",
            detail={"channel": key},
        )


def record_receipt(svc: Services, notice_id: int, channel: str, reader: str) -> bool:
    """A reader opened the notice on a channel that reports it. Answers False for a repeat of one reader.
    The reader is kept only as a keyed digest."""
    entry = catalog().check("channels", "channel", channel)
    who = text("reader", reader, max_len=200)
    assert who is not None
    if not entry.extra.get("receipts"):
        raise NoticeError.bad(
            "channel",
            entry.key,
            "可回报已读的渠道（手机APP、微信小程序）",
            "a channel that reports reads (mobile_app, wechat_mini_program)",
        )
    d, r = svc.db.table("notice_delivery"), svc.db.table("notice_receipt")
    digest = svc.protector.search_key("reader", who)
    with _writing(svc) as conn, conn.begin():
        row = _row(conn, svc, notice_id)
        delivered = conn.execute(
            select(d.c.pk).where(d.c.notice_id == notice_id, d.c.channel == entry.key)
        ).first()
        if row.status != LIVE or delivered is None:
            raise NoticeError.unknown(
                "notice_id", notice_id, "在该渠道发布中的通知", "notice published on that channel"
            )
        if conn.execute(select(r.c.pk).where(r.c.notice_id == notice_id, r.c.reader == digest)).first():
            return False
        conn.execute(
            insert(r).values(notice_id=notice_id, channel=entry.key, reader=digest, read_at=_now(svc))
        )
    return True


# ---- due work (the alarm clock's tick) ----------------------------------------------------------------
def publish_due(svc: Services, now: datetime | None = None) -> list[int]:
    """Publish scheduled notices whose time has come and expire published ones past their expiry.
    Answers the ids published. A notice is claimed (scheduled → publishing) before it is delivered, so two
    ticks at once publish it once."""
    at = (now or svc.pipeline.clock()).astimezone(UTC).replace(tzinfo=None)
    t = svc.db.table("notice")
    with _writing(svc) as conn, conn.begin():
        conn.execute(
            update(t)
            .where(t.c.status == LIVE, t.c.expires_at.is_not(None), t.c.expires_at <= at)
            .values(status="expired")
        )
        due = [
            int(i)
            for i in conn.execute(
                select(t.c.id)
                .where(t.c.status == "scheduled", t.c.publish_at <= at)
                .order_by(t.c.publish_at, t.c.id)
            ).scalars()
        ]
    published = []
    for notice_id in due:
        with _writing(svc) as conn, conn.begin():
            claimed = conn.execute(
                update(t).where(t.c.id == notice_id, t.c.status == "scheduled").values(status="publishing")
            ).rowcount
        if claimed:
            _go_live(svc, notice_id, at)
            published.append(notice_id)
    return published


# ---- for other modules --------------------------------------------------------------------------------
def publish_system_notice(
    svc: Services,
    *,
    region: str,
    title: str,
    body: str,
    category: str,
    audience: str,
    channels: Sequence[str],
    actor: str,
    source: str,
    lon: float | None = None,
    lat: float | None = None,
) -> int:
    """A notice published at once by an authorised caller (emergency warnings: the caller has checked the
    permission, so no approval step); it emits its `notice` records like any publication."""
    notice_id = create_notice(
        svc,
        region=region,
        title=title,
        body=body,
        category=category,
        audience=audience,
        channels=channels,
        actor=actor,
        lon=lon,
        lat=lat,
        source=source,
    )
    t = svc.db.table("notice")
    now = _now(svc)
    with _writing(svc) as conn, conn.begin():
        conn.execute(update(t).where(t.c.id == notice_id).values(status="publishing", published_by=actor))
        svc.audit.append(
            conn,
            actor=actor,
            action="notices.notice.publish",
            target=f"notice:{notice_id}",
            detail={"source": source},
        )
    _go_live(svc, notice_id, now)
    return notice_id


def _visible_regions(svc: Services, estate: str) -> list[str]:
    return svc.regions.ancestors(estate)


def published_notices(
    svc: Services, estate: str, *, audience: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """What residents of an estate may read now (a notice for a community or district reaches its
    estates), newest first, without personal data (no drafter, approver or publisher)."""
    t = svc.db.table("notice")
    cat = catalog()
    query = select(t).where(t.c.status == LIVE, t.c.region.in_(_visible_regions(svc, estate)))
    if audience is not None:
        key = cat.check("audiences", "audience", audience).key
        query = query.where(or_(t.c.audience == key, t.c.audience == "all_residents"))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query.order_by(t.c.published_at.desc(), t.c.id.desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "region": r.region,
            "title": r.title,
            "body": r.body,
            "category": cat.categories[r.category].to_json(),
            "audience": cat.audiences[r.audience].to_json(),
            "channels": list(r.channels),
            "published_at": iso(r.published_at),
            "expires_at": iso(r.expires_at),
        }
        for r in rows
    ]


def notice_channels_used(
    svc: Services, estates: Sequence[str], start: datetime, end: datetime, *, category: str | None = None
) -> dict[str, list[int]]:
    """Channel → ids of notices published on it in [start, end) that reach the estates. Only deliveries
    that happened count: sent by an adapter, or a manual posting someone confirmed."""
    lo = start.astimezone(UTC).replace(tzinfo=None) if start.tzinfo else start
    hi = end.astimezone(UTC).replace(tzinfo=None) if end.tzinfo else end
    regions = sorted({a for e in estates for a in svc.regions.ancestors(e)})
    t, d = svc.db.table("notice"), svc.db.table("notice_delivery")
    query = (
        select(d.c.channel, t.c.id)
        .join(t, t.c.id == d.c.notice_id)
        .where(
            t.c.region.in_(regions),
            t.c.published_at >= lo,
            t.c.published_at < hi,
            d.c.status.in_(("sent", "confirmed")),
        )
        .order_by(d.c.channel, t.c.id)
    )
    if category is not None:
        query = query.where(t.c.category == catalog().check("categories", "category", category).key)
    out: dict[str, list[int]] = {}
    with svc.db.engine.connect() as conn:
        for channel, notice_id in conn.execute(query):
            out.setdefault(str(channel), []).append(int(notice_id))
    return out
