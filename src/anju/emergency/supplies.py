"""Emergency supplies (应急物资): stores, items with quantity, minimum level and expiry, every stock
movement, and the alarms of stock below its minimum and of items near expiry.

`check_supplies(svc, now)` (called by the alarm runtime's tick) raises `supply_below_minimum` and
`supply_near_expiry` (alarms/data/rules.yaml) through the alarm store once when an item enters the
condition, and clears the alarm when it leaves it (restocked, replaced); the item remembers since when it
is alarmed, so a restarted platform neither repeats nor forgets. A store's custodian and phone are personal
data: stored sealed (SM4-GCM, bound to table, column and row), shown masked to staff and never to residents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from anju.alarms.model import AlarmSignal
from anju.db.engine import WRITE_OPTIONS
from anju.emergency.catalog import EmergencyError, catalog, coordinate, day, text, whole
from anju.emergency.tables import SEALED
from anju.security.masking import mask_name, mask_phone

if TYPE_CHECKING:
    from anju.services import Services

RULE = "emergency.supplies"
BELOW_MINIMUM = "supply_below_minimum"
NEAR_EXPIRY = "supply_near_expiry"


def _now(svc: Services) -> datetime:
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def _writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def create_store(
    svc: Services,
    *,
    estate: str,
    name: str,
    location: str,
    actor: str,
    lon: float | None = None,
    lat: float | None = None,
    custodian: str | None = None,
    custodian_phone: str | None = None,
) -> int:
    values: dict[str, Any] = {
        "name": text("name", name, max_len=200),
        "location": text("location", location, max_len=300),
        "lon": None if lon is None else coordinate("lon", lon, lon=True),
        "lat": None if lat is None else coordinate("lat", lat, lon=False),
    }
    person = text("custodian", custodian, max_len=50, required=False)
    phone = text("custodian_phone", custodian_phone, max_len=20, required=False)
    if phone is not None and not phone.replace("-", "").isdigit():
        raise EmergencyError.bad(
            "custodian_phone",
            "***",
            "电话号码（数字，可含连字符）",
            "a phone number (digits, hyphens allowed)",
        )
    t = svc.db.table("supply_store")
    region = svc.db.table("region")
    cipher = svc.protector.cipher
    with _writing(svc) as conn, conn.begin():
        code = text("estate", estate, max_len=40)
        if (
            conn.execute(
                select(region.c.code).where(region.c.code == code, region.c.level == "estate")
            ).first()
            is None
        ):
            raise EmergencyError.unknown("estate", code, "小区", "estate")
        store_id = int(
            conn.execute(insert(t).values(estate=code, created_at=_now(svc), **values)).inserted_primary_key[
                0
            ]
        )
        sealed = {
            col: None if v is None else cipher.encrypt_text(v, "supply_store", col, str(store_id))
            for col, v in (("custodian", person), ("custodian_phone", phone))
        }
        conn.execute(update(t).where(t.c.id == store_id).values(**sealed))
        svc.audit.append(
            conn, actor=actor, action="emergency.supply_store.create", target=f"supply_store:{store_id}"
        )
    return store_id


def _item(conn: Connection, svc: Services, item_id: int) -> Any:
    t = svc.db.table("supply_item")
    row = conn.execute(select(t).where(t.c.id == item_id).with_for_update()).first()
    if row is None:
        raise EmergencyError.unknown("item_id", item_id, "物资", "supply item")
    return row


def add_item(
    svc: Services,
    store_id: int,
    *,
    name: str,
    unit: str,
    quantity: int,
    minimum: int,
    actor: str,
    expires_on: date | str | None = None,
    location: str | None = None,
) -> int:
    values = {
        "name": text("name", name, max_len=200),
        "unit": text("unit", unit, max_len=20),
        "quantity": whole("quantity", quantity),
        "minimum": whole("minimum", minimum),
        "expires_on": None if expires_on is None else day("expires_on", expires_on),
        "location": text("location", location, max_len=200, required=False),
    }
    store, t = svc.db.table("supply_store"), svc.db.table("supply_item")
    now = _now(svc)
    with _writing(svc) as conn, conn.begin():
        if conn.execute(select(store.c.id).where(store.c.id == store_id)).first() is None:
            raise EmergencyError.unknown("store_id", store_id, "物资储备点", "supply store")
        if conn.execute(select(t.c.id).where(t.c.store_id == store_id, t.c.name == values["name"])).first():
            raise EmergencyError.bad(
                "name",
                values["name"],
                "该储备点尚未登记的物资名称（已有的请调整库存）",
                "a name not yet used in this store (move stock of the existing item instead)",
            )
        item_id = int(
            conn.execute(insert(t).values(store_id=store_id, updated_at=now, **values)).inserted_primary_key[
                0
            ]
        )
        if values["quantity"]:
            conn.execute(
                insert(svc.db.table("supply_movement")).values(
                    item_id=item_id,
                    at=now,
                    delta=values["quantity"],
                    quantity_after=values["quantity"],
                    reason="stock_in",
                    note=None,
                    actor=actor,
                )
            )
        svc.audit.append(
            conn, actor=actor, action="emergency.supply_item.create", target=f"supply_item:{item_id}"
        )
    return item_id


def move_stock(
    svc: Services, item_id: int, delta: int, *, reason: str, actor: str, note: str | None = None
) -> int:
    """Add (delta > 0) or take (delta < 0) stock; answers the quantity after. Stock never goes below 0."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise EmergencyError.bad(
            "delta",
            delta,
            "非零整数（入库为正，出库为负）",
            "a whole number other than 0 (positive in, negative out)",
        )
    why = catalog().check("movement_reasons", "reason", reason)
    remark = text("note", note, max_len=500, required=False)
    t = svc.db.table("supply_item")
    now = _now(svc)
    with _writing(svc) as conn, conn.begin():
        row = _item(conn, svc, item_id)
        after = row.quantity + delta
        if after < 0:
            raise EmergencyError.bad(
                "delta",
                delta,
                f"不超过现有库存 {row.quantity} 的出库量",
                f"at most the {row.quantity} in stock taken out",
            )
        conn.execute(update(t).where(t.c.id == item_id).values(quantity=after, updated_at=now))
        conn.execute(
            insert(svc.db.table("supply_movement")).values(
                item_id=item_id,
                at=now,
                delta=delta,
                quantity_after=after,
                reason=why,
                note=remark,
                actor=actor,
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.supply_item.move",
            target=f"supply_item:{item_id}",
            detail={"delta": delta, "reason": why},
        )
    return int(after)


def update_item(
    svc: Services,
    item_id: int,
    *,
    actor: str,
    minimum: int | None = None,
    expires_on: date | str | None = None,
) -> None:
    """Change an item's minimum level or expiry date (a new batch replacing an expiring one)."""
    values: dict[str, Any] = {}
    if minimum is not None:
        values["minimum"] = whole("minimum", minimum)
    if expires_on is not None:
        values["expires_on"] = day("expires_on", expires_on)
    if not values:
        raise EmergencyError.bad(
            "minimum", None, "minimum 或 expires_on 至少一项", "minimum or expires_on, at least one"
        )
    t = svc.db.table("supply_item")
    with _writing(svc) as conn, conn.begin():
        _item(conn, svc, item_id)
        conn.execute(update(t).where(t.c.id == item_id).values(updated_at=_now(svc), **values))
        svc.audit.append(
            conn, actor=actor, action="emergency.supply_item.update", target=f"supply_item:{item_id}"
        )


def movements(svc: Services, item_id: int) -> list[dict[str, Any]]:
    m = svc.db.table("supply_movement")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(m).where(m.c.item_id == item_id).order_by(m.c.pk)).all()
    return [
        {
            "at": r.at.replace(tzinfo=UTC).isoformat(),
            "delta": r.delta,
            "quantity_after": r.quantity_after,
            "reason": r.reason,
            "note": r.note,
            "actor": r.actor,
        }
        for r in rows
    ]


