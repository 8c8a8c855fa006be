"""The tamper-evident audit log: an append-only table whose entries form an HMAC-SM3 hash chain.

Every entry commits to its predecessor:

    h_0 = SM3("anju-audit-genesis")
    h_i = HMAC-SM3(k_audit, h_{i-1} ‖ canonical_json({seq, at, actor, action, target, detail}))

where canonical JSON has sorted keys, no whitespace, UTF-8 text and the time as a microsecond UTC ISO
timestamp. An entry edited, deleted or moved behind the application's back breaks the chain at that entry,
and without the audit key nobody can compute a replacement chain. Database triggers (migration 0002)
refuse UPDATE, DELETE and TRUNCATE; the chain is what still tells when someone drops them first.

The one thing a chain cannot show is the loss of its newest entries: a log cut back to entry n is a valid
shorter chain. An anchor (`anju audit anchor`) records the head (seq, hash) in a file that belongs
outside the database — copy it to another system or write-once storage — and `verify` given that anchor
reports a chain that no longer reaches it, or reaches it with another hash.
"""

from __future__ import annotations

import hmac as std_hmac
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from anju.db.engine import WRITE_OPTIONS
from anju.security.crypto import hmac_sm3, sm3

Clock = Callable[[], datetime]
BreakKind = Literal["edited", "deleted", "reordered"]

TABLE = "audit_log"
GENESIS = sm3(b"anju-audit-genesis").hex()
# Any fixed 64-bit number works as long as nothing else in the database uses it: "anjuaudi" in ASCII.
ADVISORY_LOCK_ID = 0x616E_6A75_6175_6469
ACTOR_MAX = 200
ACTION_MAX = 64
TARGET_MAX = 500
# Entries say what happened to what, not the data itself; a cap keeps records and images out of `detail`.
DETAIL_MAX_BYTES = 8192
# record() retries this often when another writer took the next seq first (SQLite, caller-free path).
RECORD_ATTEMPTS = 5
VERIFY_CHUNK = 5000
ANCHOR_FORMAT = 1
ANCHOR_FILE = "audit-anchor.json"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditConflict(RuntimeError):
    """Another writer appended to the audit chain between reading its head and inserting after it.

    Raised by `AuditLog.append` inside a caller's transaction: the transaction is no longer usable (on
    PostgreSQL it is aborted). Roll it back and run the whole unit of work again.
    """


class AnchorError(ValueError):
    """An anchor file cannot be read, or was not written with this audit key."""


def audit_table(metadata: MetaData) -> Table:
    """The `audit_log` table. `seq` is assigned by the application (previous + 1), never by the database,
    so that a deleted entry leaves a visible gap; the unique `prev_hash` lets at most one entry follow any
    other, so two appenders that read the same head cannot fork the chain: one of them fails."""
    table = Table(
        TABLE,
        metadata,
        # INTEGER on SQLite makes seq the rowid itself; BIGINT elsewhere because the log never shrinks.
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
        Column("at", DateTime, nullable=False),  # UTC, microseconds
        Column("actor", String(ACTOR_MAX), nullable=False),
        Column("action", String(ACTION_MAX), nullable=False),
        Column("target", String(TARGET_MAX), nullable=False),
        Column("detail", Text, nullable=False),  # canonical JSON of a small object
        Column("prev_hash", String(64), nullable=False, unique=True),
        Column("hash", String(64), nullable=False),
        comment="Append-only audit log, an HMAC-SM3 hash chain; triggers refuse UPDATE and DELETE",
    )
    Index(None, table.c.at)
    Index(None, table.c.actor)
    Index(None, table.c.action)
    return table


# ---- canonical form --------------------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def format_time(at: datetime) -> str:
    """Microsecond UTC ISO time, always with six fraction digits so that one instant has one spelling."""
    return _as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_utc(at: datetime) -> datetime:
    # Naive values come from the database, where times are stored in UTC without a zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def chain_hash(key: bytes, prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hmac_sm3(key, bytes.fromhex(prev_hash) + canonical_json(entry).encode("utf-8")).hex()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """What the hash covers."""
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.content(), "prev_hash": self.prev_hash, "hash": self.hash}


# ---- verification results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BrokenLink:
    seq: int
    kind: BreakKind
    message_zh: str
    message_en: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int  # entries found intact before the first break (all of them when ok)
    head_seq: int  # the last intact entry's seq; 0 for an empty log (or a broken first entry)
    head_hash: str
    broken: BrokenLink | None = None
    anchor: Anchor | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken": self.broken.to_json() if self.broken else None,
            "anchor": self.anchor.to_json() if self.anchor else None,
        }


