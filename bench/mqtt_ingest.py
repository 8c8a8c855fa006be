"""MQTT ingestion with the alarm rules on: sustained rate and memory, event-to-alarm latency, a burst.

The platform is one `anju serve --mqtt` process — API, live stream, device gateway, rules and alarm clock,
as a single-node site runs it — over a fresh database, with 5,000 registered access readers in 50
estates and 500 smoke sensors. Devices are simulated by publisher processes (paho-mqtt, QoS 1, one
access_swipe record per message, each device on its own topic anju/{estate}/access_swipe/{device}) on
the Mosquitto broker at 127.0.0.1:1883.

Phases, each printed and written to the JSON result:
1. limit: a bare subscriber (paho, QoS 1, no processing) drains the same broker while one publisher
   sends as fast as it can: what the broker, the client library and this machine allow at all.
2. sustained: publishers at `--rate` for `--seconds`; stored records per second (first publish to last
   row stored), the server's RSS sampled every second (flat = no growth over the run).
3. latency: background swipes at `--latency-rate` while the benchmark publishes a fire record from a
   different smoke sensor every 100 ms and times each from its publish to the `created` event of its
   alarm on the live stream (SSE, GET /api/v1/alarms/stream): p50 / p95 / p99.
4. burst: publishers at 10 × the latency rate (or as fast as they can) for `--burst-seconds`: every
   published record must be stored (no loss), and the time to drain the backlog is reported.

    python -m bench.mqtt_ingest                       # full size (about 4 minutes)
    python -m bench.mqtt_ingest --quick               # about a minute
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import OUT, child_env, count_rows, fresh_sqlite, print_json_line, source_digest
from bench.http_ingest import _percentile, _stop, _wait_healthy, free_port

BROKER = ("127.0.0.1", 1883)  # replaced by the benchmark's own broker when `mosquitto` is installed
# Mosquitto keeps at most 1,000 QoS 1 messages per session beyond those in flight by default and drops the
# rest with a log line: a burst would measure that setting. A site expecting bursts raises it, as here.
BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 2000000
max_queued_bytes 0
"""
ESTATES = 50
READERS = 5_000
SENSORS = 500
TARGET_RATE = 10_000
TARGET_P99_MS = 100.0
THINGSBOARD = 5_000
WINDOW = 20_000  # unacknowledged messages per publisher


# ---- the simulated site -----------------------------------------------------------------------------
def estate(i: int) -> str:
    return f"BE{i:02d}"


def reader(d: int) -> tuple[str, str]:
    return estate(d % ESTATES), f"BR{d:05d}"


def sensor(s: int) -> tuple[str, str]:
    return estate(s % ESTATES), f"BS{s:04d}"


def prepare(data_dir: Path, url: str) -> str:
    """Regions, devices and a bearer token for the live stream, through the application's own API."""
    from anju.config import Settings
    from anju.services import open_services

    svc = open_services(Settings(data_dir=data_dir, database_url=url))
    try:
        add = svc.regions.add
        add(svc.audit, code="420102", name="江岸区", level="district", parent=None, actor="bench")
        add(svc.audit, code="BC1", name="基准社区", level="community", parent="420102", actor="bench")
        for i in range(ESTATES):
            add(svc.audit, code=estate(i), name=f"基准小区{i}", level="estate", parent="BC1", actor="bench")
        for d in range(READERS):
            e, dev = reader(d)
            svc.devices.register(dev, estate=e, kind="access_reader", actor="bench", location=f"{d % 20}栋")
        for s in range(SENSORS):
            e, dev = sensor(s)
            svc.devices.register(
                dev, estate=e, kind="smoke_sensor", actor="bench", location=f"{s % 20}栋楼道"
            )
        password = uuid.uuid4().hex
        svc.identity.create_user("bench-duty", password, "platform_admin", None)
        return svc.identity.issue(svc.identity.authenticate("bench-duty", password))[0]
    finally:
        svc.close()


def swipe_tails() -> list[bytes]:
    """Per reader, the JSON of a valid access_swipe record after its ID: `"KMFS…":…}` with SB_BH set."""
    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    rtype = record_type("access_swipe")
    factory = SampleFactory(11)
    tails = []
    for d in range(READERS):
        rec = factory.record(rtype, d % 200)
        del rec["ID"]
        e, rec["SB_BH"] = reader(d)
        # The gateway refuses a record that names another estate than its topic.
        if rtype.estate_field is not None:
            rec[rtype.estate_field] = e
        tails.append(orjson.dumps(rec)[1:])
    return tails


