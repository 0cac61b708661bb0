"""The ``local`` spawner's fork start mode: workers forked from a warm fork server.

Each forked worker must still be a process of its own (PID, process group, log file,
crash isolation, a killable tree) and must inherit no database connection or thread.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from helpers import Wfsched, wait_until


@pytest.fixture
def wf(wf: Wfsched) -> Wfsched:
    """The runner with the fork start mode on (appended to the [scheduler] table)."""
    wf.write_config('start_mode = "fork"\n')
    return wf


@pytest.fixture
def daemon(wf: Wfsched):
    process = wf.popen("scheduler", "--max-concurrent", "3")
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    for child in _fork_servers(process.pid):  # its own process group: not hit above
        child.kill()


def _fork_servers(scheduler_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(scheduler_pid).children()
    except psutil.NoSuchProcess:
        return []
    servers = []
    for child in children:
        try:
            if "wfsched_core.spawn.forkserver" in child.cmdline():
                servers.append(child)
        except psutil.NoSuchProcess:
            pass
    return servers


def _fork_server(daemon) -> psutil.Process:
    return wait_until(lambda: (_fork_servers(daemon.pid) or [None])[0], 30,
                      "the scheduler's fork server")


def _started(wf: Wfsched, work_dir: Path, kind: str, count: int = 1) -> list[dict]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 30, f"{count} {kind} record(s)")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_forked_worker_is_its_own_process(wf: Wfsched, work_dir: Path, daemon) -> None:
    (execution_id,) = wf.trigger("hang", dir=work_dir, seconds=300)
    record = _started(wf, work_dir, "started")[0]
    server = _fork_server(daemon)
    worker = psutil.Process(record["pid"])
    assert worker.ppid() == server.pid  # forked, not a fresh interpreter
    assert record["pid"] not in (daemon.pid, server.pid)
    assert os.getpgid(record["pid"]) == record["pid"]  # its own process group
    assert os.getpgid(server.pid) != os.getpgid(daemon.pid)
    assert wf.execution(execution_id).pid == record["pid"]
    # the request's environment reached it: WFSCHED_OWNER made it the scheduler's, not manual
    assert not wf.execution(execution_id).claimed_by.startswith("manual-")
    wf.run("cancel", str(execution_id))
    wait_until(lambda: not _alive(record["pid"]), 15, "the cancelled worker gone")


def test_output_and_crashes_of_forked_workers(wf: Wfsched, work_dir: Path) -> None:
    chatty = wf.trigger("chatty")[0]
    crashed = wf.trigger("crash", dir=work_dir)[0]
    exited = wf.trigger("crash", how="exit", code=7, dir=work_dir)[0]
    noops = wf.trigger("noop", count=3)
    result = wf.run("-v", "scheduler", "--once", "--max-concurrent", "3", check=False)
    assert result.returncode == 1, result.stderr
    assert "fork start mode unavailable" not in result.stderr
    log_text = (wf.home / "logs" / f"{chatty}.log").read_text()
    for line in ("stdout line: <script>alert(1)</script>", "stderr line",
                 "log record from step talk"):
        assert line in log_text
    assert "killed by signal SIGKILL" in wf.execution(crashed).error
    assert "exited with code 7" in wf.execution(exited).error
    assert wf.execution(exited).exit_code == 7
    for execution_id in [chatty, *noops]:  # the crashes took nothing else down
        assert wf.execution(execution_id).status.value == "completed"
    pids = {wf.execution(i).pid for i in [chatty, crashed, exited, *noops]}
    assert len(pids) == 6  # one process per execution


def test_sigkilled_forked_worker_ends_failed_and_cancel_stops_its_tree(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    (killed,) = wf.trigger("hang", dir=work_dir)
    record = _started(wf, work_dir, "started")[0]
    os.kill(record["pid"], signal.SIGKILL)
    execution = wf.wait_for_status(killed, "failed", timeout=15)
    assert "killed by signal SIGKILL" in execution.error
    (cancelled,) = wf.trigger("with_child", dir=work_dir)
    child = _started(wf, work_dir, "child")[0]
    assert psutil.Process(child["pid"]).ppid() == _fork_server(daemon).pid
    wf.run("cancel", str(cancelled))
    wait_until(lambda: not _alive(child["pid"]), 15, "the cancelled worker gone")
    wait_until(lambda: not _alive(child["child_pid"]), 15, "the worker's own child gone")
    assert wf.execution(cancelled).status.value == "cancelled"
    assert daemon.poll() is None


def test_fork_server_holds_no_connection_or_thread(
        wf: Wfsched, db_kind: str, work_dir: Path, daemon) -> None:
    ids = wf.trigger("mark", count=4, dir=work_dir)
    for execution_id in ids:
        wf.wait_for_status(execution_id, "completed")
    server = _fork_server(daemon)
    assert server.num_threads() == 1
    connections = getattr(server, "net_connections", None) or server.connections  # psutil < 6
    assert connections(kind="inet") == []
    database_files = [f.path for f in server.open_files() if "wfsched.db" in f.path]
    assert database_files == []
    # every worker opened its own connection: all four recorded their own status
    assert len({wf.execution(i).pid for i in ids}) == 4


def test_fork_server_death_falls_back_to_fresh_interpreters(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    (hanging,) = wf.trigger("hang", dir=work_dir)
    record = _started(wf, work_dir, "started")[0]
    _fork_server(daemon).kill()
    # the worker it forked is still watched (by PID) and its death still noticed
    os.kill(record["pid"], signal.SIGKILL)
    wf.wait_for_status(hanging, "failed", timeout=15)
    (later,) = wf.trigger("noop")
    wf.wait_for_status(later, "completed")
    assert daemon.poll() is None


def test_exec_start_mode_and_a_bad_one(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('start_mode = "exec"\n')  # appended to the [scheduler] table
    (execution_id,) = wf.trigger("mark", dir=work_dir)
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).status.value == "completed"
    wf.write_config('start_mode = "spawn"\n')
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 2
    assert "start_mode" in result.stderr and "Traceback" not in result.stderr


def _spare(server: psutil.Process, workers: set[int]) -> psutil.Process | None:
    """The fork server's child that runs no execution: the spare waiting for a request."""
    spares = [c for c in server.children() if c.pid not in workers and _alive(c.pid)]
    return spares[0] if len(spares) == 1 else None


