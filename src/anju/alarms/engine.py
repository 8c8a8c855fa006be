"""The alarm engine: stored records and heartbeats in, alarm signals out (rules from alarms/rules.py).

- `on_event` (a bus subscriber) evaluates the record rules of the event's record type on every record, in
  memory, and notes when each silence subject (a registered device, an elderly person living alone) was
  last heard. `tick()` — called by a scheduler thread (`run_ticker`) or a test with its own clock —
  fires silence timers and latched durations and prunes expired windows. Nothing sleeps: time is the
  injected clock's, so tests move it instead of waiting.
- What the engine must remember between records (duration runs, repeat windows with the record IDs they
  counted, alarms it may clear, silences and whether they fired) lives in memory and in `rule_state`, so a
  restarted engine carries on. Writes are batched: record-rule state that changed is written once per
  event, last-heard times once per tick (they can also be recovered from `device.last_seen_at` and the
  stored swipes), and nothing is written for an event that changed nothing.
- Idempotent by design: a record delivered twice counts once in a repeat window (its ID is remembered),
  starts no second duration run, and an immediate rule does not fire twice for the same record ID.
- No per-record queries: registered devices and watchlist blind indexes are cached for `cache_ttl`
  seconds (a watchlist change made through the same `Watchlists` object applies at once), the registry's
  people for `people_ttl` seconds, rebuilt lazily after registry records arrive and only when a rule needs
  them. Blind indexes of record values are computed only when a watchlist or the registry could match.
- Signals go to `sink` (settable; by default logged) after the engine's lock is released, so a slow sink
  never holds up evaluation of another thread's batch; a failing sink is logged per signal.

"Elderly living alone" (rules `elderly_not_seen`, `person: elderly_alone`) is computed from the registry,
not flagged: a person aged `min_age` or more (60 for the condition) on the clock's local date, with at
least one active residence, who is the only active resident of every household they live in (a house, or
the normalised address of a residence not yet matched to a house). The registry has no flag for it and the
Shandong wording (60岁及以上(常住)独居老人) is exactly what it can compute; `categories` narrows it to 常住.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import delete, func, select

from anju.alarms.model import AlarmSignal
from anju.alarms.rules import Ctx, Originator, Rule, RuleSet, WatchHit, load_for
from anju.alarms.tables import SEVERITIES
from anju.alarms.watchlists import WatchEntry, Watchlists
from anju.db.database import Database
from anju.db.engine import WRITE_OPTIONS
from anju.ingest.bus import Bus, Event, Heartbeat, StoredRecords
from anju.ingest.pipeline import Clock, utcnow
from anju.security.personal import RecordProtector
from anju.standard.spec import RecordType, UnknownRecordType, record_type

if TYPE_CHECKING:
    from anju.services import Services

log = logging.getLogger(__name__)

Sink = Callable[[AlarmSignal], object]
# Takes several signals at once (AlarmStore.raise_signals: one transaction for a batch's alarms).
BatchSink = Callable[[list[AlarmSignal]], object]
ELDERLY_AGE = 60  # the `person: elderly_alone` condition (Shandong: 60岁及以上独居老人)
# Record types whose arrival changes the registry's people: the snapshot is rebuilt when next needed.
REGISTRY_TYPES = frozenset({"resident_registration", "population_sync", "building_info"})
_RECENT = 100_000  # (rule, record ID) pairs an immediate rule remembers having fired for
_MAX_HITS = 256  # entries kept per repeat window (bounds memory under a flood)
_MAX_REFS = 20  # record references carried by one signal
_CHUNK = 500


def log_sink(signal: AlarmSignal) -> None:
    """The default sink until the alarm store is wired: say what would have been raised."""
    log.info(
        "alarm %s %s %s:%s %s (rule %s)",
        "clear" if signal.clear else "raise",
        signal.type,
        signal.originator_kind,
        signal.originator_id,
        signal.severity,
        signal.rule,
    )


# ---- caches -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: str
    estate: str
    kind: str
    status: str
    location: str | None
    lon: float | None
    lat: float | None
    last_seen_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """Something a silence rule times: where it is, and when it was last heard according to storage."""

    key: str  # "device:<id>" | "person:<id>"
    kind: str  # originator kind
    id: str
    estate: str | None
    location: str | None
    lon: float | None
    lat: float | None
    stored_last: datetime | None  # device.last_seen_at, or the latest stored swipe
    since: datetime | None  # when timing may start at the latest (registration)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class People:
    """The registry's people as the rules need them, keyed by blind index (nothing decrypted)."""

    by_id_number: dict[str, str] = field(default_factory=dict)
    by_phone: dict[str, str] = field(default_factory=dict)
    id_blind: dict[str, str] = field(default_factory=dict)  # person -> ID number blind index
    birth: dict[str, date] = field(default_factory=dict)
    # person -> [(household, estate, category, house_id)] of active residences
    active: dict[str, list[tuple[str, str | None, str, str | None]]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # household -> active persons
    ended: dict[str, set[str | None]] = field(default_factory=dict)  # person -> estates of ended residences
    since: dict[str, datetime] = field(default_factory=dict)  # person -> first active residence registered
    today: date = date(1970, 1, 1)

    def estate_of(self, person: str) -> str | None:
        found = self.active.get(person)
        return found[0][1] if found else None

    def alone(self, person: str) -> bool:
        homes = self.active.get(person)
        return bool(homes) and all(len(self.members.get(h[0], ())) == 1 for h in homes or ())

    def age(self, person: str) -> int | None:
        born = self.birth.get(person)
        if born is None:
            return None
        t = self.today
        return t.year - born.year - ((t.month, t.day) < (born.month, born.day))

    def elderly_alone(self, person: str, min_age: int, categories: frozenset[str] | None = None) -> bool:
        age = self.age(person)
        if age is None or age < min_age or not self.alone(person):
            return False
        return categories is None or any(h[2] in categories for h in self.active.get(person, ()))

    def moved_out(self, person: str, estate: str | None) -> bool:
        ended = self.ended.get(person)
        if not ended:
            return False
        homes = self.active.get(person, [])
        if estate is None:
            return not homes
        return estate in ended and not any(h[1] == estate for h in homes)


@dataclass(frozen=True, slots=True)
class _Orig:
    kind: str
    id: str
    person: str | None = None


class _Cached:
    """A value rebuilt when older than its time to live (monotonic seconds) or when marked stale."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.loaded_at = -1e18
        self.stale = True

    def due(self) -> bool:
        return self.stale or time.monotonic() - self.loaded_at >= self.ttl

    def done(self) -> None:
        self.loaded_at = time.monotonic()
        self.stale = False


# ---- state encoding ---------------------------------------------------------------------------------------
def _encode_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.astimezone(UTC).isoformat()}
    raise TypeError(f"alarm rule state cannot hold a {type(value).__name__}")


def _encode(value: Any) -> str:
    """A rule state as JSON text, times as {"$t": ISO 8601 UTC}. One orjson call: every flush encodes
    every changed window, about one per stored record."""
    return orjson.dumps(value, default=_encode_time, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$t"} and isinstance(value["$t"], str):
            return datetime.fromisoformat(value["$t"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _severity_max(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (_aware(value) or value).isoformat()
    if isinstance(value, bytes):
        return None
    return value


class _Format(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


# ---- the engine -------------------------------------------------------------------------------------------
class AlarmEngine:
    def __init__(
        self,
        db: Database,
        protector: RecordProtector,
        rules: RuleSet,
        *,
        sink: Sink | None = None,
        clock: Clock = utcnow,
        watchlists: Watchlists | None = None,
        timezone: ZoneInfo | None = None,
        cache_ttl: float = 30.0,
        people_ttl: float = 300.0,
    ) -> None:
        self.db = db
        self.protector = protector
        self.rules = rules
        self.sink: Sink = sink or log_sink
        # When set, the signals of one event go here together; `sink` takes them one by one if it fails.
        self.batch_sink: BatchSink | None = None
        self.clock = clock
        self.timezone = timezone or ZoneInfo("Asia/Shanghai")
        self.watchlists = watchlists or Watchlists(
            db.engine, db.table("watchlist"), protector, None, clock=clock
        )
        self._lock = threading.RLock()
        self._states: dict[str, dict[str, dict[str, Any]]] = {}
        self._dirty: set[tuple[str, str]] = set()  # written at the end of the event
        self._lazy: set[tuple[str, str]] = set()  # last-heard times: written at the next tick
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._devices: dict[str, DeviceInfo] = {}
        self._devices_cache = _Cached(cache_ttl)
        self._watch: dict[tuple[str, str], tuple[WatchEntry, ...]] = {}
        self._watch_kinds: frozenset[str] = frozenset()
        self._watch_cache = _Cached(cache_ttl)
        self._watch_version = -1
        self._people = People()
        self._people_cache = _Cached(people_ttl)
        self._subjects: dict[str, dict[str, Subject]] = {}  # silence rule -> subjects (per cache load)
        self._subjects_key: dict[str, tuple[float, float]] = {}
        # Read at first use, not here: building the services must not need the migrated schema.
        self._loaded = False

    @classmethod
    def from_services(
        cls,
        svc: Services,
        *,
        rules: RuleSet | None = None,
        sink: Sink | None = None,
        clock: Clock | None = None,
    ) -> AlarmEngine:
        clock = clock or svc.pipeline.clock
        rules = rules or load_for(svc.settings.data_dir, svc.pipeline.dictionaries, svc.settings.timezone)
        watchlists = Watchlists(
            svc.db.engine, svc.db.table("watchlist"), svc.protector, svc.audit, clock=clock
        )
        return cls(
            svc.db,
            svc.protector,
            rules,
            sink=sink,
            clock=clock,
            watchlists=watchlists,
            timezone=svc.settings.timezone,
        )

    def attach(self, bus: Bus) -> Callable[[], None]:
        def subscriber(event: Event) -> None:
            self.on_event(event)

        return bus.subscribe(subscriber)

    def invalidate(self) -> None:
        """Reload devices, watchlists and people at their next use (after changes made elsewhere)."""
        with self._lock:
            self._devices_cache.stale = self._watch_cache.stale = self._people_cache.stale = True

    def reload_rules(self, rules: RuleSet) -> None:
        with self._lock:
            self.rules = rules
            self._subjects.clear()
            self._subjects_key.clear()
            self._loaded = False

    # ---- events -------------------------------------------------------------------------------------------
    def on_event(self, event: Event) -> list[AlarmSignal]:
        """Evaluate an event; the signals are sent to the sink and returned."""
        out: list[AlarmSignal] = []
        with self._lock:
            self._ensure_loaded()
            now = self.clock()
            if isinstance(event, Heartbeat):
                self._hear_heartbeat(event, now, out)
            else:
                if event.record_type in REGISTRY_TYPES:
                    # The projection (subscribed before the engine) has just changed the registry.
                    self._people_cache.stale = True
                try:
                    rtype = record_type(event.record_type)
                except UnknownRecordType:
                    return out
                if event.alarms:
                    self._evaluate_records(rtype, event, now, out)
                self._hear_records(rtype, event, now, out)
            self._flush(lazy=False)
        self._emit(out)
        return out

    def tick(self, now: datetime | None = None) -> list[AlarmSignal]:
        """Fire silence timers and latched durations due at `now` (default: the clock), prune what has
        expired, and write the state; the signals are sent to the sink and returned."""
        out: list[AlarmSignal] = []
        with self._lock:
            self._ensure_loaded()
            now = now or self.clock()
            self._tick_latches(now, out)
            for rule in self.rules.silences:
                self._tick_silence(rule, now, out)
            self._prune(now)
            self._flush(lazy=True)
        self._emit(out)
        return out

    def flush(self) -> None:
        with self._lock:
            if self._loaded:
                self._flush(lazy=True)

    def _emit(self, signals: list[AlarmSignal]) -> None:
        if self.batch_sink is not None and len(signals) > 1:
            try:
                self.batch_sink(signals)
                return
            except Exception:
                # One signal's failure must not cost the others: each is tried alone below.
                log.exception("alarm batch sink failed on %d signals; raising them one by one", len(signals))
        for s in signals:
            try:
                self.sink(s)
            except Exception:
                log.exception("alarm sink failed on %s %s:%s", s.type, s.originator_kind, s.originator_id)

    # ---- lookups (rules.Lookups) --------------------------------------------------------------------------
    def blind(self, kind: str, value: str) -> str:
        return self.protector.search_key(kind, value)

    def watching(self, kind: str) -> bool:
        self._load_watch()
        return kind in self._watch_kinds

    def watch(self, kind: str, blind: str, estate: str | None, at: datetime) -> WatchHit | None:
        best: WatchEntry | None = None
        for e in self._watch.get((kind, blind), ()):
            if e.estate is not None and e.estate != estate:
                continue  # an estate's entry applies in that estate; a record of unknown estate is not in it
            if not e.active(at):
                continue
            if best is None or SEVERITIES.index(e.severity) < SEVERITIES.index(best.severity):
                best = e
        return best.hit() if best else None

    def person(self, kind: str, blind: str) -> str | None:
        if kind not in ("id_number", "phone"):
            return None  # the registry keeps no plates
        people = self._load_people()
        if kind == "id_number":
            return people.by_id_number.get(blind)
        if kind == "phone":
            return people.by_phone.get(blind)
        return None

    def person_is(self, predicate: str, person_id: str, estate: str | None) -> bool:
        people = self._load_people()
        if predicate == "elderly_alone":
            return people.elderly_alone(person_id, ELDERLY_AGE)
        if predicate == "moved_out":
            return people.moved_out(person_id, estate)
        return False

    # ---- caches -------------------------------------------------------------------------------------------
    def _device_map(self) -> dict[str, DeviceInfo]:
        if self._devices_cache.due():
            t = self.db.table("device")
            cols = (t.c.id, t.c.estate, t.c.kind, t.c.status, t.c.location, t.c.lon, t.c.lat)
            with self.db.engine.connect() as conn:
                rows = conn.execute(select(*cols, t.c.last_seen_at, t.c.created_at)).all()
            self._devices = {
                r.id: DeviceInfo(
                    r.id,
                    r.estate,
                    r.kind,
                    r.status,
                    r.location,
                    r.lon,
                    r.lat,
                    _aware(r.last_seen_at),
                    _aware(r.created_at) or datetime.now(UTC),
                )
                for r in rows
            }
            self._devices_cache.done()
        return self._devices

    def _load_watch(self) -> None:
        if not self.rules.needs_watchlist:
            return
        if self._watch_cache.due() or self._watch_version != self.watchlists.version:
            self._watch_version = self.watchlists.version
            self._watch = self.watchlists.index()
            self._watch_kinds = frozenset(k for k, _ in self._watch)
            self._watch_cache.done()

    def _load_people(self) -> People:
        if not self._people_cache.due():
            return self._people
        db = self.db
        person, residence = db.table("person"), db.table("residence")
        people = People(today=self.clock().astimezone(self.timezone).date())
        with db.engine.connect() as conn:
            for pid, bi_id, bi_phone, born in conn.execute(
                select(person.c.id, person.c._bi_id_number, person.c._bi_phone, person.c.birth_date)
            ):
                if bi_id:
                    people.by_id_number[bi_id] = pid
                    people.id_blind[pid] = bi_id
                if bi_phone:
                    people.by_phone.setdefault(bi_phone, pid)
                if born is not None:
                    people.birth[pid] = born if not isinstance(born, datetime) else born.date()
            r = residence.c
            for pid, house, bi_addr, estate, status, category, created in conn.execute(
                select(
                    r.person_id, r.house_id, r._bi_address, r.estate, r.status, r.category, r.created_at
                ).where(r.status.in_(("active", "ended")))
            ):
                if status == "ended":
                    people.ended.setdefault(pid, set()).add(estate)
                    continue
                registered = _aware(created)
                if registered is not None and (pid not in people.since or registered < people.since[pid]):
                    people.since[pid] = registered
                household = f"house:{house}" if house else f"addr:{bi_addr}"
                people.active.setdefault(pid, []).append((household, estate, category, house))
                people.members.setdefault(household, set()).add(pid)
        self._people = people
        self._people_cache.done()
        return people

    # ---- record rules -------------------------------------------------------------------------------------
    def _evaluate_records(
        self, rtype: RecordType, event: StoredRecords, now: datetime, out: list[AlarmSignal]
    ) -> None:
        rules = self.rules.by_record_type.get(rtype.slug)
        if not rules:
            return
        devices = self._device_map()
        if any(c.watchlists for r in rules for c in r.conditions()):
            self._load_watch()
        tf, df, ef = rtype.time_field, rtype.device_field, rtype.estate_field
        slug = rtype.slug
        for rec, sent_for in zip(event.records, event.record_estates(), strict=True):
            # Stored records carry naive UTC times (the database's form); signals need aware ones.
            stamp = rec.get(tf) if tf else None
            at = (_aware(stamp) or now) if isinstance(stamp, datetime) else now
            dev = rec.get(df) if df else None
            info = devices.get(dev) if isinstance(dev, str) else None
            # As the pipeline stores it: the estate it was sent for first, then the record's own estate field.
            estate = sent_for or (rec.get(ef) if ef else None) or (info.estate if info else None)
            ctx = Ctx(self, estate, at)
            rid = rec.get("ID")
            rid = rid if isinstance(rid, str) else None
            for rule in rules:
                ctx.hits = []
                self._apply(rule, slug, rec, rid, at, ctx, info, now, out)

    def _apply(
        self,
        rule: Rule,
        slug: str,
        rec: Mapping[str, Any],
        rid: str | None,
        at: datetime,
        ctx: Ctx,
        info: DeviceInfo | None,
        now: datetime,
        out: list[AlarmSignal],
    ) -> None:
        assert rule.when is not None
        matched = rule.when(rec, ctx)
        states = self._states.setdefault(rule.name, {})
        if not matched:
            if rule.stateful and states:
                self._contrary(rule, slug, rec, rid, at, ctx, info, states, out)
            return
        orig = self._originator(rule, rec, ctx)
        if orig is None:
            return  # nothing to attach an alarm to (e.g. a swipe naming no house)
        zone = None
        if rule.schedule is not None:
            zf = rule.schedule.zone_field
            zone_value = rec.get(zf) if zf else orig.id
            armed, zone = rule.schedule.check(at, str(zone_value) if zone_value not in (None, "") else None)
            if not armed:
                if rule.stateful and states:
                    self._contrary(rule, slug, rec, rid, at, ctx, info, states, out)
                return
        subject = f"{orig.kind}:{orig.id}"
        ref = f"{slug}:{rid}" if rid else None
        extra: dict[str, Any] = {}
        refs: list[str] = [ref] if ref else []
        if rule.repeat is not None:
            counted = self._count(rule, states, subject, rec, rid, at, ctx)
            if counted is None:
                return
            extra["count"], refs = counted
        elif rule.duration is not None:
            run_refs = self._run(rule, states, subject, ref, at, ctx, info, rec)
            if run_refs is None:
                return
            extra["duration_s"], refs = run_refs
        elif rid is not None:
            key = (rule.name, rid)
            if key in self._recent:
                return  # the same record again: it already raised this rule's alarm
            self._recent[key] = None
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        signal = self._signal(rule, orig, at, ctx, rec, info, refs, extra, zone)
        out.append(signal)
        if rule.clear_when is not None:
            st = states.setdefault(subject, {})
            if not st.get("active"):
                st["active"] = True
                self._dirty.add((rule.name, subject))

    def _contrary(
        self,
        rule: Rule,
        slug: str,
        rec: Mapping[str, Any],
        rid: str | None,
        at: datetime,
        ctx: Ctx,
        info: DeviceInfo | None,
        states: dict[str, dict[str, Any]],
        out: list[AlarmSignal],
    ) -> None:
        """A record of the rule's type that does not match: it ends a duration run, and may clear."""
        orig = self._originator(rule, rec, ctx)
        if orig is None:
            return
        subject = f"{orig.kind}:{orig.id}"
        st = states.get(subject)
        if st is None:
            return
        if "run" in st:
            del st["run"]
            self._dirty.add((rule.name, subject))
        if st.get("active") and rule.clear_when is not None and rule.clear_when(rec, ctx):
            del st["active"]
            self._dirty.add((rule.name, subject))
            refs = [f"{slug}:{rid}"] if rid else []
            out.append(self._signal(rule, orig, at, ctx, rec, info, refs, {}, None, clear=True))
        if not st:
            del states[subject]

    def _originator(self, rule: Rule, rec: Mapping[str, Any], ctx: Ctx) -> _Orig | None:
        for o in rule.originators:
            found = self._resolve(o, rec, ctx)
            if found is not None:
                return found
        return None

    def _resolve(self, o: Originator, rec: Mapping[str, Any], ctx: Ctx) -> _Orig | None:
        if o.kind == "estate":
            return _Orig("estate", ctx.estate[:80]) if ctx.estate else None
        assert o.field is not None
        value = rec.get(o.field)
        if not isinstance(value, str) or not value.strip():
            return None
        if o.kind != "person":
            return _Orig(o.kind, value.strip()[:80])
        kind = o.personal or "id_number"
        blind = ctx.blind(kind, value)
        pid = self.person(kind, blind)
        if pid is not None:
            if ctx.estate is None:
                ctx.estate = self._people.estate_of(pid)
            return _Orig("person", pid, pid)
        # Not in the registry: the blind index names the person (or vehicle) without revealing the value.
        prefix = {"id_number": "bi", "phone": "tel", "plate": "plate"}.get(kind, "bi")
        return _Orig("person", f"{prefix}:{blind[:24]}")

    def _count(
        self,
        rule: Rule,
        states: dict[str, dict[str, Any]],
        subject: str,
        rec: Mapping[str, Any],
        rid: str | None,
        at: datetime,
        ctx: Ctx,
    ) -> tuple[int, list[str]] | None:
        """Add the record to the originator's window; (count, record refs) when the count is reached."""
        rep = rule.repeat
        assert rep is not None and rule.record_type is not None
        distinct = None
        if rep.distinct is not None:
            v = rec.get(rep.distinct)
            if v is None or v == "":
                return None
            distinct = ctx.blind(rep.distinct_personal, str(v)) if rep.distinct_personal else str(v)
        st = states.setdefault(subject, {})
        hits: list[list[Any]] = st.setdefault("hits", [])
        if rid is not None and any(h[1] == rid for h in hits):
            return None  # delivered again: it is already counted
        in_order = not hits or at >= hits[-1][0]
        hits.append([at, rid, distinct])
        if not in_order:
            hits.sort(key=lambda h: h[0])
        newest = hits[-1][0]
        within = timedelta(seconds=rep.within)
        while hits and hits[0][0] < newest - within:
            hits.pop(0)
        if len(hits) > _MAX_HITS:
            del hits[: len(hits) - _MAX_HITS]
        self._dirty.add((rule.name, subject))
        # Windows of length `within` that contain this record: only the one ending at it when records come
        # in order; when one arrives late, every window starting at or before it.
        starts = [at - within] if in_order else [h[0] for h in hits if at - within <= h[0] <= at]
        for start in starts:
            inside = [h for h in hits if start <= h[0] <= start + within]
            n = len({h[2] for h in inside}) if rep.distinct else len(inside)
            if n >= rep.count:
                refs = [f"{rule.record_type}:{h[1]}" for h in inside if h[1]][-_MAX_REFS:]
                return n, refs
        return None

    def _run(
        self,
        rule: Rule,
        states: dict[str, dict[str, Any]],
        subject: str,
        ref: str | None,
        at: datetime,
        ctx: Ctx,
        info: DeviceInfo | None,
        rec: Mapping[str, Any],
    ) -> tuple[float, list[str]] | None:
        """Extend the originator's run of matching records; (seconds held, refs) once it spans the duration."""
        dur = rule.duration
        assert dur is not None
        st = states.setdefault(subject, {})
        run: dict[str, Any] | None = st.get("run")
        gap = timedelta(seconds=dur.gap)
        if run is None or (not dur.latch and (at - run["last"] > gap or run["start"] - at > gap)):
            location, lon, lat = self._place(rule, rec, info)
            run = {
                "start": at,
                "last": at,
                "refs": [ref] if ref else [],
                "fired": False,
                # What a latched run needs to raise its alarm from tick(), when no record is at hand.
                "estate": ctx.estate,
                "location": location,
                "lon": lon,
                "lat": lat,
            }
            st["run"] = run
            self._dirty.add((rule.name, subject))
        else:
            changed = False
            if at < run["start"]:
                run["start"], changed = at, True
            if at > run["last"]:
                run["last"], changed = at, True
            if ref and ref not in run["refs"] and len(run["refs"]) < _MAX_REFS:
                run["refs"].append(ref)
                changed = True
            if changed:
                self._dirty.add((rule.name, subject))
        held = (run["last"] - run["start"]).total_seconds()
        if run["fired"] or held < dur.seconds:
            return None
        run["fired"] = True
        self._dirty.add((rule.name, subject))
        return held, list(run["refs"])

    # ---- signals ------------------------------------------------------------------------------------------
    def _place(
        self, rule: Rule, rec: Mapping[str, Any], info: DeviceInfo | None
    ) -> tuple[str | None, float | None, float | None]:
        location = rec.get(rule.location_field) if rule.location_field else None
        if not isinstance(location, str) or not location.strip():
            location = info.location if info else None
        lon, lat = rec.get("DQJD"), rec.get("DQWD")
        if not isinstance(lon, int | float) or not isinstance(lat, int | float) or isinstance(lon, bool):
            lon, lat = (info.lon, info.lat) if info else (None, None)
        return (
            location[:300] if location else None,
            float(lon) if lon is not None else None,
            float(lat) if lat is not None else None,
        )

    def _signal(
        self,
        rule: Rule,
        orig: _Orig,
        at: datetime,
        ctx: Ctx,
        rec: Mapping[str, Any],
        info: DeviceInfo | None,
        refs: list[str],
        extra: Mapping[str, Any],
        zone: Any,
        *,
        clear: bool = False,
    ) -> AlarmSignal:
        atype = self.rules.types[rule.type]
        severity = rule.severity
        details: dict[str, Any] = {"record_type": rule.record_type}
        rid = rec.get("ID")
        if isinstance(rid, str):
            details["record_id"] = rid
        for code in rule.details_fields:
            value = _jsonable(rec.get(code))
            if value is not None and value != "":
                details[code] = value
        if info is not None and orig.kind != "device":
            details["device"] = info.id
        if orig.person is not None:
            details["person_id"] = orig.person
        if ctx.hits:
            details["watchlist"] = [
                {"pk": h.pk, "kind": h.kind, "masked": h.masked, "label": h.label, "severity": h.severity}
                for h in ctx.hits
            ]
            if rule.severity_from_watchlist:
                severity = ctx.hits[0].severity
                for h in ctx.hits[1:]:
                    severity = _severity_max(severity, h.severity)
        if zone is not None:
            details["zone"] = zone.name
            if zone.severity:
                severity = zone.severity
        if not clear:
            for lv in rule.levels:
                if lv.when(rec, ctx):
                    severity = lv.severity
                    if lv.sla_minutes is not None:
                        details["sla_minutes"] = lv.sla_minutes
                    details.update(lv.details)
                    break
        details.update(extra)
        location, lon, lat = self._place(rule, rec, info)
        where = location or f"{orig.kind} {orig.id}"
        if rule.title_zh and rule.title_en:
            values = _Format(
                {code: _jsonable(rec.get(code)) for code in rule.details_fields}
                | {
                    "originator": orig.id,
                    "location": location or "",
                    "estate": ctx.estate or "",
                    "zone": getattr(zone, "name", ""),
                    "count": extra.get("count", ""),
                    "type_zh": atype.zh,
                    "type_en": atype.en,
                }
            )
            title_zh, title_en = rule.title_zh.format_map(values), rule.title_en.format_map(values)
        else:
            title_zh, title_en = f"{atype.zh}：{where}", f"{atype.en}: {where}"
        return AlarmSignal(
            type=rule.type,
            rule=rule.name,
            severity=severity,
            originator_kind=orig.kind,
            originator_id=orig.id,
            estate=ctx.estate,
            at=at,
            title_zh=title_zh[:200],
            title_en=title_en[:200],
            location=location,
            lon=lon,
            lat=lat,
            details=details,
            records=tuple(refs),
            clear=clear,
        )

    def _bare_signal(
        self,
        rule: Rule,
        kind: str,
        ident: str,
        at: datetime,
        *,
        estate: str | None,
        location: str | None,
        lon: float | None,
        lat: float | None,
        details: dict[str, Any],
        refs: Iterable[str] = (),
        clear: bool = False,
    ) -> AlarmSignal:
        """A signal raised from state (timers, latches) rather than from a record in hand."""
        atype = self.rules.types[rule.type]
        where = location or f"{kind} {ident}"
        return AlarmSignal(
            type=rule.type,
            rule=rule.name,
            severity=rule.severity,
            originator_kind=kind,
            originator_id=ident[:80],
            estate=estate,
            at=at,
            title_zh=f"{atype.zh}：{where}"[:200],
            title_en=f"{atype.en}: {where}"[:200],
            location=location,
            lon=lon,
            lat=lat,
            details=details,
            records=tuple(refs),
            clear=clear,
        )

    # ---- silences -----------------------------------------------------------------------------------------
    def _device_subjects(self, rule: Rule) -> dict[str, Subject]:
        s = rule.silence
        assert s is not None
        devices = self._device_map()
        key = (self._devices_cache.loaded_at, 0.0)
        if self._subjects_key.get(rule.name) == key:
            return self._subjects[rule.name]
        timed = [
            d
            for d in devices.values()
            if d.kind in s.kinds
            and d.status != "retired"
            and (s.estates is None or d.estate in s.estates)
            and (s.devices is None or d.id in s.devices)
        ]
        # A device's last_seen_at counts any record or heartbeat; a rule heard only through some record
        # types (patrol checkpoints) looks at the stored records of those types instead.
        stored: dict[str, datetime] | None = None
        if not s.any_record:
            stored = {}
            for slug in s.heard_by:
                rtype = record_type(slug)
                assert rtype.device_field is not None
                found = self._latest_stored(rtype, rtype.device_field, [d.id for d in timed], blind=False)
                for dev, at in found.items():
                    if dev not in stored or at > stored[dev]:
                        stored[dev] = at
        subjects: dict[str, Subject] = {}
        for d in timed:
            subjects[f"device:{d.id}"] = Subject(
                f"device:{d.id}",
                "device",
                d.id,
                d.estate,
                d.location,
                d.lon,
                d.lat,
                d.last_seen_at if stored is None else stored.get(d.id),
                d.created_at,
                {"device_kind": d.kind},
            )
        self._subjects[rule.name] = subjects
        self._subjects_key[rule.name] = key
        return subjects

    def _elder_subjects(self, rule: Rule) -> dict[str, Subject]:
        s = rule.silence
        assert s is not None
        people = self._load_people()
        key = (self._people_cache.loaded_at, 1.0)
        if self._subjects_key.get(rule.name) == key:
            return self._subjects[rule.name]
        elders = [
            pid
            for pid in people.active
            if people.elderly_alone(pid, s.min_age, s.categories)
            and (s.estates is None or people.estate_of(pid) in s.estates)
        ]
        last = self._stored_last_seen(rule, [people.id_blind[p] for p in elders if p in people.id_blind])
        houses = self._houses({h[3] for p in elders for h in people.active[p] if h[3]})
        subjects: dict[str, Subject] = {}
        for pid in elders:
            house_id = next((h[3] for h in people.active[pid] if h[3]), None)
            address, lon, lat = houses.get(house_id or "", (None, None, None))
            subjects[f"person:{pid}"] = Subject(
                f"person:{pid}",
                "person",
                pid,
                people.estate_of(pid),
                address,
                lon,
                lat,
                last.get(people.id_blind.get(pid, "")),
                # Never seen yet: the silence is timed from when the residence was registered.
                people.since.get(pid),
                {"house_id": house_id, "age": people.age(pid), "person_id": pid},
            )
        self._subjects[rule.name] = subjects
        self._subjects_key[rule.name] = key
        return subjects

    def _stored_last_seen(self, rule: Rule, blinds: list[str]) -> dict[str, datetime]:
        """The latest stored record naming each blind index, over the rule's record types."""
        s = rule.silence
        assert s is not None
        out: dict[str, datetime] = {}
        for slug, code in s.heard_by.items():
            if code is None:
                continue
            for blind, at in self._latest_stored(record_type(slug), code, blinds, blind=True).items():
                if blind not in out or at > out[blind]:
                    out[blind] = at
        return out

    def _latest_stored(
        self, rtype: RecordType, code: str, values: list[str], *, blind: bool
    ) -> dict[str, datetime]:
        """The latest event time of stored records of a type per value of a field (or its blind index):
        one grouped query per 500 values, at cache loads, never per record."""
        out: dict[str, datetime] = {}
        if not values or rtype.time_field is None:
            return out
        table = self.db.table(rtype.table_name)
        column_name = rtype.field(code).column
        column = table.c[f"_bi_{column_name}" if blind else column_name]
        when = table.c[rtype.field(rtype.time_field).column]
        with self.db.engine.connect() as conn:
            for i in range(0, len(values), _CHUNK):
                chunk = values[i : i + _CHUNK]
                for key, latest in conn.execute(
                    select(column, func.max(when)).where(column.in_(chunk)).group_by(column)
                ):
                    at = _aware(latest)
                    if at is not None:
                        out[key] = at
        return out

    def _houses(self, ids: set[str]) -> dict[str, tuple[str | None, float | None, float | None]]:
        if not ids:
            return {}
        house, building = self.db.table("house"), self.db.table("building")
        out: dict[str, tuple[str | None, float | None, float | None]] = {}
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(house.c.id, house.c.address, building.c.lon, building.c.lat)
                .select_from(house.outerjoin(building, building.c.id == house.c.building_id))
                .where(house.c.id.in_(sorted(ids)))
            ).all()
        for r in rows:
            out[r.id] = (r.address, r.lon, r.lat)
        return out

    def _subjects_of(self, rule: Rule) -> dict[str, Subject]:
        assert rule.silence is not None
        if rule.silence.subject == "device":
            return self._device_subjects(rule)
        return self._elder_subjects(rule)

    def _hear_heartbeat(self, event: Heartbeat, now: datetime, out: list[AlarmSignal]) -> None:
        at = min(_aware(event.at) or now, now)
        for rule in self.rules.silences:
            s = rule.silence
            assert s is not None
            if s.subject != "device" or not s.heartbeat:
                continue
            subject = self._device_subjects(rule).get(f"device:{event.device_id}")
            if subject is not None:
                self._heard(rule, subject, at, now, out)

    def _hear_records(
        self, rtype: RecordType, event: StoredRecords, now: datetime, out: list[AlarmSignal]
    ) -> None:
        latest_by_device: dict[str, datetime] | None = None
        for rule in self.rules.silences:
            s = rule.silence
            assert s is not None
            if not s.hears(rtype.slug):
                continue
            if s.subject == "device":
                if rtype.device_field is None:
                    continue
                if latest_by_device is None:
                    latest_by_device = self._latest(rtype, event.records, rtype.device_field, None, now)
                subjects = self._device_subjects(rule)
                for dev, at in latest_by_device.items():
                    found = subjects.get(f"device:{dev}")
                    if found is not None:
                        self._heard(rule, found, at, now, out)
                continue
            code = s.heard_by.get(rtype.slug)
            subjects = self._elder_subjects(rule)
            if code is None or not subjects:
                continue
            people = self._people
            for blind, at in self._latest(rtype, event.records, code, "id_number", now).items():
                pid = people.by_id_number.get(blind)
                found = subjects.get(f"person:{pid}") if pid else None
                if found is not None:
                    self._heard(rule, found, at, now, out)

    def _latest(
        self,
        rtype: RecordType,
        records: Iterable[Mapping[str, Any]],
        code: str,
        blind_kind: str | None,
        now: datetime,
    ) -> dict[str, datetime]:
        """The latest event time (never past `now`: a fast device clock must not hide a silence) per value
        of `code`, or per blind index of it."""
        tf = rtype.time_field
        latest: dict[str, datetime] = {}
        for rec in records:
            value = rec.get(code)
            if not isinstance(value, str) or not value:
                continue
            stamp = rec.get(tf) if tf else None
            at = min(_aware(stamp) or now, now) if isinstance(stamp, datetime) else now
            key = self.blind(blind_kind, value) if blind_kind else value
            if key not in latest or at > latest[key]:
                latest[key] = at
        return latest

    def _heard(
        self, rule: Rule, subject: Subject, at: datetime, now: datetime, out: list[AlarmSignal]
    ) -> None:
        s = rule.silence
        assert s is not None
        states = self._states.setdefault(rule.name, {})
        st = states.setdefault(subject.key, {})
        last = st.get("last")
        if last is None or at > last:
            st["last"] = at
            self._lazy.add((rule.name, subject.key))
        if st.get("fired") and (now - at).total_seconds() < s.after:
            st["fired"] = False
            self._dirty.add((rule.name, subject.key))
            out.append(self._silence_signal(rule, subject, at, st, clear=True))

    def _silence_signal(
        self, rule: Rule, subject: Subject, at: datetime, st: Mapping[str, Any], *, clear: bool = False
    ) -> AlarmSignal:
        s = rule.silence
        assert s is not None
        last = self._last_heard(subject, st, at)
        details: dict[str, Any] = {
            **subject.details,
            "silence_s": s.after,
            "last_heard": last.isoformat() if last else None,
        }
        if not clear and last is not None:
            details["silent_s"] = round((at - last).total_seconds())
        return self._bare_signal(
            rule,
            subject.kind,
            subject.id,
            at,
            estate=subject.estate,
            location=subject.location,
            lon=subject.lon,
            lat=subject.lat,
            details=details,
            clear=clear,
        )

    @staticmethod
    def _last_heard(subject: Subject, st: Mapping[str, Any], now: datetime) -> datetime | None:
        # A device whose clock runs ahead must not hide its own silence: what the engine heard is capped at
        # arrival, and a stored time still in the future (device.last_seen_at keeps the record's own time)
        # is not evidence of anything yet.
        times = [t for t in (st.get("last"), subject.stored_last) if isinstance(t, datetime) and t <= now]
        return max(times) if times else None

    def _tick_silence(self, rule: Rule, now: datetime, out: list[AlarmSignal]) -> None:
        s = rule.silence
        assert s is not None
        subjects = self._subjects_of(rule)
        states = self._states.setdefault(rule.name, {})
        schedule = rule.schedule
        for key, subject in subjects.items():
            st = states.setdefault(key, {})
            if "since" not in st:
                # First timed by this engine: from registration (devices) or from now (people).
                st["since"] = subject.since or now
                self._dirty.add((rule.name, key))
            last = self._last_heard(subject, st, now)
            reference = max(last, st["since"]) if last else st["since"]
            silent = (now - reference).total_seconds()
            if not st.get("fired"):
                # A schedule (zones are subject IDs) says when a silence counts, e.g. patrols at night only.
                if silent >= s.after and (schedule is None or schedule.check(now, subject.id)[0]):
                    st["fired"] = True
                    self._dirty.add((rule.name, key))
                    out.append(self._silence_signal(rule, subject, now, st))
            elif silent < s.after:
                # Heard through storage (another process ingested it): the silence is over.
                st["fired"] = False
                self._dirty.add((rule.name, key))
                out.append(self._silence_signal(rule, subject, last or now, st, clear=True))
        for key in [k for k in states if k not in subjects]:
            st = states.pop(key)
            self._dirty.add((rule.name, key))
            if st.get("fired"):
                # Retired, moved or no longer living alone: the timer no longer applies.
                kind, _, ident = key.partition(":")
                out.append(
                    self._bare_signal(
                        rule,
                        kind,
                        ident,
                        now,
                        estate=None,
                        location=None,
                        lon=None,
                        lat=None,
                        details={"reason": "no longer timed"},
                        clear=True,
                    )
                )

    def _tick_latches(self, now: datetime, out: list[AlarmSignal]) -> None:
        for rule in self.rules.rules:
            dur = rule.duration
            if dur is None or not dur.latch:
                continue
            for subject, st in self._states.get(rule.name, {}).items():
                run = st.get("run")
                if run is None or run["fired"] or (now - run["start"]).total_seconds() < dur.seconds:
                    continue
                run["fired"] = True
                self._dirty.add((rule.name, subject))
                kind, _, ident = subject.partition(":")
                out.append(
                    self._bare_signal(
                        rule,
                        kind,
                        ident,
                        now,
                        estate=run.get("estate"),
                        location=run.get("location"),
                        lon=run.get("lon"),
                        lat=run.get("lat"),
                        details={
                            "record_type": rule.record_type,
                            "duration_s": round((now - run["start"]).total_seconds()),
                            "since": run["start"].isoformat(),
                        },
                        refs=run.get("refs") or (),
                    )
                )
                if rule.clear_when is not None and not st.get("active"):
                    st["active"] = True

    def _prune(self, now: datetime) -> None:
        """Forget windows and runs that can no longer fire, so memory stays flat."""
        for rule in self.rules.rules:
            states = self._states.get(rule.name)
            if not states or rule.silence is not None:
                continue
            for subject in list(states):
                st = states[subject]
                before = len(st)
                if rule.repeat is not None and "hits" in st:
                    horizon = now - timedelta(seconds=rule.repeat.within)
                    hits = [h for h in st["hits"] if h[0] >= horizon]
                    if len(hits) != len(st["hits"]):
                        self._dirty.add((rule.name, subject))
                    if hits:
                        st["hits"] = hits
                    else:
                        del st["hits"]
                dur = rule.duration
                run = st.get("run")
                if (
                    dur is not None
                    and run is not None
                    and not dur.latch
                    and (now - run["last"]).total_seconds() > dur.gap
                ):
                    del st["run"]
                if len(st) != before:
                    self._dirty.add((rule.name, subject))
                if not st:
                    del states[subject]

    # ---- persistence --------------------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load_state()
            self._loaded = True

    def _load_state(self) -> None:
        t = self.db.table("rule_state")
        names = {r.name for r in self.rules.rules}
        self._states = {}
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(t.c.key, t.c.rule, t.c.value).where(t.c.rule.in_(sorted(names)))).all()
        for key, rule, value in rows:
            subject = key[len(rule) + 1 :]
            decoded = _decode(value)
            if isinstance(decoded, dict) and subject:
                self._states.setdefault(rule, {})[subject] = decoded

    def _flush(self, *, lazy: bool) -> None:
        keys = self._dirty | self._lazy if lazy else set(self._dirty)
        if not keys:
            return
        t = self.db.table("rule_state")
        # SQLAlchemy's SQLite form of a DateTime, so that reading the column back parses it.
        now = self.clock().astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        upserts: list[tuple[str, str, str, str]] = []
        deletes: list[str] = []
        for rule, subject in keys:
            key = f"{rule}:{subject}"[:200]
            st = self._states.get(rule, {}).get(subject)
            if st:
                upserts.append((key, rule, _encode(st), now))
            else:
                deletes.append(key)
        try:
            with self.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                for i in range(0, len(deletes), _CHUNK):
                    conn.execute(delete(t).where(t.c.key.in_(deletes[i : i + _CHUNK])))
                if upserts:
                    # The driver's own executemany with JSON text already encoded: SQLAlchemy's per-row
                    # bind processing cost more than the write itself.
                    conn.exec_driver_sql(self._upsert_sql, upserts)
        except Exception:
            # Kept dirty: the next event or tick tries again. Alarms already decided are still emitted.
            log.exception("could not write %d alarm rule states", len(keys))
            return
        self._dirty -= keys
        self._lazy -= keys

    @property
    def _upsert_sql(self) -> str:
        values = "%s, %s, CAST(%s AS JSON), %s" if self.db.dialect == "postgresql" else "?, ?, ?, ?"
        return (
            f"INSERT INTO rule_state (key, rule, value, updated_at) VALUES ({values}) "
            "ON CONFLICT (key) DO UPDATE SET rule = excluded.rule, value = excluded.value, "
            "updated_at = excluded.updated_at"
        )

    # ---- introspection (tests, `anju rules`) --------------------------------------------------------------
    def state(self, rule: str, subject: str) -> dict[str, Any] | None:
        with self._lock:
            self._ensure_loaded()
            st = self._states.get(rule, {}).get(subject)
            return dict(st) if st is not None else None


def run_ticker(
    engine: AlarmEngine,
    interval: float,
    stop: threading.Event,
    tick: Callable[[], object] | None = None,
) -> None:
    """Call `tick` (default `engine.tick`) every `interval` seconds until `stop` is set, then flush the
    engine's state. A failed pass is logged and the clock goes on. alarms/runtime.py runs its whole pass
    (silences, escalation, supplies, deliveries) through this loop."""
    step = tick or engine.tick
    while not stop.wait(interval):
        try:
            step()
        except Exception:
            log.exception("alarm tick failed")
    engine.flush()
