"""The affairs module's facts for the evaluation engine: SE15, SE41, SE42, SE44, SE71, SE72, and the
matching Wuhan (WH.*) and Shandong (SD.*) facts.

The community code may be any node of the region tree; records of it and every node under it count. "In
one year" is the twelve months ending with the evaluation date (local days), as paper.yaml reads it.
Each area's facts are left out while that area has nothing recorded for the community at all (the platform
cannot tell "none" from "not entered"; an attestation may then speak for it).

- SE15.1 (flag): the archive (archives.py) holds entries of the twelve months; SE15.2 (flag): every one of
  them was entered within `timely_days` (data/archives.yaml) of what it records; the late ones are named.
- SE41.1 (flag): abnormal events are recorded; SE41.2 (count): events accepted by the upper platform in the
  twelve months.
- SE42.1 (flag): special-population cases with a visit plan exist; SE42.2 (items): the SE42 categories
  (paper item keys) whose cases have a recorded emergency disposal; SE42.3 (flag): every open case was
  visited in the twelve months and none is overdue on its plan (digital monitoring); the others are named.
- SE44.1 (flag): every public health event of the twelve months has a work group and collected people;
  SE44.2 (flag): the database holds people of some event; SE44.3 (flag): every event of the twelve months
  went to the upper platform in an export within `upload_within_hours` of its start.
- SE71.1 (items): the channels of SE71.1 used in the twelve months by education activities and by published
  notices (notices/publishing.py `notice_channels_used`; both name channels by the paper's item keys); SE71.2: online and offline activities both;
  SE71.3: published materials for at least two specific groups (other than all residents); SE71.4: some
  material published to residents; SE71.5: every published material updated within `update_within_days`.
- SE72.1 (flag): a training of community administrators with attendance in the twelve months; SE72.2 and
  SE72.3 (counts): trainings of property administrators and of small-place administrators.
- WH.special_persons / WH.special_persons_equipped: open cases of the categories in
  data/special.yaml `wuhan_special_categories`, and those with a locator band or one-touch call.
- WH.* case counts: events of the types that name the fact (data/events.yaml) in the twelve months;
  WH.theft_cases is this calendar year to the date, WH.theft_cases_last_year the same days a year before.
- SD.special_population_management: cases kept and visited in the twelve months; SD.epidemic_info_management:
  SE44.2's database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from anju.affairs import archives
from anju.affairs.catalog import catalog, window
from anju.evaluation.evidence import Evidence, ProviderRegistry, SourceKind, default_registry
from anju.notices.publishing import notice_channels_used

if TYPE_CHECKING:
    from anju.services import Services

NAME = "affairs"
_REFS = 200


def _wuhan_event_facts() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, entry in catalog().event_types.items():
        for fact in entry.extra.get("wuhan", []) or []:
            out.setdefault(str(fact), []).append(key)
    return out


KEYS = frozenset(
    {
        "SE15.1",
        "SE15.2",
        "SE41.1",
        "SE41.2",
        "SE42.1",
        "SE42.2",
        "SE42.3",
        "SE44.1",
        "SE44.2",
        "SE44.3",
        "SE71.1",
        "SE71.2",
        "SE71.3",
        "SE71.4",
        "SE71.5",
        "SE72.1",
        "SE72.2",
        "SE72.3",
        "WH.special_persons",
        "WH.special_persons_equipped",
        "WH.theft_cases_last_year",
        "SD.special_population_management",
        "SD.epidemic_info_management",
        *_wuhan_event_facts(),
    }
)


def _ev(value: Any, description: str, refs: list[str]) -> Evidence:
    return Evidence(value, SourceKind.records, description, tuple(refs[:_REFS]))


class AffairsEvidence:
    """An EvidenceProvider over one platform's affairs records."""

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
        regions = sorted(svc.regions.descendants([community_code]))
        start, end = window(svc, as_of)
        out: dict[str, Evidence] = {}
        with svc.db.engine.connect() as conn:
            out.update(self._events(conn, regions, start, end, as_of))
            out.update(self._special(conn, regions, start, end, as_of))
            out.update(self._health(conn, regions, start, end))
            out.update(self._education(conn, regions, start, end))
        out.update(self._archive(regions, start, end))
        return out

    # ---- SE15 ---------------------------------------------------------------------------------------------
    def _archive(self, regions: list[str], start: datetime, end: datetime) -> dict[str, Evidence]:
        svc = self.services
        if not archives.search(svc, regions, end=end, limit=1):
            return {}
        entries = archives.search(svc, regions, start=start, end=end, limit=100_000)
        days = catalog().timely_days
        late = [e for e in entries if e.recorded_at - e.at > timedelta(days=days)]
        kinds = sorted({e.kind for e in entries})
        return {
            "SE15.1": _ev(
                bool(entries),
                f"近十二个月电子档案 {len(entries)} 条，类别：{'、'.join(kinds) or '无'} / archive entries of the twelve months",
                [f"{e.kind}:{e.id}" for e in entries],
            ),
            "SE15.2": _ev(
                bool(entries) and not late,
                f"{len(entries) - len(late)}/{len(entries)} 条档案在活动后 {days} 天内录入；引用为逾期录入的档案 / "
                f"entries entered within {days} days; the references name the late ones",
                [f"{e.kind}:{e.id}" for e in late] if late else [f"{e.kind}:{e.id}" for e in entries],
            ),
        }

    # ---- SE41 and the Wuhan case counts ---------------------------------------------------------------------
    def _events(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime, as_of: date
    ) -> dict[str, Evidence]:
        svc = self.services
        t = svc.db.table("abnormal_event")
        rows = conn.execute(
            select(t.c.id, t.c.type, t.c.occurred_at, t.c.uploaded_at, t.c.upload_result)
            .where(t.c.estate.in_(regions), t.c.created_at < end)
            .order_by(t.c.id)
        ).all()
        if not rows:
            return {}
        uploaded = [
            r.id for r in rows if r.upload_result == "ok" and r.uploaded_at and start <= r.uploaded_at < end
        ]
        out = {
            "SE41.1": _ev(
                True,
                f"已建立异常事件记录：{len(rows)} 条事件记录 / abnormal events are recorded",
                [f"abnormal_event:{r.id}" for r in rows],
            ),
            "SE41.2": _ev(
                len(uploaded),
                "近十二个月上传上级平台并被接收的异常事件记录数 / events accepted by the upper platform in the twelve months",
                [f"abnormal_event:{i}" for i in uploaded],
            ),
        }
        in_window = [r for r in rows if start <= r.occurred_at < end]
        tz = svc.settings.timezone
        year_start = (
            datetime.combine(date(as_of.year, 1, 1), time(0), tz).astimezone(UTC).replace(tzinfo=None)
        )
        last_start = (
            datetime.combine(date(as_of.year - 1, 1, 1), time(0), tz).astimezone(UTC).replace(tzinfo=None)
        )
        last_end = end - (year_start - last_start)
        cat = catalog()
        for fact, types in _wuhan_event_facts().items():
            names = "、".join(cat.event_types[k].zh for k in types)
            if fact == "WH.theft_cases":
                hit = [r.id for r in rows if r.type in types and year_start <= r.occurred_at < end]
                before = [r.id for r in rows if r.type in types and last_start <= r.occurred_at < last_end]
                out[fact] = _ev(
                    len(hit),
                    f"本年至评价日的{names}事件数 / this year's cases to the date",
                    [f"abnormal_event:{i}" for i in hit],
                )
                out["WH.theft_cases_last_year"] = _ev(
                    len(before),
                    f"上年同期{names}事件数 / the same days last year",
                    [f"abnormal_event:{i}" for i in before],
                )
                continue
            hit = [r.id for r in in_window if r.type in types]
            out[fact] = _ev(
                len(hit),
                f"近十二个月{names}事件数 / events of these types in the twelve months",
                [f"abnormal_event:{i}" for i in hit],
            )
        return out

    # ---- SE42 ------------------------------------------------------------------------------------------------
    def _special(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime, as_of: date
    ) -> dict[str, Evidence]:
        db = self.services.db
        c, v, d = db.table("special_case"), db.table("special_visit"), db.table("special_disposal")
        cases = conn.execute(
            select(c).where(c.c.estate.in_(regions), c.c.created_at < end).order_by(c.c.id)
        ).all()
        if not cases:
            return {}
        ids = [r.id for r in cases]
        disposals = conn.execute(
            select(d.c.pk, d.c.case_id).where(d.c.case_id.in_(ids), d.c.occurred_at < end).order_by(d.c.pk)
        ).all()
        visited = set(
            conn.execute(
                select(v.c.case_id).where(v.c.case_id.in_(ids), v.c.visited_at >= start, v.c.visited_at < end)
            )
            .scalars()
            .all()
        )
        cat = catalog()
        category = {r.id: r.category for r in cases}
        order = list(cat.paper_items.values())
        items = sorted({cat.paper_items[category[x.case_id]] for x in disposals}, key=order.index)
        open_cases = [
            r for r in cases if r.status == "open" or (r.closed_at is not None and r.closed_at >= end)
        ]
        lagging = [r.id for r in open_cases if r.id not in visited or r.next_visit_on < as_of]
        wuhan = [r for r in open_cases if r.category in cat.wuhan_special_categories]
        equipped = [r for r in wuhan if r.equipment]
        return {
            "SE42.1": _ev(
                True,
                f"已为 {len(cases)} 名（次）特殊人群建立档案及走访计划 / special-population cases with visit plans",
                [f"special_case:{i}" for i in ids],
            ),
            "SE42.2": _ev(
                tuple(items),
                "有应急处置记录的特殊人群类别 / categories with recorded emergency disposals",
                [f"special_disposal:{x.pk}:{cat.paper_items[category[x.case_id]]}" for x in disposals],
            ),
            "SE42.3": _ev(
                bool(open_cases) and not lagging,
                f"{len(open_cases) - len(lagging)}/{len(open_cases)} 件在管档案近十二个月有走访且未逾期；引用为未达标档案 / "
                "open cases visited in the twelve months and on plan; the references name those that are not",
                [f"special_case:{i}" for i in (lagging or [r.id for r in open_cases])],
            ),
            "WH.special_persons": _ev(
                len({r.person_id for r in wuhan}),
                "在管的精神障碍患者和重点帮扶人员数 / people with mental disorders and key assisted persons under care",
                [f"special_case:{r.id}" for r in wuhan],
            ),
            "WH.special_persons_equipped": _ev(
                len({r.person_id for r in equipped}),
                "其中配备定位手环或一键呼的人数 / of those, people with a locator band or one-touch call",
                [f"special_case:{r.id}" for r in equipped],
            ),
            "SD.special_population_management": _ev(
                bool(visited),
                "特殊人群建档立卡，近十二个月有走访记录 / cases kept and visited in the twelve months",
                [f"special_case:{i}" for i in sorted(visited)],
            ),
        }

    # ---- SE44 ------------------------------------------------------------------------------------------------
    def _health(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        e, s, x = db.table("health_event"), db.table("health_subject"), db.table("health_export")
        events = conn.execute(
            select(e).where(e.c.region.in_(regions), e.c.started_at < end).order_by(e.c.id)
        ).all()
        if not events:
            return {}
        ids = [r.id for r in events]
        subjects = conn.execute(
            select(s.c.pk, s.c.event_id).where(s.c.event_id.in_(ids), s.c.created_at < end).order_by(s.c.pk)
        ).all()
        with_people = {r.event_id for r in subjects}
        recent = [r for r in events if r.started_at >= start]
        out = {
            "SE44.2": _ev(
                bool(subjects),
                f"公共卫生事件处置数据库：{len(events)} 起事件，{len(subjects)} 条排查、医学观察及健康管理记录 / "
                "the public health database: events and their lists",
                [f"health_subject:{r.pk}" for r in subjects],
            ),
            "SD.epidemic_info_management": _ev(
                bool(subjects),
                "重点人员等防控信息记录 / epidemic-control records of people",
                [f"health_subject:{r.pk}" for r in subjects],
            ),
        }
        if not recent:
            return out
        lacking = [r.id for r in recent if r.mechanism_at is None or r.id not in with_people]
        out["SE44.1"] = _ev(
            not lacking,
            f"{len(recent) - len(lacking)}/{len(recent)} 起近十二个月事件已建立工作组并采集人员信息；引用为未达标事件 / "
            "events with a work group and collected people; the references name those without",
            [f"health_event:{i}" for i in (lacking or [r.id for r in recent])],
        )
        hours = catalog().upload_within_hours
        exports = conn.execute(select(x.c.exported_at, x.c.event_ids).where(x.c.exported_at < end)).all()
        late = []
        for r in recent:
            due = r.started_at + timedelta(hours=hours)
            if not any(r.id in (ex.event_ids or []) and ex.exported_at <= due for ex in exports):
                late.append(r.id)
        out["SE44.3"] = _ev(
            not late,
            f"{len(recent) - len(late)}/{len(recent)} 起事件在 {hours} 小时内导出上传；引用为未及时上传的事件 / "
            f"events exported to the upper platform within {hours} hours; the references name the late ones",
            [f"health_event:{i}" for i in (late or [r.id for r in recent])],
        )
        return out

    # ---- SE71, SE72 ----------------------------------------------------------------------------------------
    def _education(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        svc = self.services
        db = svc.db
        m, a, t, att = (
            db.table("edu_material"),
            db.table("edu_activity"),
            db.table("edu_training"),
            db.table("edu_attendance"),
        )
        materials = conn.execute(
            select(m).where(m.c.region.in_(regions), m.c.created_at < end).order_by(m.c.id)
        ).all()
        activities = conn.execute(
            select(a).where(a.c.region.in_(regions), a.c.held_at < end).order_by(a.c.held_at, a.c.id)
        ).all()
        trainings = conn.execute(
            select(t).where(t.c.region.in_(regions), t.c.held_at < end).order_by(t.c.held_at, t.c.id)
        ).all()
        if not (materials or activities or trainings):
            return {}
        cat = catalog()
        out: dict[str, Evidence] = {}
        recent = [r for r in activities if r.held_at >= start]
        channels: dict[str, list[str]] = {}
        for r in recent:
            if r.channel:
                channels.setdefault(r.channel, []).append(f"edu_activity:{r.id}")
        for channel, notice_ids in notice_channels_used(svc, regions, start, end).items():
            if channel in cat.channels:
                channels.setdefault(channel, []).extend(f"notice:{n}" for n in notice_ids)
        used = [k for k in cat.channels if k in channels]
        out["SE71.1"] = _ev(
            tuple(used),
            f"近十二个月发布安全知识的渠道：{'、'.join(cat.channels[k].zh for k in used) or '无'} / channels used in the twelve months",
            [f"{ref}:{k}" for k in used for ref in channels[k]],
        )
        modes = {r.mode for r in recent}
        out["SE71.2"] = _ev(
            {"online", "offline"} <= modes,
            f"近十二个月线上活动 {sum(r.mode == 'online' for r in recent)} 次、线下活动 {sum(r.mode == 'offline' for r in recent)} 次 / "
            "online and offline activities in the twelve months",
            [f"edu_activity:{r.id}:{r.mode}" for r in recent],
        )
        published = [r for r in materials if r.published]
        groups = sorted({g for r in published for g in r.groups if g != "all"}, key=list(cat.groups).index)
        out["SE71.3"] = _ev(
            len(groups) >= 2,
            f"面向不同群体的宣传教育材料：{'、'.join(cat.groups[g].zh for g in groups) or '无'} / materials for specific groups",
            [f"edu_material:{r.id}:{g}" for r in published for g in r.groups if g != "all"],
        )
        out["SE71.4"] = _ev(
            bool(published),
            f"{len(published)} 份安全教育材料已上传平台供居民查阅 / materials published to residents",
            [f"edu_material:{r.id}" for r in published],
        )
        limit = timedelta(days=cat.update_within_days)
        stale = [r.id for r in published if end - r.updated_at > limit]
        out["SE71.5"] = _ev(
            bool(published) and not stale,
            f"{len(published) - len(stale)}/{len(published)} 份材料在 {cat.update_within_days} 天内更新；引用为未及时更新者 / "
            "materials updated in time; the references name the stale ones",
            [f"edu_material:{i}" for i in (stale or [r.id for r in published])],
        )
        recent_t = [r for r in trainings if r.held_at >= start]
        attended = (
            set(
                conn.execute(
                    select(att.c.training_id).where(
                        att.c.training_id.in_([r.id for r in recent_t]), att.c.attended.is_(True)
                    )
                )
                .scalars()
                .all()
            )
            if recent_t
            else set()
        )
        admins = [r.id for r in recent_t if r.audience == "administrators" and r.id in attended]
        out["SE72.1"] = _ev(
            bool(admins),
            f"近十二个月社区管理人员培训 {len(admins)} 次（有签到） / administrator trainings with attendance",
            [f"edu_training:{i}" for i in admins],
        )
        for key, audience in (("SE72.2", "property_staff"), ("SE72.3", "small_places")):
            held = [r.id for r in recent_t if r.audience == audience]
            out[key] = _ev(
                len(held),
                f"近十二个月{cat.audiences[audience].zh}培训次数 / trainings of {cat.audiences[audience].en}",
                [f"edu_training:{i}" for i in held],
            )
        return out


def install(services: Services, registry: ProviderRegistry | None = None) -> AffairsEvidence:
    """Register the affairs provider (replacing an earlier one of the same name) in `registry`, by default
    the engine's process-wide one."""
    target = registry if registry is not None else default_registry()
    target.unregister(NAME)
    provider = AffairsEvidence(services)
    target.register(provider)
    return provider
