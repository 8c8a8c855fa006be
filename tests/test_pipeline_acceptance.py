"""Issue 2's acceptance: mixed files of every record type through the one pipeline, on SQLite and PostgreSQL.

For each of the 12 record types: 1,000 records with defects planted in about 10 % of them. Exactly the bad
ones are quarantined with the right field codes; the good ones are stored; re-ingesting the same file
stores nothing new and reports every record as a duplicate; replay after fixing a dictionary releases the
records it fixed, and only those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml
from sqlalchemy import func, select

from anju.ingest.decode import iter_ndjson
from anju.ingest.result import BatchResult
from anju.security.personal import blind_column, blind_fields
from anju.services import Services
from anju.standard.export import iter_records
from anju.standard.samples import Defect, mixed_records
from anju.standard.spec import load_standard, record_type

N = 1000


def _write(path: Path, records: list[tuple[dict[str, object], Defect | None]]) -> None:
    with path.open("wb") as fh:
        for rec, _ in records:
            fh.write(orjson.dumps(rec) + b"\n")


def _ingest_file(svc: Services, slug: str, path: Path) -> BatchResult:
    with path.open("rb") as fh:  # several transactions per file
        return svc.pipeline.ingest_stream(slug, iter_ndjson(fh), source=f"file:{path.name}", batch_size=400)


def _stored_ids(svc: Services, slug: str) -> set[str]:
    table = svc.db.table(record_type(slug).table_name)
    with svc.db.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(table.c.id))}


def _blind_hits(svc: Services, slug: str) -> list[tuple[str, str]]:
    """(record ID, blind-index column) of every stored row whose blind index matches its opened value."""
    rtype = record_type(slug)
    table = svc.db.table(rtype.table_name)
    fields = blind_fields(rtype)
    hits = []
    with svc.db.engine.connect() as conn:
        for row in conn.execute(select(table)).mappings():
            opened = svc.protector.open_values(rtype, row, row["id"])
            for f in fields:
                value = opened[f.column]
                if value and row[blind_column(f.column)] == svc.protector.search_key(f.personal or "", value):
                    hits.append((row["id"], blind_column(f.column)))
    return sorted(hits)


def _open_entries(svc: Services, slug: str) -> list[object]:
    total, entries = svc.quarantine.list(status="open", record_type=slug, limit=10_000)
    assert total == len(entries)
    return entries


def test_mixed_files_of_every_type(services: Services, tmp_path: Path) -> None:
    svc = services
    svc.settings.__dict__["batch_size"] = 400  # several transactions per file
    now = datetime.now(UTC)
    planted: dict[str, list[tuple[dict[str, object], Defect | None]]] = {}
    files: dict[str, Path] = {}
    for n, slug in enumerate(load_standard()):
        records = mixed_records(slug, N, seed=100 + n, now=now)
        planted[slug] = records
        files[slug] = tmp_path / f"{slug}.ndjson"
        _write(files[slug], records)

    # First import: exactly the planted defects are quarantined, with the right fields and codes.
    for slug, records in planted.items():
        bad = {str(rec["ID"]): d for rec, d in records if d is not None}
        good = {str(rec["ID"]) for rec, d in records if d is None}
        assert 0.05 * N < len(bad) < 0.15 * N, slug
        result = _ingest_file(svc, slug, files[slug])
        assert (result.received, result.accepted, result.rejected) == (N, len(good), len(bad)), slug
        assert result.duplicates == 0 and result.conflicts == 0
        assert _stored_ids(svc, slug) == good
        entries = _open_entries(svc, slug)
        assert {e.record_id for e in entries} == set(bad), slug
        for e in entries:
            defect = bad[e.record_id]
            errors = {(x["field"], x["code"]) for x in e.errors if x["severity"] == "error"}
            assert errors == {(defect.field, defect.code)}, (slug, defect, e.errors)
            assert e.reason == "invalid" and e.status == "open"

    # Second import of the same files: nothing new, everything a duplicate.
    for slug in planted:
        before = len(_stored_ids(svc, slug))
        result = _ingest_file(svc, slug, files[slug])
        assert (result.accepted, result.rejected, result.duplicates) == (0, 0, N), slug
        assert len(_stored_ids(svc, slug)) == before
        entries = _open_entries(svc, slug)
        assert all(e.seen_count == 2 for e in entries)

    # Fix the dictionaries the planted unknown codes missed; replay releases exactly those records.
    fixable = {
        str(rec["ID"]): (slug, d)
        for slug, records in planted.items()
        for rec, d in records
        if d is not None and d.code == "dict_unknown"
    }
    assert fixable, "the fixture should plant some unknown dictionary codes"
    overrides: dict[str, set[str]] = {}
    for rec_id, (slug, d) in fixable.items():
        rec = next(r for r, _ in planted[slug] if r["ID"] == rec_id)
        name = record_type(slug).field(d.field).dictionary
        assert name is not None
        overrides.setdefault(name, set()).add(str(rec[d.field]))
    folder = svc.settings.dictionaries_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name, codes in overrides.items():
        doc = {
            "name": name,
            "mode": "extend",
            "codes": [{"code": c, "zh": "部署补充代码", "en": "deployment code"} for c in sorted(codes)],
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    open_before = sum(len(_open_entries(svc, slug)) for slug in planted)
    result = svc.quarantine.replay()
    assert result.accepted == len(fixable)
    assert result.rejected == open_before - len(fixable)
    for slug, records in planted.items():
        released_here = {rid for rid, (s, _) in fixable.items() if s == slug}
        good = {str(rec["ID"]) for rec, d in records if d is None}
        assert _stored_ids(svc, slug) == good | released_here, slug
        still_open = {e.record_id for e in _open_entries(svc, slug)}
        assert still_open.isdisjoint(released_here)
    _, released = svc.quarantine.list(status="released", limit=10_000)
    assert {e.record_id for e in released} == set(fixable)
    assert all(e.released_at is not None for e in released)


def test_conflicting_payload_is_quarantined_and_stored_row_kept(services: Services) -> None:
    from anju.ingest.decode import decode_body

    svc = services
    rec, _ = mixed_records("vehicle_pass", 1, defect_rate=0.0)[0]
    first = svc.pipeline.ingest("vehicle_pass", decode_body(orjson.dumps([rec])), source="t")
    assert first.accepted == 1
    changed = dict(rec, SBMC="另一台设备")
    second = svc.pipeline.ingest("vehicle_pass", decode_body(orjson.dumps([changed, rec])), source="t")
    assert (second.accepted, second.rejected, second.conflicts, second.duplicates) == (0, 1, 1, 1)
    entry = svc.quarantine.get(second.rejects[0].quarantine_id)
    assert entry is not None and entry.reason == "conflict"
    assert entry.errors[0]["code"] == "id_conflict"
    table = svc.db.table("rec_vehicle_pass")
    with svc.db.engine.connect() as conn:
        assert conn.execute(select(table.c.sbmc)).scalar_one() == rec["SBMC"]
    # Two versions of one new ID inside one batch: the first is stored, the second is a conflict.
    other, _ = mixed_records("vehicle_pass", 2, defect_rate=0.0, seed=3)[1]
    third = svc.pipeline.ingest(
        "vehicle_pass", decode_body(orjson.dumps([other, dict(other, SBMC="变体")])), source="t"
    )
    assert (third.accepted, third.conflicts) == (1, 1)


def test_batch_is_one_transaction(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing a batch leaves nothing of it behind: no rows, no quarantine, no batch log."""
    from anju.ingest import pipeline as pipeline_module
    from anju.ingest.decode import decode_body

    svc = services
    records = [r for r, _ in mixed_records("notice", 20, defect_rate=0.3)]

    def broken_insert(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline_module, "insert_rows", broken_insert)
    with pytest.raises(RuntimeError):
        svc.pipeline.ingest("notice", decode_body(orjson.dumps(records)), source="t")
    with svc.db.engine.connect() as conn:
        for name in ("rec_notice", "quarantine", "ingest_batch"):
            assert conn.execute(select(func.count()).select_from(svc.db.table(name))).scalar_one() == 0


