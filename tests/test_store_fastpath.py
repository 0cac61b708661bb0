"""The store's fast path for short executions (issue 8), on real databases and processes.

- The rehearsal that warms the fork server's statement cache leaves no trace: no row, no
  step, no workflow touched, no wake-up, on SQLite, PostgreSQL and MariaDB.
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
from wfsched_core.store.rehearsal import rehearse_worker

from wfsched_core.db.schema import workflow_execution_steps, workflow_executions, workflows
from wfsched_core.records import WorkflowRow, utcnow
from wfsched_core.status import ExecutionStatus, StepStatus
from wfsched_core.store import SqlStore


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
def test_a_rehearsal_leaves_no_trace(db_kind: str, store: SqlStore) -> None:
    store.sync_workflows([WorkflowRow("report", "a report")], [])
    (kept,) = store.enqueue("report")
    before = _counts(store)
    wake = None
    if store.wake_fifo:  # read the SQLite wake FIFO as a scheduler would
        os.mkfifo(store.wake_fifo)
        wake = os.open(store.wake_fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        assert rehearse_worker(store, "report") is True
        assert _counts(store) == before
        assert store.get_execution(kept.id).status is ExecutionStatus.PENDING
        if wake is not None:
            with pytest.raises(BlockingIOError):  # nothing committed: nobody woken
                os.read(wake, 10)
        # the store works as before afterwards, and a real commit does wake
        (new,) = store.enqueue("report")
        assert new.id != kept.id and _counts(store)[0] == before[0] + 1
        if wake is not None:
            assert os.read(wake, 10) == b"!"
    finally:
        if wake is not None:
            os.close(wake)


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

    from wfsched_core.db.sqlite_local import FifoListener

    assert store.wake_fifo
    Path(store.wake_fifo).write_text("not a FIFO\n")
    store.enqueue("report")  # a commit that would poke the scheduler
    assert Path(store.wake_fifo).read_text() == "not a FIFO\n"
    assert FifoListener(store.wake_fifo, threading.Event()).start() is False
