"""Several schedulers sharing one PostgreSQL or MariaDB database (issue 7).

Every test here runs real ``wfsched scheduler`` daemons against a fresh database on the
servers of this machine and checks the outcome from what the workflows themselves wrote
(``wf.records``) and from the rows: exactly-once claims, every scheduler within its own
``--max-concurrent``, a workflow's ``concurrency`` across the cluster, queue routing, and
recovery when one scheduler is SIGKILLed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import TEST_CONFIG, Wfsched, wait_until
from test_scheduler_once import max_overlap

from wfsched_core.base.records import SchedulerRow, utcnow

SERVERS = ["postgresql", "mariadb"]


class Cluster:
    """Scheduler daemons of one test; each is found again by its name."""

    def __init__(self, wf: Wfsched) -> None:
        self.wf = wf
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        process = self.wf.popen("scheduler", *args, name=name)
        self.processes[name] = process
        return process

    def registered(self) -> dict[int, dict[str, Any]]:
        """The registry rows (as ``schedulers list --json`` prints them), by pid."""
        return {row.pid: row.to_json() for row in self.wf.store.list_schedulers()}

    def ids(self, timeout: float = 120) -> dict[str, dict[str, Any]]:
        """name -> registry row, once every started scheduler has registered."""
        def all_registered() -> dict[str, dict[str, Any]] | None:
            rows = self.registered()
            found = {name: rows.get(p.pid) for name, p in self.processes.items()}
            return found if all(found.values()) else None  # type: ignore[return-value]

        try:
            return wait_until(all_registered, timeout, "every scheduler to register", 0.2)
        except AssertionError as exc:
            rows = self.registered()
            missing = {name: self.wf.output_of(name)[-2000:]
                       for name, p in self.processes.items() if p.pid not in rows}
            raise AssertionError(f"{exc}; not registered (their output): {missing}") from None

    def kill(self, name: str) -> None:
        """SIGKILL a scheduler (and its fork server); its workers, in their own process
        groups, carry on as they would when a host's scheduler service crashes."""
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for name in self.processes:
            self.kill(name)


@pytest.fixture
def cluster(wf: Wfsched, work_dir: Path):
    """Start schedulers; at the end kill them and any worker the test left running."""
    started = Cluster(wf)
    yield started
    started.stop_all()
    for path in work_dir.glob("*.json"):
        pid = int(path.stem.rsplit("-", 1)[1])
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


def _executions(wf: Wfsched) -> list[Any]:
    return wf.store.list_executions(limit=10_000)


