"""The MQTT device gateway against the real Mosquitto broker and real databases.

The broker is the one at ANJU_TEST_MQTT_URL (default mqtt://127.0.0.1:1883). Without an answer the tests
that need it skip with the reason, unless ANJU_REQUIRE_SERVICES=1, where they fail. Every test publishes
under its own topic root and group, so that tests (and anything else on the broker) never see each other's
messages. Nothing waits a fixed time for correctness: every wait is on a condition, with a time limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from anju.config import Settings
from anju.ingest.bus import Event, Heartbeat
from anju.ingest.mqtt_gateway import Gateway, GatewayStats, parse_url
from anju.ingest.mqtt_topics import (
    TopicError,
    heartbeat_topic,
    parse_topic,
    record_topic,
    shared_filter,
)
from anju.services import Services, open_services
from anju.standard.samples import SampleFactory
from anju.standard.spec import record_type
from tests.conftest import make_settings, services_required

MQTT_URL = os.environ.get("ANJU_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
SWIPE = record_type("access_swipe")


# ---- the broker ----------------------------------------------------------------------------------------
def _broker_answers(url: str, timeout: float = 3.0) -> str | None:
    """None when an MQTT 5 CONNECT to the broker is accepted, else why not."""
    host, port, _, user, password = parse_url(url)
    answered = threading.Event()
    outcome: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            outcome.append(f"CONNECT refused: {reason}")
        answered.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    if user:
        client.username_pw_set(user, password)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        return str(exc)
    client.loop_start()
    try:
        if not answered.wait(timeout):
            return f"no CONNACK within {timeout:.0f} s"
        return outcome[0] if outcome else None
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="session")
def broker() -> str:
    problem = _broker_answers(MQTT_URL)
    if problem is not None:
        reason = (
            f"MQTT broker not answering at {MQTT_URL} ({problem}); start it (mosquitto -d -c "
            "/etc/mosquitto/mosquitto.conf) or set ANJU_TEST_MQTT_URL"
        )
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)
    return MQTT_URL


@pytest.fixture
def root() -> str:
    """This test's own topic root (and gateway group): nothing else on the broker reaches its gateways."""
    return f"t{uuid.uuid4().hex[:12]}"


class Publisher:
    """A device side: publishes with QoS 1 and can wait until the broker acknowledged everything."""

    def __init__(self, url: str, name: str) -> None:
        host, port, _, user, password = parse_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        if user:
            self.client.username_pw_set(user, password)
        self.client.connect(host, port)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | dict[str, Any] | list[Any]) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.infos.append(self.client.publish(topic, data, qos=1))

    def wait_all(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        for info in self.infos:
            info.wait_for_publish(max(0.1, end - time.monotonic()))
            assert info.is_published(), "the broker did not acknowledge a publication in time"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: str, root: str) -> Iterator[Publisher]:
    pub = Publisher(broker, f"{root}-pub")
    try:
        yield pub
    finally:
        pub.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


# ---- data ----------------------------------------------------------------------------------------------
_FACTORY = SampleFactory(7)
_SAMPLES: dict[int, dict[str, Any]] = {}


def swipe(n: int, device: str, estate: str) -> dict[str, Any]:
    """Record n, the same content every time it is asked for (the factory draws anew on every call)."""
    if n not in _SAMPLES:
        _SAMPLES[n] = _FACTORY.record(SWIPE, n)
    rec = dict(_SAMPLES[n])
    rec.update(ID=f"sw-{n:06d}", SB_BH=device, XQ_BS=estate)
    return rec


def stored(svc: Services, estate: str | None = None) -> tuple[int, int]:
    """(rows, distinct IDs) of access_swipe records, of one estate or all."""
    t = svc.db.table(SWIPE.table_name)
    where = [t.c._estate == estate] if estate else []
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        ids = conn.execute(select(func.count(func.distinct(t.c.id))).where(*where)).scalar_one()
    return int(rows), int(ids)


def register(svc: Services, device: str, estate: str, kind: str = "access_reader") -> None:
    svc.devices.register(device, estate=estate, kind=kind, actor="test")


