"""Valid sample records of every record type, built from the spec, and defects planted into them.

Used by `anju demo`, by the tests (a planted defect says which field and which finding code it must
produce) and by the benchmarks. Deterministic for a seed. The people are fictitious: names from common
characters, ID numbers with valid check digits under real county codes, mobile numbers in unassigned
blocks are not guaranteed — nothing here is a real resident's data.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from anju.ingest.items import Item
from anju.standard.checks import id_check_char
from anju.standard.dictionaries import Dictionary, load_dictionaries
from anju.standard.spec import FieldSpec, RecordType, load_standard, record_type

TZ = ZoneInfo("Asia/Shanghai")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程魏苏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文建国红梅志鹏辉燕飞晨宇浩然欣怡子涵思雨嘉"
WUHAN_COUNTIES = (
    "420102",
    "420103",
    "420104",
    "420105",
    "420106",
    "420107",
    "420111",
    "420112",
    "420113",
    "420114",
    "420115",
    "420116",
    "420117",
)
# Smallest well-formed images: enough for type sniffing, tiny on the wire.
JPEG = base64.b64encode(
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
).decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def id_number(rng: random.Random, *, birth: datetime | None = None, sex: str | None = None) -> str:
    region = rng.choice(WUHAN_COUNTIES)
    born = birth or datetime(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))
    seq = rng.randrange(0, 999)
    if (sex == "1" and seq % 2 == 0) or (sex == "2" and seq % 2 == 1):
        seq += 1
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "鄂" + rng.choice("ABCDEFG") + "".join(rng.choice(letters + "0123456789") for _ in range(5))


def _fit(text: str, limit: int) -> str:
    """Shorten to fit `limit` bytes in GB18030 (the platform's default length semantics)."""
    while len(text.encode("gb18030")) > limit:
        text = text[:-1]
    return text


class SampleFactory:
    def __init__(
        self,
        seed: int = 1,
        *,
        now: datetime | None = None,
        dictionaries: Mapping[str, Dictionary] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = (now or datetime.now(UTC)).astimezone(TZ).replace(microsecond=0)
        self.dicts = dictionaries if dictionaries is not None else load_dictionaries()
        self._codes: dict[str, list[str]] = {}

    def _local(self, dt: datetime) -> str:
        return dt.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")

    def _dict_code(self, f: FieldSpec) -> str:
        assert f.dictionary is not None
        if f.dictionary == "XZQH":
            return self.rng.choice(WUHAN_COUNTIES)
        codes = self._codes.get(f.dictionary)
        if codes is None:
            d = self.dicts[f.dictionary]
            codes = self._codes[f.dictionary] = [
                e.code for e in d.entries() if len(e.code) <= (f.length or 99)
            ]
        return self.rng.choice(codes)

    def value(self, f: FieldSpec, i: int, slug: str) -> Any:
        rng = self.rng
        if f.code == "ID":
            return f"{slug}-{self.seed}-{i:08d}"
        if f.type == "DATE":
            if f.future:
                return self._local(self.now + timedelta(days=rng.randrange(1, 3650)))
            return self._local(self.now - timedelta(seconds=rng.randrange(60, 30 * 86400)))
        if f.type == "BLOB":
            return rng.choice((JPEG, PNG))
        if f.type == "NUMBER":
            if f.check == "longitude":
                return round(114.1 + rng.random() * 0.5, 6)
            if f.check == "latitude":
                return round(30.4 + rng.random() * 0.4, 6)
            if f.precision is None:
                return round(rng.random() * 1000, 3)
            top = min(10 ** (f.precision - (f.scale or 0)) - 1, 999)
            return rng.randrange(0, top + 1) if not f.scale else round(rng.random() * top, f.scale)
        if f.dictionary:
            return self._dict_code(f)
        if f.check == "id_number":
            return id_number(rng)
        if f.check == "phone":
            return mobile(rng)
        if f.check == "plate":
            return plate(rng)
        if f.personal == "name":
            return person_name(rng)
        if f.personal == "address":
            return _fit(
                f"武汉市黄陂区盘龙城{rng.randrange(1, 40)}栋{rng.randrange(1, 6)}单元{rng.randrange(101, 3303)}",
                f.length or 100,
            )
        limit = f.length or 100
        if limit <= 2:
            return str(rng.randrange(0, 10**limit))
        return _fit(f"{f.zh}{rng.randrange(1, 10_000)}", limit)

    def record(self, rtype: RecordType, i: int) -> dict[str, Any]:
        rec = {f.code: self.value(f, i, rtype.slug) for f in rtype.fields}
        for rule in rtype.cross:
            self._satisfy(rtype, rule.kind, rule.params, rec)
        return rec

    def _satisfy(self, rtype: RecordType, kind: str, p: dict[str, Any], rec: dict[str, Any]) -> None:
        when = p.get("when")
        if when is not None:
            rec[when["field"]] = when["in"][0]
        if kind == "id_number_when":
            rec[p["field"]] = id_number(self.rng)
        elif kind in ("id_sex", "id_birth"):
            ident = rec[p["id"]]
            if not isinstance(ident, str) or len(ident) != 18:
                ident = rec[p["id"]] = id_number(self.rng)
            if kind == "id_sex":
                rec[p["sex"]] = "1" if int(ident[16]) % 2 else "2"
            else:
                rec[p["birth"]] = f"{ident[6:10]}-{ident[10:12]}-{ident[12:14]}"
        elif kind == "plate_type":
            rec[p["type"]] = "02"
            rec[p["plate"]] = plate(self.rng)
        elif kind == "not_before":
            a, b = rec[p["field"]], rec[p["after"]]
            if a < b:
                rec[p["field"]], rec[p["after"]] = b, a


@dataclass(frozen=True, slots=True)
class Defect:
    kind: str
    field: str
    code: str


Planter = Callable[[RecordType, dict[str, Any], random.Random, datetime], Defect | None]


def _pick(rng: random.Random, fields: list[FieldSpec]) -> FieldSpec | None:
    return rng.choice(fields) if fields else None


def _plain_text(t: RecordType) -> list[FieldSpec]:
    return [
        f
        for f in t.fields
        if f.type == "VARCHAR2"
        and f.code != "ID"
        and not f.dictionary
        and not f.check
        and not _in_cross_rule(t, f)
        and (f.length or 0) <= 200
    ]


def _missing(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
    f = _pick(rng, [f for f in t.fields if f.required and f.code != "ID"])
    if f is None:
        return None
    del rec[f.code]
    return Defect("missing_required", f.code, "required")


def _too_long(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
    f = _pick(rng, _plain_text(t))
    if f is None:
        return None
    rec[f.code] = "长" * ((f.length or 0) // 2 + 1)
    return Defect("too_long", f.code, "too_long")


def _replacing(
    kind: str, code: str, wanted: Callable[[FieldSpec], bool], bad: Callable[[Any, datetime], Any]
) -> Planter:
    """A planter that gives a random field matching `wanted` the value `bad(good value, now)`."""

    def planter(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
        f = _pick(rng, [f for f in t.fields if wanted(f) and not _paired(t, f)])
        if f is None:
            return None
        rec[f.code] = bad(rec.get(f.code), now)
        return Defect(kind, f.code, code)

    return planter


def _paired(t: RecordType, f: FieldSpec) -> bool:
    """A start time that an end time must not precede: breaking it would add a second finding."""
    return (
        any(r.kind == "not_before" and r.params.get("after") == f.code for r in t.cross) and f.type == "DATE"
    )


def _in_cross_rule(t: RecordType, f: FieldSpec) -> bool:
    return any(f.code in r.fields() for r in t.cross)


def _flip_check_char(good: Any, now: datetime) -> str:
    return str(good)[:17] + ("0" if str(good)[17] != "0" else "1")


def _month_ahead(good: Any, now: datetime) -> str:
    return (now + timedelta(days=30)).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


_bad_date = _replacing(
    "impossible_date", "date_invalid", lambda f: f.type == "DATE", lambda g, n: "2023-02-30 10:00:00"
)
_future_date = _replacing(
    "future_date", "date_future", lambda f: f.type == "DATE" and not f.future, _month_ahead
)
_bad_number = _replacing("not_a_number", "number_format", lambda f: f.type == "NUMBER", lambda g, n: "十二")
_bad_id = _replacing("id_checksum", "id_checksum", lambda f: f.check == "id_number", _flip_check_char)
_bad_phone = _replacing("phone_format", "phone_format", lambda f: f.check == "phone", lambda g, n: "2345678")
_bad_plate = _replacing("plate_format", "plate_format", lambda f: f.check == "plate", lambda g, n: "京AI2345")
_bad_coord = _replacing("coordinate_range", "coord_range", lambda f: f.check == "latitude", lambda g, n: 95.5)
_bad_blob = _replacing(
    "not_an_image",
    "blob_type",
    lambda f: f.type == "BLOB",
    lambda g, n: base64.b64encode(b"%PDF-1.4 not an image").decode(),
)


def _bad_dict(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
    f = _pick(rng, [f for f in t.fields if f.dictionary and not _in_cross_rule(t, f)])
    if f is None:
        return None
    rec[f.code] = "Q" * min(f.length or 2, 2)
    return Defect("unknown_code", f.code, "dict_unknown")


def _wrong_type(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
    f = _pick(rng, _plain_text(t))
    if f is None:
        return None
    rec[f.code] = {"nested": [1, 2]}
    return Defect("wrong_type", f.code, "type_text")


def _sex_mismatch(t: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect | None:
    rule = next((r for r in t.cross if r.kind == "id_sex"), None)
    if rule is None:
        return None
    sex = rule.params["sex"]
    rec[sex] = "2" if rec[sex] == "1" else "1"
    return Defect("sex_mismatch", sex, "id_sex_mismatch")


PLANTERS: tuple[Planter, ...] = (
    _missing,
    _too_long,
    _bad_date,
    _future_date,
    _bad_number,
    _bad_dict,
    _bad_id,
    _bad_phone,
    _bad_plate,
    _bad_coord,
    _bad_blob,
    _wrong_type,
    _sex_mismatch,
)


def plant(rtype: RecordType, rec: dict[str, Any], rng: random.Random, now: datetime) -> Defect:
    """Plant one defect the record type admits, chosen at random."""
    for planter in rng.sample(PLANTERS, len(PLANTERS)):
        defect = planter(rtype, rec, rng, now)
        if defect is not None:
            return defect
    raise ValueError(f"no defect can be planted in {rtype.slug}")  # pragma: no cover


def mixed_records(
    slug: str,
    n: int,
    *,
    seed: int = 7,
    defect_rate: float = 0.1,
    now: datetime | None = None,
    dictionaries: Mapping[str, Dictionary] | None = None,
) -> list[tuple[dict[str, Any], Defect | None]]:
    """n records of a type, about `defect_rate` of them with one planted defect each."""
    factory = SampleFactory(seed, now=now, dictionaries=dictionaries)
    rtype = record_type(slug)
    rng = random.Random(seed * 7919 + 1)
    out: list[tuple[dict[str, Any], Defect | None]] = []
    for i in range(n):
        rec = factory.record(rtype, i)
        defect = plant(rtype, rec, rng, factory.now) if rng.random() < defect_rate else None
        out.append((rec, defect))
    return out


def demo_items(slug: str, n: int, *, seed: int = 1) -> list[Item]:
    return [Item(i, orjson.dumps(rec), rec) for i, (rec, _) in enumerate(mixed_records(slug, n, seed=seed))]


__all__ = ["PLANTERS", "Defect", "SampleFactory", "demo_items", "load_standard", "mixed_records", "plant"]
