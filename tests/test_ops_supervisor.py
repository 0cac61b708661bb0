"""The rendered supervisor program under a real supervisord, on loopback, in a temp dir."""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import IN_CI
from helpers import TEST_CONFIG, Wfsched, wait_until

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (pip package supervisor, tests/requirements-ops.txt)"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Supervisor:
    """supervisord in the foreground in a temporary directory, with supervisorctl."""

    def __init__(self, directory: Path, program: str, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.directory = directory
        self.env = env
        self.conf = directory / "supervisord.conf"
        self.conf.write_text(f"""\
[supervisord]
nodaemon=true
logfile={directory}/supervisord.log
pidfile={directory}/supervisord.pid
childlogdir={directory}
[inet_http_server]
port={self.url.removeprefix("http://")}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl={self.url}

{program}""")
        self.process = subprocess.Popen(
            [_tool("supervisord"), "-c", str(self.conf)], env=env, cwd=directory,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_tool("supervisorctl"), "-c", str(self.conf), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def state(self) -> str:
        fields = self.ctl("status", "wfsched").stdout.split()
        return fields[1] if len(fields) > 1 else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def supervisor(wf: Wfsched, tmp_path: Path) -> Iterator[Supervisor]:
    # a short grace period, so that stopping with a long-running worker is quick
    wf.config_path.write_text(TEST_CONFIG.replace("grace_period = 15", "grace_period = 2"))
    program = wf.run("deploy", "supervisor", "--user", getpass.getuser(),
                     "--max-concurrent", "3").stdout
    directory = tmp_path / "supervisor"
    directory.mkdir()
    result = Supervisor(directory, program, wf.env)
    yield result
    result.close()


def test_supervisor_runs_the_scheduler_and_stops_it_within_stopwaitsecs(
        wf: Wfsched, work_dir: Path, supervisor: Supervisor) -> None:
    wait_until(lambda: supervisor.state() == "RUNNING", 60,
               f"the program to be RUNNING: {supervisor.ctl('status').stdout}")
    quick = wf.trigger("mark", count=4, dir=work_dir)
    for execution_id in quick:
        wf.wait_for_status(execution_id, "completed", timeout=60)
    (hanging,) = wf.trigger("with_child", dir=work_dir)
    record = wait_until(lambda: wf.records(work_dir, "child"), 60, "the worker to start")[0]
    program = supervisor.conf.read_text()
    stop_wait = int(next(line.split("=")[1] for line in program.splitlines()
                         if line.startswith("stopwaitsecs=")))
    started = time.monotonic()
    result = supervisor.ctl("stop", "wfsched", timeout=stop_wait + 30)
    elapsed = time.monotonic() - started
    assert "stopped" in result.stdout, result.stdout + result.stderr
    # the scheduler stopped its worker itself after grace_period (2 s) + kill_grace (3 s):
    # well within stopwaitsecs, so supervisor never had to SIGKILL anything
    assert elapsed < stop_wait, f"stop took {elapsed:.1f}s, stopwaitsecs is {stop_wait}"
    assert supervisor.state() == "STOPPED"
    assert "SIGKILL" not in (supervisor.directory / "supervisord.log").read_text()
    execution = wf.execution(hanging)
    assert execution.status.value == "failed" and execution.error == "scheduler stopped"
    assert not wf.store.running_executions()
    for pid in (record["pid"], record["child_pid"]):
        wait_until(lambda p=pid: not _alive(p), 15, f"process {pid} gone")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_supervisor_render_starts_on_a_fresh_data_directory(
        wf: Wfsched, tmp_path: Path, work_dir: Path) -> None:
    home = tmp_path / "fresh"
    wf.extra_env["WFSCHED_DATABASE_URL"] = ""  # the default: SQLite in the data directory
    program = wf.run("deploy", "supervisor", "--user", getpass.getuser(), "--home", str(home))
    assert "does not exist yet" in program.stderr and not home.exists()
    create = next(x for x in program.stdout.splitlines() if "install -d" in x)
    subprocess.run(shlex.split(create.partition("sudo ")[2]), check=True, timeout=30)
    directory = tmp_path / "supervisor"
    directory.mkdir()
    supervisor = Supervisor(directory, program.stdout, wf.env)
    try:
        wait_until(lambda: supervisor.state() == "RUNNING", 60,
                   f"the program to be RUNNING: {supervisor.ctl('status').stdout}")
        wf.extra_env["WFSCHED_HOME"] = str(home)
        (execution_id,) = wf.trigger("mark", dir=work_dir)
        wait_until(lambda: wf.json("executions", "show", str(execution_id))["status"]
                   == "completed", 60, "the scheduler supervisord started to run it")
        assert (home / "wfsched.db").exists() and (home / "scheduler.log").exists()
        assert "stopped" in supervisor.ctl("stop", "wfsched").stdout
    finally:
        supervisor.close()
