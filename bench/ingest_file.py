"""File import benchmark: `anju ingest FILE --type access_swipe --json` on an NDJSON file of N records.

The real CLI runs as a child process, so the peak RSS is the CLI's own (wait4's ru_maxrss). In the same
run the storage limit is measured: the same rows (the first 10,000 stored rows read back, with only the
ID varied, exactly as the file varies it) written into a fresh database with the same schema (migrated
by the application) by the fastest plain means of the driver:

* SQLite: the `sqlite3` module, batched `executemany` of 5,000 rows per transaction, WAL,
  synchronous=NORMAL (the application's own pragmas);
* PostgreSQL: psycopg 3 `COPY ... FROM STDIN`, 5,000 rows per transaction.

Only the executemany/COPY and the commit are timed for the limit (building the row tuples is not), so the
limit is if anything flattering and the ratio conservative.

    python -m bench.ingest_file --db sqlite --records 5000000
    python -m bench.ingest_file --db postgresql --records 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BIN,
    DISTINCT,
    OUT,
    RECORD_TYPE,
    Templates,
    child_env,
    count_rows,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    iter_batches,
    load_average,
    print_json_line,
    record_id,
    rows_like,
    run_child,
    source_digest,
    stored_rows,
    table_columns,
    upgrade,
    write_ndjson,
)

TARGET_RECORDS_PER_S = 50_000
TARGET_PEAK_MEMORY_MB = 300
TARGET_RATIO = 0.25
RAW_BATCH = 5_000


def ndjson_file(workdir: Path, records: int, *, reuse: bool = True) -> tuple[Path, float | None]:
    """The benchmark file for `records` records, written unless an complete one is already there."""
    path = workdir / f"{RECORD_TYPE}-{records}.ndjson"
    done = path.with_suffix(".complete")
    if reuse and path.exists() and done.exists():
        return path, None
    done.unlink(missing_ok=True)
    seconds = write_ndjson(path, records, Templates.build())
    done.write_text(str(records))
    return path, seconds


# ---- the storage limit ---------------------------------------------------------------------------------
def raw_sqlite(path: Path, templates: list[tuple[Any, ...]], records: int) -> list[float]:
    """Seconds per batch of executemany (+ commit) of `records` rows into a migrated, empty SQLite file."""
    table, columns = table_columns()
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        busy: list[float] = []
        for start, stop in iter_batches(records, RAW_BATCH):
            rows = rows_like(templates, start, stop)
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            busy.append(time.perf_counter() - t)
        return busy
    finally:
        conn.close()


def raw_postgres(url: str, templates: list[tuple[Any, ...]], records: int) -> list[float]:
    """Seconds per batch of COPY (+ commit), 5,000 rows per transaction, into a migrated, empty table."""
    import psycopg

    table, columns = table_columns()
    names = ", ".join(f'"{c}"' for c in columns)
    with psycopg.connect(url) as conn:
        busy: list[float] = []
        for start, stop in iter_batches(records, RAW_BATCH):
            rows = rows_like(templates, start, stop)
            t = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            busy.append(time.perf_counter() - t)
        return busy


# ---- one run -------------------------------------------------------------------------------------------
def run(
    records: int,
    db: str,
    workdir: Path | None = None,
    *,
    keep: bool = False,
    workers: int | None = None,
    no_alarms: bool = False,
) -> dict[str, Any]:
    """One file import and its storage limit; `workers` is passed as --workers (None: the CLI's default),
    `no_alarms` as --no-alarms (a backfill: the alarm rules do not judge the records)."""
    workdir = workdir or OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    path, gen_seconds = ndjson_file(workdir, records)

    # 1. the CLI, on a fresh database (it migrates the schema itself, as a first run would)
    cli_dir = workdir / f"cli-{db}"
    if db == "sqlite":
        cli_url = fresh_sqlite(cli_dir)
    else:
        fresh_sqlite(cli_dir)
        cli_url = fresh_postgres("anju_bench_cli")
    argv = [str(BIN / "anju"), "ingest", str(path), "--type", RECORD_TYPE, "--json"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if no_alarms:
        argv.append("--no-alarms")
    digest = source_digest()
    load_before = load_average()
    child = run_child(argv, child_env(ANJU_DATA_DIR=str(cli_dir), ANJU_DATABASE_URL=cli_url), cli_dir)
    if child.returncode != 0:
        raise RuntimeError(f"anju ingest failed ({child.returncode}):\n{child.stderr[-4000:]}")
    summary = json.loads(child.stdout)
    stored = count_rows(cli_url)
    if summary["accepted"] != records or stored != records:
        raise RuntimeError(f"expected {records} stored, CLI says {summary['accepted']}, table has {stored}")
    templates = stored_rows(cli_url, min(DISTINCT, records))
    if templates[0][0] != record_id(0):
        raise RuntimeError(f"first stored row is {templates[0][0]!r}, expected {record_id(0)!r}")
    if not keep:  # free the disk before the second copy
        if db == "sqlite":
            shutil.rmtree(cli_dir, ignore_errors=True)
        else:
            drop_postgres("anju_bench_cli")

    # 2. the storage limit: the same rows, same schema, plain driver
    raw_dir = workdir / f"raw-{db}"
    raw_url = fresh_sqlite(raw_dir) if db == "sqlite" else fresh_postgres("anju_bench_raw")
    upgrade(raw_url, raw_dir)
    if db == "sqlite":
        per_batch = raw_sqlite(raw_dir / "anju.db", templates, records)
    else:
        per_batch = raw_postgres(raw_url, templates, records)
    raw_seconds = sum(per_batch)
    raw_stored = count_rows(raw_url)
    if raw_stored != records:
        raise RuntimeError(f"raw load stored {raw_stored} rows, expected {records}")
    if not keep:
        if db == "sqlite":
            shutil.rmtree(raw_dir, ignore_errors=True)
        else:
            drop_postgres("anju_bench_raw")

    rate = records / child.seconds
    raw_rate = records / raw_seconds
    return {
        "benchmark": "file_import_backfill" if no_alarms else "file_import",
        "db": db,
        "alarm_rules": not no_alarms,
        "records": records,
        "file_bytes": path.stat().st_size,
        "file_generation_s": None if gen_seconds is None else round(gen_seconds, 2),
        "command": " ".join(["anju", "ingest", path.name, *argv[3:]]),
        "wall_s": round(child.seconds, 2),
        "records_per_s": round(rate),
        "cpu_s": round(child.cpu_seconds, 2),
        "records_per_cpu_s": round(records / child.cpu_seconds),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "cli_seconds": summary.get("seconds"),
        "cli_records_per_s": summary.get("records_per_second"),
        "workers": "CLI default" if workers is None else workers,
        "peak_processes": child.tree_peak_processes,
        "peak_pss_mb": round(child.tree_peak_pss_mb, 1),
        "peak_rss_sum_mb": round(child.tree_peak_rss_mb, 1),
        "main_process_peak_rss_mb": round(child.peak_rss_mb, 1),
        "source_digest": digest,
        "limit": "sqlite3 executemany, 5,000 rows/txn, WAL"
        if db == "sqlite"
        else "psycopg COPY, 5,000 rows/txn",
        "limit_s": round(raw_seconds, 2),
        "limit_records_per_s": round(raw_rate),
        "limit_records_per_s_by_tenth": _by_tenth(per_batch, RAW_BATCH),
        "ratio_to_limit": round(rate / raw_rate, 3),
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "target_peak_memory_mb": TARGET_PEAK_MEMORY_MB,
        "target_ratio": TARGET_RATIO,
        "met": {
            "records_per_s": rate >= TARGET_RECORDS_PER_S,
            "peak_memory": child.tree_peak_pss_mb < TARGET_PEAK_MEMORY_MB,
            "ratio": rate / raw_rate >= TARGET_RATIO,
        },
    }


def _by_tenth(per_batch: list[float], size: int) -> list[int]:
    """Rows/s of the limit in each tenth of the load: flat when the cost per row does not grow with the table."""
    n = len(per_batch)
    parts = [per_batch[i * n // 10 : (i + 1) * n // 10] for i in range(10)]
    return [round(len(p) * size / sum(p)) for p in parts if p and sum(p) > 0]


def human(r: dict[str, Any]) -> str:
    return (
        f"file import {r['db']}{'' if r.get('alarm_rules', True) else ' --no-alarms'}: {r['records']:,} records in {r['wall_s']:.1f} s = {r['records_per_s']:,}/s "
        f"(target {r['target_records_per_s']:,}), peak memory {r['peak_pss_mb']:.0f} MB PSS "
        f"(RSS sum {r['peak_rss_sum_mb']:.0f} MB, {r['peak_processes']} processes; target < "
        f"{r['target_peak_memory_mb']}); limit {r['limit_records_per_s']:,}/s ({r['limit']}), "
        f"ratio {r['ratio_to_limit']:.3f} (target ≥ {r['target_ratio']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workdir", type=Path, default=None, help="default: bench/out/work")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--workers", type=int, default=None, help="anju ingest --workers (default: its own)")
    parser.add_argument("--no-alarms", action="store_true", help="anju ingest --no-alarms (a backfill)")
    args = parser.parse_args()
    result = run(
        args.records, args.db, args.workdir, keep=args.keep, workers=args.workers, no_alarms=args.no_alarms
    )
    print_json_line(result)
    print(human(result))


if __name__ == "__main__":
    main()
