"""Approval steps (issue 20), through the real command: a run waits before a step marked
``@step(approval=...)`` without a slot or a process; ``wfsched approve`` continues it from
that step (once, whoever else approves at the same moment), ``wfsched reject`` ends it;
an ``approval_timeout`` ends it failed (the scheduler's injected clock)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import Wfsched, wait_until
from inprocess import FakeClock, make_scheduler, stop, tick_until
from test_notify_events import _events, events_dir, testnotifiers_path  # noqa: F401
from test_notify_webhook import HookServer, hook_server  # noqa: F401 - the fixture

from wfsched_core.base.approvers import current_user
from wfsched_core.framework.hookspecs import hookimpl

EXIT_HELD = 3  # scheduler --once: only held (here: waiting) work is left


def _wait_for_approval(wf: Wfsched, work_dir: Path, **params: Any) -> int:
    (execution_id,) = wf.trigger("approve_deploy", dir=work_dir, **params)
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == EXIT_HELD, result.stdout + result.stderr
    assert f"held: approve_deploy #{execution_id}: waiting for approval of step deploy" \
        in result.stdout
    return execution_id


def test_approve_continues_from_the_step_with_the_earlier_results(
        wf: Wfsched, work_dir: Path) -> None:
    execution_id = _wait_for_approval(wf, work_dir, version="2.5")
    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "waiting" and shown["pid"] is None
    assert shown["claimed_by"] is None and shown["resume_from"] == 2
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [("prepare", "completed")]
    listed = wf.run("executions", "list").stdout
    assert "waiting for approval of step deploy" in listed

    approved = wf.run("approve", str(execution_id), "--comment", "change 42 reviewed")
    assert f"approved by {current_user()}" in approved.stdout
    wf.run("scheduler", "--once")

    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "completed"
    assert (shown["approval"], shown["approval_by"], shown["approval_comment"],
            shown["approval_step"]) == ("approved", current_user(), "change 42 reviewed", 2)
    assert shown["approval_at"] is not None
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [
        ("prepare", "completed"), ("deploy", "completed")]
    assert shown["steps"][1]["result"] == {"deployed": "2.5"}
    assert len(wf.records(work_dir, "prepare")) == 1  # not run again
    (deploy,) = wf.records(work_dir, "deploy")
    assert deploy["results"] == {"prepare": {"version": "2.5"}}
    text = wf.run("executions", "show", str(execution_id)).stdout
    assert f"approval:    approved by {current_user()} at" in text


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mariadb"])
def test_two_approvers_at_once_one_continuation(db_kind: str, wf: Wfsched,
                                                work_dir: Path) -> None:
    execution_id = _wait_for_approval(wf, work_dir)
    approvers = [subprocess.Popen(wf.argv("approve", str(execution_id)), env=wf.env,
                                  cwd=wf.home, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(2)]
    outcomes = sorted((p.wait(60), *p.communicate()) for p in approvers)
    assert [code for code, _, _ in outcomes] == [0, 1], outcomes
    loser_error = outcomes[1][2]
    assert f"execution {execution_id} is pending, not waiting for an approval (approved " \
           f"by {current_user()}" in loser_error and "Traceback" not in loser_error
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).status.value == "completed"
    assert len(wf.records(work_dir, "deploy")) == 1


def test_reject_ends_it_cancelled_with_who_and_why(wf: Wfsched, work_dir: Path) -> None:
    execution_id = _wait_for_approval(wf, work_dir)
    missing = wf.run("reject", str(execution_id), check=False)
    assert missing.returncode == 2 and "--reason" in missing.stderr
    wf.run("reject", str(execution_id), "--reason", "freeze week")
    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "cancelled"
    assert shown["error"] == f"rejected by {current_user()}: freeze week"
    assert (shown["approval"], shown["approval_comment"]) == ("rejected", "freeze week")
    late = wf.run("approve", str(execution_id), check=False)
    assert late.returncode == 1
    assert late.stderr.strip() == (
        f"wfsched: error: execution {execution_id} is cancelled, not waiting for an "
        f"approval (rejected by {current_user()} at {shown['approval_at']})")
    wf.run("scheduler", "--once")
    assert wf.records(work_dir, "deploy") == []


def test_only_the_named_approvers_may_decide_and_cancel_ends_a_wait(
        wf: Wfsched, work_dir: Path) -> None:
    (execution_id,) = wf.trigger("approve_by_group", dir=work_dir)
    assert wf.run("scheduler", "--once", check=False).returncode == EXIT_HELD
    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "waiting" and shown["steps"] == []  # waits before step 1
    assert shown["approvers"] == "wfsched-test-nobody"
    refused = wf.run("approve", str(execution_id), check=False)
    assert refused.returncode == 1
    assert f"{current_user()} may not approve execution {execution_id}" in refused.stderr
    assert wf.execution(execution_id).status.value == "waiting"
    assert "is cancelled" in wf.run("cancel", str(execution_id)).stdout
    assert wf.execution(execution_id).error == "cancelled while waiting for an approval"


def test_a_waiting_run_holds_no_slot(wf: Wfsched, work_dir: Path) -> None:
    scheduler = wf.popen("scheduler", "--max-concurrent", "1")
    try:
        (waiting_id,) = wf.trigger("approve_deploy", dir=work_dir)
        wf.wait_for_status(waiting_id, "waiting")
        (other_id,) = wf.trigger("mark", dir=work_dir)
        wf.wait_for_status(other_id, "completed")  # the one slot was free meanwhile
        assert wf.execution(waiting_id).status.value == "waiting"
        wf.run("approve", str(waiting_id))
        wf.wait_for_status(waiting_id, "completed")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(60)
    assert len(wf.records(work_dir, "prepare")) == 1
    assert len(wf.records(work_dir, "deploy")) == 1


def test_the_waiting_event_carries_the_approve_command(
        wf: Wfsched, work_dir: Path, hook_server: HookServer) -> None:  # noqa: F811
    wf.write_config(f'[notify.webhook]\nurl = "{hook_server.url("/hook")}"\n'
                    'events = ["waiting"]\n')
    execution_id = _wait_for_approval(wf, work_dir)
    (post,) = wait_until(lambda: hook_server.posts("/hook"), 30, "the waiting webhook")
    body = post.json
    assert body["event"] == "waiting"
    assert body["commands"]["approve"] == f"wfsched approve {execution_id}"
    assert f"approve with: wfsched approve {execution_id}" in body["summary"]


def test_wfsched_execution_waiting_fires_once_per_wait(
        wf: Wfsched, work_dir: Path, events_dir: Path) -> None:  # noqa: F811
    execution_id = _wait_for_approval(wf, work_dir)
    wf.run("approve", str(execution_id))
    wf.run("scheduler", "--once")
    events = [(e["event"], e.get("status")) for e in _events(events_dir)
              if e.get("execution_id") == execution_id and e["event"] != "step_finished"]
    assert sorted(events) == sorted([
        ("queued", "pending"), ("started", "running"), ("waiting", "waiting"),
        ("started", "running"), ("completed", "completed")])
    (waiting,) = [e for e in _events(events_dir) if e["event"] == "waiting"]
    assert waiting["wait_reason"] == "waiting for approval of step deploy"


class _Events:
    """Records the failures an in-process scheduler announces (the waiting event fires
    in the worker's process here: see the webhook test for it)."""

    def __init__(self) -> None:
        self.failed: list[tuple[int, str | None]] = []

    @hookimpl
    def wfsched_execution_failed(self, execution: Any, will_retry: bool) -> None:
        self.failed.append((execution.id, execution.error))


def test_approval_timeout_ends_it_failed_by_the_schedulers_clock(
        monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str,
        testworkflows_path: Path, work_dir: Path) -> None:
    from datetime import datetime

    clock = FakeClock(datetime(2026, 3, 1, 12, 0))
    events = _Events()
    scheduler = make_scheduler(monkeypatch, home, database_url, testworkflows_path,
                               clock=clock, extra_plugins=(("test-events", events),))
    try:
        store = scheduler.store
        (execution,) = store.enqueue("approve_deploy", params={"dir": str(work_dir)})
        # waiting, and its worker gone: no process is kept for it
        tick_until(scheduler, lambda: store.get_execution(execution.id).status.value
                   == "waiting" and not scheduler.tracked, 60,
                   "the run to wait for its approval, its worker gone")
        # the wait began at the real time; 23 hours on the scheduler's clock is not enough
        since = store.get_execution(execution.id).waiting_since
        clock.current = since.replace(microsecond=0)
        clock.advance(hours=23)
        scheduler._next_recovery = 0.0
        scheduler._tick()
        assert store.get_execution(execution.id).status.value == "waiting"
        clock.advance(hours=1, seconds=1)
        tick_until(scheduler, lambda: store.get_execution(execution.id).status.value
                   == "failed", 30, "the approval timeout")
        ended = store.get_execution(execution.id)
        assert ended.error == ("approval timeout: no decision within 24h (waiting for "
                               "approval of step deploy)")
        wait_until(lambda: events.failed == [(execution.id, ended.error)], 10,
                   "one failed event")
    finally:
        stop(scheduler)
    assert wf_records(work_dir, "deploy") == []


def wf_records(directory: Path, kind: str) -> list[Path]:
    return sorted(directory.glob(f"{kind}-*.json"))
