"""The shipped code dictionaries and the deployment override mechanism (real files, no mocks)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import time
from importlib import resources
from pathlib import Path

import pytest

from anju.standard.dictionaries import PACKAGE, Dictionary, DictionaryError, Entry, load_dictionaries

SHIPPED = {
    "XB", "MZ", "GJ", "HPZL", "ZJLX", "HYZK", "WHCD", "ZYLB", "YHZGX", "YFZGX", "KMFSDM", "FBFS",
    "ZZSY", "ZZCS", "YWLX", "ZRQ", "XZJD", "XZQH",
}  # fmt: skip
PER_DEPLOYMENT = {"KMFSDM", "FBFS", "ZZSY", "ZZCS", "YWLX", "ZRQ", "XZJD"}


@pytest.fixture(scope="module")
def dicts() -> dict[str, Dictionary]:
    return load_dictionaries()


def test_every_shipped_dictionary_loads(dicts: dict[str, Dictionary]) -> None:
    assert set(dicts) >= SHIPPED
    for name, d in dicts.items():
        assert d.name == name
        assert d.title_zh and d.title_en and d.source, name
        assert len(d) > 0, name
        assert d.per_deployment == (name in PER_DEPLOYMENT), name
        for e in d.entries():
            assert isinstance(e.code, str) and e.code and e.zh, (name, e)
            if name != "XZQH":
                assert e.en, (name, e)
            assert d.get(e.code) == e
            assert e.code in d


def test_loading_everything_is_fast() -> None:
    load_dictionaries()  # warm the import and file caches
    start = time.perf_counter()
    load_dictionaries()
    assert time.perf_counter() - start < 0.5  # target < 150 ms; generous for slow CI machines


def test_xb(dicts: dict[str, Dictionary]) -> None:
    xb = dicts["XB"]
    assert {"0", "1", "2", "9", "5", "6"} == set(xb)
    assert xb.label("1") == "男性" and xb.label("2", "en") == "Female"
    assert "single" in xb.note or "lineage" in xb.note
    assert 1 not in xb  # codes are strings only
    assert xb.label("7") is None


def test_mz(dicts: dict[str, Dictionary]) -> None:
    mz = dicts["MZ"]
    nations = [e for e in mz.entries() if int(e.code) <= 56]
    assert len(nations) == 56 and [e.code for e in nations] == [f"{i:02d}" for i in range(1, 57)]
    assert mz.label("01") == "汉族"
    assert mz.label("36") == "毛南族" and mz.label("46") == "德昂族"
    assert {"97", "98"} <= set(mz) and len(mz) == 58
    assert mz.code_for_name("毛难族") == "36"  # old name still found
    assert mz.code_for_name("崩龙族") == "46"


def test_hpzl(dicts: dict[str, Dictionary]) -> None:
    hpzl = dicts["HPZL"]
    assert {"02", "52", "51", "99"} <= set(hpzl)
    assert hpzl.label("02") == "小型汽车号牌"
    assert not {"31", "32", "41", "42", "43", "81", "82"} & set(hpzl)  # unverified codes left out


def test_gj_is_alpha3(dicts: dict[str, Dictionary]) -> None:
    gj = dicts["GJ"]
    assert "CHN" in gj and gj.label("CHN") == "中国"
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in gj)
    assert len(gj) >= 249
    assert gj.label("TWN") == "中国台湾" and gj.label("HKG") == "中国香港" and gj.label("MAC") == "中国澳门"
    assert "CN" not in gj


def test_other_standard_tables(dicts: dict[str, Dictionary]) -> None:
    assert {"111", "112", "113", "414", "990"} <= set(dicts["ZJLX"])
    assert dicts["HYZK"].label("20") == "已婚"
    assert dicts["WHCD"].label("21") == "大学本科毕业"
    assert set(dicts["ZYLB"]) == {str(i) for i in range(1, 9)}
    yhzgx = dicts["YHZGX"]
    assert all(len(c) == 2 for c in yhzgx) and yhzgx.label("02") == "户主" and "99" in yhzgx
    yfzgx = dicts["YFZGX"]
    assert [e.code for e in yfzgx.entries()] == [str(i) for i in range(10)]
    assert yfzgx.label("0") == "本人或户主"


def test_field_lengths_fit(dicts: dict[str, Dictionary]) -> None:
    width = {"XB": 1, "YFZGX": 1, "KMFSDM": 2, "FBFS": 2, "ZZCS": 2, "MZ": 2, "HPZL": 2, "GJ": 3,
             "ZYLB": 3, "XZJD": 3, "ZJLX": 3, "ZRQ": 12, "YWLX": 20, "XZQH": 6}  # fmt: skip
    for name, n in width.items():
        assert all(len(code) <= n for code in dicts[name]), name


def test_per_deployment_defaults(dicts: dict[str, Dictionary]) -> None:
    kmfs = dicts["KMFSDM"]
    assert kmfs.label("03") == "人脸识别" and "99" in kmfs
    assert dicts["FBFS"].label("05") == "微信公众号"
    zzsy = dicts["ZZSY"]
    assert zzsy.code_for_name("务工") == "01"
    assert zzsy.code_for_name(" 就医 ") == "05"
    assert zzsy.code_for_name("打工") == "01"  # alias
    assert zzsy.code_for_name("不存在") is None


def test_xzqh_history(dicts: dict[str, Dictionary]) -> None:
    xzqh = dicts["XZQH"]
    for code in ("420000", "420100", "420116", "420117", "330113", "330114", "110101"):
        assert code in xzqh and xzqh.current(code), code
    assert xzqh.label("420116") == "黄陂区"
    assert xzqh.get("420116") == Entry("420116", "黄陂区", "", "1998", None, "county", "420100")
    hubei, wuhan = xzqh.get("420000"), xzqh.get("420100")
    assert hubei is not None and hubei.level == "province" and hubei.parent is None
    assert wuhan is not None and wuhan.level == "prefecture" and wuhan.parent == "420000"

    linan = xzqh.get("330185")
    assert linan is not None and linan.zh == "临安市" and linan.valid_to == "2017"
    assert "330185" in xzqh and not xzqh.current("330185")
    assert xzqh.valid_in("330185", 2000) and not xzqh.valid_in("330185", 2018)
    laiwu = xzqh.get("371200")
    assert laiwu is not None and laiwu.valid_to == "2018" and not xzqh.current("371200")
    assert "999999" not in xzqh and not xzqh.current("999999")

    # a code renamed in place keeps both names
    assert [e.zh for e in xzqh.history("420203")] == ["石灰窑区", "西塞山区"]
    assert xzqh.label("420203") == "西塞山区" and xzqh.code_for_name("石灰窑区") == "420203"
    # names are not unique: current codes first
    assert set(xzqh.codes_for_name("朝阳区")) >= {"110105", "220104"}
    assert xzqh.label("420116", "en") == "黄陂区"  # no English names: falls back to zh


def test_xzqh_csv_shape() -> None:
    text = (resources.files(PACKAGE) / "xzqh.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["code", "name", "level", "parent", "valid_from", "valid_to", "source_version"]
    assert len(rows) > 6000
    codes = {r["code"] for r in rows}
    for r in rows:
        assert re.fullmatch(r"\d{6}", r["code"]) and r["name"] and r["source_version"]
        assert r["level"] in ("province", "prefecture", "county")
        assert (r["parent"] == "") == (r["level"] == "province")
        assert r["parent"] == "" or r["parent"] in codes
        for bound in (r["valid_from"], r["valid_to"]):
            assert bound == "" or re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", bound)


def test_current_with_dates(tmp_path: Path) -> None:
    (tmp_path / "XB.yaml").write_text(
        "mode: extend\ncodes:\n"
        '  - {code: "7", zh: 旧码, valid_from: 2001, valid_to: 2010-06-30}\n'
        '  - {code: "8", zh: 新码, valid_from: "2030-01-01"}\n',
        encoding="utf-8",
    )
    xb = load_dictionaries(tmp_path)["XB"]
    assert "7" in xb and "8" in xb
    assert xb.current("7", today=dt.date(2010, 6, 30)) and not xb.current("7", today=dt.date(2010, 7, 1))
    assert not xb.current("8", today=dt.date(2026, 1, 1)) and xb.current("8", today=dt.date(2030, 1, 1))
    assert xb.current("1")


# -- overrides ----------------------------------------------------------------------------------------


def test_override_replace(tmp_path: Path) -> None:
    (tmp_path / "ZRQ.yaml").write_text(
        "title_zh: 责任区\ncodes:\n"
        '  - {code: "420116010001", zh: 前川一区, en: Qianchuan 1}\n'
        '  - {code: "420116010002", zh: 前川二区}\n',
        encoding="utf-8",
    )
    d = load_dictionaries(tmp_path)
    zrq = d["ZRQ"]
    assert set(zrq) == {"420116010001", "420116010002"}
    assert zrq.title_zh == "责任区" and zrq.per_deployment  # metadata not given is kept
    assert zrq.label("420116010002", "en") == "前川二区"
    assert zrq.origin == str(tmp_path / "ZRQ.yaml")
    assert "XB" in d and len(d["XZQH"]) > 6000  # others untouched


def test_override_extend(tmp_path: Path) -> None:
    (tmp_path / "MZ.yaml").write_text(
        "mode: extend\nnote: with 99\ncodes:\n"
        '  - {code: "99", zh: 未说明, en: Not stated}\n'
        '  - {code: "97", zh: 其他民族, en: Other ethnic group}\n',
        encoding="utf-8",
    )
    mz = load_dictionaries(tmp_path)["MZ"]
    assert len(mz) == 59
    assert mz.label("01") == "汉族" and mz.label("99") == "未说明" and mz.label("97") == "其他民族"
    assert mz.note == "with 99" and mz.source == "GB/T 3304-1991"
    assert mz.code_for_name("毛难族") == "36"


def test_override_xzqh_extend_with_csv(tmp_path: Path) -> None:
    (tmp_path / "XZQH.yaml").write_text("mode: extend\nfile: local.csv\n", encoding="utf-8")
    (tmp_path / "local.csv").write_text(
        "code,name,valid_from,valid_to\n990101,测试区,2030,\n", encoding="utf-8"
    )
    xzqh = load_dictionaries(tmp_path)["XZQH"]
    assert "990101" in xzqh and "420116" in xzqh
    assert not xzqh.current("990101", today=dt.date(2026, 1, 1))


def test_override_adds_new_dictionary(tmp_path: Path) -> None:
    (tmp_path / "CLYS.yml").write_text(
        'title_zh: 车辆颜色\ncodes:\n  - {code: "A", zh: 白, en: White}\n', encoding="utf-8"
    )
    d = load_dictionaries(tmp_path)
    assert d["CLYS"].label("A") == "白" and d["CLYS"].title_zh == "车辆颜色"


def test_missing_override_dir_is_ignored(tmp_path: Path) -> None:
    assert set(load_dictionaries(tmp_path / "nope")) == set(load_dictionaries())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("codes:\n  - {code: 1, zh: 男}\n", "quote it"),
        ('codes:\n  - {code: "1", en: Male}\n', "missing zh"),
        ('codes:\n  - {code: "1", zh: 男}\n  - {code: "1", zh: 女}\n', "twice"),
        ("mode: merge\ncodes: []\n", "mode"),
        ('codes: {"1": 男}\n', "list"),
        ('codes:\n  - {code: "1", zh: 男, colour: red}\n', "colour"),
        ('codes:\n  - {code: "1", zh: 男, valid_to: "2020-13-01"}\n', "date"),
        ("name: XX\ncodes: []\n", "file name"),
        ("title_zh: x\n", "no codes"),
        ("codes: [\n", "invalid YAML"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_override_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "XB.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DictionaryError) as info:
        load_dictionaries(tmp_path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert problem in info.value.message


def test_bad_override_csv(tmp_path: Path) -> None:
    (tmp_path / "XZQH.yaml").write_text("file: local.csv\n", encoding="utf-8")
    (tmp_path / "local.csv").write_text("code,name,valid_to\n420116,黄陂区,98\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"local\.csv.*line 2"):
        load_dictionaries(tmp_path)
    (tmp_path / "local.csv").unlink()
    with pytest.raises(DictionaryError, match="cannot read"):
        load_dictionaries(tmp_path)
