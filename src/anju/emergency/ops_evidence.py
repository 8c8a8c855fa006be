"""Facts of emergency operations for the evaluation engine: duty (SE61), warnings (SE62), emergency calls
(SE63), command and dispatch (SE66), the risk map (SE67) and multi-sectoral linkage (SE43).

The community code may be any node of the region tree; records of it and of every node under it count.
"In the twelve months" is the year that ends with the evaluation date (local time), as for SE31/SE32.
Readings of ambiguous criteria (docs/emergency-operations.md says why):

- SE61.1: an estate control room (level 0) is on the duty roster for some estate of the community;
- SE61.2: at least two distinct officers (a team) are on the roster for the community's estates;
- SE61.3: duty information is connected: officers with contact channels are on the platform's roster;
- SE61.4: over the seven days from the evaluation date, every estate has someone on duty (level 0 or 1)
  at every minute; false with the gaps as references;
- SE62.1: warnings have been issued or received for the community (CAP messages recorded);
- SE62.2: an Actual warning of the twelve months reached residents (its publication is `published`);
- SE62.3: Actual Alerts of the twelve months not cancelled afterwards (a cancelled warning is not counted
  as a successful one); exercises never count;
- SE63.1: help buttons (device kind help_button) registered and not retired;
- SE63.2: emergency calls of the twelve months were answered by the control room (acknowledged or
  dispatched) while the roster names both an estate control room and a higher-level centre;
- SE63.4: emergency contacts were notified of some alarm of the twelve months;
- SE66.1: the departments (paper.yaml's list) with a resource registered for the community or a node above;
- SE43.1: the departments that took part in a dispatch in the twelve months;
- SE43.2: incidents closed in the twelve months with a handled outcome and dispatches of two or more
  departments;
- SE67.1: zones in force of which some has an assessment within review_days (risk.yaml);
- SE67.2: the natural-hazard kinds (risk.yaml natural) of zones in force with a current assessment;
- SE67.3: some human-factor zone (not natural) in force.
Nothing recorded leaves a fact out rather than claiming zero (an attestation may then speak for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from anju.emergency.cap import referenced_identifiers
from anju.emergency.duty_coverage import any_level_gaps, coverage_gaps
from anju.emergency.ops_catalog import ops_catalog
from anju.evaluation.evidence import Evidence, SourceKind, twelve_months

if TYPE_CHECKING:
    from anju.services import Services

NAME = "emergency_ops"
KEYS = frozenset(
    {
        "SE43.1",
        "SE43.2",
        "SE61.1",
        "SE61.2",
        "SE61.3",
        "SE61.4",
        "SE62.1",
        "SE62.2",
        "SE62.3",
        "SE63.1",
        "SE63.2",
        "SE63.4",
        "SE66.1",
        "SE67.1",
        "SE67.2",
        "SE67.3",
    }
)
_REFS = 200
# paper.yaml's department items, in its order (SE43.1 and SE66.1 share the list)
DEPARTMENTS = (
    "housing",
    "fire",
    "public_security",
    "traffic_police",
    "justice",
    "law_and_order",
    "meteorology",
    "civil_affairs",
    "health_epidemic",
    "other_government",
)


class EmergencyOpsEvidence:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def name(self) -> str:
        return NAME

    @property
    def keys(self) -> frozenset[str]:
        return KEYS

    def _window(self, as_of: date) -> tuple[datetime, datetime]:
        return twelve_months(as_of, self.services.settings.timezone)

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        svc = self.services
        regions = sorted(svc.regions.descendants([community_code]))
        start, end = self._window(as_of)
        out: dict[str, Evidence] = {}
        with svc.db.engine.connect() as conn:
            region = svc.db.table("region")
            estates = sorted(
                str(c)
                for c in conn.execute(
                    select(region.c.code).where(region.c.code.in_(regions), region.c.level == "estate")
                ).scalars()
            )
            out.update(self._duty(estates, as_of))
            out.update(self._warnings(conn, regions, start, end))
            out.update(self._calls(conn, estates, start, end))
            out.update(self._linkage(conn, estates, start, end))
            out.update(self._risk(conn, estates, end))
        return out

    # -- SE61 ------------------------------------------------------------------------------------------
    def _duty(self, estates: list[str], as_of: date) -> dict[str, Evidence]:
        svc = self.services
        ancestors = {e: svc.regions.ancestors(e) for e in estates}
        covering = {a for chain in ancestors.values() for a in chain} | {"*"}
        officers = [o for o in svc.duty.officers() if o.region in covering]
        if not officers or not estates:
            return {}
        tz = svc.settings.timezone
        refs = tuple(f"duty:{o.id}" for o in officers[:_REFS])
        control = [o for o in officers if o.level == 0]
        begin = datetime.combine(as_of, time(0), tz)
        gaps = coverage_gaps(
            officers, estates, ancestors, start=begin, end=begin + timedelta(days=7), tz=tz, levels=(0, 1)
        )
        holes = any_level_gaps(gaps, estates, (0, 1))
        return {
            "SE61.1": Evidence(
                bool(control),
                SourceKind.records,
                f"{len(control)} 个小区监控中心/物业值班室在值班表上 / estate control rooms on the duty roster",
                tuple(f"duty:{o.id}" for o in control[:_REFS]),
            ),
            "SE61.2": Evidence(
                len(officers) >= 2,
                SourceKind.records,
                f"值班表上 {len(officers)} 名（个）值守人员 / officers on the duty roster (a team: two or more)",
                refs,
            ),
            "SE61.3": Evidence(
                True,
                SourceKind.records,
                "值守人员及其联络渠道已接入平台的值班表，告警按值班表通知 / duty officers and their channels "
                "are on the platform's roster that alarm notifications use",
                refs,
            ),
            "SE61.4": Evidence(
                not holes,
                SourceKind.records,
                "自评价日起七天内每个小区每分钟都有人值守（小区或社区层级）；引用为无人值守的时段 / every "
                "estate has someone on duty at every minute of the seven days; references name the gaps",
                tuple(f"duty_gap:{e}:{a.isoformat()}/{b.isoformat()}" for e, a, b in holes[:_REFS]) or refs,
            ),
        }

    # -- SE62 ------------------------------------------------------------------------------------------
    def _warnings(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        t, p = db.table("emergency_warning"), db.table("emergency_warning_publication")
        rows = conn.execute(
            select(t.c.id, t.c.status, t.c.msg_type, t.c.sent_at, t.c.cap_references)
            .where(t.c.region.in_(regions), t.c.sent_at < end)
            .order_by(t.c.sent_at, t.c.id)
        ).all()
        if not rows:
            return {}
        recent = [r for r in rows if r.sent_at >= start and r.status == "Actual"]
        ids = [r.id for r in recent]
        pubs = (
            conn.execute(
                select(p.c.warning_id, p.c.state).where(p.c.warning_id.in_(ids)).order_by(p.c.pk)
            ).all()
            if ids
            else []
        )
        state = {x.warning_id: x.state for x in pubs}
        published = [i for i in ids if state.get(i) == "published"]
        cancelled = {
            ident
            for r in rows
            if r.msg_type == "Cancel"
            for ident in referenced_identifiers(tuple(r.cap_references or ()))
        }
        successful = [r.id for r in recent if r.msg_type == "Alert" and r.id not in cancelled]
        return {
            "SE62.1": Evidence(
                True,
                SourceKind.records,
                f"平台已发布或接收 {len(rows)} 条 CAP 预警消息 / CAP warning messages issued or received",
                tuple(f"emergency_warning:{r.id}" for r in rows[-_REFS:]),
            ),
            "SE62.2": Evidence(
                bool(published),
                SourceKind.records,
                f"近十二个月 {len(published)} 条实际预警已通过信息发布渠道送达居民 / actual warnings of the "
                "twelve months published to residents",
                tuple(f"emergency_warning:{i}" for i in published[:_REFS]),
            ),
            "SE62.3": Evidence(
                len(successful),
                SourceKind.records,
                "近十二个月发布且未被解除的实际预警次数（演练不计） / actual alerts of the twelve months not "
                "cancelled afterwards (exercises excluded)",
                tuple(f"emergency_warning:{i}" for i in successful[:_REFS]),
            ),
        }

    # -- SE63 ------------------------------------------------------------------------------------------
    def _calls(
        self, conn: Connection, estates: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        out: dict[str, Evidence] = {}
        device = db.table("device")
        buttons = (
            conn.execute(
                select(device.c.id)
                .where(
                    device.c.estate.in_(estates), device.c.kind == "help_button", device.c.status != "retired"
                )
                .order_by(device.c.id)
            )
            .scalars()
            .all()
        )
        if buttons:
            out["SE63.1"] = Evidence(
                True,
                SourceKind.records,
                f"{len(buttons)} 个一键求助按钮已登记 / help buttons registered",
                tuple(f"device:{b}" for b in buttons[:_REFS]),
            )
        alarm = db.table("alarm")
        calls = conn.execute(
            select(alarm.c.id, alarm.c.acknowledged_at, alarm.c.dispatched_at)
            .where(
                alarm.c.estate.in_(estates),
                alarm.c.type == "emergency_call",
                alarm.c.first_seen_at >= start,
                alarm.c.first_seen_at < end,
            )
            .order_by(alarm.c.id)
        ).all()
        if calls:
            answered = [c.id for c in calls if c.acknowledged_at is not None or c.dispatched_at is not None]
            chains = {a for e in estates for a in self.services.regions.ancestors(e)} | {"*"}
            levels = {o.level for o in self.services.duty.officers() if o.region in chains}
            linked = bool(answered) and 0 in levels and any(lv >= 1 for lv in levels)
            out["SE63.2"] = Evidence(
                linked,
                SourceKind.records,
                f"近十二个月 {len(calls)} 次紧急求助中 {len(answered)} 次由值班室确认或派遣，值班表含小区监控中心与上级"
                "指挥中心 / emergency calls answered by the control room, with an estate and a higher-level "
                "centre on the roster",
                tuple(f"alarm:{a}" for a in answered[:_REFS]),
            )
        note = db.table("notification")
        told = (
            conn.execute(
                select(note.c.alarm_id)
                .join(alarm, alarm.c.id == note.c.alarm_id)
                .where(
                    note.c.purpose == "emergency_contact",
                    alarm.c.estate.in_(estates),
                    note.c.created_at >= start,
                    note.c.created_at < end,
                )
                .distinct()
            )
            .scalars()
            .all()
        )
        if told:
            out["SE63.4"] = Evidence(
                True,
                SourceKind.records,
                f"近十二个月 {len(told)} 条告警的信息已推送给当事人的紧急联系人 / alarms whose information "
                "reached the person's emergency contacts",
                tuple(f"alarm:{a}" for a in sorted(told)[:_REFS]),
            )
        return out

    # -- SE66 / SE43 -----------------------------------------------------------------------------------
    def _linkage(
        self, conn: Connection, estates: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        cat = ops_catalog()
        res = db.table("emergency_resource")
        serving = sorted({a for e in estates for a in self.services.regions.ancestors(e)})
        resources = conn.execute(
            select(res.c.id, res.c.kind)
            .where(res.c.region.in_(serving), res.c.created_at < end)
            .order_by(res.c.id)
        ).all()
        if not resources:
            return {}
        dept_of = {r.id: cat.department(r.kind) for r in resources if r.kind in cat.resource_kinds}
        registered = sorted({d for d in dept_of.values() if d in DEPARTMENTS}, key=DEPARTMENTS.index)
        out: dict[str, Evidence] = {
            "SE66.1": Evidence(
                tuple(registered),
                SourceKind.records,
                "应急机制中登记了可调度资源的部门 / departments with a dispatchable resource in the mechanism",
                tuple(f"emergency_resource:{r}" for r, d in dept_of.items() if d in DEPARTMENTS)[:_REFS],
            )
        }
        d = db.table("emergency_dispatch")
        sent = conn.execute(
            select(d.c.id, d.c.resource_id, d.c.incident_id)
            .where(d.c.estate.in_(estates), d.c.dispatched_at >= start, d.c.dispatched_at < end)
            .order_by(d.c.id)
        ).all()
        linked: dict[str, list[int]] = {}
        per_incident: dict[int, set[str]] = {}
        for s in sent:
            dept = dept_of.get(s.resource_id)
            if dept in DEPARTMENTS:
                assert dept is not None
                linked.setdefault(dept, []).append(s.id)
                if s.incident_id is not None:
                    per_incident.setdefault(s.incident_id, set()).add(dept)
        out["SE43.1"] = Evidence(
            tuple(k for k in DEPARTMENTS if k in linked),
            SourceKind.records,
            "近十二个月参与联动调度的部门 / departments that took part in dispatches in the twelve months",
            tuple(f"emergency_dispatch:{i}" for k in DEPARTMENTS for i in linked.get(k, []))[:_REFS],
        )
        inc = db.table("emergency_incident")
        handled_outcomes = [k for k, e in cat.outcomes.items() if e.extra.get("handled")]
        closed = (
            conn.execute(
                select(inc.c.id)
                .where(
                    inc.c.estate.in_(estates),
                    inc.c.closed_at >= start,
                    inc.c.closed_at < end,
                    inc.c.outcome.in_(handled_outcomes),
                )
                .order_by(inc.c.id)
            )
            .scalars()
            .all()
        )
        joint = [i for i in closed if len(per_incident.get(i, ())) >= 2]
        out["SE43.2"] = Evidence(
            len(joint),
            SourceKind.records,
            "近十二个月经两个及以上部门联动成功处置的事件数 / incidents handled with two or more departments",
            tuple(f"emergency_incident:{i}" for i in joint[:_REFS]),
        )
        return out

    # -- SE67 ------------------------------------------------------------------------------------------
    def _risk(self, conn: Connection, estates: list[str], end: datetime) -> dict[str, Evidence]:
        cat = ops_catalog()
        z = self.services.db.table("risk_zone")
        zones = conn.execute(
            select(z.c.id, z.c.hazard, z.c.assessed_on)
            .where(z.c.estate.in_(estates), z.c.created_at < end, z.c.retired_at.is_(None))
            .order_by(z.c.id)
        ).all()
        if not zones:
            return {}
        fresh_from = (end - timedelta(days=cat.review_days)).date()
        current = [r for r in zones if r.assessed_on >= fresh_from and r.hazard in cat.risk_hazards]
        natural = sorted({r.hazard for r in current if cat.natural(r.hazard)})
        human = [r.id for r in zones if r.hazard in cat.risk_hazards and not cat.natural(r.hazard)]
        return {
            "SE67.1": Evidence(
                bool(current),
                SourceKind.records,
                f"灾害风险地图有 {len(zones)} 个风险区域，其中 {len(current)} 个评估在复评期限内 / risk zones "
                "on the map, those with a current assessment",
                tuple(f"risk_zone:{r.id}" for r in current[:_REFS]),
            ),
            "SE67.2": Evidence(
                len(natural),
                SourceKind.records,
                "风险地图显示（且评估及时）的自然灾害风险种类："
                + "、".join(cat.risk_hazards[h].zh for h in natural)
                + " / natural-hazard kinds displayed with a current assessment",
                tuple(f"risk_hazard:{h}" for h in natural),
            ),
            "SE67.3": Evidence(
                bool(human),
                SourceKind.records,
                "风险地图含人为因素风险（人员密集场所、危险化学品、特殊人群聚合数等） / human-factor risks on the map",
                tuple(f"risk_zone:{i}" for i in human[:_REFS]),
            ),
        }
