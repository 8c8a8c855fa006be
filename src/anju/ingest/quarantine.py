"""The quarantine: every record that failed validation or conflicted, kept raw with every finding.

Nothing is deleted from it. A replay validates the raw payloads again with the current dictionaries;
entries that now pass are stored and marked released, the rest keep their (updated) findings.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select

from anju.ingest.decode import decode_line
from anju.ingest.items import Item, raw_bytes
from anju.ingest.pipeline import PIPELINE_REASONS, Pipeline
from anju.ingest.result import BatchResult

_REPLAY_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    record_type: str
    record_id: str | None
    reason: str
    status: str
    source: str
    source_detail: str | None
    estate: str | None
    errors: list[dict[str, Any]]
    received_at: datetime
    last_seen_at: datetime
    seen_count: int
    attempts: int
    released_at: datetime | None
    raw: str | None = None
    raw_encoding: str | None = None

    def to_dict(self, *, with_raw: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "reason": self.reason,
            "status": self.status,
            "source": self.source,
            "source_detail": self.source_detail,
            "estate": self.estate,
            "errors": self.errors,
            "received_at": self.received_at.isoformat() + "Z",
            "last_seen_at": self.last_seen_at.isoformat() + "Z",
            "seen_count": self.seen_count,
            "attempts": self.attempts,
            "released_at": self.released_at.isoformat() + "Z" if self.released_at else None,
        }
        if with_raw:
            d["raw"] = self.raw
            d["raw_encoding"] = self.raw_encoding
        return d


def _entry(row: Row[Any], opener: Callable[[str, str], str] | None) -> Entry:
    """An entry; with `opener` (the protector's open_raw) its raw payload is decrypted."""
    m = row._mapping
    return Entry(
        id=m["pk"],
        record_type=m["record_type"],
        record_id=m["record_id"],
        reason=m["reason"],
        status=m["status"],
        source=m["source"],
        source_detail=m["source_detail"],
        estate=m["estate"],
        errors=m["errors"],
        received_at=m["received_at"],
        last_seen_at=m["last_seen_at"],
        seen_count=m["seen_count"],
        attempts=m["attempts"],
        released_at=m["released_at"],
        raw=opener(m["raw"], m["raw_hash"]) if opener else None,
        raw_encoding=m["raw_encoding"] if opener else None,
    )


class Quarantine:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.db = pipeline.db
        self.table = self.db.table("quarantine")

    def list(
        self,
        *,
        status: str | None = "open",
        record_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
        estates: frozenset[str] | set[str] | None = None,
    ) -> tuple[int, builtins.list[Entry]]:
        """Entries in arrival order; `estates` (None: all) limits them to a caller's scope."""
        q = self.table
        cond: builtins.list[ColumnElement[bool]] = []
        if estates is not None:
            cond.append(q.c.estate.in_(sorted(estates)))
        if status:
            cond.append(q.c.status == status)
        if record_type:
            cond.append(q.c.record_type == record_type)
        with self.db.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(q).where(*cond)).scalar_one()
            rows = conn.execute(
                select(q).where(*cond).order_by(q.c.pk).limit(limit).offset(offset)
            ).fetchall()
        return int(total), [_entry(r, None) for r in rows]

    def estates_of(self, ids: builtins.list[int]) -> dict[int, str | None]:
        """The estate of each existing entry among `ids`."""
        q = self.table
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(q.c.pk, q.c.estate).where(q.c.pk.in_(ids))).all()
        return {int(r.pk): r.estate for r in rows}

    def get(self, entry_id: int) -> Entry | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.pk == entry_id)).first()
        return _entry(row, self.pipeline.protector.open_raw) if row is not None else None

    def replay(
        self,
        ids: builtins.list[int] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        estates: frozenset[str] | set[str] | None = None,
        actor: str = "system",
    ) -> BatchResult:
        """Replay the given open entries, or every open entry when `ids` is None; `estates` (None: all)
        limits them to a caller's scope.

        Records a source refused (an MQTT message from an unregistered device, say: `Pipeline.refuse`) are
        left alone: validating them again would store them past the check that refused them."""
        self.pipeline.reload_dictionaries()
        q = self.table
        total = BatchResult("*")
        last = 0
        while True:
            cond = [q.c.status == "open", q.c.pk > last, q.c.reason.in_(PIPELINE_REASONS)]
            if ids is not None:
                cond.append(q.c.pk.in_(ids))
            if estates is not None:
                cond.append(q.c.estate.in_(sorted(estates)))
            with self.db.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        q.c.pk,
                        q.c.record_type,
                        q.c.source,
                        q.c.estate,
                        q.c.raw,
                        q.c.raw_encoding,
                        q.c.raw_hash,
                    )
                    .where(*cond)
                    .order_by(q.c.pk)
                    .limit(_REPLAY_CHUNK)
                ).fetchall()
            if not rows:
                return total
            last = rows[-1].pk
            groups: dict[tuple[str, str, str | None], builtins.list[tuple[int, Item]]] = defaultdict(list)
            for r in rows:
                raw = self.pipeline.protector.open_raw(r.raw, r.raw_hash)
                item = decode_line(r.pk, raw_bytes(raw, r.raw_encoding))
                groups[(r.record_type, r.source, r.estate)].append((r.pk, item))
            for (rtype, source, estate), entries in groups.items():
                total.merge(self.pipeline.replay(rtype, entries, source=source, estate=estate, actor=actor))
            if progress is not None:
                progress(len(rows))
            if ids is not None and len(rows) < _REPLAY_CHUNK:
                return total