def test_a_spare_forked_ahead_runs_the_next_execution_and_may_die_harmlessly(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    server = _fork_server(daemon)
    spare = wait_until(lambda: _spare(server, set()), 30, "the fork server's spare")
    # ready ahead of any request: its own process group, and no database file open (a
    # lean worker reports through its scheduler)
    assert os.getpgid(spare.pid) == spare.pid
    assert not any("wfsched.db" in f.path for f in spare.open_files())
    (first,) = wf.trigger("mark", dir=work_dir)
    assert wf.wait_for_status(first, "completed").pid == spare.pid
    # a spare that dies while it waits is replaced; the scheduler never hears of it
    second_spare = wait_until(lambda: _spare(server, {spare.pid}), 30, "the next spare")
    second_spare.kill()
    wait_until(lambda: not _alive(second_spare.pid), 15, "the killed spare gone")
    ids = wf.trigger("mark", count=3, dir=work_dir)
    for execution_id in ids:
        assert wf.wait_for_status(execution_id, "completed").exit_code == 0
    assert daemon.poll() is None
    used = {wf.execution(i).pid for i in [first, *ids]}
    assert second_spare.pid not in used
    wait_until(lambda: _spare(server, used), 30, "a spare again, after the killed one")


def test_fork_spares_is_configurable_and_checked(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('start_mode = "fork"\nfork_spares = 3\n')
    scheduler = wf.popen("scheduler", "--max-concurrent", "3")
    try:
        server = _fork_server(scheduler)
        wait_until(lambda: len([c for c in server.children() if _alive(c.pid)]) == 3, 30,
                   "three spares")
        ids = wf.trigger("mark", count=4, dir=work_dir)
        for execution_id in ids:
            wf.wait_for_status(execution_id, "completed")
    finally:
        servers = _fork_servers(scheduler.pid)
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(10)
        for child in servers:  # its spares end with it
            child.kill()
    for bad in ("-1", "100", '"two"'):
        wf.write_config(f'start_mode = "fork"\nfork_spares = {bad}\n')
        result = wf.run("scheduler", "--once", check=False)
        assert result.returncode == 2, (bad, result.stderr)
        assert "fork_spares" in result.stderr and "Traceback" not in result.stderr


def test_a_forked_worker_takes_exactly_the_requests_environment() -> None:
    """The request carries only what differs from the fork server's environment; the
    child, which starts from the server's, ends with exactly the request's."""
    from wfsched_core.spawn.forkserver_child import _change_environment
    from wfsched_core.spawn.forkserver_client import ForkServerClient

    saved = dict(os.environ)
    try:
        os.environ["WFSCHED_TEST_LEFT_OVER"] = "from the server"
        server_env = dict(os.environ)
        wanted = {k: v for k, v in saved.items() if k != "HOME"}
        wanted.update({"WFSCHED_TEST_NEW": "from the request", "PATH": "/request/bin"})
        change = ForkServerClient(server_env)._environment_change(wanted)
        assert set(change["env"]) == {"WFSCHED_TEST_NEW", "PATH"}
        assert set(change["unset"]) == {"WFSCHED_TEST_LEFT_OVER"} | ({"HOME"} & set(saved))
        _change_environment(change["env"], change["unset"])
        assert dict(os.environ) == wanted
    finally:
        os.environ.clear()
        os.environ.update(saved)
