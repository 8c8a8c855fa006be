"""Registry queries on a large store (issue 7): search by ID number through the blind index, and the
alarm list's first page, each with its raw SQL on the same database as the peer.

The database (SQLite) holds --records access_swipe records and --alarms alarms:
* a planted set of --planted records made through the real pipeline (`Pipeline.ingest`: validated,
  personal fields SM4-GCM-sealed, ID numbers blind-indexed with the deployment's key), whose ID numbers
  are the look-up targets;
* filler rows made with SQL (a recursive CTE), each a copy of a planted row with its own record ID and its
  own random 128-bit blind indexes (what HMAC-SM3 output looks like), carrying only the columns an index
  or a NOT NULL constraint names (ID, device, swipe time, estate, source, received time, digest, blind
  indexes; the rest NULL): the look-ups touch only the blind-index columns and the rows they find (always
  planted, fully sealed ones), and a narrow filler keeps the build (one table scan per index) within a few
  minutes. Secondary indexes are dropped for the bulk insert and re-created from the schema's own
  definitions afterwards, so the tables end as the migrations make them.
* alarms: a CTE of --alarms rows over 50 estates, a tenth of them open.

Built once and cached under --data (default ./anju-data/bench/registry-narrow2-<records>-<alarms>,
git-ignored); later runs reuse it (`--rebuild` to start again). Timed, --repeat times each, p50 / p99:
* search: `iter_records(..., where=[_bi_gmsfhm == protector.search_key("id_number", value)])` then
  `mask_record`, exactly what GET /api/v1/records/access_swipe?gmsfhm=… does, for a different planted ID
  number each time; peer: the same SELECT with the blind value precomputed, in sqlite3;
* alarm list: `AlarmStore.list(limit=50)` (GET /api/v1/alarms's first page: the total and 50 newest);
  peer: the same two statements in sqlite3.

    python -m bench.registry_queries [--records 10000000] [--alarms 1000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import ROOT, Templates, is_built, print_json_line, read_built, record_build, source_digest

DATA = ROOT / "anju-data" / "bench"
PLANTED = 20_000
ESTATES = 50
TARGET_MS = 100.0  # interactive look-up; no issue sets a figure: the ratio to raw SQL is the measure


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _services(directory: Path) -> Any:
    from anju.config import Settings
    from anju.services import open_services

    return open_services(Settings(data_dir=directory, database_url=f"sqlite:///{directory / 'anju.db'}"))


def build(directory: Path, records: int, alarms: int, planted: int) -> dict[str, Any]:
    """The database, from nothing; seconds per step."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    steps: dict[str, float] = {}
    svc = _services(directory)
    try:
        t = time.perf_counter()
        plant(svc, planted)
        steps["planted_pipeline_s"] = time.perf_counter() - t
    finally:
        svc.close()

    conn = sqlite3.connect(directory / "anju.db", isolation_level=None)
    try:
        t = time.perf_counter()
        indexes = _drop_indexes(conn, "alarm")
        fill_records(conn, records, planted, narrow=True)
        steps["records_fill_and_index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO alarm (type, rule, severity, originator_kind, originator_id, open_key, estate, "
            "title_zh, title_en, location, details, records, cameras, count, first_seen_at, last_seen_at, "
            "cleared, acknowledged, escalation_level, reminders, closed_at, created_at, updated_at) "
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {alarms}) "
            "SELECT 'device_offline', 'offline_video_perimeter', 'minor', 'device', printf('BD%07d', i), "
            "CASE WHEN i % 10 = 0 THEN printf('device:BD%07d:device_offline', i) END, "
            f"printf('BE%02d', i % {ESTATES}), '设备离线', 'Device offline', '1栋', '{{}}', '[]', '[]', 1, "
            "datetime('2025-01-01', printf('+%d seconds', i * 30)), "
            "datetime('2025-01-01', printf('+%d seconds', i * 30 + 60)), 0, i % 10 != 0, 0, 0, "
            "CASE WHEN i % 10 != 0 THEN datetime('2025-01-01', printf('+%d seconds', i * 30 + 600)) END, "
            "datetime('2025-01-01', printf('+%d seconds', i * 30)), "
            "datetime('2025-01-01', printf('+%d seconds', i * 30 + 60)) FROM n"
        )
        conn.execute("COMMIT")
        steps["alarms_insert_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for sql in indexes:
            conn.execute(sql)
        conn.execute("PRAGMA analysis_limit=0")  # the alarm list's statistics in full
        conn.execute("ANALYZE alarm")
        steps["alarm_indexes_s"] = time.perf_counter() - t
    finally:
        conn.close()
    return {k: round(v, 1) for k, v in steps.items()}


def plant(svc: Any, planted: int) -> None:
    """`planted` access_swipe records through the real pipeline, 5,000 per batch, over the estates."""
    from anju.ingest.items import Item

    lines = Templates.build().lines(0, planted)
    for start in range(0, planted, 5_000):
        batch = lines[start : start + 5_000]
        items = [Item(i, raw, orjson.loads(raw)) for i, raw in enumerate(batch)]
        estate = f"BE{start // 5_000 % ESTATES:02d}"
        result = svc.pipeline.ingest("access_swipe", items, source="bench", actor="bench", estate=estate)
        if result.accepted != len(batch):
            raise RuntimeError(f"planted records refused: {result.to_dict()}")


def fill_records(conn: sqlite3.Connection, records: int, planted: int, *, narrow: bool = False) -> None:
    """Copy the planted rows with SQL up to `records` in all (see the module's docstring); the table's
    secondary indexes are dropped first and re-created afterwards. `narrow` copies only the columns an
    index or a NOT NULL constraint names (the rest NULL): a tenth of the bytes to write and scan."""
    from anju.security.personal import personal_fields
    from anju.standard.spec import record_type

    rtype = record_type("access_swipe")
    table = rtype.table_name
    sealed = {f.column for f in personal_fields(rtype)}
    # A bulk build: a crash means a rebuild, not a lost record. Without a journal every page is written
    # once (WAL would write the whole table twice: to the log, then back at the checkpoint); the index
    # sorts run in memory on both cores. A narrow table's ANALYZE samples instead of reading every index
    # through: its look-ups use one index whatever the statistics say. The scorecard's queries need the
    # full statistics (sampled ones made its median 1.7x slower).
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA threads=2")
    if narrow:
        conn.execute("PRAGMA analysis_limit=1000")
    info = [r for r in conn.execute(f"PRAGMA table_info({_q(table)})") if r[1] != "pk"]
    cols = [r[1] for r in info]
    kept = {r[1] for r in info if r[3]} | _indexed_columns(conn, table)
    indexes = _drop_indexes(conn, table)
    exprs = []
    for c in cols:
        if c == "id":
            exprs.append("printf('fill-%010d', n.i)")
        elif c.startswith("_bi_") or c == "_hash":
            exprs.append("lower(hex(randomblob(16)))")
        elif c == "_estate":
            exprs.append(f"printf('BE%02d', n.i % {ESTATES})")
        elif c == "zp" or c in sealed or (narrow and c not in kept):
            exprs.append("NULL")
        else:
            exprs.append(f"s.{_q(c)}")
    fill = records - planted
    if fill > 0:
        conn.execute("BEGIN")
        conn.execute(
            f"INSERT INTO {_q(table)} ({', '.join(map(_q, cols))}) "
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {fill}) "
            f"SELECT {', '.join(exprs)} FROM n JOIN {_q(table)} s ON s.pk = 1 + n.i % {planted}"
        )
        conn.execute("COMMIT")
    for sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")  # as the application runs it


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _indexed_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    names = [r[1] for r in conn.execute(f"PRAGMA index_list({_q(table)})")]
    return {r[2] for name in names for r in conn.execute(f"PRAGMA index_info({_q(name)})")}


