"""Cron schedules in a time zone: validation and the next tick (croniter + zoneinfo)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_schedule(expression: str, tz_name: str = "UTC") -> None:
    """Raise ValueError naming the problem when ``expression`` or ``tz_name`` is invalid."""
    from croniter import croniter

    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {tz_name!r}")
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}")


def next_tick(expression: str, tz_name: str, after: datetime) -> datetime:
    """The first tick strictly after ``after`` (naive UTC), as naive UTC.

    Daylight-saving changes, as cron does them: a wall-clock time that does not exist
    (spring forward) runs at the first instant after the gap; a wall-clock time that
    happens twice (fall back) runs once — unless the hour field is a wildcard (hourly
    and more often), which keeps running every real hour.
    """
    from croniter import croniter

    zone = ZoneInfo(tz_name)
    local = after.replace(tzinfo=timezone.utc).astimezone(zone)
    ticks = croniter(expression, local)
    fixed_hour = _hour_is_fixed(expression)
    while True:
        tick = ticks.get_next(datetime).astimezone(timezone.utc)
        if fixed_hour and tick.astimezone(zone).fold == 1:
            continue  # the second pass through a repeated hour: it already ran
        return tick.replace(tzinfo=None)


def _hour_is_fixed(expression: str) -> bool:
    text = expression.strip()
    if text.startswith("@"):
        return text not in ("@hourly", "@reboot")
    fields = text.split()
    return len(fields) >= 2 and not fields[1].startswith("*")


def describe_schedule(expression: str) -> str:
    """A cron expression in words, for listings (``every day at 02:00``)."""
    from wfsched_core.authoring.schedule_words import cron_in_words

    return cron_in_words(expression)
