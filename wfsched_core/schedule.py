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
    """The first tick strictly after ``after`` (naive UTC), as naive UTC."""
    from croniter import croniter

    zone = ZoneInfo(tz_name)
    local = after.replace(tzinfo=timezone.utc).astimezone(zone)
    tick = croniter(expression, local).get_next(datetime)
    return tick.astimezone(timezone.utc).replace(tzinfo=None)


def describe_schedule(expression: str) -> str:
    """A cron expression in words, for listings (``every day at 02:00``)."""
    from wfsched_core.schedule_words import cron_in_words

    return cron_in_words(expression)
