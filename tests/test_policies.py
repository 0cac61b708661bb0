"""Execution policies with real workers: schedules, overlap, retries, timeouts,
dependencies, admission, cancel. Time-driven ones move an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until
from inprocess import FakeClock, make_scheduler, stop, tick_until

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.ops.resource_admission import ResourceAdmission

START = datetime(2026, 6, 1, 12, 0, 30)


def _rows(wf: Wfsched, workflow: str) -> list:
    return list(reversed(wf.store.list_executions(workflow=workflow, limit=1000)))


def test_scheduled_ticks_become_executions_and_catch_up_after_downtime(
        wf: Wfsched, monkeypatch, testworkflows_path: Path) -> None:
    clock = FakeClock(START)
    config = '[workflows.noop]\nschedule = "*/10 * * * *"\ncatchup = "all"\nstart_deadline = 1500\n'
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                               config, clock=clock)
    try:
        assert scheduler.ticks.next_due() == datetime(2026, 6, 1, 12, 10)
        clock.advance(minutes=10)  # 12:10:30: one tick due
        tick_until(scheduler, lambda: len(_rows(wf, "noop")) == 1, 30, "the 12:10 tick")
        first = _rows(wf, "noop")[0]
        assert first.trigger.value == "schedule"
        assert first.scheduled_for == datetime(2026, 6, 1, 12, 10)
        tick_until(scheduler, lambda: wf.execution(first.id).status.value == "completed",
                   30, "the tick's run to complete")
        # "downtime": an hour passes unseen -> every missed tick runs, late ones are skipped
        clock.advance(hours=1)  # 13:10:30
        tick_until(scheduler, lambda: len(_rows(wf, "noop")) == 7, 30, "the caught-up ticks")
        rows = _rows(wf, "noop")[1:]
        assert [r.scheduled_for.strftime("%H:%M") for r in rows] == [
            "12:20", "12:30", "12:40", "12:50", "13:00", "13:10"]
        skipped = [r for r in rows if r.status.value == "cancelled"]
        # 25 minutes of start deadline: 12:20, 12:30 and 12:40 are too late at 13:10:30
        assert [r.scheduled_for.strftime("%H:%M") for r in skipped] == ["12:20", "12:30", "12:40"]
        assert all(r.error.startswith("skipped: missed its start deadline") for r in skipped)
        listed = wf.run("executions", "list", "--workflow", "noop").stdout
        assert "schedule" in listed and "skipped: missed its start deadline" in listed
    finally:
        stop(scheduler)


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_two_schedulers_create_each_scheduled_run_once(
        wf: Wfsched, monkeypatch, testworkflows_path: Path, db_kind: str) -> None:
    clock = FakeClock(START)
    config = '[workflows.noop]\nschedule = "* * * * *"\ncatchup = "all"\n'
    first = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path, config,
                           clock=clock)
    second = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path, config,
                            clock=clock)
    try:
        for _ in range(5):
            clock.advance(minutes=1)
            first.ticks.queue_due()
            second.ticks.queue_due()
        rows = _rows(wf, "noop")
        assert len(rows) == 5
        assert len({r.scheduled_for for r in rows}) == 5
    finally:
        stop(first)
        stop(second)


@pytest.mark.parametrize(("overlap", "expected"), [("skip", "skipped"), ("replace", "replaced")])
def test_overlap_when_the_next_tick_comes_while_one_runs(
        wf: Wfsched, work_dir: Path, monkeypatch, testworkflows_path: Path, overlap: str,
        expected: str) -> None:
    clock = FakeClock(START)
    config = f'[workflows.hang]\nschedule = "* * * * *"\noverlap = "{overlap}"\n'
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                               config, clock=clock)
    try:
        clock.advance(minutes=1)
        tick_until(scheduler, lambda: _rows(wf, "hang") and
                   _rows(wf, "hang")[0].status.value == "running", 30, "first tick running")
        first = _rows(wf, "hang")[0]
        clock.advance(minutes=1)
        if expected == "skipped":
            tick_until(scheduler, lambda: len(_rows(wf, "hang")) == 2, 30, "the second tick")
            second = _rows(wf, "hang")[1]
            assert second.status.value == "cancelled"
            assert second.error == "skipped: the previous run is still active (overlap = skip)"
            assert wf.execution(first.id).status.value == "running"
        else:
            tick_until(scheduler, lambda: len(_rows(wf, "hang")) == 2 and
                       wf.execution(first.id).status.value == "cancelled" and
                       _rows(wf, "hang")[1].status.value == "running", 30,
                       "the old run cancelled and the new one running")
            assert not psutil.pid_exists(first.pid) or \
                psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE
    finally:
        stop(scheduler)


def test_concurrency_limit_holds_and_says_why(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.interval]\nconcurrency = 2\n")
    ids = wf.trigger("interval", count=6, seconds=2, dir=work_dir)
    process = wf.popen("scheduler", "--max-concurrent", "5")
    try:
        waiting = wait_until(lambda: [e for e in wf.json("executions", "list")
                                      if e["status"] == "pending"] and
                             wf.execution(ids[-1]).wait_reason, 30, "a held execution")
        assert "concurrency limit: 2 of interval already running" in waiting
        shown = wf.run("executions", "show", str(ids[-1])).stdout
        assert "concurrency limit" in shown
        for execution_id in ids:
            wf.wait_for_status(execution_id, "completed", timeout=60)
    finally:
        process.terminate()
        process.wait(30)
    from test_scheduler_once import max_overlap

    records = wf.records(work_dir, "interval")
    assert max_overlap([(r["start"], r["end"]) for r in records]) == 2


def test_retries_with_backoff_until_success(wf: Wfsched, work_dir: Path) -> None:
    (first,) = wf.trigger("fail_then_pass", succeed_on=3, dir=work_dir)
    assert wf.run("scheduler", "--once").returncode == 0
    rows = _rows(wf, "fail_then_pass")
    assert [(r.attempt, r.status.value, r.trigger.value) for r in rows] == [
        (1, "failed", "manual"), (2, "failed", "retry"), (3, "completed", "retry")]
    assert rows[1].retry_of == first and rows[2].retry_of == rows[1].id
    # backoff: 0.2 s, then 0.4 s (plus jitter), measured from the failure to the next start
    gaps = [(rows[i + 1].started_at - rows[i].finished_at).total_seconds() for i in (0, 1)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps
    listed = wf.run("executions", "list").stdout.splitlines()
    assert any(" retry " in line and " 3 " in line for line in listed)


def test_retries_until_exhaustion(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.fail_then_pass]\nretries = 2\nretry_delay = 0\n")
    wf.trigger("fail_then_pass", succeed_on=99, dir=work_dir)
    assert wf.run("scheduler", "--once", check=False).returncode == 1
    rows = _rows(wf, "fail_then_pass")
    assert [(r.attempt, r.status.value) for r in rows] == [(1, "failed"), (2, "failed"),
                                                           (3, "failed")]


def test_a_crash_looping_workflow_stops_after_its_retries(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.crash]\nretries = 2\n")
    wf.trigger("crash", dir=work_dir)
    assert wf.run("scheduler", "--once", check=False).returncode == 1
    rows = _rows(wf, "crash")
    assert [r.attempt for r in rows] == [1, 2, 3]
    assert all("killed by signal SIGKILL" in r.error for r in rows)
    assert len(wf.records(work_dir, "ran")) == 3


def test_timeout_stops_the_worker_and_its_child(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.with_child]\ntimeout = 1.5\nretries = 1\nretry_delay = 0\n")
    (execution_id,) = wf.trigger("with_child", dir=work_dir)
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 1
    rows = _rows(wf, "with_child")
    assert [(r.attempt, r.status.value) for r in rows] == [(1, "failed"), (2, "failed")]
    assert rows[0].error == "timeout: still running after 1.5s"
    for record in wf.records(work_dir, "child"):
        for pid in (record["pid"], record["child_pid"]):
            wait_until(lambda p=pid: not _alive(p), 15, f"pid {pid} gone after the timeout")


def test_a_timeout_follows_the_schedulers_clock(wf: Wfsched, work_dir: Path, monkeypatch,
                                                testworkflows_path: Path) -> None:
    """One clock through the scheduler: an hour-long timeout ends the run when the injected
    clock passes it, not when the wall clock does."""
    from wfsched_core.base.records import utcnow

    clock = FakeClock(utcnow())
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                               "[workflows.hang]\ntimeout = 3600\n", clock=clock)
    try:
        (execution_id,) = wf.trigger("hang", dir=work_dir)
        tick_until(scheduler, lambda: wf.execution(execution_id).status.value == "running",
                   30, "the hang running")
        started = wf.execution(execution_id).started_at
        clock.current = started + timedelta(seconds=3599)
        scheduler._owned_check_at = 0.0
        scheduler._tick()
        assert wf.execution(execution_id).status.value == "running"  # 3600 s not yet
        clock.current = started + timedelta(seconds=3601)
        scheduler._owned_check_at = 0.0  # the next look at the owned rows is now
        tick_until(scheduler, lambda: wf.execution(execution_id).status.value == "failed",
                   30, "the timeout on the injected clock")
        assert wf.execution(execution_id).error == "timeout: still running after 3600s"
    finally:
        stop(scheduler)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_dependency_chain_runs_in_order_and_passes_parameters(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('[workflows.mark]\ndepends_on = ["noop"]\n'
                    '[workflows.interval]\ndepends_on = ["mark"]\n')
    wf.trigger("noop", dir=work_dir, seconds=0.1)
    assert wf.run("scheduler", "--once").returncode == 0
    mark, interval = _rows(wf, "mark"), _rows(wf, "interval")
    assert len(mark) == 1 and len(interval) == 1
    assert mark[0].trigger.value == "dependency" and interval[0].trigger.value == "dependency"
    assert mark[0].params["dir"] == str(work_dir)  # parameters passed along
    noop = _rows(wf, "noop")[0]
    assert noop.finished_at <= mark[0].started_at and mark[0].finished_at <= interval[0].started_at
    assert len(wf.records(work_dir, "ran")) == 1 and len(wf.records(work_dir, "interval")) == 1


def test_a_dependency_cycle_is_rejected_at_discovery(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\ndepends_on = ["interval"]\n'
                    '[workflows.mark]\ndepends_on = ["noop"]\n'
                    '[workflows.interval]\ndepends_on = ["mark"]\n')
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    for name in ("noop", "mark", "interval"):
        assert "dependency cycle" in flows[name]["broken"]
    assert flows["hang"]["broken"] is None
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2 and "dependency cycle" in result.stderr


def test_an_invalid_schedule_is_rejected_at_discovery_with_its_name(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\nschedule = "99 * * * *"\n')
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert flows["noop"]["broken"].startswith(
        f"ValueError: invalid cron expression '99 * * * *' at [workflows.noop] in "
        f"{wf.config_path}; announced by wfsched-testworkflows ")
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2 and "workflow 'noop' is broken" in result.stderr


def test_admission_holds_back_under_low_memory_and_releases_when_it_recovers(
        wf: Wfsched, monkeypatch, testworkflows_path: Path) -> None:
    reading = {"available_mb": 100.0, "load": 0.1}
    admission = ResourceAdmission(reader=lambda: dict(reading))
    scheduler = make_scheduler(
        monkeypatch, wf.home, wf.database_url, testworkflows_path,
        "[admission]\nmin_available_memory_mb = 512\n",
        extra_plugins=(("test-admission", admission),), disable="core.admission")
    try:
        (execution_id,) = wf.trigger("noop")
        scheduler._tick()
        held = wf.execution(execution_id)
        assert held.status.value == "pending" and held.claimed_by is None
        assert held.wait_reason == "waiting for memory: 100 MB available < 512 MB"
        assert "waiting: waiting for memory" in wf.run("executions", "list").stdout
        reading["available_mb"] = 4096.0
        tick_until(scheduler, lambda: wf.execution(execution_id).status.value == "completed",
                   30, "the execution to run once memory recovered")
        assert wf.execution(execution_id).wait_reason is None
    finally:
        stop(scheduler)


def test_a_cancelled_execution_is_never_retried(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.hang]\nretries = 3\n")
    process = wf.popen("scheduler")
    try:
        (execution_id,) = wf.trigger("hang", dir=work_dir)
        wait_until(lambda: wf.records(work_dir, "started"), 30, "hang to start")
        assert "is cancelled" in wf.run("cancel", str(execution_id)).stdout
        wait_until(lambda: not wf.store.running_executions(), 15, "nothing running")
    finally:
        process.terminate()
        process.wait(30)
    assert [r.status.value for r in _rows(wf, "hang")] == ["cancelled"]


def test_workflows_list_shows_schedule_and_next_run(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\nschedule = "0 3 * * *"\ntimezone = "Europe/Berlin"\n')
    noop = {w["name"]: w for w in wf.json("workflows", "list")}["noop"]
    assert noop["schedule_text"] == "every day at 03:00"
    next_run = datetime.fromisoformat(noop["next_run"].rstrip("Z"))
    assert next_run - datetime.utcnow() < timedelta(days=1, hours=1)
    assert next_run.hour in (1, 2)  # 03:00 Berlin is 01:00 or 02:00 UTC
    assert "every day at 03:00" in wf.run("workflows", "list").stdout


def test_the_claim_asks_admission_only_when_something_could_hold(
        wf: Wfsched, monkeypatch, testworkflows_path: Path) -> None:
    """Without admission limits, a workflow's `memory` or an admission plugin, nothing
    could be held: the scheduler skips the admission read of every tick."""

    class HoldNothing:
        @hookimpl
        def wfsched_admit(self, execution, spec):  # noqa: ANN001, ANN201
            return None

    cases = [("", (), False), ("[admission]\nmax_load_average = 100\n", (), True),
             ("[workflows.noop]\nmemory = 64\n", (), True),
             ("", (("third-party-admission", HoldNothing()),), True)]
    for config, plugins, asks in cases:
        scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url,
                                   testworkflows_path, config, extra_plugins=plugins)
        try:
            assert (scheduler._admit is not None) is asks, (config, plugins)
            (execution_id,) = wf.trigger("noop")
            tick_until(scheduler,
                       lambda i=execution_id: wf.execution(i).status.value == "completed",
                       30, "the execution to run")
        finally:
            stop(scheduler)
