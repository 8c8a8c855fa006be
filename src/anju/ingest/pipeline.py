"""The one way data comes in: decode → validate → store valid records → quarantine the rest → publish.

Every source (HTTP, files, MQTT, the simulator) hands batches of Items to `Pipeline.ingest`. A batch is
one transaction. Records are idempotent on their `ID`: an identical re-send is a duplicate; a different
payload under a known ID is quarantined as a conflict and the stored record is left untouched. What a
batch stores is published to in-process subscribers only after it has committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import IntegrityError as PgIntegrityError
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from anju.config import Settings
from anju.db.database import Database
from anju.db.engine import WRITE_OPTIONS
from anju.ingest.bus import Bus, StoredRecords
from anju.ingest.decode import iter_ndjson
from anju.ingest.items import Item, raw_digest, raw_text
from anju.ingest.result import DETAIL_LIMIT, BatchResult, Rejected, Warned
from anju.ingest.writer import insert_rows
from anju.security.audit import AuditConflict, AuditLog
from anju.security.keys import load_or_create
from anju.security.personal import RecordProtector
from anju.standard.dictionaries import Dictionary, load_dictionaries
from anju.standard.issues import Issue, make_issue, render
from anju.standard.spec import RecordType, record_type
from anju.standard.validate import Outcome, RecordValidator, new_context

Clock = Callable[[], datetime]
_ID_CHUNK = 500
_RETRIES = 3
# Whether records stored in this context go before the alarm rules (per thread and task: a backfill run
# from the CLI never changes what a server thread's ingestion does).
_JUDGED: ContextVar[bool] = ContextVar("anju_alarm_rules_judge", default=True)


@contextmanager
def without_alarm_rules() -> Iterator[None]:
    """Records stored inside are published with `alarms=False`: a backfill of past records."""
    token = _JUDGED.set(False)
    try:
        yield
    finally:
        _JUDGED.reset(token)


META_COLUMNS = ("_estate", "_source", "_received_at", "_hash", "_extra")


ESTATE_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


class EstateInvalid(ValueError):
    """An estate code given by a caller (query parameter, option, topic) is not a valid code."""

    def __init__(self, estate: str) -> None:
        super().__init__(f"estate={estate[:80]!r} is invalid: expected 1-40 letters, digits, _ or -")
        self.estate = estate


def check_estate(estate: str | None) -> str | None:
    if estate is None or ESTATE_CODE.match(estate):
        return estate
    raise EstateInvalid(estate)


def _printable_id(record_id: str | None) -> str | None:
    """A record ID as the quarantine can index it: at most 200 characters, no NUL."""
    if not record_id:
        return None
    return str(record_id)[:200].replace("\x00", "\ufffd")


@dataclass(slots=True)
class _Candidate:
    item: Item
    outcome: Outcome
    quarantine_pk: int | None = None  # set when the candidate comes from a quarantine replay
    # (sealed row, blind indexes, key version) when a worker process sealed it (ingest/parallel.py)
    presealed: tuple[list[Any], list[str | None], int] | None = None


@dataclass(slots=True)
class _Bad:
    item: Item
    record_id: str | None
    issues: list[Issue]
    reason: str
    quarantine_pk: int | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A record its source refused before validation (an MQTT message from a device that is not
    registered, say): quarantined raw with its reason and findings, like an invalid record, but never
    replayed (`Quarantine.replay` takes only the pipeline's own reasons)."""

    item: Item
    reason: str  # at most 20 characters (quarantine.reason), e.g. device_unregistered
    issues: list[Issue]
    record_id: str | None = None


# The reasons the pipeline itself gives; every other reason in the quarantine is a source's refusal.
PIPELINE_REASONS = ("invalid", "conflict", "undecodable")


