"""The registry's facts for the evaluation engine: what 一标三实 can establish about a community.

Fact keys are those the indicator files read (evaluation/data/*.yaml); a key is left out whenever the
registry cannot establish it truthfully (nothing registered, a building without a safety rating, a
resident without a birth date), so the score shows it as missing instead of a guessed value:

- WH.doors, WH.doors_qr: estate gates, building, unit and house doors, and those holding an active QR
  doorplate (Wuhan item 5: coverage 100%); the references name the doors still without one;
- SD.estates: estates in the community;
- SD.households: houses with at least one residence in force (a household, 户);
- SD.residents: people with a residence in force of category `resident` (常住人口);
- SD.residents_60_plus: of those, aged 60 or over on the evaluation date;
- SE46.3: every building of the community rated A (房屋安全等级 better than B): true when all are
  rated A, false as soon as one is rated B-D, left out while any is unrated.

The community code may be any node of the region tree, an estate included (Wuhan rates estates).
Evidence is computed as of the end of the evaluation date (see rates.py on what that approximates).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, case, func, select, true

from anju.evaluation.evidence import Evidence, ProviderRegistry, SourceKind, default_registry
from anju.registry.rates import (
    DOOR_KIND_ZH,
    RegistryRates,
    _in_force,
    estate_rates,
    estates_under,
    region_rates,
)
from anju.services import Services

NAME = "registry"
KEYS = frozenset(
    {
        "WH.doors",
        "WH.doors_qr",
        "SD.estates",
        "SD.households",
        "SD.residents",
        "SD.residents_60_plus",
        "SE46.3",
    }
)
_REFERENCES = 200  # at most this many references per fact: enough to act on, short enough to print
_ELDERLY = 60


def _born_by(on: date, years: int) -> date:
    """The last birth date of someone `years` old or more on `on`: their birthday that many years back,
    or 28 February when `on` is a 29 February the earlier year lacks (born 1 March, not yet)."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return date(on.year - years, 2, 28)


