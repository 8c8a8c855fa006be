"""What a decoder hands the pipeline: one record as decoded, with its raw form kept for quarantine."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from anju.standard.issues import Issue


class _Undecodable:
    def __repr__(self) -> str:
        return "UNDECODABLE"

    def __reduce__(self) -> str:
        return (
            "UNDECODABLE"  # unpickles as this module's singleton, so `is UNDECODABLE` holds across processes
        )


UNDECODABLE: Any = _Undecodable()


@dataclass(slots=True)
class Item:
    index: int  # position in the batch, or line/row number in a file (1-based for files)
    raw: bytes  # exactly what arrived for this record (a line, an array element re-serialised, a row)
    obj: Any = UNDECODABLE
    issues: list[Issue] = field(default_factory=list)
    # Where this one record came from within its source (an MQTT topic); quarantine keeps it with the
    # record, in place of the batch's own source detail, when a batch mixes several origins.
    source_detail: str | None = None
    # The estate this record was sent for, when a batch mixes estates (an MQTT topic's); it takes the place
    # of the batch's estate for this record, in storage, quarantine and the published event.
    estate: str | None = None

    @property
    def decoded(self) -> bool:
        return self.obj is not UNDECODABLE


def raw_digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def raw_text(raw: bytes) -> tuple[str, str]:
    """(text, encoding) for storing a raw payload: UTF-8 as is; anything else, or text with NUL (which
    PostgreSQL text cannot hold), as base64."""
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode("ascii"), "base64"


def raw_bytes(text: str, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")
