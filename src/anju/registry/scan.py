"""What a doorplate scan shows and does, independent of the web (seed 003 二(十三)).

Who scans decides what the scan shows:
- anyone: the door's kind and standard address, the services the plate carries (data/doorplate_services
  .yaml) and, at a house door, the self-registration form. No residents.
- a signed-in resident (no registry:view over the estate): the same, plus their own registrations at this
  house — the ones their account submitted and those of the person linked to their account.
- grid workers and property staff (registry:view over the estate): the standard address, the residents
  (names and certificate numbers masked; category 常住/寄住/流动, relation to the householder, move-in
  date, status), the owner's agent and the householder, pending registrations and recent patrols. The
  seed withholds 重点人口 and the management categories from them, so those keys are never built.
- police (also special_population:view): the same with each resident's 重点人口 mark and SE42 category.

Anyone may self-register as a lodger or floating resident at a house door: the registration is pending
until staff holding registry:edit over the estate confirm or reject it. A 常住 resident is registered and
deregistered by staff only: the seed says 不得注销常住人口信息, and residence_categories.yaml carries that as
`deregister_by_doorplate: false`. Every view and every act is audited.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from anju.db.engine import WRITE_OPTIONS
from anju.registry import catalog
from anju.registry.addresses import normalise
from anju.registry.doorplates import (
    KIND_EN,
    KIND_ZH,
    Doorplate,
    DoorplateError,
    Doorplates,
    Target,
    estate_name,
    target_of,
)
from anju.registry.store import Provenance, naive_utc
from anju.security.masking import mask
from anju.standard.checks import CheckFailed, check_id_number, check_phone
from anju.standard.dictionaries import Dictionary
from anju.standard.spec import record_type

if TYPE_CHECKING:
    from anju.registry.regions import RegionTree
    from anju.security.identity import Principal
    from anju.services import Services

ViewKind = Literal["anonymous", "resident", "staff", "police"]
SELF_CATEGORIES = ("lodger", "floating")  # 常住 (resident) is registered by staff only
STATUS_ZH = {"active": "已登记", "pending": "待核实", "ended": "已注销", "rejected": "未通过"}
STATUS_EN = {"active": "registered", "pending": "pending", "ended": "deregistered", "rejected": "rejected"}
PATROLS_SHOWN = 10
_ATTEMPTS = 3
_NAME_MAX = 50
_NAME_EXTRA = frozenset(" ·・.-'")
_OTHER_ID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()-")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ScanError(Exception):
    """A scan request that cannot be carried out; `status` is the HTTP answer, `problems` the fields."""

    def __init__(
        self,
        status: int,
        code: str,
        zh: str,
        en: str,
        *,
        field: str | None = None,
        value: Any = None,
        problems: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en
        self.field, self.value, self.problems = field, value, problems

    @classmethod
    def of(cls, exc: DoorplateError) -> ScanError:
        return cls(exc.status, exc.code, exc.zh, exc.en, field=exc.field, value=exc.value)


def _no_residence(residence_id: str, what_zh: str = "居住登记", what_en: str = "residence") -> ScanError:
    """Also the answer for one outside the caller's estates: scope boundaries reveal nothing."""
    shown = residence_id[:40]
    return ScanError(
        404,
        "residence_not_found",
        f"没有{what_zh} {shown!r}",
        f"no {what_en} {shown!r}",
        field="residence_id",
        value=shown,
    )


# ---- who is looking ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reach:
    """The estates a permission covers; None: the whole platform."""

    estates: frozenset[str] | None

    def covers(self, estate: str | None) -> bool:
        if self.estates is None:
            return True
        return estate is not None and estate in self.estates


NOWHERE = Reach(frozenset())


def reach(principal: Principal | None, permission: str, regions: RegionTree) -> Reach:
    if principal is None:
        return NOWHERE
    everywhere, scopes = principal.grant(permission)
    if everywhere:
        return Reach(None)
    return Reach(frozenset(regions.descendants(scopes))) if scopes else NOWHERE