def _wait_all_final(wf: Wfsched, count: int, timeout: float) -> list[Any]:
    def done() -> list[Any] | None:
        rows = _executions(wf)
        finished = [e for e in rows if e.status.is_final]
        return rows if len(rows) >= count and len(finished) == len(rows) else None

    def progress() -> str:
        return str(Counter(e.status.value for e in _executions(wf)))

    try:
        return wait_until(done, timeout, "every execution to finish", 0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; now {progress()}") from None


def _ran_once_each(wf: Wfsched, work_dir: Path, kind: str, ids: list[int]) -> list[dict]:
    records = wf.records(work_dir, kind)
    runs = Counter(r["execution_id"] for r in records)
    twice = {i: n for i, n in runs.items() if n > 1}
    assert not twice, f"executions that ran more than once: {twice}"
    assert sorted(runs) == sorted(ids), "some executions never ran"
    return records


@pytest.mark.parametrize("db_kind", SERVERS)
def test_three_schedulers_run_300_executions_once_each_within_their_limits(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    limits = {"a": 2, "b": 3, "c": 4}
    # workers forked from a warm parent: 300 fresh interpreters would cost minutes of CPU
    # on a small machine, and how workers start is not what this test is about
    assert TEST_CONFIG.count("[") == 1, "the appended line must land in [scheduler]"
    wf.config_path.write_text(TEST_CONFIG + 'start_mode = "fork"\n')
    ids = wf.trigger("mark", count=300, dir=work_dir, seconds=0.02)
    for name, limit in limits.items():
        cluster.start(name, "--max-concurrent", str(limit))
    registry = cluster.ids()
    rows = _wait_all_final(wf, 300, timeout=420)
    assert Counter(e.status.value for e in rows) == {"completed": 300}, \
        [(e.id, e.status.value, e.error, e.error_detail) for e in rows
         if e.status.value != "completed"]
    _ran_once_each(wf, work_dir, "ran", ids)

    by_owner: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for execution in rows:
        by_owner[execution.claimed_by].append(
            (execution.started_at.timestamp(), execution.finished_at.timestamp()))
    limit_of = {registry[name]["id"]: limit for name, limit in limits.items()}
    assert set(by_owner) <= set(limit_of), f"unknown owners: {set(by_owner) - set(limit_of)}"
    for owner, intervals in by_owner.items():
        peak = max_overlap(intervals)
        assert peak <= limit_of[owner], f"scheduler {owner} ran {peak} at once, " \
                                        f"its --max-concurrent is {limit_of[owner]}"
    # the work was shared: every scheduler claimed some of it
    assert set(by_owner) == set(limit_of), {o: len(i) for o, i in by_owner.items()}


@pytest.mark.parametrize("db_kind", SERVERS)
def test_sigkill_one_of_three_schedulers_its_running_work_is_adopted_not_rerun(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    ids = wf.trigger("mark", count=15, dir=work_dir, seconds=4)
    for name in ("a", "b", "c"):
        cluster.start(name, "--max-concurrent", "3")
    victim = cluster.ids()["a"]["id"]

    def victim_runs() -> list[Any]:
        return [e for e in _executions(wf) if e.claimed_by == victim
                and e.status.value == "running"]

    running = wait_until(victim_runs, 30, "the victim scheduler to run some executions", 0.1)
    cluster.kill("a")
    rows = _wait_all_final(wf, 15, timeout=180)
    # alive workers of a dead scheduler are adopted, not failed; none runs twice
    assert Counter(e.status.value for e in rows) == {"completed": 15}
    _ran_once_each(wf, work_dir, "ran", ids)
    # (one that finished before the others noticed the death keeps its owner: no harm)
    adopted = [e.id for e in running if wf.execution(e.id).claimed_by != victim]
    assert adopted, "no running execution of the killed scheduler was adopted"
    logged = [int(n) for n in re.findall(r"adopted running execution (\d+)",
                                         wf.output_of("b") + wf.output_of("c"))]
    assert len(logged) == len(set(logged)), "an execution was adopted twice"
    assert set(adopted) <= set(logged)
    assert all(wf.execution(i).claimed_by != victim for i in logged)
    assert not wf.store.running_executions()


@pytest.mark.parametrize("db_kind", SERVERS)
def test_concurrency_one_holds_across_three_schedulers(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    wf.write_config("[workflows.interval]\nconcurrency = 1\n")
    # many short runs: the slot is free only for the instant between one run's end and
    # the next claim, which the scheduler that ran it (woken by its worker's report) is
    # often first to take; over a hundred such instants the others take some as well
    ids = wf.trigger("interval", count=100, dir=work_dir, seconds=0)
    for name in ("a", "b", "c"):
        cluster.start(name, "--max-concurrent", "4")
    owners = cluster.ids()
    rows = _wait_all_final(wf, 100, timeout=180)
    assert Counter(e.status.value for e in rows) == {"completed": 100}
    records = _ran_once_each(wf, work_dir, "interval", ids)
    # the workflow's own clock: never two at once, cluster-wide
    assert max_overlap([(r["start"], r["end"]) for r in records]) == 1
    # and more than one scheduler took part, so the limit was not held by luck
    assert len({e.claimed_by for e in rows}) >= 2, {o["id"] for o in owners.values()}


@pytest.mark.parametrize("db_kind", SERVERS)
def test_queues_route_each_execution_to_a_scheduler_of_its_queue(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    wf.write_config('[workflows.mark]\nqueue = "reports"\n')
    reports = wf.trigger("mark", count=10, dir=work_dir)
    plain = wf.trigger("noop", count=10)
    cluster.start("reports", "--queue", "reports", "--max-concurrent", "3")
    cluster.start("default", "--queue", "default", "--max-concurrent", "3")
    owners = {name: row["id"] for name, row in cluster.ids().items()}
    _wait_all_final(wf, 20, timeout=180)
    for execution_id in reports:
        execution = wf.execution(execution_id)
        assert execution.status.value == "completed"
        assert (execution.queue, execution.claimed_by) == ("reports", owners["reports"])
    for execution_id in plain:
        execution = wf.execution(execution_id)
        assert execution.status.value == "completed"
        assert (execution.queue, execution.claimed_by) == (None, owners["default"])


@pytest.mark.parametrize("db_kind", SERVERS)
def test_schedulers_list_shows_live_dead_and_stopped(db_kind: str, wf: Wfsched,
                                                     cluster: Cluster) -> None:
    for name in ("live", "dead", "stopped"):
        cluster.start(name, "--max-concurrent", "2")
    pids = {name: p.pid for name, p in cluster.processes.items()}
    cluster.ids()
    cluster.kill("dead")
    stopper = cluster.processes["stopped"]
    stopper.send_signal(signal.SIGTERM)
    assert stopper.wait(30) == 0

    def states() -> dict[str, dict[str, Any]] | None:
        rows = {r["pid"]: r for r in wf.json("schedulers", "list", "--all")}
        by_name = {name: rows[pid] for name, pid in pids.items()}
        # the killed one is dead once its heartbeat is older than heartbeat_timeout (5 s)
        return by_name if by_name["dead"]["state"] == "dead" else None

    rows = wait_until(states, 30, "the killed scheduler to be listed as dead", 0.5)
    assert {n: r["state"] for n, r in rows.items()} == \
        {"live": "live", "dead": "dead", "stopped": "stopped"}
    for row in rows.values():
        assert row["host"] == os.uname().nodename
        assert len(row["id"]) >= 8 and row["version"] and row["max_concurrent"] == 2
        assert row["started_at"] and row["heartbeat_at"]
    assert rows["stopped"]["stopped_at"] and rows["live"]["stopped_at"] is None
    # without --all, the stopped one is left out
    listed = {r["pid"] for r in wf.json("schedulers", "list")}
    assert pids["stopped"] not in listed and {pids["live"], pids["dead"]} <= listed


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_dependent_workflow_is_queued_on_its_own_queue(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    wf.write_config('[workflows.mark]\nqueue = "reports"\ndepends_on = ["noop"]\n')
    cluster.start("reports", "--queue", "reports", "--max-concurrent", "2")
    cluster.start("default", "--queue", "default", "--max-concurrent", "2")
    owners = {name: row["id"] for name, row in cluster.ids().items()}
    (upstream,) = wf.trigger("noop")
    rows = _wait_all_final(wf, 2, timeout=120)
    (dependent,) = [e for e in rows if e.workflow == "mark"]
    assert wf.execution(upstream).claimed_by == owners["default"]
    assert (dependent.status.value, dependent.queue, dependent.claimed_by) == \
        ("completed", "reports", owners["reports"])


@pytest.mark.parametrize("db_kind", SERVERS)
def test_a_scheduler_never_ends_an_execution_another_took_over(
        db_kind: str, wf: Wfsched, work_dir: Path, monkeypatch: pytest.MonkeyPatch,
        testworkflows_path: Path) -> None:
    from inprocess import make_scheduler, stop, tick_until

    (execution_id,) = wf.trigger("hang", dir=work_dir)
    scheduler = make_scheduler(monkeypatch, wf.home, wf.database_url, testworkflows_path)
    try:
        tick_until(scheduler, lambda: wf.execution(execution_id).status.value == "running",
                   30, "the worker running")
        # another scheduler, live on another host, took it over meanwhile (as after a
        # heartbeat it missed); live, so recovery leaves its execution alone too
        now = utcnow()
        wf.store.register_scheduler(SchedulerRow("other", "elsewhere", 1, now, now, "test"))
        with wf.store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE workflow_executions SET claimed_by = 'other' "
                                 f"WHERE id = {int(execution_id)}")
        os.kill(wf.execution(execution_id).pid, signal.SIGKILL)
        tick_until(scheduler, lambda: execution_id not in scheduler.tracked, 30,
                   "the scheduler to notice its worker's exit")
        execution = wf.execution(execution_id)
        assert (execution.status.value, execution.claimed_by) == ("running", "other")
        assert execution.error is None  # the owner decides, not the old scheduler
    finally:
        stop(scheduler)
