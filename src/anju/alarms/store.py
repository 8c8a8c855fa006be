"""The alarm store: raising and clearing from the engine's signals, the lifecycle people drive, escalation
and reminders of unacknowledged alarms, listing, and publication of every change to the `AlarmEvents` hub.

One open alarm per (originator, type) is kept by the database: `alarm.open_key` is unique while the alarm
is open and NULL once it is closed, and a signal is written with INSERT … ON CONFLICT (open_key) DO UPDATE,
so two writers racing on the same originator and type (two gateways, a re-sent message) meet in the same
row instead of creating two alarms (ThingsBoard's known fault, shared/reference/anchors.md).

Each write is one transaction: the alarm row (locked first: SELECT … FOR UPDATE on PostgreSQL, BEGIN
IMMEDIATE on SQLite), its history row in `alarm_event` and, for acts of people and the platform's own
decisions, the audit entry (appended last, as audit.py asks). Plain re-triggers only count: they are
telemetry, like a device's last-seen time, and write neither history nor audit entries — otherwise a smoke
sensor repeating every second would write 86,400 history rows a day. The hub hears of every change after
commit.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, ReturningInsert, Update

from anju.alarms.events import AlarmChange, AlarmEvents
from anju.alarms.model import ORIGINATOR_KINDS, AlarmSignal, severity_up
from anju.alarms.tables import SEVERITIES
from anju.db.database import Database
from anju.db.engine import WRITE_OPTIONS
from anju.security.audit import AuditDraft, AuditLog
from anju.yamlfiles import load_yaml

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
RaiseChange = Literal["created", "retriggered", "cleared", "ignored"]

# The records an alarm keeps as evidence: the first (what raised it) and the newest after it.
RECORDS_CAP = 50
TEXT_MAX = {"comment": 2000, "note": 500, "result": 500, "to": 80}
ESCALATION_BATCH = 500
STATUSES = ("active", "cleared")
OVERRIDE_NAME = "escalation.yaml"  # in $ANJU_DATA_DIR: replaces the shipped policy
# alarm_event.action of the store's own history rows (the table's comment lists the same).
EVENT_ACTIONS = (
    "raised",
    "retriggered",
    "acknowledged",
    "assigned",
    "dispatched",
    "commented",
    "cleared",
    "closed",
    "escalated",
    "reminded",
    "notified",
)


OWN_EVENTS_WINDOW = 100_000


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC from what the database returns (naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive(value: datetime) -> datetime:
    """Times are stored naive in UTC (SQLite keeps no offsets)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity)  # 0 = critical (highest)


def _higher(a: str, b: str) -> str:
    return a if _rank(a) <= _rank(b) else b


# ---- refusals -------------------------------------------------------------------------------------------
class AlarmRefused(ValueError):
    """A lifecycle request that cannot be carried out; `status` is the HTTP answer it deserves (409 for a
    transition the alarm's state forbids, 422 for a bad value), `field` and `value` say what was wrong."""

    def __init__(self, status: int, code: str, field: str, value: Any, zh: str, en: str) -> None:
        super().__init__(f"{en} · {zh}")
        self.status, self.code, self.field, self.value, self.zh, self.en = status, code, field, value, zh, en


class AlarmNotFound(LookupError):
    def __init__(self, alarm_id: int) -> None:
        super().__init__(f"no alarm {alarm_id} · 没有告警 {alarm_id}")
        self.alarm_id = alarm_id


def _state_refusal(alarm_id: int, code: str, zh: str, en: str) -> AlarmRefused:
    return AlarmRefused(409, code, "alarm_id", alarm_id, f"告警 {alarm_id} {zh}", f"alarm {alarm_id} {en}")


def _check_text(field: str, value: Any) -> str:
    limit = TEXT_MAX[field]
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit or "\x00" in text:
        shown = value[:80] if isinstance(value, str) else value
        raise AlarmRefused(
            422,
            f"{field}_invalid",
            field,
            shown,
            f"{field}={shown!r} 无效：应为 1-{limit} 个字符的文字",
            f"{field}={shown!r} is invalid: expected text of 1-{limit} characters",
        )
    return text


# ---- escalation policy ----------------------------------------------------------------------------------
class PolicyError(ValueError):
    """The escalation file is unusable; the message names the file, the key, the value and what is expected."""


@dataclass(frozen=True, slots=True)
class DutyLevel:
    level: int
    region_level: str  # estate | community | district: whose duty staff hear of the alarm at this level
    zh: str
    en: str

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "region_level": self.region_level, "zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class TypePolicy:
    escalate_after: Mapping[str, timedelta | None]  # by severity; None: never
    remind_every: Mapping[str, timedelta | None]
    sla_response: timedelta | None

    def first_due(self, severity: str) -> timedelta | None:
        """How long a new (or re-activated) unacknowledged alarm waits for its first escalation or reminder."""
        waits = [w for w in (self.escalate_after[severity], self.remind_every[severity]) if w is not None]
        return min(waits) if waits else None


def _minutes_map(source: str, where: str, raw: Any) -> dict[str, timedelta | None]:
    if not isinstance(raw, Mapping) or set(raw) != set(SEVERITIES):
        raise PolicyError(
            f"{source}: {where}={raw!r}: expected a mapping of every severity ({', '.join(SEVERITIES)}) "
            "to minutes or null"
        )
    out: dict[str, timedelta | None] = {}
    for severity, minutes in raw.items():
        out[severity] = _minutes(source, f"{where}.{severity}", minutes)
    return out