def test_publish_after_commit(sqlite_services: Services) -> None:
    from anju.ingest.bus import StoredRecords
    from anju.ingest.decode import decode_body

    svc = sqlite_services
    seen: list[tuple[StoredRecords, int]] = []

    def subscriber(event: StoredRecords) -> None:
        # The records must already be visible to another connection when subscribers run.
        with svc.db.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(svc.db.table("rec_emergency_call"))
            ).scalar_one()
        seen.append((event, count))

    def failing(event: StoredRecords) -> None:
        raise ValueError("a broken subscriber must not undo ingestion")

    svc.bus.subscribe(failing)
    svc.bus.subscribe(subscriber)
    records = [r for r, _ in mixed_records("emergency_call", 10, defect_rate=0.0)]
    result = svc.pipeline.ingest("emergency_call", decode_body(orjson.dumps(records)), source="t")
    assert result.accepted == 10
    assert len(seen) == 1
    event, visible = seen[0]
    assert visible == 10 and len(event.records) == 10
    assert {r["ID"] for r in event.records} == {r["ID"] for r in records}
    # Nothing new stored: nothing published.
    svc.pipeline.ingest("emergency_call", decode_body(orjson.dumps(records)), source="t")
    assert len(seen) == 1


def test_parallel_file_import_matches_single_process(tmp_path: Path, database_url: str) -> None:
    """Worker processes change only the speed: same counts, same stored rows, same quarantine."""
    from anju.services import open_services
    from tests.conftest import fresh_database, make_settings

    outcomes = []
    for workers in (0, 2):
        with fresh_database(database_url, tmp_path, f"w{workers}") as url:
            svc = open_services(make_settings(tmp_path / f"w{workers}", url))
            try:
                per_type = []
                for slug in ("access_swipe", "resident_registration", "vehicle_pass"):
                    path = tmp_path / f"{slug}.ndjson"
                    if not path.exists():
                        _write(path, mixed_records(slug, 700, seed=5, now=datetime.now(UTC)))
                    with path.open("rb") as fh:
                        r = svc.pipeline.ingest_ndjson(slug, fh, source="f", workers=workers, batch_size=150)
                    entries = _open_entries(svc, slug)
                    # Workers seal the personal fields for the committing process: what they stored opens
                    # to the same values (and their blind indexes find it) as what one process stored.
                    opened = sorted(
                        orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)
                        for rec in iter_records(svc.db, svc.settings, slug, svc.protector)
                    )
                    per_type.append(
                        (
                            (r.received, r.accepted, r.rejected, r.duplicates),
                            sorted(_stored_ids(svc, slug)),
                            sorted((e.record_id, x["field"], x["code"]) for e in entries for x in e.errors),
                            opened,
                            _blind_hits(svc, slug),
                        )
                    )
                outcomes.append(per_type)
            finally:
                svc.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][0][2] > 0  # the file really had bad records
    assert outcomes[0][0][4]  # and sealed, blind-indexed ID numbers and phones
