"""One path for check-ins: every check-in is a stored `patrol_record`, matched here to an open shift.

    API check-in ──▶ patrol_record ──▶ Pipeline.ingest ──▶ rec_patrol_record ──▶ Bus ──▶ on_event ──▶ match
    devices over HTTP / MQTT ─────────────────────────────┘                                         │
    check_patrols(svc, now) (alarm clock tick): matches stored records of ended windows first ───────┘

A record names its checkpoint by XG_BS (巡更标识 = checkpoint code), by SBMC (device name = the
checkpoint's device id) or by the QR code; its time is DD_RQSJ (到达日期时间). CL_BM `SHIFT-<id>` (策略编码,
set by the API) names the shift exactly; otherwise the shift is an open one of the record's estate whose
route holds that checkpoint and whose window holds the arrival time (the route named by XLXL_MC first,
then the earliest). `patrol_checkin.record_id` is unique, so a record seen twice (bus and catch-up, or a
re-send) counts once; a checkpoint checked twice in one shift keeps its first visit.

A check-in of a checkpoint that comes before one already visited on an ordered route is out of order:
flagged on the check-in and alarmed (`patrol_missed`, severity warning). At the end of a shift's window the
route's checkpoints never visited raise one `patrol_missed` alarm (the type's severity) for the shift; the
shift is marked judged in the same step, so repeated ticks raise it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from anju.alarms.model import AlarmSignal
from anju.db.engine import WRITE_OPTIONS
from anju.ingest.bus import Event, StoredRecords
from anju.ingest.decode import decode_body
from anju.notices.catalog import instant, text
from anju.patrols.plans import PatrolError, guard_name

if TYPE_CHECKING:
    from anju.services import Services

SLUG = "patrol_record"
RULE = "patrols.shift"
ALARM_TYPE = "patrol_missed"
METHODS = {"qr": "二维码巡更", "nfc": "NFC巡更", "device": "设备巡更", "manual": "人工登记"}


def _writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def _naive(at: Any) -> datetime | None:
    if not isinstance(at, datetime):
        return None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def attach(svc: Services) -> Callable[[], None]:
    """Match every stored `patrol_record` to its shift as it arrives (Services subscribes this at start-up);
    returns the unsubscribe function. The tick's catch-up covers records stored while nothing listened."""

    def on_event(event: Event) -> None:
        if isinstance(event, StoredRecords) and event.record_type == SLUG:
            match_records(svc, event.records, event.record_estates(), source=event.source)

    return svc.bus.subscribe(on_event)


@dataclass
class Matched:
    checkins: list[int] = field(default_factory=list)  # shift ids that got a check-in
    out_of_order: list[tuple[int, str]] = field(default_factory=list)


def match_records(
    svc: Services, records: list[dict[str, Any]], estates: list[str | None], *, source: str
) -> Matched:
    out = Matched()
    for record, estate in zip(records, estates, strict=False):
        _match_one(svc, record, estate, source, out)
    return out


def _checkpoints(svc: Services, conn: Any, record: dict[str, Any], estate: str | None) -> list[Any]:
    cp = svc.db.table("patrol_checkpoint")
    keys = []
    if record.get("XG_BS"):
        keys.append(cp.c.code == str(record["XG_BS"]))
    if record.get("SBMC"):
        keys.append(cp.c.device_id == str(record["SBMC"]))
        keys.append(cp.c.qr_code == str(record["SBMC"]))
    rows: list[Any] = []
    for key in keys:  # in order of preference: the code, then the device
        query = select(cp).where(key)
        if estate is not None:
            query = query.where(cp.c.estate == estate)
        rows = list(conn.execute(query).all())
        if rows:
            break
    return rows


