"""The alarm store on a real SQLite file and a real PostgreSQL: one open alarm per (originator, type) under a
re-sent signal and under concurrent writers, clearing, the lifecycle with who and when, refusals, listing,
and publication of every change to the hub."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from anju.alarms.events import AlarmChange, AlarmEvents
from anju.alarms.store import RECORDS_CAP, AlarmNotFound, AlarmRefused
from anju.config import Settings
from anju.services import Services
from tests.alarms import T0, FakeClock, clocked_services, signal


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    with clocked_services(settings, clock) as services:
        yield services


def alarm_rows(svc: Services) -> list[dict[str, Any]]:
    t = svc.db.table("alarm")
    with svc.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def audit_actions(svc: Services, target: str) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in svc.audit.query(target=target, limit=1000)]


# ---- one open alarm per (originator, type) ------------------------------------------------------------
def test_a_resent_signal_counts_on_the_open_alarm(svc: Services, clock: FakeClock) -> None:
    first = svc.alarms.raise_signal(signal())
    clock.advance(seconds=30)
    again = svc.alarms.raise_signal(
        signal(at=T0 + timedelta(seconds=30), severity="critical", records=("smoke_sensor:R2",))
    )
    lower = svc.alarms.raise_signal(signal(at=T0 + timedelta(seconds=40), severity="warning"))
    assert (first.change, again.change, lower.change) == ("created", "retriggered", "retriggered")
    assert first.alarm_id == again.alarm_id == lower.alarm_id

    rows = alarm_rows(svc)
    assert len(rows) == 1
    alarm = svc.alarms.get(first.alarm_id, events=True)
    assert alarm is not None
    assert alarm.count == 3
    assert alarm.severity == "critical"  # the higher one stays
    assert alarm.first_seen_at == T0 and alarm.last_seen_at == T0 + timedelta(seconds=40)
    assert alarm.records == ["smoke_sensor:R1", "smoke_sensor:R2"]
    # Only the severity rise is history; a plain re-trigger only counts.
    assert [(e.action, e.detail.get("severity")) for e in alarm.events] == [
        ("raised", "major"),
        ("retriggered", ["major", "critical"]),
    ]
    assert audit_actions(svc, f"alarm:{alarm.id}") == [("alarms.raise", "rule:smoke_detected")]

    # Another type or another originator is another alarm.
    other_type = svc.alarms.raise_signal(signal(type="water_immersion"))
    other_device = svc.alarms.raise_signal(signal(originator_id="YG002"))
    assert other_type.change == other_device.change == "created"
    assert len({first.alarm_id, other_type.alarm_id, other_device.alarm_id}) == 3


def test_records_are_merged_and_capped_keeping_the_first(svc: Services) -> None:
    result = svc.alarms.raise_signal(signal(records=("smoke_sensor:R0",)))
    for i in range(1, RECORDS_CAP + 10):
        svc.alarms.raise_signal(signal(records=(f"smoke_sensor:R{i}", "smoke_sensor:R0")))
    alarm = svc.alarms.get(result.alarm_id)
    assert alarm is not None and alarm.count == RECORDS_CAP + 10
    assert len(alarm.records) == RECORDS_CAP
    assert alarm.records[0] == "smoke_sensor:R0"  # what raised it
    assert alarm.records[-1] == f"smoke_sensor:R{RECORDS_CAP + 9}"  # the newest


def test_the_database_itself_refuses_a_second_open_alarm(svc: Services) -> None:
    """Not only the code: a plain INSERT of a second open alarm with the same key fails on the constraint."""
    svc.alarms.raise_signal(signal())
    row = alarm_rows(svc)[0]
    row.pop("id")
    t = svc.db.table("alarm")
    with pytest.raises(IntegrityError), svc.db.engine.begin() as conn:
        conn.execute(insert(t).values(**row))


def _race(svc: Services, n: int, **changes: Any) -> list[str]:
    barrier = threading.Barrier(n)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            r = svc.alarms.raise_signal(signal(records=(f"smoke_sensor:T{i}",), **changes))
            with lock:
                results.append(r.change)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a writer hung"
    assert not errors, errors
    return results


def test_concurrent_writers_make_one_alarm(svc: Services) -> None:
    """ThingsBoard's duplicate alarms under concurrency: N threads raise the same signal at once (on
    PostgreSQL through the INSERT … ON CONFLICT race, on SQLite through the write lock)."""
    n = 12
    results = _race(svc, n)
    assert sorted(results) == ["created"] + ["retriggered"] * (n - 1)
    rows = alarm_rows(svc)
    assert len(rows) == 1
    assert rows[0]["count"] == n
    assert len(rows[0]["records"]) == n
    alarm = svc.alarms.get(rows[0]["id"], events=True)
    assert alarm is not None
    assert [e.action for e in alarm.events] == ["raised"]
    assert [a for a, _ in audit_actions(svc, f"alarm:{alarm.id}")] == ["alarms.raise"]
    assert svc.audit.verify().ok


@pytest.mark.postgres
def test_concurrent_writers_on_postgresql_from_a_clean_start(pg_url: str, tmp_path: Any) -> None:
    """The PostgreSQL race proper, repeated: every round starts with no open alarm, so every round's
    writers race on the insert (the loser's ON CONFLICT branch counts it as a re-trigger)."""
    from tests.conftest import make_settings

    with clocked_services(make_settings(tmp_path, pg_url), FakeClock()) as svc:
        # Count the writers that lost the insert race (their INSERT met the row another had just created):
        # the race path must actually have been taken, not only the look-up that finds a committed row.
        lost = 0
        insert_once = svc.alarms._insert

        def counting(*args: Any) -> Any:
            nonlocal lost
            row, inserted = insert_once(*args)
            lost += not inserted
            return row, inserted

        svc.alarms._insert = counting  # type: ignore[method-assign]
        n = 10
        for round_ in range(4):
            results = _race(svc, n, originator_id=f"RACE{round_}")
            assert sorted(results) == ["created"] + ["retriggered"] * (n - 1), results
        t = svc.db.table("alarm")
        with svc.db.engine.connect() as conn:
            counts = dict(
                conn.execute(select(t.c.originator_id, func.sum(t.c.count)).group_by(t.c.originator_id)).all()
            )
            alarms = int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        assert alarms == 4
        assert counts == {f"RACE{i}": n for i in range(4)}
        assert lost > 0


# ---- clearing ------------------------------------------------------------------------------------------
def test_a_clearing_signal_clears_but_leaves_the_alarm_open(svc: Services, clock: FakeClock) -> None:
    assert svc.alarms.raise_signal(signal(clear=True)).change == "ignored"  # nothing open to clear
    raised = svc.alarms.raise_signal(signal())
    clock.advance(minutes=1)
    # A clear older than the last trigger is stale: the condition came back after it.
    stale = svc.alarms.raise_signal(signal(clear=True, at=T0 - timedelta(seconds=5)))
    assert stale.change == "ignored"
    cleared = svc.alarms.raise_signal(signal(clear=True, at=T0 + timedelta(minutes=1)))
    assert cleared == type(cleared)(raised.alarm_id, "cleared")
    assert svc.alarms.raise_signal(signal(clear=True, at=T0 + timedelta(minutes=1))).change == "ignored"

    alarm = svc.alarms.get(raised.alarm_id)
    assert alarm is not None
    assert alarm.status == "cleared" and alarm.is_open and alarm.open_key is not None
    assert alarm.cleared_at == T0 + timedelta(minutes=1) and alarm.cleared_by == "rule:smoke_detected"
    assert alarm.next_escalation_at is None  # a cleared alarm is not escalated

    # A trigger from before the clearing (a late message) counts but does not re-activate ...
    late = svc.alarms.raise_signal(signal(at=T0 + timedelta(seconds=30)))
    assert late.change == "retriggered"
    alarm = svc.alarms.get(raised.alarm_id)
    assert alarm is not None and alarm.status == "cleared" and alarm.count == 2
    # ... a newer one does, on the same alarm.
    clock.advance(minutes=1)
    again = svc.alarms.raise_signal(signal(at=T0 + timedelta(minutes=2)))
    assert again == type(again)(raised.alarm_id, "retriggered")
    alarm = svc.alarms.get(raised.alarm_id, events=True)
    assert alarm is not None and alarm.status == "active" and alarm.cleared_at is None
    assert alarm.next_escalation_at is not None  # re-armed: still unacknowledged
    assert [e.action for e in alarm.events] == ["raised", "cleared", "retriggered"]
    assert alarm.events[-1].detail["reactivated"] is True


# ---- lifecycle -----------------------------------------------------------------------------------------
def test_lifecycle_records_who_and_when_and_refuses_impossible_steps(svc: Services, clock: FakeClock) -> None:
    alarm_id = svc.alarms.raise_signal(signal()).alarm_id
    assert alarm_id is not None
    steps: list[tuple[str, Any]] = []

    clock.advance(minutes=1)
    a = svc.alarms.acknowledge(alarm_id, actor="user:li")
    assert (a.acknowledged, a.acknowledged_by, a.acknowledged_at) == (True, "user:li", clock.now)
    assert a.next_escalation_at is None
    steps.append(("acknowledged", clock.now))
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.acknowledge(alarm_id, actor="user:wang")
    assert (refused.value.status, refused.value.code) == (409, "already_acknowledged")
    assert "user:li" in refused.value.en

    clock.advance(minutes=1)
    a = svc.alarms.assign(alarm_id, "wang", actor="user:li")
    assert (a.assigned_to, a.assigned_by, a.assigned_at) == ("wang", "user:li", clock.now)
    steps.append(("assigned", clock.now))
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.assign(alarm_id, "wang", actor="user:li")
    assert refused.value.code == "already_assigned"

    clock.advance(minutes=1)
    a = svc.alarms.dispatch(alarm_id, "物业保安 2 人前往 3 栋", actor="user:wang")
    assert (a.dispatched_by, a.dispatched_at, a.dispatch_note) == (
        "user:wang",
        clock.now,
        "物业保安 2 人前往 3 栋",
    )
    steps.append(("dispatched", clock.now))

    clock.advance(minutes=1)
    svc.alarms.comment(alarm_id, "现场为厨房油烟，无火情", actor="user:wang")
    steps.append(("commented", clock.now))
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.comment(alarm_id, "   ", actor="user:wang")
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        422,
        "comment_invalid",
        "comment",
    )

    clock.advance(minutes=1)
    a = svc.alarms.clear(alarm_id, actor="user:wang")
    assert (a.status, a.cleared_by, a.cleared_at) == ("cleared", "user:wang", clock.now)
    steps.append(("cleared", clock.now))
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.clear(alarm_id, actor="user:wang")
    assert refused.value.code == "already_cleared"

    clock.advance(minutes=1)
    a = svc.alarms.close(alarm_id, "误报：油烟", actor="user:li")
    assert (a.status, a.closed_by, a.closed_at, a.result, a.open_key) == (
        "closed",
        "user:li",
        clock.now,
        "误报：油烟",
        None,
    )
    steps.append(("closed", clock.now))
    for refused_step in (
        lambda: svc.alarms.close(alarm_id, "again", actor="user:li"),
        lambda: svc.alarms.assign(alarm_id, "zhao", actor="user:li"),
        lambda: svc.alarms.dispatch(alarm_id, "late", actor="user:li"),
    ):
        with pytest.raises(AlarmRefused) as refused:
            refused_step()
        assert (refused.value.status, refused.value.code, refused.value.field) == (
            409,
            "alarm_closed",
            "alarm_id",
        )
    with pytest.raises(AlarmRefused):
        svc.alarms.close(alarm_id, "", actor="user:li")
    with pytest.raises(AlarmNotFound):
        svc.alarms.acknowledge(999_999, actor="user:li")

    history = svc.alarms.get(alarm_id, events=True)
    assert history is not None
    assert [(e.action, e.at) for e in history.events[1:]] == steps
    assert [e.actor for e in history.events] == [
        "rule:smoke_detected",
        "user:li",
        "user:li",
        "user:wang",
        "user:wang",
        "user:wang",
        "user:li",
    ]
    assert history.events[4].detail == {"text": "现场为厨房油烟，无火情"}
    assert audit_actions(svc, f"alarm:{alarm_id}") == [
        ("alarms.raise", "rule:smoke_detected"),
        ("alarms.acknowledge", "user:li"),
        ("alarms.assign", "user:li"),
        ("alarms.dispatch", "user:wang"),
        ("alarms.comment", "user:wang"),
        ("alarms.clear", "user:wang"),
        ("alarms.close", "user:li"),
    ]
    # Free text stays out of the audit log (it may name people); its length goes in.
    comment_entry = svc.audit.query(target=f"alarm:{alarm_id}", action="alarms.comment")[0]
    assert comment_entry.detail == {"chars": len("现场为厨房油烟，无火情")}
    assert svc.audit.verify().ok

    # Closed: the same originator and type may open a new alarm.
    clock.advance(minutes=1)
    fresh = svc.alarms.raise_signal(signal(at=clock.now))
    assert fresh.change == "created" and fresh.alarm_id != alarm_id