# ---- anchors -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    """The chain head at some moment. The MAC stops anyone without the audit key from moving it back."""

    seq: int
    hash: str
    written_at: datetime
    mac: str = field(default="", compare=False)

    @staticmethod
    def _mac(key: bytes, seq: int, head: str, written_at: datetime) -> str:
        body = canonical_json({"seq": seq, "hash": head, "written_at": format_time(written_at)})
        return hmac_sm3(key, b"anju-audit-anchor\x1f" + body.encode("utf-8")).hex()

    @classmethod
    def create(cls, key: bytes, seq: int, head: str, written_at: datetime) -> Anchor:
        return cls(seq, head, _as_utc(written_at), cls._mac(key, seq, head, written_at))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ANCHOR_FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "written_at": format_time(self.written_at),
            "mac": self.mac,
        }

    def save(self, path: Path) -> None:
        """Write atomically, so that a crash never leaves half an anchor behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, key: bytes) -> Anchor:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AnchorError(f"{path}: cannot read the audit anchor ({exc})") from None
        try:
            if data["format"] != ANCHOR_FORMAT:
                raise ValueError(f"format {data['format']!r}")
            seq = int(data["seq"])
            head = str(data["hash"])
            written_at = datetime.fromisoformat(str(data["written_at"]).replace("Z", "+00:00"))
            mac = str(data["mac"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AnchorError(f"{path}: not an Anju audit anchor ({exc})") from None
        if not std_hmac.compare_digest(mac, cls._mac(key, seq, head, written_at)):
            raise AnchorError(
                f"{path}: the anchor was edited or written with another audit key; "
                "it cannot vouch for this chain"
            )
        return cls(seq, head, _as_utc(written_at), mac)


# ---- the log -------------------------------------------------------------------------------------------
def _check_text(name: str, value: str, limit: int, *, required: bool) -> None:
    if not isinstance(value, str):
        raise TypeError(f"audit {name} must be text, not {type(value).__name__}")
    if required and not value:
        raise ValueError(f"audit {name} must not be empty")
    if len(value) > limit:
        raise ValueError(f"audit {name} has {len(value)} characters; at most {limit} are stored")


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An entry to append: who did what to what, with a few facts (see `AuditLog.append`)."""

    actor: str
    action: str
    target: str = ""
    detail: Mapping[str, Any] | None = None


def _prepare(draft: AuditDraft) -> tuple[AuditDraft, dict[str, Any], str]:
    """The draft checked, with its detail as stored (canonical JSON) and as verify will read it back."""
    _check_text("actor", draft.actor, ACTOR_MAX, required=True)
    _check_text("action", draft.action, ACTION_MAX, required=True)
    _check_text("target", draft.target, TARGET_MAX, required=False)
    try:
        detail_text = canonical_json(dict(draft.detail or {}))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit detail must be a JSON object of text, numbers and lists: {exc}") from None
    if len(detail_text.encode("utf-8")) > DETAIL_MAX_BYTES:
        raise ValueError(f"audit detail is larger than {DETAIL_MAX_BYTES} bytes; keep it to a few facts")
    # Through JSON and back, so that the entry returned is exactly the one verify will read.
    return draft, json.loads(detail_text), detail_text