def gateway(svc: Services, root: str, name: str = "gw", **options: Any) -> Gateway:
    # A short session expiry: the broker forgets these test sessions soon after the test.
    options.setdefault("session_expiry_s", 300)
    gw = Gateway(svc, MQTT_URL, group=root, client_id=f"{root}-{name}", root=root, **options).start()
    assert gw.wait_ready(15), f"gateway not connected and subscribed: {gw.failed or gw.stats()}"
    return gw


def total(*stats: GatewayStats) -> dict[str, int]:
    keys = ("received", "stored", "duplicates", "quarantined", "acked")
    return {k: sum(getattr(s, k) for s in stats) for k in keys}


# ---- topics and options (no broker) --------------------------------------------------------------------
def test_topics_parse_and_refuse() -> None:
    t = parse_topic("anju/XQ001/access_swipe/MJ-01")
    assert (t.estate, t.kind, t.device_id, t.is_heartbeat) == ("XQ001", "access_swipe", "MJ-01", False)
    assert parse_topic("anju/XQ001/heartbeat/MJ-01").is_heartbeat
    assert parse_topic("x/y/anju/XQ001/fire_energy/S1", root="x/y/anju").kind == "fire_energy"
    assert record_topic("E1", "vehicle_pass", "G1") == "anju/E1/vehicle_pass/G1"
    assert heartbeat_topic("E1", "G1", root="r") == "r/E1/heartbeat/G1"
    cases = {
        "anju/E1/access_swipe": "topic_invalid",
        "other/E1/access_swipe/D1": "topic_invalid",
        "anju/E1/access_swipe/D1/extra": "topic_invalid",
        "anju/E 1/access_swipe/D1": "topic_invalid",
        "anju/E1/access_swipe/ D1": "topic_invalid",
        "anju/E1/no_such_type/D1": "type_unknown",
    }
    for text, code in cases.items():
        with pytest.raises(TopicError) as caught:
            parse_topic(text)
        assert caught.value.code == code, text
        assert caught.value.zh and caught.value.en
    with pytest.raises(TopicError) as caught:
        parse_topic("anju/E1/no_such_type/D1")
    assert (caught.value.kind, caught.value.estate) == ("no_such_type", "E1")


def test_subscription_and_url_checks() -> None:
    assert shared_filter("anju") == "$share/anju/anju/+/+/+"
    assert shared_filter("g2", root="site/a") == "$share/g2/site/a/+/+/+"
    for bad in ("", "a/b", "a+", "#", " a"):
        with pytest.raises(ValueError):
            shared_filter(bad)
    for bad_root in ("", "a/+", "$SYS", "a//b", "/a"):
        with pytest.raises(ValueError):
            shared_filter("g", root=bad_root)
    assert parse_url("mqtt://broker") == ("broker", 1883, False, None, None)
    assert parse_url("mqtts://u:p%40ss@broker:9000") == ("broker", 9000, True, "u", "p@ss")
    for bad_url in ("http://x", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ValueError):
            parse_url(bad_url)


