"""Guarantee 2: a scheduler SIGKILLed mid-run orphans nothing into limbo.

Its workers finish and record their own final status; the next scheduler on the same
SQLite database starts at once (the kernel released the flock), adopts the workers that
still run (never starts them again), fails and retries the ones that died, and re-runs
nothing that completed.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until

from faults.conftest import Schedulers, records


def _ran_pids(wf: Wfsched, work_dir: Path) -> dict[int, list[int]]:
    pids: dict[int, list[int]] = {}
    for record in records(work_dir, "ran"):
        pids.setdefault(record["execution_id"], []).append(record["pid"])
    return pids


def test_killed_scheduler_workers_finish_are_adopted_or_failed_and_nothing_runs_twice(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers) -> None:
    first = schedulers.start("--max-concurrent", "6", name="first")
    (done_early,) = wf.trigger("mark", dir=work_dir)
    wf.wait_for_status(done_early, "completed")
    gate_alone, gate_adopted = work_dir / "gate-alone", work_dir / "gate-adopted"
    (finishes_alone,) = wf.trigger("gate", dir=work_dir, gate=gate_alone)
    adopted = wf.trigger("gate", count=2, dir=work_dir, gate=gate_adopted)
    doomed = wf.trigger("hang_first", count=2, dir=work_dir)
    in_flight = [finishes_alone, *adopted, *doomed]
    pids = wait_until(lambda: (p := _ran_pids(wf, work_dir)) and all(i in p for i in in_flight)
                      and p, 30, "every worker to start its step")

    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    # no scheduler now: a worker that finishes records its own final status
    gate_alone.touch()
    wf.wait_for_status(finishes_alone, "completed", timeout=20)
    # and two workers die while nobody watches
    for execution_id in doomed:
        os.kill(pids[execution_id][0], signal.SIGKILL)
    for execution_id in doomed:
        wait_until(lambda i=execution_id: not _alive(pids[i][0]), 10, "a doomed worker gone")
        assert wf.execution(execution_id).status.value == "running"  # limbo, for now

    started = time.monotonic()
    second = schedulers.start("--max-concurrent", "6", name="second")
    # it starts at once: the dead scheduler's SQLite lock went with it
    wait_until(lambda: "adopted running execution" in wf.output_of("second"), 20,
               "the new scheduler to adopt the live workers")
    assert time.monotonic() - started < 20
    for execution_id in doomed:
        failed = wf.wait_for_status(execution_id, "failed", timeout=20)
        assert "worker lost" in failed.error
    for execution_id in adopted:
        assert wf.execution(execution_id).status.value == "running"
        assert f"adopted running execution {execution_id}" in wf.output_of("second")
    gate_adopted.touch()
    for execution_id in adopted:
        wf.wait_for_status(execution_id, "completed", timeout=20)
    def completed_retries() -> list:
        found = [e for e in wf.store.list_executions(workflow="hang_first")
                 if e.retry_of in doomed and e.status.value == "completed"]
        return found if len(found) == len(doomed) else []

    retries = wait_until(completed_retries, 30, "both retries to complete")
    assert sorted(r.retry_of for r in retries) == sorted(doomed)

    assert second.poll() is None
    assert not wf.store.running_executions()
    # nothing ran twice: one process per execution id, and nothing completed was re-run
    runs = _ran_pids(wf, work_dir)
    assert all(len(p) == 1 for p in runs.values()), runs
    assert Counter(e.status.value for e in wf.store.list_executions()) == {
        "completed": 6, "failed": 2}
    os.kill(second.pid, signal.SIGTERM)
    assert second.wait(30) == 0


def test_a_new_scheduler_starts_at_once_after_a_sigkill(wf: Wfsched,
                                                        schedulers: Schedulers) -> None:
    first = schedulers.start(name="first")
    wait_until(lambda: wf.store.list_schedulers(active_only=True), 20, "the first to register")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    # registered as active and its heartbeat is fresh, yet the lock says it is gone
    started = time.monotonic()
    (execution_id,) = wf.trigger("noop")
    result = wf.run("scheduler", "--once", timeout=60)
    assert result.returncode == 0
    assert wf.execution(execution_id).status.value == "completed"
    assert time.monotonic() - started < 30


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _waits_for_its_answer(pid: int) -> bool:
    """The worker's main thread sleeps in a read on its Unix socket: its report is sent
    and it waits for the scheduler's answer (a step's sleep shows a timer instead)."""
    try:
        return "unix_stream_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("start_mode", ["fork", "exec"])
def test_a_scheduler_killed_between_a_workers_final_report_and_its_commit(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, start_mode: str) -> None:
    """Issue 13: the worker's final status reaches the scheduler, which dies before it
    commits it: the worker records it itself; nothing is lost, nothing runs twice."""
    # no heartbeat during the run: the report in flight is the final status
    wf.write_config(f'start_mode = "{start_mode}"\nheartbeat_interval = 60\n'
                    f'heartbeat_timeout = 120\n')
    first = schedulers.start("--max-concurrent", "2", name="first")
    (execution_id,) = wf.trigger("mark_twice", dir=work_dir, seconds=0.5)
    worker = wait_until(lambda: records(work_dir, "ran"), 30, "the step to start")[0]["pid"]
    os.kill(first.pid, signal.SIGSTOP)  # from now on it reads and commits nothing
    try:
        wait_until(lambda: records(work_dir, "ending"), 30, "the step to end")
        wait_until(lambda: _waits_for_its_answer(worker), 30,
                   "the worker to send its final status and wait for the answer")
        assert wf.execution(execution_id).status.value == "running"  # not committed
    finally:
        os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    execution = wf.wait_for_status(execution_id, "completed", timeout=60)
    assert execution.exit_code == 0
    wait_until(lambda: not psutil.pid_exists(worker) or
               psutil.Process(worker).status() == psutil.STATUS_ZOMBIE, 30, "the worker's exit")
    # the next scheduler finds nothing to run again
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 0, result.stderr
    assert [r["execution_id"] for r in records(work_dir, "ran")] == [execution_id]
    assert wf.execution(execution_id).status.value == "completed"
