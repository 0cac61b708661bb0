"""Guarantee 1: a worker that dies ends ``failed`` with a reason that says how it died,
within a few seconds, whether or not the scheduler that started it is still alive."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from helpers import Wfsched, wait_until

from faults.conftest import Schedulers, records

# How the kernel's OOM killer ends its victim: SIGKILL (mm/oom_kill.c sends SIGKILL), so
# an OOM death is a SIGKILL of a process holding a lot of memory, which is what we do.
OOM_SIGNAL = signal.SIGKILL


def _ran(wf: Wfsched, work_dir: Path, execution_id: int) -> dict:
    def record() -> dict | None:
        found = [r for r in records(work_dir, "ran") if r["execution_id"] == execution_id]
        return found[0] if found else None

    return wait_until(record, 30, f"execution {execution_id} to start its step")


def test_every_kind_of_worker_death_is_failed_with_its_cause_while_the_scheduler_runs(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers) -> None:
    daemon = schedulers.start("--max-concurrent", "5")
    (killed,) = wf.trigger("hang_first", dir=work_dir)  # retries: it will run again
    (oom,) = wf.trigger("balloon", dir=work_dir, megabytes=64)
    (exited,) = wf.trigger("crash", dir=work_dir, how="exit", code=7)
    (segfault,) = wf.trigger("segfault", dir=work_dir)
    # the two that die by an outside hand
    for execution_id, signum in ((killed, signal.SIGKILL), (oom, OOM_SIGNAL)):
        record = _ran(wf, work_dir, execution_id)
        os.kill(record["pid"], signum)
    expected = {
        killed: "killed by signal SIGKILL",
        oom: "killed by signal SIGKILL",
        exited: "exited with code 7",
        segfault: "killed by signal SIGSEGV",
    }
    for execution_id, cause in expected.items():
        started = time.monotonic()
        execution = wf.wait_for_status(execution_id, "failed", timeout=15)
        assert cause in execution.error, (execution_id, execution.error)
        assert "without recording a final status" in execution.error
        assert time.monotonic() - started < 15
    assert wf.execution(exited).exit_code == 7
    # the killed one is retried per its policy and completes; the others have no retries
    retry = wait_until(lambda: [e for e in wf.store.list_executions(workflow="hang_first")
                                if e.retry_of == killed and e.status.value == "completed"],
                       30, "the retry of the killed worker to complete")[0]
    assert retry.attempt == 2
    assert daemon.poll() is None, wf.output_of()  # the scheduler carries on
    assert "Traceback" not in wf.output_of()
    assert not wf.store.running_executions()


def test_a_worker_killed_while_its_scheduler_is_dead_is_failed_and_retried_by_the_next(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers) -> None:
    first = schedulers.start(name="first")
    (execution_id,) = wf.trigger("hang_first", dir=work_dir)
    record = _ran(wf, work_dir, execution_id)
    os.kill(first.pid, signal.SIGKILL)  # the scheduler alone: its worker lives on
    first.wait(10)
    assert wf.execution(execution_id).status.value == "running"
    os.kill(record["pid"], signal.SIGKILL)
    wait_until(lambda: not _alive(record["pid"]), 10, "the orphaned worker to die")
    started = time.monotonic()
    second = schedulers.start(name="second")
    execution = wf.wait_for_status(execution_id, "failed", timeout=20)
    assert time.monotonic() - started < 20
    assert "worker lost" in execution.error and str(record["pid"]) in execution.error
    assert "worker lost" in wf.output_of("second")
    retry = wait_until(lambda: [e for e in wf.store.list_executions(workflow="hang_first")
                                if e.retry_of == execution_id
                                and e.status.value == "completed"],
                       30, "the retry to complete")[0]
    assert retry.attempt == 2
    assert second.poll() is None
    assert not wf.store.running_executions()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
