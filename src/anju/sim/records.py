"""The plan as standard records: one building_info per house (it carries building, unit and house), one
resident_registration per person (the property desk), one population_sync per tenant (the police).

Every record starts from `SampleFactory`'s valid record of its type, so fields the plan says nothing
about are valid too, and the plan's values go on top. The factory's clock is fixed and every time comes
from the plan, so a seed gives the same records on any day: re-generating into the same database finds
duplicates, never conflicts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from anju.ingest.items import Item
from anju.sim.generate import REFERENCE
from anju.sim.plan import Building, Community, Estate, House, Person, Unit
from anju.standard.dictionaries import load_dictionaries
from anju.standard.samples import SampleFactory, mobile
from anju.standard.spec import record_type

_FACTORY_NOW = datetime(REFERENCE.year, REFERENCE.month, REFERENCE.day, 4, tzinfo=UTC)
# Optional fields the factory fills with placeholder text that would mean something false here
# (move-out dates, expiry, photos at made-up paths).
_DROP = {
    "building_info": ("JDWD_XXQK", "RY_BS", "GQ_RQSJ", "RZ_RQSJ", "CC_RQSJ", "SMRZSS_YXQ", "DY_ZP", "PX_BH"),
    "resident_registration": (
        "CL_RQSJ",
        "JZFS_MC",
        "JZ_QX",
        "ZP_DZMC",
        "HMTD_DZMC",
        "ZWTP_DZMC",
        "CS_BS",
        "CS_MC",
        "CS_FWDH",
        "FWSY_JYQK",
        "FW_RQSJ",
        "FWRY_XM",
    ),
}


def _local(at: datetime | date) -> str:
    if isinstance(at, datetime):
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.strftime("%Y-%m-%d")


class RecordMaker:
    """Turns one community's plan into records, deterministically."""

    def __init__(self, community: Community) -> None:
        self.c = community
        self.factory = SampleFactory(community.seed, now=_FACTORY_NOW, dictionaries=load_dictionaries())
        self.rng = random.Random(community.seed * 7919 + 1)
        self._moved_in: dict[str, datetime] = {}

    def _base(self, slug: str, i: int) -> dict[str, Any]:
        rec = self.factory.record(record_type(slug), i)
        for code in _DROP.get(slug, ()):
            rec.pop(code, None)
        return rec

    def moved_in(self, house: House) -> datetime:
        """When the household moved in: after the building was finished, before the reference date."""
        if house.id not in self._moved_in:
            days = self.rng.randrange(30, 9 * 365)
            self._moved_in[house.id] = datetime(REFERENCE.year, 1, 1, 10) - timedelta(days=days)
        return self._moved_in[house.id]

    # ---- building_info ---------------------------------------------------------------------------------
    def buildings(self) -> Iterator[tuple[str, list[Item]]]:
        """(estate code, its building_info items)."""
        for e in self.c.estates:
            items: list[Item] = []
            for b in e.buildings:
                for u in b.units:
                    for h in u.houses:
                        rec = self._house(e, b, u, h, len(items))
                        items.append(Item(len(items), orjson.dumps(rec), rec))
            yield e.code, items

    def _house(self, e: Estate, b: Building, u: Unit, h: House, i: int) -> dict[str, Any]:
        c, m = self.c, self.c.manager
        people = [p for p in self.c.people if p.house_id == h.id] if not h.vacant else []
        rec = self._base("building_info", i)
        rec.update(
            ID=f"BI-{h.id}",
            JZDM_ID=b.id,
            JZ_BM=b.code,
            JZWMC=f"{e.name}{b.name}",
            DZ=e.address,
            JLXMC=e.road,
            MH_SL=str(sum(len(x.houses) for x in b.units)),
            XQ_MC=e.name,
            LDH_MC=b.name,
            JZ_XZ="住宅",
            XJ_RQSJ=_local(datetime(b.built.year, b.built.month, b.built.day, 9)),
            ZZDY_SL=str(len(b.units)),
            DM_CS=b.floors,
            DX_CS=1,
            MCLH_SL="2",
            XQ_BM=e.code,
            DXCJZ_CS=0,
            JZZZ_PDBZ="1",
            CJSJ=_local(datetime(b.built.year, b.built.month, b.built.day, 9)),
            GXSJ=_local(datetime(2024, 12, 1, 9) + timedelta(minutes=i)),
            DY_BM=u.code,
            DY_MC=u.name,
            SFDM=c.district.code[:2] + "0000",
            QXDM=c.district.code,
            SDM=c.district.code[:4] + "00",
            XZJDDM=c.street.code,
            CSQDM=c.community.code,
            SF_MC="湖北省",
            QXMC=c.district.name,
            SMC="武汉市",
            XZJDMC=c.street.name,
            DQJD=b.at.lon,
            DQWD=b.at.lat,
            SSPCS_MC=c.police_station,
            CSQ_MC=c.community.name,
            SQJCWHMC=f"{c.community.name}居民委员会",
            FW_BS=h.id,
            DY_BS=u.id,
            LD_BS=b.id,
            XQ_BS=e.code,
            SZ_LCH=str(h.floor),
            FW_BH=h.number,
            FW_BM=h.code,
            FWYT_JYQK="住宅",
            JZRY_SL=str(len(people)),
            FW_ZT="空置" if h.vacant else ("出租" if h.rented else "自住"),
            FW_LX="商品房",
            JZMJ_MJPFM=float(self.rng.choice((68, 89, 96, 108, 125, 143))),
            WTDLR_XM=m.name,
            WTDLR_ZJLXMC="居民身份证",
            WTDLR_ZJHM=m.id_number,
            WTDLR_LXDH=m.phone,
            SYQ_LX="个人",
            ZDFW_PDBS="0",
            ZL_ZT="已出租" if h.rented else "未出租",
        )
        return rec

    # ---- people -----------------------------------------------------------------------------------------
    def residents(self) -> Iterator[tuple[str, list[Item]]]:
        """(estate code, its resident_registration items)."""
        houses = {h.id: h for h in self.c.houses()}
        for e in self.c.estates:
            items: list[Item] = []
            for p in (p for p in self.c.people if p.estate == e.code):
                rec = self._resident(e, houses[p.house_id], p, len(items))
                items.append(Item(len(items), orjson.dumps(rec), rec))
            yield e.code, items

    def _resident(self, e: Estate, h: House, p: Person, i: int) -> dict[str, Any]:
        m = self.c.manager
        building = next(b for b in e.buildings if b.id == h.building_id)
        moved = self.moved_in(h)
        rec = self._base("resident_registration", i)
        rec.update(
            ID=f"RR-{h.id}-{i:04d}",
            FANGWU_DZMC=h.address,
            LXFS=p.phone,
            YPZGXDM=p.relation,
            HJDZ_XZQHDM=p.id_number[:6],
            GJDM="CHN",
            XM=p.name,
            XBDM=p.sex,
            CYZJLXDM="111",
            ZJHM=p.id_number,
            MZDM="01",
            BLSJ=_local(moved + timedelta(days=2)),
            CSRQ=_local(p.born),
            RYLX="03" if p.floating else "01",
            SJHM=p.phone,
            JZSY="01" if p.floating else "99",
            RZ_RQSJ=_local(moved),
            ZDRY_PDBS="0",
            WHRY_XM=m.name,
            WHRY_LXFS=m.phone,
            FK_XM=p.name,
            FK_SJHM=p.phone,
            XQ_BM=e.code,
            XQ_MC=e.name,
            DQJD=building.at.lon,
            DQWD=building.at.lat,
        )
        if p.elderly_alone:
            # Someone to call when the help button is pressed: a child living elsewhere.
            rec["JJLXR_XM"] = p.name[0] + self.rng.choice("建军海燕红平")
            rec["JJLXR_LXDH"] = mobile(self.rng)
        else:
            rec.pop("JJLXR_XM", None)
            rec.pop("JJLXR_LXDH", None)
        return rec

    def population(self) -> Iterator[tuple[str, list[Item]]]:
        """(estate code, its population_sync items): the police register tenants (流动人口)."""
        houses = {h.id: h for h in self.c.houses()}
        for e in self.c.estates:
            items: list[Item] = []
            for p in (p for p in self.c.people if p.estate == e.code and p.floating):
                h = houses[p.house_id]
                rec = self._base("population_sync", len(items))
                rec.update(
                    ID=f"PS-{h.id}-{len(items):04d}",
                    ZYLBDM="4",
                    JGSSXDM=p.id_number[:6],
                    ZZCSDM="02",
                    MPH=h.address,
                    XBDM=p.sex,
                    ZZSY="01",
                    XM=p.name,
                    MZDM="01",
                    SFZHM=p.id_number,
                    YWLX="01",
                    FWCS="出租房屋",
                    BZDZDM=h.code[:32],
                    XZJDDM=self.c.street.code,
                    LXDH=p.phone,
                    HJD_XZQHDM=p.id_number[:6],
                    CSRQ=_local(p.born),
                    DJRQ=_local(self.moved_in(h) + timedelta(days=5)),
                )
                items.append(Item(len(items), orjson.dumps(rec), rec))
            yield e.code, items


def community_records(community: Community) -> dict[str, list[tuple[str, list[Item]]]]:
    """Every record of the plan, by type, then by estate, in the order they must be ingested."""
    maker = RecordMaker(community)
    return {
        "building_info": list(maker.buildings()),
        "resident_registration": list(maker.residents()),
        "population_sync": list(maker.population()),
    }