def test_dispatching_an_unacknowledged_alarm_acknowledges_it(svc: Services, clock: FakeClock) -> None:
    alarm_id = svc.alarms.raise_signal(signal()).alarm_id
    assert alarm_id is not None
    clock.advance(minutes=2)
    a = svc.alarms.dispatch(alarm_id, "巡逻队前往", actor="user:li")
    assert a.acknowledged and a.acknowledged_by == "user:li" and a.next_escalation_at is None


# ---- listing -------------------------------------------------------------------------------------------
def test_list_filters(svc: Services, clock: FakeClock) -> None:
    smoke = svc.alarms.raise_signal(signal()).alarm_id
    clock.advance(minutes=5)
    water = svc.alarms.raise_signal(
        signal(type="water_immersion", severity="minor", originator_id="SJ01", at=T0 + timedelta(minutes=5))
    ).alarm_id
    other = svc.alarms.raise_signal(signal(estate="E2", originator_id="YG900", severity="critical")).alarm_id
    nowhere = svc.alarms.raise_signal(signal(estate=None, originator_id="YG901")).alarm_id
    assert smoke and water and other and nowhere
    svc.alarms.acknowledge(water, actor="user:li")
    svc.alarms.clear(smoke, actor="user:li")
    svc.alarms.close(other, "done", actor="user:li")

    def ids(**filters: Any) -> list[int]:
        total, alarms = svc.alarms.list(**filters)
        assert total == len(alarms)
        return sorted(a.id for a in alarms)

    assert ids() == sorted([smoke, water, other, nowhere])
    # An alarm without an estate is only for platform-wide eyes.
    assert ids(estates=frozenset({"E1"})) == sorted([smoke, water])
    assert ids(estates=frozenset({"E1", "E2"}), is_open=True) == sorted([smoke, water])
    assert ids(is_open=False) == [other]
    assert ids(status="cleared") == [smoke]
    assert ids(status="active", is_open=True) == sorted([water, nowhere])
    assert ids(acknowledged=True) == [water]
    assert ids(severities=["critical", "minor"]) == sorted([water, other])
    assert ids(type="water_immersion") == [water]
    assert ids(since=T0 + timedelta(minutes=1)) == [water]
    assert ids(originator="device:SJ01") == [water]
    assert ids(originator="SJ01") == [water]
    total, page = svc.alarms.list(limit=1, offset=1)
    assert total == 4 and len(page) == 1
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.list(status="open")
    assert refused.value.field == "status"
    with pytest.raises(AlarmRefused) as refused:
        svc.alarms.list(severities=["urgent"])
    assert (refused.value.field, refused.value.value) == ("severity", "urgent")
    assert svc.alarms.open_count(frozenset({"E1"}))["major"] == 1


