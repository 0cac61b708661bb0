"""The ``celery`` spawner when things go wrong: a task delivered twice, a cancel, a
timeout, a host lost mid-run, a broker away for ten seconds. Real Redis, PostgreSQL,
Celery workers on hosts of their own; the workflows' own record files count the runs."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from celery_hosts import CeleryHosts, RedisServer
from helpers import Wfsched, wait_until
from wfsched_spawner_celery.celery_app import TASK_NAME, build_celery_app, database_name
from wfsched_spawner_celery.options import CeleryOptions

pytestmark = [pytest.mark.servers, pytest.mark.slow,
              pytest.mark.parametrize("db_kind", ["postgresql"])]


@pytest.fixture
def schedulers(wf: Wfsched) -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = wf.popen("scheduler", "--spawner", "celery", *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _records(wf: Wfsched, work_dir: Path, kind: str, count: int) -> list[dict]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 60, f"{count} {kind} record(s)", 0.1)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _send_again(wf: Wfsched, redis_server: RedisServer, execution_id: int,
                database: str | None = None) -> None:
    """Deliver the execution's task once more, by hand, as the scheduler sent it."""
    owner = wf.execution(execution_id).claimed_by
    app = build_celery_app(CeleryOptions(broker_url=redis_server.url))
    app.send_task(TASK_NAME, queue="wfsched", args=[
        execution_id, owner, database or database_name(wf.database_url)])


def test_a_task_delivered_twice_runs_its_execution_once(
        db_kind: str, wf: Wfsched, work_dir: Path, celery_hosts: CeleryHosts,
        redis_server: RedisServer, schedulers) -> None:
    celery_hosts.start("host-a", concurrency=2)
    [execution_id] = wf.trigger("hang", dir=work_dir)  # runs until it is cancelled
    schedulers()
    _records(wf, work_dir, "started", 1)
    _send_again(wf, redis_server, execution_id)  # while it runs
    wait_until(lambda: "it is already running; nothing to do"
               in celery_hosts.output_of("host-a"), 60, "the second delivery to be refused")
    wf.run("cancel", str(execution_id))
    wf.wait_for_status(execution_id, "cancelled")
    _send_again(wf, redis_server, execution_id)  # after it ended
    wait_until(lambda: "it is already cancelled; nothing to do"
               in celery_hosts.output_of("host-a"), 60, "the third delivery to be refused")
    _send_again(wf, redis_server, execution_id, database="another_database")
    wait_until(lambda: "the task is for database 'another_database'"
               in celery_hosts.output_of("host-a"), 60, "a task for another database refused")
    assert len(wf.records(work_dir, "started")) == 1
    assert wf.execution(execution_id).status.value == "cancelled"


def test_cancel_and_timeout_reach_the_remote_process_tree(
        db_kind: str, wf: Wfsched, work_dir: Path, celery_hosts: CeleryHosts,
        schedulers) -> None:
    wf.write_config("[workflows.with_child]\ntimeout = 2\n")
    celery_hosts.start("host-a", concurrency=2)
    schedulers()
    [hang] = wf.trigger("hang", dir=work_dir)
    [timed] = wf.trigger("with_child", dir=work_dir)
    [started] = _records(wf, work_dir, "started", 1)
    [child] = _records(wf, work_dir, "child", 1)
    # the execution runs in a process of its own, a child of a Celery pool process
    parent = psutil.Process(started["pid"]).parent()
    assert parent is not None and "celery" in " ".join(parent.cmdline())
    assert wf.execution(hang).host == "host-a"

    result = wf.run("cancel", str(hang))
    assert wf.wait_for_status(hang, "cancelled").status.value == "cancelled", result.stdout
    wait_until(lambda: _gone(started["pid"]), 30, "the cancelled worker to exit")

    execution = wf.wait_for_status(timed, "failed", timeout=30)
    assert execution.error.startswith("timeout"), execution.error
    wait_until(lambda: _gone(child["pid"]) and _gone(child["child_pid"]), 30,
               "the timed-out worker and its child to be stopped")
    assert "stopping its process tree" in celery_hosts.output_of("host-a")


def test_a_lost_host_fails_its_executions_and_they_run_again_on_the_other(
        db_kind: str, wf: Wfsched, work_dir: Path, celery_hosts: CeleryHosts,
        schedulers) -> None:
    wf.write_config("[workflows.mark]\nretries = 1\n")
    celery_hosts.start("host-a", concurrency=2)
    schedulers("--max-concurrent", "4")
    gate = work_dir / "go"  # the first attempts run until it exists: until host-a is lost
    ids = wf.trigger("mark", count=2, dir=work_dir, gate=gate)
    records = _records(wf, work_dir, "ran", 2)
    assert {r["host"] for r in records} == {"host-a"}
    celery_hosts.start("host-b", concurrency=2)
    celery_hosts.kill("host-a")  # the worker, its pool and the executions' processes
    for execution_id in ids:
        execution = wf.wait_for_status(execution_id, "failed", timeout=60)
        assert execution.error == "worker lost: its heartbeat stopped", execution.error
    gate.touch()  # the retries, on host-b, end at once
    retries = wait_until(
        lambda: [e for e in wf.store.list_executions(workflow="mark")
                 if e.retry_of in ids and e.status.value == "completed"] or None
        if len([e for e in wf.store.list_executions(workflow="mark")
                if e.retry_of in ids and e.status.value == "completed"]) == 2 else None,
        60, "both retries to complete")
    assert {e.host for e in retries} == {"host-b"}
    counts = Counter((r["execution_id"], r["attempt"]) for r in wf.records(work_dir, "ran"))
    assert len(counts) == 4 and set(counts.values()) == {1}, counts
    assert wf.store.count_by_status().get("running", 0) == 0


def test_a_broker_away_for_ten_seconds_loses_nothing(
        db_kind: str, wf: Wfsched, work_dir: Path, celery_hosts: CeleryHosts,
        redis_server: RedisServer, schedulers) -> None:
    wf.write_config("[spawner.celery]\nredispatch_after = 3\n")
    celery_hosts.start("host-a", concurrency=3)
    ids = wf.trigger("mark", count=24, dir=work_dir, seconds=0.5)
    # six in flight on three pool processes: three tasks wait in the broker, and are lost
    scheduler = schedulers("--max-concurrent", "6", "--once")
    _records(wf, work_dir, "ran", 4)
    redis_server.stop()  # gone, with the tasks still queued in it (no persistence)
    time.sleep(10)  # the outage itself, not a wait for an event
    assert wf.store.count_by_status().get("failed", 0) == 0
    redis_server.start()
    assert scheduler.wait(timeout=240) == 0, wf.output_of()
    assert {wf.execution(i).status.value for i in ids} == {"completed"}
    counts = Counter(r["execution_id"] for r in wf.records(work_dir, "ran"))
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}, counts
    output = wf.output_of()
    assert "cannot send tasks to the Celery broker" in output, output
    assert "sending its task" in output, "no lost task was sent again"
