"""Linkage (联动): what an alarm carries besides itself — the nearest cameras, the records that caused it —
and whom it must reach: the duty officer(s), and for an emergency call the caller's emergency contacts.

Cameras. The video spec wants an alarm to pop up live video of its place, so an alarm carries the
nearest active cameras (kinds of the `video` subsystem in registry/data/device_kinds.yaml):

  1. cameras of the alarm's own estate with coordinates, nearest first (great-circle distance, WGS-84);
  2. cameras of the alarm's own estate without coordinates, by location text — registered, but placed
     only in words ("3栋1单元门口"), and still the estate's own: its control room can open them;
  3. cameras of neighbouring estates with coordinates, nearest first — over the fence, but another
     operator's system.

The estate comes first because its control room is the one that answers the alarm; cameras whose known
position is farther than `max_distance_m` are left out (they cannot see the place). Where the alarm has
no coordinates of its own they come from its originator: a device's position, or a house's building.

The caller of an emergency call. The emergency_call record type (seed 003 三（五）) carries the caller's
name and phone (BJQZR_XM, LXFS) but no certificate number. The person is found, in this order, from
  1. the alarm's originator, when the rules engine already resolved it to a person;
  2. a certificate number a help-button platform sent beside the standard's fields (kept in the record's
     `_extra`: SFZHM, GMSFHM, ZJHM, …), through the registry's ID-number blind index;
  3. the caller's phone: the record's `_bi_lxfs` blind index against people's `_bi_phone` (the same
     keyed index, so no value is decrypted to match); several people on one phone (a family landline)
     are told apart by the caller's name, and if that does not single one out nobody's contacts are
     told — contacts of the wrong person would learn of a stranger's alarm — and a note says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, Select, Table, and_, or_, select

from anju.alarms.duty import Contact, DutyRoster, responsible
from anju.alarms.model import AlarmSignal
from anju.alarms.tables import SEVERITIES
from anju.db.schema import METADATA
from anju.registry import catalog
from anju.standard.spec import record_type

if TYPE_CHECKING:
    from anju.services import Services

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG)
DEFAULT_CAMERA_LIMIT = 3
# An estate is a few hundred metres across; a camera farther away than this does not see the place.
DEFAULT_MAX_DISTANCE_M = 300.0
_IN_CHUNK = 500  # values per IN (…) list
_BOX_CHUNK = 100  # search boxes OR-ed in one statement
EMERGENCY_TYPE = "emergency_call"
# Names under which help-button platforms send the caller's certificate number beside the standard.
ID_NUMBER_KEYS = ("sfzhm", "gmsfhm", "zjhm", "sfzh", "id_number", "idnumber", "身份证号", "证件号码")
# Severities at or above this reach the duty officer when raised; emergency calls always do.
DEFAULT_NOTIFY_MIN_SEVERITY = "major"
OCCASIONS = ("raised", "escalated", "reminder")


def camera_kinds() -> frozenset[str]:
    """Device kinds that are cameras: those of the video subsystem (camera, face_camera, …)."""
    return frozenset(k for k, v in catalog.device_kinds().items() if v.get("subsystem") == "video")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (a sphere: well under 0.5% off)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class CameraRef:
    id: str
    name: str | None
    estate: str
    location: str | None
    distance_m: float | None  # None: the camera (or the alarm) has no coordinates

    def to_json(self) -> dict[str, Any]:
        """The form stored in alarm.cameras."""
        return {
            "id": self.id,
            "name": self.name,
            "estate": self.estate,
            "location": self.location,
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CameraRef:
        distance = value.get("distance_m")
        return cls(
            id=str(value["id"]),
            name=value.get("name"),
            estate=str(value.get("estate") or ""),
            location=value.get("location"),
            distance_m=float(distance) if distance is not None else None,
        )


def _camera_select(device: Table) -> Select[Any]:
    kinds = sorted(camera_kinds())
    cols = (device.c.id, device.c.name, device.c.estate, device.c.location, device.c.lon, device.c.lat)
    return select(*cols).where(device.c.kind.in_(kinds), device.c.status == "active")


def _search_box(lon: float, lat: float, max_distance_m: float) -> tuple[float, float, float, float]:
    """(lat low, lat high, lon low, lon high) around a point: lets the database skip far devices; the
    exact distance is checked afterwards."""
    dlat = math.degrees(max_distance_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def rank_cameras(
    own: Sequence[Row[Any]],
    near: Sequence[Row[Any]],
    estate: str | None,
    lon: float | None,
    lat: float | None,
    *,
    limit: int,
    max_distance_m: float,
) -> list[CameraRef]:
    """The order of the module's docstring, from the active cameras of `estate` (`own`) and those of
    other estates inside the search box around (lon, lat) (`near`)."""
    located = lon is not None and lat is not None
    own_near: list[CameraRef] = []
    own_unplaced: list[CameraRef] = []
    for r in own:
        if r.lon is None or r.lat is None or not located:
            # An alarm with no position: a placed camera of the estate is as good as an unplaced one.
            own_unplaced.append(CameraRef(r.id, r.name, r.estate, r.location, None))
            continue
        assert lon is not None and lat is not None
        d = haversine_m(lat, lon, r.lat, r.lon)
        if d <= max_distance_m:
            own_near.append(CameraRef(r.id, r.name, r.estate, r.location, d))
    others: list[CameraRef] = []
    if located:
        assert lon is not None and lat is not None
        for r in near:
            d = haversine_m(lat, lon, r.lat, r.lon)
            if d <= max_distance_m:
                others.append(CameraRef(r.id, r.name, r.estate, r.location, d))
    own_near.sort(key=lambda c: (c.distance_m or 0.0, c.id))
    own_unplaced.sort(key=lambda c: (c.location is None, c.location or "", c.id))
    others.sort(key=lambda c: (c.distance_m or 0.0, c.id))
    return [*own_near, *own_unplaced, *others][:limit]


def nearest_cameras(
    conn: Connection,
    estate: str | None,
    lon: float | None,
    lat: float | None,
    *,
    limit: int = DEFAULT_CAMERA_LIMIT,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    device: Table | None = None,
) -> list[CameraRef]:
    """The `limit` cameras to show with an alarm at (lon, lat) in `estate`; see the module's docstring
    for the order. Only active cameras: a faulty or offline one shows nothing."""
    place = (estate, lon, lat)
    return cameras_at(conn, [place], limit=limit, max_distance_m=max_distance_m, device=device)[place]


def _in_box(r: Row[Any], box: tuple[float, float, float, float]) -> bool:
    return r.lat is not None and r.lon is not None and box[0] <= r.lat <= box[1] and box[2] <= r.lon <= box[3]


def cameras_at(
    conn: Connection,
    places: Sequence[tuple[str | None, float | None, float | None]],
    *,
    limit: int = DEFAULT_CAMERA_LIMIT,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    device: Table | None = None,
) -> dict[tuple[str | None, float | None, float | None], list[CameraRef]]:
    """`nearest_cameras` for many (estate, lon, lat) places with a few queries in all: the cameras of
    their estates, and the cameras inside any of their search boxes (a hundred boxes per statement, so
    that two alarms far apart never fetch every camera of the land between them)."""
    if limit <= 0 or not places:
        return {p: [] for p in places}
    device = METADATA.tables["device"] if device is None else device
    query = _camera_select(device)
    estates = sorted({e for e, _, _ in places if e is not None})
    own: dict[str, list[Row[Any]]] = {e: [] for e in estates}
    for i in range(0, len(estates), _IN_CHUNK):
        for r in conn.execute(query.where(device.c.estate.in_(estates[i : i + _IN_CHUNK]))):
            own[r.estate].append(r)
    boxes = {
        (lon, lat): _search_box(lon, lat, max_distance_m)
        for _, lon, lat in places
        if lon is not None and lat is not None
    }
    found: dict[str, Row[Any]] = {}
    points = list(boxes)
    for i in range(0, len(points), _BOX_CHUNK):
        inside = [
            and_(device.c.lat.between(b[0], b[1]), device.c.lon.between(b[2], b[3]))
            for b in (boxes[p] for p in points[i : i + _BOX_CHUNK])
        ]
        found.update((r.id, r) for r in conn.execute(query.where(or_(*inside))))
    # Cameras in grid cells as wide as the widest box: a place's box lies within the 3 × 3 cells around it.
    size = max((max(b[1] - b[0], b[3] - b[2]) for b in boxes.values()), default=0.0) or 1.0  # 0 m: points
    cells: dict[tuple[int, int], list[Row[Any]]] = {}
    for r in found.values():
        cells.setdefault((math.floor(r.lat / size), math.floor(r.lon / size)), []).append(r)

    def around(lon: float, lat: float) -> list[Row[Any]]:
        y, x = math.floor(lat / size), math.floor(lon / size)
        return [r for dy in (-1, 0, 1) for dx in (-1, 0, 1) for r in cells.get((y + dy, x + dx), ())]

    out: dict[tuple[str | None, float | None, float | None], list[CameraRef]] = {}
    for place in places:
        estate, lon, lat = place
        near: list[Row[Any]] = []
        if lon is not None and lat is not None:
            box = boxes[(lon, lat)]
            # As the single query: SQL's `estate != X` leaves out cameras with no estate.
            near = [
                r
                for r in around(lon, lat)
                if _in_box(r, box) and (estate is None or (r.estate is not None and r.estate != estate))
            ]
        mine = own.get(estate, []) if estate is not None else []
        out[place] = rank_cameras(mine, near, estate, lon, lat, limit=limit, max_distance_m=max_distance_m)
    return out


@dataclass(frozen=True, slots=True)
class Recipient:
    """A contact to notify and why: duty_officer | emergency_contact | escalation | reminder."""

    purpose: str
    contact: Contact


@dataclass(frozen=True)
class AlarmLinkage:
    cameras: tuple[CameraRef, ...]
    records: tuple[str, ...]  # "<record type>:<ID>" of the records that caused the alarm
    recipients: tuple[Recipient, ...]
    person_id: str | None = None  # the caller of an emergency call, when found
    person_found_by: str | None = None  # originator | id_number | phone | phone+name
    notes: tuple[str, ...] = field(default_factory=tuple)  # why someone was not found (no personal data)

    def cameras_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.cameras]


def _split_record(ref: str) -> tuple[str, str] | None:
    slug, sep, rid = str(ref).partition(":")
    return (slug, rid) if sep and slug and rid else None


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Linkage:
    """Cameras and recipients of alarms, over the registry and a duty roster."""

    def __init__(
        self,
        services: Services,
        roster: DutyRoster,
        *,
        camera_limit: int = DEFAULT_CAMERA_LIMIT,
        max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
        notify_min_severity: str = DEFAULT_NOTIFY_MIN_SEVERITY,
    ) -> None:
        if notify_min_severity not in SEVERITIES:
            raise ValueError(f"notify_min_severity must be one of {SEVERITIES}")
        self.services = services
        self.roster = roster
        self.camera_limit = camera_limit
        self.max_distance_m = max_distance_m
        self.notify_min_severity = notify_min_severity
        self.device = services.db.table("device")

    # ---- cameras ------------------------------------------------------------------------------------
    def cameras(
        self,
        conn: Connection,
        estate: str | None,
        lon: float | None,
        lat: float | None,
        *,
        limit: int | None = None,
        max_distance_m: float | None = None,
    ) -> list[CameraRef]:
        return nearest_cameras(
            conn,
            estate,
            lon,
            lat,
            limit=self.camera_limit if limit is None else limit,
            max_distance_m=self.max_distance_m if max_distance_m is None else max_distance_m,
            device=self.device,
        )

    def position(
        self, conn: Connection, originator_kind: str, originator_id: str
    ) -> tuple[float, float] | None:
        """(lon, lat) of an originator that has one: a device, or a house or building through its
        building. Alarms of such originators often arrive without coordinates of their own."""
        origin = (originator_kind, originator_id)
        return self.positions(conn, {origin}).get(origin)

    # ---- the caller of an emergency call ----------------------------------------------------------
    def caller(
        self, conn: Connection, originator_kind: str, originator_id: str, records: Sequence[str]
    ) -> tuple[str | None, str | None, list[str]]:
        """(person ID, how it was found, notes); see the module's docstring for the order."""
        registry = self.services.registry
        person = registry.table("person")
        notes: list[str] = []
        if originator_kind == "person":
            if conn.execute(select(person.c.id).where(person.c.id == originator_id)).first() is not None:
                return originator_id, "originator", notes
            notes.append("originator person is not in the registry")
        rtype = record_type(EMERGENCY_TYPE)
        table = self.services.db.table(rtype.table_name)
        for ref in records:
            split = _split_record(ref)
            if split is None or split[0] != EMERGENCY_TYPE:
                continue
            record_id = split[1]
            row = conn.execute(select(table).where(table.c.id == record_id)).first()
            if row is None:
                notes.append(f"record {ref} not found")
                continue
            found = self._by_id_number(conn, row)
            if found is not None:
                return found, "id_number", notes
            pid, how, why = self._by_phone(conn, rtype.table_name, row, record_id)
            if pid is not None:
                return pid, how, notes
            if why:
                notes.append(why)
        return None, None, notes

    def _by_id_number(self, conn: Connection, row: Row[Any]) -> str | None:
        extra = row._mapping.get("_extra")
        if not isinstance(extra, Mapping):
            return None
        for key, value in extra.items():
            if str(key).strip().lower() in ID_NUMBER_KEYS and isinstance(value, str) and value.strip():
                pid = self.services.registry.person_by_id_number(conn, value.strip())
                if pid is not None:
                    return pid
        return None

    def _by_phone(
        self, conn: Connection, rec_table: str, row: Row[Any], record_id: str
    ) -> tuple[str | None, str | None, str | None]:
        blind = row._mapping.get("_bi_lxfs")
        if not blind:
            return None, None, "the call carries no phone"
        person = self.services.registry.table("person")
        matches = list(conn.execute(select(person.c.id).where(person.c._bi_phone == blind)).scalars())
        if len(matches) == 1:
            return matches[0], "phone", None
        if not matches:
            return None, None, "no registered person has the caller's phone"
        # Several people share the phone: the caller's name decides, compared in memory only.
        cipher = self.services.protector.cipher
        sealed_name = row._mapping.get("bjqzr_xm")
        if not sealed_name:
            return None, None, f"{len(matches)} people share the caller's phone and the call has no name"
        name = cipher.decrypt_text(sealed_name, rec_table, "bjqzr_xm", record_id).strip()
        sealer = self.services.registry.sealer
        named = []
        for r in conn.execute(select(person.c.id, person.c.name).where(person.c.id.in_(matches))):
            opened = sealer.open("person", r.id, {"name": r.name})
            if (opened.get("name") or "").strip() == name:
                named.append(r.id)
        if len(named) == 1:
            return named[0], "phone+name", None
        return None, None, f"{len(matches)} people share the caller's phone; the name does not single one out"

    def emergency_contacts(self, conn: Connection, person_id: str) -> list[Contact]:
        c = self.services.registry.table("emergency_contact")
        sealer = self.services.registry.sealer
        out = []
        for row in conn.execute(select(c).where(c.c.person_id == person_id).order_by(c.c.pk)):
            # The contact's sealed values are bound to its person, not to its own key.
            opened = sealer.open("emergency_contact", person_id, dict(row._mapping))
            out.append(
                Contact(
                    key=f"emergency_contact:{row.pk}",
                    name=opened.get("name") or "",
                    phone=opened.get("phone"),
                    relation=row.relation,
                )
            )
        return out

    def residence_estate(self, conn: Connection, person_id: str) -> str | None:
        r = self.services.registry.table("residence")
        return conn.execute(
            select(r.c.estate)
            .where(r.c.person_id == person_id, r.c.status == "active", r.c.estate.is_not(None))
            .order_by(r.c.category, r.c.id)
            .limit(1)
        ).scalar()

    def cameras_for(self, conn: Connection, signals: Sequence[AlarmSignal]) -> list[list[dict[str, Any]]]:
        """The nearest cameras of each signal as stored in alarm.cameras: the alarm store's `cameras_for`
        hook (cameras only: the recipients are worked out when notifying). Positions and cameras of the
        whole batch are read with a few queries, not a few per signal."""
        unplaced = {(s.originator_kind, s.originator_id) for s in signals if s.lon is None or s.lat is None}
        positions = self.positions(conn, unplaced)
        places: list[tuple[str | None, float | None, float | None]] = []
        for signal in signals:
            lon, lat = signal.lon, signal.lat
            if lon is None or lat is None:
                pos = positions.get((signal.originator_kind, signal.originator_id))
                if pos is not None:
                    lon, lat = pos
            places.append((signal.estate, lon, lat))
        found = cameras_at(
            conn,
            list(dict.fromkeys(places)),
            limit=self.camera_limit,
            max_distance_m=self.max_distance_m,
            device=self.device,
        )
        as_json = {place: [c.to_json() for c in cams] for place, cams in found.items()}
        return [as_json[place] for place in places]

    def positions(
        self, conn: Connection, originators: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[float, float]]:
        """`position` of many originators at once: one query per kind (device, house, building)."""
        tables = self.services.db.metadata.tables
        d, h, b = self.device, tables["house"], tables["building"]

        def query(kind: str, ids: list[str]) -> Select[Any]:
            if kind == "device":
                return select(d.c.id, d.c.lon, d.c.lat).where(d.c.id.in_(ids))
            if kind == "house":
                joined = h.join(b, b.c.id == h.c.building_id)
                return select(h.c.id, b.c.lon, b.c.lat).select_from(joined).where(h.c.id.in_(ids))
            return select(b.c.id, b.c.lon, b.c.lat).where(b.c.id.in_(ids))

        out: dict[tuple[str, str], tuple[float, float]] = {}
        for kind in ("device", "house", "building"):
            ids = sorted(i for k, i in originators if k == kind)
            for at in range(0, len(ids), _IN_CHUNK):
                for row in conn.execute(query(kind, ids[at : at + _IN_CHUNK])):
                    if row.lon is not None and row.lat is not None:
                        out[(kind, row.id)] = (float(row.lon), float(row.lat))
        return out

    # ---- linkage of a signal or an alarm ------------------------------------------------------------
    def for_signal(self, conn: Connection, signal: AlarmSignal) -> AlarmLinkage:
        """Cameras and recipients for a signal about to be raised (the store writes `cameras_json()`)."""
        return self._link(
            conn,
            type=signal.type,
            severity=signal.severity,
            originator_kind=signal.originator_kind,
            originator_id=signal.originator_id,
            estate=signal.estate,
            lon=signal.lon,
            lat=signal.lat,
            records=tuple(signal.records),
            at=signal.at,
            cameras=None,
            occasion="raised",
            level=0,
        )

    def for_alarm(
        self,
        conn: Connection,
        alarm: Mapping[str, Any] | Row[Any],
        *,
        occasion: str = "raised",
        level: int | None = None,
        at: datetime | None = None,
    ) -> AlarmLinkage:
        """Recipients for a stored alarm row on an occasion: `raised`, `escalated` (to `level`, default
        the alarm's escalation_level) or `reminder`. Its stored cameras are kept, not recomputed."""
        a = dict(alarm._mapping) if isinstance(alarm, Row) else dict(alarm)
        stored = a.get("cameras")
        return self._link(
            conn,
            type=str(a["type"]),
            severity=str(a["severity"]),
            originator_kind=str(a["originator_kind"]),
            originator_id=str(a["originator_id"]),
            estate=a.get("estate"),
            lon=a.get("lon"),
            lat=a.get("lat"),
            records=tuple(a.get("records") or ()),
            at=_aware(at or a.get("last_seen_at")),
            cameras=[CameraRef.from_json(c) for c in stored] if isinstance(stored, list) else None,
            occasion=occasion,
            level=int(a.get("escalation_level") or 0) if level is None else level,
        )

    def is_emergency(self, type_: str, records: Sequence[str]) -> bool:
        return type_ == EMERGENCY_TYPE or any(
            (s := _split_record(r)) is not None and s[0] == EMERGENCY_TYPE for r in records
        )

    def _link(
        self,
        conn: Connection,
        *,
        type: str,
        severity: str,
        originator_kind: str,
        originator_id: str,
        estate: str | None,
        lon: float | None,
        lat: float | None,
        records: tuple[str, ...],
        at: datetime,
        cameras: list[CameraRef] | None,
        occasion: str,
        level: int,
    ) -> AlarmLinkage:
        if occasion not in OCCASIONS:
            raise ValueError(f"occasion must be one of {OCCASIONS}")
        if cameras is None:
            if lon is None or lat is None:
                pos = self.position(conn, originator_kind, originator_id)
                if pos is not None:
                    lon, lat = pos
            cameras = self.cameras(conn, estate, lon, lat)
        emergency = self.is_emergency(type, records)
        person_id: str | None = None
        found_by: str | None = None
        notes: list[str] = []
        recipients: list[Recipient] = []
        # The caller matters for the contacts (told once, when raised) and for an estate the alarm lacks;
        # escalations and reminders otherwise need not decrypt anything.
        if emergency and (occasion == "raised" or estate is None):
            person_id, found_by, notes = self.caller(conn, originator_kind, originator_id, records)
            if person_id is not None and estate is None:
                estate = self.residence_estate(conn, person_id)
        if occasion == "raised":
            if emergency or SEVERITIES.index(severity) <= SEVERITIES.index(self.notify_min_severity):
                duty = responsible(self.roster, estate, level, at)
                if not duty:
                    notes.append("nobody is on duty for the estate at any level")
                recipients += [Recipient("duty_officer", c) for c in duty]
            if person_id is not None:
                contacts = self.emergency_contacts(conn, person_id)
                if not contacts:
                    notes.append("the caller has no emergency contacts")
                recipients += [Recipient("emergency_contact", c) for c in contacts]
        else:
            purpose = "escalation" if occasion == "escalated" else "reminder"
            duty = responsible(self.roster, estate, level, at)
            if not duty:
                notes.append(f"nobody is on duty for the estate at level {level} or above")
            recipients += [Recipient(purpose, c) for c in duty]
        return AlarmLinkage(
            cameras=tuple(cameras),
            records=records,
            recipients=tuple(recipients),
            person_id=person_id,
            person_found_by=found_by,
            notes=tuple(notes),
        )


def linkage_for(
    services: Services,
    roster: DutyRoster,
    conn: Connection,
    subject: AlarmSignal | Mapping[str, Any] | Row[Any],
) -> AlarmLinkage:
    """Linkage of a signal (before it is stored) or of a stored alarm row, with default settings."""
    linkage = Linkage(services, roster)
    if isinstance(subject, AlarmSignal):
        return linkage.for_signal(conn, subject)
    return linkage.for_alarm(conn, subject)