def store_estate(svc: Services, store_id: int) -> str | None:
    """The estate of a supply store, or None if there is no such store (scope checks of the API)."""
    t = svc.db.table("supply_store")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == store_id)).scalar()
    return None if found is None else str(found)


def item_estate(svc: Services, item_id: int) -> str | None:
    """The estate of a supply item's store, or None if there is no such item."""
    item, store = svc.db.table("supply_item"), svc.db.table("supply_store")
    with svc.db.engine.connect() as conn:
        found = conn.execute(
            select(store.c.estate).join(item, item.c.store_id == store.c.id).where(item.c.id == item_id)
        ).scalar()
    return None if found is None else str(found)


# ---- alarms ------------------------------------------------------------------------------------------
@dataclass
class SupplyCheck:
    raised: list[tuple[str, int]] = field(default_factory=list)  # (alarm type, item id)
    cleared: list[tuple[str, int]] = field(default_factory=list)


def _signal(svc: Services, kind: str, row: Any, at: datetime, *, clear: bool) -> AlarmSignal:
    atype = svc.engine.rules.types[kind]
    if kind == BELOW_MINIMUM:
        what_zh, what_en = (
            f"库存 {row.quantity}{row.unit}，最低 {row.minimum}{row.unit}",
            f"{row.quantity} {row.unit} in stock, minimum {row.minimum}",
        )
    else:
        what_zh, what_en = f"有效期至 {row.expires_on}", f"expires on {row.expires_on}"
    return AlarmSignal(
        type=kind,
        rule=RULE,
        severity=atype.severity,
        # The item itself is the originator: one open alarm per (item, condition) by the store's open key.
        originator_kind="supply_item",
        originator_id=str(row.id),
        estate=row.estate,
        at=at,
        title_zh=f"{atype.zh}：{row.store_name} {row.name}（{what_zh}）"[:200],
        title_en=f"{atype.en}: {row.store_name} {row.name} ({what_en})"[:200],
        location=f"{row.store_name} {row.store_location}"[:300],
        lon=row.lon,
        lat=row.lat,
        details={
            "supply_item": row.id,
            "store": row.store_id,
            "name": row.name,
            "quantity": row.quantity,
            "minimum": row.minimum,
            "expires_on": None if row.expires_on is None else row.expires_on.isoformat(),
        },
        clear=clear,
    )


