"""Who is on duty (值班): per region node and level, with the channels each can be reached on.

SE61-SE63 ask for 24-hour duty and for warnings and emergency calls to reach the control centre; the
escalation of an unacknowledged alarm moves up one level at a time. Levels:

    0  the estate's control room (小区监控中心 / 物业值班室)
    1  the community (社区 / 社区民警)
    2  the district (区指挥中心)

This module is an interface with a deliberately small file behind it: issue 9 brings a full duty roster
(shifts, swaps, leave); it only has to implement `DutyRoster.on_duty(estate, level, at)`.

The file is `$ANJU_DATA_DIR/duty.yaml` (a deployment file: it holds staff phone numbers and e-mail
addresses, which do not belong in the repository); without it the packaged `alarms/data/duty.yaml`, which
names nobody, applies. Format:

    officers:
      - id: E1-control              # stable: notification rows and audit entries name it
        name: 幸福里监控中心          # shown to staff, masked in stored notifications
        region: E1                   # a region-tree code (estate, community or district), or "*"
        level: 0                     # 0 estate, 1 community, 2 district
        shifts:                      # optional; local time (ANJU_TIMEZONE); none: around the clock
          - {days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00"}
          - {from: "20:00", to: "08:00"}          # a shift may cross midnight
        webhook: https://control.example/hook     # any of webhook, email, phone (SMS)
        email: control@example.cn
        phone: "13800000000"

An officer covers the estates under its region (`RegionTree.ancestors`), so a community officer is on
duty for each of the community's estates.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from anju.yamlfiles import load_yaml

LEVELS = (0, 1, 2)
LEVEL_NAMES = {
    0: ("小区监控中心", "estate control room"),
    1: ("社区", "community"),
    2: ("区指挥中心", "district command centre"),
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS = ("webhook", "email", "sms")
DUTY_FILE = "duty.yaml"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,60}$")


class DutyConfigError(ValueError):
    """The duty file cannot be used; the message names the file, the entry and what is expected."""


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone to notify, with the addresses they can be reached at on each channel.

    `key` is stable and free of personal data ("duty:E1-control", "emergency_contact:12"), so it can go
    into notification payloads and audit entries; `name`, `email` and `phone` are personal and are only
    ever stored sealed or masked."""

    key: str
    name: str
    webhook: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    relation: str | None = None  # an emergency contact's relation to the person (子, 配偶, …)
    level: int | None = None  # the duty level, for duty officers

    def targets(self) -> Iterator[tuple[str, str]]:
        """(channel, address) for each channel this contact has an address on."""
        if self.webhook:
            yield "webhook", self.webhook
        if self.email:
            yield "email", self.email
        if self.phone:
            yield "sms", self.phone


@dataclass(frozen=True, slots=True)
class Shift:
    start: time
    end: time  # end <= start: the shift crosses midnight
    days: frozenset[int] = frozenset(range(7))  # weekday() numbers the shift *starts* on

    def covers(self, local: datetime) -> bool:
        t = local.timetz().replace(tzinfo=None)
        day = local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        if self.start == self.end:  # a 24-hour shift starting at `start`
            return day in self.days if t >= self.start else (day - 1) % 7 in self.days
        # Crossing midnight: the evening part belongs to today, the early-morning part to yesterday's shift.
        if t >= self.start:
            return day in self.days
        return t < self.end and (day - 1) % 7 in self.days


@dataclass(frozen=True, slots=True)
class Officer:
    id: str
    name: str
    region: str  # region-tree code, or "*" for every estate
    level: int
    shifts: tuple[Shift, ...] = ()  # empty: around the clock
    webhook: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)

    def on_duty_at(self, local: datetime) -> bool:
        return not self.shifts or any(s.covers(local) for s in self.shifts)

    def contact(self) -> Contact:
        return Contact(
            key=f"duty:{self.id}",
            name=self.name,
            webhook=self.webhook,
            email=self.email,
            phone=self.phone,
            level=self.level,
        )


class DutyRoster(Protocol):
    """Who is on duty. Issue 9's full roster implements this too."""

    def on_duty(self, estate: str | None, level: int, at: datetime) -> list[Contact]:
        """The contacts on duty for `estate` at `level` at the instant `at` (timezone-aware).

        `estate` None (an alarm without an estate) matches only officers whose region is "*"."""
        ...


Ancestors = Callable[[str], Sequence[str]]


