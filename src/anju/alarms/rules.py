"""Alarm rules as data: loading, validation and the condition language (alarms/data/rules.yaml).

A rules file has `types` (alarm type code → zh, en, default severity) and `rules`. A deployment's
`$ANJU_DATA_DIR/rules.yaml` has the same layout: its types are added or replace shipped ones by code, its
rules replace shipped rules of the same name or are added, and `enabled: false` switches a rule off.
Every mistake raises `RuleError`, naming the file, the rule, the key, the value and what was expected, in
English and Chinese, so that an operator can fix an override file without reading this code.

A record rule (`record: <record type>`):
- `when`: the condition (below). `clear_when`: a separate condition that ends an alarm the rule raised for
  the same originator (hysteresis: raising and clearing need not be each other's negation).
- `originator`: `device` (the record type's device field), `{kind: house|device|person|building, field: F}`,
  `estate`, or a list tried in order. A person is found in the registry through the blind index of a
  certificate number, phone or plate field, never by a plaintext value.
- `for`: `10s` or `{duration, gap, latch}` — the condition must hold on records of the same originator
  spanning at least the duration, each within `gap` (default max(duration, 60 s)) of the previous one; with
  `latch: true` the last record's state holds until a record says otherwise, and `tick()` fires once the
  duration has passed with no contrary record (door contacts that report only on change).
- `repeat`: `{count, within, distinct: F}` — `count` matching records (or distinct values of F) of the same
  originator within the window; each record counts once however often it is delivered.
- `schedule`: armed windows by local time and day (`timezone`, default the deployment's), per zone
  (分区/分时/分级设防 of seed 003 二（五）2): `zone_field` names the zone (default: the originator ID), `zones`
  list zone values with their own `armed` windows and `severity`. A record outside its zone's armed window
  does not match. Times are the record's own event time, so a late delivery is judged by when it happened.
- `levels`: `[{when, severity, sla, details}]`, the first that holds sets the severity (and an SLA in
  minutes, e.g. 15 for an elderly person's emergency call); `severity_from: watchlist` takes the severity
  of the watchlist entry that matched.
- `location` (a field giving the place), `details` (non-personal fields copied into the alarm), `title`.

A silence rule (`silence:`) fires when a subject has not been heard for `after`: registered devices of
some kinds (`subject: device`, heard through any record or heartbeat, or only some record types — patrol
checkpoints), or elderly people living alone (`subject: elderly_alone`, heard through access swipes whose
certificate number's blind index is theirs). Being heard again clears the alarm.

Conditions: `{all: [...]}`, `{any: [...]}`, `{not: ...}`, and on a field F:
`{field: F, eq|ne|lt|le|gt|ge: value | {field: G}}` (also written =, ==, !=, <, <=, >, >=), `{field: F, in:
[...]}`, `{field: F, not_in: [...]}`, `{field: F, matches: regex}`, `{field: F, present: true|false}`,
`{field: F, watchlist: plate|id_number}` and `{field: F, person: elderly_alone|moved_out}`. An absent or
empty value makes every comparison false (only `present: false` holds): write `not: {...}` for "unless".
Ordering comparisons are numeric; text values are read by their leading number ("12.5A" → 12.5), so that
the standard's text-typed currents and thresholds can be compared; two DATE fields compare as times.
Values of dictionary fields must be codes of the field's dictionary. Personal fields may only be tested
with `present`, `watchlist` and `person`: a rules file must never hold a plaintext plate or ID number.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml

from anju.alarms.tables import SEVERITIES
from anju.registry import catalog
from anju.security.personal import BLIND_KINDS
from anju.standard.dictionaries import Dictionary, load_dictionaries
from anju.standard.spec import FieldSpec, RecordType, UnknownRecordType, load_standard, record_type
from anju.yamlfiles import load_yaml

SHIPPED_ORIGIN = "anju/alarms/data/rules.yaml"
OVERRIDE_NAME = "rules.yaml"
WATCH_KINDS = ("plate", "id_number")
PERSON_PREDICATES = ("elderly_alone", "moved_out")
# The registry column a blind index of each personal kind finds a person by.
PERSON_KINDS = ("id_number", "phone", "plate")
SUBJECTS = ("device", "elderly_alone")
ORIGINATOR_KINDS = ("device", "house", "person", "building", "estate")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_LEADING_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {"all": frozenset(range(7)), "weekdays": frozenset(range(5)), "weekends": frozenset({5, 6})}
_OPS = {
    "eq": "eq",
    "=": "eq",
    "==": "eq",
    "ne": "ne",
    "!=": "ne",
    "lt": "lt",
    "<": "lt",
    "le": "le",
    "<=": "le",
    "gt": "gt",
    ">": "gt",
    "ge": "ge",
    ">=": "ge",
    "in": "in",
    "not_in": "not_in",
    "not in": "not_in",
    "matches": "matches",
    "present": "present",
    "watchlist": "watchlist",
    "person": "person",
}
_RULE_KEYS = frozenset(
    {
        "name",
        "type",
        "severity",
        "source",
        "reading",
        "enabled",
        "record",
        "originator",
        "when",
        "clear_when",
        "for",
        "repeat",
        "schedule",
        "levels",
        "severity_from",
        "location",
        "details",
        "title",
        "silence",
    }
)


class RuleError(ValueError):
    """A rules file that cannot be used: which file, rule and key, the value found and what was expected."""

    def __init__(self, origin: str, rule: str | None, key: str, value: object, zh: str, en: str) -> None:
        shown = _show(value)
        where_en = f"rule {rule!r}" if rule else "file"
        where_zh = f"规则 {rule}" if rule else "文件"
        super().__init__(f"{origin}: {where_en}: {key}={shown}: {en} · {where_zh}：{key}={shown}：{zh}")
        self.origin, self.rule, self.key, self.value, self.zh, self.en = origin, rule, key, value, zh, en


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# ---- what conditions ask of the engine -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WatchHit:
    """A watchlist entry a record matched (masked: never the plate or ID number itself)."""

    pk: int
    kind: str
    masked: str
    label: str
    severity: str


class Lookups(Protocol):
    """What conditions need from outside the record; the engine answers from caches, not per-record
    queries."""

    def blind(self, kind: str, value: str) -> str: ...

    def watching(self, kind: str) -> bool: ...

    def watch(self, kind: str, blind: str, estate: str | None, at: datetime) -> WatchHit | None: ...

    def person(self, kind: str, blind: str) -> str | None: ...

    def person_is(self, predicate: str, person_id: str, estate: str | None) -> bool: ...


class Ctx:
    """One record's evaluation: its estate and time, blind indexes computed at most once, watchlist hits."""

    __slots__ = ("_blinds", "at", "estate", "hits", "lookups")

    def __init__(self, lookups: Lookups, estate: str | None, at: datetime) -> None:
        self.lookups = lookups
        self.estate = estate
        self.at = at
        self.hits: list[WatchHit] = []
        self._blinds: dict[tuple[str, str], str] = {}

    def blind(self, kind: str, value: str) -> str:
        key = (kind, value)
        found = self._blinds.get(key)
        if found is None:
            found = self._blinds[key] = self.lookups.blind(kind, value)
        return found


