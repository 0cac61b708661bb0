"""``scheduler --once`` from cron runs each due tick (issue 14, defect 4): a workflow's
schedule remembers where it stands across scheduler starts, from the first sight on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from helpers import Wfsched
from inprocess import FakeClock, make_scheduler

FIRST_SIGHT = datetime(2026, 6, 1, 12, 0, 30)


def _once_at(monkeypatch: pytest.MonkeyPatch, wf: Wfsched, testworkflows_path: Path,
             config: str, when: datetime) -> int:
    """One ``scheduler --once`` as cron starts it, at ``when``; its exit code."""
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                               config, clock=FakeClock(when), prepared=False, once=True)
    try:
        summary = scheduler.run()
    finally:
        scheduler.store.dispose()
    return 0 if summary.all_completed else 1


def _ticks_run(wf: Wfsched, workflow: str) -> list[str]:
    rows = wf.store.list_executions(workflow=workflow, limit=1000)
    return sorted(r.scheduled_for.strftime("%H:%M") for r in rows
                  if r.scheduled_for is not None and r.status.value == "completed")


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_once_every_minute_from_cron_runs_each_tick(
        db_kind: str, wf: Wfsched, monkeypatch: pytest.MonkeyPatch,
        testworkflows_path: Path) -> None:
    config = '[workflows.noop]\nschedule = "* * * * *"\n'  # catchup "latest", the default
    # first sight, mid-minute: nothing due yet, but the 12:01 tick is recorded
    assert _once_at(monkeypatch, wf, testworkflows_path, config, FIRST_SIGHT) == 0
    assert _ticks_run(wf, "noop") == []
    assert wf.store.workflow_rows()["noop"].name == "noop"
    # cron's next starts, just after each minute boundary
    for minute in (1, 2, 3):
        when = datetime(2026, 6, 1, 12, minute, 0, 400_000)
        assert _once_at(monkeypatch, wf, testworkflows_path, config, when) == 0
    assert _ticks_run(wf, "noop") == ["12:01", "12:02", "12:03"]
    # cron did not run for two minutes: catchup "latest" runs the newest missed tick once
    assert _once_at(monkeypatch, wf, testworkflows_path, config,
                    datetime(2026, 6, 1, 12, 6, 0, 300_000)) == 0
    assert _ticks_run(wf, "noop") == ["12:01", "12:02", "12:03", "12:06"]
    # started twice within the same minute: the tick runs once
    assert _once_at(monkeypatch, wf, testworkflows_path, config,
                    datetime(2026, 6, 1, 12, 6, 40)) == 0
    assert _ticks_run(wf, "noop") == ["12:01", "12:02", "12:03", "12:06"]


def test_a_changed_schedule_counts_from_the_first_start_that_sees_it(
        wf: Wfsched, monkeypatch: pytest.MonkeyPatch, testworkflows_path: Path) -> None:
    hourly = '[workflows.noop]\nschedule = "0 * * * *"\n'
    assert _once_at(monkeypatch, wf, testworkflows_path, hourly, FIRST_SIGHT) == 0
    # changed to every five minutes at 12:20: its ticks count from 12:20, not from 12:00:30
    every_five = '[workflows.noop]\nschedule = "*/5 * * * *"\n'
    assert _once_at(monkeypatch, wf, testworkflows_path, every_five,
                    datetime(2026, 6, 1, 12, 20, 10)) == 0
    assert _ticks_run(wf, "noop") == []
    assert _once_at(monkeypatch, wf, testworkflows_path, every_five,
                    datetime(2026, 6, 1, 12, 25, 1)) == 0
    assert _ticks_run(wf, "noop") == ["12:25"]
