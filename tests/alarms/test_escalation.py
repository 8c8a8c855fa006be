"""Escalation and reminders of unacknowledged alarms with an injectable clock (no sleeps), the SLA clock of
emergency calls, the policy file, and `anju alarms` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from anju.alarms.store import EscalationPolicy, PolicyError, default_policy
from anju.config import Settings
from anju.services import Services
from tests.alarms import T0, FakeClock, clocked_services, signal


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    with clocked_services(settings, clock) as services:
        yield services


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_shipped_policy() -> None:
    policy = default_policy()
    assert [d.region_level for d in policy.duty_levels] == ["estate", "community", "district"]
    # Shandong's 15-minute response comes with the signal of an elderly caller living alone (the rule
    # knows the caller); emergency calls escalate fast whoever calls.
    assert policy.for_type("emergency_call").sla_response is None
    assert policy.for_type("emergency_call").escalate_after["critical"] == timedelta(minutes=3)
    assert policy.for_type("no_such_type") is policy.default
    assert policy.default.escalate_after["major"] == timedelta(minutes=15)
    assert policy.default.remind_every["major"] == timedelta(minutes=5)
    # A type overriding some keys inherits the others.
    assert policy.for_type("perimeter_intrusion").remind_every == policy.default.remind_every


def test_unacknowledged_alarm_is_reminded_escalated_and_stops_once_acknowledged(
    svc: Services, clock: FakeClock
) -> None:
    """Default policy, major: remind every 5 min, escalate after 15; critical: every 2, escalate after 5;
    three duty levels (estate, community, district)."""
    changes = svc.alarms.events.subscribe()
    alarm_id = svc.alarms.raise_signal(signal(type="water_immersion", severity="major")).alarm_id
    assert alarm_id is not None

    def step_at(minutes: float) -> list[tuple[str, int, str, int]]:
        clock.now = at(minutes)
        return [(s.action, s.level, s.severity, s.reminders) for s in svc.alarms.escalate_due()]

    alarm = svc.alarms.get(alarm_id)
    assert alarm is not None and alarm.next_escalation_at == at(5)
    assert step_at(4.9) == []
    assert step_at(5) == [("reminded", 0, "major", 1)]
    assert step_at(5) == []  # done for now: nothing is due twice
    assert step_at(10) == [("reminded", 0, "major", 2)]
    assert step_at(15) == [("escalated", 1, "critical", 2)]  # waited 15 min at level 0
    assert step_at(17) == [("reminded", 1, "critical", 3)]
    assert step_at(19) == [("reminded", 1, "critical", 4)]
    assert step_at(20) == [("escalated", 2, "critical", 4)]  # 5 min at level 1
    assert step_at(22) == [("reminded", 2, "critical", 5)]  # top level: reminders only, until acknowledged
    assert step_at(24) == [("reminded", 2, "critical", 6)]

    clock.now = at(25)
    svc.alarms.acknowledge(alarm_id, actor="user:duty")
    assert step_at(60) == [] and step_at(600) == []

    alarm = svc.alarms.get(alarm_id, events=True)
    assert alarm is not None
    assert (alarm.escalation_level, alarm.severity, alarm.reminders) == (2, "critical", 6)
    assert alarm.next_escalation_at is None
    escalations = [e for e in alarm.events if e.action == "escalated"]
    assert [(e.at, e.actor, e.detail["duty"]["region_level"]) for e in escalations] == [
        (at(15), "system:escalation", "community"),
        (at(20), "system:escalation", "district"),
    ]
    assert escalations[0].detail["severity"] == ["major", "critical"]
    assert [e.action for e in alarm.events].count("reminded") == 6
    # Escalations change the alarm and are audited; reminders are history rows only.
    audited = [e.action for e in svc.audit.query(target=f"alarm:{alarm_id}")]
    assert audited == ["alarms.raise", "alarms.escalate", "alarms.escalate", "alarms.acknowledge"]
    # The notifier hears each step, with whom to tell.
    steps = [c for c in changes.drain() if c.change in ("escalated", "reminded")]
    assert len(steps) == 8
    assert steps[2].change == "escalated" and steps[2].detail["duty"]["zh"] == "社区值班人员"
    assert steps[2].alarm["escalation"]["duty"]["region_level"] == "community"
    changes.close()


def test_the_step_returned_names_the_duty_level_to_notify(svc: Services, clock: FakeClock) -> None:
    alarm_id = svc.alarms.raise_signal(signal(severity="critical", type="water_immersion")).alarm_id
    steps = svc.alarms.escalate_due(at(5))  # critical: escalates after 5 minutes
    assert len(steps) == 1
    step = steps[0]
    assert (step.alarm_id, step.action, step.level, step.duty.region_level) == (
        alarm_id,
        "escalated",
        1,
        "community",
    )
    assert step.estate == "E1" and step.next_at == at(7)
    assert step.to_json()["duty"]["en"] == "community duty staff"


def test_a_late_run_takes_one_step_per_call(svc: Services) -> None:
    """A cron job that was down for an hour catches up one step per alarm per run, not a burst."""
    svc.alarms.raise_signal(signal(type="water_immersion", severity="major"))
    assert [s.action for s in svc.alarms.escalate_due(at(60))] == ["escalated"]
    assert [s.action for s in svc.alarms.escalate_due(at(60))] == []
    assert [s.action for s in svc.alarms.escalate_due(at(62))] == ["reminded"]


def test_cleared_and_closed_alarms_are_not_escalated(svc: Services, clock: FakeClock) -> None:
    cleared = svc.alarms.raise_signal(signal(originator_id="A", type="water_immersion")).alarm_id
    closed = svc.alarms.raise_signal(signal(originator_id="B")).alarm_id
    assert cleared and closed
    svc.alarms.clear(cleared, actor="user:li")
    svc.alarms.close(closed, "handled", actor="user:li")
    assert svc.alarms.escalate_due(at(120)) == []
    # Coming back re-arms escalation: the clock for the level starts again at the re-activation.
    clock.now = at(121)
    svc.alarms.raise_signal(signal(originator_id="A", type="water_immersion", at=at(121)))
    alarm = svc.alarms.get(cleared)
    assert alarm is not None and alarm.next_escalation_at == at(126)
    assert [s.action for s in svc.alarms.escalate_due(at(126))] == ["reminded"]
    assert [s.action for s in svc.alarms.escalate_due(at(136))] == ["escalated"]


def elderly_call(person: str, **changes: Any) -> Any:
    """An emergency call as the rule signals it when the caller is elderly and lives alone."""
    return signal(
        type="emergency_call",
        rule="emergency_call",
        severity="critical",
        originator_kind="person",
        originator_id=person,
        details={"elderly_alone": True, "sla_minutes": 15},
        **changes,
    )


def test_emergency_call_sla_clock(svc: Services, clock: FakeClock) -> None:
    """Shandong: an elderly person's emergency call must be answered within 15 minutes; the clock runs
    from the call."""
    late = svc.alarms.raise_signal(elderly_call("P1")).alarm_id
    on_time = svc.alarms.raise_signal(elderly_call("P2")).alarm_id
    assert late and on_time
    clock.now = at(10)
    alarm = svc.alarms.get(late)
    assert alarm is not None and alarm.sla_due_at == at(15)
    sla = svc.alarms.json(alarm)["sla"]
    assert (sla["remaining_s"], sla["breached"], sla["met"], sla["minutes"]) == (300.0, False, None, 15.0)
    svc.alarms.acknowledge(on_time, actor="user:duty")
    # Emergency calls escalate faster than the promise: 3 min at critical.
    assert {s.alarm_id: s.action for s in svc.alarms.escalate_due(at(10))} == {late: "escalated"}

    clock.now = at(16)
    alarm = svc.alarms.get(late)
    assert alarm is not None
    assert svc.alarms.json(alarm)["sla"]["breached"] is True
    svc.alarms.acknowledge(late, actor="user:duty")
    answered_late = svc.alarms.get(late)
    answered = svc.alarms.get(on_time)
    assert answered_late is not None and answered is not None
    assert svc.alarms.json(answered_late)["sla"] | {"remaining_s": None} == {
        "due_at": at(15).isoformat(),
        "minutes": 15.0,
        "responded_at": at(16).isoformat(),
        "met": False,
        "breached": True,
        "remaining_s": None,
    }
    assert svc.alarms.json(answered)["sla"]["met"] is True
    # Without a promise there is no SLA clock ...
    plain = svc.alarms.raise_signal(
        signal(type="emergency_call", originator_kind="person", originator_id="P3")
    )
    got = svc.alarms.get(plain.alarm_id or 0)
    assert got is not None and got.sla_due_at is None and svc.alarms.json(got)["sla"] is None
    # ... until a re-trigger brings one (the clock still runs from the first call).
    svc.alarms.raise_signal(elderly_call("P3", at=at(1)))
    got = svc.alarms.get(plain.alarm_id or 0)
    assert got is not None and got.sla_due_at == at(15)


def test_indeterminate_alarms_are_never_escalated_by_default(svc: Services) -> None:
    alarm_id = svc.alarms.raise_signal(signal(severity="indeterminate", type="water_immersion")).alarm_id
    alarm = svc.alarms.get(alarm_id or 0)
    assert alarm is not None and alarm.next_escalation_at is None
    assert svc.alarms.escalate_due(at(10_000)) == []


# ---- the policy file -----------------------------------------------------------------------------------
POLICY = """
duty_levels:
  - {region_level: estate, zh: 小区, en: estate}
  - {region_level: district, zh: 区, en: district}
