"""The platform's long-lived objects, wired once for the CLI, the web app and tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from anju.alarms.duty import FileDutyRoster
from anju.alarms.engine import AlarmEngine
from anju.alarms.linkage import Linkage
from anju.alarms.store import AlarmStore, EscalationPolicy
from anju.config import Settings
from anju.db.database import Database
from anju.ingest.bus import Bus
from anju.ingest.pipeline import Clock, Pipeline, utcnow
from anju.ingest.quarantine import Quarantine
from anju.patrols.matching import attach as attach_patrols
from anju.registry.devices import DeviceRegistry
from anju.registry.projection import Projection
from anju.registry.regions import RegionTree
from anju.registry.sealing import RegistrySealer
from anju.registry.store import RegistryStore
from anju.security.audit import AuditLog
from anju.security.crypto import self_test
from anju.security.identity import Identity
from anju.security.keys import Keyring, load_or_create
from anju.security.personal import RecordProtector


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    pipeline: Pipeline
    quarantine: Quarantine
    keyring: Keyring
    protector: RecordProtector
    identity: Identity
    regions: RegionTree
    audit: AuditLog
    registry: RegistryStore
    # Built from the above and subscribed to the bus: stored records reach the registry and device last-seen.
    projection: Projection = field(init=False)
    devices: DeviceRegistry = field(init=False)
    # Alarms: the lifecycle store and its in-process hub of changes (the SSE stream, the notifier).
    alarms: AlarmStore = field(init=False)
    # The alarm engine (rules over records, silence timers); its signals go to `alarms`.
    engine: AlarmEngine = field(init=False)
    # Who is on duty, per region and level ($ANJU_DATA_DIR/duty.yaml, re-read when it changes).
    duty: FileDutyRoster = field(init=False)
    # Cameras of new alarms (the store's hook) and recipients of notifications (alarms/runtime.py).
    linkage: Linkage = field(init=False)

    def __post_init__(self) -> None:
        self.projection = Projection(
            self.db,
            self.registry,
            self.audit,
            self.protector,
            self.regions,
            dictionaries=lambda: self.pipeline.dictionaries,
            timezone=self.settings.timezone,
            clock=self.pipeline.clock,
        )
        self.devices = DeviceRegistry(
            self.db.engine, self.db.table("device"), self.audit, clock=self.pipeline.clock
        )
        self.alarms = AlarmStore(
            self.db,
            self.audit,
            clock=self.pipeline.clock,
            policy=EscalationPolicy.for_data_dir(self.settings.data_dir),
        )
        self.projection.attach(self.bus)
        self.devices.attach(self.bus)
        self.duty = FileDutyRoster.for_data_dir(
            self.settings.data_dir, self.settings.timezone, self.regions.ancestors
        )
        # A new alarm is stored with the nearest cameras, looked up in its own transaction.
        self.linkage = Linkage(self, self.duty)
        self.alarms.cameras_for = self.linkage.cameras_for
        # After the projection and devices, so that rules see the registry as this event left it. A
        # record ingested by any source raises its alarm before the ingest call returns; what needs a
        # clock (silences, escalation, deliveries) is alarms/runtime.py's.
        self.engine = AlarmEngine.from_services(self, sink=self.alarms.raise_signal)
        self.engine.batch_sink = self.alarms.raise_signals
        self.engine.attach(self.bus)
        # Patrol records (from the API's check-ins and from devices alike) are matched to their shifts.
        attach_patrols(self)

    def close(self) -> None:
        self.db.dispose()


_SELF_TESTED = False


def open_services(
    settings: Settings | None = None, *, clock: Clock = utcnow, upgrade: bool = True
) -> Services:
    global _SELF_TESTED
    if not _SELF_TESTED:
        # Nothing is encrypted with a library that does not reproduce the standards' test vectors.
        self_test()
        _SELF_TESTED = True
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = load_or_create(settings.keys_file)
    protector = RecordProtector(keyring)
    db = Database(settings.database_url)
    if upgrade:
        db.upgrade()
    bus = Bus()
    audit = AuditLog(db.engine, keyring.audit_key, clock=clock)
    pipeline = Pipeline(db, settings, bus=bus, clock=clock, protector=protector, audit=audit)
    identity = Identity(db.engine, db.metadata.tables, keyring, audit=audit, clock=clock)
    regions = RegionTree(db.engine, db.table("region"))
    registry = RegistryStore(db.metadata.tables, RegistrySealer(protector))
    return Services(
        settings,
        db,
        bus,
        pipeline,
        Quarantine(pipeline),
        keyring,
        protector,
        identity,
        regions,
        audit,
        registry,
    )