Record = Mapping[str, Any]
Pred = Callable[[Record, Ctx], bool]


@dataclass(frozen=True)
class Condition:
    fn: Pred
    text: str  # a readable rendering, for `anju rules show`
    watchlists: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()

    def __call__(self, rec: Record, ctx: Ctx) -> bool:
        return self.fn(rec, ctx)


# ---- rule parts --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlarmType:
    code: str
    zh: str
    en: str
    severity: str
    origin: str


@dataclass(frozen=True)
class Originator:
    kind: str  # ORIGINATOR_KINDS
    field: str | None  # None: estate
    personal: str | None  # the field's personal kind (person originators)


@dataclass(frozen=True)
class Duration:
    seconds: float
    gap: float
    latch: bool


@dataclass(frozen=True)
class Repeat:
    count: int
    within: float  # seconds
    distinct: str | None
    distinct_personal: str | None


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday; the day the window starts
    start: int  # minutes after midnight
    end: int  # minutes after midnight; end <= start: the window runs past midnight

    def contains(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # Overnight: the evening part belongs to its own day, the early part to the day before.
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


ALWAYS = (Window(_DAY_SETS["all"], 0, 1440),)


@dataclass(frozen=True)
class Zone:
    name: str
    values: frozenset[str]
    armed: tuple[Window, ...]
    severity: str | None


@dataclass(frozen=True)
class Schedule:
    tz: ZoneInfo
    armed: tuple[Window, ...]
    zone_field: str | None
    zones: tuple[Zone, ...]

    def check(self, at: datetime, zone_value: str | None) -> tuple[bool, Zone | None]:
        """Whether the zone is armed at `at` (local time of the schedule), and the zone that decided."""
        zone = None
        if zone_value is not None:
            zone = next((z for z in self.zones if zone_value in z.values), None)
        windows = zone.armed if zone is not None else self.armed
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        return any(w.contains(weekday, minute) for w in windows), zone


@dataclass(frozen=True)
class Level:
    when: Condition
    severity: str
    sla_minutes: int | None
    details: Mapping[str, Any]


@dataclass(frozen=True)
class Silence:
    subject: str  # SUBJECTS
    after: float  # seconds
    kinds: frozenset[str]  # device kinds (subject device)
    heard_by: Mapping[str, str | None]  # record type -> the field naming the subject (None: device field)
    any_record: bool  # every record type (and heartbeats) counts (subject device)
    heartbeat: bool
    min_age: int
    categories: frozenset[str] | None
    estates: frozenset[str] | None
    devices: frozenset[str] | None

    def hears(self, record_type: str) -> bool:
        return self.any_record or record_type in self.heard_by


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    severity: str
    source: str
    origin: str
    raw: Mapping[str, Any]
    reading: str | None = None
    record_type: str | None = None
    when: Condition | None = None
    clear_when: Condition | None = None
    duration: Duration | None = None
    repeat: Repeat | None = None
    schedule: Schedule | None = None
    levels: tuple[Level, ...] = ()
    severity_from_watchlist: bool = False
    originators: tuple[Originator, ...] = ()
    location_field: str | None = None
    details_fields: tuple[str, ...] = ()
    title_zh: str | None = None
    title_en: str | None = None
    silence: Silence | None = None

    @property
    def stateful(self) -> bool:
        """Whether records that do not match still matter (they reset a duration or clear an alarm)."""
        return self.duration is not None or self.clear_when is not None

    def conditions(self) -> Iterable[Condition]:
        for c in (self.when, self.clear_when, *(lv.when for lv in self.levels)):
            if c is not None:
                yield c

    @property
    def needs_people(self) -> bool:
        return (
            any(c.people for c in self.conditions())
            or any(o.kind == "person" for o in self.originators)
            or (self.silence is not None and self.silence.subject == "elderly_alone")
        )


@dataclass(frozen=True)
class RuleSet:
    types: Mapping[str, AlarmType]
    rules: tuple[Rule, ...]  # enabled rules, in file order
    disabled: tuple[str, ...] = ()
    by_record_type: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    silences: tuple[Rule, ...] = ()

    @classmethod
    def build(cls, types: Mapping[str, AlarmType], rules: Sequence[Rule], disabled: Sequence[str]) -> RuleSet:
        index: dict[str, list[Rule]] = {}
        for r in rules:
            if r.record_type is not None:
                index.setdefault(r.record_type, []).append(r)
        return cls(
            dict(types),
            tuple(rules),
            tuple(disabled),
            {k: tuple(v) for k, v in index.items()},
            tuple(r for r in rules if r.silence is not None),
        )

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    # Cached: the engine asks for every record it evaluates, and the rules never change in a set.
    @cached_property
    def needs_people(self) -> bool:
        return any(r.needs_people for r in self.rules)

    @cached_property
    def needs_watchlist(self) -> bool:
        return any(c.watchlists for r in self.rules for c in r.conditions())


# ---- values ------------------------------------------------------------------------------------------------
def number(value: Any) -> float | None:
    """A value read as a number: numbers as they are, text by its leading number, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _LEADING_NUMBER.match(value)
        return float(m.group(1)) if m else None
    return None


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == b""


def parse_duration(value: Any) -> float | None:
    """Seconds of "90s", "5m", "1h30m", "2d", or a whole number of seconds; None when not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    m = _DURATION.match(value)
    if m is None or not any(m.groups()):
        return None
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    seconds = d * 86400 + h * 3600 + mi * 60 + s
    return float(seconds) if seconds > 0 else None


# ---- the parser --------------------------------------------------------------------------------------------
class _Parser:
    """Parses and compiles one rule; every error names the origin file, the rule and the key path."""

    def __init__(
        self,
        origin: str,
        rule: str | None,
        dictionaries: Mapping[str, Dictionary],
        timezone: ZoneInfo,
    ) -> None:
        self.origin = origin
        self.rule = rule
        self.dictionaries = dictionaries
        self.timezone = timezone

    def fail(self, key: str, value: object, zh: str, en: str) -> RuleError:
        return RuleError(self.origin, self.rule, key, value, zh, en)

    # -- small values --
    def duration(self, key: str, value: Any) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            raise self.fail(
                key,
                value,
                "应为时长，如 10s、5m、2h、1h30m、7d",
                "expected a duration such as 10s, 5m, 2h, 1h30m, 7d",
            )
        return seconds

    def severity(self, key: str, value: Any) -> str:
        if value not in SEVERITIES:
            raise self.fail(
                key,
                value,
                f"应为告警级别之一：{', '.join(SEVERITIES)}",
                f"expected one of {', '.join(SEVERITIES)}",
            )
        return str(value)

    def text(self, key: str, value: Any, *, limit: int = 2000) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise self.fail(
                key, value, f"应为 1-{limit} 个字符的文字", f"expected text of 1-{limit} characters"
            )
        return value.strip()

    def mapping(self, key: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, value, "应为映射（键: 值）", "expected a mapping (key: value)")
        return value

    def sequence(self, key: str, value: Any) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, value, "应为非空列表", "expected a non-empty list")
        return value

    def field(self, key: str, rtype: RecordType, code: Any) -> FieldSpec:
        if not isinstance(code, str):
            raise self.fail(key, code, "应为字段代码（文字）", "expected a field code (text)")
        try:
            return rtype.field(code)
        except KeyError:
            pass
        resolved = rtype.resolve_name(code)
        hint_en = f"; did you mean {resolved}?" if resolved else ""
        hint_zh = f"，是否指 {resolved}？" if resolved else ""
        raise self.fail(
            key,
            code,
            f"{rtype.slug}（{rtype.title_zh}）没有此字段代码{hint_zh}",
            f"{rtype.slug} ({rtype.title_en}) has no field with this code{hint_en}",
        ) from None

    # -- conditions --
    def condition(self, key: str, node: Any, rtype: RecordType) -> Condition:
        node = self.mapping(key, node)
        if "all" in node or "any" in node:
            word = "all" if "all" in node else "any"
            if len(node) != 1:
                raise self.fail(
                    key, dict(node), f"{word} 不能与其他键并列", f"{word} must be the only key of its mapping"
                )
            parts = [
                self.condition(f"{key}.{word}[{i}]", n, rtype)
                for i, n in enumerate(self.sequence(f"{key}.{word}", node[word]))
            ]
            fns = tuple(p.fn for p in parts)
            if word == "all":

                def all_of(rec: Record, ctx: Ctx) -> bool:
                    return all(f(rec, ctx) for f in fns)

                fn: Pred = all_of
            else:

                def any_of(rec: Record, ctx: Ctx) -> bool:
                    return any(f(rec, ctx) for f in fns)

                fn = any_of
            joiner = " AND " if word == "all" else " OR "
            return Condition(
                fn,
                "(" + joiner.join(p.text for p in parts) + ")",
                frozenset().union(*(p.watchlists for p in parts)),
                frozenset().union(*(p.people for p in parts)),
            )
        if "not" in node:
            if len(node) != 1:
                raise self.fail(
                    key, dict(node), "not 不能与其他键并列", "not must be the only key of its mapping"
                )
            inner = self.condition(f"{key}.not", node["not"], rtype)
            inner_fn = inner.fn

            def negated(rec: Record, ctx: Ctx) -> bool:
                return not inner_fn(rec, ctx)

            return Condition(negated, f"NOT {inner.text}", inner.watchlists, inner.people)
        if "field" not in node:
            raise self.fail(
                key,
                dict(node),
                "条件应为 all、any、not 或 field 加一个比较",
                "a condition is all, any, not, or field with one comparison",
            )
        f = self.field(f"{key}.field", rtype, node["field"])
        ops = [k for k in node if k != "field"]
        if len(ops) != 1 or ops[0] not in _OPS:
            raise self.fail(
                key,
                dict(node),
                f"字段条件应恰有一个比较：{', '.join(dict.fromkeys(_OPS))}",
                f"a field condition has exactly one comparison: {', '.join(dict.fromkeys(_OPS))}",
            )
        return self.comparison(f"{key}.{ops[0]}", rtype, f, _OPS[ops[0]], node[ops[0]])

    def comparison(self, key: str, rtype: RecordType, f: FieldSpec, op: str, value: Any) -> Condition:
        code = f.code
        if op == "present":
            if not isinstance(value, bool):
                raise self.fail(key, value, "应为 true 或 false", "expected true or false")
            want = value

            def present(rec: Record, ctx: Ctx) -> bool:
                return (not _absent(rec.get(code))) is want

            return Condition(present, f"{code} {'present' if want else 'absent'}")
        if op == "watchlist":
            return self.watchlist(key, f, value)
        if op == "person":
            return self.person(key, f, value)
        if f.personal is not None:
            raise self.fail(
                key,
                value,
                f"{code} 是个人信息字段（{f.personal}），只能用 present、watchlist 或 person 判断，规则文件不得含明文",
                f"{code} is a personal field ({f.personal}); test it with present, watchlist or person only — "
                "a rules file must not hold plaintext personal values",
            )
        if f.type == "BLOB":
            raise self.fail(
                key, value, f"{code} 是图片字段，只能用 present", f"{code} is an image; only present applies"
            )
        if isinstance(value, Mapping):
            return self.field_ref(key, rtype, f, op, value)
        if op == "matches":
            if not isinstance(value, str) or not value:
                raise self.fail(key, value, "应为正则表达式", "expected a regular expression")
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise self.fail(
                    key, value, f"正则表达式无效（{exc}）", f"not a valid regular expression ({exc})"
                ) from None
            search = pattern.search

            def matches(rec: Record, ctx: Ctx) -> bool:
                v = rec.get(code)
                return isinstance(v, str) and v != "" and search(v) is not None

            return Condition(matches, f"{code} matches /{value}/")
        if f.type == "DATE":
            raise self.fail(
                key,
                value,
                f"{code} 是时间字段，只能与另一时间字段比较（{{field: 字段}}）或用 present",
                f"{code} is a DATE field: compare it with another DATE field ({{field: CODE}}) or use present",
            )
        if op in ("in", "not_in"):
            items = self.sequence(key, value)
            literals = frozenset(self.literal(f"{key}[{i}]", f, v) for i, v in enumerate(items))
            inside = op == "in"

            def member(rec: Record, ctx: Ctx) -> bool:
                v = rec.get(code)
                if _absent(v):
                    return False
                return (v in literals) is inside

            shown = ", ".join(sorted(str(x) for x in literals))
            return Condition(member, f"{code} {'in' if inside else 'not in'} [{shown}]")
        if op in ("eq", "ne"):
            lit = self.literal(key, f, value)
            equal = op == "eq"
            if f.type == "NUMBER":
                target = float(lit)

                def num_eq(rec: Record, ctx: Ctx) -> bool:
                    n = number(rec.get(code))
                    return n is not None and (n == target) is equal

                return Condition(num_eq, f"{code} {'=' if equal else '!='} {lit}")

            def text_eq(rec: Record, ctx: Ctx) -> bool:
                v = rec.get(code)
                return not _absent(v) and (v == lit) is equal

            return Condition(text_eq, f"{code} {'=' if equal else '!='} {lit!r}")
        # lt le gt ge against a literal: numeric.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, value, "应为数字", "expected a number")
        target = float(value)
        compare = _ORDER[op]

        def ordered(rec: Record, ctx: Ctx) -> bool:
            n = number(rec.get(code))
            return n is not None and compare(n, target)

        return Condition(ordered, f"{code} {_SYMBOL[op]} {value}")

    def field_ref(
        self, key: str, rtype: RecordType, f: FieldSpec, op: str, value: Mapping[str, Any]
    ) -> Condition:
        if set(value) != {"field"} or (op not in _ORDER and op not in ("eq", "ne")):
            raise self.fail(
                key,
                dict(value),
                "与另一字段比较写作 {field: 字段代码}，仅用于 eq、ne、lt、le、gt、ge",
                "a comparison with another field is written {field: CODE} and applies to eq, ne, lt, le, gt, ge",
            )
        other = self.field(f"{key}.field", rtype, value["field"])
        if other.personal is not None or other.type == "BLOB":
            raise self.fail(
                f"{key}.field",
                other.code,
                "不能与个人信息或图片字段比较",
                "cannot compare with a personal or image field",
            )
        a, b = f.code, other.code
        if (f.type == "DATE") != (other.type == "DATE"):
            raise self.fail(
                f"{key}.field",
                other.code,
                f"{a} 与 {b} 一个是时间、一个不是，不能比较",
                f"{a} and {b} cannot be compared: only one of them is a DATE",
            )
        compare = _ORDER.get(op) or (_eq if op == "eq" else _ne)
        if f.type == "DATE":

            def times(rec: Record, ctx: Ctx) -> bool:
                x, y = rec.get(a), rec.get(b)
                return isinstance(x, datetime) and isinstance(y, datetime) and compare(x, y)

            return Condition(times, f"{a} {_SYMBOL[op]} {b}")

        def numbers(rec: Record, ctx: Ctx) -> bool:
            x, y = number(rec.get(a)), number(rec.get(b))
            return x is not None and y is not None and compare(x, y)

        return Condition(numbers, f"{a} {_SYMBOL[op]} {b}")

    def literal(self, key: str, f: FieldSpec, value: Any) -> str | float:
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise self.fail(key, value, "应为文字或数字", "expected text or a number")
        if f.type == "NUMBER":
            try:
                return float(value)
            except ValueError:
                raise self.fail(
                    key,
                    value,
                    f"{f.code} 是数字字段，应为数字",
                    f"{f.code} is a NUMBER field: expected a number",
                ) from None
        text = str(value)
        if f.dictionary:
            d = self.dictionaries.get(f.dictionary)
            if d is not None and text not in d:
                code = d.code_for_name(text)
                hint_en = f"; {text!r} is the name of code {code!r}" if code else ""
                hint_zh = f"；{text!r} 是代码 {code!r} 的名称" if code else ""
                raise self.fail(
                    key,
                    value,
                    f"不是字典 {f.dictionary}（{d.title_zh}）的代码{hint_zh}",
                    f"not a code of dictionary {f.dictionary} ({d.title_en or d.title_zh}){hint_en}",
                )
        if f.length is not None and len(text.encode("gb18030", errors="replace")) > f.length:
            raise self.fail(
                key,
                value,
                f"长于字段 {f.code} 的 {f.length} 字节",
                f"longer than field {f.code}'s {f.length} bytes",
            )
        return text

    def watchlist(self, key: str, f: FieldSpec, kind: Any) -> Condition:
        if kind not in WATCH_KINDS:
            raise self.fail(
                key, kind, f"应为 {' 或 '.join(WATCH_KINDS)}", f"expected {' or '.join(WATCH_KINDS)}"
            )
        if f.personal != kind:
            raise self.fail(
                key,
                kind,
                f"字段 {f.code} 的个人信息类型是 {f.personal}，不是 {kind}",
                f"field {f.code} holds {f.personal or 'no personal value'}, not {kind}",
            )
        code = f.code

        def watched(rec: Record, ctx: Ctx) -> bool:
            v = rec.get(code)
            # No blind index is computed while nothing of this kind is watched.
            if not isinstance(v, str) or not v or not ctx.lookups.watching(kind):
                return False
            hit = ctx.lookups.watch(kind, ctx.blind(kind, v), ctx.estate, ctx.at)
            if hit is None:
                return False
            ctx.hits.append(hit)
            return True

        return Condition(watched, f"{code} on the {kind} watchlist", watchlists=frozenset({kind}))

    def person(self, key: str, f: FieldSpec, predicate: Any) -> Condition:
        if predicate not in PERSON_PREDICATES:
            raise self.fail(
                key,
                predicate,
                f"应为 {' 或 '.join(PERSON_PREDICATES)}",
                f"expected {' or '.join(PERSON_PREDICATES)}",
            )
        if f.personal not in ("id_number", "phone"):
            raise self.fail(
                key,
                f.code,
                "person 条件用于证件号码或电话字段（按盲索引查找人员）",
                "person applies to a certificate-number or phone field (people are found by blind index)",
            )
        code, kind, what = f.code, f.personal, str(predicate)

        def person_is(rec: Record, ctx: Ctx) -> bool:
            v = rec.get(code)
            if not isinstance(v, str) or not v:
                return False
            pid = ctx.lookups.person(kind, ctx.blind(kind, v))
            return pid is not None and ctx.lookups.person_is(what, pid, ctx.estate)

        return Condition(person_is, f"{code} is a person {what}", people=frozenset({what}))

    # -- schedules --
    def windows(self, key: str, value: Any) -> tuple[Window, ...]:
        if value == "always":
            return ALWAYS
        if value == "never":
            return ()
        out = []
        for i, w in enumerate(self.sequence(key, value)):
            k = f"{key}[{i}]"
            w = self.mapping(k, w)
            unknown = set(w) - {"days", "from", "to"}
            if unknown:
                raise self.fail(
                    k, sorted(unknown), "时段只有 days、from、to", "a window has only days, from and to"
                )
            days = self.days(f"{k}.days", w.get("days", "all"))
            start = self.clock(f"{k}.from", w.get("from", "00:00"))
            end = self.clock(f"{k}.to", w.get("to", "24:00"))
            if start == end or start == 1440:
                raise self.fail(k, dict(w), "起止时间不能相同", "from and to must differ")
            out.append(Window(days, start, end))
        return tuple(out)

    def days(self, key: str, value: Any) -> frozenset[int]:
        if isinstance(value, str) and value in _DAY_SETS:
            return _DAY_SETS[value]
        items = value if isinstance(value, list) else None
        if not items or any(d not in DAYS for d in items):
            raise self.fail(
                key,
                value,
                f"应为 all、weekdays、weekends 或 {', '.join(DAYS)} 的列表",
                f"expected all, weekdays, weekends or a list of {', '.join(DAYS)}",
            )
        return frozenset(DAYS.index(d) for d in items)

    def clock(self, key: str, value: Any) -> int:
        m = _HHMM.match(value) if isinstance(value, str) else None
        minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
        if m is None or minutes > 1440:
            raise self.fail(
                key, value, "应为 HH:MM（00:00-24:00，带引号）", 'expected "HH:MM" (00:00-24:00, quoted)'
            )
        return minutes

    def schedule(self, key: str, value: Any, rtype: RecordType | None) -> Schedule:
        node = self.mapping(key, value)
        unknown = set(node) - {"timezone", "armed", "zone_field", "zones"}
        if unknown:
            raise self.fail(
                key,
                sorted(unknown),
                "schedule 只有 timezone、armed、zone_field、zones",
                "a schedule has only timezone, armed, zone_field, zones",
            )
        tz = self.timezone
        if "timezone" in node:
            try:
                tz = ZoneInfo(str(node["timezone"]))
            except (KeyError, ValueError):
                raise self.fail(
                    f"{key}.timezone",
                    node["timezone"],
                    "应为 IANA 时区，如 Asia/Shanghai",
                    "expected an IANA zone such as Asia/Shanghai",
                ) from None
        zone_field = None
        if "zone_field" in node:
            if rtype is None:
                raise self.fail(
                    f"{key}.zone_field",
                    node["zone_field"],
                    "静默规则的防区按对象 ID 区分",
                    "a silence rule's zones are subject IDs",
                )
            zf = self.field(f"{key}.zone_field", rtype, node["zone_field"])
            if zf.personal is not None:
                raise self.fail(
                    f"{key}.zone_field", zf.code, "防区字段不能是个人信息", "a zone field cannot be personal"
                )
            zone_field = zf.code
        zones = []
        for i, z in enumerate(node.get("zones") or []):
            k = f"{key}.zones[{i}]"
            z = self.mapping(k, z)
            unknown = set(z) - {"name", "values", "armed", "severity"}
            if unknown or "values" not in z or "armed" not in z:
                raise self.fail(
                    k,
                    dict(z),
                    "防区需要 values 和 armed，可选 name、severity",
                    "a zone needs values and armed; name and severity are optional",
                )
            values = frozenset(str(v) for v in self.sequence(f"{k}.values", z["values"]))
            zones.append(
                Zone(
                    str(z.get("name") or ",".join(sorted(values))),
                    values,
                    self.windows(f"{k}.armed", z["armed"]),
                    self.severity(f"{k}.severity", z["severity"]) if "severity" in z else None,
                )
            )
        return Schedule(
            tz, self.windows(f"{key}.armed", node.get("armed", "always")), zone_field, tuple(zones)
        )


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    return bool(a != b)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
}
_SYMBOL = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


