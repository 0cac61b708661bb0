"""Guarantee 5: database outages. The scheduler and the workers wait, retry with a clear
log line, and resume without losing a status update; SQLite never says ``database is
locked`` in normal operation, even with 20 workers finishing at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until

from faults.conftest import Schedulers, records
from faults.proxy import CuttableProxy

# Holds the SQLite write lock (BEGIN EXCLUSIVE) for a few seconds: another program, a
# backup, an operator's sqlite3 shell. It says when it holds the lock.
LOCK_HOLDER = """
import sqlite3, sys, time
from pathlib import Path
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
Path(sys.argv[2]).touch()
time.sleep(float(sys.argv[3]))  # the outage itself
connection.execute("COMMIT")
"""
LOCK_SECONDS = 4.0


def _ran(wf: Wfsched, work_dir: Path, count: int, kind: str = "ran") -> list[dict]:
    return wait_until(lambda: len(r := records(work_dir, kind)) >= count and r, 60,
                      f"{count} '{kind}' record(s)")


def _all_logs(wf: Wfsched) -> str:
    texts = [wf.output_of(p.stem) for p in wf.home.glob("*.out")]
    texts += [p.read_text(errors="replace") for p in (wf.home / "logs").glob("*.log")]
    return "\n".join(texts)


def test_sqlite_locked_by_another_process_everyone_waits_and_resumes(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers) -> None:
    daemon = schedulers.start("--max-concurrent", "5")
    gate = work_dir / "gate"
    ids = wf.trigger("gate", count=3, dir=work_dir, gate=gate)
    _ran(wf, work_dir, 3)
    locked = work_dir / "locked"
    database = wf.database_url.removeprefix("sqlite:///")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, database, str(locked),
                               str(LOCK_SECONDS)])
    wait_until(locked.exists, 20, "the other process to hold the lock")
    gate.touch()  # the workers finish their step while the database is locked
    queued = wf.popen("trigger", "noop", name="trigger")  # a user triggers meanwhile
    _ran(wf, work_dir, 3, kind="passed")
    if holder.poll() is None:  # still locked: nothing could have been written
        assert {wf.execution(i).status.value for i in ids} == {"running"}
    assert holder.wait(30) == 0
    for execution_id in ids:
        wf.wait_for_status(execution_id, "completed", timeout=40)
    assert queued.wait(40) == 0
    (later,) = [int(x) for x in wf.output_of("trigger").split()]
    wf.wait_for_status(later, "completed", timeout=30)
    assert daemon.poll() is None
    assert "database is locked" not in _all_logs(wf)
    assert not wf.store.running_executions()


def test_twenty_workers_finishing_at_once_never_see_database_is_locked(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers) -> None:
    daemon = schedulers.start("--max-concurrent", "20")
    gate = work_dir / "gate"
    ids = wf.trigger("gate", count=20, dir=work_dir, gate=gate)
    _ran(wf, work_dir, 20)
    gate.touch()
    for execution_id in ids:
        wf.wait_for_status(execution_id, "completed", timeout=60)
    logs = _all_logs(wf)
    assert "database is locked" not in logs
    assert "Traceback" not in logs
    assert daemon.poll() is None


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_postgresql_unreachable_workers_record_their_end_after_the_outage(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, db_kind: str) -> None:
    from sqlalchemy.engine import make_url

    direct = make_url(wf.database_url)
    wf.store  # noqa: B018 - the test's own reads go straight to the server
    with CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        wf.database_url = direct.set(port=proxy.port).render_as_string(hide_password=False)
        daemon = schedulers.start("--max-concurrent", "4")
        gate = work_dir / "gate"
        ids = wf.trigger("gate", count=2, dir=work_dir, gate=gate)
        _ran(wf, work_dir, 2)
        for execution_id in ids:
            wf.wait_for_status(execution_id, "running")

        cut_at = time.monotonic()
        proxy.cut()
        gate.touch()  # both finish during the outage
        _ran(wf, work_dir, 2, kind="passed")
        # the workers report through their scheduler, which retries their final statuses
        # (one round for both) while they wait for its answer
        wait_until(lambda: "database unavailable while trying to record the workers' "
                           "reports" in wf.output_of(), 30,
                   "the scheduler to retry the workers' final statuses")
        wait_until(lambda: time.monotonic() - cut_at >= 5, 10, "a five-second outage")
        for execution_id in ids:  # nothing got through
            assert wf.execution(execution_id).status.value == "running"
        proxy.restore()

        for execution_id in ids:
            execution = wf.wait_for_status(execution_id, "completed", "failed", timeout=40)
            assert execution.status.value == "completed", execution.error
        (later,) = wf.trigger("noop")  # the scheduler resumed
        wf.wait_for_status(later, "completed", timeout=30)
        assert daemon.poll() is None
        assert proxy.refused > 0
        assert "Traceback" not in wf.output_of()
        os.kill(daemon.pid, signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert not wf.store.running_executions()


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_stop_during_an_outage_still_stops_the_workers_and_loses_no_outcome(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, db_kind: str) -> None:
    from sqlalchemy.engine import make_url

    direct = make_url(wf.database_url)
    wf.store  # noqa: B018 - the test's own reads go straight to the server
    with CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        wf.database_url = direct.set(port=proxy.port).render_as_string(hide_password=False)
        daemon = schedulers.start("--grace-period", "60")
        (execution_id,) = wf.trigger("hang", dir=work_dir)
        (record,) = _ran(wf, work_dir, 1, kind="started")
        wf.wait_for_status(execution_id, "running")
        proxy.cut()
        os.kill(daemon.pid, signal.SIGTERM)
        wait_until(lambda: "waiting up to" in wf.output_of(), 20, "the grace period")
        os.kill(daemon.pid, signal.SIGTERM)  # stop the workers now, database or not
        daemon.wait(60)
        wait_until(lambda: not psutil.pid_exists(record["pid"])
                   or psutil.Process(record["pid"]).status() == psutil.STATUS_ZOMBIE,
                   30, "the worker to be stopped")
        assert "Traceback" not in wf.output_of(), wf.output_of()
        assert daemon.returncode == 0, wf.output_of()
        assert "database unavailable while stopping" in wf.output_of()
        proxy.restore()
        # the row could not be written: the next scheduler finds the worker gone
        schedulers.start(name="next")
        execution = wf.wait_for_status(execution_id, "failed", timeout=40)
        assert execution.error.startswith(("stopped by signal SIGTERM", "worker lost")), \
            execution.error
        assert not wf.store.running_executions()


# Imported by every interpreter on the path: a worker (a fresh interpreter: exec start
# mode, or `wfsched execute`) holds at its very start until the test opens the gate.
GATED_START = """
import os, sys, time
gate = os.environ.get("TEST_START_GATE")
if gate and ("execute" in sys.argv or "WFSCHED_WORKER_PLAN" in os.environ):
    open(f"{gate}.{os.getpid()}.waiting", "w").close()
    while not os.path.exists(gate):
        time.sleep(0.05)
