"""The ``detached`` spawner (plugins/wfsched-spawner-detached), for real on POSIX.

Workers run in a session of their own: they survive a SIGKILLed scheduler, are adopted
(not started again) by the next one, and a worker killed under a scheduler, or while no
scheduler ran, is found and marked failed (by PID on its host, by heartbeat otherwise).
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from helpers import PYTHON, TEST_CONFIG, Wfsched, wait_until
from wfsched_spawner_detached.popen_options import detached_popen_kwargs
from wfsched_spawner_detached.spawner import DetachedSpawner

from wfsched_core.base.records import utcnow
from wfsched_core.framework.spawning import Liveness, WorkerHandle

SHORT_TIMEOUT = 3.0


def _short_heartbeat_timeout(wf: Wfsched) -> None:
    """A heartbeat that expires sooner than the test configuration's 5 s."""
    assert "heartbeat_timeout = 5" in TEST_CONFIG
    wf.config_path.write_text(TEST_CONFIG.replace(
        "heartbeat_timeout = 5", f"heartbeat_timeout = {SHORT_TIMEOUT:g}"))


def _kill_group(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _records(wf: Wfsched, work_dir: Path, kind: str, count: int) -> list[dict]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 30, f"{count} {kind} record(s)")


@pytest.fixture
def schedulers(wf: Wfsched):
    """Start ``wfsched scheduler --spawner detached`` daemons; kill what is left after."""
    started: list[subprocess.Popen[str]] = []

    def start(name: str = "scheduler", argv_prefix: list[str] | None = None):
        args = ["scheduler", "--spawner", "detached", "--max-concurrent", "3"]
        if argv_prefix is None:
            process = wf.popen(*args, name=name)
        else:
            out = open(wf.home / f"{name}.out", "w")  # noqa: SIM115 - closed by the OS
            process = subprocess.Popen([*argv_prefix, *wf.argv(*args)], env=wf.env,
                                       cwd=wf.home, text=True, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        _kill_group(process)


@pytest.fixture
def no_stray_workers(work_dir: Path):
    """Kill any worker a failing test left behind (they are detached on purpose)."""
    yield
    for path in work_dir.glob("*.json"):
        pid = int(path.stem.rsplit("-", 1)[1])
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_survive_a_killed_scheduler_and_are_adopted_not_rerun(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    ids = wf.trigger("mark", count=2, seconds=6, dir=work_dir)
    first = schedulers()
    records = _records(wf, work_dir, "ran", 2)
    for record in records:  # a new session: not the scheduler's process group
        assert os.getsid(record["pid"]) == record["pid"]
    first_owner = wf.execution(ids[0]).claimed_by
    _kill_group(first)
    assert all(_alive(r["pid"]) for r in records), "a detached worker died with its scheduler"

    second = schedulers("scheduler2")
    for execution_id in ids:
        execution = wf.wait_for_status(execution_id, "completed", timeout=40)
        assert execution.spawner == "detached"
        assert execution.claimed_by != first_owner
    assert len(wf.records(work_dir, "ran")) == 2, "an adopted execution was started again"
    assert wf.output_of("scheduler2").count("adopted running execution") == 2
    assert second.poll() is None


def test_a_graceful_stop_leaves_detached_workers_running(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    (execution_id,) = wf.trigger("mark", seconds=3, dir=work_dir)
    daemon = schedulers()
    (record,) = _records(wf, work_dir, "ran", 1)
    os.kill(daemon.pid, signal.SIGTERM)
    assert daemon.wait(30) == 0  # does not wait for (nor stop) the detached worker
    assert _alive(record["pid"])
    # the worker records its own final status with no scheduler at all
    wf.wait_for_status(execution_id, "completed", timeout=30)
    wait_until(lambda: not _alive(record["pid"]), 15, "the worker to exit")


def test_a_worker_killed_under_its_scheduler_is_failed_by_pid(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    daemon = schedulers()
    (record,) = _records(wf, work_dir, "started", 1)
    os.kill(record["pid"], signal.SIGKILL)
    execution = wf.wait_for_status(execution_id, "failed", timeout=15)
    assert "killed by signal SIGKILL" in execution.error
    # reaped by the scheduler that started it: no zombie left (pid_exists sees zombies)
    wait_until(lambda: not psutil.pid_exists(record["pid"]), 15, "the worker to be reaped")
    assert daemon.poll() is None


def test_a_worker_killed_while_no_scheduler_ran_is_failed_by_heartbeat_expiry(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    _short_heartbeat_timeout(wf)
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    first = schedulers()
    (record,) = _records(wf, work_dir, "started", 1)
    _kill_group(first)
    os.kill(record["pid"], signal.SIGKILL)
    wait_until(lambda: wf.execution(execution_id).heartbeat_at
               < utcnow() - timedelta(seconds=SHORT_TIMEOUT + 0.5), 30,
               "the heartbeat to expire")
    schedulers("scheduler2")
    execution = wf.wait_for_status(execution_id, "failed", timeout=30)
    assert execution.error.startswith("worker lost: no heartbeat since"), execution.error


def test_an_adopted_worker_killed_later_is_failed_by_pid_on_its_host(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    first = schedulers()
    (record,) = _records(wf, work_dir, "started", 1)
    _kill_group(first)
    schedulers("scheduler2")
    wait_until(lambda: "adopted running execution" in wf.output_of("scheduler2"), 30,
               "the new scheduler to adopt the worker")
    os.kill(record["pid"], signal.SIGKILL)
    # not its child, same host: PID + create time tell (the heartbeat would say "lost")
    execution = wf.wait_for_status(execution_id, "failed", timeout=30)
    assert execution.error == ("worker is gone (exit status unknown: not this scheduler's "
                               "child) without recording a final status")


def _other_host_prefix() -> list[str]:
    """argv that runs a command under another host name (a new UTS namespace)."""
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a UTS namespace here (needs root): "
                    + probe.stderr.decode(errors="replace").strip())
    # set the host name, then exec the command given after "--"
    code = ("import os, socket, sys; socket.sethostname('wfsched-other-host'); "
            "os.execv(sys.argv[1], sys.argv[1:])")
    return ["unshare", "--uts", "--", PYTHON, "-c", code]


def test_a_scheduler_on_another_host_adopts_by_heartbeat_and_fails_on_expiry(
        wf: Wfsched, work_dir: Path, schedulers, no_stray_workers) -> None:
    _short_heartbeat_timeout(wf)
    (execution_id,) = wf.trigger("hang", dir=work_dir)
    first = schedulers()
    (record,) = _records(wf, work_dir, "started", 1)
    _kill_group(first)
    schedulers("other", argv_prefix=_other_host_prefix())
    wait_until(lambda: "adopted running execution" in wf.output_of("other"), 30,
               "the other host's scheduler to adopt the worker (by its fresh heartbeat)")
    os.kill(record["pid"], signal.SIGKILL)  # it cannot see this: only the heartbeat stops
    execution = wf.wait_for_status(execution_id, "failed", timeout=30)
    assert execution.error == "worker lost: its heartbeat stopped"


# --- unit tests: what cannot run here for real ------------------------------------------


def test_windows_arguments_are_the_start_b_equivalent() -> None:
    """A stand-in for Windows, which cannot run here: check what Popen would receive."""
    kwargs = detached_popen_kwargs("win32")
    assert kwargs["creationflags"] == 0x00000200 | 0x00000008  # NEW_PROCESS_GROUP|DETACHED
    assert "start_new_session" not in kwargs and "shell" not in kwargs
    assert detached_popen_kwargs("linux") == {"start_new_session": True, "close_fds": True}


def test_a_handle_from_another_host_is_unknown_and_never_signalled(tmp_path: Path) -> None:
    from wfsched_core.base.config import Settings

    spawner = DetachedSpawner(Settings(home=tmp_path, database_url="sqlite://"))
    # our own PID: were the host ignored, poll would say ALIVE and stop would kill us
    handle = WorkerHandle("detached", {"pid": os.getpid(), "create_time": None,
                                       "host": "some-other-host"})
    assert spawner.poll(handle).liveness is Liveness.UNKNOWN
    spawner.stop(handle, grace=0.1)
    assert spawner.sees_process is False and spawner.survives_scheduler is True
    gone = WorkerHandle("detached", {"pid": os.getpid(), "create_time": 1.0,
                                     "host": spawner.host})
    assert spawner.poll(gone).liveness is Liveness.EXITED  # a recycled PID is not ours