def _minutes(source: str, where: str, minutes: Any) -> timedelta | None:
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= 60 * 24 * 30:
        raise PolicyError(f"{source}: {where}={minutes!r}: expected minutes in (0, 43200] or null")
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class EscalationPolicy:
    duty_levels: tuple[DutyLevel, ...]
    default: TypePolicy
    types: Mapping[str, TypePolicy]

    @property
    def max_level(self) -> int:
        return len(self.duty_levels) - 1

    def for_type(self, alarm_type: str) -> TypePolicy:
        return self.types.get(alarm_type, self.default)

    def duty(self, level: int) -> DutyLevel:
        return self.duty_levels[min(max(level, 0), self.max_level)]

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> EscalationPolicy:
        """A deployment's `$ANJU_DATA_DIR/escalation.yaml` (the whole policy, same form) or the shipped one."""
        path = data_dir / OVERRIDE_NAME
        return cls.load(path) if path.is_file() else default_policy()

    @classmethod
    def load(cls, path: Path | None = None) -> EscalationPolicy:
        """The policy in `path`, or the package's alarms/data/escalation.yaml."""
        if path is None:
            source = "alarms/data/escalation.yaml"
            text = resources.files("anju.alarms").joinpath("data/escalation.yaml").read_text("utf-8")
        else:
            source = str(path)
            text = path.read_text("utf-8")
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"{source}: not valid YAML ({exc})") from None
        if not isinstance(data, Mapping):
            raise PolicyError(f"{source}: expected a mapping with duty_levels, default and types")
        levels_raw = data.get("duty_levels")
        if not isinstance(levels_raw, list) or not levels_raw:
            raise PolicyError(f"{source}: duty_levels={levels_raw!r}: expected a non-empty list")
        levels = []
        for i, item in enumerate(levels_raw):
            if not isinstance(item, Mapping) or not all(
                isinstance(item.get(k), str) and item.get(k) for k in ("region_level", "zh", "en")
            ):
                raise PolicyError(f"{source}: duty_levels[{i}]={item!r}: expected region_level, zh and en")
            levels.append(DutyLevel(i, str(item["region_level"]), str(item["zh"]), str(item["en"])))

        def type_policy(where: str, raw: Any, base: TypePolicy | None) -> TypePolicy:
            if not isinstance(raw, Mapping):
                raise PolicyError(f"{source}: {where}={raw!r}: expected a mapping")
            unknown = set(raw) - {"escalate_after_min", "remind_every_min", "sla_response_min"}
            if unknown:
                raise PolicyError(
                    f"{source}: {where}: unknown keys {sorted(unknown)}; expected escalate_after_min, "
                    "remind_every_min, sla_response_min"
                )
            if base is None:
                missing = {"escalate_after_min", "remind_every_min"} - set(raw)
                if missing:
                    raise PolicyError(f"{source}: {where}: missing {sorted(missing)}")
            return TypePolicy(
                _minutes_map(source, f"{where}.escalate_after_min", raw["escalate_after_min"])
                if "escalate_after_min" in raw or base is None
                else base.escalate_after,
                _minutes_map(source, f"{where}.remind_every_min", raw["remind_every_min"])
                if "remind_every_min" in raw or base is None
                else base.remind_every,
                _minutes(source, f"{where}.sla_response_min", raw.get("sla_response_min"))
                if "sla_response_min" in raw or base is None
                else base.sla_response,
            )

        default = type_policy("default", data.get("default"), None)
        types_raw = data.get("types") or {}
        if not isinstance(types_raw, Mapping):
            raise PolicyError(f"{source}: types={types_raw!r}: expected a mapping of alarm type to policy")
        types = {str(k): type_policy(f"types.{k}", v, default) for k, v in types_raw.items()}
        return cls(tuple(levels), default, types)


@cache
def default_policy() -> EscalationPolicy:
    return EscalationPolicy.load()


# ---- values ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RaiseResult:
    alarm_id: int | None  # None when a clearing signal found no open alarm
    change: RaiseChange


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    pk: int
    alarm_id: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    type: str
    rule: str | None
    severity: str
    originator_kind: str
    originator_id: str
    open_key: str | None
    estate: str | None
    title_zh: str
    title_en: str
    location: str | None
    lon: float | None
    lat: float | None
    details: dict[str, Any]
    records: list[str]
    cameras: list[dict[str, Any]]
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    cleared: bool
    cleared_at: datetime | None
    cleared_by: str | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    assigned_at: datetime | None
    assigned_by: str | None
    dispatched_at: datetime | None
    dispatched_by: str | None
    dispatch_note: str | None
    closed_at: datetime | None
    closed_by: str | None
    result: str | None
    escalation_level: int
    next_escalation_at: datetime | None
    reminders: int
    sla_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: tuple[AlarmEvent, ...] = ()

    @classmethod
    def from_row(cls, row: Row[Any], events: Sequence[AlarmEvent] = ()) -> Alarm:
        m = row._mapping
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "events":
                continue
            v = m[f.name]
            values[f.name] = _utc(v) if isinstance(v, datetime) else v
        values["cleared"] = bool(values["cleared"])
        values["acknowledged"] = bool(values["acknowledged"])
        values["details"] = dict(values["details"] or {})
        values["records"] = list(values["records"] or [])
        values["cameras"] = list(values["cameras"] or [])
        return cls(**values, events=tuple(events))

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def status(self) -> str:
        """closed, or while open: active / cleared (ThingsBoard's axis; acknowledged is the other)."""
        if self.closed_at is not None:
            return "closed"
        return "cleared" if self.cleared else "active"

    def sla(self, now: datetime | None = None) -> dict[str, Any] | None:
        """The response clock: due, when it was answered (acknowledged or dispatched), met or breached."""
        if self.sla_due_at is None:
            return None
        answered = [t for t in (self.acknowledged_at, self.dispatched_at) if t is not None]
        responded = min(answered) if answered else None
        out: dict[str, Any] = {
            "due_at": self.sla_due_at.isoformat(),
            "minutes": round((self.sla_due_at - self.first_seen_at).total_seconds() / 60, 2),
            "responded_at": _iso(responded),
            "met": None if responded is None else responded <= self.sla_due_at,
        }
        if responded is None and now is not None:
            remaining = (self.sla_due_at - now).total_seconds()
            out["remaining_s"] = round(remaining, 1)
            out["breached"] = remaining < 0
        else:
            out["remaining_s"] = None
            out["breached"] = responded is not None and responded > self.sla_due_at
        return out

    def to_json(self, now: datetime | None = None, duty: DutyLevel | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "rule": self.rule,
            "severity": self.severity,
            "status": self.status,
            "open": self.is_open,
            "acknowledged": self.acknowledged,
            "originator": {"kind": self.originator_kind, "id": self.originator_id},
            "estate": self.estate,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "location": self.location,
            "lon": self.lon,
            "lat": self.lat,
            "details": self.details,
            "records": self.records,
            "cameras": self.cameras,
            "count": self.count,
            "first_seen_at": _iso(self.first_seen_at),
            "last_seen_at": _iso(self.last_seen_at),
            "cleared_at": _iso(self.cleared_at),
            "cleared_by": self.cleared_by,
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "assigned_to": self.assigned_to,
            "assigned_at": _iso(self.assigned_at),
            "assigned_by": self.assigned_by,
            "dispatched_at": _iso(self.dispatched_at),
            "dispatched_by": self.dispatched_by,
            "dispatch_note": self.dispatch_note,
            "closed_at": _iso(self.closed_at),
            "closed_by": self.closed_by,
            "result": self.result,
            "escalation": {
                "level": self.escalation_level,
                "duty": duty.to_json() if duty is not None else None,
                "next_at": _iso(self.next_escalation_at),
                "reminders": self.reminders,
            },
            "sla": self.sla(now),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }
        if self.events:
            out["events"] = [e.to_json() for e in self.events]
        return out


