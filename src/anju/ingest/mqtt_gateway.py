"""The MQTT device gateway: device messages from the broker into the ingestion pipeline, none lost.

    broker ──▶ network thread (paho) ──▶ bounded queue ──▶ writer thread ──▶ Pipeline.ingest / refuse
       ▲           on_message: blocks        messages         batches per           one transaction
       └──────── PUBACK, in arrival order ◀──── once the batch holding the message has committed

Delivery guarantee: at least once from the broker, exactly once in the database.
* Devices publish with QoS 1. The gateway subscribes with QoS 1 through an MQTT 5 shared subscription
  (`$share/{group}/anju/+/+/+`), so that gateways of one group share the load, in a persistent session
  (clean start off, a session expiry interval), and acknowledges by hand (paho's `manual_ack`): a
  message's PUBACK leaves only after the transaction holding its records (or its quarantine entry) has
  committed. A gateway that dies before that leaves the message unacknowledged in its session; the
  broker sends it again when the gateway reconnects under the same client ID.
* What is sent again is absorbed by the pipeline's idempotency: a stored record ID with the same content
  counts as a duplicate, an identical quarantined payload bumps its entry's `seen_count`.
* PUBACKs leave in the order the messages arrived (MQTT 5, 4.6), so a message committed early waits for
  older ones still in an open batch (at most `batch_wait_ms`; an open batch is committed at once when no
  message is waiting behind it, `flush_when_idle`).
* Limits of the guarantee, all the broker's: it keeps an absent session's messages only for the session
  expiry interval, and a queue limit drops the excess (mosquitto: `max_queued_messages`, 1000 per session
  by default, beyond the in-flight window; set it to 0 or to what an outage may accumulate). A shared
  subscription's member that is down keeps receiving its share into its session until it comes back or
  the session expires (mosquitto does not hand that share to the other members), so give every gateway
  a stable client ID. QoS 0 messages are stored but can be lost.

Backpressure: the queue between the network thread and the writer holds at most `queue_limit` messages
and `queue_bytes` bytes. When it is full, `on_message` blocks the network thread: paho stops reading the
socket and TCP flow control holds the broker back, which keeps the messages (unacknowledged, in flight)
on its side. Memory here stays bounded whatever the rate.

Checks: the topic `anju/{estate}/{record_type}/{device_id}` (mqtt_topics.py) must name a record type and
a registered device of that estate that is not retired and whose kind produces that record type
(registry/data/device_kinds.yaml); each record's device field must name the topic's device and its estate
field, when given, the topic's estate. What fails goes to the quarantine with the topic and the reason
(`Pipeline.refuse`); records that fail validation go there through the pipeline, with the topic too.
Heartbeats (`anju/{estate}/heartbeat/{device_id}`) of registered devices become `Heartbeat` events on
the bus; those of one device within a batch window are coalesced into one.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from psycopg import IntegrityError as PgIntegrityError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from anju.ingest.bus import Heartbeat
from anju.ingest.decode import decode_body
from anju.ingest.items import Item
from anju.ingest.mqtt_topics import ROOT, Topic, TopicError, parse_topic, shared_filter
from anju.ingest.pipeline import Refusal
from anju.ingest.result import BatchResult
from anju.registry import catalog
from anju.registry.devices import Device, DeviceRegistry
from anju.services import Services
from anju.standard.issues import Issue, make_issue
from anju.standard.spec import RecordType, record_type

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "mqtt"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
# MQTT 5's largest Receive Maximum: the broker may have this many messages in flight to us, unacknowledged.
# They sit in its session, not here (backpressure stops our reading), and they do not count against
# mosquitto's per-session queue limit, which only holds what lies beyond the in-flight window.
RECEIVE_MAXIMUM = 65535
SESSION_TAKEN_OVER = 0x8E
# Connections the broker ends this soon after accepting them, this many times in a row, mean that another
# client uses our ID (mosquitto 2.0 closes the older connection without saying why, and the two would take
# the session from each other forever).
_SHORT_CONNECTION_S = 10.0
_SHORT_CONNECTIONS = 5
_RETIRED = "retired"
_DETAIL_MAX = 500  # quarantine.source_detail
_RACE_RETRIES = 5
_CACHE_MAX = 50_000  # device cache entries: a flood of made-up device IDs must not grow it without bound


class GatewayError(RuntimeError):
    """The gateway cannot go on (another connection took its client ID, the broker refused the
    subscription, the writer failed): it stops; unacknowledged messages stay with the broker."""


def parse_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """(host, port, tls, username, password) of mqtt://[user:password@]host[:port] (mqtts:// for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ValueError(
            f"broker URL {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT] · 代理地址无效"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
    except ValueError:
        raise ValueError(f"broker URL {url!r}: the port is not a number · 端口无效") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, tls, user, password


