"""HTTP batch ingest benchmark: one keep-alive client POSTing JSON arrays of 1,000 access_swipe records.

The server is the real application (`uvicorn anju.web.app:create_app --factory`, one process, the
default event loop and HTTP parser of the installed uvicorn) in a child process on a free port, over a
fresh database given by ANJU_DATA_DIR / ANJU_DATABASE_URL. The request bodies are built before the clock
starts, so the client costs little more than sending; one un-timed warm-up request (its own IDs) loads
the dictionaries and compiles the validator. Every response must say that all 1,000 records were stored.

    python -m bench.http_ingest --db sqlite --records 300000
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    OUT,
    RECORD_TYPE,
    Templates,
    TreeMemory,
    child_env,
    count_rows,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    iter_batches,
    print_json_line,
    source_digest,
)

TARGET_RECORDS_PER_S = 20_000
BATCH = 1_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(client: httpx.Client, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(records: int, db: str, workdir: Path | None = None, *, keep: bool = False) -> dict[str, Any]:
    workdir = workdir or OUT / "work"
    data_dir = workdir / f"http-{db}"
    url = fresh_sqlite(data_dir) if db == "sqlite" else fresh_postgres("anju_bench_http")
    if db != "sqlite":
        fresh_sqlite(data_dir)
    templates = Templates.build()
    bodies = [templates.json_array(start, stop) for start, stop in iter_batches(records, BATCH)]
    warmup = templates.json_array(records, records + BATCH)
    token = _token(data_dir, url)
    port = free_port()
    digest = source_digest()
    argv = [sys.executable, "-m", "uvicorn", "anju.web.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    log = (data_dir / "server.log").open("wb")
    env = child_env(ANJU_DATA_DIR=str(data_dir), ANJU_DATABASE_URL=url)
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    path = f"/api/v1/records/{RECORD_TYPE}"
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    latencies: list[float] = []
    memory = TreeMemory(proc.pid, interval=0.5)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client, memory:
            _wait_healthy(client, proc)
            r = client.post(path, content=warmup, headers=headers)
            r.raise_for_status()
            cpu0 = _cpu_seconds(proc.pid)
            started = time.perf_counter()
            for n, body in enumerate(bodies):
                t = time.perf_counter()
                try:
                    r = client.post(path, content=body, headers=headers)
                except httpx.TransportError as exc:
                    time.sleep(0.5)
                    raise RuntimeError(
                        f"request {n + 1}/{len(bodies)} failed ({exc!r}); server exit status {proc.poll()}, "
                        f"log: {(data_dir / 'server.log').read_text(errors='replace')[-2000:]!r}"
                    ) from exc
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:1000]}")
                result = r.json()
                if result["accepted"] + result["duplicates"] != result["received"] or result["rejected"]:
                    raise RuntimeError(f"not all stored: {result}")
            seconds = time.perf_counter() - started
            server_cpu = _cpu_seconds(proc.pid) - cpu0
    finally:
        _stop(proc)
        log.close()
    stored = count_rows(url)
    if stored != records + BATCH:
        raise RuntimeError(f"expected {records + BATCH} stored rows, found {stored}")
    if not keep and db != "sqlite":
        drop_postgres("anju_bench_http")
    if not keep and db == "sqlite":
        fresh_sqlite(data_dir)
    rate = records / seconds
    return {
        "benchmark": "http_ingest",
        "db": db,
        "records": records,
        "records_per_request": BATCH,
        "requests": len(bodies),
        "request_bytes_avg": round(sum(map(len, bodies)) / len(bodies)),
        "seconds": round(seconds, 2),
        "records_per_s": round(rate),
        "latency_ms_p50": round(_percentile(latencies, 50) * 1000, 1),
        "latency_ms_p99": round(_percentile(latencies, 99) * 1000, 1),
        "latency_ms_by_tenth": _by_tenth(latencies),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_share": round(server_cpu / seconds, 2),
        "server_peak_rss_mb": round(memory.root_hwm_mb, 1),
        "server_peak_pss_mb": round(memory.peak_pss_kib / 1024, 1),
        "server_processes": memory.peak_processes,
        "source_digest": digest,
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "met": {"records_per_s": rate >= TARGET_RECORDS_PER_S},
    }


def _token(data_dir: Path, url: str) -> str:
    """A bearer token of a user allowed to ingest (records:edit), made before the server starts; the
    schema is migrated here, as the server would on its first start."""
    import uuid

    from anju.config import Settings
    from anju.services import open_services

    svc = open_services(Settings(data_dir=data_dir, database_url=url))
    try:
        password = uuid.uuid4().hex
        svc.identity.create_user("bench-ingest", password, "platform_admin", None)
        return str(svc.identity.issue(svc.identity.authenticate("bench-ingest", password))[0])
    finally:
        svc.close()


def _by_tenth(latencies: list[float]) -> list[float]:
    """Mean request latency (ms) in each tenth of the run: flat when the cost per batch does not grow."""
    n = len(latencies)
    parts = [latencies[i * n // 10 : (i + 1) * n // 10] for i in range(10)]
    return [round(sum(p) / len(p) * 1000, 1) for p in parts if p]


def _stop(proc: subprocess.Popen[bytes], grace: float = 30) -> Any:
    """Stop the server (SIGINT, then SIGKILL after `grace` seconds); its rusage, from wait4."""
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        time.sleep(0.05)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def human(r: dict[str, Any]) -> str:
    return (
        f"http ingest {r['db']}: {r['records']:,} records in {r['requests']} requests of {r['records_per_request']:,}"
        f" in {r['seconds']:.1f} s = {r['records_per_s']:,}/s (target {r['target_records_per_s']:,}); "
        f"latency p50 {r['latency_ms_p50']} ms, p99 {r['latency_ms_p99']} ms; server CPU "
        f"{r['server_cpu_share']:.0%} of one core, peak RSS {r['server_peak_rss_mb']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workdir", type=Path, default=None, help="default: bench/out/work")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    result = run(args.records, args.db, args.workdir, keep=args.keep)
    print_json_line(result)
    print(human(result))


if __name__ == "__main__":
    main()