# ---- publication ---------------------------------------------------------------------------------------
def test_every_change_is_published_after_commit(svc: Services, clock: FakeClock) -> None:
    everything = svc.alarms.events.subscribe()
    only_e2 = svc.alarms.events.subscribe(frozenset({"E2"}))
    heard: list[AlarmChange] = []
    stop = svc.alarms.events.listen(heard.append)
    try:
        alarm_id = svc.alarms.raise_signal(signal()).alarm_id
        assert alarm_id is not None
        svc.alarms.raise_signal(signal())
        svc.alarms.acknowledge(alarm_id, actor="user:li")
        svc.alarms.close(alarm_id, "ok", actor="user:li")
        e2 = svc.alarms.raise_signal(signal(estate="E2", originator_id="X")).alarm_id
    finally:
        stop()
    changes = everything.drain()
    assert [(c.alarm_id, c.change) for c in changes] == [
        (alarm_id, "created"),
        (alarm_id, "retriggered"),
        (alarm_id, "acknowledged"),
        (alarm_id, "closed"),
        (e2, "created"),
    ]
    assert [c.change for c in heard] == [c.change for c in changes]
    created, retriggered, acknowledged, closed, _ = changes
    # The published alarm is the committed one, after the change.
    assert created.alarm["count"] == 1 and retriggered.alarm["count"] == 2
    assert acknowledged.alarm["acknowledged_by"] == "user:li" and closed.alarm["status"] == "closed"
    assert created.event_id is not None and retriggered.event_id is None  # plain re-trigger: no history row
    assert acknowledged.actor == "user:li" and created.actor == "rule:smoke_detected"
    assert [(c.estate, c.change) for c in only_e2.drain()] == [("E2", "created")]
    # changes_since replays the history rows after an event ID (what a reconnecting stream missed).
    replay = svc.alarms.changes_since(created.event_id)
    assert [(c.alarm_id, c.change) for c in replay] == [
        (alarm_id, "acknowledged"),
        (alarm_id, "closed"),
        (e2, "created"),
    ]
    assert [c.change for c in svc.alarms.changes_since(0, frozenset({"E2"}))] == ["created"]
    everything.close()
    only_e2.close()
    assert svc.alarms.events.subscribers == 0