def _drop_indexes(conn: sqlite3.Connection, table: str) -> list[str]:
    """Drop the table's secondary indexes (not the unique ones: the CTE's IDs are unique by
    construction, and keeping them keeps the constraint honest); their CREATE statements."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    kept = []
    for name, sql in rows:
        if sql.upper().startswith("CREATE UNIQUE"):
            continue
        conn.execute(f"DROP INDEX {_q(name)}")
        kept.append(sql)
    return kept


def planted_id_numbers(planted: int) -> list[str]:
    return [orjson.loads(line)["GMSFHM"] for line in Templates.build().lines(0, planted)]


def measure(directory: Path, planted: int, repeat: int, seed: int = 3) -> dict[str, Any]:
    from anju.security.personal import mask_record
    from anju.standard.export import iter_records
    from anju.standard.spec import record_type

    rtype = record_type("access_swipe")
    numbers = planted_id_numbers(planted)
    rng = random.Random(seed)
    targets = [rng.choice(numbers) for _ in range(repeat)]
    svc = _services(directory)
    raw = sqlite3.connect(directory / "anju.db")
    try:
        table = svc.db.table(rtype.table_name)
        column = table.c["_bi_gmsfhm"]
        # what the API runs, per look-up (blind index with the deployment's key, decrypt, mask)
        search_ms, found = [], []
        for value in [targets[0], *targets]:
            t = time.perf_counter()
            where = [column == svc.protector.search_key("id_number", value)]
            out = [mask_record(rtype, r) for r in iter_records(svc.db, svc.settings, rtype.slug,
                                                             svc.protector, where=where)]  # fmt: skip
            search_ms.append((time.perf_counter() - t) * 1000)
            found.append(len(out))
        search_ms, found = search_ms[1:], found[1:]  # the first warms the caches
        if min(found) < 1:
            raise RuntimeError("a planted ID number was not found")
        names = ", ".join(_q(f.column) for f in rtype.fields)
        sql = f"SELECT {names} FROM {_q(table.name)} WHERE _bi_gmsfhm = ? ORDER BY pk"
        blinds = [svc.protector.search_key("id_number", v) for v in targets]
        raw_ms = []
        for b in [blinds[0], *blinds]:
            t = time.perf_counter()
            rows = raw.execute(sql, (b,)).fetchall()
            raw_ms.append((time.perf_counter() - t) * 1000)
            assert rows
        raw_ms = raw_ms[1:]

        list_ms = []
        for _ in range(min(repeat, 50) + 1):
            t = time.perf_counter()
            total, page = svc.alarms.list(limit=50)
            list_ms.append((time.perf_counter() - t) * 1000)
        list_ms = list_ms[1:]
        raw_list_ms = []
        for _ in range(min(repeat, 50) + 1):
            t = time.perf_counter()
            raw.execute("SELECT count(*) FROM alarm").fetchone()
            raw.execute("SELECT * FROM alarm ORDER BY last_seen_at DESC, id DESC LIMIT 50").fetchall()
            raw_list_ms.append((time.perf_counter() - t) * 1000)
        raw_list_ms = raw_list_ms[1:]
        stored = raw.execute(f"SELECT max(pk) FROM {_q(table.name)}").fetchone()[0]
    finally:
        raw.close()
        svc.close()

    def figures(ms: list[float], peer: list[float]) -> dict[str, Any]:
        p50, p99 = statistics.median(ms), _pct(ms, 99)
        return {
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "peer_p50_ms": round(statistics.median(peer), 2),
            "peer_p99_ms": round(_pct(peer, 99), 2),
            "ratio_p50": round(statistics.median(peer) / p50, 3),
        }

    return {
        "stored_records": stored,
        "alarms": total,
        "search_by_id_number": {**figures(search_ms, raw_ms), "rows_per_lookup": statistics.median(found)},
        "alarm_list_first_page": {**figures(list_ms, raw_list_ms), "page": len(page)},
    }


def fixture_dir(records: int, alarms: int) -> Path:
    # "narrow2": filler rows with only their indexed and NOT NULL columns (an older build is built again).
    return DATA / f"registry-narrow2-{records}-{alarms}"


def build_fixture(directory: Path, records: int, alarms: int, planted: int = PLANTED) -> dict[str, Any]:
    """Build the database into `directory` and write its built.json; what it says."""
    return record_build(directory, lambda: build(directory, records, alarms, planted))


def run(
    records: int, alarms: int, repeat: int, data: Path | None = None, *, rebuild: bool = False,
    planted: int = PLANTED, fresh: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Build the database unless it is cached (`fresh`: it was built earlier in this run), then measure."""
    directory = data or fixture_dir(records, alarms)
    built: dict[str, Any] | None = None
    if rebuild or not is_built(directory):
        built = build_fixture(directory, records, alarms, planted)
    elif fresh:
        built = read_built(directory)
    t = time.perf_counter()
    result = measure(directory, planted, repeat)
    s, a = result["search_by_id_number"], result["alarm_list_first_page"]
    return {
        "benchmark": "registry_queries",
        "db": "sqlite",
        "records": result["stored_records"],
        "alarms": result["alarms"],
        "planted_through_pipeline": planted,
        "fixture": "built in this run" if built else "cached (built by an earlier run, see built.json)",
        "build": built or read_built(directory),
        "database_gb": round(sum(p.stat().st_size for p in directory.glob("anju.db*")) / 1e9, 2),
        "measure_s": round(time.perf_counter() - t, 1),
        "repeat": repeat,
        **result,
        "target_ms": TARGET_MS,
        "source_digest": source_digest(),
        "met": {"search_p99": s["p99_ms"] <= TARGET_MS, "alarm_list_p99": a["p99_ms"] <= TARGET_MS},
    }


def human(r: dict[str, Any]) -> str:
    s, a = r["search_by_id_number"], r["alarm_list_first_page"]
    return (
        f"registry queries on {r['records']:,} records / {r['alarms']:,} alarms ({r['fixture']}): "
        f"ID-number search p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms (raw SQL p50 {s['peer_p50_ms']} ms, "
        f"ratio {s['ratio_p50']}); alarm list first page p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms "
        f"(raw SQL p50 {a['peer_p50_ms']} ms, ratio {a['ratio_p50']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--alarms", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=PLANTED)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--data", type=Path, default=None, help="default ./anju-data/bench/registry-…")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    result = run(
        args.records, args.alarms, args.repeat, args.data, rebuild=args.rebuild, planted=args.planted
    )
    print_json_line(result)
    print(human(result))


if __name__ == "__main__":
    main()
