"""Enter a simulated community the way real data enters: region nodes through `RegionTree.add`, places and
people as standard records through `Pipeline.ingest` (the projection builds the registry from them),
estate boundaries, gates and org units through the registry store's one write rule, devices through
`DeviceRegistry.register`, the watchlisted plate through `Watchlists.add`. No table is written here
directly. Installing the same plan twice changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from anju.registry.geo import boundary_geojson, centroid, parse_boundary
from anju.registry.regions import RegionRefused
from anju.registry.store import Provenance
from anju.services import Services
from anju.sim.plan import Community
from anju.sim.records import community_records

ACTOR = "sim"
SOURCE = "sim"


@dataclass
class InstallReport:
    stored: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    regions: int = 0
    devices: int = 0
    plan_file: Path | None = None

    @property
    def rejected(self) -> int:
        return sum(self.quarantined.values())


def _region(svc: Services, code: str, name: str, level: str, parent: str | None) -> int:
    try:
        svc.regions.add(svc.audit, code=code, name=name, level=level, parent=parent, actor=ACTOR)
    except RegionRefused as exc:
        if exc.code != "region_exists":
            raise
        return 0
    return 1


def install(svc: Services, community: Community, *, plan_dir: Path | None = None) -> InstallReport:
    """Install the plan; write it as JSON to `plan_dir` (default: $ANJU_DATA_DIR/sim)."""
    c = community
    report = InstallReport()
    street = c.district.code + c.street.code
    report.regions += _region(svc, c.district.code, c.district.name, "district", None)
    report.regions += _region(svc, street, c.street.name, "street", c.district.code)
    report.regions += _region(svc, c.community.code, c.community.name, "community", street)
    for e in c.estates:
        report.regions += _region(svc, e.code, e.name, "estate", c.community.code)

    for slug, per_estate in community_records(c).items():
        for estate, items in per_estate:
            if not items:
                continue
            result = svc.pipeline.ingest(slug, items, source=SOURCE, actor=ACTOR, estate=estate)
            report.stored[slug] = report.stored.get(slug, 0) + result.accepted
            report.duplicates[slug] = report.duplicates.get(slug, 0) + result.duplicates
            report.quarantined[slug] = report.quarantined.get(slug, 0) + result.rejected

    _places(svc, c)
    for d in c.devices():
        change = svc.devices.register(
            d.id,
            estate=d.estate,
            kind=d.kind,
            actor=ACTOR,
            name=d.name,
            location=d.location,
            building_id=d.building_id,
            lon=d.at.lon,
            lat=d.at.lat,
            vendor="安居模拟",
        )
        report.devices += change == "created"
    svc.engine.watchlists.add(
        "plate", c.watch_plate, label="模拟布控车辆 (simulated watchlisted vehicle)", actor=ACTOR
    )
    # The engine caches devices and people; the new ones must be timed and matched from now on.
    svc.engine.invalidate()

    target = plan_dir or svc.settings.data_dir / "sim"
    target.mkdir(parents=True, exist_ok=True)
    report.plan_file = target / f"community-{c.seed}.json"
    report.plan_file.write_bytes(c.to_json())
    return report


def _places(svc: Services, c: Community) -> None:
    """Boundaries, gates and org units: what no standard record carries, through the registry store."""
    staff = Provenance(SOURCE)
    now = svc.pipeline.clock()
    with svc.db.engine.begin() as conn:
        for e in c.estates:
            polygon = parse_boundary(e.boundary_geojson())
            centre = centroid(polygon)
            svc.registry.upsert(
                conn,
                "estate",
                e.code,
                {
                    "name": e.name,
                    "address": e.address,
                    "boundary": json.dumps(boundary_geojson(polygon), separators=(",", ":")),
                    "centre_lon": centre.lon,
                    "centre_lat": centre.lat,
                },
                staff,
                now=now,
                key="code",
            )
            for g in e.gates:
                values = {"estate": e.code, "name": g.name, "lat": g.at.lat, "lon": g.at.lon}
                svc.registry.upsert(conn, "gate", g.id, values, staff, now=now)
            for o in e.org_units:
                values = {
                    "estate": e.code,
                    "community": c.community.code,
                    "name": o.name,
                    "kind": o.kind,
                    "lat": o.at.lat,
                    "lon": o.at.lon,
                }
                svc.registry.upsert(conn, "org_unit", o.id, values, staff, now=now)
            svc.audit.append(
                conn,
                actor=ACTOR,
                action="registry.estate.boundary",
                target=f"estate/{e.code}",
                detail={"datum": "wgs84", "gates": len(e.gates), "org_units": len(e.org_units)},
            )
