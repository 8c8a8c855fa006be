"""Every benchmark, sized so that `make bench` finishes in under 15 minutes on the 2-core machine.

* file import (the real `anju ingest` CLI) of 60,000 access_swipe records, SQLite and PostgreSQL,
  each against the raw storage limit of the same rows (executemany / COPY);
* HTTP batch ingest, one client, 1,000 records per request, 30,000 records, SQLite and PostgreSQL;
* MQTT ingestion with the rules on (bench/mqtt_ingest.py phases: 10 s sustained, light-load and
  5,000 rec/s latency, a 5 s burst) against a bare subscriber draining the same broker;
* CRITIC-TOPSIS over 10,000 communities x 32 indicators;
* registry queries on 10,000,000 stored records and 1,000,000 alarms (ID-number search through the
  blind index, the alarm list's first page) against their raw SQL;
* one community's full scorecard on a 1,000,000-record database;
* a cProfile of Pipeline.ingest on 10,000 records (SQLite): where the time goes.

The two large databases are built once and cached under ./anju-data/bench/ (about 5 GB and 1 GB); a first
run builds them side by side before measuring them, which takes a few minutes more than later runs.
Writes bench/out/results.json (each result with its wall time, bench_wall_s) and docs/bench-results.md
(the table, each figure with its ratio), prints the table. The rates of the larger runs (5 M-record files,
90 s MQTT phases) are the scripts' own defaults: see docs/benchmarks.md.

    python -m bench.run_all            # the sizes above
    python -m bench.run_all --quick    # small sizes, a smoke test (about 3 minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    evaluation_scale,
    evaluation_scorecard,
    http_ingest,
    ingest_file,
    mqtt_ingest,
    profile_ingest,
    registry_queries,
)
from bench.common import OUT, ROOT, is_built, machine

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
        if r["benchmark"] not in ("file_import", "file_import_backfill", "http_ingest", "mqtt_ingest"):
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


def markdown(report: dict[str, Any]) -> str:
    """The results table for docs/bench-results.md: every figure with its target and its ratio to the
    limit or peer measured in the same run."""
    m = report["machine"]
    lines = [
        "# Benchmark results (written by `make bench`)",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['mem_total_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}, PostgreSQL {m.get('postgresql')}; {m['date']}; load average at start "
        f"{m['load_average']}; whole run {report.get('elapsed_s')} s; quick={report['quick']}; code "
        f"{m['source_digest']}. See docs/benchmarks.md for how each is measured.",
        "",
        "| benchmark | db | size | measured | target | limit / peer (same run) | ratio | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        if "met" not in r:  # the profile: where the time goes, not a figure
            continue
        met = (
            "yes"
            if all(r["met"].values())
            else "no (" + ", ".join(k for k, v in r["met"].items() if not v) + ")"
        )
        b = r["benchmark"]
        if b in ("file_import", "file_import_backfill"):
            what = "file import `anju ingest`" if b == "file_import" else "backfill `anju ingest --no-alarms`"
            lines.append(
                f"| {what} | {r['db']} | {r['records']:,} records | {r['records_per_s']:,} rec/s, "
                f"{r['peak_pss_mb']:.0f} MB PSS | ≥ 50,000 rec/s, ratio ≥ 0.25 | {r['limit_records_per_s']:,} rec/s "
                f"({r['limit']}) | {r['ratio_to_limit']:.3f} | {met} |"
            )
        elif b == "http_ingest":
            lines.append(
                f"| HTTP batch ingest, 1,000/request | {r['db']} | {r['records']:,} records | {r['records_per_s']:,} "
                f"rec/s (p50 {r['latency_ms_p50']} ms, p99 {r['latency_ms_p99']} ms per request) | ≥ 20,000 rec/s "
                f"| — | {r['records_per_s'] / 20_000:.3f} of target | {met} |"
            )
        elif b == "mqtt_ingest":
            s, lat, low, bu = r["sustained"], r["latency"], r["latency_light_load"], r["burst"]
            lines.append(
                f"| MQTT ingest, rules on | sqlite | {s['seconds']:.0f} s, {s['stored']:,} records | "
                f"{r['records_per_s']:,} rec/s | ≥ 10,000 rec/s | {r['limit_records_per_s']:,} msg/s (bare "
                f"subscriber) | {r['ratio_to_limit']:.3f} | {'yes' if r['met']['records_per_s'] else 'no'} |"
            )
            lines.append(
                f"| event-to-alarm latency (publish → SSE) | sqlite | {lat['alarms_on_stream']} alarms at "
                f"{lat['background_records_per_s']:,} rec/s; {low['alarms_on_stream']} at "
                f"{low['background_records_per_s']:,} rec/s | p50 {lat['latency_ms_p50']} / p99 "
                f"{lat['latency_ms_p99']} ms; light load p50 {low['latency_ms_p50']} / p99 {low['latency_ms_p99']} ms "
                f"| p99 ≤ 100 ms at 5,000 rec/s | — | {100 / max(lat['latency_ms_p99'], 1e-9):.3f} of target | "
                f"{'yes' if r['met']['latency_p99'] else 'no'} |"
            )
            lines.append(
                f"| burst, 10× for {bu['seconds']:.0f} s | sqlite | {bu['published']:,} published | {bu['lost']} "
                f"lost, drained {bu['drain_seconds_after_publishing']} s after | no loss, no crash | — | — | "
                f"{'yes' if r['met']['burst_no_loss'] else 'no'} |"
            )
        elif b == "evaluation_scale":
            lines.append(
                f"| CRITIC-TOPSIS | — | {r['communities']:,} × {r['indicators']} | best {r['best']['total_s'] * 1000:.1f} "
                f"ms, median {r['median']['total_s'] * 1000:.1f} ms | < 1,000 ms | — | "
                f"{1.0 / max(r['median']['total_s'], 1e-9):.1f}× under target | {met} |"
            )
        elif b == "registry_queries":
            for key, name in (("search_by_id_number", "ID-number search (blind index)"),
                              ("alarm_list_first_page", "alarm list, first page of 50")):  # fmt: skip
                q = r[key]
                lines.append(
                    f"| {name} | sqlite | {r['records']:,} records, {r['alarms']:,} alarms; {r['fixture']} | "
                    f"p50 {q['p50_ms']} ms, p99 {q['p99_ms']} ms | p99 ≤ {r['target_ms']:.0f} ms | raw SQL p50 "
                    f"{q['peer_p50_ms']} ms, p99 {q['peer_p99_ms']} ms | {q['ratio_p50']} | "
                    f"{'yes' if q['p99_ms'] <= r['target_ms'] else 'no'} |"
                )
        elif b == "evaluation_scorecard":
            lines.append(
                f"| one community's scorecard from platform data | sqlite | {r['records']:,} records, "
                f"{int(r['build'].get('people', 0)):,} people, {int(r['build'].get('houses', 0)):,} houses; "
                f"{r['fixture']} | median {r['median_ms']} ms, best {r['best_ms']} ms | < 200 ms | — | "
                f"{200 / max(r['median_ms'], 1e-9):.3f} of target | {met} |"
            )
    lines += ["", f"Reference: {THINGSBOARD}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--file-records", type=int, default=None, help="default 60,000 (quick: 20,000)")
    parser.add_argument("--http-records", type=int, default=None, help="default 30,000 (quick: 10,000)")
    parser.add_argument("--registry-records", type=int, default=None, help="default 10 M (quick: 100,000)")
    parser.add_argument("--scorecard-records", type=int, default=None, help="default 1 M (quick: 50,000)")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument(
        "--skip",
        action="append",
        choices=("file", "http", "mqtt", "scale", "registry", "scorecard", "profile"),
        default=[],
    )
    parser.add_argument("--table", type=Path, default=ROOT / "docs" / "bench-results.md")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch files (default: bench/out/work)")
    parser.add_argument("--workers", type=int, default=None, help="anju ingest --workers (default: its own)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other results already in --out (re-run a part)"
    )
    args = parser.parse_args(argv)
    file_records = args.file_records or (20_000 if args.quick else 60_000)
    http_records = args.http_records or (10_000 if args.quick else 30_000)
    registry_records = args.registry_records or (100_000 if args.quick else 10_000_000)
    scorecard_records = args.scorecard_records or (50_000 if args.quick else 1_000_000)
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
        args.table.write_text(markdown(report))

    steps: list[tuple[str, Any]] = []
    for db in dbs:
        if "file" not in args.skip:
            steps.append(
                ("file", lambda db=db: ingest_file.run(file_records, db, args.workdir, workers=args.workers))
            )
        if "http" not in args.skip:
            steps.append(("http", lambda db=db: http_ingest.run(http_records, db, args.workdir)))
    if "file" not in args.skip and "sqlite" in dbs:
        # The same file as a backfill of past records: what the alarm rules cost the import.
        steps.append(
            (
                "file",
                lambda: ingest_file.run(
                    file_records, "sqlite", args.workdir, workers=args.workers, no_alarms=True
                ),
            )
        )
    if "mqtt" not in args.skip:
        steps.append(("mqtt", lambda: mqtt_ingest.run(
            rate=mqtt_ingest.TARGET_RATE, seconds=10 if not args.quick else 8, latency_rate=5_000,
            latency_seconds=10 if not args.quick else 5, burst_seconds=5 if not args.quick else 3,
            limit_seconds=5, publishers=1, workdir=args.workdir)))  # fmt: skip
    if "scale" not in args.skip:
        steps.append(("scale", lambda: _tag(evaluation_scale.run(10_000, 32, 7), "evaluation_scale")))
    alarms = registry_records // 10
    estates = 5 if not args.quick else 1
    fresh: set[str] = set()
    if "registry" not in args.skip or "scorecard" not in args.skip:
        steps.append(("fixtures", lambda: _fixtures(args.skip, registry_records, alarms, scorecard_records,
                                                    estates, fresh)))  # fmt: skip
    if "registry" not in args.skip:
        steps.append(
            (
                "registry",
                lambda: registry_queries.run(
                    registry_records, alarms, 200 if not args.quick else 30, fresh="registry" in fresh
                ),
            )
        )
    if "scorecard" not in args.skip:
        steps.append(
            (
                "scorecard",
                lambda: evaluation_scorecard.run(scorecard_records, estates, 7, fresh="scorecard" in fresh),
            )
        )
    if "profile" not in args.skip:
        steps.append(("profile", lambda: profile_ingest.profile(10_000, 15, "sqlite")))
    for kind, step in steps:
        t = time.time()
        result = step()
        if result is None:  # a preparation (the fixtures), not a benchmark
            print(f"{kind}: {time.time() - t:.0f} s", flush=True)
            continue
        result["bench_wall_s"] = round(time.time() - t, 1)
        results.append(result)
        save()
        module: Any = {"file": ingest_file, "http": http_ingest, "profile": profile_ingest, "mqtt": mqtt_ingest,
                       "registry": registry_queries, "scorecard": evaluation_scorecard}.get(kind)  # fmt: skip
        print(module.human(result) if module else json.dumps(result)[:400], flush=True)
    print()
    print(table(report["results"]))
    print(f"\nresults: {args.out}, table: {args.table}")
    sys.stdout.flush()


def _fixtures(
    skip: list[str], registry_records: int, alarms: int, scorecard_records: int, estates: int, fresh: set[str]
) -> None:
    """Build the missing large databases side by side: each build is mostly one core's work (SQL inserts
    and index sorts), and nothing is measured meanwhile. Notes in `fresh` which ones were built now."""
    child = None
    if "scorecard" not in skip and not is_built(evaluation_scorecard.fixture_dir(scorecard_records, estates)):
        argv = [sys.executable, "-m", "bench.evaluation_scorecard", "--build-only",
                "--records", str(scorecard_records), "--estates", str(estates)]  # fmt: skip
        child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        fresh.add("scorecard")
    try:
        directory = registry_queries.fixture_dir(registry_records, alarms)
        if "registry" not in skip and not is_built(directory):
            registry_queries.build_fixture(directory, registry_records, alarms)
            fresh.add("registry")
    finally:
        if child is not None and child.wait() != 0:
            raise RuntimeError(f"building the scorecard database failed ({child.returncode})")


def _tag(result: dict[str, Any], name: str) -> dict[str, Any]:
    """The older scripts' results in run_all's shape (benchmark, db, met as a mapping)."""
    result.pop("machine", None)
    return {"benchmark": name, "db": "—", **result, "met": {"target": result.get("meets_target", True)}}


if __name__ == "__main__":
    main()
