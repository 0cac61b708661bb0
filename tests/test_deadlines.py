"""Deadlines (issue 20): a run not finished ``deadline`` after it was queued fires
``wfsched_execution_overdue`` once — with two schedulers on one server database, and
from a scheduler that was down when the deadline passed — and ``executions list`` marks it.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import Wfsched, wait_until
from inprocess import FakeClock, make_scheduler, stop
from test_notify_webhook import HookServer, hook_server  # noqa: F401 - the fixture

from wfsched_core.base.records import utcnow
from wfsched_core.framework.hookspecs import hookimpl

# runs of the test workflows are queued on a queue no scheduler here serves: they stay
# pending, unfinished, for as long as the test moves the clock
NOT_SERVED = ["not-served-here"]


class _Overdue:
    """Records ``wfsched_execution_overdue`` as one scheduler fires it."""

    def __init__(self) -> None:
        self.fired: list[tuple[int, float]] = []

    @hookimpl
    def wfsched_execution_overdue(self, execution: Any, deadline: float) -> None:
        self.fired.append((execution.id, deadline))


def _scheduler(monkeypatch: pytest.MonkeyPatch, home: Path, url: str, path: Path,
               clock: FakeClock, events: _Overdue) -> Any:
    return make_scheduler(monkeypatch, home, url, path, '[workflows.mark]\ndeadline = "30m"\n',
                          clock=clock, extra_plugins=(("test-overdue", events),),
                          queues=NOT_SERVED)


def _check(scheduler: Any) -> None:
    """One pass of the loop with its deadline check due."""
    scheduler._next_recovery = 0.0
    scheduler._tick()


@pytest.mark.parametrize("db_kind", ["postgresql", "mariadb"])
def test_overdue_fires_once_across_two_schedulers(
        db_kind: str, monkeypatch: pytest.MonkeyPatch, wf: Wfsched,
        testworkflows_path: Path) -> None:
    (execution_id,) = wf.trigger("mark")
    queued = wf.execution(execution_id).created_at
    clock = FakeClock(queued + timedelta(minutes=29))
    events = [_Overdue(), _Overdue()]
    schedulers = [_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path,
                             clock, e) for e in events]
    try:
        for scheduler in schedulers:
            _check(scheduler)
        assert wf.execution(execution_id).overdue_at is None  # 29 minutes: not yet
        clock.advance(minutes=2)
        for _ in range(3):
            for scheduler in schedulers:
                _check(scheduler)
        fired = wait_until(lambda: [f for e in events for f in e.fired], 10, "the event")
        assert fired == [(execution_id, 1800.0)]
        assert wf.execution(execution_id).overdue_at == clock.now()
    finally:
        for scheduler in schedulers:
            stop(scheduler)
    (other_id,) = wf.trigger("noop")  # no deadline: never overdue
    assert [r["id"] for r in wf.json("executions", "list", "--overdue")] == [execution_id]
    assert {r["id"] for r in wf.json("executions", "list")} == {execution_id, other_id}
    lines = wf.run("executions", "list").stdout.splitlines()
    (marked,) = [line for line in lines if "OVERDUE" in line]
    assert marked.split()[:3] == [str(execution_id), "mark", "pending"]
    assert "overdue_at:" in wf.run("executions", "show", str(execution_id)).stdout


def test_overdue_fires_after_a_restart_that_came_late(
        monkeypatch: pytest.MonkeyPatch, wf: Wfsched, testworkflows_path: Path) -> None:
    (execution_id,) = wf.trigger("mark")
    queued = wf.execution(execution_id).created_at
    clock = FakeClock(queued + timedelta(minutes=10))
    before = _Overdue()
    first = _scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path, clock,
                       before)
    try:
        _check(first)
    finally:
        stop(first)  # down while the deadline passes
    clock.advance(hours=5)
    after = _Overdue()
    second = _scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path, clock,
                        after)
    try:
        for _ in range(3):
            _check(second)
        wait_until(lambda: after.fired, 10, "the overdue event after the restart")
    finally:
        stop(second)
    assert before.fired == [] and after.fired == [(execution_id, 1800.0)]
    again = _Overdue()  # a third start: the run is marked, nothing fires again
    third = _scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path, clock,
                       again)
    try:
        _check(third)
    finally:
        stop(third)
    assert again.fired == []


def test_the_overdue_webhook_with_the_real_scheduler(
        wf: Wfsched, work_dir: Path, hook_server: HookServer) -> None:  # noqa: F811
    wf.write_config(f'[workflows.hang]\ndeadline = "1s"\n[notify.webhook]\n'
                    f'url = "{hook_server.url("/hook")}"\nevents = ["overdue"]\n')
    (execution_id,) = wf.trigger("hang", dir=work_dir, seconds=120)
    scheduler = wf.popen("scheduler")
    try:
        (post,) = wait_until(lambda: hook_server.posts("/hook"), 60, "the overdue webhook")
        body = post.json
        assert body["event"] == "overdue" and body["deadline_seconds"] == 1.0
        assert body["execution"]["id"] == execution_id
        assert f"hang #{execution_id} overdue: not finished 1s after it was due" \
            in body["summary"]
        assert wf.execution(execution_id).overdue_at is not None
        # later passes of the loop (its heartbeat shows them) send nothing more
        sent = utcnow()
        wait_until(lambda: all(s.heartbeat_at > sent + timedelta(seconds=2)
                               for s in wf.store.list_schedulers(active_only=True)),
                   30, "two more passes of the scheduler's loop")
        assert len(hook_server.posts("/hook")) == 1
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.send_signal(signal.SIGTERM)  # the second stops the hanging worker
        scheduler.wait(60)
