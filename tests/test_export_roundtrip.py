"""An export of what was ingested, re-ingested into an empty database, gives identical rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from anju.ingest.decode import decode_body, iter_csv, iter_ndjson
from anju.services import Services, open_services
from anju.standard.export import iter_records, write_csv, write_ndjson
from anju.standard.samples import mixed_records
from anju.standard.spec import load_standard, record_type
from tests.conftest import fresh_database, make_settings

# Columns that describe the arrival, not the record: they differ between two imports by design. Blind
# indexes (`_bi_*`) are keyed per deployment, and sealed values carry random nonces: rows are compared
# decrypted.
ARRIVAL = {"pk", "_source", "_received_at"}


def _rows(svc: Services, slug: str) -> dict[str, dict[str, Any]]:
    rtype = record_type(slug)
    table = svc.db.table(rtype.table_name)
    cols = [c for c in table.c if c.name not in ARRIVAL and not c.name.startswith("_bi_")]
    with svc.db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(*cols))]
    return {r["id"]: svc.protector.open_values(rtype, r, r["id"]) for r in rows}


def _load_all(svc: Services) -> None:
    for n, slug in enumerate(load_standard()):
        records = [r for r, _ in mixed_records(slug, 200, seed=40 + n)]
        svc.pipeline.ingest(slug, decode_body(orjson.dumps(records)), source="fixture", estate="E-1")


def test_ndjson_and_csv_exports_round_trip(services: Services, tmp_path: Path, database_url: str) -> None:
    _load_all(services)
    for fmt in ("ndjson", "csv"):
        with fresh_database(database_url, tmp_path, f"copy-{fmt}") as url:
            _round_trip(services, open_services(make_settings(tmp_path / f"copy-{fmt}", url)), fmt)


def _round_trip(services: Services, target: Services, fmt: str) -> None:
    try:
        for slug in load_standard():
            records = iter_records(services.db, services.settings, slug, services.protector)
            if fmt == "ndjson":
                buf = io.BytesIO()
                count = write_ndjson(records, buf)
                items = list(iter_ndjson(buf.getvalue().splitlines()))
            else:
                text = io.StringIO()
                count = write_csv(slug, records, text)
                text.seek(0)
                items = list(iter_csv(text))
            result = target.pipeline.ingest(slug, items, source=f"export.{fmt}", estate="E-1")
            assert result.accepted == count and result.rejected == 0, (fmt, slug, result.rejects[:1])
            assert _rows(target, slug) == _rows(services, slug), (fmt, slug)
    finally:
        target.close()


def test_export_formats_are_the_standards(sqlite_services: Services) -> None:
    svc = sqlite_services
    rec, _ = mixed_records("access_swipe", 1, defect_rate=0.0)[0]
    rec = dict(rec, SK_RQSJ="2026-03-01T08:30:00+08:00", GMSFHM=str(rec["GMSFHM"]).lower())
    svc.pipeline.ingest("access_swipe", decode_body(orjson.dumps([rec])), source="t")
    (out,) = list(iter_records(svc.db, svc.settings, "access_swipe", svc.protector))
    assert out["SK_RQSJ"] == "2026-03-01 08:30:00"  # ISO 8601 in, the standard's local form out
    assert out["GMSFHM"] == str(rec["GMSFHM"]).upper()
    assert set(out) <= {f.code for f in record_type("access_swipe").fields}


def test_export_since_filters_on_arrival(sqlite_services: Services) -> None:
    svc = sqlite_services
    records = [r for r, _ in mixed_records("notice", 5, defect_rate=0.0)]
    svc.pipeline.ingest("notice", decode_body(orjson.dumps(records)), source="t")
    now = datetime.now(UTC)
    assert (
        len(
            list(
                iter_records(svc.db, svc.settings, "notice", svc.protector, since=now - timedelta(minutes=5))
            )
        )
        == 5
    )
    assert (
        list(iter_records(svc.db, svc.settings, "notice", svc.protector, since=now + timedelta(minutes=5)))
        == []
    )
