"""The device registry: every device of every subsystem, where it is, and when it last reported.

Kinds, their subsystems and statuses are data (data/device_kinds.yaml). Registration and edits are
audited (`devices.register`, `devices.update`); the last-seen time is telemetry, kept up to date by a bus
subscriber from the device field of stored records and never audited (every swipe would be an entry).
A record naming a device that is not registered is left alone: registering devices is staff's act, and
a typo in a device number must not invent one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from anju.db.engine import WRITE_OPTIONS
from anju.ingest.bus import Bus, Event, Heartbeat
from anju.ingest.pipeline import ESTATE_CODE, Clock
from anju.registry import catalog
from anju.registry.store import naive_utc
from anju.security.audit import AuditLog
from anju.standard.spec import UnknownRecordType, record_type

_ID_MAX = 40
_LOOKUP_CHUNK = 500
# Editable columns and the longest text each holds (None: not text).
EDITABLE: dict[str, int | None] = {
    "estate": 40,
    "kind": 30,
    "name": 100,
    "model": 100,
    "vendor": 100,
    "location": 200,
    "building_id": 60,
    "lon": None,
    "lat": None,
    "installed_on": None,
    "status": 12,
}


class DeviceRefused(ValueError):
    """A device registration or edit that cannot be made; `code` says why, `field` and `value` what."""

    def __init__(self, code: str, field: str, value: object, zh: str, en: str) -> None:
        super().__init__(f"{en} · {zh}")
        self.code, self.field, self.value, self.zh, self.en = code, field, value, zh, en


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    estate: str
    subsystem: str
    kind: str
    name: str | None
    model: str | None
    vendor: str | None
    location: str | None
    building_id: str | None
    lon: float | None
    lat: float | None
    installed_on: date | None
    status: str
    last_seen_at: datetime | None
    last_record_type: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> Device:
        return cls(**dict(row._mapping))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, date | datetime):
                out[k] = v.isoformat()
        return out


def _refuse_choice(field: str, value: object, allowed: Mapping[str, Any], zh_what: str) -> DeviceRefused:
    choices = ", ".join(allowed)
    return DeviceRefused(
        f"{field}_unknown",
        field,
        value,
        f"{field}={value!r}：不是已知的{zh_what}，可选值：{choices}",
        f"{field}={value!r} is not a known device {field}; allowed values: {choices}",
    )


def _refuse(field: str, value: object, zh: str, en: str) -> DeviceRefused:
    return DeviceRefused(
        f"{field}_invalid", field, value, f"{field}={value!r}：{zh}", f"{field}={value!r}: {en}"
    )


def check_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated device values (those given), with the subsystem derived from the kind; None passes."""
    out: dict[str, Any] = {}
    for column, value in values.items():
        if column not in EDITABLE:
            raise DeviceRefused(
                "field_unknown",
                column,
                value,
                f"设备没有字段 {column!r}，可改字段：{', '.join(EDITABLE)}",
                f"devices have no field {column!r}; editable fields: {', '.join(EDITABLE)}",
            )
        if value is None:
            out[column] = None
            continue
        limit = EDITABLE[column]
        if limit is not None:
            if not isinstance(value, str) or not value.strip():
                raise _refuse(column, value, "应为非空文字", "expected non-empty text")
            value = value.strip()
            if len(value) > limit:
                raise _refuse(column, value, f"超过 {limit} 个字符", f"longer than {limit} characters")
        out[column] = value
    if out.get("estate") is not None and not ESTATE_CODE.match(out["estate"]):
        raise _refuse(
            "estate", out["estate"], "应为 1-40 位字母、数字、_ 或 -", "expected 1-40 letters, digits, _ or -"
        )
    if out.get("kind") is not None:
        kinds = catalog.device_kinds()
        if out["kind"] not in kinds:
            raise _refuse_choice("kind", out["kind"], kinds, "设备类型")
        out["subsystem"] = str(kinds[out["kind"]]["subsystem"])
    if out.get("status") is not None:
        statuses = catalog.device_statuses()
        if out["status"] not in statuses:
            raise _refuse_choice("status", out["status"], statuses, "设备状态")
    for column, bound in (("lon", 180.0), ("lat", 90.0)):
        value = out.get(column)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _refuse(column, value, "应为数字", "expected a number")
        if abs(value) > bound:
            raise _refuse(column, value, f"应在 ±{bound:g} 之间", f"expected a value within ±{bound:g}")
        out[column] = float(value)
    installed = out.get("installed_on")
    if installed is not None and (isinstance(installed, datetime) or not isinstance(installed, date)):
        raise _refuse("installed_on", installed, "应为日期", "expected a date")
    return out


def check_device_id(device_id: str) -> str:
    text = device_id.strip() if isinstance(device_id, str) else ""
    if not text or len(text) > _ID_MAX or not text.isprintable():
        raise _refuse(
            "id", device_id, f"应为 1-{_ID_MAX} 个可打印字符", f"expected 1-{_ID_MAX} printable characters"
        )
    return text