default:
  escalate_after_min: {critical: 1, major: 2, minor: 3, warning: 4, indeterminate: null}
  remind_every_min: {critical: null, major: null, minor: null, warning: null, indeterminate: null}
types:
  smoke_fire:
    escalate_after_min: {critical: 10, major: 10, minor: 10, warning: 10, indeterminate: 10}
"""


def test_a_deployment_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(POLICY, encoding="utf-8")
    policy = EscalationPolicy.load(path)
    assert policy.max_level == 1
    assert policy.for_type("smoke_fire").escalate_after["major"] == timedelta(minutes=10)
    assert policy.for_type("smoke_fire").remind_every["major"] is None  # inherited
    assert policy.default.first_due("major") == timedelta(minutes=2)
    assert policy.default.first_due("indeterminate") is None
    # Where a deployment puts it: $ANJU_DATA_DIR/escalation.yaml replaces the shipped policy.
    assert EscalationPolicy.for_data_dir(tmp_path).max_level == 1
    assert EscalationPolicy.for_data_dir(tmp_path / "elsewhere") is default_policy()


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ("critical: 1, major: 2", "default.escalate_after_min"),
        (
            "critical: -1, major: 2, minor: 3, warning: 4, indeterminate: null",
            "default.escalate_after_min.critical",
        ),
        ("critical: soon, major: 2, minor: 3, warning: 4, indeterminate: null", "'soon'"),
    ],
)
def test_a_broken_policy_file_says_where_and_what_is_expected(tmp_path: Path, bad: str, names: str) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(
        POLICY.replace("critical: 1, major: 2, minor: 3, warning: 4, indeterminate: null", bad),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as exc:
        EscalationPolicy.load(path)
    assert str(path) in str(exc.value) and names in str(exc.value) and "expected" in str(exc.value)


def test_a_policy_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(POLICY + "  water_immersion: {escalate_after: 5}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"types.water_immersion: unknown keys \['escalate_after'\]"):
        EscalationPolicy.load(path)


# ---- the command line ----------------------------------------------------------------------------------
def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anju.cli", "alarms", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_alarms_from_the_command_line(tmp_path: Path) -> None:
    """`anju alarms escalate` (cron), list, show, ack and close, on the real clock: the alarms are raised
    with a clock an hour behind, so that they are due now."""
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'anju.db'}")
    hour_ago = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    with clocked_services(settings, hour_ago) as svc:
        first = svc.alarms.raise_signal(signal(at=hour_ago.now, severity="critical")).alarm_id
        second = svc.alarms.raise_signal(signal(at=hour_ago.now, estate="E2", originator_id="X")).alarm_id
    env = {
        **os.environ,
        "ANJU_DATA_DIR": str(data),
        "ANJU_DATABASE_URL": settings.database_url,
    }
    env.pop("COLUMNS", None)

    p = _cli(env, "escalate", "--json")
    assert p.returncode == 0, p.stderr
    steps = json.loads(p.stdout)
    assert sorted((s["alarm_id"], s["action"]) for s in steps) == [
        (first, "escalated"),
        (second, "escalated"),
    ]

    p = _cli(env, "list", "--estate", "E1", "--open", "--json")
    assert p.returncode == 0, p.stderr
    listed: dict[str, Any] = json.loads(p.stdout)
    assert listed["total"] == 1 and listed["alarms"][0]["id"] == first
    assert listed["alarms"][0]["escalation"]["level"] == 1

    p = _cli(env, "ack", str(first))
    assert p.returncode == 0, p.stderr
    p = _cli(env, "ack", str(first))
    assert p.returncode == 2 and "already acknowledged" in p.stderr and "Traceback" not in p.stderr
    p = _cli(env, "close", str(first), "--result", "处置完毕")
    assert p.returncode == 0, p.stderr
    p = _cli(env, "show", str(first), "--json")
    shown = json.loads(p.stdout)
    assert [e["action"] for e in shown["events"]] == ["raised", "escalated", "acknowledged", "closed"]
    assert shown["events"][2]["actor"].startswith("cli:")
    p = _cli(env, "show", "999")
    assert p.returncode == 2 and "no alarm 999" in p.stderr
    p = _cli(env, "list")
    assert p.returncode == 0 and "2 of 2" in p.stdout