class Validators:
    """The compiled validators of every record type over one set of dictionaries, and batch validation.

    Holds no database: worker processes of a file import build their own from the settings."""

    def __init__(self, settings: Settings, dictionaries: dict[str, Dictionary] | None = None) -> None:
        self.settings = settings
        self._dicts = dictionaries
        self._validators: dict[str, RecordValidator] = {}

    @property
    def dictionaries(self) -> dict[str, Dictionary]:
        if self._dicts is None:
            self._dicts = load_dictionaries(self.settings.dictionaries_dir)
        return self._dicts

    def reload(self) -> None:
        """Pick up a deployment's edited dictionaries (before a replay, say)."""
        self._dicts = None
        self._validators.clear()

    def get(self, rtype: RecordType) -> RecordValidator:
        v = self._validators.get(rtype.slug)
        if v is None:
            v = self._validators[rtype.slug] = RecordValidator(rtype, self.dictionaries, self.settings)
        return v

    def classify(
        self, rtype: RecordType, items: Sequence[Item], now: datetime
    ) -> tuple[list[_Candidate], list[_Bad]]:
        """Validate a batch without touching the database: (valid candidates, bad records).

        Pure CPU work on picklable values. The decoded objects are dropped from the results: the commit
        needs only each record's raw bytes and its normalised row."""
        ctx = new_context(now, self.settings)
        validator = self.get(rtype)
        good: list[_Candidate] = []
        bad: list[_Bad] = []
        for item in items:
            if not item.decoded:
                bad.append(_Bad(item, None, item.issues, "undecodable"))
                continue
            out = validator.validate(item.obj, ctx)
            item.obj = None
            if out.ok:
                good.append(_Candidate(item, out))
            else:
                bad.append(_Bad(item, out.record_id, out.issues, "invalid"))
        return good, bad


