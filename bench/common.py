"""Shared helpers for the benchmarks: fast NDJSON generation, fresh databases, peak RSS of a child.

Records come from `SampleFactory` (valid access_swipe records, deterministic for a seed). Building
5 million of them one by one would take longer than importing them, so ~10,000 distinct records are
built once and only the `ID` varies afterwards (`as-000000000`, `as-000000001`, ...), stamped in with
a bytes template. Every record is distinct (the ID takes part in the row digest) and valid.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RECORD_TYPE = "access_swipe"
DISTINCT = 10_000
PG_ADMIN_URL = os.environ.get("ANJU_BENCH_PG_URL", "postgresql://root@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent


def record_id(i: int) -> str:
    return f"as-{i:09d}"


@dataclass(frozen=True)
class Templates:
    """The JSON of `DISTINCT` records without their ID: b'"KMFS_MC":...}' (the tail after `{"ID":"…",`)."""

    tails: list[bytes]

    @classmethod
    def build(cls, distinct: int = DISTINCT, seed: int = 1) -> Templates:
        from anju.standard.samples import SampleFactory
        from anju.standard.spec import record_type

        rtype = record_type(RECORD_TYPE)
        factory = SampleFactory(seed)
        tails = []
        for i in range(distinct):
            rec = factory.record(rtype, i)
            del rec["ID"]
            tails.append(orjson.dumps(rec)[1:])
        return cls(tails)

    def line(self, i: int) -> bytes:
        return b'{"ID":"as-%09d",%s' % (i, self.tails[i % len(self.tails)])

    def lines(self, start: int, stop: int) -> list[bytes]:
        tails, n = self.tails, len(self.tails)
        return [b'{"ID":"as-%09d",%s' % (i, tails[i % n]) for i in range(start, stop)]

    def json_array(self, start: int, stop: int) -> bytes:
        return b"[" + b",".join(self.lines(start, stop)) + b"]"


def write_ndjson(path: Path, records: int, templates: Templates | None = None, chunk: int = 50_000) -> float:
    """Write `records` access_swipe records to `path`, one per line; returns the seconds it took."""
    started = time.perf_counter()
    templates = templates or Templates.build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb", buffering=8 * 1024 * 1024) as fh:
        for start in range(0, records, chunk):
            lines = templates.lines(start, min(start + chunk, records))
            lines.append(b"")
            fh.write(b"\n".join(lines))
    return time.perf_counter() - started


# ---- databases -----------------------------------------------------------------------------------------
def fresh_sqlite(directory: Path) -> str:
    """An empty data directory with no database yet; returns the SQLite URL for it."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return f"sqlite:///{directory / 'anju.db'}"


