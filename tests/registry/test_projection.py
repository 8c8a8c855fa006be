"""Issue 4's projection: building, resident and population records become the registry (一标三实), on SQLite
and PostgreSQL, through the real pipeline and bus.

The fixture files describe one estate (XQ001 幸福花园) with two buildings (1栋 with two units, 3栋 with one),
eight houses, ten residents and three police population records; see tests/registry/data/.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from anju.ingest.result import BatchResult
from anju.registry.cli import registry_app
from anju.registry.projection import residence_category
from anju.security.crypto import FieldCipher
from anju.services import Services

DATA = Path(__file__).parent / "data"
REGISTRY = ("region", "estate", "building", "unit", "house", "person", "residence", "emergency_contact")
ESTATE = "XQ001"
ADDRESS = "武汉市黄陂区盘龙城幸福路8号幸福花园"


# ---- helpers -------------------------------------------------------------------------------------------
def lines(slug: str) -> list[dict[str, Any]]:
    with (DATA / f"{slug}.ndjson").open("rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def ingest(svc: Services, slug: str, records: Iterable[dict[str, Any]] | None = None) -> BatchResult:
    """Ingest a fixture file (or records) through the pipeline; every record must pass validation."""
    data = [orjson.dumps(r) for r in (lines(slug) if records is None else records)]
    result = svc.pipeline.ingest_ndjson(slug, iter(data), source=f"test:{slug}")
    assert result.rejected == 0, [r.to_dict() for r in result.rejects]
    return result


def snapshot(svc: Services) -> dict[str, list[dict[str, Any]]]:
    """Every registry row as stored (ciphertexts included), in key order."""
    out: dict[str, list[dict[str, Any]]] = {}
    with svc.db.engine.connect() as conn:
        for name in REGISTRY:
            t = svc.db.table(name)
            key = t.c.pk if "pk" in t.c else t.c.id if "id" in t.c else t.c.code
            out[name] = [dict(r._mapping) for r in conn.execute(select(t).order_by(key))]
    return out


def counts(svc: Services) -> dict[str, int]:
    with svc.db.engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(svc.db.table(name))).scalar_one())
            for name in REGISTRY
        }


def people(svc: Services) -> dict[str, dict[str, Any]]:
    """Opened person rows by name."""
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(svc.db.table("person"))).all()
    opened = [svc.registry.opened("person", r) for r in rows]
    return {p["name"]: p for p in opened}


def residences_of(svc: Services, person_id: str) -> list[dict[str, Any]]:
    r = svc.db.table("residence")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(r).where(r.c.person_id == person_id)).all()
    return [svc.registry.opened("residence", row) for row in rows]


def the_residence(svc: Services, name: str) -> dict[str, Any]:
    found = residences_of(svc, people(svc)[name]["id"])
    assert len(found) == 1, found
    return found[0]


def row(svc: Services, table: str, row_id: str) -> dict[str, Any]:
    with svc.db.engine.connect() as conn:
        found = svc.registry.get(conn, table, row_id)
    assert found is not None, (table, row_id)
    return svc.registry.opened(table, found)


def audit_entries(svc: Services, action: str) -> list[dict[str, Any]]:
    log = svc.db.table("audit_log")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(log).where(log.c.action == action).order_by(log.c.seq)).all()
    return [{**r._mapping, "detail": orjson.loads(r.detail)} for r in rows]


def no_changes(report_tables: dict[str, dict[str, int]]) -> bool:
    return all(c["created"] == 0 and c["updated"] == 0 for c in report_tables.values())


def load_places_and_people(svc: Services) -> None:
    assert ingest(svc, "building_info").accepted == 8
    assert ingest(svc, "resident_registration").accepted == 10


# ---- the acceptance ---------------------------------------------------------------------------------------
def test_files_build_the_registry_and_reingesting_changes_nothing(services: Services) -> None:
    svc = services
    load_places_and_people(svc)
    assert counts(svc) == {
        "region": 4,  # 黄陂区 → 盘龙城街道 → 幸福社区 → 幸福花园
        "estate": 1,
        "building": 2,
        "unit": 3,
        "house": 8,
        "person": 10,  # visitors (FK_*) and maintainers (WHRY_*) are not residents
        "residence": 10,
        "emergency_contact": 2,
    }
    assert svc.regions.ancestors(ESTATE) == [ESTATE, "420116001001", "420116001", "420116"]
    with svc.db.engine.connect() as conn:
        estate_row = svc.registry.get(conn, "estate", ESTATE, key="code")
    assert estate_row is not None
    assert (estate_row.name, estate_row.police_station) == ("幸福花园", "盘龙城派出所")

    b1 = row(svc, "building", "LD-0001")
    assert (b1["code"], b1["name"], b1["estate"], b1["community"]) == (
        "JZ0001",
        "1栋",
        ESTATE,
        "420116001001",
    )
    assert (b1["floors_above"], b1["floors_below"], b1["unit_count"], b1["households"]) == (6, 1, 2, 24)
    assert b1["area_m2"] == pytest.approx(3200.5) and b1["lon"] == pytest.approx(114.265412)
    assert b1["built_at"] == datetime(2005, 5, 31, 16, 0)  # 2005-06-01 00:00 in Shanghai, stored in UTC
    assert b1["source_time"] == datetime(2024, 3, 1, 2, 0) and b1["verified_at"] is None
    # A unit without DY_BS is keyed by its building and DY_BM; a house without FW_BS/FW_BM by its number.
    assert row(svc, "unit", "DY-0001-2")["name"] == "2单元"
    assert row(svc, "unit", "LD-0003/U1")["building_id"] == "LD-0003"
    house = row(svc, "house", "LD-0003/U1/301")
    assert house["address"] == ADDRESS + "3栋1单元301室"
    assert (house["unit_id"], house["floor"], house["number"]) == ("LD-0003/U1", "3", "301")
    assert row(svc, "house", "FW-1-1-101")["address"] == ADDRESS + "1栋1单元101室"  # 1栋 not repeated
    key_house = row(svc, "house", "FWBM-1-2-101")
    assert key_house["key_house"] is True and row(svc, "house", "FW-1-1-101")["key_house"] is False
    assert key_house["agent_name"] == "物业代理" and key_house["agent_id_type"] == "居民身份证"
    assert row(svc, "house", "FW-1-1-102")["rental_status"] == "出租"

    who = people(svc)
    assert set(who) == {"张伟", "李娜", "王强", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴芳"}
    zhang = who["张伟"]
    assert zhang["birth_date"] == date(1975, 4, 12)  # the local day, not the UTC instant's day
    assert (zhang["sex"], zhang["id_type"], zhang["ethnicity"], zhang["nationality"]) == (
        "1",
        "111",
        "01",
        "CHN",
    )
    assert zhang["phone"] == "13800001001" and zhang["household_division"] == "420116"
    with svc.db.engine.connect() as conn:
        assert svc.registry.person_by_id_number(conn, zhang["id_number"]) == zhang["id"]
    assert who["刘洋"]["key_population"] is True  # ZDRY_PDBS = 1
    assert who["陈静"]["key_population"] is True  # RYLX 04 (重点)
    assert who["张伟"]["key_population"] is False

    tenant = the_residence(svc, "王强")
    assert (tenant["category"], tenant["relation"], tenant["house_id"]) == ("floating", "9", "FW-1-1-102")
    assert the_residence(svc, "陈静")["category"] == "resident"  # a key person's category by relation
    assert the_residence(svc, "黄勇")["category"] == "lodger"  # RYLX 02
    assert the_residence(svc, "张伟")["category"] == "resident"
    # Full-width digits and 3号楼 still find 3栋1单元301.
    yang = the_residence(svc, "杨磊")
    assert yang["house_id"] == "LD-0003/U1/301" and yang["address"].startswith("武汉市黄陂区盘龙城幸福路８号")
    unmatched = the_residence(svc, "赵敏")
    assert (unmatched["house_id"], unmatched["estate"], unmatched["status"]) == (None, ESTATE, "active")
    gone = the_residence(svc, "周杰")
    assert gone["status"] == "ended" and gone["moved_out"] == datetime(2024, 1, 31, 16, 0)

    c = svc.db.table("emergency_contact")
    with svc.db.engine.connect() as conn:
        contacts = conn.execute(select(c).where(c.c.person_id == zhang["id"])).all()
    assert len(contacts) == 1
    opened = svc.registry.sealer.open("emergency_contact", zhang["id"], contacts[0]._mapping)
    assert (opened["name"], opened["phone"]) == ("张小伟", "13900009001")

    # Personal values are sealed in the person table: the raw row holds none of them.
    p = svc.db.table("person")
    with svc.db.engine.connect() as conn:
        raw = dict(conn.execute(select(p).where(p.c.id == zhang["id"])).one()._mapping)
    stored_text = " ".join(str(v) for v in raw.values())
    for plain in ("张伟", zhang["id_number"], "13800001001", "前川街道"):
        assert plain not in stored_text
    assert raw["name"].startswith("v1:") and raw["_bi_id_number"] and raw["_bi_phone"]

    # One audit entry per projected batch, with counts per table.
    entries = audit_entries(svc, "registry.project")
    assert [e["target"] for e in entries] == ["building_info", "resident_registration"]
    assert entries[0]["detail"]["tables"]["house"]["created"] == 8
    assert entries[0]["detail"]["tables"]["building"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 6,
        "stale": 0,
    }
    assert entries[1]["detail"]["tables"]["person"]["created"] == 10

    # Re-ingesting both files stores nothing new, and nothing in the registry changes.
    before = snapshot(svc)
    assert ingest(svc, "building_info").duplicates == 8
    assert ingest(svc, "resident_registration").duplicates == 10
    assert snapshot(svc) == before
    # Nor does rebuilding from every stored record.
    report = svc.projection.rebuild()
    assert report.records == 18 and report.skipped == 0 and no_changes(report.tables), report.to_json()
    assert snapshot(svc) == before


def test_population_sync_verifies_and_matches_by_standard_address_code(services: Services) -> None:
    svc = services
    load_places_and_people(svc)
    # The standard address code of 3栋1单元101, as the doorplate or a staff edit would set it.
    h = svc.db.table("house")
    with svc.db.engine.begin() as conn:
        conn.execute(update(h).where(h.c.id == "LD-0003/U1/101").values(address_code="BZDZ-3-1-101"))
    assert ingest(svc, "population_sync").accepted == 3

    who = people(svc)
    assert len(who) == 12
    wang = who["王强"]  # already registered by his property desk: the police record verifies him
    assert (wang["verified_by"], wang["education"], wang["marital"], wang["occupation"]) == (
        "population_sync",
        "21",
        "10",
        "4",
    )
    assert wang["verified_at"] is not None and wang["phone"] == "13600001002"
    tenant = the_residence(svc, "王强")  # the same address: the same residence, now verified
    assert tenant["verified_by"] == "population_sync" and tenant["category"] == "floating"
    assert tenant["relation"] == "9"  # the police record has none; the registration's stays

    sun = the_residence(svc, "孙浩")
    assert (sun["house_id"], sun["category"], sun["status"], sun["verified_by"]) == (
        "LD-0003/U1/201",
        "floating",
        "active",
        "population_sync",
    )
    zheng = the_residence(svc, "郑爽")  # door plate text matches nothing; the address code does
    assert (zheng["house_id"], zheng["estate"], zheng["status"]) == ("LD-0003/U1/101", ESTATE, "ended")
    assert zheng["moved_out"] == datetime(2024, 4, 1, 2, 0)
    assert who["张伟"]["verified_at"] is None  # resident registrations are not authoritative

    before = snapshot(svc)
    report = svc.projection.rebuild()
    assert report.records == 21 and no_changes(report.tables), report.to_json()
    assert snapshot(svc) == before


def test_later_records_supersede_and_older_ones_do_not(services: Services) -> None:
    svc = services
    load_places_and_people(svc)
    zhang_record = lines("resident_registration")[0]
    newer = {**zhang_record, "ID": "rr-101", "BLSJ": "2024-05-01 09:00:00", "SJHM": "13800002001"}
    older = {**zhang_record, "ID": "rr-102", "BLSJ": "2024-01-01 09:00:00", "SJHM": "13800003001"}
    ingest(svc, "resident_registration", [newer])
    zhang = people(svc)["张伟"]
    assert (zhang["phone"], zhang["source_record"]) == ("13800002001", "rr-101")
    before = snapshot(svc)
    ingest(svc, "resident_registration", [older])
    assert snapshot(svc) == before
    assert audit_entries(svc, "registry.project")[-1]["detail"]["tables"]["person"]["stale"] == 1

    building_record = lines("building_info")[0]
    ingest(
        svc,
        "building_info",
        [{**building_record, "ID": "bi-101", "GXSJ": "2024-06-01 10:00:00", "MH_SL": "30"}],
    )
    assert row(svc, "building", "LD-0001")["households"] == 30
    ingest(
        svc,
        "building_info",
        [{**building_record, "ID": "bi-102", "GXSJ": "2023-06-01 10:00:00", "MH_SL": "99"}],
    )
    b1 = row(svc, "building", "LD-0001")
    assert (b1["households"], b1["source_record"]) == (30, "bi-101")

    # A rebuild reads the older records too, in time order, and ends where the live projection did.
    before = snapshot(svc)
    report = svc.projection.rebuild()
    assert report.records == 22 and no_changes(report.tables), report.to_json()
    assert snapshot(svc) == before


def test_residence_registered_before_its_building_links_when_the_building_arrives(services: Services) -> None:
    svc = services
    ingest(svc, "resident_registration")
    assert counts(svc)["house"] == 0
    assert the_residence(svc, "杨磊")["house_id"] is None
    ingest(svc, "building_info")
    assert the_residence(svc, "杨磊")["house_id"] == "LD-0003/U1/301"
    assert the_residence(svc, "王强")["house_id"] == "FW-1-1-102"
    assert the_residence(svc, "赵敏")["house_id"] is None  # 9栋 does not exist
    linked = sum(e["detail"]["linked"] for e in audit_entries(svc, "registry.project"))
    assert linked == 9

    before = snapshot(svc)
    report = svc.projection.rebuild()
    assert no_changes(report.tables) and report.linked == 0, report.to_json()
    assert snapshot(svc) == before


def test_key_rotation_reseals_the_registry(services: Services) -> None:
    from anju.security.rotation import count_sealed_rows, rotate

    svc = services
    load_places_and_people(svc)
    names = set(people(svc))
    sealed_before = count_sealed_rows(svc)
    report = rotate(svc, actor="test")
    assert report.resealed["person"] == 10
    assert report.resealed["residence"] == 10
    assert report.resealed["emergency_contact"] == 2
    assert report.resealed["house"] == 8  # the owner's agent
    assert count_sealed_rows(svc) == sealed_before
    with svc.db.engine.connect() as conn:
        raw_names = conn.execute(select(svc.db.table("person").c.name)).scalars().all()
        raw_contacts = conn.execute(select(svc.db.table("emergency_contact").c.phone)).scalars().all()
    assert {FieldCipher.version_of(v) for v in [*raw_names, *raw_contacts]} == {report.version}
    assert set(people(svc)) == names
    # Blind indexes are not re-keyed: people are still found by their ID numbers after a rotation.
    ingest(svc, "resident_registration", [{**lines("resident_registration")[0], "ID": "rr-201"}])
    assert counts(svc)["person"] == 10


def test_category_rules() -> None:
    assert residence_category(None, "9", "01") == ("floating", False)
    assert residence_category(None, "1", "01") == ("resident", False)
    assert residence_category("02", "0", "01") == ("lodger", False)
    assert residence_category("04", "9", "01") == ("floating", True)
    assert residence_category(None, "0", "04") == ("resident", False)  # the householder never lodges
    assert residence_category(None, "8", "04") == ("lodger", False)  # data/residence_categories.yaml


# ---- the command line -------------------------------------------------------------------------------------
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(registry_app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_cli_show_and_rebuild(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = services
    load_places_and_people(svc)
    monkeypatch.setenv("ANJU_DATA_DIR", str(svc.settings.data_dir))
    monkeypatch.setenv("ANJU_DATABASE_URL", svc.settings.database_url)
    monkeypatch.delenv("ANJU_KEYS_FILE", raising=False)

    code, output = invoke("show", "--estate", ESTATE, "--json")
    assert code == 0, output
    summary = orjson.loads(output)
    assert (summary["buildings"], summary["units"], summary["houses"], summary["people"]) == (2, 3, 8, 10)
    assert summary["residences"] == {
        "resident": {"active": 6},
        "floating": {"active": 1, "ended": 1},
        # 黄勇 by RYLX 02; the householder's parent by 暂住事由 04 投亲靠友
        "lodger": {"active": 2},
    }
    code, output = invoke("show", "--estate", ESTATE)
    assert code == 0 and "幸福花园" in output and "floating" in output and "流动人口" in output

    before = snapshot(svc)
    code, output = invoke("rebuild", "--json")
    assert code == 0, output
    report = orjson.loads(output)
    assert report["records"] == 18 and no_changes(report["tables"])
    code, output = invoke("rebuild")
    assert code == 0 and "re-projected 18 records" in output and "0 rows created or updated" in output
    assert snapshot(svc) == before
    assert audit_entries(svc, "registry.project")[-1]["actor"].startswith("cli:")

    # A rebuild catches up with records stored while the projection failed (the bus only logs it).
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("projection down")

    with monkeypatch.context() as m:
        m.setattr(svc.projection, "_project", broken)
        ingest(svc, "population_sync")
    assert counts(svc)["person"] == 10
    code, output = invoke("rebuild", "--json")
    assert code == 0 and orjson.loads(output)["tables"]["person"]["created"] == 2
    assert counts(svc)["person"] == 12
