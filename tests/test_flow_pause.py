"""``wfsched pause`` / ``resume`` (issue 17, item 3), typed as a person types them, with
schedulers that run real workers. Time-driven parts move an injected clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from helpers import Wfsched, database_at_revision
from inprocess import FakeClock, make_scheduler, stop, tick_until

START = datetime(2026, 6, 1, 12, 0, 30)


def _status(wf: Wfsched, execution_id: int) -> str:
    return wf.execution(execution_id).status.value


def _scheduled(wf: Wfsched, workflow: str) -> list:
    return [e for e in wf.store.list_executions(workflow=workflow, limit=1000)
            if e.scheduled_for is not None]


def _loop(scheduler, iterations: int = 5) -> None:
    """Run a few loop iterations: each one claims what it may (a claim is synchronous)."""
    for _ in range(iterations):
        scheduler._tick()


def test_pause_during_a_run_lets_it_finish_holds_the_rest_and_the_schedule(
        wf: Wfsched, work_dir: Path, monkeypatch: pytest.MonkeyPatch,
        testworkflows_path: Path) -> None:
    clock = FakeClock(START)
    config = '[workflows.mark]\nschedule = "* * * * *"\nconcurrency = 1\ncatchup = "all"\n'
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                               config, clock=clock)
    gate = work_dir / "gate"
    try:
        ids = wf.trigger("mark", count=3, dir=work_dir, gate=gate)
        first = tick_until(scheduler, lambda: next(
            (i for i in ids if _status(wf, i) == "running"), None), 30, "one running")
        waiting = [i for i in ids if i != first]

        result = wf.run("pause", "mark", "--reason", "database maintenance")
        assert result.stdout.strip() == "paused mark"

        (entry,) = [e for e in wf.json("workflows", "list") if e["name"] == "mark"]
        pause = entry["paused"]
        assert pause["reason"] == "database maintenance"
        assert pause["paused_by"].count("@") == 1 and pause["paused_at"].endswith("Z")
        listed = wf.run("workflows", "list").stdout
        assert "PAUSED: database maintenance" in listed
        assert f"paused: mark by {pause['paused_by']} since {pause['paused_at']}: " \
               "database maintenance" in listed

        # the schedule queues nothing for 3 ticks; the running one finishes
        for minute in range(3):
            clock.advance(minutes=1)
            _loop(scheduler)
            assert _scheduled(wf, "mark") == [], f"a tick queued at minute {minute + 1}"
        gate.write_text("")
        tick_until(scheduler, lambda: _status(wf, first) == "completed", 30,
                   "the run under way to finish while paused")
        _loop(scheduler, 10)  # a free slot, two pending: a claim would take one now
        for execution_id in waiting:
            execution = wf.execution(execution_id)
            assert execution.status.value == "pending" and execution.claimed_by is None
            assert execution.wait_reason.startswith("paused: database maintenance (by ")
        notes = wf.run("executions", "list", "--status", "pending").stdout
        assert notes.count("waiting: paused: database maintenance") == 2

        assert wf.run("resume", "mark").stdout.strip() == "resumed mark"
        tick_until(scheduler, lambda: all(_status(wf, i) == "completed" for i in waiting),
                   60, "the held executions to run after resume")
        assert wf.execution(waiting[0]).wait_reason is None
        # the schedule goes on from the next tick; the paused ticks are not caught up
        clock.advance(minutes=1)
        tick_until(scheduler, lambda: _scheduled(wf, "mark"), 30, "the next tick")
        (tick,) = _scheduled(wf, "mark")
        assert tick.scheduled_for == datetime(2026, 6, 1, 12, 4)
        assert wf.run("resume", "mark").stdout.strip() == "mark is not paused"
    finally:
        gate.write_text("")
        stop(scheduler)


@pytest.mark.parametrize("db_kind", ["postgresql", "mariadb"])
def test_a_pause_holds_on_every_scheduler_and_across_a_restart(
        db_kind: str, wf: Wfsched, work_dir: Path, monkeypatch: pytest.MonkeyPatch,
        testworkflows_path: Path) -> None:
    first = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path)
    wf.run("pause", "mark", "--reason", "upstream outage")
    ids = wf.trigger("mark", count=4, dir=work_dir)
    _loop(first)
    stop(first)  # the scheduler restarts: the pause is in the database, not in it
    schedulers = [make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path)
                  for _ in range(2)]
    try:
        for scheduler in schedulers:
            _loop(scheduler, 10)
        assert [_status(wf, i) for i in ids] == ["pending"] * 4
        assert all(wf.execution(i).claimed_by is None for i in ids)
        assert wf.records(work_dir, "ran") == []

        wf.run("resume", "mark")

        def all_done() -> bool:
            for scheduler in schedulers:
                _loop(scheduler, 1)
            return all(_status(wf, i) == "completed" for i in ids)

        tick_until(schedulers[0], all_done, 60, "every held execution to run once")
        assert sorted(r["execution_id"] for r in wf.records(work_dir, "ran")) == sorted(ids)
    finally:
        for scheduler in schedulers:
            stop(scheduler)


def test_once_lists_paused_work_as_held_and_pause_all_resume_all(
        wf: Wfsched, work_dir: Path) -> None:
    (held_id,) = wf.trigger("mark", dir=work_dir)
    (other_id,) = wf.trigger("noop")
    wf.run("pause", "mark", "--reason", "quarter close")
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 3, result.stderr
    assert f"held: mark #{held_id}: paused: quarter close (by " in result.stdout + result.stderr
    assert _status(wf, other_id) == "completed"
    # a second pause keeps the first one's reason and time
    again = wf.run("pause", "mark", "--reason", "other").stdout
    assert again.startswith("mark was already paused: quarter close (by ")

    paused = wf.run("pause", "--all", "--reason", "maintenance window").stdout.splitlines()
    assert "paused noop" in paused and "paused mark" not in paused
    entries = {e["name"]: e["paused"] for e in wf.json("workflows", "list")}
    assert all(entries.values())
    assert entries["noop"]["reason"] == "maintenance window"
    resumed = wf.run("resume", "--all").stdout.splitlines()
    assert "resumed mark" in resumed and "resumed noop" in resumed
    assert not any(e["paused"] for e in wf.json("workflows", "list"))
    assert wf.run("scheduler", "--once").returncode == 0
    assert _status(wf, held_id) == "completed"


@pytest.mark.parametrize(("args", "message"), [
    (("pause", "no_such_flow"), "unknown workflow 'no_such_flow'"),
    (("resume", "no_such_flow"), "unknown workflow 'no_such_flow'"),
    (("pause",), "give a workflow name or --all"),
    (("pause", "noop", "--all"), "give a workflow name or --all"),
    (("pause", "noop", "--reason", "x" * 501), "--reason is longer than 500 characters"),
])
def test_bad_pause_input_is_one_line_and_exit_2(wf: Wfsched, args: tuple[str, ...],
                                                message: str) -> None:
    wf.trigger("noop")  # a database to pause in
    result = wf.run(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert wf.store.paused_workflows() == {}


def test_db_upgrade_from_0003_keeps_executions_and_can_pause(
        home: Path, testworkflows_path: Path) -> None:
    url = database_at_revision(home, "0003", status="pending")
    wf = Wfsched(home, url, [testworkflows_path])
    try:
        wf.run("db", "upgrade")
        (row,) = wf.json("executions", "list")
        wf.run("pause", "noop")
        assert wf.json("executions", "show", str(row["id"]))["wait_reason"].startswith(
            "paused (by ")
        wf.run("resume", "noop")
        wf.run("scheduler", "--once")
        assert _status(wf, row["id"]) == "completed"
    finally:
        wf.close()
