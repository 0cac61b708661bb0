"""Cron evaluation (time zones, DST) and the catch-up rules, without a database."""

from __future__ import annotations

from datetime import datetime

import pytest

from wfsched_core.authoring.catalog import _find_cycles
from wfsched_core.authoring.schedule import check_schedule, next_tick
from wfsched_core.authoring.schedule_words import cron_in_words
from wfsched_core.authoring.workflow import Workflow, resolve_spec, step
from wfsched_core.scheduler.ticks import plan_due_ticks


def ticks(expression: str, tz: str, start: datetime, n: int) -> list[datetime]:
    out, t = [], start
    for _ in range(n):
        t = next_tick(expression, tz, t)
        out.append(t)
    return out


def test_daily_job_in_berlin_follows_the_clock_across_both_dst_changes() -> None:
    # 02:30 local does not exist on 2026-03-29: it runs at 03:00 CEST (01:00 UTC)
    spring = ticks("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 27, 12), 4)
    assert spring == [datetime(2026, 3, 28, 1, 30), datetime(2026, 3, 29, 1, 0),
                      datetime(2026, 3, 30, 0, 30), datetime(2026, 3, 31, 0, 30)]
    # 02:30 local happens twice on 2026-10-25: it runs once
    autumn = ticks("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 23, 12), 3)
    assert autumn == [datetime(2026, 10, 24, 0, 30), datetime(2026, 10, 25, 0, 30),
                      datetime(2026, 10, 26, 1, 30)]


def test_hourly_job_keeps_running_every_real_hour_through_the_repeated_hour() -> None:
    hourly = ticks("0 * * * *", "Europe/Berlin", datetime(2026, 10, 24, 23, 30), 4)
    assert hourly == [datetime(2026, 10, 25, 0), datetime(2026, 10, 25, 1),
                      datetime(2026, 10, 25, 2), datetime(2026, 10, 25, 3)]


def test_new_york_daily_at_midnight_is_0400_or_0500_utc() -> None:
    assert ticks("@daily", "America/New_York", datetime(2026, 10, 31, 12), 3) == [
        datetime(2026, 11, 1, 4), datetime(2026, 11, 2, 5), datetime(2026, 11, 3, 5)]


@pytest.mark.parametrize(("expression", "tz", "message"), [
    ("61 * * * *", "UTC", "invalid cron expression '61 * * * *'"),
    ("* * *", "UTC", "invalid cron expression"),
    ("@daily", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
])
def test_invalid_schedules_are_rejected(expression: str, tz: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("*", r"\*").replace("(", r"\(")):
        check_schedule(expression, tz)


def test_schedules_in_words() -> None:
    assert cron_in_words("0 2 * * *") == "every day at 02:00"
    assert cron_in_words("*/15 * * * *") == "every 15 minutes"
    assert cron_in_words("30 6 * * 1-5") == "every weekday at 06:30"
    assert cron_in_words("@hourly") == "every hour at minute 0"
    assert cron_in_words("5 4 1,15 * *") == "cron 5 4 1,15 * *"


class Every10(Workflow):
    schedule = "*/10 * * * *"

    @step
    def s(self, ctx):
        return None


def spec(**overrides):
    return resolve_spec("every10", Every10, "test", overrides)


LAST = datetime(2026, 1, 1, 12, 0)
NOW = datetime(2026, 1, 1, 13, 0, 5)  # six ticks missed: 12:10 ... 13:00


def test_catchup_all_runs_every_missed_tick() -> None:
    plan = plan_due_ticks(spec(catchup="all"), LAST, NOW, on_time=10)
    assert plan.run == [datetime(2026, 1, 1, 12, m) for m in (10, 20, 30, 40, 50)] + [
        datetime(2026, 1, 1, 13, 0)]
    assert plan.skip == [] and plan.dropped == 0


def test_catchup_latest_coalesces_to_the_newest_tick() -> None:
    plan = plan_due_ticks(spec(catchup="latest"), LAST, NOW, on_time=10)
    assert plan.run == [datetime(2026, 1, 1, 13, 0)] and plan.dropped == 5


def test_catchup_none_runs_only_a_tick_that_is_on_time() -> None:
    assert plan_due_ticks(spec(catchup="none"), LAST, NOW, on_time=10).run == [
        datetime(2026, 1, 1, 13, 0)]
    late = plan_due_ticks(spec(catchup="none"), LAST, datetime(2026, 1, 1, 13, 5), 10)
    assert late.run == [] and late.dropped == 6


def test_start_deadline_skips_and_reports_late_ticks() -> None:
    plan = plan_due_ticks(spec(catchup="all", start_deadline=900), LAST, NOW, on_time=10)
    assert [t for t, _ in plan.skip] == [datetime(2026, 1, 1, 12, m) for m in (10, 20, 30, 40)]
    assert "missed its start deadline of 900s" in plan.skip[0][1]
    assert plan.run == [datetime(2026, 1, 1, 12, 50), datetime(2026, 1, 1, 13, 0)]


def test_dependency_cycles_are_found() -> None:
    graph = {"a": ("b",), "b": ("c",), "c": ("a",), "d": ("a",)}
    assert [sorted(c) for c in _find_cycles(graph)] == [["a", "b", "c"]]
    assert _find_cycles({"a": (), "b": ("a",)}) == []