def test_signals_raised_together_act_as_one_by_one_in_one_transaction(svc: Services) -> None:
    """The engine hands over one batch's signals together: each gets the result it would get alone, in the
    order given, and the changes are published after the one commit."""
    heard: list[AlarmChange] = []
    stop = svc.alarms.events.listen(heard.append)
    try:
        results = svc.alarms.raise_signals(
            [
                signal(originator_id="Z"),
                signal(originator_id="A", clear=True),  # nothing open to clear yet
                signal(originator_id="Z", at=T0 + timedelta(seconds=5)),
                signal(originator_id="A"),
            ]
        )
    finally:
        stop()
    assert [r.change for r in results] == ["created", "ignored", "retriggered", "created"]
    z, a = results[0].alarm_id, results[3].alarm_id
    assert results[2].alarm_id == z and z != a
    assert sorted((c.alarm_id, c.change) for c in heard) == sorted(
        [(z, "created"), (z, "retriggered"), (a, "created")]
    )
    assert sorted((r["originator_id"], r["count"]) for r in alarm_rows(svc)) == [("A", 1), ("Z", 2)]


def test_a_batch_writes_its_history_and_audit_entries_in_order_and_publishes_their_ids(
    svc: Services,
) -> None:
    """A batch's history rows and audit entries are written together at its end: the alarm already open
    before the batch is read with the others, each change is published with the history row it wrote, the
    audit chain stays whole, and the alarm's history reads as if the signals had come one by one."""
    b = svc.alarms.raise_signal(signal(originator_id="B")).alarm_id
    assert b is not None
    heard: list[AlarmChange] = []
    stop = svc.alarms.events.listen(heard.append)
    try:
        results = svc.alarms.raise_signals(
            [
                signal(originator_id="C"),
                signal(originator_id="B", clear=True, at=T0 + timedelta(seconds=5)),
                signal(originator_id="B", at=T0 + timedelta(seconds=10)),  # re-activates it
                signal(originator_id="C", at=T0 + timedelta(seconds=1)),
            ]
        )
    finally:
        stop()
    assert [r.change for r in results] == ["created", "cleared", "retriggered", "retriggered"]
    c = results[0].alarm_id
    assert c is not None
    b_alarm, c_alarm = svc.alarms.get(b, events=True), svc.alarms.get(c, events=True)
    assert b_alarm is not None and c_alarm is not None
    assert [e.action for e in b_alarm.events] == ["raised", "cleared", "retriggered"]
    assert [e.action for e in c_alarm.events] == ["raised"]  # a plain re-trigger only counts
    assert not b_alarm.cleared and c_alarm.count == 2
    pks = {(e.alarm_id, e.action): e.pk for e in [*b_alarm.events, *c_alarm.events]}
    published = [(h.alarm_id, h.change, h.event_id) for h in heard]
    assert sorted(published, key=str) == sorted(
        [
            (c, "created", pks[(c, "raised")]),
            (b, "cleared", pks[(b, "cleared")]),
            (b, "retriggered", pks[(b, "retriggered")]),
            (c, "retriggered", None),
        ],
        key=str,
    )
    assert [a for a, _ in audit_actions(svc, f"alarm:{b}")] == ["alarms.raise", "alarms.clear"]
    assert [a for a, _ in audit_actions(svc, f"alarm:{c}")] == ["alarms.raise"]
    assert svc.audit.verify().ok