class Pipeline:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        bus: Bus | None = None,
        clock: Clock = utcnow,
        dictionaries: dict[str, Dictionary] | None = None,
        protector: RecordProtector | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus or Bus()
        self.clock = clock
        self.validators = Validators(settings, dictionaries)
        # Personal fields are sealed on the way into the database, whatever the source.
        self.protector = protector or RecordProtector(load_or_create(settings.keys_file))
        self.audit = audit

    # ---- configuration ---------------------------------------------------------------------------------
    @property
    def dictionaries(self) -> dict[str, Dictionary]:
        return self.validators.dictionaries

    def reload_dictionaries(self) -> None:
        self.validators.reload()

    def validator(self, rtype: RecordType) -> RecordValidator:
        return self.validators.get(rtype)

    def classify(
        self, rtype: RecordType, items: Sequence[Item], now: datetime
    ) -> tuple[list[_Candidate], list[_Bad]]:
        return self.validators.classify(rtype, items, now)

    def ingest(
        self,
        type_slug: str,
        items: Sequence[Item],
        *,
        source: str,
        actor: str = "system",
        estate: str | None = None,
        source_detail: str | None = None,
    ) -> BatchResult:
        """Validate and store one batch in one transaction."""
        now = self.clock()
        good, bad = self.classify(record_type(type_slug), items, now)
        return self.commit_classified(
            type_slug,
            good,
            bad,
            now,
            source=source,
            actor=actor,
            estate=estate,
            source_detail=source_detail,
            received=len(items),
        )

    def commit_classified(
        self,
        type_slug: str,
        good: list[_Candidate],
        bad: list[_Bad],
        now: datetime,
        *,
        source: str,
        actor: str = "system",
        estate: str | None,
        received: int,
        source_detail: str | None = None,
    ) -> BatchResult:
        """Store a batch that `classify` prepared (here, or in a worker process)."""
        return self._commit(
            record_type(type_slug),
            good,
            bad,
            now,
            source=source,
            actor=actor,
            estate=check_estate(estate),
            source_detail=source_detail,
            received=received,
        )

    def ingest_stream(
        self,
        type_slug: str,
        items: Iterable[Item],
        *,
        source: str,
        actor: str = "system",
        estate: str | None = None,
        on_batch: Callable[[BatchResult], None] | None = None,
        batch_size: int | None = None,
    ) -> BatchResult:
        """Ingest a long stream in batches of settings.batch_size, each its own transaction."""
        check_estate(estate)
        size = batch_size or self.settings.batch_size
        total = BatchResult(type_slug)
        batch: list[Item] = []
        for item in items:
            batch.append(item)
            if len(batch) >= size:
                self._flush(type_slug, batch, source, estate, total, on_batch, actor)
                batch = []
        if batch:
            self._flush(type_slug, batch, source, estate, total, on_batch, actor)
        return total

    def ingest_ndjson(
        self,
        type_slug: str,
        lines: Iterable[bytes],
        *,
        source: str,
        actor: str = "system",
        estate: str | None = None,
        on_batch: Callable[[BatchResult], None] | None = None,
        workers: int = 0,
        batch_size: int | None = None,
    ) -> BatchResult:
        """Ingest NDJSON lines in batches, each its own transaction.

        With `workers` > 0 the lines are decoded and validated in that many worker processes while this
        process commits the batches in order; at most workers + 1 batches are in flight, so memory stays
        flat on any file size."""
        check_estate(estate)
        size = batch_size or self.settings.batch_size
        if workers <= 0:
            return self.ingest_stream(
                type_slug,
                iter_ndjson(lines),
                source=source,
                actor=actor,
                estate=estate,
                batch_size=size,
                on_batch=on_batch,
            )
        from anju.ingest.parallel import ingest_parallel, ndjson_batches

        return ingest_parallel(
            self,
            type_slug,
            ndjson_batches(lines, size),
            source=source,
            actor=actor,
            estate=estate,
            on_batch=on_batch,
            workers=workers,
        )

    def _flush(
        self,
        type_slug: str,
        batch: list[Item],
        source: str,
        estate: str | None,
        total: BatchResult,
        on_batch: Callable[[BatchResult], None] | None,
        actor: str,
    ) -> None:
        result = self.ingest(type_slug, batch, source=source, actor=actor, estate=estate)
        total.merge(result)
        if on_batch is not None:
            on_batch(result)

    # ---- the transaction -------------------------------------------------------------------------------
    def _commit(
        self,
        rtype: RecordType,
        good: list[_Candidate],
        bad: list[_Bad],
        now: datetime,
        *,
        source: str,
        actor: str = "system",
        estate: str | None,
        source_detail: str | None,
        received: int,
    ) -> BatchResult:
        for attempt in range(_RETRIES):
            try:
                return self._commit_once(
                    rtype,
                    good,
                    bad,
                    now,
                    source=source,
                    actor=actor,
                    estate=estate,
                    source_detail=source_detail,
                    received=received,
                )
            except (IntegrityError, PgIntegrityError, AuditConflict):
                # Another writer stored one of these IDs between our look-up and our insert (PostgreSQL
                # allows concurrent batches). Classify again against what is stored now. COPY runs on the
                # driver's own cursor, so its unique violation arrives as psycopg's error, not SQLAlchemy's.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _commit_once(
        self,
        rtype: RecordType,
        good: list[_Candidate],
        bad_in: list[_Bad],
        now: datetime,
        *,
        source: str,
        actor: str = "system",
        estate: str | None,
        source_detail: str | None,
        received: int,
    ) -> BatchResult:
        result = BatchResult(rtype.slug, received=received, batches=1)
        bad = list(bad_in)
        naive_now = now.astimezone(UTC).replace(tzinfo=None)
        table = self.db.table(rtype.table_name)
        protector = self.protector
        columns = [f.column for f in rtype.fields] + list(META_COLUMNS) + protector.blind_columns(rtype)
        estate_index = (
            [f.code for f in rtype.fields].index(rtype.estate_field) if rtype.estate_field else None
        )
        stored: list[_Candidate] = []
        released: list[int] = []
        with self.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            # Each record is judged against what is stored; a batch's first new version of an ID becomes the
            # reference for the rest of the batch.
            reference = self._existing_digests(conn, rtype, list({c.outcome.record_id: None for c in good}))
            rows: list[list[Any]] = []
            for cand in good:
                out = cand.outcome
                assert out.row is not None and out.record_id is not None
                known = reference.get(out.record_id)
                if known is None:
                    reference[out.record_id] = out.digest or ""
                    row_estate = (
                        cand.item.estate
                        or estate
                        or (out.row[estate_index] if estate_index is not None else None)
                    )
                    if cand.presealed is not None and cand.presealed[2] == protector.keyring.current:
                        row, blinds = cand.presealed[0], cand.presealed[1]
                    else:  # sealed here, or sealed by a worker under a key rotated since
                        row = list(out.row)
                        blinds = protector.seal_row(rtype, row, out.record_id)
                    rows.append([*row, row_estate, source, naive_now, out.digest, out.extra, *blinds])
                    stored.append(cand)
                    result.accepted += 1
                elif known == out.digest:
                    result.duplicates += 1
                else:
                    bad.append(self._conflict(cand))
                    continue
                if cand.quarantine_pk is not None:
                    released.append(cand.quarantine_pk)
                self._note_warnings(result, cand)
            insert_rows(conn, table, columns, rows)
            for entry in bad:
                self._quarantine(
                    conn,
                    rtype.slug,
                    entry,
                    result,
                    naive_now,
                    source,
                    entry.item.estate or estate,
                    source_detail,
                )
            if released:
                q = self.db.table("quarantine")
                conn.execute(
                    update(q)
                    .where(q.c.pk.in_(released))
                    .values(status="released", released_at=naive_now, attempts=q.c.attempts + 1)
                )
            self._log_batch(conn, rtype.slug, result, naive_now, source, actor, estate, len(released))
        if stored and self.bus.active:
            mixed = any(c.item.estate is not None for c in stored)
            self.bus.publish(
                StoredRecords(
                    rtype.slug,
                    estate,
                    source,
                    [
                        dict(zip([f.code for f in rtype.fields], c.outcome.row or (), strict=True))
                        for c in stored
                    ],
                    [c.item.estate or estate for c in stored] if mixed else None,
                    alarms=_JUDGED.get(),
                )
            )
        return result

    def _log_batch(
        self,
        conn: Connection,
        slug: str,
        result: BatchResult,
        now: datetime,
        source: str,
        actor: str,
        estate: str | None,
        released: int,
    ) -> None:
        conn.execute(
            insert(self.db.table("ingest_batch")).values(
                record_type=slug,
                source=source,
                estate=estate,
                started_at=now,
                finished_at=utcnow().replace(tzinfo=None),
                received=result.received,
                accepted=result.accepted,
                duplicates=result.duplicates,
                rejected=result.rejected,
                conflicts=result.conflicts,
                warnings=result.warnings,
            )
        )
        if self.audit is not None:
            # Last in the transaction: on PostgreSQL the audit append serialises writers until commit.
            self.audit.append(
                conn,
                actor=actor,
                action="records.ingest",
                target=slug,
                detail={
                    "source": source,
                    "estate": estate,
                    "received": result.received,
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "rejected": result.rejected,
                    "released": released,
                },
            )

    # ---- refusals --------------------------------------------------------------------------------------
    def refuse(
        self,
        type_slug: str,
        refused: Sequence[Refusal],
        *,
        source: str,
        actor: str = "system",
        estate: str | None = None,
        source_detail: str | None = None,
    ) -> BatchResult:
        """Quarantine records a source refused before validation, in one transaction.

        `type_slug` need not name a known record type (an MQTT topic may name one that does not exist);
        it is kept as given, cut to the column's 40 characters. An identical refused payload sent again
        counts as a duplicate and bumps the entry's `seen_count`, as for invalid records."""
        slug = type_slug[:40]
        estate = check_estate(estate)
        naive_now = self.clock().astimezone(UTC).replace(tzinfo=None)
        for attempt in range(_RETRIES):
            result = BatchResult(slug, received=len(refused), batches=1)
            try:
                with self.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                    for r in refused:
                        entry = _Bad(r.item, r.record_id, r.issues, r.reason)
                        self._quarantine(
                            conn,
                            slug,
                            entry,
                            result,
                            naive_now,
                            source,
                            r.item.estate or estate,
                            source_detail,
                        )
                    self._log_batch(conn, slug, result, naive_now, source, actor, estate, 0)
                return result
            except (IntegrityError, PgIntegrityError, AuditConflict):
                # Another writer quarantined the same payload between our look-up and our insert.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _conflict(cand: _Candidate) -> _Bad:
        zh, en = render("id_conflict")
        issue = make_issue("id_conflict", zh, en, field="ID", value=cand.outcome.record_id)
        return _Bad(
            cand.item, cand.outcome.record_id, [issue, *cand.outcome.issues], "conflict", cand.quarantine_pk
        )

    @staticmethod
    def _note_warnings(result: BatchResult, cand: _Candidate) -> None:
        if cand.outcome.issues:
            result.warnings += 1
            if len(result.warned) < DETAIL_LIMIT:
                result.warned.append(
                    Warned(
                        cand.item.index, cand.outcome.record_id, [i.to_dict() for i in cand.outcome.issues]
                    )
                )

    def _existing_digests(self, conn: Connection, rtype: RecordType, ids: list[str | None]) -> dict[str, str]:
        table = self.db.table(rtype.table_name)
        found: dict[str, str] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            for rid, digest in conn.execute(select(table.c.id, table.c._hash).where(table.c.id.in_(chunk))):
                found[rid] = digest
        return found

    def _quarantine(
        self,
        conn: Connection,
        slug: str,
        entry: _Bad,
        result: BatchResult,
        now: datetime,
        source: str,
        estate: str | None,
        source_detail: str | None,
    ) -> None:
        q = self.db.table("quarantine")
        errors = [i.to_dict() for i in entry.issues]
        conflict = int(entry.reason == "conflict")
        if entry.quarantine_pk is not None:  # a replay that still fails: record the new findings
            conn.execute(
                update(q)
                .where(q.c.pk == entry.quarantine_pk)
                .values(errors=errors, reason=entry.reason, attempts=q.c.attempts + 1, last_seen_at=now)
            )
            result.rejected += 1
            result.conflicts += conflict
            self._add_reject(
                result,
                Rejected(
                    entry.item.index,
                    entry.record_id,
                    entry.quarantine_pk,
                    entry.reason,
                    errors,
                    already_quarantined=True,
                ),
            )
            return
        digest = raw_digest(entry.item.raw)
        pk = conn.execute(select(q.c.pk).where(q.c.record_type == slug, q.c.raw_hash == digest)).scalar()
        if pk is not None:
            # The very same payload was quarantined before: a re-send, counted as a duplicate.
            conn.execute(
                update(q).where(q.c.pk == pk).values(seen_count=q.c.seen_count + 1, last_seen_at=now)
            )
            result.duplicates += 1
            self._add_reject(
                result,
                Rejected(
                    entry.item.index, entry.record_id, pk, entry.reason, errors, already_quarantined=True
                ),
            )
            return
        text, encoding = raw_text(entry.item.raw)
        pk = conn.execute(
            insert(q)
            .values(
                record_type=slug,
                record_id=_printable_id(entry.record_id),
                reason=entry.reason,
                status="open",
                source=source,
                source_detail=entry.item.source_detail or source_detail,
                estate=estate,
                raw=self.protector.seal_raw(text, digest),
                raw_encoding=encoding,
                raw_hash=digest,
                errors=errors,
                received_at=now,
                last_seen_at=now,
                seen_count=1,
                attempts=0,
            )
            .returning(q.c.pk)
        ).scalar_one()
        result.rejected += 1
        result.conflicts += conflict
        self._add_reject(result, Rejected(entry.item.index, entry.record_id, pk, entry.reason, errors))

    @staticmethod
    def _add_reject(result: BatchResult, rejected: Rejected) -> None:
        if len(result.rejects) < DETAIL_LIMIT:
            result.rejects.append(rejected)

    # ---- replay ----------------------------------------------------------------------------------------
    def replay(
        self,
        type_slug: str,
        entries: list[tuple[int, Item]],
        *,
        source: str,
        estate: str | None,
        actor: str = "system",
    ) -> BatchResult:
        """Validate quarantined payloads again (after the data or dictionaries were fixed)."""
        rtype = record_type(type_slug)
        now = self.clock()
        good, bad = self.classify(rtype, [item for _, item in entries], now)
        pks = {id(item): pk for pk, item in entries}
        for cand in good:
            cand.quarantine_pk = pks[id(cand.item)]
        for entry in bad:
            entry.quarantine_pk = pks[id(entry.item)]
        return self._commit(
            rtype,
            good,
            bad,
            now,
            source=source,
            actor=actor,
            estate=estate,
            source_detail=None,
            received=len(entries),
        )