@dataclass(frozen=True, slots=True)
class Viewer:
    actor: str = "anonymous"
    user_pk: int | None = None
    registry: Reach = NOWHERE  # registry:view
    special: Reach = NOWHERE  # special_population:view

    @classmethod
    def of(cls, principal: Principal | None, regions: RegionTree) -> Viewer:
        if principal is None:
            return cls()
        return cls(
            actor=principal.actor,
            user_pk=principal.user_pk,
            registry=reach(principal, "registry:view", regions),
            special=reach(principal, "special_population:view", regions),
        )

    def kind_at(self, estate: str) -> ViewKind:
        if self.registry.covers(estate):
            return "police" if self.special.covers(estate) else "staff"
        return "resident" if self.user_pk is not None else "anonymous"


# ---- self-registration ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Registration:
    """A validated self-registration."""

    name: str
    id_type: str
    id_number: str
    phone: str
    category: str
    relation: str
    moved_in: date
    sex: str | None = None
    birth_date: date | None = None


FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "姓名", "name"),
    ("id_type", "证件类型", "certificate type"),
    ("id_number", "证件号码", "certificate number"),
    ("phone", "联系电话", "phone"),
    ("category", "人员类别", "category"),
    ("relation", "与户主关系", "relation to the householder"),
    ("moved_in", "入住日期", "move-in date"),
)
_FIELD_ZH = {name: zh for name, zh, _ in FORM_FIELDS}
_FIELD_EN = {name: en for name, _, en in FORM_FIELDS}


def services_text() -> dict[str, Any]:
    data = catalog.load("doorplate_services")
    return {k: data[k] for k in ("intro", "where", "hotline", "services") if k in data}


def _problem(name: str, code: str, zh: str, en: str) -> dict[str, str]:
    return {
        "field": name,
        "code": code,
        "message_zh": f"{_FIELD_ZH[name]}：{zh}",
        "message_en": f"{_FIELD_EN[name]}: {en}",
    }


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