def _change(i: int, estate: str | None = "E1") -> AlarmChange:
    return AlarmChange(i, "created", estate, T0, "t", {"id": i})


def test_a_slow_subscriber_loses_its_oldest_changes_counted_never_memory() -> None:
    hub = AlarmEvents(buffer=3)
    slow = hub.subscribe()
    fast = hub.subscribe(maxsize=100)
    for i in range(10):
        hub.publish(_change(i))
    assert [c.alarm_id for c in slow.drain()] == [7, 8, 9]
    assert slow.dropped == 7
    assert len(fast.drain()) == 10 and fast.dropped == 0
    assert slow.get(timeout=0) is None
    slow.close()
    hub.publish(_change(11))
    assert slow.get(timeout=0) is None  # closed: hears nothing more
    assert hub.subscribers == 1


def test_a_failing_listener_does_not_stop_the_others() -> None:
    hub = AlarmEvents()
    heard: list[int] = []

    def broken(_: AlarmChange) -> None:
        raise RuntimeError("boom")

    hub.listen(broken)
    hub.listen(lambda c: heard.append(c.alarm_id))
    hub.publish(_change(1))
    assert heard == [1]


def test_a_blocking_consumer_thread_is_woken_by_a_publication() -> None:
    hub = AlarmEvents()
    sub = hub.subscribe()
    got: list[AlarmChange | None] = []
    reader = threading.Thread(target=lambda: got.append(sub.get(timeout=30)))
    reader.start()
    hub.publish(_change(5))
    reader.join(timeout=30)
    assert [c.alarm_id for c in got if c is not None] == [5]
    # close() wakes a waiting reader too, which then gets None.
    waiting = threading.Thread(target=lambda: got.append(sub.get(timeout=30)))
    waiting.start()
    sub.close()
    waiting.join(timeout=30)
    assert got[-1] is None and not waiting.is_alive()


def test_async_subscription_is_fed_from_another_thread_and_bounded() -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        hub = AlarmEvents()
        near = hub.subscribe_async(frozenset({"E1"}))
        tiny = hub.subscribe_async(maxsize=2)
        publisher = threading.Thread(
            target=lambda: [hub.publish(_change(i, "E1" if i % 2 else "E2")) for i in range(6)]
        )
        publisher.start()
        await asyncio.to_thread(publisher.join, 30)
        got = [(await asyncio.wait_for(near.get(), timeout=10)).alarm_id for _ in range(3)]
        # The loop has run every hand-over callback by now (they were queued before the ones above ran).
        tiny_got = []
        while (c := tiny.get_nowait()) is not None:
            tiny_got.append(c.alarm_id)
        dropped = tiny.dropped
        near.close()
        tiny.close()
        assert hub.subscribers == 0
        return got, tiny_got, dropped

    got, tiny_got, dropped = asyncio.run(scenario())
    assert got == [1, 3, 5]
    assert tiny_got == [4, 5] and dropped == 4
