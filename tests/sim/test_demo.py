"""`anju demo` from a fresh data directory: a server that answers /healthz quickly, live alarms within the
first minute, and a clean stop on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alarm_types(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2) as conn:
            return {r[0] for r in conn.execute("SELECT type FROM alarm")}
    except sqlite3.OperationalError:
        return set()


def test_demo_serves_and_raises_live_alarms_within_a_minute(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "ANJU_DATA_DIR": str(tmp_path / "demo")}
    env.pop("ANJU_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "anju.cli", "demo", "--port", str(port), "--households", "40"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    try:
        up = None
        while time.monotonic() - started < 60 and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    up = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert up is not None, (
            proc.stdout.read().decode() if proc.poll() is not None and proc.stdout else "no answer"
        )
        db = tmp_path / "demo" / "demo.db"
        types: set[str] = set()
        while time.monotonic() - started < 75 and not {"perimeter_intrusion", "watchlist_vehicle"} <= types:
            time.sleep(1)
            types = _alarm_types(db)
        assert {"perimeter_intrusion", "watchlist_vehicle"} <= types, types
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.returncode == 0, output
    assert "demo-admin" in output and f"http://127.0.0.1:{port}" in output and "已停止" in output
