"""Personal fields at rest: which columns are sealed, their blind indexes, and the way back out.

The data standard's files mark each personal field with a kind (name, phone, id_number, plate, address,
card, photo, biometric). Every non-empty personal value is stored SM4-GCM-encrypted, bound to its table,
column and record ID; ID numbers, phones and plates also get a keyed blind-index column `_bi_<column>`
so that an exact search still finds the row. Quarantined payloads are sealed whole, because a record
that failed validation cannot be trusted to hold its personal data only in the marked fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from anju.security.crypto import BlindIndex, FieldCipher
from anju.security.keys import Keyring
from anju.security.masking import mask, mask_embedded_identifiers
from anju.standard.spec import FieldSpec, RecordType, record_type

BLIND_KINDS = frozenset({"id_number", "phone", "plate"})
QUARANTINE_TABLE = "quarantine"


def blind_column(column: str) -> str:
    return f"_bi_{column}"


def blind_fields(rtype: RecordType) -> list[FieldSpec]:
    """Fields of a record type that get a blind-index column, in field order."""
    return [f for f in rtype.fields if f.personal in BLIND_KINDS]


def personal_fields(rtype: RecordType) -> list[FieldSpec]:
    return [f for f in rtype.fields if f.personal is not None]


@dataclass(frozen=True, slots=True)
class _Sealed:
    position: int
    column: str
    kind: str
    binary: bool
    blind: bool


class RecordProtector:
    """Seals and opens the personal fields of stored records; one per keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.cipher = FieldCipher(keyring)
        self.blind = BlindIndex(keyring)
        self._plans: dict[str, tuple[_Sealed, ...]] = {}

    def _plan(self, rtype: RecordType) -> tuple[_Sealed, ...]:
        plan = self._plans.get(rtype.slug)
        if plan is None:
            plan = tuple(
                _Sealed(i, f.column, f.personal, f.type == "BLOB", f.personal in BLIND_KINDS)
                for i, f in enumerate(rtype.fields)
                if f.personal is not None
            )
            self._plans[rtype.slug] = plan
        return plan

    def blind_columns(self, rtype: RecordType) -> list[str]:
        return [blind_column(s.column) for s in self._plan(rtype) if s.blind]

    def seal_row(self, rtype: RecordType, row: list[Any], record_id: str) -> list[str | None]:
        """Encrypt the personal values of a row (in field order) in place; returns its blind indexes."""
        table = rtype.table_name
        blinds: list[str | None] = []
        cipher = self.cipher
        self.keyring.refresh_if_changed()
        for s in self._plan(rtype):
            value = row[s.position]
            if value is None or value == "" or value == b"":
                if s.blind:
                    blinds.append(None)
                continue
            if s.binary:
                row[s.position] = cipher.encrypt_bytes(value, table, s.column, record_id)
            else:
                if s.blind:
                    blinds.append(self.blind(s.kind, str(value)))
                row[s.position] = cipher.encrypt_text(str(value), table, s.column, record_id)
        return blinds

    def sealed_copy(
        self, rtype: RecordType, row: Sequence[Any] | None, record_id: str | None
    ) -> tuple[list[Any], list[str | None], int]:
        """(the row with its personal values sealed, its blind indexes, the key version sealed under),
        leaving `row` as it was: worker processes of a file import seal for the committing process."""
        assert row is not None and record_id is not None
        sealed = list(row)
        blinds = self.seal_row(rtype, sealed, record_id)
        return sealed, blinds, self.keyring.current

    def open_values(self, rtype: RecordType, values: Mapping[str, Any], record_id: str) -> dict[str, Any]:
        """A copy of `values` (keyed by column) with the personal columns decrypted."""
        out = dict(values)
        table = rtype.table_name
        for s in self._plan(rtype):
            stored = out.get(s.column)
            if stored is None or stored == "" or stored == b"":
                continue
            if s.binary:
                out[s.column] = self.cipher.decrypt_bytes(stored, table, s.column, record_id)
            else:
                out[s.column] = self.cipher.decrypt_text(stored, table, s.column, record_id)
        return out

    def reseal(self, rtype: RecordType, values: Mapping[str, Any], record_id: str) -> dict[str, Any]:
        """Columns whose ciphertext is under an older key version, re-encrypted under the current one."""
        changed: dict[str, Any] = {}
        table = rtype.table_name
        current = self.keyring.current
        for s in self._plan(rtype):
            stored = values.get(s.column)
            if stored is None or stored == "" or stored == b"":
                continue
            if FieldCipher.version_of(stored) == current:
                continue
            if s.binary:
                plain = self.cipher.decrypt_bytes(stored, table, s.column, record_id)
                changed[s.column] = self.cipher.encrypt_bytes(plain, table, s.column, record_id)
            else:
                text = self.cipher.decrypt_text(stored, table, s.column, record_id)
                changed[s.column] = self.cipher.encrypt_text(text, table, s.column, record_id)
        return changed

    def search_key(self, kind: str, value: str) -> str:
        return self.blind(kind, value)

    # ---- quarantined payloads ------------------------------------------------------------------------
    def seal_raw(self, text: str, raw_hash: str) -> str:
        return self.cipher.encrypt_text(text, QUARANTINE_TABLE, "raw", raw_hash)

    def open_raw(self, stored: str, raw_hash: str) -> str:
        return self.cipher.decrypt_text(stored, QUARANTINE_TABLE, "raw", raw_hash)

    def reseal_raw(self, stored: str, raw_hash: str) -> str | None:
        if FieldCipher.version_of(stored) == self.keyring.current:
            return None
        return self.seal_raw(self.open_raw(stored, raw_hash), raw_hash)


def mask_record(rtype: RecordType, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record keyed by field code, with personal values masked by kind and identifiers in free text
    masked wherever they appear. The one place output masking is decided."""
    out: dict[str, Any] = {}
    for f in rtype.fields:
        if f.code not in record:
            continue
        value = record[f.code]
        if value is None:
            out[f.code] = None
        elif f.personal is not None:
            out[f.code] = mask(f.personal, value if isinstance(value, str) else str(value))
        elif isinstance(value, str):
            out[f.code] = mask_embedded_identifiers(value)
        else:
            out[f.code] = value
    return out


def mask_raw(type_slug: str, raw: str, encoding: str) -> str:
    """A quarantined payload for someone who may not see it in full: a JSON object has its personal
    fields masked by kind; anything else (broken JSON, CSV, binary) has identifier-shaped runs masked,
    and binary payloads are hidden entirely."""
    if encoding != "utf-8":
        return f"[已隐藏 {len(raw)} 字符的二进制内容]"
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return mask_embedded_identifiers(raw)
    if not isinstance(obj, dict):
        return mask_embedded_identifiers(raw)
    rtype = record_type(type_slug)
    known = {f.code: f for f in rtype.fields}
    shown: dict[str, Any] = {}
    for key, value in obj.items():
        f = known.get(key.upper()) if isinstance(key, str) else None
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if f is not None and f.personal is not None:
            shown[key] = mask(f.personal, text)
        elif isinstance(value, str):
            shown[key] = mask_embedded_identifiers(value)
        else:
            shown[key] = value
    return orjson.dumps(shown).decode()
