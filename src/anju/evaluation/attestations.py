"""Attestations: what people state for a fact the platform's data cannot show, with files, who and when.

An attestation is a fact value for one community (a key of the paper, Wuhan or Shandong systems, checked
like an input file's value), a note, attached files (kept content-addressed under the data directory,
referenced by their SM3 digest) and the person who made it. It is never edited: a newer attestation of
the same key supersedes an older one, and a revoked one stops counting; both stay, so an evaluation can
be traced to what was said at the time. `AttestationEvidence` offers the latest standing attestation of
each key as of the evaluation date to the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy import update as sql_update

from anju.db.engine import WRITE_OPTIONS
from anju.evaluation.errors import EvaluationError
from anju.evaluation.evidence import Evidence, SourceKind
from anju.evaluation.inputs import check_value
from anju.evaluation.systems import fact_kinds
from anju.security.audit import AuditLog
from anju.security.crypto import sm3

if TYPE_CHECKING:
    from anju.services import Services

NAME = "attestations"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
_FILE_NAME_MAX = 200


def attestation_table(metadata: MetaData) -> Table:
    table = Table(
        "attestation",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("community", String(40), nullable=False),
        Column("key", String(40), nullable=False),  # a fact key of the three systems
        Column("value", JSON, nullable=False),
        Column("note", Text, nullable=False),
        Column("files", JSON, nullable=False),  # [{name, sm3, size}]
        Column("attested_by", String(80), nullable=False),
        Column("attested_at", DateTime, nullable=False),
        Column("revoked_at", DateTime, nullable=True),
        Column("revoked_by", String(80), nullable=True),
        Column("revoke_reason", String(500), nullable=True),
        comment="Facts stated by people for what the platform's data cannot show, with files",
    )
    Index(None, table.c.community, table.c.key, table.c.attested_at)
    return table


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Attestation:
    id: int
    community: str
    key: str
    value: Any
    note: str
    files: list[dict[str, Any]]
    attested_by: str
    attested_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "community": self.community,
            "key": self.key,
            "value": self.value,
            "note": self.note,
            "files": self.files,
            "attested_by": self.attested_by,
            "attested_at": self.attested_at.isoformat() + "Z",
            "revoked_at": self.revoked_at.isoformat() + "Z" if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class Attestations:
    def __init__(
        self,
        engine: Engine,
        table: Table,
        audit: AuditLog,
        files_dir: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.table = table
        self.audit = audit
        self.files_dir = files_dir
        self.clock = clock

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(tzinfo=None)

    def add(
        self,
        community: str,
        key: str,
        value: Any,
        *,
        note: str,
        actor: str,
        files: Sequence[Attachment] = (),
    ) -> Attestation:
        """Record one attestation; the value is checked as an input file's value of that key would be."""
        where = f"attestation {community}/{key}"
        canonical = check_value(key, value, where)
        if not note.strip():
            raise EvaluationError.bad_value(where, "note", note, "a note saying what the value rests on")
        if len(files) > MAX_FILES:
            raise EvaluationError.bad_value(where, "files", len(files), f"at most {MAX_FILES} files")
        stored = [self._keep(f, where) for f in files]
        now = self._now()
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            pk = conn.execute(
                insert(t)
                .values(
                    community=community,
                    key=key,
                    value=_plain(canonical),
                    note=note.strip(),
                    files=stored,
                    attested_by=actor,
                    attested_at=now,
                )
                .returning(t.c.pk)
            ).scalar_one()
            self.audit.append(
                conn,
                actor=actor,
                action="evaluation.attest",
                target=f"{community}/{key}",
                detail={"attestation": pk, "files": [f["sm3"] for f in stored]},
            )
            row = conn.execute(select(t).where(t.c.pk == pk)).one()
        return self._from_row(row)

    def revoke(self, attestation_id: int, *, actor: str, reason: str) -> Attestation:
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            row = conn.execute(select(t).where(t.c.pk == attestation_id)).first()
            if row is None:
                raise EvaluationError.bad_value("revoke", "id", attestation_id, "the id of an attestation")
            if row.revoked_at is None:
                conn.execute(
                    sql_update(t)
                    .where(t.c.pk == attestation_id)
                    .values(revoked_at=self._now(), revoked_by=actor, revoke_reason=reason[:500])
                )
                self.audit.append(
                    conn,
                    actor=actor,
                    action="evaluation.attestation.revoke",
                    target=f"{row.community}/{row.key}",
                    detail={"attestation": attestation_id},
                )
            row = conn.execute(select(t).where(t.c.pk == attestation_id)).one()
        return self._from_row(row)

    def get(self, attestation_id: int) -> Attestation | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.pk == attestation_id)).first()
        return None if row is None else self._from_row(row)

    def list(self, community: str, *, include_revoked: bool = True) -> list[Attestation]:
        t = self.table
        query = select(t).where(t.c.community == community)
        if not include_revoked:
            query = query.where(t.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.key, t.c.attested_at, t.c.pk)).all()
        return [self._from_row(r) for r in rows]

    def standing(self, community: str, as_of: date) -> dict[str, Attestation]:
        """The latest attestation of each key made by the end of `as_of` and not revoked by then."""
        end = datetime.combine(as_of, time.max)
        out: dict[str, Attestation] = {}
        for a in self.list(community):
            if a.attested_at > end or (a.revoked_at is not None and a.revoked_at <= end):
                continue
            out[a.key] = a  # ordered by time: the last one stands
        return out

    def file_path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise EvaluationError.bad_value("file", "sm3", digest, "64 lower-case hex characters")
        return self.files_dir / digest[:2] / digest

    def _keep(self, attachment: Attachment, where: str) -> dict[str, Any]:
        name = os.path.basename(attachment.name.replace("\\", "/")).strip()
        if not name or len(name) > _FILE_NAME_MAX:
            raise EvaluationError.bad_value(
                where, "file name", attachment.name, "a file name of 1-200 characters"
            )
        if len(attachment.content) > MAX_FILE_BYTES:
            raise EvaluationError.bad_value(
                where, f"file {name}", len(attachment.content), f"at most {MAX_FILE_BYTES} bytes"
            )
        digest = sm3(attachment.content).hex()
        path = self.file_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(f".{os.getpid()}.tmp")
            temp.write_bytes(attachment.content)
            os.replace(temp, path)
        return {"name": name, "sm3": digest, "size": len(attachment.content)}

    @staticmethod
    def _from_row(row: Any) -> Attestation:
        return Attestation(
            row.pk,
            row.community,
            row.key,
            row.value,
            row.note,
            list(row.files),
            row.attested_by,
            row.attested_at,
            row.revoked_at,
            row.revoked_by,
            row.revoke_reason,
        )


class AttestationEvidence:
    """The engine's provider of attested facts: the standing attestation of each key."""

    def __init__(self, attestations: Attestations) -> None:
        self.attestations = attestations
        self._keys = frozenset(fact_kinds())

    @property
    def name(self) -> str:
        return NAME

    @property
    def keys(self) -> frozenset[str]:
        return self._keys

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        out: dict[str, Evidence] = {}
        for key, a in self.attestations.standing(community_code, as_of).items():
            value = check_value(key, a.value, f"attestation {a.id}")
            refs = (f"attestation:{a.id}", *(f"file:{f['sm3']}" for f in a.files))
            out[key] = Evidence(
                value,
                SourceKind.attestation,
                f"{a.attested_by} 于 {a.attested_at:%Y-%m-%d %H:%M} UTC 声明：{a.note}",
                refs,
            )
        return out


def open_attestations(services: Services) -> Attestations:
    """The attestations of a platform, their files under `$ANJU_DATA_DIR/attestations/`."""
    return Attestations(
        services.db.engine,
        services.db.table("attestation"),
        services.audit,
        services.settings.data_dir / "attestations",
        clock=services.pipeline.clock,
    )