class Scanner:
    """Views, registrations and decisions at doorplates, over the platform's services."""

    def __init__(self, svc: Services, *, clock: Callable[[], datetime] | None = None) -> None:
        self.svc = svc
        self.clock = clock or utcnow
        self.doorplates = Doorplates(svc, clock=self.clock)
        self.tables = svc.db.metadata.tables
        self.registry = svc.registry

    def _now(self) -> datetime:
        return naive_utc(self.clock()) or self.clock()

    def _local_date(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC).astimezone(self.svc.settings.timezone).date().isoformat()

    def _local_time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC).astimezone(self.svc.settings.timezone).isoformat(timespec="minutes")

    def _today(self) -> date:
        return self._now().replace(tzinfo=UTC).astimezone(self.svc.settings.timezone).date()

    @property
    def _dicts(self) -> Mapping[str, Dictionary]:
        return self.svc.pipeline.validators.dictionaries

    def _label(self, dictionary: str, code: str | None, lang: str = "zh") -> str | None:
        if not code:
            return None
        d = self._dicts.get(dictionary)
        return (d.label(code, lang) if d is not None else None) or code

    def _resolve(self, token: str, conn: Connection) -> tuple[Doorplate, Target]:
        try:
            plate = self.doorplates.resolve(token, conn)
        except DoorplateError as exc:
            raise ScanError.of(exc) from None
        target = target_of(conn, self.tables, plate.target_kind, plate.target_id)
        if target is None:
            # The door itself was removed from the registry: its plate leads nowhere any more.
            raise ScanError(
                404,
                "doorplate_not_found",
                "该门牌对应的位置已不存在",
                "the place this doorplate belonged to no longer exists",
                field="token",
            )
        return plate, target

    # ---- the form --------------------------------------------------------------------------------------
    def form(self) -> list[dict[str, Any]]:
        """The self-registration form's fields, with the choices each select offers."""
        data = catalog.load("doorplate_services")
        cats = catalog.residence_categories()
        zjlx = self._dicts["ZJLX"]
        yfzgx = self._dicts["YFZGX"]

        def field_(name: str, kind: str, **extra: Any) -> dict[str, Any]:
            return {
                "name": name,
                "label_zh": _FIELD_ZH[name],
                "label_en": _FIELD_EN[name],
                "type": kind,
                "required": True,
                **extra,
            }

        return [
            field_("name", "text", max_length=_NAME_MAX),
            field_(
                "id_type",
                "select",
                default="111",
                options=[
                    {"value": c, "zh": zjlx.label(c) or c, "en": zjlx.label(c, "en") or c}
                    for c in data["id_types"]
                    if c in zjlx
                ],
            ),
            field_("id_number", "text", max_length=30),
            field_("phone", "tel", max_length=20),
            field_(
                "category",
                "select",
                default="floating",
                options=[{"value": c, "zh": cats[c]["zh"], "en": cats[c]["en"]} for c in SELF_CATEGORIES],
            ),
            field_(
                "relation",
                "select",
                default="9",
                options=[{"value": e.code, "zh": e.zh, "en": e.en} for e in yfzgx.entries()],
            ),
            field_("moved_in", "date"),
        ]

    def validate(self, form: Mapping[str, Any]) -> Registration:
        """A registration from submitted form values; ScanError 422 listing every field problem."""
        problems: list[dict[str, str]] = []
        today = self._today()
        data = catalog.load("doorplate_services")

        name = " ".join(_text(form, "name").split())
        if not name:
            problems.append(_problem("name", "required", "必填", "required"))
        elif len(name) > _NAME_MAX:
            problems.append(
                _problem("name", "too_long", f"不超过 {_NAME_MAX} 个字", f"at most {_NAME_MAX} characters")
            )
        elif not all(ch.isalpha() or ch in _NAME_EXTRA for ch in name):
            problems.append(
                _problem("name", "name_format", "只能包含文字、空格和间隔号", "letters, spaces and · only")
            )

        id_type = _text(form, "id_type") or "111"
        if id_type not in self._dicts["ZJLX"]:
            problems.append(
                _problem("id_type", "code_unknown", "不是有效的证件类型代码", "not a known certificate type")
            )

        id_number = _text(form, "id_number").upper().replace(" ", "")
        sex: str | None = None
        birth: date | None = None
        if not id_number:
            problems.append(_problem("id_number", "required", "必填", "required"))
        elif id_type in data["gb11643_id_types"]:
            try:
                parsed = check_id_number(id_number, today=today)
            except CheckFailed as exc:
                problems.append(_problem("id_number", exc.code, exc.zh, exc.en))
            else:
                id_number, sex, birth = parsed.number, parsed.sex_code, parsed.birth
        elif not (4 <= len(id_number) <= 30 and set(id_number) <= _OTHER_ID):
            problems.append(
                _problem(
                    "id_number",
                    "id_format",
                    "应为 4-30 位字母、数字、括号或连字符",
                    "should be 4-30 letters, digits, brackets or hyphens",
                )
            )

        phone = _text(form, "phone")
        if not phone:
            problems.append(_problem("phone", "required", "必填", "required"))
        else:
            try:
                phone = check_phone(phone)
            except CheckFailed as exc:
                problems.append(_problem("phone", exc.code, exc.zh, exc.en))

        category = _text(form, "category")
        cats = catalog.residence_categories()
        if category == "resident":
            problems.append(
                _problem(
                    "category",
                    "category_needs_staff",
                    "常住人口须由社区民警或工作人员登记，自助登记只能选择寄住或流动人口",
                    "permanent residents are registered by staff; self-registration is for lodgers and "
                    "floating population only",
                )
            )
        elif category not in SELF_CATEGORIES:
            choices = "、".join(f"{c}（{cats[c]['zh']}）" for c in SELF_CATEGORIES)
            problems.append(
                _problem(
                    "category",
                    "category_invalid",
                    f"应为 {choices}",
                    f"should be one of {', '.join(SELF_CATEGORIES)}",
                )
            )

        relation = _text(form, "relation")
        if not relation:
            problems.append(_problem("relation", "required", "必填", "required"))
        elif relation not in self._dicts["YFZGX"]:
            problems.append(
                _problem(
                    "relation",
                    "code_unknown",
                    "不是有效的与户主关系代码（YFZGX）",
                    "not a relation code of YFZGX",
                )
            )

        moved_text = _text(form, "moved_in")
        moved_in: date | None = None
        if not moved_text:
            problems.append(_problem("moved_in", "required", "必填", "required"))
        else:
            try:
                moved_in = date.fromisoformat(moved_text)
            except ValueError:
                problems.append(
                    _problem("moved_in", "date_format", "应为日期 YYYY-MM-DD", "should be a date YYYY-MM-DD")
                )
            else:
                if moved_in > today:
                    problems.append(
                        _problem("moved_in", "date_future", "不应晚于今天", "should not be later than today")
                    )
                elif moved_in.year < 1900:
                    problems.append(
                        _problem(
                            "moved_in", "date_too_early", "不应早于 1900 年", "should not be before 1900"
                        )
                    )

        if problems:
            first = problems[0]
            raise ScanError(
                422,
                "registration_invalid",
                f"登记信息有误：{first['message_zh']}",
                f"the registration is invalid: {first['message_en']}",
                field=first["field"],
                problems=problems,
            )
        assert moved_in is not None
        return Registration(name, id_type, id_number, phone, category, relation, moved_in, sex, birth)

    # ---- views -----------------------------------------------------------------------------------------
    def view(self, token: str, viewer: Viewer) -> dict[str, Any]:
        """What this viewer sees at this doorplate; audited as `doorplate.view` with the view's kind."""
        with self.svc.db.engine.connect() as conn:
            plate, target = self._resolve(token, conn)
            kind = viewer.kind_at(plate.estate)
            out = self._base(conn, plate, target, kind)
            if target.kind == "house":
                out["registration_form"] = self.form()
                if kind == "resident" and viewer.user_pk is not None:
                    out["my_registrations"] = self._mine(conn, target.id, viewer.user_pk)
                elif kind in ("staff", "police"):
                    out.update(self._house_for_staff(conn, target, police=kind == "police"))
            else:
                out["counts"] = self._counts(conn, target, kind)
            if kind in ("staff", "police"):
                out["patrols"] = self._patrols(conn, plate.estate)
        self.svc.audit.record(
            actor=viewer.actor,
            action="doorplate.view",
            target=f"doorplate:{plate.id}",
            detail={"view": kind, "kind": plate.target_kind, "estate": plate.estate},
        )
        return out

    def _base(self, conn: Connection, plate: Doorplate, target: Target, kind: ViewKind) -> dict[str, Any]:
        return {
            "view": kind,
            "doorplate": {
                "id": plate.id,
                "kind": plate.target_kind,
                "kind_zh": KIND_ZH[plate.target_kind],
                "kind_en": KIND_EN[plate.target_kind],
                "version": plate.version,
            },
            "estate": {"code": plate.estate, "name": estate_name(conn, self.tables, plate.estate)},
            "address": target.label,
            "services": services_text(),
        }

    def _category(self, code: str) -> dict[str, Any]:
        cats = catalog.residence_categories()
        entry = cats.get(code, {})
        return {"category": code, "category_zh": entry.get("zh", code), "category_en": entry.get("en", code)}

    def _person_rows(self, conn: Connection, person_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not person_ids:
            return {}
        p = self.tables["person"]
        rows = conn.execute(select(p).where(p.c.id.in_(sorted(person_ids)))).all()
        return {r.id: dict(r._mapping) for r in rows}

    def _residence_item(
        self, r: Mapping[str, Any], person: Mapping[str, Any] | None, *, police: bool
    ) -> dict[str, Any]:
        masked = self.registry.masked("person", person) if person is not None else {}
        item: dict[str, Any] = {
            "residence_id": r["id"],
            "name": masked.get("name"),
            "id_type": masked.get("id_type"),
            "id_number": masked.get("id_number"),
            **self._category(r["category"]),
            "relation": r["relation"],
            "relation_zh": self._label("YFZGX", r["relation"]),
            "relation_en": self._label("YFZGX", r["relation"], "en"),
            "moved_in": self._local_date(r["moved_in"]),
            "status": r["status"],
            "status_zh": STATUS_ZH.get(r["status"], r["status"]),
            "status_en": STATUS_EN.get(r["status"], r["status"]),
            "verified": r["verified_at"] is not None,
            "source": r["source"],
            "submitted_at": self._local_time(r["created_at"]),
        }
        if police and person is not None:
            # Only for special_population:view: these keys do not exist in any other view.
            special = person.get("special_category")
            entry = catalog.special_categories().get(special or "", {})
            item["key_population"] = bool(person.get("key_population"))
            item["special_category"] = special
            item["special_category_zh"] = entry.get("zh") if special else None
            item["special_category_en"] = entry.get("en") if special else None
        return item

    def _house_for_staff(self, conn: Connection, target: Target, *, police: bool) -> dict[str, Any]:
        r, h = self.tables["residence"], self.tables["house"]
        rows = [
            dict(x._mapping)
            for x in conn.execute(
                select(r).where(r.c.house_id == target.id, r.c.status.in_(("active", "pending")))
            )
        ]
        people = self._person_rows(conn, {x["person_id"] for x in rows})

        def order(x: Mapping[str, Any]) -> tuple[int, datetime, str]:
            return (0 if x["relation"] == "0" else 1, x["moved_in"] or datetime.max, x["id"])

        residents = [
            self._residence_item(x, people.get(x["person_id"]), police=police)
            for x in sorted(rows, key=order)
            if x["status"] == "active"
        ]
        pending = [
            self._residence_item(x, people.get(x["person_id"]), police=police)
            for x in sorted(rows, key=lambda x: x["created_at"])
            if x["status"] == "pending"
        ]
        householder = next((x for x in residents if x["relation"] == "0"), None)
        house_row = conn.execute(select(h).where(h.c.id == target.id)).first()
        assert house_row is not None
        house = self.registry.masked("house", house_row)
        agent = None
        if house.get("agent_name") or house.get("agent_phone") or house.get("agent_id_number"):
            agent = {
                "name": house.get("agent_name"),
                "id_type": house.get("agent_id_type"),
                "id_type_zh": self._label("ZJLX", house.get("agent_id_type")),
                "id_number": house.get("agent_id_number"),
                "phone": house.get("agent_phone"),
                "ownership_type": house.get("ownership_type"),
            }
        counts: dict[str, int] = {c: 0 for c in catalog.residence_categories()}
        for x in residents:
            counts[x["category"]] = counts.get(x["category"], 0) + 1
        return {
            "house": {
                "id": target.id,
                "number": house.get("number"),
                "floor": house.get("floor"),
                "address_code": house.get("address_code"),
                "house_type": house.get("house_type"),
                "status": house.get("status"),
                "rental_status": house.get("rental_status"),
                "use": house.get("use"),
                "area_m2": house.get("area_m2"),
                "verified": house.get("verified_at") is not None,
            },
            "householder": (
                {
                    k: householder[k]
                    for k in ("residence_id", "name", "category", "category_zh", "category_en")
                }
                if householder
                else None
            ),
            "agent": agent,
            "residents": residents,
            "pending": pending,
            "resident_counts": counts,
        }

    def _mine(self, conn: Connection, house_id: str, user_pk: int) -> list[dict[str, Any]]:
        r, up = self.tables["residence"], self.tables["user_person"]
        linked = select(up.c.person_id).where(up.c.user_pk == user_pk)
        rows = [
            dict(x._mapping)
            for x in conn.execute(
                select(r)
                .where(r.c.house_id == house_id, or_(r.c.submitted_by == user_pk, r.c.person_id.in_(linked)))
                .order_by(r.c.created_at, r.c.id)
            )
        ]
        people = self._person_rows(conn, {x["person_id"] for x in rows})
        out = []
        for x in rows:
            item = self._residence_item(x, people.get(x["person_id"]), police=False)
            item["decided_at"] = self._local_time(x["decided_at"])
            item["decision_note"] = x["decision_note"]
            out.append(item)
        return out

    def _counts(self, conn: Connection, target: Target, kind: ViewKind) -> dict[str, Any]:
        h, r, p = self.tables["house"], self.tables["residence"], self.tables["person"]
        where = [h.c.estate == target.estate]
        if target.kind == "building":
            where.append(h.c.building_id == target.id)
        elif target.kind == "unit":
            where.append(h.c.unit_id == target.id)
        houses = select(h.c.id).where(*where)
        out: dict[str, Any] = {
            "houses": int(conn.execute(select(func.count()).select_from(houses.subquery())).scalar_one())
        }
        if kind in ("staff", "police"):
            by_category = {c: 0 for c in catalog.residence_categories()}
            for category, n in conn.execute(
                select(r.c.category, func.count())
                .where(r.c.status == "active", r.c.house_id.in_(houses))
                .group_by(r.c.category)
            ):
                by_category[category] = int(n)
            out["residents"] = by_category
            out["pending"] = int(
                conn.execute(
                    select(func.count())
                    .select_from(r)
                    .where(r.c.status == "pending", r.c.house_id.in_(houses))
                ).scalar_one()
            )
        if kind == "police":
            out["key_population"] = int(
                conn.execute(
                    select(func.count(func.distinct(r.c.person_id)))
                    .select_from(r.join(p, p.c.id == r.c.person_id))
                    .where(r.c.status == "active", r.c.house_id.in_(houses), p.c.key_population.is_(True))
                ).scalar_one()
            )
        return out

    def _patrols(self, conn: Connection, estate: str) -> list[dict[str, Any]]:
        rtype = record_type("patrol_record")
        t = self.svc.db.table(rtype.table_name)
        rows = conn.execute(
            select(t.c.id, t.c.xl_rqsj, t.c.xl_rs, t.c.xlr_xm, t.c.xlxl_mc, t.c.xl_dd, t.c.sbmc)
            .where(t.c._estate == estate)
            .order_by(t.c.xl_rqsj.desc(), t.c.id)
            .limit(PATROLS_SHOWN)
        ).all()
        out = []
        for row in rows:
            values = self.svc.protector.open_values(rtype, dict(row._mapping), row.id)
            out.append(
                {
                    "id": row.id,
                    "time": self._local_time(row.xl_rqsj),
                    "patrollers": row.xl_rs,
                    "patroller": mask("name", str(values["xlr_xm"])) if values.get("xlr_xm") else None,
                    "route": row.xlxl_mc,
                    "location": row.xl_dd,
                    "device": row.sbmc,
                }
            )
        return out

    # ---- acts ------------------------------------------------------------------------------------------
    def _write(self, work: Callable[[Connection], dict[str, Any]]) -> dict[str, Any]:
        """Run one unit of work in a write transaction, again when a concurrent one took a unique key."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                    return work(conn)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def register(self, token: str, form: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
        """Self-registration at a house doorplate: a pending residence, idempotent on a re-submit."""
        reg = self.validate(form)

        def work(conn: Connection) -> dict[str, Any]:
            plate, target = self._resolve(token, conn)
            if target.kind != "house":
                raise ScanError(
                    409,
                    "registration_needs_house",
                    "请扫描入户门上的门牌进行居住登记",
                    "register at the doorplate of a house door, not of a gate, building or unit",
                    field="token",
                )
            return self._store_registration(conn, plate, target, reg, viewer)

        return self._write(work)

    def _store_registration(
        self, conn: Connection, plate: Doorplate, target: Target, reg: Registration, viewer: Viewer
    ) -> dict[str, Any]:
        now = self._now()
        store, r = self.registry, self.tables["residence"]
        provenance = Provenance(source="doorplate")
        person_id = store.person_by_id_number(conn, reg.id_number)
        if person_id is None:
            person_id = store.new_id()
            store.upsert(
                conn,
                "person",
                person_id,
                {
                    "name": reg.name,
                    "id_type": reg.id_type,
                    "id_number": reg.id_number,
                    "phone": reg.phone,
                    "sex": reg.sex,
                    "birth_date": reg.birth_date,
                },
                provenance,
                now=now,
            )
        # A person already on the registry keeps what is stored: a form anyone can fill in must not
        # rename or re-number someone whose certificate number the submitter happens to know.
        blind = store.sealer.blind("address", normalise(target.label))
        moved_in = datetime.combine(reg.moved_in, time(), self.svc.settings.timezone)
        values: dict[str, Any] = {
            "person_id": person_id,
            "house_id": target.id,
            "estate": plate.estate,
            "address": target.label,
            "_bi_address": blind,
            "category": reg.category,
            "relation": reg.relation,
            "moved_in": naive_utc(moved_in),
        }
        row = conn.execute(select(r).where(r.c.person_id == person_id, r.c._bi_address == blind)).first()
        if row is None:
            residence_id = store.new_id()
            store.upsert(
                conn,
                "residence",
                residence_id,
                {**values, "status": "pending", "submitted_by": viewer.user_pk},
                provenance,
                now=now,
            )
            change, status = "created", "pending"
        else:
            residence_id, status = row.id, row.status
            if status == "active":
                change = "unchanged"  # already registered: a self-registration does not edit it
            elif status == "pending":
                if row.submitted_by is None and viewer.user_pk is not None:
                    # The first account to submit keeps the link: a later one cannot take it over.
                    values["submitted_by"] = viewer.user_pk
                change = store.upsert(conn, "residence", residence_id, values, provenance, now=now)
            else:
                # Ended or rejected before: this is a new registration of the same person at this house.
                sealed = store.sealer.seal("residence", residence_id, values)
                conn.execute(
                    update(r)
                    .where(r.c.id == residence_id)
                    .values(
                        **sealed,
                        status="pending",
                        moved_out=None,
                        decided_by=None,
                        decided_at=None,
                        decision_note=None,
                        submitted_by=viewer.user_pk,
                        source="doorplate",
                        source_record=None,
                        verified_at=None,
                        verified_by=None,
                        updated_at=now,
                    )
                )
                change, status = "renewed", "pending"
        self.svc.audit.append(
            conn,
            actor=viewer.actor,
            action="doorplate.register",
            target=f"residence:{residence_id}",
            detail={
                "doorplate": plate.id,
                "estate": plate.estate,
                "category": reg.category,
                "change": change,
            },
        )
        out: dict[str, Any] = {"status": status, "change": change, **self._category(reg.category)}
        out["status_zh"], out["status_en"] = STATUS_ZH[status], STATUS_EN[status]
        out["address"] = target.label
        if viewer.user_pk is not None:
            out["residence_id"] = residence_id
        return out

    def pending(self, scope: Reach, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """Pending registrations in the estates of `scope`, oldest first."""
        r, h = self.tables["residence"], self.tables["house"]
        where = [r.c.status == "pending"]
        if scope.estates is not None:
            where.append(r.c.estate.in_(sorted(scope.estates)))
        with self.svc.db.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(r).where(*where)).scalar_one())
            rows = [
                dict(x._mapping)
                for x in conn.execute(
                    select(r, h.c.address.label("house_address"))
                    .select_from(r.outerjoin(h, h.c.id == r.c.house_id))
                    .where(*where)
                    .order_by(r.c.created_at, r.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ]
            people = self._person_rows(conn, {x["person_id"] for x in rows})
        items = []
        for x in rows:
            person = people.get(x["person_id"])
            item = self._residence_item(x, person, police=False)
            masked = self.registry.masked("person", person) if person is not None else {}
            item.update(
                estate=x["estate"],
                house_id=x["house_id"],
                address=x["house_address"] or self.registry.masked("residence", x).get("address"),
                phone=masked.get("phone"),
                person_verified=bool(person and person.get("verified_at")),
            )
            items.append(item)
        return {"total": total, "registrations": items}

    def _pending_row(self, conn: Connection, residence_id: str, scope: Reach) -> dict[str, Any]:
        r = self.tables["residence"]
        row = conn.execute(select(r).where(r.c.id == residence_id)).first()
        if row is None or not scope.covers(row.estate):
            raise _no_residence(residence_id, "待核实的登记", "registration")
        if row.status != "pending":
            raise ScanError(
                409,
                "registration_not_pending",
                f"该登记当前状态为“{STATUS_ZH.get(row.status, row.status)}”，不是待核实",
                f"the registration is {STATUS_EN.get(row.status, row.status)}, not pending",
                field="residence_id",
                value=residence_id,
            )
        return dict(row._mapping)

    def confirm(
        self, residence_id: str, *, actor: str, scope: Reach, note: str | None = None
    ) -> dict[str, Any]:
        """Confirm a pending registration: active and verified; the submitting account is linked to the
        person, so that the resident sees it at the doorplate as theirs."""

        def work(conn: Connection) -> dict[str, Any]:
            now = self._now()
            row = self._pending_row(conn, residence_id, scope)
            r, up, p = self.tables["residence"], self.tables["user_person"], self.tables["person"]
            conn.execute(
                update(r)
                .where(r.c.id == residence_id)
                .values(
                    status="active",
                    decided_by=actor,
                    decided_at=now,
                    decision_note=(note or "").strip()[:500] or None,
                    verified_at=now,
                    verified_by=actor,
                    updated_at=now,
                )
            )
            # Confirming means staff checked the person's certificate too.
            conn.execute(
                update(p)
                .where(p.c.id == row["person_id"], p.c.verified_at.is_(None))
                .values(verified_at=now, verified_by=actor, updated_at=now)
            )
            linked = False
            user_pk = row["submitted_by"]
            if user_pk is not None:
                exists = conn.execute(
                    select(up.c.user_pk).where(
                        and_(up.c.user_pk == user_pk, up.c.person_id == row["person_id"])
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        insert(up).values(user_pk=user_pk, person_id=row["person_id"], created_at=now)
                    )
                linked = True
            self.svc.audit.append(
                conn,
                actor=actor,
                action="doorplate.confirm",
                target=f"residence:{residence_id}",
                detail={"estate": row["estate"], "category": row["category"], "linked_account": linked},
            )
            return {
                "residence_id": residence_id,
                "status": "active",
                "verified": True,
                "linked_account": linked,
            }

        return self._write(work)

    def reject(self, residence_id: str, *, actor: str, scope: Reach, note: str) -> dict[str, Any]:
        note = (note or "").strip()
        if not note or len(note) > 500:
            raise ScanError(
                422,
                "note_invalid",
                "请填写不通过的原因（1-500 字）",
                "give the reason for rejecting (1-500 characters)",
                field="note",
            )

        def work(conn: Connection) -> dict[str, Any]:
            now = self._now()
            row = self._pending_row(conn, residence_id, scope)
            r = self.tables["residence"]
            conn.execute(
                update(r)
                .where(r.c.id == residence_id)
                .values(
                    status="rejected", decided_by=actor, decided_at=now, decision_note=note, updated_at=now
                )
            )
            self.svc.audit.append(
                conn,
                actor=actor,
                action="doorplate.reject",
                target=f"residence:{residence_id}",
                detail={"estate": row["estate"], "category": row["category"]},
            )
            return {"residence_id": residence_id, "status": "rejected", "note": note}

        return self._write(work)

    def deregister(
        self,
        token: str,
        residence_id: str,
        *,
        actor: str,
        scope: Reach,
        note: str | None = None,
        moved_out: date | None = None,
    ) -> dict[str, Any]:
        """注销 a lodger or floating resident at the house of this doorplate; never a 常住 resident."""

        def work(conn: Connection) -> dict[str, Any]:
            now = self._now()
            plate, target = self._resolve(token, conn)
            r = self.tables["residence"]
            row = conn.execute(select(r).where(r.c.id == residence_id)).first()
            if (
                row is None
                or target.kind != "house"
                or row.house_id != target.id
                or not scope.covers(plate.estate)
            ):
                raise _no_residence(residence_id)
            category = catalog.residence_categories().get(row.category, {})
            if not category.get("deregister_by_doorplate", False):
                raise ScanError(
                    403,
                    "resident_deregistration_forbidden",
                    f"不得注销常住人口信息：{category.get('zh', row.category)}须到派出所户籍窗口办理注销",
                    f"permanent residents may not be deregistered through a doorplate (seed rule: "
                    f"不得注销常住人口信息); {category.get('en', row.category)} records are closed at the police "
                    f"station's household registration desk",
                    field="residence_id",
                    value=residence_id,
                )
            if row.status != "active":
                raise ScanError(
                    409,
                    "residence_not_active",
                    f"该居住登记当前状态为“{STATUS_ZH.get(row.status, row.status)}”，只能注销已登记的居住信息",
                    f"the residence is {STATUS_EN.get(row.status, row.status)}; only registered ones can be "
                    f"deregistered",
                    field="residence_id",
                    value=residence_id,
                )
            if moved_out is not None:
                out_at = naive_utc(datetime.combine(moved_out, time(), self.svc.settings.timezone)) or now
            else:
                out_at = now
            conn.execute(
                update(r)
                .where(r.c.id == residence_id)
                .values(
                    status="ended",
                    moved_out=out_at,
                    decided_by=actor,
                    decided_at=now,
                    decision_note=(note or "").strip()[:500] or None,
                    updated_at=now,
                )
            )
            self.svc.audit.append(
                conn,
                actor=actor,
                action="doorplate.deregister",
                target=f"residence:{residence_id}",
                detail={"doorplate": plate.id, "estate": plate.estate, "category": row.category},
            )
            return {
                "residence_id": residence_id,
                "status": "ended",
                "moved_out": self._local_date(out_at),
                **self._category(row.category),
            }

        return self._write(work)
