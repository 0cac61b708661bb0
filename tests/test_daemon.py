"""The scheduler as a daemon: a worker killed under it, cancel, graceful stop by signal."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until


@pytest.fixture
def daemon(wf: Wfsched):
    process = wf.popen("scheduler", "--max-concurrent", "3")
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _started(wf: Wfsched, work_dir: Path, kind: str, count: int = 1) -> list[dict]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 30, f"{count} {kind} record(s)")


def test_worker_killed_while_scheduler_runs_is_failed_at_once(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    record = _started(wf, work_dir, "started")[0]
    os.kill(record["pid"], signal.SIGKILL)
    execution = wf.wait_for_status(execution_id, "failed", timeout=10)
    assert "killed by signal SIGKILL" in execution.error
    assert daemon.poll() is None  # the scheduler itself carries on


def test_cancel_pending_and_running(wf: Wfsched, work_dir: Path, daemon) -> None:
    (running_id,) = wf.trigger("with_child", dir=work_dir)
    record = _started(wf, work_dir, "child")[0]
    result = wf.run("cancel", str(running_id))
    assert f"execution {running_id} is cancelled" in result.stdout
    assert wf.execution(running_id).status.value == "cancelled"
    wait_until(lambda: not psutil.pid_exists(record["pid"]), 15, "worker gone")
    wait_until(lambda: not _alive(record["child_pid"]), 15, "the worker's child gone")
    # a pending one: stop the scheduler from claiming by filling its slots first
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait(10)
    (pending_id,) = wf.trigger("noop")
    assert "is cancelled" in wf.run("cancel", str(pending_id)).stdout
    assert wf.execution(pending_id).status.value == "cancelled"
    again = wf.run("cancel", str(pending_id), check=False)
    assert again.returncode == 1 and "already cancelled" in again.stderr


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_sigterm_waits_for_running_workers_then_exits(wf: Wfsched, work_dir: Path,
                                                      daemon) -> None:
    ids = wf.trigger("hang", count=2, seconds=2, dir=work_dir)
    _started(wf, work_dir, "started", count=2)
    os.kill(daemon.pid, signal.SIGTERM)
    wait_until(lambda: "received SIGTERM" in wf.output_of(), 10, "the signal to be handled")
    (later,) = wf.trigger("noop")
    assert daemon.wait(30) == 0
    for execution_id in ids:
        assert wf.execution(execution_id).status.value == "completed"
    # no new claim after the signal
    assert wf.execution(later).status.value == "pending"
    assert wf.execution(later).claimed_by is None


def test_second_signal_stops_workers_and_they_are_retried_later(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    ids = wf.trigger("hang", count=2, dir=work_dir)
    records = _started(wf, work_dir, "started", count=2)
    os.kill(daemon.pid, signal.SIGTERM)
    wait_until(lambda: "waiting up to" in wf.output_of(), 10, "the scheduler to start waiting")
    os.kill(daemon.pid, signal.SIGTERM)
    assert daemon.wait(30) == 0
    for execution_id in ids:
        execution = wf.execution(execution_id)
        assert execution.status.value == "failed"
        assert execution.error == "scheduler stopped"
    for record in records:
        wait_until(lambda r=record: not _alive(r["pid"]), 10, "worker gone")
    assert not wf.store.running_executions()


def test_execute_by_hand_refuses_an_execution_that_is_not_pending(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("noop")
    first = wf.run("execute", str(execution_id))
    assert first.returncode == 0
    assert wf.execution(execution_id).status.value == "completed"
    again = wf.run("execute", str(execution_id), check=False)
    assert again.returncode == 1
    assert "is completed, not pending; refusing to run it again" in again.stderr
    assert "Traceback" not in again.stderr


def test_logs_capture_stdout_stderr_and_log_records(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("chatty")
    wf.run("scheduler", "--once")
    text = wf.run("logs", str(execution_id)).stdout
    assert "stdout line: <script>alert(1)</script>" in text
    assert "stderr line" in text
    assert "log record from step talk" in text
    follow = wf.run("logs", str(execution_id), "--follow", timeout=20).stdout
    assert follow == text  # a finished execution: --follow prints it and returns
