"""Guarantee 4: graceful stop.

SIGTERM/SIGINT stop claiming at once; running workers get the grace period; the end of
the grace period, or a second signal, stops them and records ``failed`` with the reason
``scheduler stopped``; the next scheduler retries them when their policy allows. (The
plain "wait for workers that finish in time" case is in tests/test_daemon.py.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until

from faults.conftest import Schedulers, records

GRACE = 1.5


def _started(wf: Wfsched, work_dir: Path, count: int) -> list[dict]:
    return wait_until(lambda: len(r := records(work_dir, "started")) >= count and r, 30,
                      f"{count} worker(s) to start")


@pytest.mark.parametrize("how", ["grace period ends", "second signal"])
def test_stopped_workers_are_failed_then_retried_on_the_next_start(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, how: str) -> None:
    wf.write_config("[workflows.hang]\nretries = 1\nretry_delay = 0.1\n")
    grace = GRACE if how == "grace period ends" else 120.0
    first = schedulers.start("--grace-period", str(grace), name="first")
    ids = wf.trigger("hang", count=2, dir=work_dir)
    records = _started(wf, work_dir, 2)

    signalled = time.monotonic()
    os.kill(first.pid, signal.SIGINT)
    wait_until(lambda: "waiting up to" in wf.output_of("first"), 10, "the grace period")
    (later,) = wf.trigger("noop")  # queued during the stop: must not be claimed
    if how == "second signal":
        os.kill(first.pid, signal.SIGTERM)
    assert first.wait(30) == 0
    stopped_after = time.monotonic() - signalled
    # grace + kill_grace (3 s in the test config) bound the stop, plus a loaded host
    assert stopped_after < (GRACE if how == "grace period ends" else 0) + 3 + 30
    for execution_id in ids:
        execution = wf.execution(execution_id)
        assert execution.status.value == "failed"
        assert execution.error == "scheduler stopped"
    for record in records:
        wait_until(lambda r=record: not _alive(r["pid"]), 10, "the stopped worker to be gone")
    assert wf.execution(later).status.value == "pending"
    assert wf.execution(later).claimed_by is None
    retries = [e for e in wf.store.list_executions(workflow="hang") if e.retry_of in ids]
    assert sorted(e.retry_of for e in retries) == sorted(ids)
    assert all(e.status.value == "pending" and e.attempt == 2 for e in retries)

    # the next start runs the retries (and what was queued meanwhile)
    second = schedulers.start(name="second")
    for retry in retries:
        wf.wait_for_status(retry.id, "running")
    wf.wait_for_status(later, "completed")
    os.kill(second.pid, signal.SIGTERM)
    os.kill(second.pid, signal.SIGTERM)
    assert second.wait(30) == 0
    assert not wf.store.running_executions()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# Imported by every interpreter on the path: a worker (a fresh interpreter in the exec
# start mode) that takes a few seconds to start, as on a loaded host or a slow disk.
SLOW_START = """
import os, sys, time
if "execute" in sys.argv or "WFSCHED_WORKER_PLAN" in os.environ:  # either worker
    time.sleep(6)
"""


def test_a_worker_stopped_while_it_starts_is_recorded_as_stopped(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, tmp_path: Path) -> None:
    """The second signal comes after the claim, before the worker marked itself running:
    the reason is still the stop (not how the half-started worker died)."""
    slow = tmp_path / "slow-start"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_START)
    wf.python_paths.append(slow)
    wf.write_config('start_mode = "exec"\n')
    daemon = schedulers.start()
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    wait_until(lambda: wf.execution(execution_id).pid, 60, "the worker to be started")
    assert wf.execution(execution_id).status.value == "pending"  # it is still starting
    os.kill(daemon.pid, signal.SIGTERM)
    # two signals at once would be one: Python runs a handler once per delivery it sees
    wait_until(lambda: "waiting up to" in wf.output_of(), 10, "the grace period")
    os.kill(daemon.pid, signal.SIGTERM)
    assert wf.execution(execution_id).status.value in ("pending", "failed")
    assert daemon.wait(30) == 0
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed"
    assert execution.error == "scheduler stopped", execution.error
    assert not records(work_dir, "started")  # it never ran a step
