"""Every ingestion benchmark, at full size unless --quick: what `make bench` runs.

* file import (the real `anju ingest` CLI) of 5,000,000 access_swipe records, SQLite and PostgreSQL,
  each against the raw storage limit of the same rows (executemany / COPY);
* HTTP batch ingest, one client, 1,000 records per request, 300,000 records, SQLite and PostgreSQL;
* a cProfile of Pipeline.ingest on 50,000 records (SQLite): where the time goes.

Writes bench/out/results.json and prints a table. The 5 M file import takes several minutes per database.

    python -m bench.run_all            # full size
    python -m bench.run_all --quick    # 50,000-record file, 20,000 HTTP records
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import http_ingest, ingest_file, profile_ingest
from bench.common import OUT, machine

THINGSBOARD = "ThingsBoard single node on 2 vCPU: 5,000 msg/s at 95% CPU (published reference figure)"


def _fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'benchmark':<22} {'db':<10} {'records':>10} {'rec/s':>8} {'target':>8} {'limit/s':>8} "
        f"{'ratio':>6} {'PSS MB':>8}  met"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        if r["benchmark"] == "profile_ingest":
            continue
        met = (
            "yes"
            if all(r["met"].values())
            else "NO (" + ", ".join(k for k, v in r["met"].items() if not v) + ")"
        )
        peak = r.get("peak_pss_mb", r.get("server_peak_pss_mb", r.get("server_peak_rss_mb")))
        ratio = r.get("ratio_to_limit")
        lines.append(
            f"{r['benchmark']:<22} {r['db']:<10} {r['records']:>10,} {_fmt_rate(r['records_per_s']):>8} "
            f"{_fmt_rate(r['target_records_per_s']):>8} {_fmt_rate(r.get('limit_records_per_s')):>8} "
            f"{'—' if ratio is None else f'{ratio:.3f}':>6} {peak:>8.0f}  {met}"
        )
    lines.append(f"reference: {THINGSBOARD}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--file-records", type=int, default=None, help="default 5,000,000 (quick: 50,000)")
    parser.add_argument("--http-records", type=int, default=None, help="default 300,000 (quick: 20,000)")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--skip", action="append", choices=("file", "http", "profile"), default=[])
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch files (default: bench/out/work)")
    parser.add_argument("--workers", type=int, default=None, help="anju ingest --workers (default: its own)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other results already in --out (re-run a part)"
    )
    args = parser.parse_args(argv)
    file_records = args.file_records or (50_000 if args.quick else 5_000_000)
    http_records = args.http_records or (20_000 if args.quick else 300_000)
    dbs = args.db or ["sqlite", "postgresql"]

    started = time.time()
    results: list[dict[str, Any]] = []
    report: dict[str, Any] = {"machine": machine(), "quick": args.quick, "results": results}

    earlier: list[dict[str, Any]] = []
    if args.merge and args.out.exists():
        earlier = json.loads(args.out.read_text())["results"]

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report["elapsed_s"] = round(time.time() - started)
        fresh = {(r["benchmark"], r["db"]) for r in results}
        kept = [r for r in earlier if (r["benchmark"], r["db"]) not in fresh]
        report["results"] = kept + results
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")

    steps: list[tuple[str, Any]] = []
    for db in dbs:
        if "file" not in args.skip:
            steps.append(
                ("file", lambda db=db: ingest_file.run(file_records, db, args.workdir, workers=args.workers))
            )
        if "http" not in args.skip:
            steps.append(("http", lambda db=db: http_ingest.run(http_records, db, args.workdir)))
    if "profile" not in args.skip:
        steps.append(("profile", lambda: profile_ingest.profile(50_000, 15, "sqlite")))
    for kind, step in steps:
        result = step()
        results.append(result)
        save()
        module = {"file": ingest_file, "http": http_ingest, "profile": profile_ingest}[kind]
        print(module.human(result), flush=True)
    print()
    print(table(report["results"]))
    print(f"\nresults: {args.out}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