class RegistryEvidence:
    """An EvidenceProvider over the registry of one platform."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def name(self) -> str:
        return NAME

    @property
    def keys(self) -> frozenset[str]:
        return KEYS

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        svc = self.services
        # The end of the evaluation date, local time, stored naive in UTC.
        end = datetime.combine(as_of + timedelta(days=1), time(0), svc.settings.timezone)
        cutoff = end.astimezone(UTC).replace(tzinfo=None) - timedelta(microseconds=1)
        with svc.db.engine.connect() as conn:
            estates = estates_under(conn, svc.registry, svc.regions, community_code)
            if not estates:
                return {}
            # The facts cite at most _REFERENCES doors; the counts stay whole whatever the limit.
            if estates == (community_code,):
                rates = estate_rates(conn, svc.registry, community_code, as_of=cutoff, limit=_REFERENCES)
            else:
                rates = region_rates(
                    conn, svc.registry, svc.regions, community_code, as_of=cutoff, limit=_REFERENCES
                )
            out: dict[str, Evidence] = {}
            out.update(self._doors(rates))
            if rates.level == "region":
                out["SD.estates"] = Evidence(
                    len(estates),
                    SourceKind.records,
                    f"登记的小区数（区划树与小区登记）/ estates registered under {community_code}",
                    tuple(f"estate:{e}" for e in estates[:_REFERENCES]),
                )
            out.update(self._people(conn, estates, cutoff, as_of))
            out.update(self._buildings(conn, estates, cutoff))
        return out

    @staticmethod
    def _doors(rates: RegistryRates) -> dict[str, Evidence]:
        total = rates.doorplates
        if total.denominator == 0:
            return {}
        per_kind = "，".join(
            f"{DOOR_KIND_ZH[k]} {r.numerator}/{r.denominator}" for k, r in rates.doors.items()
        )
        missing = tuple(f"{e.kind}:{e.id}" for e in rates.doors_without_plate[:_REFERENCES])
        unplated = total.denominator - total.numerator  # the list holds only the first _REFERENCES
        return {
            "WH.doors": Evidence(
                total.denominator,
                SourceKind.records,
                f"登记的小区大门、楼栋、单元、房屋数（{per_kind}）/ registered gates, buildings, units and houses",
            ),
            "WH.doors_qr": Evidence(
                total.numerator,
                SourceKind.records,
                f"其中有有效二维码门牌的门数（{per_kind}）；引用为尚无门牌的门 / doors with an active QR "
                f"doorplate; the references are the {unplated} doors still without one",
                missing,
            ),
        }

    def _people(
        self, conn: Connection, estates: tuple[str, ...], cutoff: datetime, as_of: date
    ) -> dict[str, Evidence]:
        store = self.services.registry
        res, person = store.table("residence"), store.table("person")
        in_force = _in_force(store, estates, cutoff)
        resident = res.c.category == "resident"
        born = person.c.birth_date
        # Counted by the database in one statement: a community holds tens of thousands of people, and
        # fetching their residences and birth dates to count them in Python cost most of a scorecard.
        counts = (
            select(
                func.count().label("residences"),
                func.count(case((res.c.house_id != "", res.c.house_id)).distinct()).label("households"),
                func.count(case((resident, res.c.person_id)).distinct()).label("residents"),
            )
            .where(in_force)
            .subquery("counts")
        )
        # Each resident's person row once (IN, not a join per residence, so a person living in several
        # houses is looked up once); residents without one leave `dated` short of `residents`.
        ages = (
            select(
                func.count(born).label("dated"),
                func.count(case((born <= _born_by(as_of, _ELDERLY), 1))).label("elderly"),
            )
            .where(person.c.id.in_(select(res.c.person_id).where(in_force, resident)))
            .subquery("ages")
        )
        residences, households, residents, dated, elderly = conn.execute(
            select(counts, ages).select_from(counts.join(ages, true()))
        ).one()
        if not residences:
            return {}
        out = {
            "SD.households": Evidence(
                int(households),
                SourceKind.records,
                "有在住登记的房屋数（户）/ houses with at least one residence in force",
            ),
            "SD.residents": Evidence(
                int(residents),
                SourceKind.records,
                "常住人口登记人数（居住类别为常住）/ people registered as permanent residents",
            ),
        }
        # Only when every resident's age is known (a missing person row counts as unknown): a count
        # over some of them would understate the fact.
        if residents and dated == residents:
            out["SD.residents_60_plus"] = Evidence(
                int(elderly),
                SourceKind.records,
                f"常住人口中截至 {as_of.isoformat()} 年满 60 周岁的人数 / permanent residents aged 60 or over",
            )
        return out

    def _buildings(self, conn: Connection, estates: tuple[str, ...], cutoff: datetime) -> dict[str, Evidence]:
        building = self.services.registry.table("building")
        rows = conn.execute(
            select(building.c.id, building.c.safety_level)
            .where(building.c.estate.in_(estates), building.c.created_at <= cutoff)
            .order_by(building.c.id)
        ).all()
        if not rows:
            return {}
        worse = [r.id for r in rows if r.safety_level and r.safety_level.strip().upper() != "A"]
        unrated = [r.id for r in rows if not r.safety_level]
        if worse:
            value, refs = False, worse
            text = f"{len(worse)} 栋房屋安全等级低于 A 级 / buildings rated below A"
        elif unrated:
            return {}
        else:
            value, refs = True, []
            text = f"全部 {len(rows)} 栋房屋安全等级为 A 级 / every building rated A"
        return {
            "SE46.3": Evidence(
                value, SourceKind.records, text, tuple(f"building:{b}" for b in refs[:_REFERENCES])
            )
        }


def install(services: Services, registry: ProviderRegistry | None = None) -> RegistryEvidence:
    """Register the registry's provider (replacing an earlier one of the same name, e.g. over other
    services) in `registry`, by default the engine's process-wide one."""
    target = registry if registry is not None else default_registry()
    target.unregister(NAME)
    provider = RegistryEvidence(services)
    target.register(provider)
    return provider