def _pg_parts(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base, name


def fresh_postgres(name: str) -> str:
    """Drop and create database `name` on the benchmark server; returns its URL."""
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{_pg_parts(PG_ADMIN_URL)[0]}/{name}"


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade(url: str, data_dir: Path) -> None:
    """Create the schema exactly as the application does (alembic migrations to head)."""
    from anju.config import Settings
    from anju.services import open_services

    svc = open_services(Settings(data_dir=data_dir, database_url=url))
    svc.close()


def table_columns() -> tuple[str, list[str]]:
    """The record table's name and the columns the pipeline writes, in its order (no `pk`)."""
    from anju.ingest.pipeline import META_COLUMNS
    from anju.standard.spec import record_type

    rtype = record_type(RECORD_TYPE)
    return rtype.table_name, [f.column for f in rtype.fields] + list(META_COLUMNS)


def stored_rows(url: str, limit: int) -> list[tuple[Any, ...]]:
    """The first `limit` stored rows (by pk), in `table_columns()` order, in the driver's own form."""
    table, columns = table_columns()
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'SELECT {names} FROM "{table}" ORDER BY pk LIMIT {int(limit)}'
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [tuple(r) for r in conn.execute(sql)]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        return [tuple(r) for r in pg.execute(sql)]


def count_rows(url: str) -> int:
    table, _ = table_columns()
    sql = f'SELECT count(*) FROM "{table}"'
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        row = pg.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def rows_like(templates: Sequence[tuple[Any, ...]], start: int, stop: int) -> list[tuple[Any, ...]]:
    """Rows for records start..stop: the stored row of the same template with its ID (column 0) set."""
    n = len(templates)
    return [(record_id(i), *templates[i % n][1:]) for i in range(start, stop)]


def iter_batches(records: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, records, size):
        yield start, min(start + size, records)


# ---- processes -----------------------------------------------------------------------------------------
def _descendants(root: int) -> list[int]:
    """`root` and every process below it (worker pools included), from the ppid field of /proc/PID/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """Samples the memory of a process and all its descendants every `interval` seconds, in a thread.

    rss: the sum of the processes' resident sets (pages shared by forked workers counted in each);
    pss: the sum of their proportional set sizes (shared pages split between the sharers): what the
    tree really occupies, and what a container's memory limit would see (page cache aside);
    hwm: each process's own high-water mark (VmHWM, exact but for the last interval before it exits).

    Not getrusage/wait4's ru_maxrss: Linux carries the parent's high-water mark over the fork and exec
    into the child's ru_maxrss, so a child of a big benchmark process reports the benchmark's peak.
    """

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss_kib = self.peak_pss_kib = self.peak_processes = 0
        self.hwm_kib: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        pids = _descendants(self.pid)
        rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
        pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_pss_kib = max(self.peak_pss_kib, pss)
        self.peak_processes = max(self.peak_processes, len(pids))
        for p in pids:
            self.hwm_kib[p] = max(self.hwm_kib.get(p, 0), _kib(f"/proc/{p}/status", "VmHWM:"))

    @property
    def root_hwm_mb(self) -> float:
        return self.hwm_kib.get(self.pid, 0) / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


@dataclass
class ChildRun:
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system of the child and of the children it waited for (worker processes)
    peak_rss_mb: float  # the main process's own peak (VmHWM, sampled; see TreeMemory)
    tree_peak_rss_mb: float  # peak of the summed RSS of the process tree (sampled)
    tree_peak_pss_mb: float  # peak of the summed PSS of the process tree (sampled)
    tree_peak_processes: int
    stdout: str
    stderr: str


def run_child(argv: list[str], env: dict[str, str], workdir: Path) -> ChildRun:
    """Run a command to completion, sampling the memory of its process tree (see TreeMemory)."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / "child.stdout", workdir / "child.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        with TreeMemory(proc.pid) as memory:
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        returncode=proc.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=memory.root_hwm_mb,
        tree_peak_rss_mb=memory.peak_rss_kib / 1024,
        tree_peak_pss_mb=memory.peak_pss_kib / 1024,
        tree_peak_processes=memory.peak_processes,
        stdout=out_path.read_text(),
        stderr=err_path.read_text(),
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJU_")}
    env.update(extra)
    return env


# ---- the machine ---------------------------------------------------------------------------------------
def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def source_digest() -> str:
    """A digest of src/anju (the tree is edited while benchmarks run: this says which code was measured)."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted((ROOT / "src" / "anju").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def machine() -> dict[str, Any]:
    mem_kib = _first("/proc/meminfo", "MemTotal")
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "sched_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "mem_total_gib": round(int(mem_kib.split()[0]) / 1024 / 1024, 1) if mem_kib else None,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average": load_average(),
        "source_digest": source_digest(),
    }
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL) as pg:
            row = pg.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else None
    except Exception as exc:  # the machine description must not fail the benchmark
        info["postgresql"] = f"unavailable: {exc}"
    return info


def print_json_line(data: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


# ---- the large databases built once and cached (registry_queries, evaluation_scorecard) -----------------
def is_built(directory: Path) -> bool:
    return (directory / "built.json").exists()


def read_built(directory: Path) -> dict[str, Any]:
    """What the build of a cached database said (its built.json)."""
    data: dict[str, Any] = orjson.loads((directory / "built.json").read_bytes())
    return data


def record_build(directory: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `build` (which fills `directory`), time it, and write what it returned with its seconds to
    built.json, the mark of a finished build; what was written."""
    t = time.perf_counter()
    built = {**build()}
    built["seconds"] = round(time.perf_counter() - t, 1)
    (directory / "built.json").write_bytes(orjson.dumps(built))
    return built
