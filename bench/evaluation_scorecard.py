"""One community's full scorecard from platform data (issue 6 target: under 200 ms on a database of
1 million records).

Builds a platform database (SQLite) holding --records access-swipe records (--planted of them imported
through the real pipeline, the rest copied from them with SQL as in bench/registry_queries.py, each with
its own ID and blind indexes) and a registry of one community: --estates estates of 20 buildings x 4 units x 24
houses, two or three residents per occupied house, doorplates on most doors, some attestations. The
timed part is what `GET /api/v1/evaluation/{system}` does for one community: gather the facts from the
platform's providers (attestations, registry rates), then score the paper's 32 indicators, the Wuhan
acceptance and the Shandong tiers. Best and median of --repeat runs, and the top functions of a cProfile
of one more run (where the time goes).

The database is cached under ./anju-data/bench/scorecard-<records>-<estates> (git-ignored) and reused by
later runs (`--rebuild` to start again).

    python -m bench.evaluation_scorecard [--records 1000000] [--estates 5] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import is_built, print_json_line, read_built, record_build, source_digest
from bench.registry_queries import DATA

COMMUNITY = "C-BENCH"
AS_OF = date(2026, 11, 30)


def build_registry(svc: Any, estates: int, seed: int = 7) -> dict[str, int]:
    from sqlalchemy import insert

    from anju.registry.addresses import house_address, normalise
    from anju.registry.store import Provenance
    from anju.standard.samples import id_number, mobile

    rng = random.Random(seed)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    staff = Provenance("staff")
    verified = Provenance("population_sync", verified_by="population_sync")
    store = svc.registry
    for code, level, parent in (("S-BENCH", "street", None), (COMMUNITY, "community", "S-BENCH")):
        svc.regions.add(svc.audit, code=code, name=code, level=level, parent=parent, actor="bench")
    counts = {"houses": 0, "people": 0, "doorplates": 0}
    plates: list[dict[str, Any]] = []
    for e in range(estates):
        estate = f"E-BENCH-{e}"
        svc.regions.add(
            svc.audit, code=estate, name=f"小区{e}", level="estate", parent=COMMUNITY, actor="bench"
        )
        street = f"武汉市江岸区幸福路{e + 1}号"
        with svc.db.engine.begin() as conn:
            store.upsert(
                conn, "estate", estate, {"name": f"小区{e}", "address": street}, staff, now=now, key="code"
            )
            store.upsert(conn, "gate", f"{estate}-G1", {"estate": estate, "name": "大门"}, staff, now=now)
            plates.append({"kind": "gate", "id": f"{estate}-G1", "estate": estate})
            for b in range(20):
                building = f"{estate}-B{b}"
                store.upsert(
                    conn,
                    "building",
                    building,
                    {
                        "estate": estate,
                        "code": f"B{b}",
                        "name": f"{b + 1}栋",
                        "address": street,
                        "safety_level": "A",
                    },
                    staff,
                    now=now,
                )
                plates.append({"kind": "building", "id": building, "estate": estate})
                for u in range(4):
                    unit = f"{building}-U{u}"
                    store.upsert(
                        conn,
                        "unit",
                        unit,
                        {"building_id": building, "estate": estate, "name": f"{u + 1}单元"},
                        staff,
                        now=now,
                    )
                    plates.append({"kind": "unit", "id": unit, "estate": estate})
                    for h in range(24):
                        number = f"{h // 2 + 1}{h % 2 + 1:02d}"
                        address = house_address(street, f"{b + 1}栋", f"{u + 1}单元", number)
                        house = f"{unit}-H{h}"
                        store.upsert(
                            conn,
                            "house",
                            house,
                            {
                                "estate": estate,
                                "building_id": building,
                                "unit_id": unit,
                                "number": number,
                                "address": address,
                                "address_key": normalise(address),
                                "key_house": False,
                            },
                            staff,
                            now=now,
                        )
                        counts["houses"] += 1
                        if rng.random() < 0.95:
                            plates.append({"kind": "house", "id": house, "estate": estate})
                        if rng.random() < 0.1:
                            continue  # vacant
                        for r in range(rng.choice((1, 2, 3))):
                            person = store.new_id()
                            born = datetime(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28))
                            store.upsert(
                                conn,
                                "person",
                                person,
                                {
                                    "name": "居民" + str(counts["people"]),
                                    "id_type": "111",
                                    "id_number": id_number(rng, birth=born),
                                    "phone": mobile(rng),
                                    "birth_date": born.date(),
                                },
                                verified if rng.random() < 0.9 else staff,
                                now=now,
                            )
                            store.upsert(
                                conn,
                                "residence",
                                store.new_id(),
                                {
                                    "person_id": person,
                                    "house_id": house,
                                    "estate": estate,
                                    "address": address,
                                    "_bi_address": store.sealer.blind("address", normalise(address)),
                                    "category": "resident" if r < 2 else "floating",
                                    "relation": "0" if r == 0 else "1",
                                    "status": "active",
                                },
                                verified if rng.random() < 0.9 else staff,
                                now=now,
                            )
                            counts["people"] += 1
        with svc.db.engine.begin() as conn:
            doorplate = svc.db.table("doorplate")
            rows = [
                {
                    "id": f"P{len(plates)}-{i}-{e}",
                    "estate": p["estate"],
                    "target_kind": p["kind"],
                    "target_id": p["id"],
                    "version": 1,
                    "issued_at": now.replace(tzinfo=None),
                    "issued_by": "bench",
                }
                for i, p in enumerate(plates)
            ]
            conn.execute(insert(doorplate), rows)
            counts["doorplates"] += len(rows)
            plates = []
    return counts


def _build(work: Path, records: int, estates: int, planted: int) -> dict[str, float]:
    import sqlite3

    from anju.evaluation.attestations import open_attestations
    from bench.registry_queries import fill_records, plant

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    svc = _services(work)
    try:
        t0 = time.perf_counter()
        planted = min(planted, records)
        plant(svc, planted)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        counts = build_registry(svc, estates)
        attest = open_attestations(svc)
        for key, value in (
            ("WH.video_room", True),
            ("SE32.1", 3),
            ("WH.ebikes", 900),
            ("WH.ebikes_chipped", 850),
        ):
            attest.add(COMMUNITY, key, value, note="bench", actor="bench")
        registry_s = time.perf_counter() - t0
    finally:
        svc.close()
    t0 = time.perf_counter()
    conn = sqlite3.connect(work / "anju.db", isolation_level=None)
    try:
        fill_records(conn, records, planted)
    finally:
        conn.close()
    return {
        "planted_pipeline_s": round(load_s, 1),
        "registry_s": round(registry_s, 1),
        "filler_sql_s": round(time.perf_counter() - t0, 1),
        **{k: float(v) for k, v in counts.items()},
    }


def _services(work: Path) -> Any:
    from anju.config import Settings
    from anju.services import open_services

    return open_services(
        Settings.from_env({"ANJU_DATA_DIR": str(work), "ANJU_DATABASE_URL": f"sqlite:///{work / 'anju.db'}"})
    )


def fixture_dir(records: int, estates: int) -> Path:
    return DATA / f"scorecard-{records}-{estates}"


def build_fixture(work: Path, records: int, estates: int, planted: int = 20_000) -> dict[str, Any]:
    """Build the database into `work` and write its built.json; what it says."""
    return record_build(work, lambda: _build(work, records, estates, planted))


def run(
    records: int, estates: int, repeat: int, keep: Path | None = None, *, rebuild: bool = False,
    planted: int = 20_000, fresh: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Build the database unless it is cached (`fresh`: it was built earlier in this run), then measure."""
    import cProfile
    import io
    import pstats

    from anju.evaluation.inputs import gather
    from anju.evaluation.paper import Weighting, evaluate_paper
    from anju.evaluation.platform import platform_providers
    from anju.evaluation.shandong import evaluate_shandong
    from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
    from anju.evaluation.wuhan import evaluate_wuhan

    work = keep or fixture_dir(records, estates)
    built = None
    if rebuild or not is_built(work):
        built = build_fixture(work, records, estates, planted)
    elif fresh:
        built = read_built(work)
    svc = _services(work)
    try:
        stored = svc.db.engine.connect().exec_driver_sql("SELECT count(*) FROM rec_access_swipe").scalar()

        def scorecard() -> None:
            communities = gather([], [COMMUNITY], platform_providers(svc), AS_OF)
            evaluate_paper(paper_system(), communities, weighting=Weighting.equal)
            evaluate_wuhan(wuhan_system(), "standard", communities[0])
            evaluate_shandong(shandong_system(), communities[0], None)

        scorecard()  # warm: systems loaded, statements prepared
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            scorecard()
            times.append(time.perf_counter() - t)
        profile = cProfile.Profile()
        profile.runcall(scorecard)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)
    finally:
        svc.close()
    return {
        "benchmark": "evaluation_scorecard",
        "db": "sqlite",
        "records": stored,
        "fixture": "built in this run" if built else "cached (built by an earlier run, see built.json)",
        "build": built or read_built(work),
        "repeat": repeat,
        "best_ms": round(min(times) * 1000, 1),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "target_ms": 200,
        "profile_top": [ln for ln in text.getvalue().splitlines() if ln.strip()][:40],
        "source_digest": source_digest(),
        "met": {"median_ms": statistics.median(times) < 0.2},
    }


def human(r: dict[str, Any]) -> str:
    return (
        f"scorecard of one community (paper + Wuhan + Shandong from platform data) on {r['records']:,} records "
        f"({r['fixture']}): median {r['median_ms']} ms, best {r['best_ms']} ms (target < {r['target_ms']} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--estates", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--planted", type=int, default=20_000, help="records made through the pipeline")
    parser.add_argument("--keep", type=Path, default=None, help="the database's folder (default: cached)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build-only", action="store_true", help="build the database, measure nothing")
    args = parser.parse_args()
    if args.build_only:
        work = args.keep or fixture_dir(args.records, args.estates)
        print(json.dumps(build_fixture(work, args.records, args.estates, args.planted)))
        return
    result = run(
        args.records, args.estates, args.repeat, args.keep, rebuild=args.rebuild, planted=args.planted
    )
    print_json_line({k: v for k, v in result.items() if k != "profile_top"})
    print("\n".join(result["profile_top"]))
    print(human(result))


if __name__ == "__main__":
    main()