def fire_record(s: int, rid: str) -> bytes:
    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    rtype = record_type("fire_energy")
    rec = SampleFactory(12).record(rtype, s)
    e, dev = sensor(s)
    rec.update(ID=rid, SB_BS=dev, BJ_ZT="火警", CS_ZT="0", YW_ZT="0")
    if rtype.estate_field is not None:
        rec[rtype.estate_field] = e
    return orjson.dumps(rec)


# ---- publishers (child processes) -------------------------------------------------------------------
def _client(name: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect(*BROKER)
    c.loop_start()
    return c


def publish(
    root: str, prefix: str, start: int, step: int, rate: float, seconds: float, done: Any, tails: list[bytes]
) -> None:
    """Publish swipes IDs prefix-start, prefix-(start+step), … at `rate` per second (0: as fast as
    possible) for `seconds`; put the count published (and acknowledged by the broker) on `done`."""
    c = _client(f"bench-pub-{prefix}-{start}-{uuid.uuid4().hex[:6]}")
    sent = 0
    # Messages not yet acknowledged by the broker, bounded: message IDs are 16-bit, and a publisher far
    # ahead of its acknowledgements would reuse one still in flight (paho refuses it).
    window: deque[mqtt.MQTTMessageInfo] = deque()
    began = time.perf_counter()
    i = start
    while True:
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + 1 if rate else sent + 200
        while sent < due:
            d = (i // step) % READERS
            e, dev = reader(d)
            payload = b'{"ID":"%s-%09d",%s' % (prefix.encode(), i, tails[d])
            info = c.publish(f"{root}/{e}/access_swipe/{dev}", payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"publish refused: {mqtt.error_string(info.rc)}")
            window.append(info)
            while len(window) > WINDOW:
                window.popleft().wait_for_publish(timeout=120)
            sent += 1
            i += step
        if rate:
            time.sleep(0.002)
    for info in window:
        info.wait_for_publish(timeout=120)
    c.loop_stop()
    c.disconnect()
    done.put(sent)


def run_publishers(
    root: str, prefix: str, n: int, rate: float, seconds: float, tails: list[bytes]
) -> tuple[int, float]:
    """`n` publisher processes sharing `rate`; (records published, seconds it took)."""
    ctx = mp.get_context("fork")
    done = ctx.Queue()
    procs = [
        ctx.Process(target=publish, args=(root, prefix, k, n, rate / n, seconds, done, tails))
        for k in range(n)
    ]
    began = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(done.get(timeout=seconds + 300) for _ in procs)
    for p in procs:
        p.join()
    return total, time.perf_counter() - began


# ---- measuring ----------------------------------------------------------------------------------------
def bare_limit(seconds: float, tails: list[bytes]) -> dict[str, Any]:
    """Messages per second a subscriber that does nothing with them receives from this broker."""
    root = f"benchbare{uuid.uuid4().hex[:6]}"
    got = 0
    first = last = 0.0
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: Any, _m: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        with lock:
            now = time.perf_counter()
            first = first or now
            last = now
            got += 1

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{root}-sub", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect(*BROKER)
    sub.subscribe(f"{root}/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    published, _ = run_publishers(root, "bare", 1, 0, seconds, tails)
    deadline = time.monotonic() + 60
    while got < published and time.monotonic() < deadline:
        time.sleep(0.1)
    sub.loop_stop()
    sub.disconnect()
    rate = got / max(last - first, 1e-9)
    return {"published": published, "received": got, "records_per_s": round(rate)}


class Rss:
    """The server's RSS every second (MB)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples = pid, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append(int(line.split()[1]) / 1024)
            except OSError:
                return

    def __enter__(self) -> Rss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_stored(url: str, expected: int, timeout: float) -> tuple[int, float]:
    """Poll the record count until it reaches `expected` (or stops moving for `timeout` s)."""
    began = time.perf_counter()
    last, last_change = -1, time.monotonic()
    while True:
        n = count_rows(url)
        if n >= expected:
            return n, time.perf_counter() - began
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > timeout:
            return n, time.perf_counter() - began
        time.sleep(0.2)


class AlarmStream:
    """An SSE client on the live stream: the arrival time of each `created` alarm, by its first record."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.arrived: dict[str, float] = {}
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", f"{self.base}/api/v1/alarms/stream", headers=headers) as r,
        ):
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(": connected"):
                    self.connected.set()
                if not line.startswith("data:"):
                    continue
                now = time.time()
                change = orjson.loads(line[5:])
                if change.get("change") == "created":
                    for ref in change["alarm"].get("records") or []:
                        self.arrived.setdefault(ref, now)

    def __enter__(self) -> AlarmStream:
        self._thread.start()
        if not self.connected.wait(30):
            raise RuntimeError("the live stream did not connect")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()


def latency(
    root: str,
    url: str,
    base: str,
    token: str,
    rate: float,
    seconds: float,
    publishers: int,
    tails: list[bytes],
    first_sensor: int = 0,
) -> dict[str, Any]:
    """Each sample comes from its own smoke sensor (from `first_sensor` on), so that it creates an alarm
    rather than re-triggering an open one."""
    sent: dict[str, float] = {}
    samples = min(SENSORS - first_sensor, int(seconds * 10))
    with AlarmStream(base, token) as stream:
        before = count_rows(url)
        result: dict[str, Any] = {}

        def background() -> None:
            result["published"], result["seconds"] = run_publishers(
                root, "lat", publishers, rate, seconds, tails
            )

        bg = threading.Thread(target=background)
        bg.start()
        c = _client(f"bench-fire-{uuid.uuid4().hex[:6]}")
        time.sleep(1.0)  # the background load is running
        for s in range(first_sensor, first_sensor + samples):
            rid = f"fire-{uuid.uuid4().hex[:12]}"
            e, dev = sensor(s)
            payload = fire_record(s, rid)
            sent[f"fire_energy:{rid}"] = time.time()
            c.publish(f"{root}/{e}/fire_energy/{dev}", payload, qos=1)
            time.sleep(0.1)
        bg.join()
        stored, _ = wait_stored(url, before + result["published"], 30)
        deadline = time.monotonic() + 30
        while len(stream.arrived.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        c.loop_stop()
        c.disconnect()
    ms = [(stream.arrived[k] - t) * 1000 for k, t in sent.items() if k in stream.arrived]
    if not ms:
        raise RuntimeError("no alarm reached the live stream")
    return {
        "background_records_per_s": round(result["published"] / result["seconds"]),
        "alarms_published": len(sent),
        "alarms_on_stream": len(ms),
        "latency_ms_p50": round(_percentile(ms, 50), 1),
        "latency_ms_p95": round(_percentile(ms, 95), 1),
        "latency_ms_p99": round(_percentile(ms, 99), 1),
        "latency_ms_max": round(max(ms), 1),
        "stored_during": stored - before,
    }


class OwnBroker:
    """A Mosquitto of the benchmark's own on a free port, configured for bursts (BROKER_CONF)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> tuple[str, int]:
        exe = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if exe is None:
            return BROKER
        port = free_port()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(BROKER_CONF.format(port=port))
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return ("127.0.0.1", port)
            time.sleep(0.05)
        raise RuntimeError("the benchmark's broker did not start")

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def run(*, workdir: Path | None = None, **phases: Any) -> dict[str, Any]:
    global BROKER
    workdir = workdir or OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    with OwnBroker(workdir) as broker:
        BROKER = broker  # publisher processes are forked afterwards and inherit it
        result = _run(workdir=workdir, **phases)
    result["broker"] = (
        f"own mosquitto ({BROKER_CONF.splitlines()[3]})" if broker[1] != 1883 else "127.0.0.1:1883"
    )
    return result


def _run(
    *,
    rate: float,
    seconds: float,
    latency_rate: float,
    latency_seconds: float,
    burst_seconds: float,
    limit_seconds: float,
    publishers: int,
    workdir: Path | None = None,
) -> dict[str, Any]:
    workdir = workdir or OUT / "work"
    data_dir = workdir / "mqtt-sqlite"
    url = fresh_sqlite(data_dir)
    token = prepare(data_dir, url)
    tails = swipe_tails()
    limit = bare_limit(limit_seconds, tails)
    print(f"  limit: a bare subscriber receives {limit['records_per_s']:,} msg/s", file=sys.stderr)

    root = f"benchmq{uuid.uuid4().hex[:6]}"
    port = free_port()
    argv = [str(Path(sys.executable).parent / "anju"), "serve", "--port", str(port), "--mqtt",
            f"mqtt://{BROKER[0]}:{BROKER[1]}", "--mqtt-root", root]  # fmt: skip
    log = (data_dir / "server.log").open("wb")
    env = child_env(ANJU_DATA_DIR=str(data_dir), ANJU_DATABASE_URL=url)
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            _wait_healthy(client, proc)
        time.sleep(2.0)  # the gateway subscribes

        with Rss(proc.pid) as rss:
            published, pub_s = run_publishers(root, "sus", publishers, rate, seconds, tails)
            stored, drain_s = wait_stored(url, published, 60)
        sustained = {
            "target_records_per_s": rate,
            "seconds": seconds,
            "published": published,
            "published_per_s": round(published / pub_s),
            "stored": stored,
            "records_per_s": round(stored / (pub_s + drain_s)),
            "drain_seconds_after_publishing": round(drain_s, 1),
            "rss_mb_first": round(rss.samples[0], 1) if rss.samples else None,
            "rss_mb_max": round(max(rss.samples), 1) if rss.samples else None,
            "rss_mb_last": round(rss.samples[-1], 1) if rss.samples else None,
            "rss_mb_by_tenth": [
                round(rss.samples[i * len(rss.samples) // 10], 1) for i in range(10) if rss.samples
            ],
        }
        print(f"  sustained: {sustained}", file=sys.stderr)
        # First at a tenth of the sustained rate (what the pipeline adds when it keeps up), then at the
        # issue's 5,000 records/s.
        low_rate = max(100, sustained["records_per_s"] // 10)
        lat_low = latency(root, url, base, token, low_rate, 10, publishers, tails, first_sensor=0)
        print(f"  latency at {low_rate}/s: {lat_low}", file=sys.stderr)
        lat = latency(
            root, url, base, token, latency_rate, latency_seconds, publishers, tails, first_sensor=100
        )
        print(f"  latency: {lat}", file=sys.stderr)
        before = count_rows(url)
        published_b, burst_s = run_publishers(
            root, "burst", publishers, 10 * latency_rate, burst_seconds, tails
        )
        stored_b, drain_b = wait_stored(url, before + published_b, 120)
        burst = {
            "target_records_per_s": 10 * latency_rate,
            "seconds": burst_seconds,
            "published": published_b,
            "published_per_s": round(published_b / burst_s),
            "stored": stored_b - before,
            "lost": published_b - (stored_b - before),
            "drain_seconds_after_publishing": round(drain_b, 1),
            "server_alive": proc.poll() is None,
        }
        print(f"  burst: {burst}", file=sys.stderr)
    finally:
        _stop(proc)
        log.close()
    return {
        "benchmark": "mqtt_ingest",
        "db": "sqlite",
        "records": sustained["stored"],
        "records_per_s": sustained["records_per_s"],
        "target_records_per_s": TARGET_RATE,
        "limit_records_per_s": limit["records_per_s"],
        "ratio_to_limit": round(sustained["records_per_s"] / max(limit["records_per_s"], 1), 3),
        "server_peak_rss_mb": sustained["rss_mb_max"],
        "limit": limit,
        "sustained": sustained,
        "latency": lat,
        "latency_light_load": lat_low,
        "burst": burst,
        "devices": {"access_readers": READERS, "smoke_sensors": SENSORS, "estates": ESTATES},
        "publisher_processes": publishers,
        "reference": f"ThingsBoard single node on 2 vCPU: {THINGSBOARD:,} msg/s at 95% CPU",
        "source_digest": source_digest(),
        "met": {
            "records_per_s": sustained["records_per_s"] >= TARGET_RATE,
            "latency_p99": lat["latency_ms_p99"] <= TARGET_P99_MS,
            "burst_no_loss": burst["lost"] == 0 and burst["server_alive"],
        },
    }


def human(r: dict[str, Any]) -> str:
    s, lat, b = r["sustained"], r["latency"], r["burst"]
    return (
        f"mqtt ingest (rules on, {READERS:,} readers): {s['records_per_s']:,} rec/s sustained over "
        f"{s['seconds']:.0f} s (target {r['target_records_per_s']:,}; bare subscriber "
        f"{r['limit_records_per_s']:,} msg/s, ratio {r['ratio_to_limit']:.3f}); RSS {s['rss_mb_first']}→"
        f"{s['rss_mb_max']} MB; alarm latency at {lat['background_records_per_s']:,} rec/s: p50 "
        f"{lat['latency_ms_p50']} ms, p99 {lat['latency_ms_p99']} ms (at "
        f"{r['latency_light_load']['background_records_per_s']:,} rec/s: p99 "
        f"{r['latency_light_load']['latency_ms_p99']} ms); burst {b['published']:,} published, "
        f"{b['lost']} lost, drained {b['drain_seconds_after_publishing']} s after"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (about a minute in all)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--latency-rate", type=float, default=5_000)
    parser.add_argument("--latency-seconds", type=float, default=30, help="at most 40 (400 sensors)")
    parser.add_argument("--burst-seconds", type=float, default=30)
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.latency_seconds, args.burst_seconds = 15, 10, 5
    result = run(
        rate=args.rate,
        seconds=args.seconds,
        latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds,
        burst_seconds=args.burst_seconds,
        limit_seconds=5 if args.quick else 10,
        publishers=args.publishers,
        workdir=args.workdir,
    )
    print_json_line(result)
    print(human(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