def default_client_id(group: str) -> str:
    """Stable across restarts on one host, so that a restarted gateway finds its session (and the
    messages that waited in it). Two gateways on one host need their own --client-id."""
    return f"anju-{group}-{socket.gethostname()}"[:128]


# ---- counters ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GatewayStats:
    connected: bool
    received: int  # messages taken from the broker (redeliveries included)
    records: int  # records in them (each element of an array), refused ones included
    stored: int  # records stored for the first time
    duplicates: int  # records (and refused payloads) that had been stored (quarantined) before
    quarantined: int  # records quarantined: invalid, conflicting or refused
    heartbeats: int  # heartbeat messages
    heartbeats_refused: int  # heartbeats of unregistered, retired or misplaced devices
    batches: int  # committed transactions
    acked: int  # PUBACKs sent
    queue_depth: int  # messages waiting for the writer
    queue_bytes: int
    pending: int  # records in open batches
    unacked: int  # messages taken by the writer and not acknowledged yet
    connects: int
    db_errors: int  # failed attempts that were retried
    backpressure_s: float  # time the network thread waited for room in the queue
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        state = "connected 已连接" if self.connected else "disconnected 未连接"
        return (
            f"{state} · received {self.received:,} msg / {self.records:,} rec · stored {self.stored:,} · "
            f"dup {self.duplicates:,} · quarantined {self.quarantined:,} · heartbeats {self.heartbeats:,} · "
            f"queue {self.queue_depth:,} · pending {self.pending:,} · unacked {self.unacked:,}"
        )


@dataclass(slots=True)
class _Counters:
    received: int = 0
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    heartbeats: int = 0
    heartbeats_refused: int = 0
    batches: int = 0
    acked: int = 0
    connects: int = 0
    db_errors: int = 0
    backpressure_s: float = 0.0
    last_error: str | None = None

    def add(self, result: BatchResult) -> None:
        self.stored += result.accepted
        self.duplicates += result.duplicates
        self.quarantined += result.rejected
        self.batches += 1


# ---- the writer's units of work ------------------------------------------------------------------------
@dataclass(slots=True)
class _Message:
    mid: int
    qos: int
    generation: int  # connection it arrived on: a PUBACK on a later connection would acknowledge another
    topic: str
    payload: bytes
    done: bool = False


@dataclass(slots=True)
class _Entry:
    """What one message contributes to a batch."""

    msg: _Message
    items: list[Item]
    refusals: list[Refusal]


@dataclass(slots=True)
class _Group:
    """An open batch: the records of one record type, of any estates, waiting for size or time. Each record
    carries its topic's estate (Item.estate), so that thousands of devices over many estates still make
    batches of `batch_size` rather than one small batch per estate."""

    slug: str
    first: float  # monotonic time the oldest entry arrived
    entries: list[_Entry] = field(default_factory=list)
    size: int = 0


@dataclass(slots=True)
class _Beat:
    at_monotonic: float
    messages: list[_Message] = field(default_factory=list)


class _Queue:
    """A FIFO bounded in messages and in bytes; `put` waits for room (that wait is the backpressure)."""

    def __init__(self, limit: int, byte_limit: int) -> None:
        self._items: deque[_Message] = deque()
        self._bytes = 0
        self._limit, self._byte_limit = limit, byte_limit
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, msg: _Message, timeout: float) -> bool:
        size = len(msg.payload)
        with self._cond:
            end = time.monotonic() + timeout
            # A single message larger than the byte limit still passes when the queue is empty.
            while self._items and (len(self._items) >= self._limit or self._bytes + size > self._byte_limit):
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._items.append(msg)
            self._bytes += size
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> _Message | None:
        with self._cond:
            end = time.monotonic() + timeout
            while not self._items:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            msg = self._items.popleft()
            self._bytes -= len(msg.payload)
            self._cond.notify_all()
            return msg


