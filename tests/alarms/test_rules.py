"""Alarm rules as data: every shipped rule parses against the data standard and its dictionaries and says
where in the seeds it comes from; override files replace, add and switch off rules; every mistake is
refused naming the file, the rule, the key, the value and what was expected; the condition language's
semantics (AND/OR/NOT, absent values, numbers in text, field against field, schedules)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from anju.alarms.rules import (
    SHIPPED_ORIGIN,
    Ctx,
    RuleError,
    WatchHit,
    describe,
    load_rules,
    parse_duration,
    rule_from_raw,
)
from anju.alarms.tables import SEVERITIES
from anju.registry import catalog
from anju.standard.dictionaries import load_dictionaries
from anju.standard.spec import record_type

SHIPPED = yaml.safe_load(
    (Path(__file__).parents[2] / "src/anju/alarms/data/rules.yaml").read_text(encoding="utf-8")
)
RULES = load_rules()
TYPES = RULES.types

# Every alarm issue 5 says the seeds name, and the type that carries it.
NAMED_ALARMS = {
    "perimeter intrusion": "perimeter_intrusion",
    "smoke/fire": "smoke_fire",
    "fire door open": "fire_door_open",
    "hydrant pressure low": "hydrant_pressure_low",
    "water immersion": "water_immersion",
    "electrical over-current": "electrical_overcurrent",
    "over-threshold energy use": "energy_over_threshold",
    "emergency call": "emergency_call",
    "watchlist person": "watchlist_person",
    "watchlist vehicle": "watchlist_vehicle",
    "device offline": "device_offline",
    "device fault": "device_fault",
    "device tamper": "device_tamper",
    "thrown object": "thrown_object",
    "crowd": "crowd_gathering",
    "loitering": "loitering",
    "line crossing": "line_crossing",
    "visitor surge": "occupancy_visitor_surge",
    "odd hours": "occupancy_odd_hours",
    "authorisation anomaly": "occupancy_authorisation",
    "patrol missed": "patrol_missed",
    "elderly not seen": "elderly_not_seen",
}


def walk_conditions(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "field" in node:
            yield node
        for key in ("all", "any"):
            for child in node.get(key, ()):
                yield from walk_conditions(child)
        if "not" in node:
            yield from walk_conditions(node["not"])


# ---- the shipped file ------------------------------------------------------------------------------------
def test_every_named_alarm_has_a_type_and_a_rule() -> None:
    fired_types = {r.type for r in RULES.rules}
    for alarm, code in NAMED_ALARMS.items():
        assert code in TYPES, alarm
        assert code in fired_types, f"no rule raises {alarm} ({code})"
    assert all(t.severity in SEVERITIES and t.zh and t.en for t in TYPES.values())
    assert not RULES.disabled
    # Timers on silence ship for devices, patrol checkpoints and elderly people living alone.
    assert {(r.type, r.silence.subject) for r in RULES.silences if r.silence} >= {
        ("device_offline", "device"),
        ("patrol_missed", "device"),
        ("elderly_not_seen", "elderly_alone"),
    }


def test_every_shipped_rule_cites_the_seeds_and_uses_real_fields_and_codes() -> None:
    dictionaries = load_dictionaries()
    assert len(SHIPPED["rules"]) == len(RULES.rules)
    for raw in SHIPPED["rules"]:
        rule = RULES.get(raw["name"])
        assert rule is not None and rule.origin == SHIPPED_ORIGIN
        # "003 二（一）…" — every rule names the seed document (and section) it comes from.
        assert raw["source"][:3] in {"000", "003", "004"}, raw["name"]
        if "silence" in raw:
            assert all(k in catalog.device_kinds() for k in raw["silence"].get("kinds", []))
            continue
        rtype = record_type(raw["record"])
        codes = {f.code: f for f in rtype.fields}
        conditions = [raw["when"], raw.get("clear_when"), *(lv["when"] for lv in raw.get("levels", []))]
        for cond in conditions:
            for leaf in walk_conditions(cond):
                f = codes[leaf["field"]]  # a real field of the record type
                for op in ("eq", "ne", "in", "not_in"):
                    if op in leaf and f.dictionary:
                        values = leaf[op] if isinstance(leaf[op], list) else [leaf[op]]
                        assert all(v in dictionaries[f.dictionary] for v in values), (raw["name"], leaf)
                if f.personal is not None:
                    assert set(leaf) & {"present", "watchlist", "person"}, (raw["name"], leaf)
        for code in raw.get("details", []):
            assert codes[code].personal is None
        if "location" in raw:
            assert codes[raw["location"]].personal is None
    # The dictionary check above is not vacuous: a shipped rule tests a dictionary field's codes.
    swipe = RULES.get("moved_out_card")
    assert swipe is not None and swipe.when is not None and "SK_FSDM not in [06, 08]" in swipe.when.text


def test_describe_shows_source_conditions_and_timing() -> None:
    smoke = describe(RULES.get("smoke_detected"), TYPES)  # type: ignore[arg-type]
    assert smoke["type_zh"] == "烟雾/火警" and smoke["for_s"] == 10 and smoke["latch"] is False
    assert "YW_ZT matches" in smoke["when"] and smoke["source"].startswith("003")
    offline = describe(RULES.get("offline_video_perimeter"), TYPES)  # type: ignore[arg-type]
    assert offline["silence"] == {
        "subject": "device",
        "after_s": 300,
        "kinds": ["camera", "face_camera", "perimeter_sensor"],
        "heard_by": "any",
    }
    elderly = describe(RULES.get("elderly_not_seen"), TYPES)  # type: ignore[arg-type]
    assert elderly["silence"]["after_s"] == 48 * 3600 and elderly["silence"]["min_age"] == 60
    call = describe(RULES.get("emergency_call"), TYPES)  # type: ignore[arg-type]
    assert call["levels"][0]["severity"] == "critical" and call["levels"][0]["sla_minutes"] == 15


# ---- override files --------------------------------------------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_override_replaces_adds_and_switches_off_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
types:
  gas_leak: {zh: 燃气泄漏, en: Gas leak, severity: critical}
rules:
  - name: smoke_detected            # replaces the shipped rule of that name
    type: smoke_fire
    source: "003 二（十二） — this estate's detectors report every 30 s"
    record: fire_energy
    when: {field: YW_ZT, in: ["1", "报警"]}
    for: 1m
  - name: gas_leak                  # a new rule with a new type
    type: gas_leak
    source: "003 二（十二）: 燃气表感应器"
    record: fire_energy
    when: {field: GJXX_NR, matches: 燃气泄漏}
  - {name: loitering, enabled: false}
""",
    )
    rules = load_rules(path)
    smoke = rules.get("smoke_detected")
    assert smoke is not None and smoke.origin == str(path) and smoke.duration is not None
    assert smoke.duration.seconds == 60 and smoke.clear_when is None  # replaced whole, not merged
    gas = rules.get("gas_leak")
    assert gas is not None and gas.severity == "critical" and rules.types["gas_leak"].zh == "燃气泄漏"
    assert rules.get("loitering") is None and rules.disabled == ("loitering",)
    assert "loitering" not in {r.name for r in rules.by_record_type["video_record"]}
    assert len(rules.rules) == len(RULES.rules)  # one added, one switched off
    # A missing override file is no override.
    assert len(load_rules(tmp_path / "absent.yaml").rules) == len(RULES.rules)


