"""Watchlists of plates and certificate numbers (seed 003 二（三）2 特定人员, 二（四）4 特定车辆), as blind indexes.

An entry holds the HMAC-SM3 blind index of the normalised value (`RecordProtector.search_key`, the same
kind names as the records' personal fields), so a record's plaintext plate or ID number is matched by
computing its blind index, and the watchlist itself never holds the value: staff see the masked form and
the label saying why it is watched. Adding, changing and removing entries is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, Row, Table, delete, insert, or_, select, update

from anju.alarms.rules import WATCH_KINDS, WatchHit
from anju.alarms.tables import SEVERITIES
from anju.db.engine import WRITE_OPTIONS
from anju.ingest.pipeline import ESTATE_CODE, Clock, utcnow
from anju.security.audit import AuditLog
from anju.security.masking import mask
from anju.security.personal import RecordProtector
from anju.standard.checks import CheckFailed
from anju.standard.checks.idnumber import check_id_number
from anju.standard.checks.plate import check_plate


class WatchlistRefused(ValueError):
    """A watchlist request that cannot be done; `code` says why, `field` what (never the plain value)."""

    def __init__(self, code: str, field: str, zh: str, en: str) -> None:
        super().__init__(f"{en} · {zh}")
        self.code, self.field, self.zh, self.en = code, field, zh, en


@dataclass(frozen=True, slots=True)
class WatchEntry:
    pk: int
    kind: str
    blind: str
    masked: str
    label: str
    severity: str
    estate: str | None
    added_by: str
    added_at: datetime
    expires_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> WatchEntry:
        m = row._mapping
        return cls(
            m["pk"],
            m["kind"],
            m["blind"],
            m["masked"],
            m["label"],
            m["severity"],
            m["estate"],
            m["added_by"],
            _aware(m["added_at"]),
            _aware(m["expires_at"]) if m["expires_at"] is not None else None,
        )

    def active(self, at: datetime) -> bool:
        return self.expires_at is None or self.expires_at > at

    def hit(self) -> WatchHit:
        return WatchHit(self.pk, self.kind, self.masked, self.label, self.severity)

    def to_json(self) -> dict[str, Any]:
        """For lists and the API: the masked value only, never the blind index."""
        return {
            "pk": self.pk,
            "kind": self.kind,
            "masked": self.masked,
            "label": self.label,
            "severity": self.severity,
            "estate": self.estate,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def normalise_value(kind: str, value: str, today: date) -> str:
    """The value as records carry it after validation, so that its blind index equals theirs."""
    if kind not in WATCH_KINDS:
        raise WatchlistRefused(
            "kind_unknown",
            "kind",
            f"kind={kind!r}：应为 {' 或 '.join(WATCH_KINDS)}",
            f"kind={kind!r}: expected {' or '.join(WATCH_KINDS)}",
        )
    text = value.strip() if isinstance(value, str) else ""
    try:
        if kind == "plate":
            return check_plate(text).number
        return check_id_number(text, today=today).number
    except CheckFailed as exc:
        # The finding's text, never the value: it is the personal datum being watched.
        raise WatchlistRefused(exc.code, "value", f"值无效：{exc.zh}", f"invalid value: {exc.en}") from None


class Watchlists:
    def __init__(
        self,
        engine: Engine,
        table: Table,
        protector: RecordProtector,
        audit: AuditLog | None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.table = table
        self.protector = protector
        self.audit = audit
        self.clock = clock
        # Bumped by every change made through this object, so that an engine sharing it reloads at once
        # rather than after its cache's time to live.
        self.version = 0

    # ---- reading ------------------------------------------------------------------------------------------
    def entries(
        self, *, kind: str | None = None, estate: str | None = None, include_expired: bool = False
    ) -> list[WatchEntry]:
        t = self.table
        query = select(t).order_by(t.c.pk)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if estate is not None:
            query = query.where(or_(t.c.estate == estate, t.c.estate.is_(None)))
        if not include_expired:
            now = _naive(self.clock())
            query = query.where(or_(t.c.expires_at.is_(None), t.c.expires_at > now))
        with self.engine.connect() as conn:
            return [WatchEntry.from_row(r) for r in conn.execute(query)]

    def find(self, kind: str, value: str) -> list[WatchEntry]:
        """Entries watching this plate or certificate number (by its blind index)."""
        blind = self.protector.search_key(kind, normalise_value(kind, value, self.clock().date()))
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.kind == kind, t.c.blind == blind).order_by(t.c.pk))
            return [WatchEntry.from_row(r) for r in rows]

    def index(self) -> dict[tuple[str, str], tuple[WatchEntry, ...]]:
        """Every unexpired entry by (kind, blind index): what the alarm engine caches."""
        by: dict[tuple[str, str], list[WatchEntry]] = {}
        for e in self.entries():
            by.setdefault((e.kind, e.blind), []).append(e)
        return {k: tuple(v) for k, v in by.items()}

    # ---- writing ------------------------------------------------------------------------------------------
    def add(
        self,
        kind: str,
        value: str,
        *,
        label: str,
        actor: str,
        severity: str = "major",
        estate: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[WatchEntry, str]:
        """Watch a plate or certificate number; (entry, "created" | "updated" | "unchanged").

        The same value watched again in the same scope updates that entry (label, severity, expiry)."""
        now = self.clock()
        normal = normalise_value(kind, value, now.date())
        label = label.strip() if isinstance(label, str) else ""
        if not label or len(label) > 200:
            raise WatchlistRefused(
                "label_invalid", "label", "label 应为 1-200 个字符", "label: expected 1-200 characters"
            )
        if severity not in SEVERITIES:
            raise WatchlistRefused(
                "severity_unknown",
                "severity",
                f"severity={severity!r}：应为 {', '.join(SEVERITIES)}",
                f"severity={severity!r}: expected one of {', '.join(SEVERITIES)}",
            )
        if estate is not None and not ESTATE_CODE.match(estate):
            raise WatchlistRefused(
                "estate_invalid",
                "estate",
                f"estate={estate!r}：应为 1-40 位字母、数字、_ 或 -",
                f"estate={estate!r}: expected 1-40 letters, digits, _ or -",
            )
        if expires_at is not None:
            expires_at = _aware(expires_at)
            if expires_at <= now:
                raise WatchlistRefused(
                    "expiry_past", "expires_at", "到期时间应在将来", "expires_at must be in the future"
                )
        blind = self.protector.search_key(kind, normal)
        masked = mask(kind, normal)
        t = self.table
        values: dict[str, Any] = {
            "label": label,
            "severity": severity,
            "expires_at": _naive(expires_at) if expires_at else None,
        }
        scope = t.c.estate.is_(None) if estate is None else t.c.estate == estate
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            row = conn.execute(select(t).where(t.c.kind == kind, t.c.blind == blind, scope)).first()
            if row is None:
                inserted = conn.execute(
                    insert(t).values(
                        kind=kind,
                        blind=blind,
                        masked=masked,
                        estate=estate,
                        added_by=actor,
                        added_at=_naive(now),
                        **values,
                    )
                ).inserted_primary_key
                assert inserted is not None
                pk = inserted[0]
                change = "created"
                action = "watchlist.add"
            else:
                pk = row.pk
                current = row._mapping
                changed = {k: v for k, v in values.items() if current[k] != v}
                if not changed:
                    return WatchEntry.from_row(row), "unchanged"
                conn.execute(update(t).where(t.c.pk == pk).values(**changed))
                change = "updated"
                action = "watchlist.update"
            if self.audit is not None:
                self.audit.append(
                    conn,
                    actor=actor,
                    action=action,
                    target=f"watchlist:{pk}",
                    # Masked value and label only: the audit log must not become a list of watched IDs.
                    detail=_detail(kind, masked, label, severity, estate, expires_at),
                )
            stored = conn.execute(select(t).where(t.c.pk == pk)).one()
        self.version += 1
        return WatchEntry.from_row(stored), change

    def remove(self, pk: int, *, actor: str) -> WatchEntry:
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            row = conn.execute(select(t).where(t.c.pk == pk)).first()
            if row is None:
                raise WatchlistRefused(
                    "entry_unknown", "pk", f"布控条目 {pk} 不存在", f"watchlist entry {pk} does not exist"
                )
            entry = WatchEntry.from_row(row)
            conn.execute(delete(t).where(t.c.pk == pk))
            if self.audit is not None:
                self.audit.append(
                    conn,
                    actor=actor,
                    action="watchlist.remove",
                    target=f"watchlist:{pk}",
                    detail=_detail(
                        entry.kind, entry.masked, entry.label, entry.severity, entry.estate, entry.expires_at
                    ),
                )
        self.version += 1
        return entry


def _detail(
    kind: str, masked: str, label: str, severity: str, estate: str | None, expires_at: datetime | None
) -> Mapping[str, Any]:
    return {
        "kind": kind,
        "masked": masked,
        "label": label,
        "severity": severity,
        "estate": estate,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
