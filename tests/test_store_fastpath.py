"""The store's fast path for short executions (issue 8), on real databases and processes.

- A round of workers' reports, applied by their scheduler in one transaction (issue 13),
  is the same compare-and-sets the workers would make: a second start is refused and
  changes nothing, a failure with a cancel requested ends ``cancelled``, heartbeats answer
  the cancel flag — on SQLite, PostgreSQL and MariaDB.
- SQLite's writer gate queues writers of different processes on a ``flock``: a writer in
  another process (a forked one included: it must not share the parent's lock) waits in
  the kernel's queue while one holds it, and goes on once it is released.
- A worker's combined writes keep every step's record: the start of each, and the end of
  each with what follows it (the next step's start, or the final status).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import wait_until
from sqlalchemy import func, select

from wfsched_core.base.errors import ExecutionStateError
from wfsched_core.base.records import WorkflowRow, utcnow
from wfsched_core.base.status import ExecutionStatus, StepStatus
from wfsched_core.store import SqlStore
from wfsched_core.store.db.schema import workflow_execution_steps, workflow_executions, workflows
from wfsched_core.store.reports import FinishReport, HeartbeatReport, StartReport, StepReport


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    store = SqlStore(database_url)
    store.upgrade()
    yield store
    store.dispose()


def _counts(store: SqlStore) -> tuple[int, int, list[tuple[object, ...]]]:
    with store.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(workflow_executions)).scalar(),
                conn.execute(select(func.count()).select_from(workflow_execution_steps))
                .scalar(),
                [tuple(r) for r in conn.execute(select(workflows.c.name, workflows.c.last_status,
                                                       workflows.c.last_executed))])


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mariadb"])
def test_a_round_of_workers_reports_is_the_workers_own_compare_and_sets(
        db_kind: str, store: SqlStore) -> None:
    store.sync_workflows([WorkflowRow("report", "a report")], [])
    first, second, third = store.enqueue("report", count=3)
    assert len(store.claim_pending("s1", 3)) == 3
    before = _counts(store)
    results = store.apply_worker_reports("s1", "h", [
        StartReport(first.id, 101, "extract"), StartReport(second.id, 102, None),
        StartReport(third.id, 103, "extract"), StartReport(first.id, 104, "extract")])
    (running, step), (other, no_step), _third, refused = results
    assert running.status is ExecutionStatus.RUNNING and running.pid == 101
    assert running.host == "h" and step is not None and step.name == "extract"
    assert other.status is ExecutionStatus.RUNNING and no_step is None
    # the same execution started twice in one round: the second start lost, and wrote nothing
    assert isinstance(refused, ExecutionStateError)
    assert store.get_execution(first.id).pid == 101
    assert _counts(store)[1] == before[1] + 2  # two first steps, not three
    store.request_cancel(third.id)
    done = replace(step, status=StepStatus.COMPLETED, finished_at=utcnow(), result={"rows": 3})
    results = store.apply_worker_reports("s1", "h", [
        StepReport(first.id, done, 2, "load"),
        FinishReport(second.id, ExecutionStatus.COMPLETED, 0, None, None, None),
        HeartbeatReport(first.id), HeartbeatReport(third.id),
        FinishReport(third.id, ExecutionStatus.FAILED, 143, "stopped", None, None,
                     retry_at=utcnow())])
    load, finished, beat_first, beat_third, cancelled = results
    assert load.name == "load" and load.position == 2
    assert finished.execution.status is ExecutionStatus.COMPLETED
    assert (beat_first, beat_third) == (False, True)
    # failed with a cancel requested: cancelled, and no retry queued
    assert cancelled.execution.status is ExecutionStatus.CANCELLED and cancelled.retry is None
    assert [(s.name, s.status, s.result) for s in store.steps(first.id)] == [
        ("extract", StepStatus.COMPLETED, {"rows": 3}), ("load", StepStatus.RUNNING, None)]
    assert store.get_execution(second.id).status is ExecutionStatus.COMPLETED
    assert len(store.list_executions()) == 3  # nothing queued by the cancelled failure


def _write_in_child(url: str, ready: multiprocessing.synchronize.Event,
                    done: multiprocessing.synchronize.Event, store: SqlStore | None) -> None:
    if store is None:
        store = SqlStore(url)  # another process's own store
    ready.set()
    store.enqueue("report")
    done.set()
    os._exit(0)


def _blocked_on_flock(pid: int) -> bool:
    """/proc/locks lists a process waiting for a lock with a ``->`` line."""
    return any("->" in line and " FLOCK " in line and f" {pid} " in line
               for line in Path("/proc/locks").read_text().splitlines())


@pytest.mark.parametrize("forked_store", [False, True], ids=["own-store", "forked-store"])
def test_the_sqlite_writer_gate_queues_writers_of_other_processes(
        store: SqlStore, database_url: str, forked_store: bool) -> None:
    assert store.sqlite_path and store.wake_fifo  # the fixture's default: a SQLite file
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    # no SQLite connection may cross a fork (SQLite's own rule; the fork server keeps it)
    store.engine.dispose()
    with store._gate.hold():  # noqa: SLF001 - as a writing transaction holds it
        child = context.Process(target=_write_in_child,
                                args=(database_url, ready, done,
                                      store if forked_store else None))
        child.start()
        try:
            assert ready.wait(30)
            wait_until(lambda: _blocked_on_flock(child.pid), 30,
                       "the child's write to queue on the writer gate", 0.02)
            assert not done.is_set()
        except BaseException:
            child.kill()
            raise
    assert done.wait(30), "the child's write never went through"
    child.join(30)
    assert child.exitcode == 0
    assert [e.workflow for e in store.list_executions()] == ["report"]


def test_combined_writes_keep_every_steps_record(store: SqlStore) -> None:
    (execution,) = store.enqueue("etl")
    store.claim_pending("s1", 1)
    running, first = store.start_running(execution.id, "s1", pid=os.getpid(), host="h",
                                         manual_owner="m", first_step=lambda _wf: "extract")
    assert running.status is ExecutionStatus.RUNNING and first is not None
    assert [(s.name, s.status) for s in store.steps(execution.id)] == [
        ("extract", StepStatus.RUNNING)]
    extracted = replace(first, status=StepStatus.COMPLETED, finished_at=utcnow(),
                        result={"rows": 3})
    second = store.advance_step(execution.id, extracted, 2, "load")
    assert [(s.name, s.status, s.result) for s in store.steps(execution.id)] == [
        ("extract", StepStatus.COMPLETED, {"rows": 3}), ("load", StepStatus.RUNNING, None)]
    failed = replace(second, status=StepStatus.FAILED, finished_at=utcnow(), error="boom")
    # the scheduler got there first (a timeout): the step's end is still recorded
    store.finish_execution(execution.id, ExecutionStatus.FAILED, owner="s1",
                           error="timed out")
    assert store.finish_execution(execution.id, ExecutionStatus.FAILED,
                                  last_step=failed) is None
    steps = store.steps(execution.id)
    assert [(s.name, s.status, s.error) for s in steps] == [
        ("extract", StepStatus.COMPLETED, None), ("load", StepStatus.FAILED, "boom")]
    assert store.get_execution(execution.id).error == "timed out"


def test_something_else_at_the_wake_path_is_left_alone(store: SqlStore) -> None:
    import threading

    from wfsched_core.store.db.sqlite_local import FifoListener

    assert store.wake_fifo
    Path(store.wake_fifo).write_text("not a FIFO\n")
    store.enqueue("report")  # a commit that would poke the scheduler
    assert Path(store.wake_fifo).read_text() == "not a FIFO\n"
    assert FifoListener(store.wake_fifo, threading.Event()).start() is False