def _match_one(svc: Services, record: dict[str, Any], estate: str | None, source: str, out: Matched) -> None:
    arrival = _naive(record.get("DD_RQSJ"))
    record_id = str(record.get("ID") or "")
    if arrival is None or not record_id:
        return
    shift, stop, checkin = (svc.db.table(n) for n in ("patrol_shift", "patrol_stop", "patrol_checkin"))
    route = svc.db.table("patrol_route")
    with _writing(svc) as conn, conn.begin():
        if conn.execute(select(checkin.c.pk).where(checkin.c.record_id == record_id)).first():
            return
        points = _checkpoints(svc, conn, record, estate)
        if not points:
            return
        by_id = {p.id: p for p in points}
        query = (
            select(shift.c.id, shift.c.starts_at, route.c.name, stop.c.seq, stop.c.checkpoint_id)
            .join(route, route.c.id == shift.c.route_id)
            .join(stop, and_(stop.c.route_id == shift.c.route_id, stop.c.checkpoint_id.in_(list(by_id))))
            .where(shift.c.starts_at <= arrival, shift.c.ends_at >= arrival)
        )
        named = str(record.get("CL_BM") or "")
        if named.startswith("SHIFT-") and named[6:].isdigit():
            query = query.where(shift.c.id == int(named[6:]))
        candidates = conn.execute(query).all()
        if not candidates:
            return
        wanted = str(record.get("XLXL_MC") or "")
        chosen = sorted(candidates, key=lambda c: (c.name != wanted, c.starts_at, c.id))[0]
        later = conn.execute(
            select(checkin.c.seq).where(checkin.c.shift_id == chosen.id, checkin.c.seq > chosen.seq)
        ).first()
        ordered = conn.execute(
            select(route.c.ordered).join(shift, shift.c.route_id == route.c.id).where(shift.c.id == chosen.id)
        ).scalar()
        in_order = not (ordered and later is not None)
        method = next((k for k, v in METHODS.items() if v == record.get("BJLX")), "device")
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(checkin).values(
                        shift_id=chosen.id,
                        checkpoint_id=chosen.checkpoint_id,
                        seq=chosen.seq,
                        at=arrival,
                        method=method,
                        in_order=in_order,
                        record_id=record_id,
                        source=source[:40],
                    )
                )
        except IntegrityError:
            return  # this checkpoint of this shift was already checked, or the record was matched meanwhile
    out.checkins.append(int(chosen.id))
    if not in_order:
        point = by_id[chosen.checkpoint_id]
        out.out_of_order.append((int(chosen.id), str(point.code)))
        _raise_out_of_order(svc, int(chosen.id), point, arrival, record_id)


def _raise_out_of_order(svc: Services, shift_id: int, point: Any, at: datetime, record_id: str) -> None:
    atype = svc.engine.rules.types[ALARM_TYPE]
    svc.alarms.raise_signal(
        AlarmSignal(
            type=ALARM_TYPE,
            rule=RULE,
            severity="warning",  # a violation prompt: the checkpoint was visited, only in the wrong order
            originator_kind="patrol_shift",
            originator_id=f"{shift_id}:{point.code}"[:60],
            estate=point.estate,
            at=at.replace(tzinfo=UTC),
            title_zh=f"{atype.zh}：巡更顺序错误（巡更点 {point.name}）"[:200],
            title_en=f"{atype.en}: checkpoint {point.code} visited out of order"[:200],
            location=point.name,
            lon=point.lon,
            lat=point.lat,
            details={"shift": shift_id, "checkpoint": point.code, "kind": "out_of_order"},
            records=(f"{SLUG}:{record_id}",),
        )
    )