def check_supplies(svc: Services, now: datetime | None = None) -> SupplyCheck:
    """Raise or clear the supply alarms of every item as of `now` (default: the platform's clock)."""
    at = (now or svc.pipeline.clock()).astimezone(UTC)
    today = at.astimezone(svc.settings.timezone).date()
    horizon = today + timedelta(days=catalog().near_expiry_days)
    item, store = svc.db.table("supply_item"), svc.db.table("supply_store")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(
                item,
                store.c.estate,
                store.c.name.label("store_name"),
                store.c.location.label("store_location"),
                store.c.lon,
                store.c.lat,
            ).join(store, store.c.id == item.c.store_id)
        ).all()
    out = SupplyCheck()
    naive = at.replace(tzinfo=None)
    for row in rows:
        low = row.quantity < row.minimum
        near = row.expires_on is not None and row.expires_on <= horizon
        for kind, holds, since_col in (
            (BELOW_MINIMUM, low, "below_minimum_since"),
            (NEAR_EXPIRY, near, "near_expiry_since"),
        ):
            if holds == (getattr(row, since_col) is not None):
                continue
            # Signal first, then mark: the store keeps one open alarm per item and condition, so a repeat
            # (two ticks at once, or a tick after a crash between the two steps) only counts it again,
            # whereas marking first could lose the alarm for good.
            svc.alarms.raise_signal(_signal(svc, kind, row, at, clear=not holds))
            if _claim(svc, int(row.id), since_col, naive if holds else None):
                (out.raised if holds else out.cleared).append((kind, int(row.id)))
    return out


def _claim(svc: Services, item_id: int, since_col: str, since: datetime | None) -> bool:
    """Move an item's alarm mark from unset to set (or back) if nobody did so in the meantime."""
    item = svc.db.table("supply_item")
    col = item.c[since_col]
    unchanged = col.is_(None) if since is not None else col.is_not(None)
    with _writing(svc) as conn, conn.begin():
        done = conn.execute(update(item).where(item.c.id == item_id, unchanged).values({since_col: since}))
    return bool(done.rowcount)


# ---- views -------------------------------------------------------------------------------------------
def _status(row: Any, horizon: date) -> tuple[str, str]:
    if row.expires_on is not None and row.expires_on <= horizon:
        return "near_expiry", "临近过期"
    if row.quantity < row.minimum:
        return "below_minimum", "库存不足"
    return "ok", "充足"


def supplies_view(
    svc: Services, estates: list[str], *, resident: bool, unmask: bool = False
) -> list[dict[str, Any]]:
    """Stores and items of the estates. `resident`: what residents may see — where supplies are, what
    and how much — without the custodian, phone, who moved stock or notes (no personal data at all).
    Staff see the custodian masked, or in full with `unmask` (the caller audits that)."""
    store, item = svc.db.table("supply_store"), svc.db.table("supply_item")
    today = svc.pipeline.clock().astimezone(svc.settings.timezone).date()
    horizon = today + timedelta(days=catalog().near_expiry_days)
    with svc.db.engine.connect() as conn:
        stores = conn.execute(
            select(store).where(store.c.estate.in_(estates)).order_by(store.c.estate, store.c.id)
        ).all()
        items = (
            conn.execute(
                select(item)
                .where(item.c.store_id.in_([s.id for s in stores]))
                .order_by(item.c.store_id, item.c.id)
            ).all()
            if stores
            else []
        )
    out = []
    for s in stores:
        entry: dict[str, Any] = {
            "id": s.id,
            "estate": s.estate,
            "name": s.name,
            "location": s.location,
            "lon": s.lon,
            "lat": s.lat,
            "items": [],
        }
        if not resident:
            for col, kind in SEALED["supply_store"].items():
                stored = getattr(s, col)
                plain = (
                    None
                    if stored is None
                    else svc.protector.cipher.decrypt_text(stored, "supply_store", col, str(s.id))
                )
                if plain is not None and not unmask:
                    plain = mask_name(plain) if kind == "name" else mask_phone(plain)
                entry[col] = plain
        for i in (i for i in items if i.store_id == s.id):
            status, status_zh = _status(i, horizon)
            row = {
                "id": i.id,
                "name": i.name,
                "unit": i.unit,
                "quantity": i.quantity,
                "expires_on": None if i.expires_on is None else i.expires_on.isoformat(),
                "status": status,
                "status_zh": status_zh,
            }
            if not resident:
                row.update(minimum=i.minimum, location=i.location)
            entry["items"].append(row)
        out.append(entry)
    return out
