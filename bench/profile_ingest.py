"""Where the file import spends its time: cProfile of `Pipeline.ingest` on 50,000 access_swipe records.

The records are decoded up front (`iter_ndjson`, as the CLI does) and handed to `Pipeline.ingest` in
batches of `settings.batch_size` (5,000: what `ingest_stream` does), on a fresh SQLite database (or
PostgreSQL with --db postgresql). Prints the top functions by own time (tottime) with their share of the
profiled total, and the un-profiled time per record of each stage (decode, validate, the whole ingest),
because cProfile's per-call overhead inflates code made of many small calls.

    python -m bench.profile_ingest [--records 50000] [--top 15] [--db sqlite]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path
from typing import Any

from bench.common import (
    OUT,
    RECORD_TYPE,
    Templates,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    print_json_line,
)


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":  # built-ins: "<method 'executemany' of 'sqlite3.Cursor' objects>"
        return name
    for marker in ("/src/", "/site-packages/", "/lib/python"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def _open(db: str, name: str) -> Any:
    from anju.config import Settings
    from anju.services import open_services
    from anju.standard.spec import record_type

    data_dir = OUT / "work" / f"profile-{name}"
    url = fresh_sqlite(data_dir)
    if db == "postgresql":
        url = fresh_postgres(f"anju_bench_profile_{name}")
    svc = open_services(Settings(data_dir=data_dir, database_url=url))
    _ = svc.pipeline.dictionaries
    svc.pipeline.validator(record_type(RECORD_TYPE))
    return svc


def _close(svc: Any, db: str, name: str) -> None:
    svc.close()
    if db == "postgresql":
        drop_postgres(f"anju_bench_profile_{name}")


def stage_times(records: int, templates: Templates, db: str) -> dict[str, float]:
    """Microseconds per record of decoding, validating, and of the whole Pipeline.ingest, un-profiled."""
    from anju.ingest.decode import iter_ndjson
    from anju.standard.spec import record_type
    from anju.standard.validate import new_context

    lines = templates.lines(0, records)
    t = time.perf_counter()
    items = list(iter_ndjson(lines))
    decode = time.perf_counter() - t
    svc = _open(db, "stages")
    try:
        pipeline = svc.pipeline
        validator = pipeline.validator(record_type(RECORD_TYPE))
        ctx = new_context(pipeline.clock(), svc.settings)
        t = time.perf_counter()
        for item in items:
            validator.validate(item.obj, ctx)
        validate = time.perf_counter() - t
        size = svc.settings.batch_size
        t = time.perf_counter()
        for start in range(0, records, size):
            pipeline.ingest(RECORD_TYPE, items[start : start + size], source="bench")
        ingest = time.perf_counter() - t
    finally:
        _close(svc, db, "stages")
    per = 1e6 / records
    return {
        "decode_us": round(decode * per, 1),
        "validate_us": round(validate * per, 1),
        "ingest_us": round(ingest * per, 1),
        "store_us": round((ingest - validate) * per, 1),
    }


def profile(
    records: int = 50_000, top: int = 15, db: str = "sqlite", dump: Path | None = None
) -> dict[str, Any]:
    from anju.ingest.decode import iter_ndjson

    templates = Templates.build()
    items = list(iter_ndjson(templates.lines(0, records)))
    svc = _open(db, "cprofile")
    try:
        size = svc.settings.batch_size
        profiler = cProfile.Profile()
        t = time.perf_counter()
        profiler.enable()
        for start in range(0, records, size):
            result = svc.pipeline.ingest(RECORD_TYPE, items[start : start + size], source="bench")
            if result.accepted != len(items[start : start + size]):
                raise RuntimeError(f"not all stored: {result.to_dict()}")
        profiler.disable()
        wall = time.perf_counter() - t
    finally:
        _close(svc, db, "cprofile")
    if dump is not None:
        profiler.dump_stats(dump)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for func, (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, ncalls, cumtime, _label(func)))
    rows.sort(reverse=True)
    return {
        "benchmark": "profile_ingest",
        "db": db,
        "records": records,
        "profiled_wall_s": round(wall, 2),
        "profiled_total_tottime_s": round(total, 2),
        "top": [
            {
                "function": label,
                "ncalls": n,
                "tottime_s": round(tt, 3),
                "share": round(tt / total, 3),
                "cumtime_s": round(ct, 3),
            }
            for tt, n, ct, label in rows[:top]
        ],
        "unprofiled_per_record": stage_times(records, templates, db),
    }


def human(r: dict[str, Any]) -> str:
    lines = [
        f"cProfile of Pipeline.ingest on {r['records']:,} records ({r['db']}): "
        f"{r['profiled_total_tottime_s']} s profiled",
        f"{'tottime':>8} {'share':>6} {'ncalls':>9}  function",
    ]
    for row in r["top"]:
        lines.append(f"{row['tottime_s']:8.3f} {row['share']:6.1%} {row['ncalls']:9,}  {row['function']}")
    s = r["unprofiled_per_record"]
    lines.append(
        f"un-profiled, µs per record: decode {s['decode_us']}, validate {s['validate_us']}, "
        f"whole ingest {s['ingest_us']} (of which storing {s['store_us']})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--out", type=Path, default=None, help="also dump the raw profile here")
    args = parser.parse_args()
    result = profile(args.records, args.top, args.db, args.out)
    print_json_line(result)
    print(human(result))


if __name__ == "__main__":
    main()