def expect_error(tmp_path: Path, rule: dict[str, Any], key: str, *words: str) -> RuleError:
    base = {"name": "my_rule", "type": "smoke_fire", "source": "003 test", "record": "fire_energy"}
    base.update(rule)
    base = {k: v for k, v in base.items() if v is not None}
    path = write(tmp_path, yaml.safe_dump({"rules": [base]}, allow_unicode=True))
    with pytest.raises(RuleError) as caught:
        load_rules(path)
    err = caught.value
    text = str(err)
    assert str(path) in text and "my_rule" in text, text  # the file and the rule
    assert err.key == key, (err.key, text)
    for word in words:
        assert word in text, (word, text)
    return err


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        # The field by its Chinese name: the code is suggested.
        (
            {"when": {"field": "烟雾状态", "eq": "1"}},
            "when.field",
            ["'烟雾状态'", "did you mean YW_ZT", "YW_ZT"],
        ),
        ({"when": {"field": "NOPE", "eq": "1"}}, "when.field", ["'NOPE'", "has no field", "没有此字段"]),
        ({"when": {"field": "YW_ZT", "like": "1"}}, "when", ["exactly one comparison", "matches"]),
        (
            {"when": {"field": "YW_ZT", "matches": "(烟"}},
            "when.matches",
            ["'(烟'", "regular expression", "正则"],
        ),
        ({"when": {"any": []}}, "when.any", ["non-empty list", "非空列表"]),
        ({"when": {"all": [{"field": "ZDDY_SZ", "gt": "high"}]}}, "when.all[0].gt", ["'high'", "a number"]),
        ({"when": {"field": "BJSJ", "gt": 3}}, "when.gt", ["DATE", "时间字段"]),
        (
            {"when": {"field": "YW_ZT", "gt": {"field": "BJSJ"}}},
            "when.gt.field",
            ["BJSJ", "only one of them is a DATE"],
        ),
        ({"type": "volcano"}, "type", ["'volcano'", "not a defined alarm type", "smoke_fire"]),
        ({"severity": "urgent"}, "severity", ["'urgent'", "critical, major", "告警级别"]),
        ({"when": {"field": "YW_ZT", "eq": "1"}, "for": "ten seconds"}, "for", ["'ten seconds'", "10s, 5m"]),
        (
            {"when": {"field": "YW_ZT", "eq": "1"}, "repeat": {"count": 1, "within": "5m"}},
            "repeat.count",
            ["2 to 1000"],
        ),
        ({"when": {"field": "YW_ZT", "eq": "1"}, "colour": "red"}, "colour", ["unknown key", "未知的键"]),
        ({"record": "weather", "when": {"field": "X", "eq": "1"}}, "record", ["'weather'", "fire_energy"]),
        (
            {"when": {"field": "YW_ZT", "eq": "1"}, "details": ["SBMC", "XXX"]},
            "details[1]",
            ["'XXX'", "has no field"],
        ),
        (
            {
                "when": {"field": "YW_ZT", "eq": "1"},
                "schedule": {"armed": [{"days": ["fri"], "from": "25:00"}]},
            },
            "schedule.armed[0].from",
            ["'25:00'", "HH:MM"],
        ),
        (
            {"when": {"field": "YW_ZT", "eq": "1"}, "schedule": {"armed": [{"days": ["friday"]}]}},
            "schedule.armed[0].days",
            ["weekdays", "mon, tue"],
        ),
    ],
)
def test_refusals_name_file_rule_key_value_and_expectation(
    tmp_path: Path, rule: dict[str, Any], key: str, words: list[str]
) -> None:
    expect_error(tmp_path, rule, key, *words)


