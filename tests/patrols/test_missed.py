"""Acceptance of issue 10 item 2 (SQLite and PostgreSQL): a patrol that skips a checkpoint raises one
patrol-missed alarm at the end of its window (injectable clock), exactly once however often the clock ticks;
check-ins go through the pipeline as `patrol_record` records, and device records count the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import func, select

from anju.alarms.runtime import AlarmRuntime
from anju.ingest.decode import decode_body
from anju.patrols.matching import check_in, check_patrols
from anju.services import Services
from tests.patrols.conftest import Patrol


def _alarms(svc: Services) -> list[tuple[str, str, str, int]]:
    a = svc.db.table("alarm")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(a.c.originator_id, a.c.severity, a.c.type, a.c.count).where(a.c.type == "patrol_missed")
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _count(svc: Services, table: str) -> int:
    t = svc.db.table(table)
    with svc.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t)).scalar_one())


def test_skipped_checkpoint_alarms_once_at_window_end(patrol: Patrol) -> None:
    svc = patrol.svc
    first = check_in(svc, patrol.shift, method="qr", qr_code="QR-E1-A", actor="user:guard")
    assert first["counted"] and first["in_order"] and first["checkpoint"] == "A"
    again = check_in(svc, patrol.shift, method="qr", qr_code="QR-E1-A", actor="user:guard")
    assert again["duplicate"]  # the same scan re-sent: one record, one check-in
    patrol.clock.now = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
    assert check_in(svc, patrol.shift, method="nfc", checkpoint="C", actor="user:guard")["in_order"]
    assert _count(svc, "rec_patrol_record") == 2 and _count(svc, "quarantine") == 0
    assert _count(svc, "patrol_checkin") == 2

    # before the end of the window nothing is judged
    assert check_patrols(svc, datetime(2026, 11, 30, 12, 59, tzinfo=UTC)).judged == []
    assert _alarms(svc) == []
    end = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    result = check_patrols(svc, end)
    assert result.missed == {patrol.shift: ["B"]}
    assert _alarms(svc) == [(str(patrol.shift), "minor", "patrol_missed", 1)]
    # repeated ticks (here through the alarm clock itself) raise nothing more
    check_patrols(svc, end)
    AlarmRuntime(svc).tick(datetime(2026, 11, 30, 13, 10, tzinfo=UTC))
    # (the tick may escalate the unacknowledged alarm's severity; it raises no second one)
    assert [(o, t, n) for o, _, t, n in _alarms(svc)] == [(str(patrol.shift), "patrol_missed", 1)]


def test_device_records_count_and_out_of_order_is_flagged(patrol: Patrol) -> None:
    svc = patrol.svc
    check_patrols(svc, datetime(2026, 11, 30, 10, 0, tzinfo=UTC))  # attaches the matcher, judges nothing

    def device(code: str, minute: int) -> None:
        local = f"2026-11-30 19:{minute:02d}:00"  # Asia/Shanghai = 11:xx UTC
        record = {
            "ID": f"DEV-{code}-{minute}",
            "XL_RQSJ": local,
            "XLR_XM": "王建国",
            "XLXL_MC": "夜间一号线",
            "XL_DD": f"{code}号巡更点",
            "SBMC": f"XG-E1-{code}",
            "DD_RQSJ": local,
            "KS_RQSJ": "2026-11-30 19:00:00",
            "JS_RQSJ": "2026-11-30 21:00:00",
            "CJ_RQSJ": local,
            "XG_RQSJ": local,
            "DQJD": 114.3,
            "DQWD": 30.6,
        }
        result = svc.pipeline.ingest(
            "patrol_record", decode_body(orjson.dumps([record])), source="mqtt", estate="E1"
        )
        assert result.accepted == 1, result.rejects

    device("A", 5)
    device("C", 10)
    device("B", 20)  # B after C: visited, but out of order
    checkin = svc.db.table("patrol_checkin")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(checkin.c.seq, checkin.c.in_order).order_by(checkin.c.at)).all()
    assert [(r.seq, bool(r.in_order)) for r in rows] == [(1, True), (3, True), (2, False)]
    assert _alarms(svc) == [(f"{patrol.shift}:B", "warning", "patrol_missed", 1)]
    assert check_patrols(svc, datetime(2026, 11, 30, 13, 0, tzinfo=UTC)).missed == {}