"""


def _gated_start(wf: Wfsched, tmp_path: Path) -> Path:
    site = tmp_path / "gated-start"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GATED_START)
    wf.python_paths.append(site)
    gate = tmp_path / "start-gate"
    wf.extra_env["TEST_START_GATE"] = str(gate)
    return gate


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_workers_that_start_during_an_outage_wait_for_it_and_run(
        wf: Wfsched, work_dir: Path, schedulers: Schedulers, db_kind: str,
        tmp_path: Path) -> None:
    """Issue 14, defect 1: a worker starting while the database is unreachable is not
    failed for good; its start waits for the database (here: through its scheduler)."""
    from sqlalchemy.engine import make_url

    wf.write_config('start_mode = "exec"\n[workflows.mark]\nretries = 0\n')
    gate = _gated_start(wf, tmp_path)
    direct = make_url(wf.database_url)
    wf.store  # noqa: B018 - the test's own reads go straight to the server
    with CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        wf.database_url = direct.set(port=proxy.port).render_as_string(hide_password=False)
        daemon = schedulers.start("--max-concurrent", "4")
        ids = wf.trigger("mark", count=3, dir=work_dir)
        wait_until(lambda: len(list(tmp_path.glob("start-gate.*.waiting"))) == 3, 60,
                   "three workers started, held before their start")
        proxy.cut()
        gate.touch()  # they start during the outage
        wait_until(lambda: "database unavailable while trying to record the workers' "
                           "reports" in wf.output_of(), 30, "the scheduler to retry the starts")
        for execution_id in ids:
            assert wf.execution(execution_id).status.value == "pending"
        proxy.restore()
        for execution_id in ids:
            execution = wf.wait_for_status(execution_id, "completed", "failed", timeout=60)
            assert execution.status.value == "completed", execution.error
            assert execution.attempt == 1
        assert daemon.poll() is None
    assert sorted(r["execution_id"] for r in records(work_dir, "ran")) == sorted(ids)


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_wfsched_execute_rides_out_an_outage_before_its_start(
        wf: Wfsched, work_dir: Path, db_kind: str, tmp_path: Path) -> None:
    """The direct worker (detached, container, remote spawners) connects and checks the
    schema inside its start's retry, not before it."""
    from sqlalchemy.engine import make_url

    gate = _gated_start(wf, tmp_path)
    direct = make_url(wf.database_url)
    (execution,) = wf.store.enqueue("mark", params={"dir": str(work_dir)})
    with CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        wf.database_url = direct.set(port=proxy.port).render_as_string(hide_password=False)
        worker = wf.popen("execute", str(execution.id), name="worker")
        wait_until(lambda: list(tmp_path.glob("start-gate.*.waiting")), 60,
                   "the worker to start")
        proxy.cut()
        gate.touch()
        wait_until(lambda: f"database unavailable while trying to start execution "
                           f"{execution.id}" in wf.output_of("worker"), 30,
                   "the worker to wait for the database")
        proxy.restore()
        assert worker.wait(60) == 0, wf.output_of("worker")
    assert wf.execution(execution.id).status.value == "completed"
    assert len(records(work_dir, "ran")) == 1