# ---- rules ------------------------------------------------------------------------------------------------
def _parse_rule(
    raw: Mapping[str, Any],
    origin: str,
    types: Mapping[str, AlarmType],
    dictionaries: Mapping[str, Dictionary],
    timezone: ZoneInfo,
) -> Rule:
    name = raw.get("name")
    p = _Parser(origin, name if isinstance(name, str) else None, dictionaries, timezone)
    if not isinstance(name, str) or not _NAME.match(name):
        raise p.fail(
            "name",
            name,
            "应为小写字母开头、1-60 个小写字母、数字或 _",
            "expected 1-60 lower-case letters, digits or _, starting with a letter",
        )
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise p.fail(
            unknown[0],
            raw[unknown[0]],
            f"未知的键；可用：{', '.join(sorted(_RULE_KEYS))}",
            f"unknown key; allowed keys: {', '.join(sorted(_RULE_KEYS))}",
        )
    type_code = raw.get("type")
    if type_code not in types:
        raise p.fail(
            "type",
            type_code,
            f"不是已定义的告警类型：{', '.join(types)}",
            f"not a defined alarm type: {', '.join(types)}",
        )
    atype = types[str(type_code)]
    severity = p.severity("severity", raw["severity"]) if "severity" in raw else atype.severity
    source = p.text("source", raw.get("source"))
    reading = p.text("reading", raw["reading"]) if "reading" in raw else None
    common: dict[str, Any] = {
        "name": name,
        "type": atype.code,
        "severity": severity,
        "source": source,
        "origin": origin,
        "raw": dict(raw),
        "reading": reading,
    }
    if "silence" in raw:
        extra = sorted(
            set(raw)
            & {"record", "when", "clear_when", "for", "repeat", "originator", "levels", "details", "location"}
        )
        if extra:
            raise p.fail(
                extra[0], raw[extra[0]], "静默规则不能有记录条件", "a silence rule has no record conditions"
            )
        if "schedule" in raw:
            common["schedule"] = p.schedule("schedule", raw["schedule"], None)
        return Rule(**common, silence=_parse_silence(p, raw["silence"]))
    slug = raw.get("record")
    try:
        rtype = record_type(str(slug)) if isinstance(slug, str) else None
    except UnknownRecordType:
        rtype = None
    if rtype is None:
        raise p.fail(
            "record",
            slug,
            f"应为记录类型：{', '.join(load_standard())}（或用 silence 定义静默规则）",
            f"expected a record type: {', '.join(load_standard())} (or silence for a silence rule)",
        )
    if "when" not in raw:
        raise p.fail("when", None, "记录规则需要 when 条件", "a record rule needs a when condition")
    when = p.condition("when", raw["when"], rtype)
    clear_when = p.condition("clear_when", raw["clear_when"], rtype) if "clear_when" in raw else None
    duration = _parse_for(p, raw["for"]) if "for" in raw else None
    repeat = _parse_repeat(p, raw["repeat"], rtype) if "repeat" in raw else None
    if duration is not None and repeat is not None:
        raise p.fail("for", raw["for"], "for 与 repeat 不能同时使用", "for and repeat cannot be combined")
    # Default: the record's device, or the estate for record types naming no device.
    default = "device" if rtype.device_field else "estate"
    originators = _parse_originators(p, raw.get("originator", default), rtype)
    levels = []
    for i, lv in enumerate(raw.get("levels") or []):
        k = f"levels[{i}]"
        lv = p.mapping(k, lv)
        lv_unknown = set(lv) - {"when", "severity", "sla", "details"}
        if lv_unknown or "when" not in lv or "severity" not in lv:
            raise p.fail(
                k,
                dict(lv),
                "级别需要 when 和 severity，可选 sla、details",
                "a level needs when and severity; sla and details are optional",
            )
        sla = None
        if "sla" in lv:
            sla = max(1, round(p.duration(f"{k}.sla", lv["sla"]) / 60))
        lv_details = p.mapping(f"{k}.details", lv["details"]) if "details" in lv else {}
        if any(not isinstance(v, str | int | float | bool) for v in lv_details.values()):
            raise p.fail(
                f"{k}.details",
                dict(lv_details),
                "值应为文字、数字或 true/false",
                "values must be text, numbers or true/false",
            )
        levels.append(
            Level(
                p.condition(f"{k}.when", lv["when"], rtype),
                p.severity(f"{k}.severity", lv["severity"]),
                sla,
                dict(lv_details),
            )
        )
    severity_from = raw.get("severity_from")
    if severity_from is not None and severity_from != "watchlist":
        raise p.fail("severity_from", severity_from, "只能为 watchlist", "the only value is watchlist")
    if severity_from == "watchlist" and not when.watchlists:
        raise p.fail(
            "severity_from",
            severity_from,
            "when 条件中没有 watchlist",
            "the when condition has no watchlist test",
        )
    location = None
    if "location" in raw:
        lf = p.field("location", rtype, raw["location"])
        if lf.personal is not None or lf.type != "VARCHAR2":
            raise p.fail(
                "location",
                lf.code,
                "位置字段应为非个人信息的文字字段",
                "the location field must be a non-personal text field",
            )
        location = lf.code
    details = []
    for i, code in enumerate(raw.get("details") or []):
        df = p.field(f"details[{i}]", rtype, code)
        if df.personal is not None or df.type == "BLOB":
            raise p.fail(
                f"details[{i}]",
                df.code,
                "告警详情不能含个人信息或图片字段",
                "alarm details cannot carry personal or image fields",
            )
        details.append(df.code)
    title_zh = title_en = None
    if "title" in raw:
        t = p.mapping("title", raw["title"])
        title_zh, title_en = (
            p.text("title.zh", t.get("zh"), limit=200),
            p.text("title.en", t.get("en"), limit=200),
        )
        allowed = {"originator", "location", "estate", "zone", "count", "type_zh", "type_en", *details}
        for k, template in (("title.zh", title_zh), ("title.en", title_en)):
            try:
                names = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
            except ValueError as exc:
                raise p.fail(k, template, f"模板无效（{exc}）", f"not a valid template ({exc})") from None
            bad = [n for n in names if n not in allowed]
            if bad:
                raise p.fail(
                    k,
                    template,
                    f"未知占位符 {bad[0]}（标题只能用规则 details 中的字段）",
                    f"unknown placeholder {bad[0]} (a title may use the rule's details fields)",
                )
    schedule = p.schedule("schedule", raw["schedule"], rtype) if "schedule" in raw else None
    return Rule(
        **common,
        record_type=rtype.slug,
        when=when,
        clear_when=clear_when,
        duration=duration,
        repeat=repeat,
        schedule=schedule,
        levels=tuple(levels),
        severity_from_watchlist=severity_from == "watchlist",
        originators=originators,
        location_field=location,
        details_fields=tuple(details),
        title_zh=title_zh,
        title_en=title_en,
    )


