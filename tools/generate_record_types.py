"""One-time generator of src/anju/standard/data/records/*.yaml from the seed tables.

The YAML files are the source of truth once written (English names, personal-data kinds and checks are
added by hand). tests/standard/test_spec_matches_seed.py keeps them true to the seed.
Run: python tools/generate_record_types.py ../shared  (refuses to overwrite existing files).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from seed_tables import parse, seed_path

OUT = Path(__file__).resolve().parents[1] / "src" / "anju" / "standard" / "data" / "records"

TITLES_EN = {
    "perimeter_alarm": "Perimeter protection alarm",
    "video_record": "Video surveillance record",
    "patrol_record": "Electronic patrol record",
    "notice": "Information release (notice)",
    "emergency_call": "Emergency alarm / call for help",
    "fire_energy": "Fire and energy monitoring",
    "access_swipe": "Access-control card swipe",
    "face_capture": "Face capture",
    "vehicle_pass": "Vehicle entry/exit",
    "resident_registration": "Resident check-in registration",
    "building_info": "Building information",
    "population_sync": "一标三实 population sync",
}
ROLES = {  # (time field, device field, estate field)
    "perimeter_alarm": ("BJSJ", "SB_BM", None),
    "video_record": ("LZ_KSSJ", "SB_BM", None),
    "patrol_record": ("XL_RQSJ", "SBMC", None),
    "notice": ("FB_RQSJ", None, None),
    "emergency_call": ("BJQZ_RQJSJ", None, None),
    "fire_energy": ("BJSJ", "SB_BS", None),
    "access_swipe": ("SK_RQSJ", "SB_BH", "XQ_BS"),
    "face_capture": ("ZP_RQSJ", "CJSB_BH", None),
    "vehicle_pass": ("FXSJ", "SB_BH", None),
    "resident_registration": ("BLSJ", None, "XQ_BM"),
    "building_info": ("GXSJ", None, "XQ_BM"),
    "population_sync": ("DJRQ", None, None),
}
SPACED = (
    "The seed prints this code with a space ('{seed}'); a field code cannot contain one. Read as {code}, "
    "like every other *_RQSJ code; the spaced form is accepted as an alias on input."
)
RENAMES = {
    ("fire_energy", 17): (
        "BEIJ_JD",
        "The seed gives 背景角度 the code BJ_JD, already used by row 15 (报警角度). Row 15 keeps BJ_JD; this "
        "field becomes BEIJ_JD (背景 spelled out, as FANGWU_DZMC spells out 房屋 elsewhere in the standard). "
        "Input may also name it by its Chinese name 背景角度.",
    ),
    ("building_info", 29): (
        "SFDM",
        "The seed gives both 省代码 (row 29) and 市代码 (row 31) the code SDM. In this table S stands for 市 "
        "(SMC = 市名称) and SF for 省份 (SF_MC = 省份_名称), so 市代码 keeps SDM and 省代码 becomes SFDM.",
    ),
}
GAP_NOTE = {
    "access_swipe": "The seed numbers this table 1-8 then 10-40: row 9 is missing. The field list in the "
    "section's text matches rows 1-8 and 10 with nothing in between, so no field is missing; the seed's row "
    "numbers are kept as seq.",
}


def number_spec(slug: str, row_len: str) -> dict[str, object]:
    m = re.fullmatch(r"\((\d+),(\d+)\)", row_len)
    if m:
        return {"precision": int(m.group(1)), "scale": int(m.group(2))}
    if row_len == "22":
        return {
            "precision": None,
            "scale": None,
            "reading": "Length 22 is the byte size Oracle reports for an unconstrained NUMBER, so any "
            "finite number is accepted.",
        }
    return {"precision": int(row_len), "scale": 0}


def field(slug: str, row: object) -> dict[str, object]:
    from seed_tables import SeedRow

    assert isinstance(row, SeedRow)
    out: dict[str, object] = {"seq": row.seq}
    code = row.code.replace(" ", "")
    notes: list[str] = []
    if " " in row.code:
        notes.append(SPACED.format(seed=row.code, code=code))
    if (slug, row.seq) in RENAMES:
        code, why = RENAMES[(slug, row.seq)]
        notes.append(why)
    out["code"] = code
    if code != row.code:
        out["seed_code"] = row.code
    out["zh"] = row.zh
    out["en"] = ""
    ftype = row.type
    if ftype == "BLOOB":
        ftype = "BLOB"
        notes.append("The seed's type is 'BLOOB', a typo for BLOB.")
    out["type"] = ftype
    if ftype != row.type:
        out["seed_type"] = row.type
    out["seed_length"] = row.length
    if ftype == "VARCHAR2":
        out["length"] = int(row.length)
    elif ftype == "NUMBER":
        out.update(number_spec(slug, row.length))
    out["required"] = row.note.startswith("必填")
    m = re.search(r"字典[：:]\s*([A-Z]+)", row.note)
    if m:
        out["dictionary"] = m.group(1)
    if notes:
        out["resolution"] = " ".join(notes)
    return out


def main(shared: Path) -> None:
    tables = parse(seed_path(shared).read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    for t in tables:
        path = OUT / f"{t.slug}.yaml"
        if path.exists():
            print(f"{path} exists; not overwritten")
            continue
        time_f, dev_f, estate_f = ROLES[t.slug]
        doc: dict[str, object] = {
            "slug": t.slug,
            "section": f"三（{t.numeral}）",
            "title_zh": t.title_zh,
            "title_en": TITLES_EN[t.slug],
            "time_field": time_f,
            "device_field": dev_f,
            "estate_field": estate_f,
        }
        if t.slug in GAP_NOTE:
            doc["resolution"] = GAP_NOTE[t.slug]
        doc["fields"] = [field(t.slug, r) for r in t.rows]
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
