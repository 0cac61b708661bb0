"""Guarantee 7: an unwritable log directory or a full disk fails the execution with that
reason; the scheduler carries on. (Tests run as root, where chmod stops no write: the
log directory is made a regular file or a symlink to a non-directory instead, and the
full disk is ``/dev/full``, whose every write fails with ENOSPC.)"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from helpers import Wfsched

from faults.conftest import Schedulers


def _break_logs_dir(home: Path, how: str) -> None:
    logs = home / "logs"
    if how == "a regular file":
        logs.write_text("not a directory\n")
    else:
        logs.symlink_to("/dev/null")


@pytest.mark.parametrize("how", ["a regular file", "a symlink to /dev/null"])
def test_an_unusable_log_directory_fails_the_execution_not_the_scheduler(
        wf: Wfsched, how: str) -> None:
    _break_logs_dir(wf.home, how)
    (execution_id,) = wf.trigger("noop")
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 1, result.stderr  # a failed execution, not a crash
    assert "Traceback" not in result.stdout + result.stderr
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed"
    assert "could not start its worker: cannot open the execution log" in execution.error
    assert str(wf.home / "logs") in execution.error


def test_a_full_disk_fails_the_execution_with_enospc(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("chatty")
    logs = wf.home / "logs"
    logs.mkdir()
    (logs / f"{execution_id}.log").symlink_to("/dev/full")
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed"
    assert "No space left on device" in execution.error, execution.error


def test_the_daemon_survives_a_broken_log_directory_and_resumes_once_it_is_fixed(
        wf: Wfsched, schedulers: Schedulers) -> None:
    daemon = schedulers.start()
    (first,) = wf.trigger("noop")
    wf.wait_for_status(first, "completed")  # a log directory exists now: replace it
    logs = wf.home / "logs"
    for path in logs.iterdir():
        path.unlink()
    logs.rmdir()
    logs.write_text("not a directory\n")
    (failing,) = wf.trigger("noop")
    assert "cannot open the execution log" in wf.wait_for_status(failing, "failed").error
    logs.unlink()
    (healed,) = wf.trigger("noop")
    wf.wait_for_status(healed, "completed")
    assert daemon.poll() is None
    assert "Traceback" not in wf.output_of()
    os.kill(daemon.pid, signal.SIGTERM)
    assert daemon.wait(30) == 0


@pytest.fixture
def small_logs_disk(wf: Wfsched):
    """``logs/`` on a real 2 MB tmpfs (needs root: skipped with the reason without)."""
    import subprocess

    logs = wf.home / "logs"
    logs.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(logs)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield logs
    finally:
        subprocess.run(["umount", "-l", str(logs)], check=False)


@pytest.mark.parametrize("how", ["log", "print"])
def test_a_log_cut_short_by_a_full_disk_fails_the_run(
        wf: Wfsched, small_logs_disk: Path, how: str) -> None:
    """Issue 14, defect 3: 5 MB of log lines into a 2 MB disk was recorded `completed`
    with the log cut mid-line; now the step fails with the write's error."""
    (execution_id,) = wf.trigger("flood", megabytes=5, how=how)
    (after,) = wf.trigger("noop")
    result = wf.run("scheduler", "--once", check=False, timeout=120)
    assert result.returncode == 1, result.stderr
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed", execution.error
    assert "No space left on device" in execution.error
    (step,) = wf.store.steps(execution_id)
    assert step.status.value == "failed" and "No space left on device" in step.error
    # the scheduler carried on
    assert wf.execution(after).status.value in ("completed", "failed")