def test_personal_values_never_stand_in_a_rules_file(tmp_path: Path) -> None:
    err = expect_error(
        tmp_path,
        {"record": "vehicle_pass", "when": {"field": "JDCHPHM", "eq": "鄂A12345"}},
        "when.eq",
        "personal field (plate)",
        "watchlist",
        "不得含明文",
    )
    assert err.rule == "my_rule"
    # The watchlist kind must be the field's personal kind.
    expect_error(
        tmp_path,
        {"record": "vehicle_pass", "when": {"field": "JDCHPHM", "watchlist": "id_number"}},
        "when.watchlist",
        "holds plate, not id_number",
    )
    # Titles and details cannot carry personal fields either.
    expect_error(
        tmp_path,
        {"record": "vehicle_pass", "when": {"field": "ZDCL_PDBS", "eq": "1"}, "details": ["JDCHPHM"]},
        "details[0]",
        "personal",
    )
    expect_error(
        tmp_path,
        {
            "record": "vehicle_pass",
            "when": {"field": "ZDCL_PDBS", "eq": "1"},
            "title": {"zh": "车辆 {JDCHPHM}", "en": "Vehicle {JDCHPHM}"},
        },
        "title.zh",
        "unknown placeholder JDCHPHM",
    )


def test_dictionary_values_must_be_codes(tmp_path: Path) -> None:
    # 访客呼叫 is the name of code 06 in KMFSDM: the message says so.
    expect_error(
        tmp_path,
        {"record": "access_swipe", "when": {"field": "SK_FSDM", "in": ["01", "访客呼叫"]}},
        "when.in[1]",
        "'访客呼叫'",
        "dictionary KMFSDM",
        "name of code '06'",
    )
    ok = rule_from_raw({**_base("access_swipe"), "when": {"field": "SK_FSDM", "eq": "06"}}, TYPES)
    assert ok.when is not None and ok.when.text == "SK_FSDM = '06'"


