"""Guarantee 3: a recycled PID never passes for a live worker.

A ``running`` row whose worker died long ago, and whose PID the OS has since given to an
unrelated process, is forged here with the PID of a live ``sleep`` of our own. A new
scheduler must mark it failed — never adopt it, and never signal the innocent process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest
from helpers import Wfsched, wait_until
from sqlalchemy import update

from faults.conftest import Schedulers


@pytest.fixture
def innocent() -> Iterator[psutil.Process]:
    """A live process that has nothing to do with wfsched: the PID's new owner."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield psutil.Process(process.pid)
    process.kill()
    process.wait(10)


def _forge_running(wf: Wfsched, pid: int, **values: object) -> int:
    from wfsched_core.base.processes import hostname
    from wfsched_core.base.records import utcnow
    from wfsched_core.store.db.schema import workflow_executions as executions

    (execution_id,) = wf.trigger("noop")
    row = {"status": "running", "started_at": utcnow() - timedelta(minutes=5),
           "heartbeat_at": utcnow(), "pid": pid, "host": hostname(),
           "claimed_by": "scheduler-that-died", "claimed_at": utcnow()}
    row.update(values)
    with wf.store.engine.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == execution_id).values(**row))
    return execution_id


def test_a_pid_with_another_create_time_is_failed_not_adopted(
        wf: Wfsched, schedulers: Schedulers, innocent: psutil.Process) -> None:
    from wfsched_core.base.records import utcnow

    # the handle the local spawner wrote for a worker created long before this process;
    # the heartbeat is even fresh: only the create time tells the two apart
    handle = {"pid": innocent.pid, "create_time": innocent.create_time() - 1000.0}
    execution_id = _forge_running(wf, innocent.pid, spawner="local",
                                  worker_handle=json.dumps(handle), heartbeat_at=utcnow())
    daemon = schedulers.start(name="scheduler")
    execution = wf.wait_for_status(execution_id, "failed", timeout=20)
    assert "worker lost" in execution.error and str(innocent.pid) in execution.error
    assert "adopted" not in wf.output_of()
    assert innocent.is_running() and innocent.status() != psutil.STATUS_ZOMBIE
    assert daemon.poll() is None


def test_a_hand_run_worker_whose_pid_was_recycled_is_failed_by_its_stale_heartbeat(
        wf: Wfsched, schedulers: Schedulers, innocent: psutil.Process) -> None:
    """Started by ``wfsched execute`` (no spawner, no create time): the PID alone cannot
    prove life, so an expired heartbeat decides."""
    from wfsched_core.base.records import utcnow

    execution_id = _forge_running(wf, innocent.pid, spawner=None, worker_handle=None,
                                  heartbeat_at=utcnow() - timedelta(hours=1),
                                  claimed_by=f"manual-host-{innocent.pid}")
    daemon = schedulers.start(name="scheduler")
    execution = wf.wait_for_status(execution_id, "failed", timeout=20)
    assert "worker lost" in execution.error
    assert "adopted" not in wf.output_of(), wf.output_of()
    wait_until(lambda: daemon.poll() is None, 1, "the scheduler to stay up")
    assert innocent.is_running() and innocent.status() != psutil.STATUS_ZOMBIE
