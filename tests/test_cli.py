"""The `anju` command, run for real as a subprocess over a SQLite file in a temporary data directory.

Each run costs about a second of interpreter start-up, so every test groups several checks.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from anju.standard.samples import Defect, SampleFactory, mixed_records
from anju.standard.spec import load_standard, record_type

SLUG = "access_swipe"
RTYPE = record_type(SLUG)
CODES = [f.code for f in RTYPE.fields]
ZH = [f.zh for f in RTYPE.fields]
DATE_CODES = {f.code for f in RTYPE.fields if f.type == "DATE"}


# ---- helpers -------------------------------------------------------------------------------------------
def make_env(root: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ANJU_DATA_DIR": str(root / "data"),
        "ANJU_DATABASE_URL": f"sqlite:///{root / 'anju.db'}",
    }
    env.pop("COLUMNS", None)  # rich's output width must not depend on the terminal running the tests
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anju.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def ok_json(env: dict[str, str], *args: str) -> Any:
    p = run(env, *args)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout)


def usage_error(env: dict[str, str], *args: str) -> str:
    """Exit code 2 and a message on stderr, no traceback; returns stderr.

    Anju's own mistakes print one `error:` line; a parameter the command line parser itself refuses
    (a number out of range, a missing file) is reported in typer's `Usage:` form."""
    p = run(env, *args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    text = p.stderr.lstrip()
    assert text.startswith("error:") or (text.startswith("Usage:") and "Error" in text), p.stderr
    return p.stderr


def counts(summary: dict[str, Any]) -> tuple[int, int, int]:
    return summary["accepted"], summary["rejected"], summary["duplicates"]


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    return path


def write_csv(path: Path, header: list[str], records: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for rec in records:
            writer.writerow(["" if rec.get(c) is None else rec[c] for c in CODES])
    return path


def csv_friendly(n: int, seed: int) -> list[tuple[dict[str, Any], Defect | None]]:
    """Mixed records whose defects survive being written as text (a nested object would not)."""
    return [
        (r, d)
        for r, d in mixed_records(SLUG, n, seed=seed, defect_rate=0.2)
        if d is None or d.kind != "wrong_type"
    ]


def assert_rejects_match(summary: dict[str, Any], planted: dict[Any, Defect]) -> None:
    by_id = {rej["id"]: rej for rej in summary["rejects"]}
    assert set(by_id) == set(planted), set(by_id) ^ set(planted)
    for rid, d in planted.items():
        assert any(e["field"] == d.field and e["code"] == d.code for e in by_id[rid]["errors"]), (
            d,
            by_id[rid],
        )


# ---- standard ------------------------------------------------------------------------------------------
def test_standard_list_and_show(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    types = ok_json(env, "standard", "list", "--json")
    assert len(types) == 12
    assert [t["slug"] for t in types] == list(load_standard())
    swipe = next(t for t in types if t["slug"] == SLUG)
    assert swipe["fields"] == len(RTYPE.fields) and swipe["title_zh"] == "门禁刷卡信息"

    shown = ok_json(env, "standard", "show", SLUG, "--json")
    cj = next(f for f in shown["fields"] if f["code"] == "CJ_RQSJ")
    assert cj["seed_code"] == "CJ_RQ SJ"
    assert "'CJ_RQ SJ'" in cj["resolution"] and "space" in cj["resolution"]

    p = run(make_env(tmp_path, COLUMNS="400"), "standard", "show", SLUG)
    assert p.returncode == 0, p.stderr
    assert "CJ_RQSJ" in p.stdout and "创建日期时间" in p.stdout
    assert "The seed prints this code with a space ('CJ_RQ SJ')" in p.stdout

    err = usage_error(env, "standard", "show", "nope")
    assert "unknown record type" in err and "'nope'" in err and SLUG in err


def test_standard_show_is_readable_when_piped(tmp_path: Path) -> None:
    p = run(make_env(tmp_path), "standard", "show", SLUG)
    assert p.returncode == 0, p.stderr
    assert "CJ_RQSJ" in p.stdout and "KMFS_MC" in p.stdout


def test_usage_error_is_one_line(tmp_path: Path) -> None:
    err = usage_error(make_env(tmp_path), "standard", "show", "nope")
    assert len(err.strip().splitlines()) == 1, err


# ---- ingest NDJSON, quarantine -------------------------------------------------------------------------
def test_ingest_ndjson_then_quarantine(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    pairs = mixed_records(SLUG, 200, seed=7, defect_rate=0.2)
    planted = {r["ID"]: d for r, d in pairs if d is not None}
    unknown_code = [rid for rid, d in planted.items() if d.code == "dict_unknown"]
    assert planted and unknown_code and len(unknown_code) < len(planted)
    path = write_ndjson(tmp_path / "swipes.ndjson", [r for r, _ in pairs])

    first = ok_json(env, "ingest", str(path), "--type", SLUG, "--json")
    assert first["received"] == 200 and first["format"] == "ndjson"
    assert counts(first) == (200 - len(planted), len(planted), 0)
    assert_rejects_match(first, planted)
    again = ok_json(env, "ingest", str(path), "--type", SLUG, "--json")
    assert counts(again) == (0, 0, 200)

    listed = ok_json(env, "quarantine", "list", "--json", "--limit", "1000")
    assert listed["total"] == len(planted)
    assert {e["record_id"] for e in listed["entries"]} == set(planted)
    assert all(e["status"] == "open" and e["source"] == "file:swipes.ndjson" for e in listed["entries"])
    assert all(e["seen_count"] == 2 for e in listed["entries"])  # the second run re-sent every one

    entry = next(e for e in listed["entries"] if e["record_id"] == unknown_code[0])
    sent = next(r for r, _ in pairs if r["ID"] == unknown_code[0])
    shown = ok_json(env, "quarantine", "show", str(entry["id"]), "--json", "--unmask")
    assert shown["raw_encoding"] == "utf-8"
    assert orjson.loads(shown["raw"]) == sent
    masked = orjson.loads(ok_json(env, "quarantine", "show", str(entry["id"]), "--json")["raw"])
    assert masked["GMSFHM"] != sent["GMSFHM"] and masked["GMSFHM"][-2:] == sent["GMSFHM"][-2:]
    assert masked["SK_FSDM"] == sent["SK_FSDM"]
    assert [(e["field"], e["code"]) for e in shown["errors"]] == [("SK_FSDM", "dict_unknown")]
    assert "no quarantine entry 987654" in usage_error(env, "quarantine", "show", "987654", "--json")

    assert "--all" in usage_error(env, "quarantine", "replay")
    usage_error(env, "quarantine", "replay", str(entry["id"]), "--all")

    folder = tmp_path / "data" / "dictionaries"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "KMFSDM.yaml").write_text(
        'name: KMFSDM\nmode: extend\ncodes:\n  - {code: "QQ", zh: 测试, en: test}\n', encoding="utf-8"
    )
    replayed = ok_json(env, "quarantine", "replay", "--all", "--json")
    assert replayed["received"] == len(planted)
    assert replayed["released"] == len(unknown_code)
    assert replayed["still_quarantined"] == len(planted) - len(unknown_code)

    still = ok_json(env, "quarantine", "list", "--json", "--limit", "1000")
    assert {e["record_id"] for e in still["entries"]} == set(planted) - set(unknown_code)
    released = ok_json(env, "quarantine", "list", "--json", "--status", "released", "--limit", "1000")
    assert {e["record_id"] for e in released["entries"]} == set(unknown_code)

    # Export holds exactly the clean records plus the released ones.
    exported = tmp_path / "out.ndjson"
    p = run(env, "export", "--type", SLUG, "--out", str(exported))
    assert p.returncode == 0, p.stderr
    ids = [orjson.loads(line)["ID"] for line in exported.read_bytes().splitlines()]
    assert len(ids) == 200 - len(planted) + len(unknown_code) == len(set(ids))
    assert f"exported {len(ids)} {SLUG} records" in p.stderr


def test_a_backfill_with_no_alarms_stores_without_raising(tmp_path: Path) -> None:
    """`--no-alarms`: past records are stored (and counted as duplicates when sent again) but the alarm
    rules do not judge them; the same kind of record imported normally raises its alarm."""
    env = make_env(tmp_path)
    fire = record_type("fire_energy")

    def fires(start: int, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(start, start + n):
            rec = SampleFactory(3).record(fire, i)
            rec.update(BJ_ZT="火警", CS_ZT="0", YW_ZT="0")
            out.append(rec)
        return out

    past = fires(0, 3)
    backfill = ok_json(
        env,
        "ingest",
        str(write_ndjson(tmp_path / "past.ndjson", past)),
        "--type",
        "fire_energy",
        "--no-alarms",
        "--json",
    )
    assert counts(backfill) == (3, 0, 0) and backfill["alarm_rules"] is False
    assert ok_json(env, "alarms", "list", "--json")["total"] == 0

    live = fires(10, 1)
    normal = ok_json(
        env, "ingest", str(write_ndjson(tmp_path / "now.ndjson", live)), "--type", "fire_energy", "--json"
    )
    assert counts(normal) == (1, 0, 0) and normal["alarm_rules"] is True
    alarms = ok_json(env, "alarms", "list", "--json")["alarms"]
    assert alarms, "the same kind of record, imported normally, raises an alarm"
    refs = {ref for a in alarms for ref in a["records"]}
    assert f"fire_energy:{live[0]['ID']}" in refs
    assert not refs & {f"fire_energy:{r['ID']}" for r in past}


# ---- CSV and XLSX --------------------------------------------------------------------------------------
def test_ingest_csv_chinese_and_code_headers_and_encodings(tmp_path: Path) -> None:
    pairs = csv_friendly(60, seed=21)
    planted = {r["ID"]: d for r, d in pairs if d is not None}
    assert planted
    records = [r for r, _ in pairs]

    env = make_env(tmp_path / "zh")
    zh_csv = write_csv(tmp_path / "zh.csv", ZH, records)
    summary = ok_json(env, "ingest", str(zh_csv), "--type", SLUG, "--json")
    assert summary["format"] == "csv" and summary["warnings"] == 0
    assert counts(summary) == (len(records) - len(planted), len(planted), 0)
    assert_rejects_match(summary, planted)
    assert {rej["index"] for rej in summary["rejects"]} == {i + 2 for i, (_, d) in enumerate(pairs) if d}

    code_csv = write_csv(tmp_path / "codes.csv", CODES, records)
    summary = ok_json(make_env(tmp_path / "codes"), "ingest", str(code_csv), "--type", SLUG, "--json")
    assert counts(summary) == (len(records) - len(planted), len(planted), 0)

    # Chinese Excel saves GB18030: refused with a hint under the default encoding, read with --encoding.
    env = make_env(tmp_path / "gb")
    gb_csv = write_csv(tmp_path / "gb.csv", ZH, records, encoding="gb18030")
    err = usage_error(env, "ingest", str(gb_csv), "--type", SLUG, "--json")
    assert "--encoding gb18030" in " ".join(err.split()) and "gb.csv" in err
    summary = ok_json(env, "ingest", str(gb_csv), "--type", SLUG, "--json", "--encoding", "gb18030")
    assert counts(summary) == (len(records) - len(planted), len(planted), 0)


def test_ingest_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    factory = SampleFactory(31)
    records = [factory.record(RTYPE, i) for i in range(12)]
    records[0]["YDDH"] = "13812345678"
    records[3]["SK_FSDM"] = "QQ"  # planted: unknown code
    records[5]["YDDH"] = "2345678"  # planted: not a phone number
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(ZH)
    for rec in records:
        row: list[Any] = []
        for code in CODES:
            v = rec.get(code)
            if code == "YDDH" and isinstance(v, str) and v.isdigit():
                v = int(v)  # Excel keeps phone numbers as numbers
            elif code in DATE_CODES and isinstance(v, str):
                v = datetime.strptime(v, "%Y-%m-%d %H:%M:%S")  # and date-times as date cells
            row.append(v)
        ws.append(row)
    assert isinstance(ws.cell(row=2, column=CODES.index("YDDH") + 1).value, int)
    assert isinstance(ws.cell(row=2, column=CODES.index("SK_RQSJ") + 1).value, datetime)
    path = tmp_path / "swipes.xlsx"
    wb.save(path)

    env = make_env(tmp_path)
    summary = ok_json(env, "ingest", str(path), "--type", SLUG, "--json")
    assert summary["format"] == "xlsx"
    assert counts(summary) == (10, 2, 0)
    errors = {rej["id"]: [(e["field"], e["code"]) for e in rej["errors"]] for rej in summary["rejects"]}
    assert errors == {
        records[3]["ID"]: [("SK_FSDM", "dict_unknown")],
        records[5]["ID"]: [("YDDH", "phone_format")],
    }

    p = run(env, "export", "--type", SLUG, "--unmask")
    assert p.returncode == 0, p.stderr
    back = {r["ID"]: r for r in map(orjson.loads, p.stdout.splitlines())}
    expected = [r for i, r in enumerate(records) if i not in (3, 5)]
    assert [back[r["ID"]] for r in expected] == expected  # phone numbers as text, date-times unchanged
    assert back[records[0]["ID"]]["YDDH"] == "13812345678"


# ---- export --------------------------------------------------------------------------------------------
def test_export_csv_round_trip_and_since(tmp_path: Path) -> None:
    env = make_env(tmp_path / "one")
    pairs = mixed_records(SLUG, 80, seed=41, defect_rate=0.2)
    clean = [r for r, d in pairs if d is None]
    source = write_ndjson(tmp_path / "in.ndjson", [r for r, _ in pairs])
    assert ok_json(env, "ingest", str(source), "--type", SLUG, "--json")["accepted"] == len(clean)

    out = tmp_path / "export.csv"
    p = run(env, "export", "--type", SLUG, "--format", "csv", "--out", str(out), "--unmask")
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    assert rows[0] == CODES
    assert len(rows) - 1 == len(clean)
    assert f"exported {len(clean)} {SLUG} records" in p.stderr

    # Into a second, empty deployment: every exported row is accepted as it is.
    env2 = make_env(tmp_path / "two")
    summary = ok_json(env2, "ingest", str(out), "--type", SLUG, "--json")
    assert counts(summary) == (len(clean), 0, 0) and summary["warnings"] == 0
    p = run(env2, "export", "--type", SLUG, "--unmask")
    assert p.returncode == 0, p.stderr
    assert [orjson.loads(line) for line in p.stdout.splitlines()] == clean
    # Without --unmask, personal fields leave masked: phone 3+4, ID number 1+2.
    p = run(env2, "export", "--type", SLUG)
    masked = [orjson.loads(line) for line in p.stdout.splitlines()]
    for got, sent in zip(masked, clean, strict=True):
        if sent.get("YDDH"):
            assert got["YDDH"] == sent["YDDH"][:3] + "****" + sent["YDDH"][-4:]
        if sent.get("GMSFHM"):
            assert got["GMSFHM"] == sent["GMSFHM"][0] + "*" * 15 + sent["GMSFHM"][-2:]

    # --since filters on arrival time; a far-future bound exports nothing.
    p = run(env, "export", "--type", SLUG, "--since", "2999-01-01 00:00:00", "--format", "csv")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines() == [",".join(CODES)]
    assert f"exported 0 {SLUG} records" in p.stderr
    p = run(env, "export", "--type", SLUG, "--since", "2000-01-01T00:00:00+08:00")
    assert p.returncode == 0 and len(p.stdout.splitlines()) == len(clean), p.stderr

    err = usage_error(env, "export", "--type", SLUG, "--since", "garbage")
    assert "--since 'garbage'" in err and "YYYY-MM-DD" in err
    assert "unknown record type" in usage_error(env, "export", "--type", "nope")


# ---- bad invocations -----------------------------------------------------------------------------------
def test_bad_files_and_options(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    p = run(env, "ingest", str(tmp_path / "missing.ndjson"), "--type", SLUG)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert "missing.ndjson" in p.stderr and "does not exist" in p.stderr

    odd = tmp_path / "records.dat"
    odd.write_text("{}\n", encoding="utf-8")
    assert "--format" in usage_error(env, "ingest", str(odd), "--type", SLUG)
    assert "unknown record type" in usage_error(
        env, "ingest", str(odd), "--type", "nope", "--format", "ndjson"
    )
    assert "--status" in usage_error(env, "quarantine", "list", "--status", "closed")
    assert "ANJU_BATCH_SIZE" in usage_error(make_env(tmp_path, ANJU_BATCH_SIZE="many"), "db", "upgrade")

    p = run(env, "db", "upgrade")
    assert p.returncode == 0 and "schema at" in p.stdout and "sqlite" in p.stdout, p.stderr


def _bad_override(tmp_path: Path) -> list[str]:
    folder = tmp_path / "data" / "dictionaries"
    folder.mkdir(parents=True)
    (folder / "KMFSDM.yaml").write_text("name: KMFSDM\nmode: bogus\ncodes: []\n", encoding="utf-8")
    rec = SampleFactory(3).record(RTYPE, 1)
    return ["ingest", str(write_ndjson(tmp_path / "one.ndjson", [rec])), "--type", SLUG]


def _xlsx_format_on_ndjson(tmp_path: Path) -> list[str]:
    path = write_ndjson(tmp_path / "one.ndjson", [SampleFactory(3).record(RTYPE, 1)])
    return ["ingest", str(path), "--type", SLUG, "--format", "xlsx"]


def _long_estate(tmp_path: Path) -> list[str]:
    path = write_ndjson(tmp_path / "one.ndjson", [SampleFactory(3).record(RTYPE, 1)])
    return ["ingest", str(path), "--type", SLUG, "--estate", "E" * 41]


def _huge_quarantine_id(tmp_path: Path) -> list[str]:
    return ["quarantine", "show", str(2**64)]


@pytest.mark.parametrize(
    "case",
    [_bad_override, _xlsx_format_on_ndjson, _long_estate, _huge_quarantine_id],
    ids=["invalid-dictionary-override", "xlsx-format-on-ndjson", "estate-too-long", "huge-quarantine-id"],
)
def test_mistakes_are_usage_errors(tmp_path: Path, case: Any) -> None:
    usage_error(make_env(tmp_path), *case(tmp_path))
