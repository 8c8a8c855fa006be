"""The HTTP API over a real database (SQLite file and PostgreSQL), through FastAPI's test client. No mocks."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.config import Settings
from anju.services import Services, open_services
from anju.standard.samples import Defect, SampleFactory, mixed_records
from anju.standard.spec import load_standard, record_type
from tests.conftest import signed_in_client

SLUG = "access_swipe"
TABLE = f"rec_{SLUG}"
RECORDS_URL = f"/api/v1/records/{SLUG}"
PHONE = "13812345678"
MASKED_PHONE = "138****5678"


# ---- helpers -------------------------------------------------------------------------------------------
def client_for(svc: Services) -> TestClient:
    return signed_in_client(svc)


@pytest.fixture
def client(sqlite_services: Services) -> Iterator[TestClient]:
    with client_for(sqlite_services) as c:
        yield c


def row_count(svc: Services, table: str = TABLE) -> int:
    t = svc.db.table(table)
    with svc.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t)).scalar_one())


def stored_row(svc: Services, record_id: str) -> dict[str, Any] | None:
    t = svc.db.table(TABLE)
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == record_id)).first()
    return dict(row._mapping) if row is not None else None


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def assert_error_body(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert err["code"] == code, err
    assert err["message_zh"] and err["message_en"], err
    assert "Traceback" not in response.text
    return err


def one_record(i: int, seed: int = 11, **changes: Any) -> dict[str, Any]:
    rec = SampleFactory(seed).record(record_type(SLUG), i)
    rec.update(changes)
    return rec


def post_one(client: TestClient, rec: dict[str, Any]) -> dict[str, Any]:
    r = client.post(RECORDS_URL, json=[rec])
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def reject_errors(answer: dict[str, Any]) -> list[dict[str, Any]]:
    assert answer["rejected"] == 1 and len(answer["rejects"]) == 1, answer
    errors: list[dict[str, Any]] = answer["rejects"][0]["errors"]
    return errors


# ---- ingest round trip, both databases -----------------------------------------------------------------
def test_ingest_mixed_batch_round_trip(services: Services) -> None:
    pairs = mixed_records(SLUG, 50, seed=3, defect_rate=0.2)
    records = [r for r, _ in pairs]
    defects: dict[int, Defect] = {i: d for i, (_, d) in enumerate(pairs) if d is not None}
    assert 0 < len(defects) < 50
    clean = [r for r, d in pairs if d is None]
    client = client_for(services)

    r = client.post(RECORDS_URL, json=records)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["record_type"] == SLUG
    assert answer["received"] == 50
    assert answer["accepted"] == len(clean)
    assert answer["rejected"] == len(defects)
    assert answer["duplicates"] == 0 and answer["conflicts"] == 0
    assert answer["details_truncated"] is False

    # Every reject is a planted defect, and names that defect's field and finding code.
    assert {rej["index"] for rej in answer["rejects"]} == set(defects)
    for rej in answer["rejects"]:
        d = defects[rej["index"]]
        assert rej["reason"] == "invalid"
        assert rej["id"] == records[rej["index"]]["ID"]
        assert any(e["field"] == d.field and e["code"] == d.code for e in rej["errors"]), (d, rej["errors"])
        assert isinstance(rej["quarantine_id"], int)

    # The rows are really in the table; the rejects are really in the quarantine.
    assert row_count(services) == len(clean)
    q = client.get("/api/v1/quarantine", params={"record_type": SLUG, "limit": 1000})
    assert q.status_code == 200, q.text
    listed = q.json()
    assert listed["total"] == len(defects)
    assert {e["record_id"] for e in listed["entries"]} == {records[i]["ID"] for i in defects}
    assert {e["id"] for e in listed["entries"]} == {rej["quarantine_id"] for rej in answer["rejects"]}
    assert all(e["status"] == "open" and e["reason"] == "invalid" for e in listed["entries"])

    # The same records again, as NDJSON: all duplicates (stored ones and quarantined ones alike).
    r = client.post(RECORDS_URL, content=ndjson(records), headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["received"] == 50
    assert again["accepted"] == 0
    assert again["duplicates"] == 50
    assert again["rejected"] == 0
    assert row_count(services) == len(clean)
    assert client.get("/api/v1/quarantine", params={"record_type": SLUG}).json()["total"] == len(defects)

    # Read back over HTTP: the standard's field codes, DATE fields as posted (local YYYY-MM-DD HH:MM:SS).
    r = client.get(RECORDS_URL, params={"limit": 1000, "unmask": "true"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["record_type"] == SLUG and got["count"] == len(clean) and got["masked"] is False
    by_id = {rec["ID"]: rec for rec in got["records"]}
    assert set(by_id) == {rec["ID"] for rec in clean}
    date_codes = [f.code for f in record_type(SLUG).fields if f.type == "DATE"]
    for posted in clean:
        back = by_id[posted["ID"]]
        for code in date_codes:
            if code in posted:
                assert back[code] == posted[code], (code, posted[code], back[code])
        assert back == posted


def test_id_conflict_is_quarantined_and_stored_row_unchanged(services: Services) -> None:
    client = client_for(services)
    original = one_record(1)
    assert post_one(client, original)["accepted"] == 1
    before = stored_row(services, original["ID"])
    assert before is not None

    changed = {**original, "XM": "王小明" if original["XM"] != "王小明" else "李小红"}
    answer = post_one(client, changed)
    assert answer["accepted"] == 0 and answer["conflicts"] == 1
    rej = answer["rejects"][0]
    assert rej["reason"] == "conflict"
    assert rej["id"] == original["ID"]
    assert rej["errors"][0]["code"] == "id_conflict"
    assert rej["errors"][0]["field"] == "ID"

    assert stored_row(services, original["ID"]) == before
    assert row_count(services) == 1
    entry = client.get(f"/api/v1/quarantine/{rej['quarantine_id']}").json()
    assert entry["reason"] == "conflict" and entry["record_id"] == original["ID"]
    assert entry["masked"] is True
    assert orjson.loads(entry["raw"])["XM"] == changed["XM"][0] + "*" + changed["XM"][2]
    url = f"/api/v1/quarantine/{rej['quarantine_id']}"
    assert orjson.loads(client.get(url, params={"unmask": True}).json()["raw"])["XM"] == changed["XM"]


# ---- estate ----------------------------------------------------------------------------------------------
def test_estate_is_stored_and_checked(sqlite_services: Services, client: TestClient) -> None:
    rec = one_record(2)
    r = client.post(RECORDS_URL, params={"estate": "E1"}, json=[rec])
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    row = stored_row(sqlite_services, rec["ID"])
    assert row is not None and row["_estate"] == "E1"

    # Without ?estate= the record's own estate field (XQ_BS) fills the column.
    rec2 = one_record(3)
    assert post_one(client, rec2)["accepted"] == 1
    row2 = stored_row(sqlite_services, rec2["ID"])
    assert row2 is not None and row2["_estate"] == rec2["XQ_BS"]

    err = assert_error_body(
        client.post(RECORDS_URL, params={"estate": "a b"}, json=[one_record(4)]), 422, "estate_invalid"
    )
    assert err["field"] == "estate"
    assert err["value"] == "a b"
    assert stored_row(sqlite_services, one_record(4)["ID"]) is None


# ---- bodies that are not records -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [b'[{"ID": ', b'{"ID": "x", ', bytes(range(128, 256)) + b"\x00\x01", b"hello"],
    ids=["truncated-array", "truncated-object", "random-bytes", "bare-word"],
)
def test_undecodable_body_is_quarantined(
    sqlite_services: Services, client: TestClient, payload: bytes
) -> None:
    r = client.post(RECORDS_URL, content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 0 and answer["rejected"] == 1
    rej = answer["rejects"][0]
    assert rej["reason"] == "undecodable"
    assert rej["errors"][0]["code"] == "json_invalid"
    assert row_count(sqlite_services) == 0

    entry = client.get(f"/api/v1/quarantine/{rej['quarantine_id']}", params={"unmask": True})
    assert entry.status_code == 200, entry.text
    e = entry.json()
    assert e["reason"] == "undecodable" and e["status"] == "open"
    if e["raw_encoding"] == "utf-8":
        assert e["raw"].encode() in (payload, payload.strip())
    else:
        assert e["raw_encoding"] == "base64"
        assert base64.b64decode(e["raw"]) in (payload, payload.strip())


def test_empty_unknown_and_oversized_bodies(sqlite_services: Services, client: TestClient) -> None:
    assert_error_body(client.post(RECORDS_URL, content=b""), 400, "body_empty")
    assert_error_body(client.post(RECORDS_URL, content=b"  \n\n "), 400, "body_empty")

    err = assert_error_body(
        client.post("/api/v1/records/nope", json=[{"ID": "1"}]), 404, "unknown_record_type"
    )
    for slug in load_standard():
        assert slug in err["message_en"]
    assert err["value"] == "nope"
    assert_error_body(client.get("/api/v1/records/nope"), 404, "unknown_record_type")
    assert_error_body(client.get("/api/v1/standard/nope"), 404, "unknown_record_type")
    assert_error_body(client.get("/api/v1/no/such/path"), 404, "not_found")

    tiny = [{"ID": f"t{i}"} for i in range(10_001)]
    err = assert_error_body(client.post(RECORDS_URL, json=tiny), 413, "too_many_records")
    assert err["value"] == 10_001
    r = client.post(RECORDS_URL, content=ndjson(tiny), headers={"content-type": "application/x-ndjson"})
    assert_error_body(r, 413, "too_many_records")
    assert row_count(sqlite_services) == 0
    assert client.get("/api/v1/quarantine", params={"status": "any"}).json()["total"] == 0

    # 10,000 is allowed (they are all invalid here, so all quarantined, none stored).
    r = client.post(RECORDS_URL, json=tiny[:10_000])
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 10_000


def test_body_limit_and_odd_batches(tmp_path: Path) -> None:
    svc = open_services(
        Settings(
            data_dir=tmp_path / "small",
            database_url=f"sqlite:///{tmp_path / 's.db'}",
            http_max_body_bytes=4000,
        )
    )
    try:
        client = client_for(svc)
        big = [one_record(i) for i in range(5)]
        assert len(orjson.dumps(big)) > 4000
        err = assert_error_body(client.post(RECORDS_URL, json=big), 413, "body_too_large")
        assert err["field"] == "body"
        assert row_count(svc) == 0

        # Items that are not objects are quarantined one by one; the rest of the batch is stored.
        rec = one_record(9)
        r = client.post(RECORDS_URL, json=[1, "x", None, [], rec])
        assert r.status_code == 200, r.text
        answer = r.json()
        assert (answer["accepted"], answer["rejected"]) == (1, 4)
        assert {rej["index"] for rej in answer["rejects"]} == {0, 1, 2, 3}
        assert all(rej["errors"][0]["code"] == "not_an_object" for rej in answer["rejects"])

        # The same ID twice in one batch: an identical repeat is a duplicate, a different one a conflict.
        twin = one_record(10)
        r = client.post(RECORDS_URL, json=[twin, twin, {**twin, "DYH": "另一个单元"}])
        answer = r.json()
        assert (answer["accepted"], answer["duplicates"], answer["rejected"], answer["conflicts"]) == (
            1,
            1,
            1,
            1,
        )
        assert answer["rejects"][0]["index"] == 2 and answer["rejects"][0]["reason"] == "conflict"
        stored = stored_row(svc, twin["ID"])
        assert stored is not None and stored["dyh"] == twin["DYH"]

        # NDJSON: blank lines are skipped, a bad line is quarantined alone, indexes are line numbers.
        lines = [orjson.dumps(one_record(11)), b"", b"{oops", orjson.dumps(one_record(12))]
        r = client.post(
            RECORDS_URL, content=b"\n".join(lines), headers={"content-type": "application/x-ndjson"}
        )
        answer = r.json()
        assert (answer["received"], answer["accepted"], answer["rejected"]) == (3, 2, 1)
        assert answer["rejects"][0]["index"] == 2 and answer["rejects"][0]["reason"] == "undecodable"

        # ?since= with an explicit offset filters on arrival time.
        assert client.get(RECORDS_URL, params={"since": "2000-01-01T00:00:00+08:00"}).json()["count"] == 4
        assert client.get(RECORDS_URL, params={"since": "2999-01-01T00:00:00+08:00"}).json()["count"] == 0
        assert client.get(RECORDS_URL, params={"limit": 2}).json()["count"] == 2
        assert_error_body(client.get(RECORDS_URL, params={"since": "garbage"}), 422, "request_invalid")
    finally:
        svc.close()


def test_out_of_range_quarantine_ids_are_not_server_errors(services: Services) -> None:
    client = signed_in_client(services, raise_server_exceptions=False)
    for big in (2**31, 2**63, 10**20):
        assert_error_body(client.get(f"/api/v1/quarantine/{big}"), 404, "quarantine_entry_not_found")
        r = client.post("/api/v1/quarantine/replay", json={"ids": [big]})
        assert r.status_code in (200, 422), r.text
        r = client.get("/api/v1/quarantine", params={"offset": big})
        assert r.status_code in (200, 422), r.text


def test_nul_character_in_text_never_loses_the_batch(services: Services) -> None:
    client = signed_in_client(services, raise_server_exceptions=False)
    with_nul, plain = one_record(80, XM="张\u0000三"), one_record(81)
    r = client.post(RECORDS_URL, json=[with_nul, plain])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    (err,) = answer["rejects"][0]["errors"]
    assert (err["field"], err["code"]) == ("XM", "text_nul")
    assert stored_row(services, plain["ID"]) is not None


# ---- wrong JSON types, masking ---------------------------------------------------------------------------
def test_wrong_json_types_are_quarantined_with_type_codes(client: TestClient) -> None:
    cases = [
        ("SK_RQSJ", 20240301, "type_date"),
        ("XM", {"nested": [1, 2]}, "type_text"),
        ("SK_FSDM", ["01"], "type_text"),
        ("SK_CS", True, "type_number"),
        ("DQJD", {"x": 1}, "type_number"),
        ("ZP", 12345, "type_blob"),
    ]
    for i, (field, value, code) in enumerate(cases):
        answer = post_one(client, one_record(20 + i, **{field: value}))
        errors = reject_errors(answer)
        assert answer["rejects"][0]["reason"] == "invalid"
        assert [(e["field"], e["code"]) for e in errors] == [(field, code)], (field, errors)
        assert errors[0]["severity"] == "error"


def test_personal_values_are_masked_in_findings(client: TestClient) -> None:
    # A phone number that fails the phone field's check: masked 3 + 4, never in full.
    answer = post_one(client, one_record(40, YDDH=PHONE + "9"))
    errors = reject_errors(answer)
    assert errors[0]["field"] == "YDDH" and errors[0]["code"] == "phone_format"
    assert errors[0]["value"] == "138*****6789"
    assert "138*****6789" in errors[0]["message_zh"] and "138*****6789" in errors[0]["message_en"]

    # Text fields of personal kinds with the wrong JSON type: the value is masked too.
    for i, patch in enumerate(
        [
            {"YDDH": {"phone": PHONE}},
            {"YDDH": [PHONE]},
            {"XM": {"name": PHONE}},
            {"JMK_BH": float(PHONE) + 0.5},
        ]
    ):
        r = client.post(RECORDS_URL, json=[one_record(41 + i, **patch)])
        assert r.status_code == 200 and r.json()["rejected"] == 1, r.text
        assert PHONE not in r.text, (patch, r.text)
        qid = r.json()["rejects"][0]["quarantine_id"]
        listed = client.get("/api/v1/quarantine").json()
        assert PHONE not in orjson.dumps([e["errors"] for e in listed["entries"]]).decode()
        shown = client.get(f"/api/v1/quarantine/{qid}").json()
        assert PHONE not in orjson.dumps(shown["errors"]).decode()


def test_phone_number_in_a_non_personal_field_is_masked(client: TestClient) -> None:
    answer = post_one(client, one_record(50, SK_RQSJ=int(PHONE)))
    errors = reject_errors(answer)
    assert errors[0]["code"] == "type_date"
    assert PHONE not in orjson.dumps(answer).decode()
    assert errors[0]["value"] == MASKED_PHONE


# ---- unknown fields --------------------------------------------------------------------------------------
def test_unknown_field_is_stored_with_a_warning(sqlite_services: Services, client: TestClient) -> None:
    rec = one_record(60, VENDOR_FLAG="abc")
    answer = post_one(client, rec)
    assert answer["accepted"] == 1 and answer["rejected"] == 0
    assert answer["warnings"] == 1
    assert len(answer["warned"]) == 1
    warned = answer["warned"][0]
    assert warned["id"] == rec["ID"]
    assert [(w["field"], w["code"], w["severity"]) for w in warned["warnings"]] == [
        ("VENDOR_FLAG", "unknown_field", "warning")
    ]
    row = stored_row(sqlite_services, rec["ID"])
    assert row is not None
    extra = row["_extra"]
    assert (orjson.loads(extra) if isinstance(extra, str) else extra) == {"VENDOR_FLAG": "abc"}
    # Not exported in the standard's form.
    back = client.get(RECORDS_URL, params={"unmask": True}).json()["records"]
    assert len(back) == 1 and "VENDOR_FLAG" not in back[0]


def test_fields_by_chinese_name_and_seed_code(sqlite_services: Services, client: TestClient) -> None:
    rec = one_record(61)
    rtype = record_type(SLUG)
    by_zh = {rtype.field(code).zh if code not in ("ID", "CJ_RQSJ") else code: v for code, v in rec.items()}
    by_zh["CJ_RQ SJ"] = by_zh.pop("CJ_RQSJ")  # the seed's spaced code is accepted as an alias
    answer = post_one(client, by_zh)
    assert answer["accepted"] == 1, answer
    assert answer["warnings"] == 0
    back = client.get(RECORDS_URL, params={"unmask": True}).json()["records"]
    assert back == [rec]


# ---- quarantine: show, replay ----------------------------------------------------------------------------
def test_quarantine_show_and_replay(sqlite_services: Services, client: TestClient) -> None:
    bad_dict = one_record(70, SK_FSDM="QQ")
    bad_date = one_record(71, SK_RQSJ="2023-02-30 10:00:00")
    r = client.post(RECORDS_URL, json=[bad_dict, bad_date])
    assert r.status_code == 200 and r.json()["rejected"] == 2, r.text
    ids = {rej["id"]: rej["quarantine_id"] for rej in r.json()["rejects"]}
    dict_qid, date_qid = ids[bad_dict["ID"]], ids[bad_date["ID"]]

    shown = client.get(f"/api/v1/quarantine/{dict_qid}", params={"unmask": True})
    assert shown.status_code == 200, shown.text
    e = shown.json()
    assert e["id"] == dict_qid and e["record_type"] == SLUG and e["record_id"] == bad_dict["ID"]
    assert e["raw_encoding"] == "utf-8" and orjson.loads(e["raw"]) == bad_dict
    assert [(x["field"], x["code"]) for x in e["errors"]] == [("SK_FSDM", "dict_unknown")]
    assert e["status"] == "open" and e["seen_count"] == 1 and e["attempts"] == 0

    err = assert_error_body(client.get("/api/v1/quarantine/987654"), 404, "quarantine_entry_not_found")
    assert err["value"] == 987654
    assert_error_body(client.get("/api/v1/quarantine/abc"), 422, "request_invalid")

    for bad in ({}, {"all": False}, {"ids": [dict_qid], "all": True}, {"ids": "x"}):
        assert_error_body(client.post("/api/v1/quarantine/replay", json=bad), 422, "request_invalid")
    assert_error_body(
        client.post(
            "/api/v1/quarantine/replay", content=b"not json", headers={"content-type": "application/json"}
        ),
        422,
        "request_invalid",
    )

    # Replaying before anything was fixed releases nothing and records the new attempt.
    r = client.post("/api/v1/quarantine/replay", json={"ids": [dict_qid]})
    assert r.status_code == 200, r.text
    assert r.json()["released"] == 0 and r.json()["still_quarantined"] == 1
    assert client.get(f"/api/v1/quarantine/{dict_qid}").json()["attempts"] == 1

    # The deployment adds the code to its dictionary; replay releases exactly that entry.
    folder = sqlite_services.settings.dictionaries_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "KMFSDM.yaml").write_text(
        'name: KMFSDM\nmode: extend\ncodes:\n  - {code: "QQ", zh: 测试, en: test}\n', encoding="utf-8"
    )
    r = client.post("/api/v1/quarantine/replay", json={"ids": [dict_qid]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["released"] == 1 and out["still_quarantined"] == 0 and out["accepted"] == 1
    assert stored_row(sqlite_services, bad_dict["ID"]) is not None
    assert stored_row(sqlite_services, bad_date["ID"]) is None
    released = client.get(f"/api/v1/quarantine/{dict_qid}").json()
    assert released["status"] == "released" and released["released_at"] is not None
    assert client.get(f"/api/v1/quarantine/{date_qid}").json()["status"] == "open"
    listed = client.get("/api/v1/quarantine").json()
    assert [x["id"] for x in listed["entries"]] == [date_qid]
    assert client.get("/api/v1/quarantine", params={"status": "released"}).json()["total"] == 1

    # The API's dictionary view follows the override; the released record reads back like any other.
    codes = {c["code"] for c in client.get("/api/v1/dictionaries/KMFSDM").json()["codes"]}
    assert "QQ" in codes and "01" in codes
    assert client.get(RECORDS_URL, params={"unmask": True}).json()["records"] == [bad_dict]

    # all=true replays what is left: the impossible date stays quarantined.
    r = client.post("/api/v1/quarantine/replay", json={"all": True})
    assert r.status_code == 200 and r.json()["released"] == 0 and r.json()["still_quarantined"] == 1


def test_quarantine_list_filters(client: TestClient) -> None:
    r = client.get("/api/v1/quarantine", params={"record_type": "nope"})
    assert_error_body(r, 404, "unknown_record_type")
    assert_error_body(client.get("/api/v1/quarantine", params={"status": "closed"}), 422, "request_invalid")
    assert_error_body(client.get("/api/v1/quarantine", params={"limit": 0}), 422, "request_invalid")
    assert client.get("/api/v1/quarantine").json() == {"total": 0, "entries": []}


# ---- the standard, dictionaries, docs, health ----------------------------------------------------------
def test_standard_dictionaries_docs_and_health(sqlite_services: Services, client: TestClient) -> None:
    r = client.get("/api/v1/standard")
    assert r.status_code == 200
    types = r.json()
    assert len(types) == 12
    assert [t["slug"] for t in types] == list(load_standard())
    assert {t["slug"] for t in types} >= {SLUG, "fire_energy"}

    fire = client.get("/api/v1/standard/fire_energy").json()
    assert fire["slug"] == "fire_energy"
    assert len(fire["fields"]) == fire["fields_count"]
    beij = next(f for f in fire["fields"] if f["code"] == "BEIJ_JD")
    assert beij["zh"] == "背景角度" and beij["seed_code"] == "BJ_JD"
    assert beij["resolution"] and "BJ_JD" in beij["resolution"]

    dicts = client.get("/api/v1/dictionaries").json()
    assert {"XB", "KMFSDM", "XZQH"} <= {d["name"] for d in dicts}
    xb = client.get("/api/v1/dictionaries/XB").json()
    assert xb["name"] == "XB"
    assert {"1", "2"} <= {c["code"] for c in xb["codes"]}
    assert next(c for c in xb["codes"] if c["code"] == "1")["zh"] == "男性"
    assert_error_body(client.get("/api/v1/dictionaries/NOPE"), 404, "unknown_dictionary")

    spec = client.get("/openapi.json").json()
    assert "/api/v1/records/{record_type}" in spec["paths"]
    assert {"/api/v1/quarantine/replay", "/api/v1/standard", "/healthz"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]

    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["database"] == "sqlite"
    assert health["schema"] == sqlite_services.db.head_revision()


def test_method_not_allowed_has_error_body(client: TestClient) -> None:
    assert_error_body(client.delete(RECORDS_URL), 405, "method_not_allowed")


def test_nul_character_in_a_record_id_is_quarantined(services: Services) -> None:
    client = signed_in_client(services, raise_server_exceptions=False)
    r = client.post(RECORDS_URL, json=[one_record(90, ID="bad\u0000id")])
    assert r.status_code == 200, r.text
    (reject,) = r.json()["rejects"]
    assert reject["errors"][0]["code"] == "text_nul"
    entry = client.get(f"/api/v1/quarantine/{reject['quarantine_id']}").json()
    assert entry["record_id"] == "bad\ufffdid"