# ---- the API's check-in -------------------------------------------------------------------------------
def check_in(
    svc: Services,
    shift_id: int,
    *,
    method: str,
    actor: str,
    checkpoint: str | None = None,
    qr_code: str | None = None,
    at: datetime | str | None = None,
) -> dict[str, Any]:
    """Emit the check-in as a `patrol_record` through the pipeline; the bus subscriber matches it (the one
    path devices take too). Answers the stored record's ID and how it was matched."""
    if method not in METHODS:
        raise PatrolError.bad("method", method, "qr、nfc、device 或 manual", "qr, nfc, device or manual")
    when = instant("at", at) or svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)
    shift, route, stop, cp = (
        svc.db.table(n) for n in ("patrol_shift", "patrol_route", "patrol_stop", "patrol_checkpoint")
    )
    with svc.db.engine.connect() as conn:
        row = conn.execute(
            select(shift, route.c.name.label("route_name"))
            .join(route, route.c.id == shift.c.route_id)
            .where(shift.c.id == shift_id)
        ).first()
        if row is None:
            raise PatrolError.unknown("shift_id", shift_id, "巡更班次", "patrol shift")
        query = select(cp).join(stop, stop.c.checkpoint_id == cp.c.id).where(stop.c.route_id == row.route_id)
        if qr_code:
            query = query.where(cp.c.qr_code == text("qr_code", qr_code, max_len=100))
        elif checkpoint:
            query = query.where(cp.c.code == text("checkpoint", checkpoint, max_len=40))
        else:
            raise PatrolError.bad(
                "checkpoint", None, "巡更点编码或二维码（qr_code）", "a checkpoint code or its qr_code"
            )
        point = conn.execute(query).first()
    if point is None:
        raise PatrolError.bad(
            "checkpoint", checkpoint or qr_code, "该班次路线上的巡更点", "a checkpoint of this shift's route"
        )
    if not row.starts_at <= when <= row.ends_at:
        raise PatrolError.state(
            "outside_window",
            "at",
            when.replace(tzinfo=UTC).isoformat(),
            "不在该班次的巡更时段内",
            "outside the shift's window",
        )
    tz = svc.settings.timezone

    def local(value: datetime) -> str:
        return value.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    record_id = f"PATROL-{shift_id}-{point.code}-{int(when.replace(tzinfo=UTC).timestamp())}"[:50]
    record = {
        "ID": record_id,
        "XL_RQSJ": local(when),
        "XL_RS": 1,
        "XLR_XM": guard_name(svc, shift_id, row.guard_name, masked=False) or "巡更员",
        "XLXL_MC": row.route_name,
        "XL_DD": point.name,
        "XG_BS": point.code,
        "XG_MC": point.name,
        "SBMC": point.device_id or f"巡更点{point.code}",
        "BJLX": METHODS[method],
        "DD_RQSJ": local(when),
        "KS_RQSJ": local(row.starts_at),
        "JS_RQSJ": local(row.ends_at),
        "CJ_RQSJ": local(when),
        "XG_RQSJ": local(when),
        "CL_BM": f"SHIFT-{shift_id}",
        "CL_MC": row.route_name,
        "SJLY_MC": "安居平台巡更签到",
        "DQJD": point.lon,
        "DQWD": point.lat,
    }
    result = svc.pipeline.ingest(
        SLUG, decode_body(orjson.dumps([record])), source="patrols", actor=actor, estate=row.estate
    )
    if result.accepted != 1 and result.duplicates != 1:
        errors = result.rejects[0].errors if result.rejects else []
        first = errors[0] if errors else {}
        raise PatrolError(
            "record_invalid",
            str(first.get("field", "record")),
            str(first.get("value", ""))[:40],
            f"巡更记录未通过校验：{first.get('message_zh', '')}",
            f"the patrol record failed validation: {first.get('message_en', '')}",
        )
    checkin = svc.db.table("patrol_checkin")
    with svc.db.engine.connect() as conn:
        made = conn.execute(select(checkin).where(checkin.c.record_id == record_id)).first()
    return {
        "record_id": record_id,
        "checkpoint": point.code,
        "counted": made is not None and made.shift_id == shift_id,
        "in_order": None if made is None else bool(made.in_order),
        "duplicate": result.duplicates == 1,
    }


# ---- the end of the window (alarm clock tick) ---------------------------------------------------------
@dataclass
class PatrolCheck:
    judged: list[int] = field(default_factory=list)
    missed: dict[int, list[str]] = field(default_factory=dict)  # shift id -> checkpoint codes


