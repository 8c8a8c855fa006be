"""Date and time values: parsing the formats seen in the feeds, range checks, local formatting for export."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from anju.standard.checks import CheckFailed

__all__ = ["check_date_range", "format_local", "parse_datetime"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")
_EARLIEST = datetime(1880, 1, 1, tzinfo=UTC)

# YYYY-MM-DD, optionally followed by " " or "T", HH:MM:SS, an optional fraction and an optional UTC offset;
# or the compact YYYYMMDD[HHMMSS].  ASCII digits only.
_RE_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]{1,6}))?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
    r"|([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2}))?"
)


def _format_error() -> CheckFailed:
    return CheckFailed(
        "date_format",
        "应为 YYYY-MM-DD HH:MM:SS、YYYY-MM-DD、ISO 8601（如 2024-01-31T08:30:00+08:00）、"
        "YYYYMMDDHHMMSS 或 YYYYMMDD 格式",
        "should be YYYY-MM-DD HH:MM:SS, YYYY-MM-DD, ISO 8601 (e.g. 2024-01-31T08:30:00+08:00), "
        "YYYYMMDDHHMMSS or YYYYMMDD",
    )


def _invalid_error() -> CheckFailed:
    return CheckFailed(
        "date_invalid",
        "不是有效的日期时间（月 01-12，日不超过当月天数，时 00-23，分秒 00-59，时区偏移不超过 ±23:59）",
        "is not a valid date and time (month 01-12, day within the month, hour 00-23, minute and second "
        "00-59, UTC offset within ±23:59)",
    )


def _too_early_error() -> CheckFailed:
    return CheckFailed("date_too_early", "不应早于 1880-01-01", "should not be earlier than 1880-01-01")


@lru_cache(maxsize=256)
def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    hours = int(text[1:3])
    minutes = int(text[-2:])
    if hours > 23 or minutes > 59:
        raise _invalid_error()
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def parse_datetime(value: str, *, tz: ZoneInfo) -> datetime:
    """Parse a date or date-time into an aware UTC datetime; times without an offset are local to ``tz``.

    Accepted: ``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD`` (local midnight), ISO 8601
    ``YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM|±HHMM]`` (a fraction and an offset are also accepted after a
    space separator), ``YYYYMMDDHHMMSS`` and ``YYYYMMDD``.  Codes: ``date_format`` (another shape),
    ``date_invalid`` (right shape, impossible value such as 2023-02-30 or 25:00) and ``date_too_early`` (a
    value so early that it cannot be converted to UTC).
    """
    m = _RE_DATETIME.fullmatch(value)
    if m is None:
        raise _format_error()
    g = m.groups()
    if g[0] is not None:
        year, month, day, hour, minute, second, fraction, offset = g[:8]
    else:
        year, month, day, hour, minute, second = g[8:]
        fraction = offset = None
    try:
        if hour is None:
            local = datetime(int(year), int(month), int(day), tzinfo=tz)
        else:
            local = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int(fraction.ljust(6, "0")) if fraction is not None else 0,
                tzinfo=tz if offset is None else _offset(offset),
            )
    except ValueError:
        raise _invalid_error() from None
    try:
        return local.astimezone(UTC)
    except (OverflowError, ValueError):
        # Only at the ends of the datetime range (year 1 or 9999 shifted across the year boundary).
        if local.year < 1880:
            raise _too_early_error() from None
        raise _invalid_error() from None


def check_date_range(dt: datetime, *, now: datetime, max_future: timedelta) -> None:
    """Raise ``date_too_early`` before 1880-01-01 (UTC) or ``date_future`` after ``now + max_future``.

    Naive datetimes (``dt`` or ``now``) are taken as UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if dt < _EARLIEST:
        raise _too_early_error()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        latest = now + max_future
    except OverflowError:
        return
    if dt > latest:
        try:
            shown = format_local(latest, _SHANGHAI)
        except (OverflowError, ValueError):
            shown = latest.isoformat()
        raise CheckFailed(
            "date_future",
            f"不应晚于 {shown}（北京时间）",
            f"should not be later than {shown} (Asia/Shanghai)",
        )


def format_local(dt_utc: datetime, tz: ZoneInfo) -> str:
    """Format as ``YYYY-MM-DD HH:MM:SS`` in ``tz``; a naive datetime is taken as UTC."""
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=UTC)
    d = dt_utc.astimezone(tz)
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
