"""The projection of standard records into the registry (一标三实): places from building records, people and
where they live from resident registrations and the police population sync.

Records are the source of truth; the registry is what they say, folded into one row per estate, building,
unit, house, person and residence. Every write goes through `RegistryStore.upsert`, so re-projecting a
record changes nothing and a record older (by its own time field) than what a row holds changes nothing.
That makes `rebuild` — every stored record again, in time order — safe at any moment: it is how the
registry catches up after a failure, since bus subscribers are best-effort.

Each batch is one transaction with one audit entry (`registry.project`). A record whose values cannot be
stored (an identifier or text longer than its registry column) is skipped alone, inside a savepoint, and
counted; the check is made here, not left to the database, so SQLite and PostgreSQL skip the same records.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, String, Table, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from anju.db.database import Database
from anju.db.engine import WRITE_OPTIONS
from anju.ingest.bus import Bus, Event, StoredRecords
from anju.ingest.pipeline import ESTATE_CODE, Clock
from anju.registry import catalog
from anju.registry.addresses import house_address, normalise
from anju.registry.regions import RegionTree
from anju.registry.store import Change, Provenance, RegistryStore, naive_utc
from anju.registry.tables import SEALED
from anju.security.audit import AuditConflict, AuditLog
from anju.security.personal import RecordProtector
from anju.standard.dictionaries import Dictionary
from anju.standard.spec import RecordType, record_type

log = logging.getLogger(__name__)

PROJECTED = ("building_info", "resident_registration", "population_sync")
_RETRIES = 3
_DISTRICT = re.compile(r"^\d{6}$")
_STREET = re.compile(r"^\d{3}$")
_OLDEST = datetime.min  # records without a time sort first: anything dated supersedes them


def seal_row_id_column(table: str) -> str:
    """The column whose value a registry table's sealed columns are bound to.

    Emergency contacts have an autoincrement key that is unknown before the insert, so their name and
    phone are bound to the person they belong to instead."""
    return "person_id" if table == "emergency_contact" else "id"


class _Unfit(Exception):
    """A record's value does not fit its registry column; the record is skipped."""

    def __init__(self, table: str, column: str, length: int) -> None:
        super().__init__(f"{table}.{column} is longer than {length} characters")


@dataclass
class ProjectionReport:
    """What projecting some records did: per table, how many rows were created, updated, unchanged, stale."""

    records: int = 0
    skipped: int = 0
    regions: int = 0  # region nodes created
    linked: int = 0  # residences linked to a house that arrived after them
    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, table: str, change: Change) -> None:
        counts = self.tables.setdefault(table, {"created": 0, "updated": 0, "unchanged": 0, "stale": 0})
        counts[change] += 1

    def merge(self, other: ProjectionReport) -> None:
        self.records += other.records
        self.skipped += other.skipped
        self.regions += other.regions
        self.linked += other.linked
        for table, counts in other.tables.items():
            mine = self.tables.setdefault(table, dict.fromkeys(counts, 0))
            for change, n in counts.items():
                mine[change] = mine.get(change, 0) + n

    def changed(self, table: str) -> int:
        counts = self.tables.get(table, {})
        return counts.get("created", 0) + counts.get("updated", 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "skipped": self.skipped,
            "regions": self.regions,
            "linked": self.linked,
            "tables": {t: dict(c) for t, c in sorted(self.tables.items())},
        }


@dataclass(slots=True)
class _Tx:
    """One batch's transaction: its connection, its time and what it did."""

    conn: Connection
    now: datetime
    report: ProjectionReport
    regions_seen: set[str] = field(default_factory=set)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    """VARCHAR2 counts (门户数量, 住宅单元数量) hold digits when they hold anything usable."""
    text = _text(value)
    if text is None:
        return None
    text = text.translate({cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)})
    return int(text) if text.isdigit() else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _when(value: Any) -> datetime | None:
    return naive_utc(value) if isinstance(value, datetime) else None


def _category_rules() -> dict[str, Any]:
    return catalog.load("residence_categories")


def residence_category(rylx: str | None, relation: str | None, reason: str | None) -> tuple[str, bool]:
    """(category, key person) by the rules of data/residence_categories.yaml.

    RYLX decides when it names a category; its 重点 code marks the person and leaves the category to the
    other rules. A lodging reason makes a lodger of anyone but the householder (relation 0), who cannot
    lodge in their own house; otherwise the relation to the householder decides."""
    rules = _category_rules()
    categories = catalog.residence_categories()
    mapped = (rules.get("rylx") or {}).get(rylx) if rylx else None
    if mapped in categories:
        return str(mapped), False
    key = mapped == "key"
    lodging = {str(r) for r in rules.get("lodging_reasons") or ()}
    if reason is not None and reason in lodging and relation != "0":
        return "lodger", key
    defaults = rules.get("relation_default") or {}
    category = defaults.get(relation) if relation is not None else None
    return str(category or defaults.get("default", "resident")), key