def _parse_for(p: _Parser, value: Any) -> Duration:
    if not isinstance(value, Mapping):
        seconds = p.duration("for", value)
        return Duration(seconds, max(seconds, 60.0), False)
    unknown = set(value) - {"duration", "gap", "latch"}
    if unknown or "duration" not in value:
        raise p.fail(
            "for",
            dict(value),
            "for 需要 duration，可选 gap、latch",
            "for needs duration; gap and latch are optional",
        )
    seconds = p.duration("for.duration", value["duration"])
    gap = p.duration("for.gap", value["gap"]) if "gap" in value else max(seconds, 60.0)
    latch = value.get("latch", False)
    if not isinstance(latch, bool):
        raise p.fail("for.latch", latch, "应为 true 或 false", "expected true or false")
    return Duration(seconds, gap, latch)


def _parse_repeat(p: _Parser, value: Any, rtype: RecordType) -> Repeat:
    node = p.mapping("repeat", value)
    unknown = set(node) - {"count", "within", "distinct"}
    if unknown or "count" not in node or "within" not in node:
        raise p.fail(
            "repeat",
            dict(node),
            "repeat 需要 count 和 within，可选 distinct",
            "repeat needs count and within; distinct is optional",
        )
    count = node["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 1000:
        raise p.fail("repeat.count", count, "应为 2-1000 的整数", "expected a whole number from 2 to 1000")
    distinct = personal = None
    if "distinct" in node:
        df = p.field("repeat.distinct", rtype, node["distinct"])
        if df.personal is not None and df.personal not in BLIND_KINDS:
            raise p.fail(
                "repeat.distinct",
                df.code,
                "个人信息字段需有盲索引（证件号、电话、车牌）才能计数",
                "a personal field can be counted only when it has a blind index (ID number, phone, plate)",
            )
        distinct, personal = df.code, df.personal
    return Repeat(count, p.duration("repeat.within", node["within"]), distinct, personal)


def _parse_originators(p: _Parser, value: Any, rtype: RecordType) -> tuple[Originator, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        k = f"originator[{i}]" if isinstance(value, list) else "originator"
        node = {"kind": item} if isinstance(item, str) else p.mapping(k, item)
        kind = node.get("kind")
        if kind not in ORIGINATOR_KINDS or set(node) - {"kind", "field"}:
            raise p.fail(
                k,
                item,
                f"应为 {', '.join(ORIGINATOR_KINDS)} 之一，或 {{kind, field}}",
                f"expected one of {', '.join(ORIGINATOR_KINDS)}, or {{kind, field}}",
            )
        if kind == "estate":
            out.append(Originator("estate", None, None))
            continue
        code = node.get("field") or (rtype.device_field if kind == "device" else None)
        if code is None:
            raise p.fail(
                f"{k}.field",
                None,
                f"{rtype.slug} 没有设备字段，需写明 field",
                f"{rtype.slug} has no device field; name the field",
            )
        f = p.field(f"{k}.field", rtype, code)
        if kind == "person":
            if f.personal not in PERSON_KINDS:
                raise p.fail(
                    f"{k}.field",
                    f.code,
                    "人员来源字段应为证件号码、电话或车牌（按盲索引识别）",
                    "a person originator is a certificate-number, phone or plate field (found by blind index)",
                )
        elif f.personal is not None or f.type != "VARCHAR2":
            raise p.fail(
                f"{k}.field",
                f.code,
                "来源字段应为非个人信息的文字字段",
                "an originator field must be a non-personal text field",
            )
        out.append(Originator(str(kind), f.code, f.personal))
    return tuple(out)


def _parse_silence(p: _Parser, value: Any) -> Silence:
    node = p.mapping("silence", value)
    allowed = {"subject", "after", "kinds", "heard_by", "min_age", "categories", "estates", "devices"}
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise p.fail(
            f"silence.{unknown[0]}",
            node[unknown[0]],
            f"未知的键；可用：{', '.join(sorted(allowed))}",
            f"unknown key; allowed keys: {', '.join(sorted(allowed))}",
        )
    subject = node.get("subject")
    if subject not in SUBJECTS:
        raise p.fail(
            "silence.subject", subject, f"应为 {' 或 '.join(SUBJECTS)}", f"expected {' or '.join(SUBJECTS)}"
        )
    after = p.duration("silence.after", node.get("after"))
    estates = (
        frozenset(str(e) for e in p.sequence("silence.estates", node["estates"]))
        if "estates" in node
        else None
    )
    heard = node.get("heard_by", "any" if subject == "device" else None)
    heard_by: dict[str, str | None] = {}
    any_record = heartbeat = False
    if subject == "device":
        kinds_known = catalog.device_kinds()
        kinds = p.sequence("silence.kinds", node.get("kinds"))
        for i, kind in enumerate(kinds):
            if kind not in kinds_known:
                raise p.fail(
                    f"silence.kinds[{i}]",
                    kind,
                    f"不是已知设备类型：{', '.join(kinds_known)}",
                    f"not a known device kind: {', '.join(kinds_known)}",
                )
        if heard == "any":
            any_record = heartbeat = True
        else:
            for i, slug in enumerate(p.sequence("silence.heard_by", heard)):
                if slug == "heartbeat":
                    heartbeat = True
                    continue
                try:
                    rtype = record_type(str(slug))
                except UnknownRecordType:
                    raise p.fail(
                        f"silence.heard_by[{i}]",
                        slug,
                        "应为记录类型或 heartbeat",
                        "expected a record type or heartbeat",
                    ) from None
                if rtype.device_field is None:
                    raise p.fail(
                        f"silence.heard_by[{i}]", slug, f"{slug} 没有设备字段", f"{slug} has no device field"
                    )
                heard_by[rtype.slug] = None
        devices = (
            frozenset(str(d) for d in p.sequence("silence.devices", node["devices"]))
            if "devices" in node
            else None
        )
        if "min_age" in node or "categories" in node:
            raise p.fail(
                "silence.min_age",
                node.get("min_age", node.get("categories")),
                "仅用于 elderly_alone",
                "applies to elderly_alone only",
            )
        return Silence(
            "device",
            after,
            frozenset(str(k) for k in kinds),
            heard_by,
            any_record,
            heartbeat,
            0,
            None,
            estates,
            devices,
        )
    # elderly_alone
    if "kinds" in node or "devices" in node:
        raise p.fail(
            "silence.kinds",
            node.get("kinds", node.get("devices")),
            "仅用于 device",
            "applies to device subjects only",
        )
    heard_map = p.mapping("silence.heard_by", heard)
    for slug, code in heard_map.items():
        try:
            rtype = record_type(str(slug))
        except UnknownRecordType:
            raise p.fail("silence.heard_by", slug, "应为记录类型", "expected a record type") from None
        f = p.field(f"silence.heard_by.{slug}", rtype, code)
        if f.personal != "id_number":
            raise p.fail(
                f"silence.heard_by.{slug}",
                f.code,
                "应为证件号码字段（按盲索引识别老人）",
                "expected a certificate-number field (people are recognised by blind index)",
            )
        heard_by[rtype.slug] = f.code
    min_age = node.get("min_age", 60)
    if isinstance(min_age, bool) or not isinstance(min_age, int) or not 0 < min_age < 130:
        raise p.fail("silence.min_age", min_age, "应为 1-129 的整数", "expected a whole number from 1 to 129")
    categories = None
    if "categories" in node:
        known = catalog.residence_categories()
        cats = p.sequence("silence.categories", node["categories"])
        for i, c in enumerate(cats):
            if c not in known:
                raise p.fail(
                    f"silence.categories[{i}]",
                    c,
                    f"不是居住类别：{', '.join(known)}",
                    f"not a residence category: {', '.join(known)}",
                )
        categories = frozenset(str(c) for c in cats)
    return Silence(
        "elderly_alone", after, frozenset(), heard_by, False, False, min_age, categories, estates, None
    )


# ---- files ------------------------------------------------------------------------------------------------
@cache
def _shipped_text() -> str:
    return resources.files("anju.alarms.data").joinpath("rules.yaml").read_text(encoding="utf-8")


def _read(text: str, origin: str) -> Mapping[str, Any]:
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleError(
            origin, None, "yaml", str(exc).splitlines()[0], "不是有效的 YAML", "not valid YAML"
        ) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise RuleError(
            origin,
            None,
            "document",
            type(doc).__name__,
            "应为含 types 和 rules 的映射",
            "expected a mapping with types and rules",
        )
    unknown = sorted(set(doc) - {"version", "vocabulary", "types", "rules"})
    if unknown:
        raise RuleError(
            origin,
            None,
            unknown[0],
            doc[unknown[0]],
            "未知的键；可用：version、vocabulary、types、rules",
            "unknown key; allowed keys: version, vocabulary, types, rules",
        )
    # `vocabulary` only holds YAML anchors (shared patterns) that the rules refer to; YAML resolves them.
    vocabulary = doc.get("vocabulary") or {}
    if not isinstance(vocabulary, Mapping) or not all(isinstance(v, str) for v in vocabulary.values()):
        raise RuleError(
            origin,
            None,
            "vocabulary",
            vocabulary,
            "应为 名称: 文字 的映射",
            "expected a mapping of name: text",
        )
    if doc.get("version", 1) != 1:
        raise RuleError(
            origin, None, "version", doc.get("version"), "只支持版本 1", "only version 1 is supported"
        )
    return doc


def _types(doc: Mapping[str, Any], origin: str) -> dict[str, AlarmType]:
    out: dict[str, AlarmType] = {}
    node = doc.get("types") or {}
    if not isinstance(node, Mapping):
        raise RuleError(
            origin,
            None,
            "types",
            node,
            "应为 告警类型代码: {zh, en, severity} 的映射",
            "expected a mapping of type code: {zh, en, severity}",
        )
    for code, spec in node.items():
        p = _Parser(origin, None, {}, ZoneInfo("UTC"))
        key = f"types.{code}"
        if not isinstance(code, str) or not _NAME.match(code) or len(code) > 40:
            raise p.fail(
                key,
                code,
                "类型代码应为 1-40 个小写字母、数字或 _",
                "a type code is 1-40 lower-case letters, digits or _",
            )
        spec = p.mapping(key, spec)
        if set(spec) != {"zh", "en", "severity"}:
            raise p.fail(
                key,
                dict(spec),
                "告警类型需要且只有 zh、en、severity",
                "an alarm type has exactly zh, en and severity",
            )
        out[code] = AlarmType(
            code,
            p.text(f"{key}.zh", spec["zh"], limit=60),
            p.text(f"{key}.en", spec["en"], limit=100),
            p.severity(f"{key}.severity", spec["severity"]),
            origin,
        )
    return out


def _rule_list(doc: Mapping[str, Any], origin: str) -> list[Mapping[str, Any]]:
    rules = doc.get("rules") or []
    if not isinstance(rules, list):
        raise RuleError(origin, None, "rules", rules, "应为规则列表", "expected a list of rules")
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            raise RuleError(origin, None, f"rules[{i}]", r, "每条规则应为映射", "each rule is a mapping")
    return rules


def load_rules(
    override: Path | None = None,
    *,
    dictionaries: Mapping[str, Dictionary] | None = None,
    timezone: ZoneInfo | None = None,
) -> RuleSet:
    """The shipped rules, with a deployment's override file (when given and present) applied on top."""
    dicts = dictionaries if dictionaries is not None else load_dictionaries()
    tz = timezone or ZoneInfo("Asia/Shanghai")
    shipped = _read(_shipped_text(), SHIPPED_ORIGIN)
    types = _types(shipped, SHIPPED_ORIGIN)
    raw_rules: dict[str, tuple[Mapping[str, Any], str]] = {}
    for r in _rule_list(shipped, SHIPPED_ORIGIN):
        _add_raw(raw_rules, r, SHIPPED_ORIGIN, replace=False)
    if override is not None and override.exists():
        origin = str(override)
        try:
            text = override.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(
                origin,
                None,
                "file",
                str(exc),
                "无法读取（应为 UTF-8 文本）",
                "cannot be read (expected UTF-8 text)",
            ) from None
        doc = _read(text, origin)
        types.update(_types(doc, origin))
        for r in _rule_list(doc, origin):
            _add_raw(raw_rules, r, origin, replace=True)
    rules: list[Rule] = []
    disabled: list[str] = []
    for name, (raw, origin) in raw_rules.items():
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RuleError(origin, name, "enabled", enabled, "应为 true 或 false", "expected true or false")
        if not enabled:
            disabled.append(name)
            continue
        rules.append(_parse_rule(raw, origin, types, dicts, tz))
    _check_overlaps(rules)
    return RuleSet.build(types, rules, disabled)


def _add_raw(
    into: dict[str, tuple[Mapping[str, Any], str]], raw: Mapping[str, Any], origin: str, *, replace: bool
) -> None:
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RuleError(
            origin,
            None,
            "name",
            name,
            "应为小写字母开头、1-60 个小写字母、数字或 _",
            "expected 1-60 lower-case letters, digits or _, starting with a letter",
        )
    if name in into and into[name][1] == origin:
        raise RuleError(
            origin, name, "name", name, "同一文件中规则名重复", "the same rule name appears twice in one file"
        )
    if set(raw) == {"name", "enabled"} and name not in into:
        raise RuleError(
            origin, name, "name", name, "要停用的规则不存在", "there is no rule of this name to switch off"
        )
    if set(raw) == {"name", "enabled"}:
        # Switching a rule off (or on again) without restating it.
        into[name] = ({**into[name][0], "enabled": raw["enabled"]}, origin)
        return
    into[name] = (raw, origin)


def _check_overlaps(rules: Sequence[Rule]) -> None:
    """A device kind in two silence rules of one alarm type would time it twice with different limits."""
    seen: dict[tuple[str, str], str] = {}
    for r in rules:
        s = r.silence
        if s is None or s.subject != "device" or s.devices is not None or s.estates is not None:
            continue
        for kind in sorted(s.kinds):
            other = seen.get((r.type, kind))
            if other is not None:
                raise RuleError(
                    r.origin,
                    r.name,
                    "silence.kinds",
                    kind,
                    f"设备类型已由规则 {other} 计时（同一告警类型）；请停用其一或用 devices/estates 限定",
                    f"this device kind is already timed by rule {other} for the same alarm type; switch one off "
                    "or narrow it with devices/estates",
                )
            seen[(r.type, kind)] = r.name


def load_for(data_dir: Path, dictionaries: Mapping[str, Dictionary], timezone: ZoneInfo) -> RuleSet:
    """The rules of a deployment: shipped, plus `$ANJU_DATA_DIR/rules.yaml`."""
    return load_rules(data_dir / OVERRIDE_NAME, dictionaries=dictionaries, timezone=timezone)


def describe(rule: Rule, types: Mapping[str, AlarmType]) -> dict[str, Any]:
    """A rule as shown by `anju rules show`: what it is, where it comes from, and its conditions."""
    t = types[rule.type]
    out: dict[str, Any] = {
        "name": rule.name,
        "type": rule.type,
        "type_zh": t.zh,
        "type_en": t.en,
        "severity": rule.severity,
        "source": rule.source,
        "origin": rule.origin,
    }
    if rule.reading:
        out["reading"] = rule.reading
    if rule.silence is not None:
        s = rule.silence
        out["silence"] = {
            "subject": s.subject,
            "after_s": s.after,
            "kinds": sorted(s.kinds),
            "heard_by": "any" if s.any_record else dict(s.heard_by),
        }
        if s.subject == "elderly_alone":
            out["silence"]["min_age"] = s.min_age
    else:
        out["record"] = rule.record_type
        out["when"] = rule.when.text if rule.when else None
        if rule.clear_when:
            out["clear_when"] = rule.clear_when.text
        if rule.duration:
            out["for_s"] = rule.duration.seconds
            out["latch"] = rule.duration.latch
        if rule.repeat:
            out["repeat"] = {
                "count": rule.repeat.count,
                "within_s": rule.repeat.within,
                "distinct": rule.repeat.distinct,
            }
        out["originator"] = [o.kind + (f":{o.field}" if o.field else "") for o in rule.originators]
        for lv in rule.levels:
            out.setdefault("levels", []).append(
                {"when": lv.when.text, "severity": lv.severity, "sla_minutes": lv.sla_minutes}
            )
    if rule.schedule is not None:
        out["schedule"] = {
            "timezone": str(rule.schedule.tz),
            "armed": [_window_text(w) for w in rule.schedule.armed],
            "zones": [
                {"name": z.name, "armed": [_window_text(w) for w in z.armed], "severity": z.severity}
                for z in rule.schedule.zones
            ],
        }
    return out


def _window_text(w: Window) -> str:
    days = next((k for k, v in _DAY_SETS.items() if v == w.days), None) or ",".join(
        DAYS[d] for d in sorted(w.days)
    )
    return f"{days} {w.start // 60:02d}:{w.start % 60:02d}-{w.end // 60:02d}:{w.end % 60:02d}"


def rule_from_raw(
    raw: Mapping[str, Any],
    types: Mapping[str, AlarmType],
    *,
    dictionaries: Mapping[str, Dictionary] | None = None,
    timezone: ZoneInfo | None = None,
    origin: str = "<test>",
) -> Rule:
    """One rule from a mapping (tests and tools); the same validation as a file."""
    return _parse_rule(
        raw, origin, types, dictionaries or load_dictionaries(), timezone or ZoneInfo("Asia/Shanghai")
    )


__all__ = [
    "ALWAYS",
    "AlarmType",
    "Condition",
    "Ctx",
    "Duration",
    "Lookups",
    "Originator",
    "Repeat",
    "Rule",
    "RuleError",
    "RuleSet",
    "Schedule",
    "Silence",
    "WatchHit",
    "Window",
    "describe",
    "load_for",
    "load_rules",
    "number",
    "parse_duration",
    "rule_from_raw",
]