class _Devices:
    """Registered devices by estate, cached for `ttl` seconds: one query per estate per period instead of
    one per message. A device missing from its topic's estate is looked up on its own (registered
    elsewhere, or not at all), and that answer is cached too."""

    def __init__(self, registry: DeviceRegistry, ttl: float) -> None:
        self._registry = registry
        self._ttl = ttl
        self._estates: dict[str, tuple[float, dict[str, Device]]] = {}
        self._single: dict[str, tuple[float, Device | None]] = {}

    def lookup(self, estate: str, device_id: str) -> Device | None:
        now = time.monotonic()
        cached = self._estates.get(estate)
        if cached is None or now - cached[0] > self._ttl:
            if len(self._estates) >= _CACHE_MAX:
                self._estates.clear()
            cached = (now, {d.id: d for d in self._registry.list_estate(estate)})
            self._estates[estate] = cached
        found = cached[1].get(device_id)
        if found is not None:
            return found
        single = self._single.get(device_id)
        if single is None or now - single[0] > self._ttl:
            if len(self._single) >= _CACHE_MAX:
                self._single.clear()
            single = (now, self._registry.get(device_id))
            self._single[device_id] = single
        return single[1]


def _transient(exc: BaseException) -> bool:
    """Errors of the database's availability (server gone, lock timeout): the same work is tried again."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class _Aborted(Exception):
    """The gateway was aborted while the writer waited to retry."""


def _issue(code: str, zh: str, en: str, **kw: Any) -> list[Issue]:
    return [make_issue(code, zh, en, **kw)]


def _field_value(rtype: RecordType, obj: dict[Any, Any], code: str) -> tuple[bool, Any]:
    """(given, value) of a field in a decoded record, under its code or any accepted alias."""
    if code in obj:
        return True, obj[code]
    for key, value in obj.items():
        if isinstance(key, str) and rtype.resolve_name(key) == code:
            return True, value
    return False, None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class Gateway:
    """One member of a gateway group. `start()` connects in the background and keeps reconnecting (with
    exponential backoff); `stop()` drains: what was received is committed and acknowledged, what arrives
    meanwhile is left unacknowledged for the broker to send again."""

    def __init__(
        self,
        services: Services,
        url: str,
        *,
        group: str = "anju",
        client_id: str | None = None,
        root: str = ROOT,
        batch_size: int = 1000,
        batch_wait_ms: int = 50,
        flush_when_idle: bool = True,
        queue_limit: int = 10_000,
        queue_bytes: int = 64 * 1024 * 1024,
        max_payload: int = 1024 * 1024,
        session_expiry_s: int = 24 * 3600,
        keepalive_s: int = 30,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 60,
        device_cache_s: float = 30.0,
        receive_maximum: int = RECEIVE_MAXIMUM,
    ) -> None:
        if batch_size < 1 or batch_wait_ms < 0 or queue_limit < 1 or queue_bytes < 1 or max_payload < 1:
            raise ValueError(
                "batch_size, queue_limit, queue_bytes and max_payload must be ≥ 1, batch_wait_ms ≥ 0"
            )
        if not 1 <= receive_maximum <= RECEIVE_MAXIMUM:
            raise ValueError(f"receive_maximum must be within 1..{RECEIVE_MAXIMUM}")
        self.services = services
        self.url = url
        self.host, self.port, self.tls, user, password = parse_url(url)
        self.group = group
        self.root = root
        self.subscription = shared_filter(group, root)
        self.client_id = client_id or default_client_id(group)
        self.actor = f"mqtt:{self.client_id}"[:200]
        self.batch_size = batch_size
        self.batch_wait = batch_wait_ms / 1000
        # With nothing more waiting in the queue, an open batch is committed at once instead of after
        # `batch_wait`: a lone alarm record is not held back at light load, and under load the queue is
        # never empty, so batches still fill (to `batch_size`, or for as long as a commit takes).
        self.flush_when_idle = flush_when_idle
        # Open batches of several record types together: past this many records the oldest is flushed
        # early, so that a spread over many types cannot hold more than this in memory.
        self.max_pending = max(4 * batch_size, 1)
        self.max_payload = max_payload
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.receive_maximum = receive_maximum

        self._queue = _Queue(queue_limit, queue_bytes)
        self._devices = _Devices(services.devices, device_cache_s)
        self._produces = {
            kind: frozenset(spec.get("record_types") or ()) for kind, spec in catalog.device_kinds().items()
        }
        self._counters = _Counters()
        self._groups: dict[str, _Group] = {}
        self._pending = 0
        self._beats: dict[tuple[str, str], _Beat] = {}
        self._line: deque[_Message] = deque()  # messages in arrival order until acknowledged

        # The generation moves when a connection ends (on_disconnect, before paho reconnects and empties
        # its send queue); PUBACKs are sent under this lock only for messages of the current generation.
        self._ack_lock = threading.Lock()
        self._generation = 0
        self._connected_at: float | None = None
        self._short_connections = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._closing = False  # no new message is taken (stop or abort)
        self._stopping = threading.Event()  # the writer drains and ends
        self._aborted = threading.Event()  # the writer ends at once, acknowledging nothing more
        self._failed: str | None = None
        self._writer: threading.Thread | None = None
        self._started = False

        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if user is not None:
            self._client.username_pw_set(user, password)
        if self.tls:
            self._client.tls_set_context(ssl.create_default_context())
        self._client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # ---- life cycle ------------------------------------------------------------------------------------
    def start(self) -> Gateway:
        if self._started:
            raise RuntimeError("the gateway was started already")
        self._started = True
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self._writer = threading.Thread(target=self._run_writer, name=f"anju-gateway-writer-{self.client_id}")
        self._writer.daemon = True
        self._writer.start()
        self._client.connect_async(
            self.host, self.port, keepalive=self.keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()
        log.info(
            "gateway %s: connecting to %s:%d, subscription %s",
            self.client_id,
            self.host,
            self.port,
            self.subscription,
        )
        return self

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed (False on timeout or failure)."""
        return self._subscribed.wait(timeout) and self._failed is None

    @property
    def failed(self) -> str | None:
        """Why the gateway stopped on its own, or None while it runs."""
        return self._failed

    def stop(self, timeout: float = 30.0) -> GatewayStats:
        """Drain and disconnect: stop taking messages, commit and acknowledge what was taken, then send
        DISCONNECT (the session stays, with whatever the broker still holds for it). Messages that could
        not be committed within `timeout` seconds stay unacknowledged: the broker sends them again."""
        self._closing = True
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
            if self._writer.is_alive():
                log.warning(
                    "gateway %s: drain did not finish within %.0f s; the rest stays with the broker",
                    self.client_id,
                    timeout,
                )
                self._aborted.set()
                self._writer.join(5)
        # DISCONNECT is queued behind the PUBACKs sent so far, so the broker sees them first.
        with self._ack_lock:
            self._generation += 1
            self._client.disconnect()
        self._client.loop_stop()
        log.info("gateway %s stopped: %s", self.client_id, self.stats().line())
        return self.stats()

    def abort(self) -> None:
        """Drop the connection as a crash would: no drain, no DISCONNECT, nothing more acknowledged. For
        tests and emergencies; the broker keeps the session and sends the unacknowledged messages again."""
        self._closing = True
        self._aborted.set()
        self._stopping.set()
        with self._ack_lock:
            self._generation += 1  # nothing more is acknowledged on this connection
        if self._writer is not None:
            self._writer.join(10)
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()  # the broker sees the connection end without DISCONNECT

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self._stopping.is_set():
            self.stop()

    def stats(self) -> GatewayStats:
        c = self._counters
        return GatewayStats(
            connected=self._connected.is_set(),
            received=c.received,
            records=c.records,
            stored=c.stored,
            duplicates=c.duplicates,
            quarantined=c.quarantined,
            heartbeats=c.heartbeats,
            heartbeats_refused=c.heartbeats_refused,
            batches=c.batches,
            acked=c.acked,
            queue_depth=len(self._queue),
            queue_bytes=self._queue.bytes,
            pending=self._pending,
            unacked=len(self._line),
            connects=c.connects,
            db_errors=c.db_errors,
            backpressure_s=round(c.backpressure_s, 3),
            last_error=self._failed or c.last_error,
        )

    def _fail(self, why: str) -> None:
        """Stop for good: the CLI exits; what was not acknowledged stays with the broker."""
        if self._failed is None:
            self._failed = why
            log.error("gateway %s failed: %s", self.client_id, why)
        self._closing = True
        self._aborted.set()
        self._stopping.set()
        self._subscribed.set()  # wake wait_ready()

    # ---- network thread (paho callbacks) ---------------------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _u: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._counters.last_error = f"connect refused: {reason}"
            log.error("gateway %s: broker refused the connection: %s", self.client_id, reason)
            return
        self._counters.connects += 1
        self._connected_at = time.monotonic()
        self._connected.set()
        log.info("gateway %s connected (session present: %s)", self.client_id, flags.session_present)
        # Subscribing again on every connection is harmless and restores a subscription whose session
        # expired while we were away.
        client.subscribe(self.subscription, options=SubscribeOptions(qos=1))

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Properties | None
    ) -> None:
        bad = [r for r in reasons if r.is_failure]
        if bad:
            self._fail(
                f"the broker refused the subscription {self.subscription}: {bad[0]} (MQTT 5 shared subscriptions needed)"
            )
            return
        log.info("gateway %s subscribed to %s", self.client_id, self.subscription)
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        _u: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        with self._ack_lock:
            self._generation += 1
        self._connected.clear()
        self._subscribed.clear()
        if self._closing:
            return
        self._counters.last_error = f"disconnected: {reason}"
        began, self._connected_at = self._connected_at, None
        if began is not None and time.monotonic() - began < _SHORT_CONNECTION_S:
            self._short_connections += 1
        else:
            self._short_connections = 0
        if reason == SESSION_TAKEN_OVER or self._short_connections >= _SHORT_CONNECTIONS:
            # Another connection uses our client ID: reconnecting would take it back, and so on forever.
            self._fail(
                f"the broker keeps closing the connection ({reason}): is another client using client ID "
                f"{self.client_id!r}? Give each gateway its own --client-id"
            )
            client.disconnect()  # ends paho's reconnect loop
            return
        log.warning("gateway %s disconnected (%s); reconnecting with backoff", self.client_id, reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._closing:
            return  # not acknowledged: the broker sends it again to this session
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = repr(message._topic)[:_DETAIL_MAX]
        msg = _Message(message.mid, message.qos, self._generation, topic, bytes(message.payload))
        self._counters.received += 1
        if not self._queue.put(msg, 0):
            # The writer is behind: keep the network thread here, so that paho stops reading the socket
            # and TCP holds the broker back.
            began = time.monotonic()
            while not self._queue.put(msg, 0.2):
                if self._closing:
                    break
            self._counters.backpressure_s += time.monotonic() - began

    # ---- writer thread ---------------------------------------------------------------------------------
    def _run_writer(self) -> None:
        try:
            while True:
                if self._aborted.is_set():
                    return
                deadline = self._next_deadline()
                timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
                msg = self._queue.get(min(timeout, 0.5))
                if msg is not None:
                    self._accept(msg)
                if self.flush_when_idle and len(self._queue) == 0:
                    self._flush_all()
                else:
                    self._flush_due(time.monotonic())
                if self._stopping.is_set() and len(self._queue) == 0:
                    self._flush_all()
                    return
        except _Aborted:
            return
        except Exception as exc:
            log.exception("gateway %s: the writer failed", self.client_id)
            self._fail(f"writer failed: {type(exc).__name__}: {str(exc)[:300]}")

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, trying again after database-availability errors (backoff up to 30 s) until it
        succeeds or the gateway is aborted, and a few times after unique-key races with other writers (the
        pipeline retries those itself; several gateways on one busy ID range can still lose a few rounds).
        Nothing is acknowledged meanwhile."""
        delay = 0.1
        races = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                race = isinstance(exc, IntegrityError | PgIntegrityError)
                if not (_transient(exc) or (race and races < _RACE_RETRIES)):
                    raise
                races += race
                self._counters.db_errors += 1
                self._counters.last_error = f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.warning(
                    "gateway %s: %s failed (%s); retrying in %.1f s", self.client_id, what, exc, delay
                )
                if self._aborted.wait(delay):
                    raise _Aborted from exc
                delay = min(delay * 2, 30.0)

    def _next_deadline(self) -> float | None:
        firsts = [next(iter(d.values())).first for d in (self._groups,) if d]
        firsts += [next(iter(d.values())).at_monotonic for d in (self._beats,) if d]
        return min(firsts) + self.batch_wait if firsts else None

    def _accept(self, msg: _Message) -> None:
        self._line.append(msg)
        try:
            topic = parse_topic(msg.topic, self.root)
        except TopicError as err:
            self._refuse_message(msg, err.kind or "?", err.estate, err.code, err.zh, err.en)
            return
        if topic.is_heartbeat:
            self._counters.heartbeats += 1
            beat = self._beats.setdefault((topic.estate, topic.device_id), _Beat(time.monotonic()))
            beat.messages.append(msg)
            return
        rtype = record_type(topic.kind)
        if len(msg.payload) > self.max_payload:
            self._refuse_message(
                msg,
                rtype.slug,
                topic.estate,
                "payload_too_large",
                f"消息 {len(msg.payload)} 字节，超过网关上限 {self.max_payload} 字节",
                f"the message has {len(msg.payload)} bytes, over the gateway's limit of {self.max_payload}",
            )
            return
        problem = self._retrying("device look-up", lambda: self._device_problem(topic, rtype))
        if problem is not None:
            self._refuse_message(msg, rtype.slug, topic.estate, *problem)
            return
        items: list[Item] = []
        refusals: list[Refusal] = []
        detail = msg.topic[:_DETAIL_MAX]
        for item in decode_body(msg.payload):
            item.source_detail = detail
            item.estate = topic.estate
            refusal = self._record_problem(rtype, topic, item)
            if refusal is None:
                items.append(item)
            else:
                refusals.append(refusal)
        self._add(rtype.slug, _Entry(msg, items, refusals))

    def _device_problem(self, topic: Topic, rtype: RecordType) -> tuple[str, str, str] | None:
        device = self._devices.lookup(topic.estate, topic.device_id)
        d = topic.device_id
        if device is None:
            return (
                "device_unregistered",
                f"设备 {d!r} 未登记（anju devices register）",
                f"device {d!r} is not registered (anju devices register)",
            )
        if device.estate != topic.estate:
            return (
                "device_estate",
                f"设备 {d!r} 登记在小区 {device.estate!r}，不是主题中的 {topic.estate!r}",
                f"device {d!r} is registered in estate {device.estate!r}, not the topic's {topic.estate!r}",
            )
        if device.status == _RETIRED:
            return ("device_retired", f"设备 {d!r} 已停用", f"device {d!r} is retired")
        if rtype.slug not in self._produces.get(device.kind, frozenset()):
            return (
                "type_not_allowed",
                f"{device.kind} 类设备不产生 {rtype.slug} 记录（registry/data/device_kinds.yaml）",
                f"a {device.kind} device does not produce {rtype.slug} records (registry/data/device_kinds.yaml)",
            )
        return None

    def _record_problem(self, rtype: RecordType, topic: Topic, item: Item) -> Refusal | None:
        """A record whose device (or estate) field contradicts its topic; None for anything else,
        undecodable records included (the pipeline quarantines those itself)."""
        obj = item.obj
        if not item.decoded or not isinstance(obj, dict):
            return None
        raw_id = obj.get("ID")
        record_id = raw_id.strip()[:200] if isinstance(raw_id, str) else None
        if rtype.device_field is not None:
            given, value = _field_value(rtype, obj, rtype.device_field)
            if _text(value) != topic.device_id:
                code = rtype.device_field
                shown = value if given else None
                return Refusal(
                    item,
                    "device_mismatch",
                    _issue(
                        "device_mismatch",
                        f"记录的设备编号不是主题中的设备 {topic.device_id!r}",
                        f"the record's device is not the topic's device {topic.device_id!r}",
                        field=code,
                        field_zh=rtype.field(code).zh,
                        value=shown,
                    ),
                    record_id,
                )
        if rtype.estate_field is not None:
            given, value = _field_value(rtype, obj, rtype.estate_field)
            if given and value not in (None, "") and _text(value) != topic.estate:
                code = rtype.estate_field
                return Refusal(
                    item,
                    "estate_mismatch",
                    _issue(
                        "estate_mismatch",
                        f"记录的小区不是主题中的小区 {topic.estate!r}",
                        f"the record's estate is not the topic's estate {topic.estate!r}",
                        field=code,
                        field_zh=rtype.field(code).zh,
                        value=value,
                    ),
                    record_id,
                )
        return None

    def _refuse_message(
        self, msg: _Message, slug: str, estate: str | None, code: str, zh: str, en: str
    ) -> None:
        """The whole message goes to the quarantine, raw, as one entry."""
        log.debug("gateway %s: %s on %s", self.client_id, code, msg.topic)
        item = Item(0, msg.payload, source_detail=msg.topic[:_DETAIL_MAX], estate=estate)
        self._add(slug, _Entry(msg, [], [Refusal(item, code, _issue(code, zh, en))]))

    def _add(self, slug: str, entry: _Entry) -> None:
        key = slug
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(slug, time.monotonic())
        group.entries.append(entry)
        n = len(entry.items) + len(entry.refusals)
        self._counters.records += n
        group.size += n
        self._pending += n
        if group.size >= self.batch_size:
            self._flush(key)
        while self._pending >= self.max_pending and self._groups:
            self._flush(next(iter(self._groups)))

    def _flush_due(self, now: float) -> None:
        # Groups (and heartbeats) are kept in the order they were opened, so the oldest comes first.
        while self._groups:
            key, group = next(iter(self._groups.items()))
            if now - group.first < self.batch_wait:
                break
            self._flush(key)
        if self._beats and now - next(iter(self._beats.values())).at_monotonic >= self.batch_wait:
            self._flush_beats()

    def _flush_all(self) -> None:
        for key in list(self._groups):
            self._flush(key)
        if self._beats:
            self._flush_beats()

    def _flush(self, key: str) -> None:
        group = self._groups.pop(key)
        self._pending -= group.size
        self._commit(group, group.entries)
        for entry in group.entries:
            entry.msg.done = True
        self._release()

    def _commit(self, group: _Group, entries: Sequence[_Entry]) -> None:
        try:
            self._retrying("batch commit", lambda: self._store(group, entries))
        except _Aborted:
            raise
        except Exception as exc:
            # Not the database's availability: something in these messages. Find which, so that one bad
            # message does not hold back the others, and quarantine it with the error.
            if len(entries) > 1:
                log.exception(
                    "gateway %s: a batch of %d messages failed; committing them one by one",
                    self.client_id,
                    len(entries),
                )
                for entry in entries:
                    self._commit(group, [entry])
                return
            entry = entries[0]
            if any(r.reason == "gateway_error" for r in entry.refusals):
                raise  # even quarantining failed: the writer stops, the broker keeps the message
            log.exception(
                "gateway %s: a message on %s failed; quarantining it", self.client_id, entry.msg.topic
            )
            estates = {i.estate for i in entry.items} | {r.item.estate for r in entry.refusals}
            item = Item(
                0,
                entry.msg.payload,
                source_detail=entry.msg.topic[:_DETAIL_MAX],
                estate=estates.pop() if len(estates) == 1 else None,
            )
            issue = _issue(
                "gateway_error",
                f"网关处理失败：{type(exc).__name__}",
                f"the gateway failed on this message: {type(exc).__name__}: {str(exc)[:200]}",
            )
            self._commit(group, [_Entry(entry.msg, [], [Refusal(item, "gateway_error", issue)])])

    def _store(self, group: _Group, entries: Sequence[_Entry]) -> None:
        pipeline = self.services.pipeline
        # Copies: validation drops each item's decoded object, and a failed attempt is tried again.
        items = [
            Item(n, item.raw, item.obj, list(item.issues), item.source_detail, item.estate)
            for n, item in enumerate(i for e in entries for i in e.items)
        ]
        refusals = [r for e in entries for r in e.refusals]
        if items:
            result = pipeline.ingest(group.slug, items, source=SOURCE, actor=self.actor)
            self._counters.add(result)
        if refusals:
            result = pipeline.refuse(group.slug, refusals, source=SOURCE, actor=self.actor)
            self._counters.add(result)

    def _flush_beats(self) -> None:
        beats, self._beats = self._beats, {}
        now = self.services.pipeline.clock()
        for (estate, device_id), beat in beats.items():
            device = self._retrying("device look-up", partial(self._devices.lookup, estate, device_id))
            if device is None or device.estate != estate or device.status == _RETIRED:
                self._counters.heartbeats_refused += len(beat.messages)
                log.debug("gateway %s: heartbeat of %s/%s refused", self.client_id, estate, device_id)
            else:
                # Subscribers (the device registry's last-seen, the alarm engine's offline timers) log
                # their own failures; the bus never raises.
                self.services.bus.publish(Heartbeat(estate, device_id, now))
            for msg in beat.messages:
                msg.done = True
        self._release()

    def _release(self) -> None:
        """Acknowledge the longest run of finished messages at the head of the arrival order."""
        released: list[_Message] = []
        while self._line and self._line[0].done:
            released.append(self._line.popleft())
        if not released:
            return
        with self._ack_lock:
            generation = self._generation
            for msg in released:
                if msg.qos > 0 and msg.generation == generation:
                    self._client.ack(msg.mid, msg.qos)
                    self._counters.acked += 1