@dataclass(frozen=True, slots=True)
class Escalation:
    """One due step of `escalate_due`: who must now hear of the alarm (`duty`)."""

    alarm_id: int
    action: Literal["escalated", "reminded"]
    type: str
    estate: str | None
    level: int
    duty: DutyLevel
    severity: str
    previous_severity: str
    reminders: int
    at: datetime
    next_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "action": self.action,
            "type": self.type,
            "estate": self.estate,
            "level": self.level,
            "duty": self.duty.to_json(),
            "severity": self.severity,
            "previous_severity": self.previous_severity,
            "reminders": self.reminders,
            "at": self.at.isoformat(),
            "next_at": _iso(self.next_at),
        }


def signal_sla(signal: AlarmSignal) -> timedelta | None:
    """The response promise a rule attached to its signal (`details.sla_minutes`: rules.yaml `levels[].sla`,
    e.g. 15 min for an elderly person living alone); it wins over the type's policy."""
    minutes = signal.details.get("sla_minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= 43_200:
        return None
    return timedelta(minutes=minutes)


def _rule_actor(signal: AlarmSignal) -> str:
    return f"rule:{signal.rule}"[:80]


# ---- the store ------------------------------------------------------------------------------------------
# A change to publish once its transaction has committed: alarm id, change, actor, when, history id, detail.
_Change = tuple[int, str, str, datetime, int | None, dict[str, Any]]
CamerasHook = Callable[[Connection, Sequence[AlarmSignal]], list[list[dict[str, Any]]]]
_UNREAD: Any = object()


@dataclass
class _Writes:
    """The history rows and audit entries of one batch of signals, written together just before commit
    (audit entries last, as audit.py asks); a change refers to its history row by position until then."""

    history: list[dict[str, Any]] = field(default_factory=list)
    audit: list[AuditDraft] = field(default_factory=list)

    def event(self, alarm_id: int, at: datetime, actor: str, action: str, detail: dict[str, Any]) -> int:
        self.history.append(
            {"alarm_id": alarm_id, "at": _naive(at), "actor": actor[:80], "action": action, "detail": detail}
        )
        return len(self.history) - 1


class AlarmStore:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        events: AlarmEvents | None = None,
        *,
        policy: EscalationPolicy | None = None,
    ) -> None:
        self.db = db
        self.engine = db.engine
        self.audit = audit
        self.clock = clock
        self.events = events if events is not None else AlarmEvents()
        self.policy = policy or default_policy()
        self.alarm: Table = db.table("alarm")
        self.event: Table = db.table("alarm_event")
        # Linkage's hook (set by whoever wires linkage): the nearest cameras of each new alarm of a batch of
        # signals, looked up inside the creating transaction so that the alarm is stored and published with
        # them. A failure is logged and the alarms raised without cameras: linkage must never cost an alarm.
        self.cameras_for: CamerasHook | None = None
        # History rows this process wrote (noted before commit): `relay_foreign` skips them, because the
        # store published them itself. Bounded: a row older than the window is long past any relay.
        self._own: deque[int] = deque(maxlen=OWN_EVENTS_WINDOW)
        self._own_set: set[int] = set()
        self._own_lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        now = self.clock()
        return now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            yield conn

    def _locked(self, conn: Connection, alarm_id: int) -> Row[Any]:
        row = conn.execute(select(self.alarm).where(self.alarm.c.id == alarm_id).with_for_update()).first()
        if row is None:
            raise AlarmNotFound(alarm_id)
        return row

    def _history(
        self, conn: Connection, alarm_id: int, at: datetime, actor: str, action: str, detail: dict[str, Any]
    ) -> int:
        pk = int(
            conn.execute(
                insert(self.event)
                .values(alarm_id=alarm_id, at=_naive(at), actor=actor[:80], action=action, detail=detail)
                .returning(self.event.c.pk)
            ).scalar_one()
        )
        with self._own_lock:
            if len(self._own) == self._own.maxlen:
                self._own_set.discard(self._own[0])
            self._own.append(pk)
            self._own_set.add(pk)
        return pk

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(self.event.c.pk), 0))).scalar_one())

    def relay_foreign(self, after: int, *, limit: int = 500) -> int:
        """Publish on this process's hub the changes other processes wrote after history row `after` (a
        gateway raising alarms while this process serves the live stream); returns the last row seen.

        Each process publishes its own changes after commit; another process's reach this one only
        through the database. Plain re-triggers write no history and are not relayed: the alarm they
        changed comes along with its next recorded change, as for a stream client that resumes."""
        last = after
        for change in self.changes_since(after, limit=limit):
            event_id = change.event_id or last
            last = max(last, event_id)
            with self._own_lock:
                own = event_id in self._own_set
            if not own:
                self.events.publish(change)
        return last

    def json(self, alarm: Alarm) -> dict[str, Any]:
        """The alarm as the API, the stream and the CLI show it: SLA clock at the store's now, duty level."""
        return alarm.to_json(self.now(), self.policy.duty(alarm.escalation_level))

    def _publish(
        self,
        alarm_id: int,
        change: str,
        actor: str,
        at: datetime,
        event_id: int | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._publish_many([(alarm_id, change, actor, at, event_id, detail or {})])

    def _publish_many(self, changes: Sequence[_Change]) -> None:
        """`_publish` for each change, in order, reading the alarms they concern with one query."""
        if not changes:
            return
        ids = sorted({c[0] for c in changes})
        alarms: dict[int, Alarm] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(self.alarm).where(self.alarm.c.id.in_(ids[start : start + 500]))
                alarms.update((int(r.id), Alarm.from_row(r)) for r in conn.execute(query))
        for alarm_id, change, actor, at, event_id, detail in changes:
            alarm = alarms.get(alarm_id)
            if alarm is None:  # pragma: no cover - alarms are never deleted
                continue
            self.events.publish(
                AlarmChange(
                    alarm.id, change, alarm.estate, at, actor, self.json(alarm), event_id, detail or {}
                )
            )

    # -- raising and clearing from the engine -------------------------------------------------------------
    def raise_signal(self, signal: AlarmSignal) -> RaiseResult:
        """Create the open alarm of (originator, type), count a re-trigger of it, or clear it.

        A re-trigger bumps `count` and `last_seen_at`, keeps the higher severity, merges the records
        (capped), refreshes the details, and re-activates a cleared alarm (unless the signal is older than
        the clearing). A clearing signal clears the open alarm but leaves it open until someone closes it;
        with nothing open to clear, or a clear older than the last trigger, it is `ignored`."""
        return self.raise_signals([signal])[0]

    def raise_signals(self, signals: Sequence[AlarmSignal]) -> list[RaiseResult]:
        """`raise_signal` for each signal, in one transaction; the changes are published after it commits.

        The engine hands over all the signals of one stored batch at once, so that a burst of records costs
        one transaction for its alarms rather than one each: the open alarms of all the batch's keys are
        read (and locked) with one statement, the new alarms' cameras looked up together, and the history
        rows and audit entries written with one statement each at the end. Rows are locked in open-key
        order (a stable sort keeps each key's signals in their order), so that two writers never wait on
        each other in a cycle."""
        order = sorted(range(len(signals)), key=lambda i: signals[i].open_key)
        done: dict[int, tuple[RaiseResult, _Change | None]] = {}
        with self._writing() as conn:
            now = self.now()
            unread = self._open_rows(conn, sorted({s.open_key for s in signals}))
            cameras = self._cameras_of_new(conn, signals, order, unread)
            writes = _Writes()
            for i in order:
                row = unread.pop(signals[i].open_key, _UNREAD)
                if row is _UNREAD:  # this batch changed the key's alarm already: read it as it is now
                    row = self._open_row(conn, signals[i].open_key)
                done[i] = self._raise_in(conn, signals[i], row, now, writes, cameras.get(i))
            event_ids = self._write(conn, writes)
        # Published in the order the signals were given (the rules' order), not the locking order.
        changes = [done[i][1] for i in range(len(signals))]
        self._publish_many(
            [
                (alarm_id, change, actor, at, None if slot is None else event_ids[slot], detail)
                for alarm_id, change, actor, at, slot, detail in (c for c in changes if c is not None)
            ]
        )
        return [done[i][0] for i in range(len(signals))]

    def _open_row(self, conn: Connection, open_key: str) -> Row[Any] | None:
        t = self.alarm
        return conn.execute(select(t).where(t.c.open_key == open_key).with_for_update()).first()

    def _open_rows(self, conn: Connection, keys: Sequence[str]) -> dict[str, Row[Any] | None]:
        """The open alarm (or None) of each key, read and locked in key order, a few hundred at a time."""
        t = self.alarm
        found: dict[str, Row[Any] | None] = dict.fromkeys(keys)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            query = select(t).where(t.c.open_key.in_(part)).order_by(t.c.open_key).with_for_update()
            for row in conn.execute(query):
                found[row.open_key] = row
        return found

    def _cameras_of_new(
        self,
        conn: Connection,
        signals: Sequence[AlarmSignal],
        order: Sequence[int],
        unread: Mapping[str, Row[Any] | None],
    ) -> dict[int, list[dict[str, Any]]]:
        """Cameras for each signal that will create an alarm (the first raising signal of a key with no
        open alarm), by signal position; looked up together, under one savepoint."""
        if self.cameras_for is None:
            return {}
        creating: list[int] = []
        seen: set[str] = set()
        for i in order:
            s = signals[i]
            if s.clear or s.open_key in seen or unread.get(s.open_key) is not None:
                continue
            seen.add(s.open_key)
            creating.append(i)
        if not creating:
            return {}
        try:
            with conn.begin_nested():  # a savepoint: a failed look-up must not abort the alarms' transaction
                found = self.cameras_for(conn, [signals[i] for i in creating])
        except Exception:
            log.exception("linkage failed for %d new alarms; raised without cameras", len(creating))
            return {}
        return dict(zip(creating, found, strict=True))

    def _write(self, conn: Connection, writes: _Writes) -> list[int]:
        """The batch's history rows (their keys, in order) and then its audit entries."""
        event_ids: list[int] = []
        if writes.history:
            stmt = insert(self.event).returning(self.event.c.pk, sort_by_parameter_order=True)
            event_ids = [int(pk) for pk in conn.execute(stmt, writes.history).scalars()]
            with self._own_lock:
                for pk in event_ids:
                    if len(self._own) == self._own.maxlen:
                        self._own_set.discard(self._own[0])
                    self._own.append(pk)
                    self._own_set.add(pk)
        self.audit.append_many(conn, writes.audit)
        return event_ids

    def _raise_in(
        self,
        conn: Connection,
        signal: AlarmSignal,
        row: Row[Any] | None,
        now: datetime,
        writes: _Writes,
        cameras: list[dict[str, Any]] | None,
    ) -> tuple[RaiseResult, _Change | None]:
        """One signal inside the caller's transaction, given the open alarm of its key (locked): its result,
        and the change to publish (if any; its event is a position in `writes.history`)."""
        t = self.alarm
        actor = _rule_actor(signal)
        seen = _naive(signal.at)
        slot: int | None
        if signal.clear:
            if row is None or row.cleared or seen < row.last_seen_at:
                return RaiseResult(None if row is None else int(row.id), "ignored"), None
            conn.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(
                    cleared=True,
                    cleared_at=seen,
                    cleared_by=actor,
                    next_escalation_at=None,
                    updated_at=_naive(now),
                )
            )
            detail = {"rule": signal.rule}
            slot = writes.event(row.id, now, actor, "cleared", detail)
            writes.audit.append(AuditDraft(actor, "alarms.clear", f"alarm:{row.id}"))
            alarm_id, publish_detail = int(row.id), detail
            change: RaiseChange = "cleared"
        else:
            inserted = False
            if row is None:
                row, inserted = self._insert(conn, signal, now, cameras or [])
            if inserted:
                alarm_id, change = int(row.id), "created"
                publish_detail = {"rule": signal.rule, "severity": signal.severity}
                slot = writes.event(alarm_id, now, actor, "raised", publish_detail)
                writes.audit.append(
                    AuditDraft(
                        actor,
                        "alarms.raise",
                        f"alarm:{alarm_id}",
                        {
                            "type": signal.type,
                            "severity": signal.severity,
                            "originator_kind": signal.originator_kind,
                            "estate": signal.estate,
                        },
                    )
                )
            else:
                alarm_id, change = int(row.id), "retriggered"
                slot, publish_detail = self._retrigger(conn, row, signal, now, actor, writes)
        return RaiseResult(alarm_id, change), (alarm_id, change, actor, now, slot, publish_detail)

    def _insert(
        self, conn: Connection, signal: AlarmSignal, now: datetime, cameras: list[dict[str, Any]]
    ) -> tuple[Row[Any], bool]:
        """INSERT … ON CONFLICT (open_key) DO UPDATE: (the row, whether this call created it).

        The conflict branch only touches `updated_at`: it is there to take the row lock and return the
        row a concurrent writer created in the meantime, which the caller then counts as a re-trigger."""
        policy = self.policy.for_type(signal.type)
        first_due = policy.first_due(signal.severity)
        sla = signal_sla(signal) or policy.sla_response
        values = {
            "type": signal.type,
            "rule": signal.rule,
            "severity": signal.severity,
            "originator_kind": signal.originator_kind,
            "originator_id": signal.originator_id,
            "open_key": signal.open_key,
            "estate": signal.estate,
            "title_zh": signal.title_zh[:200],
            "title_en": signal.title_en[:200],
            "location": signal.location[:300] if signal.location else None,
            "lon": signal.lon,
            "lat": signal.lat,
            "details": dict(signal.details),
            "records": list(dict.fromkeys(signal.records))[:RECORDS_CAP],
            "cameras": cameras,
            "count": 1,
            "first_seen_at": _naive(signal.at),
            "last_seen_at": _naive(signal.at),
            "cleared": False,
            "acknowledged": False,
            "escalation_level": 0,
            # Minutes unacknowledged count from when the platform knew of it; the SLA from the event itself.
            "next_escalation_at": _naive(now + first_due) if first_due is not None else None,
            "reminders": 0,
            "sla_due_at": _naive(signal.at + sla) if sla is not None else None,
            "created_at": _naive(now),
            "updated_at": _naive(now),
        }
        row = conn.execute(self._upsert, values).one()
        if conn.dialect.name == "postgresql":
            return row, bool(row.inserted)
        # SQLite: BEGIN IMMEDIATE holds the write lock since before the look-up that found no open alarm,
        # so no other writer can have created it since: this insert created the row.
        return row, True

    # Built once: a statement built per alarm costs more in SQLAlchemy than the insert does in the database.
    @cached_property
    def _upsert(self) -> ReturningInsert[Any]:
        """INSERT … ON CONFLICT (open_key) DO UPDATE SET updated_at RETURNING the row; both dialects spell
        it alike, only the insert construct differs, and PostgreSQL also says whether it inserted."""
        t = self.alarm
        postgres = self.engine.dialect.name == "postgresql"
        ins: Any = (postgresql.insert if postgres else sqlite.insert)(t)
        upsert: Insert = ins.on_conflict_do_update(
            index_elements=[t.c.open_key], set_={"updated_at": ins.excluded.updated_at}
        )
        if postgres:
            return upsert.returning(*t.c, literal_column("(xmax = 0)").label("inserted"))
        return upsert.returning(*t.c)

    @cached_property
    def _update_by_id(self) -> Update:
        """UPDATE alarm SET <the columns given> WHERE id = :alarm_pk."""
        return update(self.alarm).where(self.alarm.c.id == bindparam("alarm_pk"))

    def _retrigger(
        self, conn: Connection, row: Row[Any], signal: AlarmSignal, now: datetime, actor: str, writes: _Writes
    ) -> tuple[int | None, dict[str, Any]]:
        seen = _naive(signal.at)
        severity = _higher(row.severity, signal.severity)
        records = list(dict.fromkeys([*(row.records or []), *signal.records]))
        if len(records) > RECORDS_CAP:
            records = records[:1] + records[-(RECORDS_CAP - 1) :]
        values: dict[str, Any] = {
            "alarm_pk": row.id,
            "count": row._mapping["count"] + 1,  # the row is locked: nobody else counts it meanwhile
            "last_seen_at": max(row.last_seen_at, seen),
            "first_seen_at": min(row.first_seen_at, seen),
            "severity": severity,
            "records": records,
            "details": {**(row.details or {}), **signal.details},
            "updated_at": _naive(now),
        }
        if row.lon is None and signal.lon is not None:
            values.update(lon=signal.lon, lat=signal.lat)
        sla = signal_sla(signal)
        if row.sla_due_at is None and sla is not None:  # e.g. the caller turned out to be elderly, alone
            values["sla_due_at"] = min(row.first_seen_at, seen) + sla
        detail: dict[str, Any] = {}
        # A late trigger from before the clearing does not undo it; a newer one re-activates the alarm.
        if row.cleared and (row.cleared_at is None or seen > row.cleared_at):
            values.update(cleared=False, cleared_at=None, cleared_by=None)
            detail["reactivated"] = True
            if not row.acknowledged:
                first_due = self.policy.for_type(row.type).first_due(severity)
                values["next_escalation_at"] = _naive(now + first_due) if first_due is not None else None
        if severity != row.severity:
            detail["severity"] = [row.severity, severity]
        conn.execute(self._update_by_id, values)
        if not detail:
            return None, {}
        detail["rule"] = signal.rule
        return writes.event(row.id, now, actor, "retriggered", detail), detail

    # -- lifecycle ----------------------------------------------------------------------------------------
    def _transition(
        self,
        alarm_id: int,
        actor: str,
        action: str,
        change: Callable[[Row[Any], datetime], dict[str, Any]],
        detail: dict[str, Any],
        audit_detail: dict[str, Any] | None = None,
    ) -> Alarm:
        """Lock the alarm, let `change` refuse or return the new values, write them, the history row and
        the audit entry in one transaction; publish after commit."""
        with self._writing() as conn:
            row = self._locked(conn, alarm_id)
            now = self.now()
            values = change(row, now)
            conn.execute(update(self.alarm).where(self.alarm.c.id == alarm_id).values(**values))
            event_id = self._history(conn, alarm_id, now, actor, action, detail)
            self.audit.append(
                conn,
                actor=actor,
                action=f"alarms.{_AUDIT_ACTION[action]}",
                target=f"alarm:{alarm_id}",
                detail=audit_detail if audit_detail is not None else detail,
            )
        self._publish(alarm_id, action, actor, now, event_id, detail)
        alarm = self.get(alarm_id)
        assert alarm is not None
        return alarm

    @staticmethod
    def _refuse_closed(row: Row[Any]) -> None:
        if row.closed_at is not None:
            raise _state_refusal(
                row.id, "alarm_closed", "已关闭，不能再处理", "is closed; it cannot be changed"
            )

    def acknowledge(self, alarm_id: int, *, actor: str) -> Alarm:
        """Someone has seen it: escalation and reminders stop."""

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            self._refuse_closed(row)
            if row.acknowledged:
                raise _state_refusal(
                    alarm_id,
                    "already_acknowledged",
                    f"已由 {row.acknowledged_by} 确认",
                    f"was already acknowledged by {row.acknowledged_by}",
                )
            return _ack_values(actor, now)

        return self._transition(alarm_id, actor, "acknowledged", change, {})

    def assign(self, alarm_id: int, to: str, *, actor: str) -> Alarm:
        """Make someone responsible (a username; the API checks that the user exists)."""
        to = _check_text("to", to)

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            self._refuse_closed(row)
            if row.assigned_to == to:
                raise _state_refusal(
                    alarm_id, "already_assigned", f"已指派给 {to}", f"is already assigned to {to}"
                )
            return {
                "assigned_to": to,
                "assigned_at": _naive(now),
                "assigned_by": actor,
                "updated_at": _naive(now),
            }

        return self._transition(alarm_id, actor, "assigned", change, {"to": to})

    def dispatch(self, alarm_id: int, note: str, *, actor: str) -> Alarm:
        """Send people (or record that they were sent). Dispatching an unacknowledged alarm acknowledges it:
        whoever dispatches has evidently seen it. A second dispatch (another team) replaces the note."""
        note = _check_text("note", note)

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            self._refuse_closed(row)
            values = {
                "dispatched_at": _naive(now),
                "dispatched_by": actor,
                "dispatch_note": note,
                "updated_at": _naive(now),
            }
            if not row.acknowledged:
                values.update(_ack_values(actor, now))
            return values

        return self._transition(
            alarm_id, actor, "dispatched", change, {"note": note}, audit_detail={"note_chars": len(note)}
        )

    def comment(self, alarm_id: int, text: str, *, actor: str) -> Alarm:
        """A note in the alarm's history; allowed after closing too (follow-up findings)."""
        text = _check_text("comment", text)

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            return {"updated_at": _naive(now)}

        # Free text may name people: the audit log (readable by every auditor, for good) gets its length.
        return self._transition(
            alarm_id, actor, "commented", change, {"text": text}, audit_detail={"chars": len(text)}
        )

    def clear(self, alarm_id: int, *, actor: str) -> Alarm:
        """A person says the condition is over (a rule's clearing signal does the same through raise_signal)."""

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            self._refuse_closed(row)
            if row.cleared:
                raise _state_refusal(
                    alarm_id,
                    "already_cleared",
                    f"已由 {row.cleared_by} 清除",
                    f"was already cleared by {row.cleared_by}",
                )
            return {
                "cleared": True,
                "cleared_at": _naive(now),
                "cleared_by": actor,
                "next_escalation_at": None,
                "updated_at": _naive(now),
            }

        return self._transition(alarm_id, actor, "cleared", change, {})

    def close(self, alarm_id: int, result: str, *, actor: str) -> Alarm:
        """End the alarm with its result. `open_key` goes NULL, so a new alarm of the same originator and
        type may open; escalation stops."""
        result = _check_text("result", result)

        def change(row: Row[Any], now: datetime) -> dict[str, Any]:
            self._refuse_closed(row)
            return {
                "open_key": None,
                "closed_at": _naive(now),
                "closed_by": actor,
                "result": result,
                "next_escalation_at": None,
                "updated_at": _naive(now),
            }

        return self._transition(
            alarm_id, actor, "closed", change, {"result": result}, audit_detail={"result_chars": len(result)}
        )

    # -- for linkage and the notifier ---------------------------------------------------------------------
    def set_cameras(self, alarm_id: int, cameras: Sequence[Mapping[str, Any]], *, actor: str) -> Alarm:
        """Linkage's nearest cameras ([{id, name, distance_m}]); published as change `linked`, no history row
        (the cameras are derived data, recomputable at any time)."""
        with self._writing() as conn:
            self._locked(conn, alarm_id)
            now = self.now()
            conn.execute(
                update(self.alarm)
                .where(self.alarm.c.id == alarm_id)
                .values(cameras=[dict(c) for c in cameras], updated_at=_naive(now))
            )
        self._publish(alarm_id, "linked", actor, now, None, {"cameras": len(cameras)})
        alarm = self.get(alarm_id)
        assert alarm is not None
        return alarm

    def record_notified(self, alarm_id: int, *, actor: str, detail: Mapping[str, Any]) -> int:
        """A `notified` history row (who was told, through which channel: masked targets only); published
        as change `notified`. Returns the history row's ID."""
        with self._writing() as conn:
            self._locked(conn, alarm_id)
            now = self.now()
            event_id = self._history(conn, alarm_id, now, actor, "notified", dict(detail))
        self._publish(alarm_id, "notified", actor, now, event_id, dict(detail))
        return event_id

    # -- escalation ---------------------------------------------------------------------------------------
    def escalate_due(self, now: datetime | None = None) -> list[Escalation]:
        """One step for every open, active, unacknowledged alarm whose `next_escalation_at` has come:
        escalate it (duty level + 1, severity up one) once it has waited its level's time, otherwise remind
        the current level (reminders + 1). Each alarm in its own transaction, re-checked under its lock, so
        an acknowledgement that lands meanwhile wins. Run it every minute (`anju alarms escalate`)."""
        now = self.now() if now is None else (now.replace(tzinfo=UTC) if now.tzinfo is None else now)
        t = self.alarm
        with self.engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(t.c.id)
                    .where(
                        t.c.closed_at.is_(None),
                        t.c.acknowledged.is_(False),
                        t.c.cleared.is_(False),
                        t.c.next_escalation_at <= _naive(now),
                    )
                    .order_by(t.c.next_escalation_at, t.c.id)
                    .limit(ESCALATION_BATCH)
                ).scalars()
            )
        out = []
        for alarm_id in ids:
            step = self._escalate_one(int(alarm_id), now)
            if step is not None:
                out.append(step)
        return out

    def _level_since(self, conn: Connection, row: Row[Any]) -> datetime:
        """When the alarm reached its current duty level: raised, escalated or re-activated after a clear."""
        e = self.event
        for at, action, detail in conn.execute(
            select(e.c.at, e.c.action, e.c.detail)
            .where(e.c.alarm_id == row.id, e.c.action.in_(("raised", "escalated", "retriggered")))
            .order_by(e.c.pk.desc())
            .limit(50)
        ):
            if action != "retriggered" or (detail or {}).get("reactivated"):
                return _utc(at) or at
        return _utc(row.created_at) or row.created_at

    def _escalate_one(self, alarm_id: int, now: datetime) -> Escalation | None:
        actor = "system:escalation"
        with self._writing() as conn:
            row = self._locked(conn, alarm_id)
            due = _utc(row.next_escalation_at)
            if row.closed_at is not None or row.acknowledged or row.cleared or due is None or due > now:
                return None
            policy = self.policy.for_type(row.type)
            severity, level, reminders = row.severity, int(row.escalation_level), int(row.reminders)
            wait = policy.escalate_after[severity]
            escalate_at = (
                self._level_since(conn, row) + wait
                if wait is not None and level < self.policy.max_level
                else None
            )
            action: Literal["escalated", "reminded"]
            if escalate_at is not None and now >= escalate_at:
                action, level, severity = "escalated", level + 1, severity_up(row.severity)
                waits = [policy.remind_every[severity]]
                if level < self.policy.max_level:
                    waits.append(policy.escalate_after[severity])
                nexts = [now + w for w in waits if w is not None]
            else:
                action, reminders = "reminded", reminders + 1
                every = policy.remind_every[severity]
                nexts = [now + every] if every is not None else []
                if escalate_at is not None:
                    nexts.append(escalate_at)
            next_at = min(nexts) if nexts else None
            conn.execute(
                update(self.alarm)
                .where(self.alarm.c.id == alarm_id)
                .values(
                    severity=severity,
                    escalation_level=level,
                    reminders=reminders,
                    next_escalation_at=_naive(next_at) if next_at is not None else None,
                    updated_at=_naive(now),
                )
            )
            duty = self.policy.duty(level)
            detail: dict[str, Any] = {"level": level, "duty": duty.to_json(), "reminders": reminders}
            if action == "escalated":
                detail["severity"] = [row.severity, severity]
            event_id = self._history(conn, alarm_id, now, actor, action, detail)
            if action == "escalated":
                # A decision of the platform that changes the alarm; reminders are only history rows.
                self.audit.append(
                    conn,
                    actor=actor,
                    action="alarms.escalate",
                    target=f"alarm:{alarm_id}",
                    detail={"level": level, "severity": severity},
                )
        self._publish(alarm_id, action, actor, now, event_id, detail)
        return Escalation(
            alarm_id,
            action,
            row.type,
            row.estate,
            level,
            duty,
            severity,
            row.severity,
            reminders,
            now,
            next_at,
        )

    # -- reading ------------------------------------------------------------------------------------------
    def get(self, alarm_id: int, *, events: bool = False) -> Alarm | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.alarm).where(self.alarm.c.id == alarm_id)).first()
            if row is None:
                return None
            history = self._events(conn, alarm_id) if events else []
        return Alarm.from_row(row, history)

    def _events(self, conn: Connection, alarm_id: int) -> list[AlarmEvent]:
        e = self.event
        rows = conn.execute(select(e).where(e.c.alarm_id == alarm_id).order_by(e.c.pk)).all()
        return [
            AlarmEvent(
                int(r.pk), int(r.alarm_id), _utc(r.at) or r.at, r.actor, r.action, dict(r.detail or {})
            )
            for r in rows
        ]

    def changes_since(
        self, event_id: int, estates: frozenset[str] | None = None, *, limit: int = 500
    ) -> list[AlarmChange]:
        """History rows after `event_id` as changes (with each alarm as it is now): what a stream client
        that reconnects with Last-Event-ID missed. Plain re-triggers wrote no history and are not replayed;
        the alarm they changed comes along with its next recorded change."""
        e, t = self.event, self.alarm
        where: list[ColumnElement[bool]] = [e.c.pk > event_id]
        if estates is not None:
            where.append(t.c.estate.in_(sorted(estates)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e.c.pk, e.c.at, e.c.actor, e.c.action, e.c.detail, t)
                .join(t, t.c.id == e.c.alarm_id)
                .where(*where)
                .order_by(e.c.pk)
                .limit(limit)
            ).all()
        out = []
        for r in rows:
            alarm = Alarm.from_row(r)
            change = "created" if r.action == "raised" else r.action
            out.append(
                AlarmChange(
                    alarm.id,
                    change,
                    alarm.estate,
                    _utc(r.at) or r.at,
                    r.actor,
                    self.json(alarm),
                    int(r.pk),
                    dict(r.detail or {}),
                )
            )
        return out

    def open_count(self, estates: frozenset[str] | None = None) -> dict[str, int]:
        """Open alarms by severity (a dashboard's badge)."""
        t = self.alarm
        where: list[ColumnElement[bool]] = [t.c.closed_at.is_(None)]
        if estates is not None:
            where.append(t.c.estate.in_(sorted(estates)))
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.severity, func.count()).where(*where).group_by(t.c.severity)).all()
        counts = dict.fromkeys(SEVERITIES, 0)
        counts.update({str(s): int(n) for s, n in rows})
        return counts

    def list(
        self,
        estates: frozenset[str] | None = None,
        *,
        is_open: bool | None = None,
        status: str | None = None,
        acknowledged: bool | None = None,
        severities: Sequence[str] | None = None,
        type: str | None = None,
        since: datetime | None = None,
        originator: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[int, list[Alarm]]:
        """Alarms of `estates` (None: all; an alarm without an estate only then), newest activity first:
        (total, one page). `status` active/cleared, `since` on the last time it was seen, `originator`
        "<kind>:<id>" or an ID of any kind."""
        t = self.alarm
        where: list[ColumnElement[bool]] = []
        if estates is not None:
            where.append(t.c.estate.in_(sorted(estates)))
        if is_open is not None:
            where.append(t.c.closed_at.is_(None) if is_open else t.c.closed_at.is_not(None))
        if status is not None:
            if status not in STATUSES:
                raise AlarmRefused(
                    422,
                    "status_unknown",
                    "status",
                    status,
                    f"status={status!r} 无效，应为 active 或 cleared",
                    f"status={status!r} is not a status; expected active or cleared",
                )
            where.append(t.c.cleared.is_(status == "cleared"))
        if acknowledged is not None:
            where.append(t.c.acknowledged.is_(acknowledged))
        if severities:
            unknown = [s for s in severities if s not in SEVERITIES]
            if unknown:
                raise AlarmRefused(
                    422,
                    "severity_unknown",
                    "severity",
                    unknown[0],
                    f"severity={unknown[0]!r} 无效，应为 {' | '.join(SEVERITIES)}",
                    f"severity={unknown[0]!r} is not a severity; expected {' | '.join(SEVERITIES)}",
                )
            where.append(t.c.severity.in_(list(severities)))
        if type is not None:
            where.append(t.c.type == type)
        if since is not None:
            where.append(t.c.last_seen_at >= _naive(since))
        if originator is not None:
            kind, sep, ident = originator.partition(":")
            if sep and kind in ORIGINATOR_KINDS:
                where.extend([t.c.originator_kind == kind, t.c.originator_id == ident])
            else:
                where.append(t.c.originator_id == originator)
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one())
            rows = conn.execute(
                select(t)
                .where(*where)
                .order_by(t.c.last_seen_at.desc(), t.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return total, [Alarm.from_row(r) for r in rows]


# History action → audit action (the audit log names acts in the present tense, like "devices.register").
_AUDIT_ACTION = {
    "acknowledged": "acknowledge",
    "assigned": "assign",
    "dispatched": "dispatch",
    "commented": "comment",
    "cleared": "clear",
    "closed": "close",
}


def _ack_values(actor: str, now: datetime) -> dict[str, Any]:
    return {
        "acknowledged": True,
        "acknowledged_at": _naive(now),
        "acknowledged_by": actor,
        "next_escalation_at": None,
        "updated_at": _naive(now),
    }
