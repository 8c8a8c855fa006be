"""Sealing and opening the personal columns of registry rows (tables.SEALED), with their blind indexes.

The same field cipher and blind index as the stored records: a value is bound to its table, column and
row ID, so a ciphertext copied into another row or column does not decrypt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anju.registry.tables import BLIND, SEALED
from anju.security.crypto import FieldCipher
from anju.security.masking import mask
from anju.security.personal import RecordProtector


class RegistrySealer:
    def __init__(self, protector: RecordProtector) -> None:
        self.protector = protector

    def seal(self, table: str, row_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `values` with its sealed columns encrypted and their blind indexes added.

        A sealed column given as None or "" stays None, and so does its blind index; a blind index given
        in `values` is kept."""
        out = dict(values)
        sealed = SEALED.get(table, {})
        blinds = BLIND.get(table, {})
        self.protector.keyring.refresh_if_changed()
        for column, kind in sealed.items():
            if column not in out:
                continue
            value = out[column]
            if value is None or value == "":
                out[column] = None
                if column in blinds:
                    out[blinds[column]] = None
                continue
            text = str(value)
            if column in blinds and values.get(blinds[column]) is None:
                # A caller may give the blind index itself, of a normalised form (residence addresses).
                out[blinds[column]] = self.blind(kind, text)
            out[column] = self.protector.cipher.encrypt_text(text, table, column, row_id)
        return out

    def open(self, table: str, row_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `values` with its sealed columns decrypted; blind-index columns dropped."""
        out = {k: v for k, v in values.items() if not k.startswith("_bi_")}
        for column in SEALED.get(table, {}):
            stored = out.get(column)
            if stored:
                out[column] = self.protector.cipher.decrypt_text(stored, table, column, row_id)
        return out

    def masked(self, table: str, row_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Opened, then every personal value masked by its kind: what most roles see."""
        out = self.open(table, row_id, values)
        for column, kind in SEALED.get(table, {}).items():
            if out.get(column):
                out[column] = mask(kind, str(out[column]))
        return out

    def blind(self, kind: str, value: str) -> str:
        return self.protector.search_key(kind, value)

    def reseal(self, table: str, row_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Sealed columns under an older key version, re-encrypted under the current one."""
        changed: dict[str, Any] = {}
        current = self.protector.keyring.current
        cipher = self.protector.cipher
        for column in SEALED.get(table, {}):
            stored = values.get(column)
            if not stored or FieldCipher.version_of(stored) == current:
                continue
            changed[column] = cipher.encrypt_text(
                cipher.decrypt_text(stored, table, column, row_id), table, column, row_id
            )
        return changed