def test_cli_refuses_a_bad_url_before_opening_the_database(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anju.cli import app

    env = {"ANJU_DATA_DIR": str(tmp_path / "d"), "ANJU_DATABASE_URL": f"sqlite:///{tmp_path / 'd' / 'x.db'}"}
    result = CliRunner().invoke(app, ["gateway", "--mqtt", "http://nowhere"], env=env)
    assert result.exit_code == 2
    assert not (tmp_path / "d" / "x.db").exists()


# ---- exactly once --------------------------------------------------------------------------------------
def test_two_gateways_store_each_record_exactly_once(
    services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    """Two gateways of one group share the subscription; 20 messages are delivered twice; every record is
    stored once, the re-sends count as duplicates, and both gateways took part."""
    register(services, "R1", "E1")
    register(services, "R2", "E1")
    # The second gateway has its own engine, as another process would.
    other = open_services(services.settings, upgrade=False)
    a = gateway(services, root, "a")
    b = gateway(other, root, "b")
    try:
        n = 300
        for i in range(n):
            device = "R1" if i % 2 else "R2"
            publisher.publish(record_topic("E1", "access_swipe", device, root), swipe(i, device, "E1"))
        # The same event delivered twice: an identical message, again.
        for i in range(0, 40, 2):
            publisher.publish(record_topic("E1", "access_swipe", "R2", root), swipe(i, "R2", "E1"))
        # One message with an array of records.
        publisher.publish(
            record_topic("E1", "access_swipe", "R1", root), [swipe(n + k, "R1", "E1") for k in range(5)]
        )
        publisher.wait_all()
        wait_for(lambda: total(a.stats(), b.stats())["acked"] == n + 21, 60, "every message acknowledged")
        assert stored(services, "E1") == (n + 5, n + 5)
        sums = total(a.stats(), b.stats())
        assert sums["stored"] == n + 5
        assert sums["duplicates"] == 20
        assert sums["quarantined"] == 0
        assert a.stats().received > 0 and b.stats().received > 0, "both members of the group got a share"
    finally:
        a.stop()
        b.stop()
        other.close()
    assert services.quarantine.list()[0] == 0


# ---- quarantine ----------------------------------------------------------------------------------------
def test_bad_messages_are_quarantined_with_topic_and_reason(
    services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    register(services, "R1", "E1")
    register(services, "R2", "E2")
    register(services, "CAM1", "E1", kind="camera")
    services.devices.register("OLD1", estate="E1", kind="access_reader", status="retired", actor="test")
    gw = gateway(services, root)
    topic = lambda estate, kind, device: record_topic(estate, kind, device, root)  # noqa: E731
    invalid = swipe(9, "R1", "E1")
    del invalid["SK_RQSJ"]  # a required field
    sent: dict[str, str] = {
        "undecodable": topic("E1", "access_swipe", "R1"),
        "type_unknown": topic("E1", "no_such_type", "R1"),
        "device_unregistered": topic("E1", "access_swipe", "GHOST"),
        "device_mismatch": topic("E1", "access_swipe", "R1"),
        "estate_mismatch": topic("E1", "access_swipe", "R1"),
        "type_not_allowed": topic("E1", "access_swipe", "CAM1"),
        "device_estate": topic("E1", "access_swipe", "R2"),
        "device_retired": topic("E1", "access_swipe", "OLD1"),
        "topic_invalid": f"{root}/E%1/access_swipe/R1",
        "invalid": topic("E1", "access_swipe", "R1"),
    }
    try:
        publisher.publish(sent["undecodable"], b'{"ID": "broken", ')
        publisher.publish(sent["type_unknown"], swipe(1, "R1", "E1"))
        publisher.publish(sent["device_unregistered"], swipe(2, "GHOST", "E1"))
        # An array: the first record is fine, the second names another device.
        publisher.publish(sent["device_mismatch"], [swipe(3, "R1", "E1"), swipe(4, "R9", "E1")])
        publisher.publish(sent["estate_mismatch"], swipe(5, "R1", "E2"))
        publisher.publish(sent["type_not_allowed"], swipe(6, "CAM1", "E1"))
        publisher.publish(sent["device_estate"], swipe(7, "R2", "E1"))
        publisher.publish(sent["device_retired"], swipe(8, "OLD1", "E1"))
        publisher.publish(sent["topic_invalid"], swipe(10, "R1", "E1"))
        publisher.publish(sent["invalid"], invalid)
        publisher.publish(topic("E1", "access_swipe", "R1"), swipe(11, "R1", "E1"))
        publisher.wait_all()
        wait_for(lambda: gw.stats().acked == 11, 60, "every message acknowledged")
        assert stored(services, "E1") == (2, 2)  # records 3 and 11
        count, entries = services.quarantine.list(limit=100)
        assert count == len(sent)
        by_reason = {e.reason: e for e in entries}
        assert set(by_reason) == set(sent)
        for reason, entry in by_reason.items():
            assert entry.source == "mqtt"
            assert entry.source_detail == sent[reason], reason
            assert entry.errors and entry.errors[0]["message_zh"] and entry.errors[0]["message_en"]
        assert by_reason["type_unknown"].record_type == "no_such_type"
        assert by_reason["device_mismatch"].record_id == "sw-000004"
        assert by_reason["device_mismatch"].errors[0]["field"] == "SB_BH"
        assert by_reason["estate_mismatch"].errors[0]["field"] == "XQ_BS"
        assert by_reason["undecodable"].estate == "E1"
        raw = services.quarantine.get(by_reason["device_unregistered"].id)
        assert raw is not None and orjson.loads(raw.raw or "")["SB_BH"] == "GHOST"

        # The malformed message once more: the same entry, seen twice.
        publisher.publish(sent["undecodable"], b'{"ID": "broken", ')
        publisher.wait_all()
        wait_for(lambda: gw.stats().acked == 12, 30, "the re-sent message acknowledged")
        again = services.quarantine.get(by_reason["undecodable"].id)
        assert again is not None and again.seen_count == 2
        assert services.quarantine.list()[0] == len(sent)
    finally:
        gw.stop()
    # A replay leaves refused entries alone (and does not trip over the unknown record type).
    result = services.quarantine.replay()
    assert result.accepted == 0
    assert services.quarantine.list()[0] == len(sent)


# ---- heartbeats ----------------------------------------------------------------------------------------
def test_heartbeats_move_last_seen_and_reach_the_bus(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    svc = sqlite_services
    register(svc, "R1", "E1")
    events: list[Event] = []
    svc.bus.subscribe(events.append)
    gw = gateway(svc, root)
    try:
        assert (d := svc.devices.get("R1")) is not None and d.last_seen_at is None
        publisher.publish(heartbeat_topic("E1", "R1", root), b"")
        publisher.publish(heartbeat_topic("E1", "GHOST", root), b"{}")  # not registered
        publisher.publish(heartbeat_topic("E2", "R1", root), b"{}")  # not its estate
        publisher.wait_all()
        wait_for(lambda: gw.stats().acked == 3, 30, "heartbeats acknowledged")
        device = svc.devices.get("R1")
        assert device is not None and device.last_seen_at is not None
        assert device.last_record_type == "heartbeat"
        beats = [e for e in events if isinstance(e, Heartbeat)]
        assert [(b.estate, b.device_id) for b in beats] == [("E1", "R1")]
        assert beats[0].at.tzinfo is not None
        assert gw.stats().heartbeats == 3 and gw.stats().heartbeats_refused == 2
    finally:
        gw.stop()


# ---- drain, backpressure, retries ----------------------------------------------------------------------
def test_stop_drains_open_batches_and_acknowledges_them(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    svc = sqlite_services
    register(svc, "R1", "E1")
    # Batches would wait ten minutes for more records, even with nothing waiting behind them.
    gw = gateway(svc, root, batch_wait_ms=600_000, flush_when_idle=False)
    for i in range(5):
        publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(i, "R1", "E1"))
    publisher.wait_all()
    wait_for(lambda: gw.stats().pending == 5, 30, "five records in an open batch")
    assert stored(svc) == (0, 0)
    final = gw.stop()
    assert stored(svc) == (5, 5)
    assert final.acked == 5 and final.unacked == 0
    # The acknowledgements reached the broker: the same session gets nothing again before a new message.
    again = gateway(svc, root)
    try:
        publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(99, "R1", "E1"))
        publisher.wait_all()
        wait_for(lambda: again.stats().acked == 1, 30, "the new message")
        assert again.stats().received == 1 and again.stats().duplicates == 0
    finally:
        again.stop()


def test_a_lone_record_is_committed_without_waiting_for_its_batch(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    """With nothing waiting behind it, an open batch is committed at once, not after batch_wait_ms."""
    svc = sqlite_services
    register(svc, "R1", "E1")
    gw = gateway(svc, root, batch_wait_ms=600_000)
    try:
        publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(1, "R1", "E1"))
        publisher.wait_all()
        wait_for(lambda: stored(svc) == (1, 1), 10, "the record stored long before the ten-minute wait")
        wait_for(lambda: gw.stats().acked == 1, 10, "its acknowledgement")
    finally:
        gw.stop()


def test_one_batch_mixes_estates_and_keeps_each_records_estate(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    """Records of one type from several estates share a batch; each keeps its topic's estate in storage,
    in the quarantine and on the bus."""
    from anju.ingest.bus import StoredRecords

    svc = sqlite_services
    register(svc, "R1", "E1")
    register(svc, "R2", "E2")
    seen: list[tuple[str, str | None]] = []

    def listen(event: Event) -> None:
        if isinstance(event, StoredRecords):
            seen.extend((str(r["ID"]), e) for r, e in zip(event.records, event.record_estates(), strict=True))

    svc.bus.subscribe(listen)
    gw = gateway(svc, root, batch_wait_ms=600_000, flush_when_idle=False)
    for i in range(3):
        publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(i, "R1", "E1"))
        publisher.publish(record_topic("E2", "access_swipe", "R2", root), swipe(10 + i, "R2", "E2"))
    # R2 belongs to E2: on E1's topic the message is refused, and quarantined under E1.
    publisher.publish(record_topic("E1", "access_swipe", "R2", root), swipe(20, "R2", "E1"))
    publisher.wait_all()
    wait_for(lambda: gw.stats().pending == 7, 30, "seven records in one open batch")
    final = gw.stop()
    assert final.stored == 6 and final.quarantined == 1 and final.acked == 7
    assert stored(svc, "E1") == (3, 3) and stored(svc, "E2") == (3, 3)
    assert sorted(seen) == [(f"sw-{n:06d}", "E1" if n < 10 else "E2") for n in (0, 1, 2, 10, 11, 12)]
    q = svc.db.table("quarantine")
    batches = svc.db.table("ingest_batch")
    with svc.db.engine.connect() as conn:
        assert conn.execute(select(q.c.estate, q.c.reason)).all() == [("E1", "device_estate")]
        # One batch of records for both estates (and one of the refusal), not one per estate.
        kinds = conn.execute(select(batches.c.estate, batches.c.accepted, batches.c.rejected)).all()
    assert sorted(kinds, key=str) == sorted([(None, 6, 0), (None, 0, 1)], key=str)


def test_a_full_queue_holds_the_network_back(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sqlite_services
    register(svc, "R1", "E1")
    ingest = svc.pipeline.ingest

    def slow_ingest(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)  # a slow database, so that messages arrive faster than they are stored
        return ingest(*args, **kwargs)

    monkeypatch.setattr(svc.pipeline, "ingest", slow_ingest)
    gw = gateway(svc, root, queue_limit=3, batch_size=2, batch_wait_ms=0)
    deepest = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal deepest
        while not done.is_set():
            deepest = max(deepest, gw.stats().queue_depth)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(120):
            publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(i, "R1", "E1"))
        publisher.wait_all()
        wait_for(lambda: gw.stats().acked == 120, 120, "every message acknowledged")
    finally:
        done.set()
        watcher.join()
        final = gw.stop()
    assert stored(svc) == (120, 120)
    assert deepest <= 3
    assert final.backpressure_s > 0


def test_database_errors_are_retried_without_acknowledging(
    sqlite_services: Services, broker: str, root: str, publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sqlite_services
    register(svc, "R1", "E1")
    ingest = svc.pipeline.ingest
    failures = [2]
    acked_during_failure: list[int] = []
    gw_box: list[Gateway] = []

    def flaky_ingest(*args: Any, **kwargs: Any) -> Any:
        if failures[0] > 0:
            failures[0] -= 1
            acked_during_failure.append(gw_box[0].stats().acked)
            raise OperationalError("INSERT …", {}, Exception("database is locked"))
        return ingest(*args, **kwargs)

    monkeypatch.setattr(svc.pipeline, "ingest", flaky_ingest)
    gw = gateway(svc, root)
    gw_box.append(gw)
    try:
        for i in range(3):
            publisher.publish(record_topic("E1", "access_swipe", "R1", root), swipe(i, "R1", "E1"))
        publisher.wait_all()
        wait_for(lambda: gw.stats().acked == 3, 60, "every message acknowledged")
    finally:
        final = gw.stop()
    assert stored(svc) == (3, 3)
    assert final.db_errors == 2 and acked_during_failure == [0, 0]


def test_two_gateways_with_one_client_id_do_not_flap_forever(
    sqlite_services: Services, broker: str, root: str
) -> None:
    """The broker closes the older of two connections with one client ID; reconnecting takes the session
    back, and so on. The gateway gives up with a message that names the likely cause."""
    first = gateway(sqlite_services, root, "same")
    second = Gateway(
        sqlite_services, MQTT_URL, group=root, client_id=f"{root}-same", root=root, session_expiry_s=300
    ).start()
    try:
        wait_for(lambda: bool(first.failed or second.failed), 60, "a gateway to give up its client ID")
        assert "client ID" in (first.failed or second.failed or "")
    finally:
        first.stop()
        second.stop()


# ---- crashes -------------------------------------------------------------------------------------------
class Stream:
    """Publishes `count` single-record messages in a thread, `gap` seconds apart."""

    def __init__(self, pub: Publisher, root: str, count: int, gap: float) -> None:
        self.pub, self.root, self.count, self.gap = pub, root, count, gap
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        for i in range(self.count):
            device = f"R{i % 4}"
            self.pub.publish(record_topic("E1", "access_swipe", device, self.root), swipe(i, device, "E1"))
            time.sleep(self.gap)  # pacing the stream, not waiting for a result

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()
        self.pub.wait_all()


def test_aborted_gateway_loses_nothing_after_restart(
    services: Services, broker: str, root: str, publisher: Publisher
) -> None:
    """A gateway dropped without draining (as a crash would) and started again under its client ID:
    published == stored, on SQLite and PostgreSQL."""
    for k in range(4):
        register(services, f"R{k}", "E1")
    n = 400
    first = gateway(services, root, "crash")
    with Stream(publisher, root, n, 0.002):
        wait_for(lambda: stored(services)[0] >= 60, 60, "the stream to be under way")
        first.abort()
        at_abort = stored(services)[0]
    assert at_abort < n, "the gateway was aborted in the middle of the stream"
    second = gateway(services, root, "crash")
    try:
        wait_for(lambda: stored(services)[0] >= n, 120, "every published record stored")
        wait_for(lambda: second.stats().unacked == 0 and second.stats().queue_depth == 0, 30, "idle")
    finally:
        final = second.stop()
    assert stored(services) == (n, n)
    assert services.quarantine.list()[0] == 0
    # What the first gateway had committed but not acknowledged came again and counted as duplicates.
    assert first.stats().stored + final.stored == n


@pytest.mark.slow
def test_killed_gateway_process_loses_no_message(
    tmp_path: Path, broker: str, root: str, publisher: Publisher
) -> None:
    """`anju gateway` in a child process, killed with SIGKILL in the middle of a stream and started
    again: every published record is stored exactly once."""
    settings: Settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'anju.db'}")
    svc = open_services(settings)
    for k in range(4):
        register(svc, f"R{k}", "E1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJU_")}
    env.update(ANJU_DATA_DIR=str(settings.data_dir), ANJU_DATABASE_URL=settings.database_url)
    argv = [str(Path(sys.executable).parent / "anju"), "gateway", "--mqtt", broker, "--group", root,
            "--root", root, "--client-id", f"{root}-proc", "--json", "--status-every", "1",
            "--session-expiry", "300"]  # fmt: skip

    def launch(tag: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"gateway-{tag}.log").open("wb")
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)

    def seen(device: str) -> bool:
        found = svc.devices.get(device)
        return found is not None and found.last_seen_at is not None

    n = 600
    proc = launch("first")
    try:
        # Ready once it consumes: a heartbeat published before the subscription existed would be lost.
        deadline = time.monotonic() + 60
        while not seen("R0"):
            assert proc.poll() is None, (tmp_path / "gateway-first.log").read_text()
            assert time.monotonic() < deadline, "the gateway process never consumed a heartbeat"
            publisher.publish(heartbeat_topic("E1", "R0", root), b"")
            time.sleep(0.2)  # the heartbeat's cadence
        with Stream(publisher, root, n, 0.002):
            wait_for(lambda: stored(svc)[0] >= 100, 60, "the stream to be under way")
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            at_kill = stored(svc)[0]
        assert proc.returncode == -signal.SIGKILL
        assert at_kill < n, "the process was killed in the middle of the stream"
        proc = launch("second")
        wait_for(lambda: stored(svc)[0] >= n, 120, "every published record stored")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (tmp_path / "gateway-second.log").read_text()
    final = json.loads(out.decode().strip().splitlines()[-1])
    assert stored(svc) == (n, n)
    assert svc.quarantine.list()[0] == 0
    # The second process stored the rest; what the first had committed without acknowledging came again.
    assert final["stored"] == n - at_kill
    assert final["acked"] >= final["stored"]
    svc.close()
