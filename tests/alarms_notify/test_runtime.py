"""The platform as wired: a record ingested by any source raises its alarm (with the nearest cameras)
before the ingest returns, and the runtime's worker and clock notify the duty officer, deliver over a
real webhook, and escalate an alarm nobody acknowledges."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from anju.alarms.runtime import AlarmRuntime
from anju.services import Services
from tests.alarms_notify import world as w
from tests.alarms_notify.test_notify import HttpSink, http

__all__ = ["http"]  # the fixture, imported to be used here


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("condition not met within the time allowed")


def notifications(svc: Services) -> list[dict[str, Any]]:
    t = svc.db.table("notification")
    with svc.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.pk))]


def test_an_ingested_emergency_call_is_alarmed_notified_delivered_and_escalated(
    services: Services, http: HttpSink
) -> None:
    w.build(services)
    w.write_duty(services.settings.data_dir, webhook_base=http.url)
    with AlarmRuntime(services, interval=3600) as runtime:  # the test drives the clock itself
        w.emergency_call(services, "EC-RT-1", name="李秀英", phone="13900001111")
        # Raised inside the ingest call, with the nearest camera of its own estate first.
        _, [alarm] = services.alarms.list(limit=10)
        assert (alarm.type, alarm.estate, alarm.records) == (
            "emergency_call",
            "E1",
            ["emergency_call:EC-RT-1"],
        )
        assert alarm.cameras[0]["id"] == "E1-CAM-A"

        # The worker hears of the new alarm and queues the duty officer's notifications.
        queued = wait_for(lambda: [n for n in notifications(services) if n["purpose"] == "duty_officer"])
        assert {n["channel"] for n in queued} >= {"webhook"}
        history = wait_for(
            lambda: [e for e in services.alarms.get(alarm.id, events=True).events if e.action == "notified"]  # type: ignore[union-attr]
        )
        assert history[0].actor == "system:notifier"

        # One pass of the clock delivers the webhook to the real server.
        result = runtime.tick()
        assert result.deliveries.sent >= 1
        assert http.on("/duty/E1-control")[0].json()["alarm_id"] == alarm.id

        # Nobody acknowledges: a later pass escalates it and the next level is told.
        later = services.alarms.now() + timedelta(hours=2)
        steps = runtime.tick(later).escalations
        assert [(s.alarm_id, s.action) for s in steps] == [(alarm.id, "escalated")]
        wait_for(lambda: [n for n in notifications(services) if n["purpose"] == "escalation"])

        # Acknowledged, it is escalated no more.
        services.alarms.acknowledge(alarm.id, actor="duty-1")
        assert runtime.tick(later + timedelta(hours=2)).escalations == ()


def test_alarms_raised_by_another_process_reach_this_ones_stream_once(services: Services) -> None:
    from anju.services import open_services

    w.build(services)
    # A second set of services over the same database stands for an `anju gateway` process.
    other = open_services(services.settings)
    try:
        with (
            AlarmRuntime(services, interval=3600, relay_interval=0.02),
            services.alarms.events.subscribe() as sub,
        ):
            w.emergency_call(other, "EC-RT-2", name="李秀英", phone="13900002222")
            change = sub.get(timeout=5)
            assert change is not None
            assert (change.change, change.alarm["type"]) == ("created", "emergency_call")
            # This process's own action is published by its store, and not a second time by the relay.
            services.alarms.acknowledge(change.alarm_id, actor="duty-1")
            time.sleep(0.3)  # several relay passes
            seen = [(c.alarm_id, c.change) for c in sub.drain()]
            assert seen.count((change.alarm_id, "acknowledged")) == 1
            assert (change.alarm_id, "created") not in seen
    finally:
        other.close()
