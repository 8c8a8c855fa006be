"""Tables of the registry (一标三实): estates, gates, buildings, units, houses, org units, people,
residences, emergency contacts, devices, QR doorplates and resident accounts.

Places are keyed by the codes the data standard carries (so a re-sent record finds its row again);
people by an opaque ID, found through the blind index of their certificate number. Personal values are
sealed with the same SM4-GCM field cipher as the records, bound to table, column and row ID; the columns
are listed in SEALED so that key rotation and the at-rest tests cover them.

Every registered thing carries `verified_at` / `verified_by`: 一标三实 asks for a verification rate, and
verification is an act by a person (or an authoritative source named in data/verification.yaml).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# table -> sealed column -> personal kind (the kinds of the standard's `personal` marks).
SEALED: dict[str, dict[str, str]] = {
    "house": {"agent_name": "name", "agent_id_number": "id_number", "agent_phone": "phone"},
    "org_unit": {"contact_name": "name", "contact_phone": "phone"},
    "person": {
        "name": "name",
        "id_number": "id_number",
        "phone": "phone",
        "household_address": "address",
    },
    "residence": {"address": "address"},
    "emergency_contact": {"name": "name", "phone": "phone"},
}
# table -> sealed column -> its blind-index column.
BLIND: dict[str, dict[str, str]] = {
    "house": {"agent_id_number": "_bi_agent_id_number"},
    "org_unit": {"contact_phone": "_bi_contact_phone"},
    "person": {"id_number": "_bi_id_number", "phone": "_bi_phone"},
    "residence": {"address": "_bi_address"},
    "emergency_contact": {"phone": "_bi_phone"},
}

_BI = 32  # hex characters of a blind index
_SEALED_SHORT = 300  # a sealed short value: "v1:<ver>:" + base64 of nonce, text and tag
_SEALED_LONG = 600  # a sealed address of up to 100 Chinese characters


def _provenance() -> list[Column[object]]:
    """Where a row came from and whether a person has checked it."""
    return [
        Column("source", String(40), nullable=False),  # a record type slug, doorplate, staff, import
        Column("source_record", String(50), nullable=True),  # the record's ID when from a record
        Column("source_time", DateTime, nullable=True),  # the record's own time: later supersedes earlier
        Column("verified_at", DateTime, nullable=True),
        Column("verified_by", String(80), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    ]


def registry_tables(metadata: MetaData) -> None:
    Table(
        "estate",
        metadata,
        Column("code", String(40), primary_key=True),  # the region node of level estate
        Column("name", String(100), nullable=False),
        Column("address", String(200), nullable=True),
        Column("boundary", Text, nullable=True),  # GeoJSON Polygon, WGS-84 [lon, lat]
        Column("centre_lon", Float, nullable=True),
        Column("centre_lat", Float, nullable=True),
        Column("police_station", String(100), nullable=True),
        *_provenance(),
        comment="Estates (小区): boundary and centre, WGS-84",
    )
    gate = Table(
        "gate",
        metadata,
        Column("id", String(60), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("name", String(100), nullable=False),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        *_provenance(),
        comment="Estate gates (小区大门), each with its doorplate",
    )
    Index(None, gate.c.estate)
    building = Table(
        "building",
        metadata,
        Column("id", String(60), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("code", String(40), nullable=False),  # JZ_BM
        Column("name", String(100), nullable=False),  # LDH_MC or JZWMC
        Column("address", String(200), nullable=True),  # DZ
        Column("street", String(60), nullable=True),  # JLXMC
        Column("nature", String(100), nullable=True),  # JZ_XZ
        Column("floors_above", Integer, nullable=True),
        Column("floors_below", Integer, nullable=True),
        Column("inhabited_below", Integer, nullable=True),
        Column("unit_count", Integer, nullable=True),
        Column("households", Integer, nullable=True),
        Column("area_m2", Float, nullable=True),
        Column("built_at", DateTime, nullable=True),
        # 房屋安全等级 A-D (房屋完损/危房鉴定); set by staff, records do not carry it.
        Column("safety_level", String(2), nullable=True),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("community", String(40), nullable=True),
        *_provenance(),
        comment="Buildings (楼栋)",
    )
    Index(None, building.c.estate)
    unit = Table(
        "unit",
        metadata,
        Column("id", String(80), primary_key=True),
        Column("building_id", String(60), nullable=False),
        Column("estate", String(40), nullable=False),
        Column("code", String(40), nullable=True),  # DY_BM
        Column("name", String(100), nullable=False),  # DY_MC
        *_provenance(),
        comment="Units (单元) of a building",
    )
    Index(None, unit.c.building_id)
    Index(None, unit.c.estate)
    house = Table(
        "house",
        metadata,
        Column("id", String(80), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("building_id", String(60), nullable=False),
        Column("unit_id", String(80), nullable=True),
        Column("code", String(40), nullable=True),  # FW_BM
        Column("number", String(30), nullable=True),  # FW_BH
        Column("floor", String(20), nullable=True),  # SZ_LCH
        Column("address", String(300), nullable=False),  # the standard address (标准地址), public
        Column("address_key", String(300), nullable=False),  # normalised for matching (addresses.py)
        Column("address_code", String(32), nullable=True),  # BZDZDM
        Column("house_type", String(100), nullable=True),
        Column("status", String(50), nullable=True),
        Column("rental_status", String(50), nullable=True),
        Column("use", Text, nullable=True),
        Column("area_m2", Float, nullable=True),
        Column("key_house", Boolean, nullable=False, default=False),
        Column("ownership_type", String(100), nullable=True),
        Column("agent_name", String(_SEALED_SHORT), nullable=True),
        Column("agent_id_type", String(100), nullable=True),
        Column("agent_id_number", String(_SEALED_SHORT), nullable=True),
        Column("_bi_agent_id_number", String(_BI), nullable=True),
        Column("agent_phone", String(_SEALED_SHORT), nullable=True),
        *_provenance(),
        comment="Houses (实有房屋) with their standard address and the owner's authorised agent",
    )
    Index(None, house.c.estate)
    Index(None, house.c.building_id)
    Index(None, house.c.unit_id)
    Index(None, house.c.address_key)
    Index(None, house.c.address_code)
    org = Table(
        "org_unit",
        metadata,
        Column("id", String(60), primary_key=True),
        Column("estate", String(40), nullable=True),
        Column("community", String(40), nullable=True),
        Column("house_id", String(80), nullable=True),
        Column("name", String(200), nullable=False),
        Column("kind", String(30), nullable=False),  # data/org_kinds.yaml
        Column("address", String(300), nullable=True),
        Column("licence_no", String(40), nullable=True),  # 统一社会信用代码
        Column("contact_name", String(_SEALED_SHORT), nullable=True),
        Column("contact_phone", String(_SEALED_SHORT), nullable=True),
        Column("_bi_contact_phone", String(_BI), nullable=True),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        *_provenance(),
        comment="Actual units (实有单位): shops, restaurants, schools, factories; the nine small places",
    )
    Index(None, org.c.estate)
    Index(None, org.c.community)
    person = Table(
        "person",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(_SEALED_SHORT), nullable=True),
        Column("id_type", String(3), nullable=True),  # ZJLX
        Column("id_number", String(_SEALED_SHORT), nullable=True),
        Column("_bi_id_number", String(_BI), nullable=True),
        Column("phone", String(_SEALED_SHORT), nullable=True),
        Column("_bi_phone", String(_BI), nullable=True),
        Column("sex", String(1), nullable=True),  # XB
        Column("birth_date", Date, nullable=True),
        Column("ethnicity", String(2), nullable=True),  # MZ
        Column("nationality", String(3), nullable=True),  # GJ
        Column("household_division", String(6), nullable=True),  # XZQH of 户籍地
        Column("household_address", String(_SEALED_LONG), nullable=True),
        Column("education", String(10), nullable=True),  # WHCD
        Column("marital", String(2), nullable=True),  # HYZK
        Column("occupation", String(3), nullable=True),  # ZYLB
        # 重点人口: a police management status, shown only to roles with special_population:view.
        Column("key_population", Boolean, nullable=False, default=False),
        # SE42's ten special-population categories (data/special_populations.yaml), same visibility.
        Column("special_category", String(30), nullable=True),
        Column("special_note", Text, nullable=True),
        *_provenance(),
        comment="Actual population (实有人口): one row per person, found by certificate blind index",
    )
    Index(None, person.c._bi_id_number, unique=True)
    Index(None, person.c._bi_phone)
    # Covers what the population rates read of a person (verified, age): the scorecard's joins stay in
    # the index instead of reading each person's wide, sealed row.
    Index("ix_person_verified_birth", person.c.id, person.c.verified_at, person.c.birth_date)
    residence = Table(
        "residence",
        metadata,
        Column("id", String(40), primary_key=True),
        Column("person_id", String(32), nullable=False),
        Column("house_id", String(80), nullable=True),  # None until the address matches a house
        Column("estate", String(40), nullable=True),
        Column("address", String(_SEALED_LONG), nullable=True),  # the address as given, sealed
        Column("_bi_address", String(_BI), nullable=False),  # blind index of the normalised address
        # data/residence_categories.yaml: resident 常住 | lodger 寄住 | floating 流动
        Column("category", String(12), nullable=False),
        Column("relation", String(2), nullable=True),  # YFZGX: relation to the householder
        Column("reason", String(10), nullable=True),  # ZZSY
        Column("moved_in", DateTime, nullable=True),
        Column("moved_out", DateTime, nullable=True),
        # active | pending (self-registered, awaiting staff) | ended (deregistered, moved out) | rejected
        Column("status", String(10), nullable=False),
        Column("submitted_by", Integer, nullable=True),  # app_user.pk of a signed-in resident
        Column("decided_by", String(80), nullable=True),  # who confirmed, rejected or deregistered
        Column("decided_at", DateTime, nullable=True),
        Column("decision_note", String(500), nullable=True),
        *_provenance(),
        UniqueConstraint("person_id", "_bi_address"),
        comment="Who lives where (居住信息): category, relation to the householder, dates, status",
    )
    Index(None, residence.c.house_id)
    # Residences in force in some estates (registry/rates.py, the scorecard): estate and status first, as a
    # look-up by estate needs, then every column those counts read, so they never touch the table.
    Index(
        "ix_residence_in_force",
        residence.c.estate,
        residence.c.status,
        residence.c.created_at,
        residence.c.moved_out,
        residence.c.decided_at,
        residence.c.house_id,
        residence.c.person_id,
        residence.c.category,
        residence.c.id,
    )
    Index(None, residence.c._bi_address)
    contact = Table(
        "emergency_contact",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("person_id", String(32), nullable=False),
        Column("name", String(_SEALED_SHORT), nullable=True),
        Column("phone", String(_SEALED_SHORT), nullable=False),
        Column("_bi_phone", String(_BI), nullable=False),
        Column("relation", String(40), nullable=True),
        Column("source", String(40), nullable=False),
        Column("created_at", DateTime, nullable=False),
        UniqueConstraint("person_id", "_bi_phone"),
        comment="Emergency contacts of a person (紧急联系人)",
    )
    Index(None, contact.c.person_id)
    device = Table(
        "device",
        metadata,
        Column("id", String(40), primary_key=True),  # the device number records carry (SB_BH etc.)
        Column("estate", String(40), nullable=False),
        Column("subsystem", String(30), nullable=False),  # data/device_kinds.yaml
        Column("kind", String(30), nullable=False),
        Column("name", String(100), nullable=True),
        Column("model", String(100), nullable=True),
        Column("vendor", String(100), nullable=True),
        Column("location", String(200), nullable=True),
        Column("building_id", String(60), nullable=True),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("installed_on", Date, nullable=True),
        Column("status", String(12), nullable=False),  # active | fault | offline | retired
        Column("last_seen_at", DateTime, nullable=True),
        Column("last_record_type", String(40), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        comment="Every device of every subsystem, where it is and when it last reported",
    )
    Index(None, device.c.estate)
    doorplate = Table(
        "doorplate",
        metadata,
        Column("id", String(24), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("target_kind", String(10), nullable=False),  # gate | building | unit | house
        Column("target_id", String(80), nullable=False),
        Column("version", Integer, nullable=False),  # bumped on re-issue: old prints stop working
        Column("issued_at", DateTime, nullable=False),
        Column("issued_by", String(80), nullable=False),
        Column("revoked_at", DateTime, nullable=True),
        Column("revoked_by", String(80), nullable=True),
        Column("revoke_reason", String(200), nullable=True),
        UniqueConstraint("target_kind", "target_id"),
        comment="QR doorplates (二维码门牌): one per door, signed, revocable",
    )
    Index(None, doorplate.c.estate)
    Table(
        "user_person",
        metadata,
        Column("user_pk", Integer, primary_key=True),
        Column("person_id", String(32), primary_key=True),
        Column("created_at", DateTime, nullable=False),
        comment="A resident's sign-in account and the registry person it stands for",
    )
