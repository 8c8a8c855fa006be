"""The console's interface texts, Chinese first; English is the switch (`?lang=en`, kept in a cookie)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request

Lang = Literal["zh", "en"]
LANG_COOKIE = "lang"
LANG_MAX_AGE = 365 * 24 * 3600

# key -> (zh, en). Keys used by the scripts are listed in SCRIPT_KEYS and shipped to the page as JSON.
TEXTS: dict[str, tuple[str, str]] = {
    "app": ("安居 · 智慧平安社区", "Anju · Smart Safe Community"),
    "nav_console": ("值班台", "Duty console"),
    "nav_evaluation": ("评价", "Evaluation"),
    "switch_lang": ("English", "中文"),
    "logout": ("退出", "Sign out"),
    "login_title": ("登录", "Sign in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_button": ("登录", "Sign in"),
    "login_hint": ("请使用平台账号登录。", "Sign in with your platform account."),
    "console_title": ("值班台 · 告警", "Duty console · alarms"),
    "filter_estate": ("小区", "Estate"),
    "filter_type": ("类型", "Type"),
    "filter_severity": ("级别", "Severity"),
    "filter_status": ("状态", "Status"),
    "filter_window": ("时间", "Window"),
    "all": ("全部", "All"),
    "status_open": ("未关闭", "Open"),
    "status_active": ("告警中", "Active"),
    "status_cleared": ("已清除", "Cleared"),
    "status_closed": ("已关闭", "Closed"),
    "window_1h": ("近1小时", "Last hour"),
    "window_6h": ("近6小时", "Last 6 hours"),
    "window_24h": ("近24小时", "Last 24 hours"),
    "window_all": ("不限", "Any time"),
    "sound_on": ("声音：开", "Sound: on"),
    "sound_off": ("声音：关", "Sound: off"),
    "live": ("实时", "Live"),
    "offline": ("连接中断，正在重连…", "Disconnected, reconnecting…"),
    "col_severity": ("级别", "Severity"),
    "col_type": ("类型", "Type"),
    "col_title": ("告警", "Alarm"),
    "col_estate": ("小区", "Estate"),
    "col_status": ("状态", "Status"),
    "col_last": ("最近发生", "Last seen"),
    "col_sla": ("响应时限", "Response SLA"),
    "no_alarms": ("当前筛选条件下没有告警。", "No alarms match the filters."),
    "new_critical": ("新的紧急告警！", "New critical alarm!"),
    "detail": ("告警详情", "Alarm detail"),
    "choose_alarm": ("点击列表中的告警查看详情并处置。", "Select an alarm to see it and act on it."),
    "timeline": ("处置时间线", "Timeline"),
    "records": ("触发记录", "Causing records"),
    "cameras": ("附近摄像机", "Nearest cameras"),
    "location": ("位置", "Location"),
    "originator": ("来源", "Originator"),
    "count": ("次数", "Count"),
    "first_seen": ("首次发生", "First seen"),
    "assigned_to": ("负责人", "Assigned to"),
    "result": ("处置结果", "Result"),
    "acknowledge": ("确认", "Acknowledge"),
    "assign": ("指派", "Assign"),
    "dispatch": ("派单", "Dispatch"),
    "comment": ("备注", "Comment"),
    "clear": ("清除", "Clear"),
    "close": ("关闭", "Close"),
    "assign_to_ph": ("指派给（用户名）", "Assign to (username)"),
    "dispatch_ph": ("派单说明：派谁、去哪里", "Dispatch note: who, where"),
    "comment_ph": ("备注内容", "Comment"),
    "close_ph": ("处置结果（关闭时必填）", "Result (required to close)"),
    "done": ("已完成", "Done"),
    "acknowledged": ("已确认", "Acknowledged"),
    "unacknowledged": ("未确认", "Unacknowledged"),
    "sla_met": ("已按时响应", "Answered in time"),
    "sla_breached": ("已超时", "Breached"),
    "sla_left": ("剩余", "left"),
    "none": ("无", "none"),
    "sev_critical": ("紧急", "Critical"),
    "sev_major": ("重要", "Major"),
    "sev_minor": ("次要", "Minor"),
    "sev_warning": ("提示", "Warning"),
    "sev_indeterminate": ("未定", "Indeterminate"),
    "ev_raised": ("产生告警", "raised"),
    "ev_retriggered": ("再次触发", "re-triggered"),
    "ev_notified": ("已通知", "notified"),
    "ev_acknowledged": ("确认", "acknowledged"),
    "ev_assigned": ("指派", "assigned"),
    "ev_dispatched": ("派单", "dispatched"),
    "ev_commented": ("备注", "commented"),
    "ev_cleared": ("清除", "cleared"),
    "ev_closed": ("关闭", "closed"),
    "ev_escalated": ("升级", "escalated"),
    "ev_reminded": ("提醒", "reminded"),
    "scorecard_title": ("社区评价得分卡", "Community scorecard"),
    "score": ("综合得分", "Score"),
    "radar": ("七个维度雷达图", "Radar of the seven dimensions"),
    "dimensions": ("七个维度", "The seven dimensions"),
    "indicators": ("指标与佐证", "Indicators and evidence"),
    "points": ("得分", "Points"),
    "evidence": ("佐证", "Evidence"),
    "weighting": ("权重", "Weighting"),
    "as_of": ("评价日期", "Evaluated on"),
    "forbidden": ("没有权限", "Forbidden"),
}

SCRIPT_KEYS = (
    "all",
    "no_alarms",
    "new_critical",
    "choose_alarm",
    "timeline",
    "records",
    "cameras",
    "location",
    "originator",
    "count",
    "first_seen",
    "assigned_to",
    "result",
    "acknowledge",
    "assign",
    "dispatch",
    "comment",
    "clear",
    "close",
    "assign_to_ph",
    "dispatch_ph",
    "comment_ph",
    "close_ph",
    "done",
    "acknowledged",
    "unacknowledged",
    "sla_met",
    "sla_breached",
    "sla_left",
    "none",
    "status_active",
    "status_cleared",
    "status_closed",
    "sound_on",
    "sound_off",
    "live",
    "offline",
    "sev_critical",
    "sev_major",
    "sev_minor",
    "sev_warning",
    "sev_indeterminate",
    "ev_raised",
    "ev_retriggered",
    "ev_notified",
    "ev_acknowledged",
    "ev_assigned",
    "ev_dispatched",
    "ev_commented",
    "ev_cleared",
    "ev_closed",
    "ev_escalated",
    "ev_reminded",
)


def language(request: Request) -> Lang:
    """The query parameter wins (the switch link), then the cookie it left, then Chinese."""
    for raw in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if raw == "en":
            return "en"
        if raw == "zh":
            return "zh"
    return "zh"


def translator(lang: Lang) -> Callable[[str], str]:
    index = 0 if lang == "zh" else 1

    def t(key: str) -> str:
        return TEXTS[key][index]

    return t


def script_texts(lang: Lang) -> dict[str, str]:
    t = translator(lang)
    return {key: t(key) for key in SCRIPT_KEYS}
