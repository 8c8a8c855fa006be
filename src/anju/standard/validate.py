"""Field-by-field validation of one record against its record type, compiled once per type.

A validator turns a decoded record (a dict keyed by field code or an accepted alias) into a row of
normalised values in field order, or into findings. It is the hot path of ingestion: each field gets one
small converter chosen when the validator is built, and the loop over a record does nothing else.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from anju.config import Settings
from anju.standard import checks
from anju.standard.checks import CheckFailed
from anju.standard.dictionaries import Dictionary
from anju.standard.issues import Issue, describe_type, make_issue, render
from anju.standard.spec import CrossRule, FieldSpec, RecordType

# Fields marked `future: true` (expiry dates, planned departures) may lie this far ahead.
FUTURE_FIELD_HORIZON = timedelta(days=366 * 100)
_ORACLE_NUMBER_LIMIT = 1e125
_EARLIEST_NAIVE = datetime(1880, 1, 1)
_fromisoformat = datetime.fromisoformat


@dataclass(slots=True)
class Context:
    """Per-record state the converters share: the clock and the warnings they raise."""

    now: datetime
    today: date
    warnings: list[Issue] = field(default_factory=list)
    now_naive: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now_naive = self.now.astimezone(UTC).replace(tzinfo=None)


Converter = Callable[[Any, Context], Any]


@dataclass(slots=True)
class Outcome:
    record_id: str | None
    row: list[Any] | None
    digest: str | None
    issues: list[Issue]
    extra: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.row is not None


def _fail(code: str, **params: Any) -> CheckFailed:
    zh, en = render(code, **params)
    return CheckFailed(code, zh, en)


def _bytes_default(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def row_digest(row: list[Any]) -> str:
    """Content hash of a normalised row: what makes a re-sent record a duplicate rather than a conflict."""
    return hashlib.blake2b(orjson.dumps(row, default=_bytes_default), digest_size=16).hexdigest()


class RecordValidator:
    def __init__(self, rtype: RecordType, dictionaries: Mapping[str, Dictionary], settings: Settings) -> None:
        self.rtype = rtype
        self._dicts = dictionaries
        self._settings = settings
        self._known = frozenset(f.code for f in rtype.fields)
        # (code, required, inline text limit, converter, spec). A plain text field (no dictionary, no check)
        # whose value is at most `limit // 4` characters cannot exceed its byte limit in any encoding, so the
        # loop accepts it without calling the converter; anything else goes through the converter.
        self._plan: list[tuple[str, bool, int, Converter, FieldSpec]] = [
            (f.code, f.required, self._inline_limit(f), self._converter(f), f) for f in rtype.fields
        ]
        self._id_index = [f.code for f in rtype.fields].index("ID")
        self._index = {f.code: i for i, f in enumerate(rtype.fields)}
        self._cross = [self._cross_rule(r) for r in rtype.cross]

    # ---- building converters -------------------------------------------------------------------------
    @staticmethod
    def _inline_limit(f: FieldSpec) -> int:
        if f.type != "VARCHAR2" or f.dictionary or f.check:
            return 0
        return (f.length or 0) // 4

    def _converter(self, f: FieldSpec) -> Converter:
        if f.type == "VARCHAR2":
            return self._text_converter(f)
        if f.type == "NUMBER":
            return self._number_converter(f)
        if f.type == "DATE":
            return self._date_converter(f)
        return self._blob_converter(f)

    def _text_converter(self, f: FieldSpec) -> Converter:
        limit = f.length or 0
        quick = limit // 4  # no character takes more than 4 bytes in GB18030 or UTF-8
        encoding = self._settings.length_encoding
        semantic = self._semantic_check(f)
        dictionary = self._dictionary_check(f)

        def convert(v: Any, ctx: Context) -> Any:
            if type(v) is str:
                s = v
            elif type(v) is int:
                s = str(v)
            else:
                raise _fail("type_text", got=describe_type(v))
            if "\x00" in s:
                raise _fail("text_nul")
            n = len(s)
            if n > quick:
                size = n if s.isascii() else len(s.encode(encoding, "replace"))
                if size > limit:
                    raise _fail("too_long", actual=size, limit=limit, encoding=encoding.upper())
            if dictionary is not None:
                dictionary(s)
            if semantic is not None:
                s = semantic(s, ctx)
            return s

        return convert

    def _dictionary_check(self, f: FieldSpec) -> Callable[[str], None] | None:
        if f.dictionary is None:
            return None
        name = f.dictionary
        d = self._dicts.get(name)
        if d is None:

            def missing(s: str) -> None:
                raise _fail("dict_missing", dictionary=name)

            return missing
        title_zh, title_en = d.title_zh, d.title_en

        def check(s: str) -> None:
            if s not in d and d.code_for_name(s) is None:
                raise _fail("dict_unknown", dictionary=name, title=title_zh, title_en=title_en)

        return check

    def _semantic_check(self, f: FieldSpec) -> Callable[[str, Context], str] | None:
        if f.check == "id_number":
            return self._id_number_check(f)
        if f.check == "phone":
            return lambda s, ctx: checks.check_phone(s)
        if f.check == "plate":
            return lambda s, ctx: checks.check_plate(s).number
        return None

    def _id_number_check(self, f: FieldSpec) -> Callable[[str, Context], str]:
        xzqh = self._dicts.get("XZQH")
        known = xzqh.__contains__ if xzqh is not None else None

        def check(s: str, ctx: Context) -> str:
            info = checks.check_id_number(s, today=ctx.today, region_known=known)
            if info.region_unknown:
                zh, en = render("id_region_unknown", region=info.region)
                ctx.warnings.append(
                    make_issue(
                        "id_region_unknown",
                        zh,
                        en,
                        field=f.code,
                        field_zh=f.zh,
                        value=s,
                        personal=f.personal,
                        severity="warning",
                    )
                )
            return info.number

        return check

    def _number_converter(self, f: FieldSpec) -> Converter:
        precision, scale = f.precision, f.scale or 0
        bound = None if precision is None else 10 ** (precision - scale)
        type_text = f.type_text()
        geo = {"longitude": checks.check_longitude, "latitude": checks.check_latitude}.get(f.check or "")

        def convert(v: Any, ctx: Context) -> Any:
            t = type(v)
            if t is int:
                x: float | int = v
            elif t is float:
                x = v
            elif t is str:
                try:
                    x = int(v)
                except ValueError:
                    try:
                        x = float(v)
                    except ValueError:
                        raise _fail("number_format") from None
            else:
                raise _fail("type_number", got=describe_type(v))
            if type(x) is float:
                if not math.isfinite(x):
                    raise _fail("number_format")
                if scale == 0 and precision is not None:
                    if not x.is_integer():
                        raise _fail("number_integer", type=type_text)
                    x = int(x)
                elif precision is not None:
                    # Oracle rounds surplus decimals of NUMBER(p,s) on insert; so does Anju.
                    x = round(x, scale)
            elif scale and precision is not None:
                x = float(x)
            if bound is None:
                if abs(x) >= _ORACLE_NUMBER_LIMIT:
                    raise _fail("number_range")
            elif abs(x) >= bound:
                raise _fail("number_precision", digits=precision - scale if precision else 0, type=type_text)
            if geo is not None:
                x = geo(float(x))
            return x

        return convert

    def _date_converter(self, f: FieldSpec) -> Converter:
        tz = self._settings.timezone
        ahead = FUTURE_FIELD_HORIZON if f.future else self._settings.max_future
        earliest = _EARLIEST_NAIVE
        offsets: dict[date, timedelta] = {}  # local day -> UTC offset; the zone's rules are fixed

        def full(v: str, ctx: Context) -> datetime:
            dt = checks.parse_datetime(v, tz=tz)
            checks.check_date_range(dt, now=ctx.now, max_future=ahead)
            return dt.replace(tzinfo=None)

        def convert(v: Any, ctx: Context) -> Any:
            if type(v) is str:
                # Fast path for the standard's own `YYYY-MM-DD HH:MM:SS`; every other shape, and every
                # finding, goes through the full parser.
                if len(v) == 19 and v[10] == " " and v[13] == ":" and v[16] == ":" and v[4] == "-":
                    try:
                        local = _fromisoformat(v)
                    except ValueError:
                        return full(v, ctx)
                    day = local.date()
                    offset = offsets.get(day)
                    if offset is None:
                        offset = offsets[day] = local.replace(tzinfo=tz).utcoffset() or timedelta(0)
                        if len(offsets) > 4096:
                            offsets.clear()
                    utc = local - offset
                    if earliest <= utc <= ctx.now_naive + ahead:
                        return utc
                return full(v, ctx)
            if isinstance(v, datetime):  # spreadsheet cells arrive as naive local date-times
                dt = (v if v.tzinfo else v.replace(tzinfo=tz)).astimezone(UTC)
            else:
                raise _fail("type_date", got=describe_type(v))
            checks.check_date_range(dt, now=ctx.now, max_future=ahead)
            return dt.replace(tzinfo=None)

        return convert

    def _blob_converter(self, f: FieldSpec) -> Converter:
        max_bytes = self._settings.blob_max_bytes

        def convert(v: Any, ctx: Context) -> Any:
            if type(v) is not str:
                raise _fail("type_blob", got=describe_type(v))
            return checks.check_image(v, max_bytes=max_bytes)

        return convert

    # ---- cross-field rules -----------------------------------------------------------------------------
    def _cross_rule(self, rule: CrossRule) -> Callable[[list[Any], set[str], Context], Issue | None]:
        p = rule.params
        when = p.get("when")

        def applies(row: list[Any]) -> bool:
            if when is None:
                return True
            value = row[self._index[when["field"]]]
            return value is not None and str(value) in {str(x) for x in when["in"]}

        if rule.kind == "id_number_when":
            code = p["field"]
            spec = self.rtype.field(code)
            check = self._id_number_check(spec)

            def id_when(row: list[Any], bad: set[str], ctx: Context) -> Issue | None:
                i = self._index[code]
                if code in bad or row[i] is None or not applies(row):
                    return None
                try:
                    row[i] = check(row[i], ctx)
                except CheckFailed as e:
                    bad.add(code)
                    return make_issue(
                        e.code, e.zh, e.en, field=code, field_zh=spec.zh, value=row[i], personal=spec.personal
                    )
                return None

            return id_when

        if rule.kind in ("id_sex", "id_birth"):
            id_code = p["id"]
            other = p["sex"] if rule.kind == "id_sex" else p["birth"]
            other_spec = self.rtype.field(other)
            tz = self._settings.timezone

            def id_cross(row: list[Any], bad: set[str], ctx: Context) -> Issue | None:
                ident, value = row[self._index[id_code]], row[self._index[other]]
                if ident is None or value is None or id_code in bad or other in bad or not applies(row):
                    return None
                try:
                    info = checks.check_id_number(ident, today=ctx.today)
                except CheckFailed:
                    return None  # the ID number's own finding already says what is wrong
                if rule.kind == "id_sex":
                    if value not in ("1", "2") or value == info.sex_code:
                        return None
                    zh, en = render(
                        "id_sex_mismatch",
                        id_sex="男性" if info.sex_code == "1" else "女性",
                        id_sex_en="male" if info.sex_code == "1" else "female",
                        sex_field=other,
                        sex=value,
                    )
                    return make_issue(
                        "id_sex_mismatch", zh, en, field=other, field_zh=other_spec.zh, value=value
                    )
                local = value.replace(tzinfo=UTC).astimezone(tz).date()
                if local == info.birth:
                    return None
                zh, en = render(
                    "id_birth_mismatch",
                    id_birth=info.birth.isoformat(),
                    birth_field=other,
                    birth=local.isoformat(),
                )
                return make_issue(
                    "id_birth_mismatch", zh, en, field=other, field_zh=other_spec.zh, value=local.isoformat()
                )

            return id_cross

        if rule.kind == "plate_type":
            plate_code, type_code = p["plate"], p["type"]
            type_spec = self.rtype.field(type_code)

            def plate_type(row: list[Any], bad: set[str], ctx: Context) -> Issue | None:
                plate, hpzl = row[self._index[plate_code]], row[self._index[type_code]]
                if plate is None or hpzl is None or plate_code in bad or type_code in bad:
                    return None
                try:
                    checks.check_plate_type(checks.check_plate(plate), hpzl)
                except CheckFailed as e:
                    return make_issue(e.code, e.zh, e.en, field=type_code, field_zh=type_spec.zh, value=hpzl)
                return None

            return plate_type

        # not_before: field must not be earlier than `after`
        late, early = p["field"], p["after"]
        late_spec, early_spec = self.rtype.field(late), self.rtype.field(early)

        def not_before(row: list[Any], bad: set[str], ctx: Context) -> Issue | None:
            a, b = row[self._index[late]], row[self._index[early]]
            if a is None or b is None or a >= b:
                return None
            zh, en = render("not_before", other=early, other_zh=early_spec.zh, other_en=early_spec.en)
            shown = checks.format_local(a, self._settings.timezone)
            return make_issue("not_before", zh, en, field=late, field_zh=late_spec.zh, value=shown)

        return not_before

    # ---- validating ------------------------------------------------------------------------------------
    def validate(self, obj: object, ctx: Context) -> Outcome:
        if not isinstance(obj, dict):
            zh, en = render("not_an_object", got=describe_type(obj))
            return Outcome(None, None, None, [make_issue("not_an_object", zh, en)])
        issues: list[Issue] = []
        extra: dict[str, Any] | None = None
        if not obj.keys() <= self._known:
            obj, extra = self._remap(obj, issues)
        row: list[Any] = []
        append = row.append
        bad: set[str] = set()
        for code, required, inline, convert, spec in self._plan:
            v = obj.get(code)
            if type(v) is str:
                if len(v) <= inline and "\x00" not in v:
                    v = v.strip()
                    if v:
                        append(v)
                        continue
                else:
                    v = v.strip()
                if not v:
                    v = None
            if v is None:
                if required:
                    zh, en = render("required")
                    issues.append(make_issue("required", zh, en, field=code, field_zh=spec.zh))
                    bad.add(code)
                append(None)
                continue
            try:
                append(convert(v, ctx))
            except CheckFailed as e:
                issues.append(
                    make_issue(
                        e.code, e.zh, e.en, field=code, field_zh=spec.zh, value=v, personal=spec.personal
                    )
                )
                bad.add(code)
                append(None)
        for rule in self._cross:
            found = rule(row, bad, ctx)
            if found is not None:
                issues.append(found)
        issues.extend(ctx.warnings)
        ctx.warnings.clear()
        raw_id = obj.get("ID")
        record_id = (
            row[self._id_index]
            if row[self._id_index] is not None
            else (raw_id if isinstance(raw_id, str) and raw_id.strip() else None)
        )
        if any(i.severity == "error" for i in issues):
            return Outcome(record_id, None, None, issues, extra)
        return Outcome(record_id, row, row_digest(row), issues, extra)

    def _remap(
        self, obj: dict[Any, Any], issues: list[Issue]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        mapped: dict[str, Any] = {}
        names: dict[str, str] = {}
        extra: dict[str, Any] = {}
        for key, value in obj.items():
            name = str(key)
            code = name if name in self._known else self.rtype.resolve_name(name)
            if code is None:
                extra[name] = value
                zh, en = render("unknown_field")
                issues.append(make_issue("unknown_field", zh, en, field=name, severity="warning"))
                continue
            if code in mapped and value not in (None, "") and mapped[code] not in (None, ""):
                zh, en = render("field_given_twice", names=f"{names[code]}, {name}")
                issues.append(make_issue("field_given_twice", zh, en, field=code))
                continue
            if code not in mapped or mapped[code] in (None, ""):
                mapped[code], names[code] = value, name
        return mapped, extra or None


def new_context(now: datetime, settings: Settings) -> Context:
    return Context(now=now, today=now.astimezone(settings.timezone).date())
