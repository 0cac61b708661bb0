"""Schedulers on hosts with their own names: host-aware recovery with real distinct hosts.

Each scheduler runs in a UTS namespace of its own (``unshare --uts``) under its own host
name, and so do the workers it starts, whose ``host`` column is then that name. A
scheduler on host B cannot see the processes of host A: it must judge A's workers by
their heartbeat, never by a PID looked up on its own host (here the PID namespace is in
fact shared, so a PID-based verdict would be wrong only silently: the tests check the
reason recorded and the timing, which tell which rule was used).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import PYTHON, Wfsched, wait_until

SERVERS = ["postgresql", "mariadb"]
HEARTBEAT_TIMEOUT = 5  # tests/helpers.py TEST_CONFIG

# Runs as: python -c CODE HOSTNAME PROGRAM ARGS...: set the host name, then become PROGRAM.
_SET_HOSTNAME_THEN_EXEC = (
    "import os, socket, sys; socket.sethostname(sys.argv[1]); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


@pytest.fixture(scope="module")
def uts_namespaces() -> None:
    if shutil.which("unshare") is None:
        problem = "the unshare command (util-linux) is not installed"
    else:
        probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
        problem = "" if probe.returncode == 0 else \
            probe.stderr.decode(errors="replace").strip() or f"exit code {probe.returncode}"
    if problem:
        reason = ("cannot create a UTS namespace here (unshare --uts needs root or user "
                  f"namespaces): {problem}")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI=true runs as root: this must work there)")
        pytest.skip(reason)


class Hosts:
    """Schedulers, each on a host of its own name."""

    def __init__(self, wf: Wfsched) -> None:
        self.wf = wf
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, host: str, *args: str) -> subprocess.Popen[str]:
        out = open(self.wf.home / f"{host}.out", "w")  # noqa: SIM115 - closed by the OS
        argv = ["unshare", "--uts", PYTHON, "-c", _SET_HOSTNAME_THEN_EXEC, host,
                *self.wf.argv("scheduler", *args)]
        process = subprocess.Popen(argv, env=self.wf.env, cwd=self.wf.home, text=True,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[host] = process
        return process

    def scheduler_id(self, host: str) -> str:
        pid = self.processes[host].pid  # unshare and the helper exec: one process all along
        row = wait_until(lambda: next((r for r in self.wf.store.list_schedulers()
                                       if r.pid == pid), None),
                         60, f"the scheduler of {host} to register", 0.2)
        assert row.host == host
        return row.id

    def kill(self, host: str) -> None:
        """SIGKILL the host's scheduler (its workers have process groups of their own)."""
        process = self.processes[host]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def hosts(uts_namespaces: None, wf: Wfsched, work_dir: Path):
    started = Hosts(wf)
    yield started
    for host in started.processes:
        started.kill(host)
    for path in work_dir.glob("*.json"):
        try:
            psutil.Process(int(path.stem.rsplit("-", 1)[1])).kill()
        except psutil.Error:
            pass


def _records(wf: Wfsched, work_dir: Path, kind: str, count: int) -> list[dict[str, Any]]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 60, f"{count} {kind} record(s)", 0.1)


def _adopted(wf: Wfsched, host: str, count: int) -> None:
    wait_until(lambda: wf.output_of(host).count("adopted running execution") >= count, 60,
               f"the scheduler of {host} to adopt {count} worker(s) by their heartbeat", 0.2)


@pytest.mark.parametrize("db_kind", SERVERS)
def test_live_workers_of_a_dead_host_are_adopted_and_finish(
        db_kind: str, wf: Wfsched, work_dir: Path, hosts: Hosts) -> None:
    # host B serves another queue: it claims none of A's work, but recovery is for all
    wf.write_config('[workflows.noop]\nqueue = "b-only"\n')
    hosts.start("host-a", "--max-concurrent", "2", "--queue", "default")
    hosts.start("host-b", "--max-concurrent", "2", "--queue", "b-only")
    b = hosts.scheduler_id("host-b")
    hosts.scheduler_id("host-a")
    ids = wf.trigger("mark", count=2, dir=work_dir, seconds=15)
    records = _records(wf, work_dir, "ran", 2)
    assert {r["host"] for r in records} == {"host-a"}  # the workers live on host A
    assert {wf.execution(i).host for i in ids} == {"host-a"}
    hosts.kill("host-a")
    _adopted(wf, "host-b", 2)
    for execution_id in ids:  # alive: never declared dead because their scheduler died
        execution = wf.wait_for_status(execution_id, "completed", "failed", timeout=60)
        assert (execution.status.value, execution.claimed_by) == ("completed", b)
    assert len(wf.records(work_dir, "ran")) == 2, "an adopted execution was started again"
    # the adopted executions gave their slots back: B (limit 2) runs new work at once
    for execution_id in wf.trigger("noop", count=2):
        execution = wf.wait_for_status(execution_id, "completed", timeout=30)
        assert (execution.claimed_by, execution.host) == (b, "host-b")


@pytest.mark.parametrize("db_kind", SERVERS)
def test_workers_of_a_dead_host_killed_later_fail_by_heartbeat_and_are_retried(
        db_kind: str, wf: Wfsched, work_dir: Path, hosts: Hosts) -> None:
    wf.write_config("[workflows.hang]\nretries = 1\n")
    hosts.start("host-a", "--max-concurrent", "2")
    hosts.scheduler_id("host-a")
    ids = wf.trigger("hang", count=2, dir=work_dir)
    records = _records(wf, work_dir, "started", 2)
    hosts.start("host-b", "--max-concurrent", "2")  # nothing pending: it claims nothing
    b = hosts.scheduler_id("host-b")
    hosts.kill("host-a")
    _adopted(wf, "host-b", 2)
    for record in records:  # now the workers die too: only their heartbeat can tell B
        os.kill(record["pid"], signal.SIGKILL)
    for execution_id in ids:
        execution = wf.wait_for_status(execution_id, "failed", timeout=60)
        assert execution.error == "worker lost: its heartbeat stopped", execution.error
        assert execution.claimed_by == b
        # judged by the heartbeat's age, not at once by a PID looked up on host B
        silent = (execution.finished_at - execution.heartbeat_at).total_seconds()
        assert silent >= HEARTBEAT_TIMEOUT, f"failed after only {silent:.1f}s of silence"
    # and retried, on the live host
    retries = _records(wf, work_dir, "started", 4)[2:]
    retried = {r["execution_id"]: wf.execution(r["execution_id"]) for r in retries}
    assert sorted(e.retry_of for e in retried.values()) == sorted(ids)
    assert all((e.attempt, e.host, e.claimed_by) == (2, "host-b", b)
               for e in retried.values())