def _text(value: Any, where: str, *, required: bool = False, limit: int = 300) -> str | None:
    if value is None or value == "":
        if required:
            raise DutyConfigError(f"{where}: required / 必填")
        return None
    if not isinstance(value, str | int):
        raise DutyConfigError(f"{where}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > limit:
        raise DutyConfigError(f"{where}: longer than {limit} characters")
    return text


def _clock_time(value: Any, where: str) -> time:
    # YAML 1.1 reads an unquoted 20:00 as a sexagesimal number (1200): take it back as minutes.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    raise DutyConfigError(f'{where}: expected a time "HH:MM" (00:00-23:59), got {value!r}')


def _shift(raw: Any, where: str) -> Shift:
    if not isinstance(raw, dict):
        raise DutyConfigError(f'{where}: expected {{from: "HH:MM", to: "HH:MM", days: [...]}}')
    unknown = set(raw) - {"from", "to", "days"}
    if unknown:
        raise DutyConfigError(f"{where}: unknown keys {sorted(unknown)}; expected from, to, days")
    days_raw = raw.get("days")
    days = frozenset(range(7))
    if days_raw is not None:
        if not isinstance(days_raw, list) or not days_raw:
            raise DutyConfigError(f"{where}.days: expected a list such as [mon, tue]")
        picked = set()
        for d in days_raw:
            name = str(d).strip().lower()[:3]
            if name not in DAYS:
                raise DutyConfigError(f"{where}.days: {d!r} is not one of {', '.join(DAYS)}")
            picked.add(DAYS.index(name))
        days = frozenset(picked)
    return Shift(
        _clock_time(raw.get("from"), f"{where}.from"), _clock_time(raw.get("to"), f"{where}.to"), days
    )


def parse_officers(data: Any, source: str) -> tuple[Officer, ...]:
    """The officers of a duty file's parsed YAML; raises DutyConfigError naming `source`."""
    if data is None:
        return ()
    if not isinstance(data, dict) or not isinstance(data.get("officers", []), list | type(None)):
        raise DutyConfigError(f"{source}: expected a mapping with a list `officers`")
    out: list[Officer] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("officers") or []):
        where = f"{source}: officers[{i}]"
        if not isinstance(raw, dict):
            raise DutyConfigError(f"{where}: expected a mapping")
        unknown = set(raw) - {"id", "name", "region", "level", "shifts", "webhook", "email", "phone"}
        if unknown:
            raise DutyConfigError(f"{where}: unknown keys {sorted(unknown)}")
        oid = _text(raw.get("id"), f"{where}.id", required=True) or ""
        if not _ID.match(oid):
            raise DutyConfigError(f"{where}.id: {oid!r} may hold only letters, digits, '.', '_' and '-'")
        if oid in seen:
            raise DutyConfigError(f"{where}.id: {oid!r} is used twice")
        seen.add(oid)
        level = raw.get("level")
        if level not in LEVELS or isinstance(level, bool):
            raise DutyConfigError(f"{where}.level: expected 0 (estate), 1 (community) or 2 (district)")
        shifts_raw = raw.get("shifts") or []
        if not isinstance(shifts_raw, list):
            raise DutyConfigError(f"{where}.shifts: expected a list")
        webhook = _text(raw.get("webhook"), f"{where}.webhook", limit=500)
        if webhook is not None and not webhook.startswith(("https://", "http://")):
            raise DutyConfigError(f"{where}.webhook: expected an http:// or https:// URL")
        email = _text(raw.get("email"), f"{where}.email", limit=200)
        if email is not None and "@" not in email:
            raise DutyConfigError(f"{where}.email: not an e-mail address")
        phone = _text(raw.get("phone"), f"{where}.phone", limit=20)
        if webhook is None and email is None and phone is None:
            raise DutyConfigError(f"{where}: give at least one of webhook, email, phone")
        out.append(
            Officer(
                id=oid,
                name=_text(raw.get("name"), f"{where}.name", limit=100) or oid,
                region=_text(raw.get("region"), f"{where}.region", required=True, limit=40) or "*",
                level=int(level),
                shifts=tuple(_shift(s, f"{where}.shifts[{j}]") for j, s in enumerate(shifts_raw)),
                webhook=webhook,
                email=email,
                phone=phone,
            )
        )
    return tuple(out)


class FileDutyRoster:
    """The duty file as a roster. The deployment file is re-read when it changes (checked on each call by
    its modification time), so editing who is on duty needs no restart."""

    def __init__(
        self,
        path: Path | None,
        timezone: ZoneInfo,
        ancestors: Ancestors | None = None,
    ) -> None:
        self.path = path
        self.timezone = timezone
        # Without a region tree an officer covers only the estate its region names (and "*").
        self.ancestors: Ancestors = ancestors or (lambda code: [code])
        self._lock = threading.Lock()
        self._officers: tuple[Officer, ...] = ()
        self._stamp: tuple[int, int] | None = None
        self._loaded = False

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, timezone: ZoneInfo, ancestors: Ancestors | None = None
    ) -> FileDutyRoster:
        return cls(data_dir / DUTY_FILE, timezone, ancestors)

    def officers(self) -> tuple[Officer, ...]:
        path = self.path
        if path is not None and path.exists():
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            with self._lock:
                if stamp != self._stamp:
                    data = load_yaml(path.read_text(encoding="utf-8"))
                    self._officers = parse_officers(data, str(path))
                    self._stamp = stamp
                    self._loaded = True
                return self._officers
        with self._lock:
            if self._stamp is not None or not self._loaded:
                text = resources.files("anju.alarms").joinpath("data/duty.yaml").read_text(encoding="utf-8")
                self._officers = parse_officers(load_yaml(text), "anju/alarms/data/duty.yaml")
                self._stamp = None
                self._loaded = True
            return self._officers

    def on_duty(self, estate: str | None, level: int, at: datetime) -> list[Contact]:
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        local = at.astimezone(self.timezone)
        regions = {"*", *(self.ancestors(estate) if estate else ())}
        return [
            o.contact()
            for o in self.officers()
            if o.level == level and o.region in regions and o.on_duty_at(local)
        ]


def responsible(roster: DutyRoster, estate: str | None, level: int, at: datetime) -> list[Contact]:
    """The officers on duty at `level`, or at the nearest level above it that has someone: an alarm is
    never left with nobody to tell because one level has no one on shift."""
    for lvl in range(max(level, 0), max(LEVELS) + 1):
        found = roster.on_duty(estate, lvl, at)
        if found:
            return found
    return []