class Projection:
    """Turns stored building_info, resident_registration and population_sync records into registry rows."""

    def __init__(
        self,
        db: Database,
        store: RegistryStore,
        audit: AuditLog,
        protector: RecordProtector,
        regions: RegionTree,
        *,
        dictionaries: Callable[[], Mapping[str, Dictionary]],
        timezone: ZoneInfo,
        clock: Clock,
    ) -> None:
        self.db = db
        self.store = store
        self.audit = audit
        self.protector = protector
        self.regions = regions
        self.dictionaries = dictionaries
        self.timezone = timezone
        self.clock = clock
        self._handlers: dict[str, Callable[[_Tx, Mapping[str, Any], str | None], None]] = {
            "building_info": self._building,
            "resident_registration": self._resident,
            "population_sync": self._population,
        }

    # ---- entry points -----------------------------------------------------------------------------------
    def attach(self, bus: Bus) -> Callable[[], None]:
        """Project every batch the pipeline stores from now on; returns the unsubscribe function."""
        return bus.subscribe(self.on_records)

    def on_records(self, event: Event) -> None:
        if isinstance(event, StoredRecords) and event.record_type in self._handlers:
            pairs = list(zip(event.records, event.record_estates(), strict=True))
            self._project(event.record_type, pairs, source=event.source, actor="system")

    def project(
        self,
        type_slug: str,
        records: Sequence[Mapping[str, Any]],
        *,
        estate: str | None = None,
        source: str = "",
        actor: str = "system",
    ) -> ProjectionReport:
        """Project records of one type (field code -> normalised plaintext value) in one transaction.

        `estate` is the estate the batch was ingested for, used where a record names none."""
        return self._project(type_slug, [(r, estate) for r in records], source=source, actor=actor)

    def count_records(self) -> int:
        """How many stored records `rebuild` would read."""
        total = 0
        with self.db.engine.connect() as conn:
            for slug in PROJECTED:
                table = self.db.table(record_type(slug).table_name)
                total += int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        return total

    def rebuild(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        actor: str = "system",
        batch_size: int = 500,
    ) -> ProjectionReport:
        """Project every stored record of the three types again, all types merged in time order.

        Merged rather than type by type so that the registry ends as it would have had the records
        arrived in the order they were made (a person's registration and their police record interleave)."""
        total = ProjectionReport()
        with ExitStack() as stack:
            streams = [
                self._stream(stack.enter_context(self.db.engine.connect()), slug, rank, batch_size)
                for rank, slug in enumerate(PROJECTED)
            ]
            pending: list[tuple[Mapping[str, Any], str | None]] = []
            pending_type: str | None = None
            for _key, slug, values, estate in heapq.merge(*streams, key=lambda item: item[0]):
                if pending and (slug != pending_type or len(pending) >= batch_size):
                    total.merge(self._project(str(pending_type), pending, source="rebuild", actor=actor))
                    if progress is not None:
                        progress(len(pending))
                    pending = []
                pending_type = slug
                pending.append((values, estate))
            if pending:
                total.merge(self._project(str(pending_type), pending, source="rebuild", actor=actor))
                if progress is not None:
                    progress(len(pending))
        return total

    def _stream(
        self, conn: Connection, slug: str, rank: int, batch_size: int
    ) -> Iterator[tuple[tuple[datetime, int, int], str, dict[str, Any], str | None]]:
        """Stored records of one type in time order, decrypted, as field code -> value."""
        rtype = record_type(slug)
        table = self.db.table(rtype.table_name)
        fields = [f for f in rtype.fields if f.type != "BLOB"]  # images are not projected
        time_expr = self._time_expr(rtype, table)
        query = select(table.c.pk, table.c._estate, *(table.c[f.column] for f in fields))
        if time_expr is not None:
            query = query.add_columns(time_expr.label("_t")).order_by(
                time_expr.asc().nulls_first(), table.c.pk
            )
        else:
            query = query.order_by(table.c.pk)
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        for row in result:
            raw = dict(row._mapping)
            opened = self.protector.open_values(rtype, raw, str(raw["id"]))
            values = {f.code: opened[f.column] for f in fields}
            at = naive_utc(raw["_t"]) if time_expr is not None else None
            yield (at or _OLDEST, rank, int(raw["pk"])), slug, values, raw["_estate"]

    @staticmethod
    def _time_expr(rtype: RecordType, table: Table) -> Any:
        if rtype.slug == "building_info":
            return func.coalesce(table.c.gxsj, table.c.cjsj)
        return table.c[rtype.field(rtype.time_field).column] if rtype.time_field else None

    # ---- one batch ----------------------------------------------------------------------------------------
    def _project(
        self,
        type_slug: str,
        records: Sequence[tuple[Mapping[str, Any], str | None]],
        *,
        source: str,
        actor: str,
    ) -> ProjectionReport:
        handler = self._handlers[type_slug]
        for attempt in range(_RETRIES):
            report = ProjectionReport(records=len(records))
            try:
                with self.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                    now = self.clock()
                    tx = _Tx(conn, naive_utc(now) or now, report)
                    for values, estate in records:
                        try:
                            with conn.begin_nested():
                                handler(tx, values, estate)
                        except _Unfit as exc:
                            report.skipped += 1
                            log.warning(
                                "registry projection skipped %s %s: %s", type_slug, values.get("ID"), exc
                            )
                    self.audit.append(
                        conn,
                        actor=actor,
                        action="registry.project",
                        target=type_slug,
                        detail={"source": source[:200], **report.to_json()},
                    )
            except (IntegrityError, AuditConflict):
                # A concurrent batch created one of these rows (or region nodes) first: project again
                # against what is stored now, where the row is an update.
                if attempt == _RETRIES - 1:
                    raise
                continue
            if report.regions:
                self.regions.invalidate()
            return report
        raise AssertionError("unreachable")

    # ---- writing helpers ----------------------------------------------------------------------------------
    def _write(
        self,
        tx: _Tx,
        table: str,
        row_id: str,
        values: Mapping[str, Any],
        provenance: Provenance,
        *,
        key: str = "id",
    ) -> Change:
        """Upsert with None values dropped (they leave stored values alone and let column defaults apply)."""
        present = {k: v for k, v in values.items() if v is not None}
        self._check_fit(table, {key: row_id, **present})
        change = self.store.upsert(tx.conn, table, row_id, present, provenance, now=tx.now, key=key)
        tx.report.count(table, change)
        return change

    def _check_fit(self, table: str, values: Mapping[str, Any]) -> None:
        t = self.store.table(table)
        sealed = SEALED.get(table, {})
        for column, value in values.items():
            if column in sealed or not isinstance(value, str):
                continue
            kind = t.c[column].type
            if isinstance(kind, String) and kind.length is not None and len(value) > kind.length:
                raise _Unfit(table, column, kind.length)

    def _provenance(
        self, slug: str, table: str, values: Mapping[str, Any], at: datetime | None
    ) -> Provenance:
        authoritative = catalog.authoritative_sources().get(slug) or []
        return Provenance(
            source=slug,
            source_record=_text(values.get("ID")),
            source_time=at,
            verified_by=slug if table in authoritative else None,
        )

    def _code(self, rtype: RecordType, code: str, value: Any) -> str | None:
        """A dictionary field's code: records may carry a code or its name (居住事由 accepts both)."""
        text = _text(value)
        dictionary_name = rtype.field(code).dictionary
        if text is None or dictionary_name is None:
            return text
        d = self.dictionaries().get(dictionary_name)
        if d is None or text in d:
            return text
        return d.code_for_name(text) or text

    def _local_date(self, value: Any) -> date | None:
        """A date of birth: stored as a UTC instant, meant as a day in the deployment's time zone."""
        at = _when(value)
        if at is None:
            return None
        return at.replace(tzinfo=ZoneInfo("UTC")).astimezone(self.timezone).date()

    # ---- building_info --------------------------------------------------------------------------------------
    def _building(self, tx: _Tx, rec: Mapping[str, Any], batch_estate: str | None) -> None:
        slug = "building_info"
        at = _when(rec.get("GXSJ")) or _when(rec.get("CJSJ"))
        estate = _text(rec.get("XQ_BM")) or batch_estate
        if estate is None:
            return
        self._regions(tx, rec, estate)
        estate_name = _text(rec.get("XQ_MC"))
        if estate_name is None and self.store.get(tx.conn, "estate", estate, key="code") is None:
            estate_name = estate  # a name is required; a later record naming the estate replaces it
        self._write(
            tx,
            "estate",
            estate,
            {"name": estate_name, "police_station": _text(rec.get("SSPCS_MC"))},
            self._provenance(slug, "estate", rec, at),
            key="code",
        )
        code = str(rec["JZ_BM"])
        building_id = _text(rec.get("LD_BS")) or code
        building_name = _text(rec.get("LDH_MC")) or _text(rec.get("JZWMC")) or code
        street_address = _text(rec.get("DZ"))
        self._write(
            tx,
            "building",
            building_id,
            {
                "estate": estate,
                "code": code,
                "name": building_name,
                "address": street_address,
                "street": _text(rec.get("JLXMC")),
                "nature": _text(rec.get("JZ_XZ")),
                "floors_above": rec.get("DM_CS"),
                "floors_below": rec.get("DX_CS"),
                "inhabited_below": rec.get("DXCJZ_CS"),
                "unit_count": _int(rec.get("ZZDY_SL")),
                "households": _int(rec.get("MH_SL")),
                "area_m2": _float(rec.get("MJPFM")),
                "built_at": _when(rec.get("XJ_RQSJ")),
                "lon": _float(rec.get("DQJD")),
                "lat": _float(rec.get("DQWD")),
                "community": _text(rec.get("CSQDM")),
            },
            self._provenance(slug, "building", rec, at),
        )
        unit_name = _text(rec.get("DY_MC"))
        unit_code = _text(rec.get("DY_BM"))
        unit_id = _text(rec.get("DY_BS"))
        if unit_id is None and (unit_code or unit_name):
            unit_id = f"{building_id}/{unit_code or unit_name}"
        if unit_id is not None:
            self._write(
                tx,
                "unit",
                unit_id,
                {
                    "building_id": building_id,
                    "estate": estate,
                    "code": unit_code,
                    "name": unit_name or unit_id,
                },
                self._provenance(slug, "unit", rec, at),
            )
        number = _text(rec.get("FW_BH"))
        house_code = _text(rec.get("FW_BM"))
        house_id = _text(rec.get("FW_BS")) or house_code
        if house_id is None and number is not None:
            house_id = f"{unit_id or building_id}/{number}"
        if house_id is None:
            return
        address = house_address(street_address or "", building_name, unit_name, number or "")
        address_key = normalise(address)
        key_flag = _text(rec.get("ZDFW_PDBS"))
        change = self._write(
            tx,
            "house",
            house_id,
            {
                "estate": estate,
                "building_id": building_id,
                "unit_id": unit_id,
                "code": house_code,
                "number": number,
                "floor": _text(rec.get("SZ_LCH")),
                "address": address,
                "address_key": address_key,
                "house_type": _text(rec.get("FW_LX")),
                "status": _text(rec.get("FW_ZT")),
                "rental_status": _text(rec.get("ZL_ZT")),
                "use": _text(rec.get("FWYT_JYQK")),
                "area_m2": _float(rec.get("JZMJ_MJPFM")),
                "key_house": None if key_flag is None else key_flag == "1",
                "ownership_type": _text(rec.get("SYQ_LX")),
                "agent_name": _text(rec.get("WTDLR_XM")),
                "agent_id_type": _text(rec.get("WTDLR_ZJLXMC")),
                "agent_id_number": _text(rec.get("WTDLR_ZJHM")),
                "agent_phone": _text(rec.get("WTDLR_LXDH")),
            },
            self._provenance(slug, "house", rec, at),
        )
        if change in ("created", "updated"):
            self._link_residences(tx, house_id, estate, address_key)

    def _link_residences(self, tx: _Tx, house_id: str, estate: str, address_key: str) -> None:
        """Residences registered at this address before the house was known now point at it."""
        r = self.store.table("residence")
        blind = self.store.sealer.blind("address", address_key)
        done = tx.conn.execute(
            update(r)
            .where(
                r.c.house_id.is_(None),
                r.c._bi_address == blind,
                or_(r.c.estate.is_(None), r.c.estate == estate),
            )
            .values(house_id=house_id, estate=func.coalesce(r.c.estate, estate), updated_at=tx.now)
        )
        tx.report.linked += int(done.rowcount or 0)

    def _regions(self, tx: _Tx, rec: Mapping[str, Any], estate: str) -> None:
        """District, street, community and estate nodes the record names and the region tree lacks."""
        district = _text(rec.get("QXDM"))
        district = district if district and self._is_county(district) else None
        street_part = _text(rec.get("XZJDDM"))
        street = district + street_part if district and street_part and _STREET.match(street_part) else None
        community = _text(rec.get("CSQDM"))
        community = community if community and ESTATE_CODE.match(community) else None
        parent: str | None = None
        for code, name, level in (
            (district, _text(rec.get("QXMC")), "district"),
            (street, _text(rec.get("XZJDMC")), "street"),
            (community, _text(rec.get("CSQ_MC")), "community"),
            (estate if ESTATE_CODE.match(estate) else None, _text(rec.get("XQ_MC")), "estate"),
        ):
            if code is None:
                continue
            self._region_node(tx, code, name or code, level, parent)
            parent = code

    def _is_county(self, code: str) -> bool:
        """A current county-level GB/T 2260 code: the region tree takes no other six-digit district."""
        if not _DISTRICT.match(code):
            return False
        xzqh = self.dictionaries().get("XZQH")
        if xzqh is None:
            return True
        entry = xzqh.get(code)
        return entry is not None and entry.level == "county" and xzqh.current(code)

    def _region_node(self, tx: _Tx, code: str, name: str, level: str, parent: str | None) -> None:
        if code in tx.regions_seen:
            return
        tx.regions_seen.add(code)
        t = self.db.table("region")
        if tx.conn.execute(select(t.c.code).where(t.c.code == code)).first() is not None:
            return  # an existing node keeps its name and place: staff may have arranged the tree
        tx.conn.execute(
            insert(t).values(code=code, name=name[:100], level=level, parent=parent, created_at=tx.now)
        )
        tx.report.regions += 1

    # ---- people -------------------------------------------------------------------------------------------
    def _person(
        self,
        tx: _Tx,
        slug: str,
        id_number: str,
        values: Mapping[str, Any],
        rec: Mapping[str, Any],
        at: datetime | None,
    ) -> str:
        person_id = self.store.person_by_id_number(tx.conn, id_number) or self.store.new_id()
        self._write(
            tx,
            "person",
            person_id,
            {"id_number": id_number, **values},
            self._provenance(slug, "person", rec, at),
        )
        return person_id

    def _find_house(
        self, conn: Connection, address_key: str, estate: str | None, address_code: str | None = None
    ) -> tuple[str, str] | None:
        """(house ID, estate) of the house at an address: by standard address code, else by matching key."""
        h = self.store.table("house")
        conditions = []
        if address_code:
            conditions.append(h.c.address_code == address_code)
        conditions.append(h.c.address_key == address_key)
        for condition in conditions:
            query = select(h.c.id, h.c.estate).where(condition)
            if estate is not None:
                query = query.order_by(case((h.c.estate == estate, 0), else_=1), h.c.id)
            else:
                query = query.order_by(h.c.id)
            row = conn.execute(query.limit(1)).first()
            if row is not None:
                return str(row.id), str(row.estate)
        return None

    def _residence(
        self,
        tx: _Tx,
        slug: str,
        person_id: str,
        address: str,
        values: Mapping[str, Any],
        rec: Mapping[str, Any],
        at: datetime | None,
    ) -> None:
        r = self.store.table("residence")
        blind = self.store.sealer.blind("address", normalise(address))
        existing = tx.conn.execute(
            select(r.c.id).where(and_(r.c.person_id == person_id, r.c._bi_address == blind))
        ).scalar()
        row = {"person_id": person_id, "_bi_address": blind, **values}
        if existing is None:
            # The address as given is written once: a later spelling of the same address (same key) must
            # not replace it, since the store would then index the new spelling rather than its key.
            row["address"] = address
        self._write(
            tx,
            "residence",
            str(existing or self.store.new_id()),
            row,
            self._provenance(slug, "residence", rec, at),
        )

    def _resident(self, tx: _Tx, rec: Mapping[str, Any], batch_estate: str | None) -> None:
        slug = "resident_registration"
        rtype = record_type(slug)
        at = _when(rec.get("BLSJ"))
        id_number = _text(rec.get("ZJHM"))
        address = _text(rec.get("FANGWU_DZMC"))
        if id_number is None or address is None:
            return
        relation = self._code(rtype, "YPZGXDM", rec.get("YPZGXDM"))
        reason = self._code(rtype, "JZSY", rec.get("JZSY"))
        category, key_by_type = residence_category(_text(rec.get("RYLX")), relation, reason)
        key = key_by_type or _text(rec.get("ZDRY_PDBS")) == "1"
        person_id = self._person(
            tx,
            slug,
            id_number,
            {
                "name": _text(rec.get("XM")),
                "id_type": self._code(rtype, "CYZJLXDM", rec.get("CYZJLXDM")),
                "sex": self._code(rtype, "XBDM", rec.get("XBDM")),
                "birth_date": self._local_date(rec.get("CSRQ")),
                "ethnicity": self._code(rtype, "MZDM", rec.get("MZDM")),
                "nationality": self._code(rtype, "GJDM", rec.get("GJDM")),
                "phone": _text(rec.get("SJHM")) or _text(rec.get("LXFS")),
                "household_division": self._code(rtype, "HJDZ_XZQHDM", rec.get("HJDZ_XZQHDM")),
                "household_address": _text(rec.get("HJDZ_DZMC")),
                # A property desk's record may mark a key person; it never clears a mark the police set.
                "key_population": True if key else None,
            },
            rec,
            at,
        )
        estate = _text(rec.get("XQ_BM"))
        house = self._find_house(tx.conn, normalise(address), estate or batch_estate)
        moved_out = _when(rec.get("CL_RQSJ"))
        as_of = at or tx.now  # the record's own time; its arrival when it carries none
        self._residence(
            tx,
            slug,
            person_id,
            address,
            {
                "house_id": house[0] if house else None,
                "estate": estate or (house[1] if house else batch_estate),
                "category": category,
                "relation": relation,
                "reason": reason,
                "moved_in": _when(rec.get("RZ_RQSJ")),
                "moved_out": moved_out,
                "status": "ended" if moved_out is not None and moved_out <= as_of else "active",
            },
            rec,
            at,
        )
        self._contact(tx, slug, person_id, _text(rec.get("JJLXR_XM")), _text(rec.get("JJLXR_LXDH")))

    def _contact(self, tx: _Tx, slug: str, person_id: str, name: str | None, phone: str | None) -> None:
        """Emergency contacts are only ever added: a record without one does not remove an earlier one."""
        if phone is None:
            return
        c = self.store.table("emergency_contact")
        blind = self.store.sealer.blind("phone", phone)
        exists = tx.conn.execute(
            select(c.c.pk).where(c.c.person_id == person_id, c.c._bi_phone == blind)
        ).first()
        if exists is not None:
            tx.report.count("emergency_contact", "unchanged")
            return
        sealed = self.store.sealer.seal(
            "emergency_contact", person_id, {"name": name, "phone": phone, "_bi_phone": blind}
        )
        tx.conn.execute(insert(c).values(person_id=person_id, **sealed, source=slug, created_at=tx.now))
        tx.report.count("emergency_contact", "created")

    def _population(self, tx: _Tx, rec: Mapping[str, Any], batch_estate: str | None) -> None:
        slug = "population_sync"
        rtype = record_type(slug)
        at = _when(rec.get("DJRQ"))
        id_number = _text(rec.get("SFZHM"))
        address = _text(rec.get("MPH"))
        if id_number is None or address is None:
            return
        person_id = self._person(
            tx,
            slug,
            id_number,
            {
                "name": _text(rec.get("XM")),
                "id_type": "111",  # SFZHM is a resident identity card number (checked as one)
                "sex": self._code(rtype, "XBDM", rec.get("XBDM")),
                "ethnicity": self._code(rtype, "MZDM", rec.get("MZDM")),
                "birth_date": self._local_date(rec.get("CSRQ")),
                "education": self._code(rtype, "WHCDDM", rec.get("WHCDDM")),
                "marital": self._code(rtype, "HYZKDM", rec.get("HYZKDM")),
                "occupation": self._code(rtype, "ZYLBDM", rec.get("ZYLBDM")),
                "phone": _text(rec.get("LXDH")),
                "household_division": self._code(rtype, "HJD_XZQHDM", rec.get("HJD_XZQHDM")),
                "household_address": _text(rec.get("HJDZ_DZMC")),
            },
            rec,
            at,
        )
        house = self._find_house(tx.conn, normalise(address), batch_estate, _text(rec.get("BZDZDM")))
        deregistered = self._code(rtype, "YWLX", rec.get("YWLX")) == "03"
        self._residence(
            tx,
            slug,
            person_id,
            address,
            {
                "house_id": house[0] if house else None,
                "estate": house[1] if house else batch_estate,
                "category": str(_category_rules().get("population_sync_default") or "floating"),
                "reason": self._code(rtype, "ZZSY", rec.get("ZZSY")),
                "moved_out": at if deregistered else None,
                "status": "ended" if deregistered else "active",
            },
            rec,
            at,
        )
