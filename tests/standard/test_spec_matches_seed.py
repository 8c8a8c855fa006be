"""The record-type files stay true to the seed: every row, code, name, type, length and required flag.

Where a file differs from the seed, it must say so: `seed_code`/`seed_type` keep what the seed printed
and `resolution` explains the reading. The seed's tables are parsed by tools/seed_tables.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from anju.standard.spec import load_standard

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tools"))
from seed_tables import parse, seed_path  # noqa: E402

pytestmark = pytest.mark.skipif(not seed_path(SHARED).exists(), reason=f"seed not found under {SHARED}")


def _tables():  # type: ignore[no-untyped-def]
    return {t.slug: t for t in parse(seed_path(SHARED).read_text(encoding="utf-8"))}


def test_all_twelve_types_in_seed_order() -> None:
    assert list(load_standard()) == list(_tables())


@pytest.mark.parametrize("slug", list(load_standard()))
def test_fields_match_seed_rows(slug: str) -> None:
    seed = _tables()[slug]
    spec = load_standard()[slug]
    assert spec.title_zh == seed.title_zh
    assert [f.seq for f in spec.fields] == [r.seq for r in seed.rows]
    for f, row in zip(spec.fields, seed.rows, strict=True):
        where = f"{slug}.{f.code} (seed row {row.seq})"
        assert f.zh == row.zh, where
        assert f.en, f"{where}: English name missing"
        assert (f.seed_code or f.code) == row.code, where
        if f.code != row.code:
            assert f.resolution, f"{where}: code differs from the seed without a written resolution"
        assert (f.seed_type or f.type) == row.type, where
        if f.type != row.type:
            assert f.resolution, f"{where}: type differs from the seed without a written resolution"
        assert f.seed_length == row.length, where
        if f.type == "VARCHAR2":
            assert str(f.length) == row.length, where
        if (
            f.type == "NUMBER"
            and f.precision is not None
            and "," not in row.length
            and str(f.precision) != row.length
        ):
            assert f.resolution, f"{where}: precision differs from the seed without a written resolution"
        assert f.required == row.note.startswith("必填"), where
        if "字典" in row.note:
            assert f.dictionary and f.dictionary in row.note, where


def test_every_known_seed_defect_is_resolved() -> None:
    std = load_standard()
    fire = {f.code: f for f in std["fire_energy"].fields}
    assert (
        fire["BJ_JD"].zh == "报警角度" and fire["BEIJ_JD"].seed_code == "BJ_JD" and fire["BEIJ_JD"].resolution
    )
    building = {f.code: f for f in std["building_info"].fields}
    assert building["SDM"].zh == "市代码" and building["SFDM"].zh == "省代码" and building["SFDM"].resolution
    assert building["LD_TP"].type == "BLOB" and building["LD_TP"].seed_type == "BLOOB"
    assert building["XJ_RQSJ"].seed_code == "XJ_RQ SJ"
    access = {f.code: f for f in std["access_swipe"].fields}
    for code in ("CJ_RQSJ", "SK_RQSJ", "JH_RQSJ"):
        assert access[code].seed_code == code[:-2] + " " + code[-2:] and access[code].resolution
    assert 9 not in [f.seq for f in std["access_swipe"].fields]
    assert std["access_swipe"].resolution and "row 9" in std["access_swipe"].resolution


def test_spaced_seed_codes_are_accepted_as_input_names() -> None:
    access = load_standard()["access_swipe"]
    assert access.resolve_name("CJ_RQ SJ") == "CJ_RQSJ"
    assert access.resolve_name("创建日期时间") == "CJ_RQSJ"
    assert load_standard()["fire_energy"].resolve_name("背景角度") == "BEIJ_JD"