def _catch_up(svc: Services, row: Any) -> None:
    """Match stored records of a shift's window that no subscriber saw (another process took them)."""
    rec = svc.db.table(f"rec_{SLUG}")
    checkin = svc.db.table("patrol_checkin")
    cols = [
        rec.c.id,
        rec.c.xg_bs,
        rec.c.sbmc,
        rec.c.dd_rqsj,
        rec.c.xlxl_mc,
        rec.c.cl_bm,
        rec.c.bjlx,
        rec.c._estate,
        rec.c._source,
    ]
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(*cols)
            .where(rec.c.dd_rqsj >= row.starts_at, rec.c.dd_rqsj <= row.ends_at)
            .where(rec.c.id.not_in(select(checkin.c.record_id)))
            .order_by(rec.c.dd_rqsj)
        ).all()
    for r in rows:
        record = {
            "ID": r.id,
            "XG_BS": r.xg_bs,
            "SBMC": r.sbmc,
            "DD_RQSJ": r.dd_rqsj,
            "XLXL_MC": r.xlxl_mc,
            "CL_BM": r.cl_bm,
            "BJLX": r.bjlx,
        }
        _match_one(svc, record, r._estate, str(r._source or "catch-up"), Matched())


def check_patrols(svc: Services, now: datetime | None = None) -> PatrolCheck:
    """Judge every shift whose window has ended: missed checkpoints raise one alarm per shift, once."""
    at = (now or svc.pipeline.clock()).astimezone(UTC)
    naive = at.replace(tzinfo=None)
    shift, stop, cp, checkin, route = (
        svc.db.table(n)
        for n in ("patrol_shift", "patrol_stop", "patrol_checkpoint", "patrol_checkin", "patrol_route")
    )
    with svc.db.engine.connect() as conn:
        due = conn.execute(
            select(shift, route.c.name.label("route_name"))
            .join(route, route.c.id == shift.c.route_id)
            .where(shift.c.checked_at.is_(None), shift.c.ends_at <= naive)
            .order_by(shift.c.ends_at, shift.c.id)
        ).all()
    out = PatrolCheck()
    atype = svc.engine.rules.types[ALARM_TYPE]
    for row in due:
        _catch_up(svc, row)
        with svc.db.engine.connect() as conn:
            points = conn.execute(
                select(cp, stop.c.seq)
                .join(stop, stop.c.checkpoint_id == cp.c.id)
                .where(stop.c.route_id == row.route_id)
                .order_by(stop.c.seq)
            ).all()
            seen = set(
                conn.execute(select(checkin.c.checkpoint_id).where(checkin.c.shift_id == row.id)).scalars()
            )
        missed = [p for p in points if p.id not in seen]
        if missed:
            first = missed[0]
            names = "、".join(p.name for p in missed)
            # Signal first, then mark judged: the store keeps one open alarm per shift, so a repeat after a
            # crash between the two only counts again, whereas marking first could lose the alarm.
            svc.alarms.raise_signal(
                AlarmSignal(
                    type=ALARM_TYPE,
                    rule=RULE,
                    severity=atype.severity,
                    originator_kind="patrol_shift",
                    originator_id=str(row.id),
                    estate=row.estate,
                    at=row.ends_at.replace(tzinfo=UTC),
                    title_zh=f"{atype.zh}：{row.route_name} 漏巡 {len(missed)} 个巡更点（{names}）"[:200],
                    title_en=f"{atype.en}: {row.route_name}, {len(missed)} checkpoint(s) not visited"[:200],
                    location=first.name,
                    lon=first.lon,
                    lat=first.lat,
                    details={
                        "shift": row.id,
                        "route": row.route_name,
                        "missed": [p.code for p in missed],
                        "window": [
                            row.starts_at.replace(tzinfo=UTC).isoformat(),
                            row.ends_at.replace(tzinfo=UTC).isoformat(),
                        ],
                        "kind": "missed",
                    },
                )
            )
        with _writing(svc) as conn, conn.begin():
            claimed = conn.execute(
                update(shift)
                .where(shift.c.id == row.id, shift.c.checked_at.is_(None))
                .values(checked_at=naive, missed=[p.code for p in missed])
            ).rowcount
        if claimed:
            out.judged.append(int(row.id))
            if missed:
                out.missed[int(row.id)] = [p.code for p in missed]
    return out
