"""What the affairs modules share about storage: write connections, sealing of personal columns, and the
checks that a region, an estate or a registry person exists.

Sealed columns (tables.SEALED) use the platform's field cipher bound to table, column and row id, as the
registry does. Output is always masked: names and phones by their kind; free text (a visit's finding, a
disposal's action) is shown to those allowed to read it with phone- and ID-number-shaped runs masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from anju.affairs.catalog import AffairsError, text
from anju.affairs.tables import SEALED
from anju.db.engine import WRITE_OPTIONS
from anju.security.masking import mask, mask_embedded_identifiers

if TYPE_CHECKING:
    from anju.services import Services


def writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def seal(svc: Services, table: str, row_id: int | str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with the table's sealed columns encrypted (None and "" stay None)."""
    out = dict(values)
    cipher = svc.protector.cipher
    svc.protector.keyring.refresh_if_changed()
    for column in SEALED.get(table, {}):
        if column in out:
            value = out[column]
            out[column] = (
                None if value in (None, "") else cipher.encrypt_text(str(value), table, column, str(row_id))
            )
    return out


def shown(svc: Services, table: str, row_id: int | str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with the sealed columns opened and masked for output."""
    out = dict(values)
    cipher = svc.protector.cipher
    for column, kind in SEALED.get(table, {}).items():
        stored = out.get(column)
        if not stored:
            continue
        plain = cipher.decrypt_text(str(stored), table, column, str(row_id))
        out[column] = mask_embedded_identifiers(plain) if kind == "text" else mask(kind, plain)
    return out


def region_code(conn: Connection, svc: Services, field: str, value: Any, *, estate: bool = False) -> str:
    """A region code that exists (an estate when `estate`), else a clear error."""
    code = text(field, value, max_len=40)
    assert code is not None
    region = svc.db.table("region")
    row = conn.execute(select(region.c.level).where(region.c.code == code)).first()
    if row is None or (estate and row.level != "estate"):
        what_zh, what_en = ("小区", "estate") if estate else ("区划节点", "region")
        raise AffairsError.unknown(field, code, what_zh, what_en)
    return code


def person_ids(conn: Connection, svc: Services, field: str, values: Iterable[Any]) -> list[str]:
    """Registry person ids that exist, in the order given; an unknown one is refused by name."""
    person = svc.db.table("person")
    wanted = [text(f"{field}[{i}]", v, max_len=32) for i, v in enumerate(values)]
    found = set(
        conn.execute(select(person.c.id).where(person.c.id.in_([w for w in wanted if w]))).scalars().all()
    )
    for i, w in enumerate(wanted):
        if w not in found:
            raise AffairsError.unknown(f"{field}[{i}]", w, "登记人员", "registry person")
    return [w for w in wanted if w is not None]


def masked_people(svc: Services, conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Registry people by id, as most roles see them: masked name, sex, birth year."""
    person = svc.db.table("person")
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(select(person).where(person.c.id.in_(wanted))):
        m = svc.registry.masked("person", row)
        out[str(row.id)] = {
            "id": row.id,
            "name": m.get("name"),
            "sex": row.sex,
            "birth_year": row.birth_date.year if row.birth_date else None,
        }
    return out