class AuditLog:
    """Appends to, reads and verifies the audit chain in `audit_log`.

    `key` is the audit key of the keyring (`load_or_create(settings.keys_file).audit_key`). Losing or
    replacing it makes every existing entry unverifiable, which is why keys.py never rotates it.
    """

    def __init__(self, engine: Engine, key: bytes, clock: Clock = utcnow) -> None:
        if not key:
            raise ValueError("the audit key must not be empty")
        self.engine = engine
        self._key = key
        self.clock = clock
        self.table = audit_table(MetaData())

    # -- writing ---------------------------------------------------------------------------------------
    def append(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry inside the caller's transaction: it commits or rolls back with the audited write.

        `actor` says who ("user:alice", "device:SB001", "cli:root", "system"), `action` what ("login",
        "records.ingest", "records.unmask", "export", …), `target` what it was done to (a record type, an
        ID, a username: never a personal value such as a name, phone or ID number). `detail` is a small
        JSON object of facts (counts, formats, reasons); personal data must not go there either — the log
        cannot be edited, so what lands in it stays readable to every auditor for good.

        Concurrency: on PostgreSQL a transaction-scoped advisory lock serialises appenders until the
        caller commits, so append late in a transaction that runs at READ COMMITTED. On SQLite begin the
        transaction with `anju.db.engine.WRITE_OPTIONS` (BEGIN IMMEDIATE): its write lock is what keeps the
        head from moving between reading it and inserting after it. When the head moved anyway (a deferred
        SQLite transaction, a snapshot isolation level), the unique `prev_hash` refuses the second entry
        and this raises `AuditConflict`; the transaction must then be rolled back and the unit of work
        retried. `record` does that itself.
        """
        return self.append_many(conn, [AuditDraft(actor, action, target, detail)])[0]

    def append_many(self, conn: Connection, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append several entries, in order, inside the caller's transaction: one look-up of the head and
        one multi-row insert (the alarm store appends a whole batch of raised alarms this way). The rules
        and the concurrency contract are `append`'s."""
        prepared = [_prepare(d) for d in drafts]
        if not prepared:
            return []
        at = _as_utc(self.clock())
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_ID)))
        seq, prev_hash = self.head(conn)
        entries: list[AuditEntry] = []
        rows: list[dict[str, Any]] = []
        for draft, body, detail_text in prepared:
            seq += 1
            entry = AuditEntry(seq, at, draft.actor, draft.action, draft.target, body, prev_hash, "")
            entry = replace(entry, hash=chain_hash(self._key, prev_hash, entry.content()))
            prev_hash = entry.hash
            entries.append(entry)
            rows.append(
                {
                    "seq": entry.seq,
                    "at": at.replace(tzinfo=None),
                    "actor": draft.actor,
                    "action": draft.action,
                    "target": draft.target,
                    "detail": detail_text,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }
            )
        try:
            conn.execute(self.table.insert(), rows)
        except IntegrityError:
            raise AuditConflict(
                f"another writer appended audit entry {entries[0].seq} first; "
                "roll this transaction back and run it again"
            ) from None
        return entries

    def record(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry in a transaction of its own (for events with no write of their own: logins,
        reads, exports). Retries when another process took the next seq first. Do not call it while this
        thread holds an open SQLite write transaction on another connection: it would wait for itself."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                    return self.append(conn, actor=actor, action=action, target=target, detail=detail)
            except AuditConflict:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading ---------------------------------------------------------------------------------------
    def head(self, conn: Connection | None = None) -> tuple[int, str]:
        """(seq, hash) of the newest entry; (0, genesis hash) for an empty log."""
        query = select(self.table.c.seq, self.table.c.hash).order_by(self.table.c.seq.desc()).limit(1)
        if conn is None:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        else:
            row = conn.execute(query).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def anchor(self) -> Anchor:
        """An anchor for the current head, to be saved outside the database."""
        seq, head = self.head()
        return Anchor.create(self._key, seq, head, self.clock())

    def load_anchor(self, path: Path) -> Anchor:
        """The anchor saved at `path`, checked against this log's key; raises AnchorError."""
        return Anchor.load(path, self._key)

    def tail(self, n: int = 20) -> list[AuditEntry]:
        """The newest `n` entries, oldest first."""
        newest = self.query(limit=n, newest_first=True)
        return newest[::-1]

    def query(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        after_seq: int | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, in seq order. `since` is inclusive, `until` exclusive.
        Page with `after_seq` (oldest first) or `before_seq` (newest first) rather than `offset` on a
        large log: a keyset page costs the same at any depth."""
        t = self.table
        where: list[ColumnElement[bool]] = []
        if since is not None:
            where.append(t.c.at >= _as_utc(since).replace(tzinfo=None))
        if until is not None:
            where.append(t.c.at < _as_utc(until).replace(tzinfo=None))
        if actor is not None:
            where.append(t.c.actor == actor)
        if action is not None:
            where.append(t.c.action == action)
        if target is not None:
            where.append(t.c.target == target)
        if after_seq is not None:
            where.append(t.c.seq > after_seq)
        if before_seq is not None:
            where.append(t.c.seq < before_seq)
        order = t.c.seq.desc() if newest_first else t.c.seq.asc()
        stmt = select(t).where(*where).order_by(order).limit(max(0, limit)).offset(max(0, offset))
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(stmt)]

    def _chunks(self, chunk: int) -> Iterator[list[Any]]:
        t = self.table
        last = None
        while True:
            stmt = select(t).order_by(t.c.seq).limit(chunk)
            if last is not None:
                stmt = stmt.where(t.c.seq > last)
            with self.engine.connect() as conn:
                rows = list(conn.execute(stmt))
            if not rows:
                return
            yield rows
            last = rows[-1].seq

    # -- verification ----------------------------------------------------------------------------------
    def verify(
        self,
        anchor: Anchor | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        chunk: int = VERIFY_CHUNK,
    ) -> VerifyReport:
        """Walk the whole chain in seq order, `chunk` entries at a time, and report the first broken link.

        A break is `deleted` when the entry that should come next is missing (a gap in seq, or a
        prev_hash that is not the previous entry's hash and belongs to no other entry), `reordered` when
        that entry exists but at another place, and `edited` when the links hold but an entry's content
        no longer matches its hash. With an anchor, a chain that ends before the anchor's seq, or has
        another hash there, is broken too (its newest entries were deleted).
        """
        prev_seq, prev_hash = 0, GENESIS
        checked = 0
        for rows in self._chunks(max(1, chunk)):
            for row in rows:
                broken = self._check(row, prev_seq, prev_hash, anchor)
                if broken is not None:
                    return VerifyReport(False, checked, prev_seq, prev_hash, broken, anchor)
                prev_seq, prev_hash = int(row.seq), str(row.hash)
                checked += 1
            if progress is not None:
                progress(checked)
        if anchor is not None and prev_seq < anchor.seq:
            missing = prev_seq + 1
            broken = BrokenLink(
                missing,
                "deleted",
                f"审计链止于第 {prev_seq} 条，但锚点（{format_time(anchor.written_at)}）记录到第 {anchor.seq} 条："
                f"第 {missing} 条起的条目被删除",
                f"the chain ends at entry {prev_seq} but the anchor of {format_time(anchor.written_at)} "
                f"recorded entry {anchor.seq}: entries from {missing} on were deleted",
            )
            return VerifyReport(False, checked, prev_seq, prev_hash, broken, anchor)
        return VerifyReport(True, checked, prev_seq, prev_hash, None, anchor)

    def _check(self, row: Any, prev_seq: int, prev_hash: str, anchor: Anchor | None) -> BrokenLink | None:
        seq = int(row.seq)
        expected = prev_seq + 1
        if row.prev_hash != prev_hash:
            elsewhere = self._successor_of(prev_hash)
            if elsewhere is not None and elsewhere != seq:
                return BrokenLink(
                    seq,
                    "reordered",
                    f"第 {seq} 条不在原来的位置：第 {prev_seq} 条之后本应是现在位于第 {elsewhere} 条的条目（条目被调换）",
                    f"entry {seq} is out of place: the entry that followed entry {prev_seq} now sits at "
                    f"seq {elsewhere} (entries were reordered)",
                )
            if seq == expected and self._content_matches(row, prev_hash):
                return _edited(seq)  # only the stored prev_hash was changed; the entry is where it was
            return _deleted(expected, seq)
        if seq != expected:
            return _deleted(expected, seq)
        if not self._content_matches(row, prev_hash):
            return _edited(seq)
        if (
            anchor is not None
            and seq == anchor.seq
            and not std_hmac.compare_digest(str(row.hash), anchor.hash)
        ):
            return BrokenLink(
                seq,
                "deleted",
                f"第 {seq} 条与锚点（{format_time(anchor.written_at)}）记录的哈希不同：其后的链被删除并重新写入",
                f"entry {seq} differs from the anchor of {format_time(anchor.written_at)}: the chain was "
                "cut back and written again after it",
            )
        return None

    def _content_matches(self, row: Any, prev_hash: str) -> bool:
        try:
            entry = _entry(row)
        except ValueError:
            return False
        return std_hmac.compare_digest(chain_hash(self._key, prev_hash, entry.content()), str(row.hash))

    def _successor_of(self, prev_hash: str) -> int | None:
        """Seq of the entry that names `prev_hash` as its predecessor, wherever it sits (unique index)."""
        t = self.table
        with self.engine.connect() as conn:
            found = conn.execute(select(t.c.seq).where(t.c.prev_hash == prev_hash)).scalar_one_or_none()
        return None if found is None else int(found)


def _edited(seq: int) -> BrokenLink:
    # A wrong key fails at the very first entry; say so there rather than only accuse someone of an edit.
    hint_zh = "，或审计密钥不是写入时的密钥" if seq == 1 else ""
    hint_en = ", or the audit key is not the one that wrote the log" if seq == 1 else ""
    return BrokenLink(
        seq,
        "edited",
        f"第 {seq} 条的内容与其哈希不符：条目被修改{hint_zh}",
        f"entry {seq} does not match its hash: it was edited{hint_en}",
    )


def _deleted(expected: int, found: int) -> BrokenLink:
    if found > expected + 1:
        return BrokenLink(
            expected,
            "deleted",
            f"第 {expected}–{found - 1} 条缺失：这些条目被删除",
            f"entries {expected}–{found - 1} are missing: they were deleted",
        )
    if found == expected + 1:
        return BrokenLink(
            expected,
            "deleted",
            f"第 {expected} 条缺失：该条目被删除",
            f"entry {expected} is missing: it was deleted",
        )
    return BrokenLink(
        expected,
        "deleted",
        f"第 {expected} 条没有接在第 {expected - 1} 条之后：两者之间的条目被删除",
        f"entry {expected} does not link to entry {expected - 1}: an entry between them was deleted",
    )


def _entry(row: Any) -> AuditEntry:
    detail = json.loads(row.detail)
    if not isinstance(detail, dict):
        raise ValueError("audit detail is not a JSON object")
    return AuditEntry(
        seq=int(row.seq),
        at=_as_utc(row.at),
        actor=str(row.actor),
        action=str(row.action),
        target=str(row.target),
        detail=detail,
        prev_hash=str(row.prev_hash),
        hash=str(row.hash),
    )