class DeviceRegistry:
    def __init__(self, engine: Engine, table: Table, audit: AuditLog, *, clock: Clock) -> None:
        self.engine = engine
        self.table = table
        self.audit = audit
        self.clock = clock

    def _now(self) -> datetime:
        now = self.clock()
        return naive_utc(now) or now

    # ---- reading ------------------------------------------------------------------------------------------
    def get(self, device_id: str) -> Device | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == device_id)).first()
        return None if row is None else Device.from_row(row)

    def list_estate(self, estate: str) -> list[Device]:
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.estate == estate).order_by(t.c.id)).all()
        return [Device.from_row(r) for r in rows]

    def list(
        self, estates: frozenset[str] | None, *, status: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[int, list[Device]]:
        """Devices of the given estates (None: every estate), by ID: (total, one page)."""
        t = self.table
        where: list[ColumnElement[bool]] = []
        if estates is not None:
            where.append(t.c.estate.in_(sorted(estates)))
        if status is not None:
            where.append(t.c.status == status)
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one())
            rows = conn.execute(select(t).where(*where).order_by(t.c.id).limit(limit).offset(offset)).all()
        return total, [Device.from_row(r) for r in rows]

    # ---- writing ------------------------------------------------------------------------------------------
    def register(
        self,
        device_id: str,
        *,
        estate: str,
        kind: str,
        actor: str,
        name: str | None = None,
        model: str | None = None,
        vendor: str | None = None,
        location: str | None = None,
        building_id: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
        installed_on: date | None = None,
        status: str | None = None,
    ) -> Literal["created", "updated", "unchanged"]:
        """Register a device, or update a registered one with the values given (None leaves a value).

        A new device's status is `active` unless given; re-registering does not reset a fault."""
        given = {
            "estate": estate,
            "kind": kind,
            "name": name,
            "model": model,
            "vendor": vendor,
            "location": location,
            "building_id": building_id,
            "lon": lon,
            "lat": lat,
            "installed_on": installed_on,
            "status": status,
        }
        device_id = check_device_id(device_id)
        values = check_values(given)
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            stored = conn.execute(select(t).where(t.c.id == device_id)).first()
            now = self._now()
            if stored is None:
                values["status"] = values.get("status") or "active"
                conn.execute(insert(t).values(id=device_id, **values, created_at=now, updated_at=now))
                self.audit.append(
                    conn,
                    actor=actor,
                    action="devices.register",
                    target=device_id,
                    detail={"estate": values["estate"], "kind": values["kind"], "status": values["status"]},
                )
                return "created"
            changed = self._apply(conn, device_id, stored, values, actor, now)
        return "updated" if changed else "unchanged"

    def update(self, device_id: str, changes: Mapping[str, Any], *, actor: str) -> Device:
        """Change some values of a registered device; a new kind brings its subsystem along."""
        values = check_values(changes)
        for required in ("estate", "kind", "status"):
            if required in values and values[required] is None:
                raise _refuse(required, None, "不能为空", "must not be empty")
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            stored = conn.execute(select(t).where(t.c.id == device_id)).first()
            if stored is None:
                raise DeviceRefused(
                    "device_unknown",
                    "id",
                    device_id,
                    f"设备 {device_id!r} 未登记",
                    f"device {device_id!r} is not registered",
                )
            self._apply(conn, device_id, stored, values, actor, self._now(), clear=True)
            row = conn.execute(select(t).where(t.c.id == device_id)).one()
        return Device.from_row(row)

    def set_status(self, device_id: str, status: str, *, actor: str) -> Device:
        return self.update(device_id, {"status": status}, actor=actor)

    def _apply(
        self,
        conn: Connection,
        device_id: str,
        stored: Row[Any],
        values: Mapping[str, Any],
        actor: str,
        now: datetime,
        *,
        clear: bool = False,
    ) -> bool:
        """Write the values that differ from the stored row; `clear` lets None erase a value."""
        current = stored._mapping
        changed = {k: v for k, v in values.items() if (v is not None or clear) and current[k] != v}
        if not changed:
            return False
        conn.execute(update(self.table).where(self.table.c.id == device_id).values(**changed, updated_at=now))
        self.audit.append(
            conn,
            actor=actor,
            action="devices.update",
            target=device_id,
            # Device values are not personal: the log may say what changed to what.
            detail={
                "changed": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in changed.items()}
            },
        )
        return True

    # ---- last seen ----------------------------------------------------------------------------------------
    def attach(self, bus: Bus) -> Callable[[], None]:
        return bus.subscribe(self.on_records)

    def on_records(self, event: Event) -> None:
        """Move `last_seen_at` of the registered devices these records (or this heartbeat) name forward,
        never backwards."""
        if isinstance(event, Heartbeat):
            self._seen({event.device_id: naive_utc(event.at) or event.at}, "heartbeat")
            return
        try:
            rtype = record_type(event.record_type)
        except UnknownRecordType:
            return
        if rtype.device_field is None or rtype.time_field is None:
            return
        latest: dict[str, datetime] = {}
        for rec in event.records:
            device, at = rec.get(rtype.device_field), rec.get(rtype.time_field)
            if (
                not isinstance(device, str)
                or not device
                or len(device) > _ID_MAX
                or not isinstance(at, datetime)
            ):
                continue
            at = naive_utc(at) or at
            if device not in latest or at > latest[device]:
                latest[device] = at
        self._seen(latest, rtype.slug)

    def _seen(self, latest: dict[str, datetime], what: str) -> None:
        if not latest:
            return
        t = self.table
        ids = sorted(latest)
        # A read first, so that records of unregistered devices never take the write lock.
        with self.engine.connect() as conn:
            known: list[str] = []
            for i in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[i : i + _LOOKUP_CHUNK]
                known.extend(conn.execute(select(t.c.id).where(t.c.id.in_(chunk))).scalars())
        if not known:
            return
        # One statement for all of them (executemany): a busy gateway's batch names hundreds of devices.
        stmt = (
            update(t)
            .where(
                t.c.id == bindparam("device"),
                or_(t.c.last_seen_at.is_(None), t.c.last_seen_at < bindparam("at")),
            )
            .values(last_seen_at=bindparam("at"), last_record_type=what)
        )
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            conn.execute(stmt, [{"device": d, "at": latest[d]} for d in sorted(known)])
