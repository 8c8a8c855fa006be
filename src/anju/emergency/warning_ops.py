"""Warnings (应急预警信息发布): issued, updated and cancelled as CAP 1.2 messages, kept in
`emergency_warning` as their validated documents, and published to residents through the notice channels.

A warning is a thread of messages: the Alert, then Updates and at most one Cancel, each a new message whose
`references` name every earlier message of the thread (CAP 1.2 3.2.1). Only the newest message of a thread
can be updated or cancelled. A drill's warning (or one marked as an exercise) has status Exercise.

Publication goes through the notices module (`publish_system_notice`, on the channels of
notices/data/channels.yaml); when that fails the publication is recorded as `pending` and can be retried
(`publish_pending`), so that no warning is lost and none is said to have reached residents when it has not.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from anju.emergency.cap import (
    CERTAINTIES,
    SEVERITIES,
    URGENCIES,
    CapWarning,
    from_cap,
    referenced_identifiers,
    to_cap,
)
from anju.emergency.catalog import EmergencyError, catalog, instant, text
from anju.emergency.ops_catalog import iso, known_region, now, writing
from anju.notices.catalog import catalog as notice_catalog
from anju.notices.publishing import publish_system_notice

if TYPE_CHECKING:
    from anju.services import Services

log = logging.getLogger(__name__)
# Where a warning goes when the caller names no channel: the residents' app, which reports reads.
DEFAULT_CHANNELS = ("mobile_app",)


def _enum(field: str, value: Any, allowed: Sequence[str]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    raise EmergencyError.bad(
        field, value, "、".join(allowed) + " 之一（CAP 1.2）", "one of " + ", ".join(allowed)
    )


def _channels(values: Sequence[str]) -> list[str]:
    """The notice channels named (keys of notices/data/channels.yaml, or their Chinese names)."""
    # An unknown one is refused by the notices catalogue (a NoticeError is an EmergencyError: same answer).
    out = [notice_catalog().check("channels", "channels", v).key for v in values]
    if not out:
        raise EmergencyError.bad("channels", "", "至少一个发布渠道", "at least one channel")
    return sorted(set(out))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _store(svc: Services, w: CapWarning, region: str, actor: str, action: str) -> None:
    doc = to_cap(w)
    t = svc.db.table("emergency_warning")
    with writing(svc) as conn, conn.begin():
        known_region(conn, svc, "region", region, estate=False)
        if conn.execute(select(t.c.id).where(t.c.id == w.identifier)).first() is not None:
            raise EmergencyError(
                "warning_exists",
                "identifier",
                w.identifier,
                f"预警 {w.identifier} 已存在（CAP 标识符须唯一）",
                f"warning {w.identifier} already exists (CAP identifiers are unique)",
            )
        conn.execute(
            insert(t).values(
                id=w.identifier,
                region=region,
                status=w.status,
                msg_type=w.msg_type,
                sent_at=w.sent.astimezone(UTC).replace(tzinfo=None),
                cap_references=list(w.references),
                cap_xml=doc.decode("utf-8"),
                created_by=actor,
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action=f"emergency.warning.{action}",
            target=f"emergency_warning:{w.identifier}",
            detail={"status": w.status, "msg_type": w.msg_type},
        )


def publish(svc: Services, warning_id: str, channels: Sequence[str], *, actor: str) -> str:
    """Hand the warning to the notice channels; answers the state recorded (published or pending)."""
    chosen = _channels(channels)
    w, region = _message(svc, warning_id)
    notice_id: int | None = None
    kind = {"Alert": "预警", "Update": "预警更新", "Cancel": "预警解除"}[w.msg_type]
    prefix = "【演练】" if w.status == "Exercise" else ""
    body = "\n".join(x for x in (w.description, w.instruction, w.note) if x)
    try:
        notice_id = publish_system_notice(
            svc,
            region=region,
            title=f"{prefix}【{kind}】{w.headline}"[:200],
            body=body,
            category="emergency_warning",
            audience="all_residents",
            channels=chosen,
            actor=actor,
            source=f"emergency_warning:{warning_id}",
        )
    except Exception:  # a notice channel's failure must not lose the warning: it stays pending
        log.exception("publishing warning %s failed; recorded as pending", warning_id)
    state = "published" if notice_id is not None else "pending"
    with writing(svc) as conn, conn.begin():
        conn.execute(
            insert(svc.db.table("emergency_warning_publication")).values(
                warning_id=warning_id,
                state=state,
                channels=chosen,
                notice_id=notice_id,
                at=now(svc),
                actor=actor,
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.warning.publish",
            target=f"emergency_warning:{warning_id}",
            detail={"state": state, "channels": chosen},
        )
    return state


def publish_pending(svc: Services, *, actor: str) -> dict[str, int]:
    """Retry the warnings whose latest publication is still pending; answers counts by new state."""
    p = svc.db.table("emergency_warning_publication")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(p).order_by(p.c.pk)).all()
    latest: dict[str, Any] = {}
    for r in rows:
        latest[r.warning_id] = r
    out = {"published": 0, "pending": 0}
    for wid, r in latest.items():
        if r.state == "pending":
            out[publish(svc, wid, r.channels, actor=actor)] += 1
    return out


def issue(
    svc: Services,
    *,
    region: str,
    hazard: str,
    headline: str,
    description: str,
    instruction: str,
    actor: str,
    urgency: str = "Expected",
    severity: str = "Moderate",
    certainty: str = "Likely",
    area_desc: str | None = None,
    expires: datetime | str | None = None,
    exercise: bool = False,
    drill_id: int | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> str:
    """Issue a new warning (an Alert) and publish it; answers its CAP identifier."""
    h = catalog().check("hazards", "hazard", hazard)
    entry = catalog().hazards[h]
    chosen = _channels(channels)
    if drill_id is not None:
        d = svc.db.table("emergency_drill")
        with svc.db.engine.connect() as conn:
            if conn.execute(select(d.c.id).where(d.c.id == drill_id)).first() is None:
                raise EmergencyError.unknown("drill_id", drill_id, "演练", "drill")
    code = text("region", region, max_len=40) or ""
    sent = _aware(now(svc)).replace(microsecond=0)
    w = CapWarning(
        identifier=f"ANJU-{code}-{sent:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}",
        sender=f"anju@{code}",
        sent=sent,
        status="Exercise" if exercise or drill_id is not None else "Actual",
        msg_type="Alert",
        event=entry.zh,
        category=str(entry.extra.get("cap", "Other")),
        urgency=_enum("urgency", urgency, URGENCIES),
        severity=_enum("severity", severity, SEVERITIES),
        certainty=_enum("certainty", certainty, CERTAINTIES),
        headline=text("headline", headline, max_len=160) or "",
        description=text("description", description, max_len=4000) or "",
        instruction=text("instruction", instruction, max_len=4000) or "",
        area_desc=text("area_desc", area_desc, max_len=300, required=False) or code,
        expires=None if expires is None else _aware(instant("expires", expires)).replace(microsecond=0),
        note=f"演练 {drill_id} / exercise of drill {drill_id}" if drill_id is not None else None,
    )
    _store(svc, w, code, actor, "issue")
    publish(svc, w.identifier, chosen, actor=actor)
    return w.identifier


def _message(svc: Services, warning_id: str) -> tuple[CapWarning, str]:
    t = svc.db.table("emergency_warning")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t.c.cap_xml, t.c.region).where(t.c.id == warning_id)).first()
    if row is None:
        raise EmergencyError.unknown("warning_id", warning_id, "预警", "warning")
    return from_cap(row.cap_xml.encode("utf-8")), str(row.region)


def warning_region(svc: Services, warning_id: str) -> str | None:
    t = svc.db.table("emergency_warning")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.region).where(t.c.id == warning_id)).scalar()
    return None if found is None else str(found)


def _successor(svc: Services, warning_id: str) -> str | None:
    """The message that refers to this one (the thread went on), if any."""
    t = svc.db.table("emergency_warning")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.cap_references).order_by(t.c.sent_at)).all()
    for r in rows:
        if warning_id in referenced_identifiers(tuple(r.cap_references or ())):
            return str(r.id)
    return None


def _follow_up(
    svc: Services,
    warning_id: str,
    msg_type: str,
    changes: dict[str, Any],
    actor: str,
    channels: Sequence[str],
) -> str:
    previous, region = _message(svc, warning_id)
    later = _successor(svc, warning_id)
    if later is not None:
        raise EmergencyError(
            "warning_superseded",
            "warning_id",
            warning_id,
            f"预警 {warning_id} 已被 {later} 更新或解除；请对最新的消息操作",
            f"warning {warning_id} was followed by {later}; act on the newest message",
        )
    if previous.msg_type == "Cancel":
        raise EmergencyError(
            "warning_cancelled",
            "warning_id",
            warning_id,
            f"预警 {warning_id} 是解除消息，不能再更新",
            f"warning {warning_id} is a cancellation; it cannot be followed up",
        )
    sent = _aware(now(svc)).replace(microsecond=0)
    if sent <= previous.sent:  # CAP orders a thread by `sent`; two messages in one second stay ordered
        sent = previous.sent.astimezone(UTC) + timedelta(seconds=1)
    base = (
        previous.identifier.rsplit("-", 1)[0] if previous.identifier.startswith("ANJU-") else f"ANJU-{region}"
    )
    w = replace(
        previous,
        identifier=f"{base}-{uuid.uuid4().hex[:8]}",
        sender=f"anju@{region}",
        sent=sent,
        msg_type=msg_type,
        references=(*previous.references, previous.reference()),
        **changes,
    )
    chosen = _channels(channels)
    _store(svc, w, region, actor, msg_type.lower())
    publish(svc, w.identifier, chosen, actor=actor)
    return w.identifier


def update_warning(
    svc: Services,
    warning_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> str:
    """An Update of the newest message of a thread, with the fields changed; answers its identifier."""
    allowed = {
        "headline",
        "description",
        "instruction",
        "urgency",
        "severity",
        "certainty",
        "area_desc",
        "expires",
    }
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise EmergencyError.bad(
            unknown[0], "…", "、".join(sorted(allowed)) + " 之一", "one of " + ", ".join(sorted(allowed))
        )
    if not changes:
        raise EmergencyError.bad("changes", "", "至少一项更改", "at least one change")
    clean: dict[str, Any] = {}
    for k, v in changes.items():
        if k in ("urgency", "severity", "certainty"):
            clean[k] = _enum(
                k, v, {"urgency": URGENCIES, "severity": SEVERITIES, "certainty": CERTAINTIES}[k]
            )
        elif k == "expires":
            clean[k] = None if v is None else _aware(instant("expires", v)).replace(microsecond=0)
        else:
            clean[k] = text(k, v, max_len=160 if k == "headline" else 4000)
    return _follow_up(svc, warning_id, "Update", clean, actor, channels)


def cancel_warning(
    svc: Services, warning_id: str, reason: str, *, actor: str, channels: Sequence[str] = DEFAULT_CHANNELS
) -> str:
    """A Cancel of the newest message of a thread, saying why; answers its identifier."""
    why = text("reason", reason, max_len=1000) or ""
    return _follow_up(svc, warning_id, "Cancel", {"note": why}, actor, channels)


def import_cap(
    svc: Services, doc: bytes, *, region: str, actor: str, channels: Sequence[str] | None = None
) -> str:
    """Record a CAP 1.2 warning received from elsewhere (validated against the schema first); publish it to
    residents when `channels` are given."""
    w = from_cap(doc)
    code = text("region", region, max_len=40) or ""
    _store(svc, w, code, actor, "import")
    if channels:
        publish(svc, w.identifier, channels, actor=actor)
    return w.identifier


def cap_document(svc: Services, warning_id: str) -> bytes:
    t = svc.db.table("emergency_warning")
    with svc.db.engine.connect() as conn:
        doc = conn.execute(select(t.c.cap_xml).where(t.c.id == warning_id)).scalar()
    if doc is None:
        raise EmergencyError.unknown("warning_id", warning_id, "预警", "warning")
    return str(doc).encode("utf-8")


def _view(w: CapWarning, row: Any, superseded_by: str | None, publication: Any) -> dict[str, Any]:
    return {
        "id": w.identifier,
        "region": row.region,
        "sender": w.sender,
        "sent": w.sent.isoformat(),
        "status": w.status,
        "msg_type": w.msg_type,
        "event": w.event,
        "category": w.category,
        "urgency": w.urgency,
        "severity": w.severity,
        "certainty": w.certainty,
        "headline": w.headline,
        "description": w.description,
        "instruction": w.instruction,
        "area_desc": w.area_desc,
        "expires": None if w.expires is None else w.expires.isoformat(),
        "note": w.note,
        "references": list(w.references),
        "superseded_by": superseded_by,
        "created_by": row.created_by,
        "publication": None
        if publication is None
        else {
            "state": publication.state,
            "channels": publication.channels,
            "notice_id": publication.notice_id,
            "at": iso(publication.at),
        },
    }


def list_warnings(svc: Services, regions: list[str] | None, *, limit: int = 200) -> list[dict[str, Any]]:
    """Messages of the regions (None: all), newest first, each with what followed it and how it was published."""
    t, p = svc.db.table("emergency_warning"), svc.db.table("emergency_warning_publication")
    query = select(t).order_by(t.c.sent_at.desc(), t.c.id).limit(limit)
    if regions is not None:
        query = query.where(t.c.region.in_(regions))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        pubs = conn.execute(select(p).where(p.c.warning_id.in_(ids)).order_by(p.c.pk)).all() if ids else []
        refs = conn.execute(select(t.c.id, t.c.cap_references)).all()
    followed: dict[str, str] = {}
    for r in refs:
        for ident in referenced_identifiers(tuple(r.cap_references or ())):
            followed.setdefault(ident, str(r.id))
    latest_pub = {x.warning_id: x for x in pubs}
    return [
        _view(from_cap(r.cap_xml.encode("utf-8")), r, followed.get(r.id), latest_pub.get(r.id)) for r in rows
    ]


def warning_view(svc: Services, warning_id: str) -> dict[str, Any]:
    t, p = svc.db.table("emergency_warning"), svc.db.table("emergency_warning_publication")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == warning_id)).first()
        if row is None:
            raise EmergencyError.unknown("warning_id", warning_id, "预警", "warning")
        pubs = conn.execute(select(p).where(p.c.warning_id == warning_id).order_by(p.c.pk)).all()
    view = _view(
        from_cap(row.cap_xml.encode("utf-8")), row, _successor(svc, warning_id), pubs[-1] if pubs else None
    )
    view["publications"] = [
        {
            "state": x.state,
            "channels": x.channels,
            "notice_id": x.notice_id,
            "at": iso(x.at),
            "actor": x.actor,
        }
        for x in pubs
    ]
    return view