def test_file_level_mistakes(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not valid YAML"):
        load_rules(write(tmp_path, "rules: [\n"))
    with pytest.raises(RuleError, match="unknown key; allowed keys: version"):
        load_rules(write(tmp_path, "rulez: []\n"))
    dup = {
        "name": "twice",
        "type": "smoke_fire",
        "source": "003",
        "record": "fire_energy",
        "when": {"field": "YW_ZT", "eq": "1"},
    }
    with pytest.raises(RuleError, match="appears twice in one file"):
        load_rules(write(tmp_path, yaml.safe_dump({"rules": [dup, dup]}, allow_unicode=True)))
    with pytest.raises(RuleError, match="no rule of this name to switch off"):
        load_rules(write(tmp_path, "rules: [{name: no_such_rule, enabled: false}]\n"))
    with pytest.raises(
        RuleError, match=r"types.gas=\{.zh.: .燃气.\}: an alarm type has exactly zh, en and severity"
    ):
        load_rules(write(tmp_path, "types: {gas: {zh: 燃气}}\n"))


def test_silence_rule_mistakes(tmp_path: Path) -> None:
    def silence(**s: Any) -> dict[str, Any]:
        return {"record": None, "type": "device_offline", "silence": s}

    expect_error(
        tmp_path,
        silence(subject="device", kinds=["toaster"], after="5m"),
        "silence.kinds[0]",
        "'toaster'",
        "camera",
    )
    expect_error(tmp_path, silence(subject="cat", after="5m"), "silence.subject", "device or elderly_alone")
    expect_error(tmp_path, silence(subject="device", kinds=["camera"], after="soon"), "silence.after", "10s")
    expect_error(
        tmp_path,
        silence(subject="device", kinds=["camera"], heard_by=["emergency_call"], after="5m"),
        "silence.heard_by[0]",
        "no device field",
    )
    expect_error(
        tmp_path,
        {
            "type": "elderly_not_seen",
            "record": None,
            "silence": {"subject": "elderly_alone", "heard_by": {"access_swipe": "XM"}, "after": "48h"},
        },
        "silence.heard_by.access_swipe",
        "certificate-number field",
    )
    # The same device kind timed twice for one alarm type.
    expect_error(
        tmp_path,
        silence(subject="device", kinds=["camera"], after="1m"),
        "silence.kinds",
        "already timed by rule offline_video_perimeter",
    )


# ---- condition semantics -----------------------------------------------------------------------------------
class FakeLookups:
    def __init__(self, watched: set[str] = frozenset(), people: dict[str, str] | None = None) -> None:  # type: ignore[assignment]
        self.watched = watched
        self.people = people or {}

    def blind(self, kind: str, value: str) -> str:
        return f"{kind}#{value}"

    def watching(self, kind: str) -> bool:
        return True

    def watch(self, kind: str, blind: str, estate: str | None, at: datetime) -> WatchHit | None:
        return WatchHit(1, kind, "鄂A***45", "stolen", "critical") if blind in self.watched else None

    def person(self, kind: str, blind: str) -> str | None:
        return self.people.get(blind)

    def person_is(self, predicate: str, person_id: str, estate: str | None) -> bool:
        return predicate == "elderly_alone" and person_id == "P-OLD"


def _base(slug: str) -> dict[str, Any]:
    return {"name": "probe", "type": "smoke_fire", "source": "003 test", "record": slug}


def cond(slug: str, node: dict[str, Any]) -> Any:
    rule = rule_from_raw({**_base(slug), "when": node}, TYPES)
    assert rule.when is not None
    return rule.when


def check(c: Any, rec: dict[str, Any], lookups: Any = None) -> bool:
    return bool(c(rec, Ctx(lookups or FakeLookups(), None, datetime(2025, 3, 3, tzinfo=UTC))))


def test_and_or_not_nest() -> None:
    c = cond(
        "fire_energy",
        {
            "all": [
                {"any": [{"field": "YW_ZT", "eq": "1"}, {"field": "BJ_ZT", "in": ["火警", "报警"]}]},
                {"not": {"field": "CS_ZT", "eq": "1"}},
            ]
        },
    )
    assert check(c, {"YW_ZT": "1"})
    assert check(c, {"YW_ZT": "0", "BJ_ZT": "报警"})
    assert not check(c, {"YW_ZT": "0", "BJ_ZT": "正常"})
    assert not check(c, {"YW_ZT": "1", "CS_ZT": "1"})  # test mode
    assert check(c, {"YW_ZT": "1", "CS_ZT": None})  # absent: `not` holds
    assert c.text == "((YW_ZT = '1' OR BJ_ZT in [报警, 火警]) AND NOT CS_ZT = '1')"


def test_absent_values_fail_every_comparison_but_present_false() -> None:
    for node in (
        {"field": "YW_ZT", "ne": "1"},
        {"field": "YW_ZT", "not_in": ["1"]},
        {"field": "ZDDY_SZ", "lt": 100},
        {"field": "YW_ZT", "matches": ".*"},
    ):
        assert not check(cond("fire_energy", node), {"YW_ZT": "", "ZDDY_SZ": None}), node
    assert check(cond("fire_energy", {"field": "GZ_ZT", "present": False}), {"GZ_ZT": ""})
    assert not check(cond("fire_energy", {"field": "GZ_ZT", "present": True}), {"GZ_ZT": ""})


def test_thresholds_numbers_in_text_and_field_against_field() -> None:
    over = cond("fire_energy", {"field": "DL_MC", "gt": {"field": "DLYZ_MC"}})
    assert check(over, {"DL_MC": "12.5A", "DLYZ_MC": "10A"})
    assert not check(over, {"DL_MC": "9.9 A", "DLYZ_MC": "10"})
    assert not check(over, {"DL_MC": "过载", "DLYZ_MC": "10"})  # no number: unknown, not over
    volts = cond("fire_energy", {"field": "ZDDY_SZ", "<=": 3.3})
    assert check(volts, {"ZDDY_SZ": 3.3}) and not check(volts, {"ZDDY_SZ": 3.31})
    later = cond("perimeter_alarm", {"field": "JS_RQSJ", "gt": {"field": "KS_RQSJ"}})
    assert check(later, {"JS_RQSJ": datetime(2025, 1, 2), "KS_RQSJ": datetime(2025, 1, 1)})
    assert not check(later, {"JS_RQSJ": datetime(2025, 1, 1), "KS_RQSJ": datetime(2025, 1, 1)})
    number_eq = cond("fire_energy", {"field": "ZDDY_SZ", "eq": "3.6"})
    assert check(number_eq, {"ZDDY_SZ": 3.6})


def test_watchlist_and_person_conditions_go_through_blind_indexes() -> None:
    watched = cond("vehicle_pass", {"field": "JDCHPHM", "watchlist": "plate"})
    lookups = FakeLookups(watched={"plate#鄂A12345"})
    ctx = Ctx(lookups, "XQ001", datetime(2025, 3, 3, tzinfo=UTC))
    assert watched({"JDCHPHM": "鄂A12345"}, ctx) and ctx.hits[0].label == "stolen"
    assert not check(watched, {"JDCHPHM": "鄂A99999"}, lookups)
    elderly = cond("emergency_call", {"field": "LXFS", "person": "elderly_alone"})
    people = FakeLookups(people={"phone#13900001001": "P-OLD", "phone#13900001002": "P-YOUNG"})
    assert check(elderly, {"LXFS": "13900001001"}, people)
    assert not check(elderly, {"LXFS": "13900001002"}, people)
    assert not check(elderly, {"LXFS": "13900009999"}, people)  # not in the registry


def test_schedule_windows_by_local_time_day_and_zone() -> None:
    rule = rule_from_raw(
        {
            **_base("perimeter_alarm"),
            "when": {"field": "BJ_PDBZ", "eq": "1"},
            "schedule": {
                "armed": [{"days": ["fri"], "from": "22:00", "to": "06:00"}],
                "zones": [
                    {"name": "pump room", "values": ["PA-9"], "armed": "always", "severity": "critical"}
                ],
            },
        },
        TYPES,
    )
    s = rule.schedule
    assert s is not None and str(s.tz) == "Asia/Shanghai"
    friday_2300 = datetime(2025, 3, 7, 15, 0, tzinfo=UTC)  # Fri 23:00 in Shanghai
    saturday_0300 = datetime(2025, 3, 7, 19, 0, tzinfo=UTC)  # Sat 03:00: the Friday window runs on
    saturday_2300 = datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
    friday_1200 = datetime(2025, 3, 7, 4, 0, tzinfo=UTC)
    assert s.check(friday_2300, "PA-1") == (True, None)
    assert s.check(saturday_0300, "PA-1")[0] is True
    assert s.check(saturday_2300, "PA-1")[0] is False
    assert s.check(friday_1200, "PA-1")[0] is False
    armed, zone = s.check(friday_1200, "PA-9")
    assert armed and zone is not None and zone.name == "pump room" and zone.severity == "critical"


def test_durations() -> None:
    assert parse_duration("10s") == 10 and parse_duration("1h30m") == 5400 and parse_duration("7d") == 604800
    assert parse_duration(90) == 90
    for bad in ("", "0s", "ten", "-5m", True, 1.5):
        assert parse_duration(bad) is None, bad


# ---- the command line --------------------------------------------------------------------------------------
def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANJU_DATA_DIR": str(tmp_path / "data"),
        "ANJU_DATABASE_URL": f"sqlite:///{tmp_path / 'anju.db'}",
    }
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "anju.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_list_show_and_check(tmp_path: Path) -> None:
    listed = run(tmp_path, "rules", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in yaml.safe_load(listed.stdout)} == {r.name for r in RULES.rules}
    shown = run(tmp_path, "rules", "show", "elderly_not_seen")
    assert shown.returncode == 0 and '"min_age": 60' in shown.stdout
    good = write(tmp_path, "rules: [{name: loitering, enabled: false}]\n", "good.yaml")
    checked = run(tmp_path, "rules", "check", str(good))
    assert checked.returncode == 0 and "ok" in checked.stdout and "switched off (loitering)" in checked.stdout
    bad = write(
        tmp_path,
        "rules: [{name: x, type: smoke_fire, source: s, record: fire_energy, when: {field: YW, eq: '1'}}]\n",
        "bad.yaml",
    )
    refused = run(tmp_path, "rules", "check", str(bad))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        refused.stderr.startswith("error:")
        and "rule 'x'" in refused.stderr
        and "when.field='YW'" in refused.stderr
    )
