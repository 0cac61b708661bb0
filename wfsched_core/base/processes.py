"""Process identity and process-tree control with psutil.

A worker is identified by PID *and* create time, so a PID that the OS recycled for
another process never passes for our worker.
"""

from __future__ import annotations

import logging
import os
import signal

import psutil

log = logging.getLogger(__name__)

# Create times are floats; two reads of the same process agree to well under this.
_CREATE_TIME_TOLERANCE = 0.05


def process_create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_same_process_alive(pid: int | None, create_time: float | None) -> bool:
    """True when ``pid`` runs and is the process that was created at ``create_time``."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time is None:
            return True
        return abs(process.create_time() - create_time) < _CREATE_TIME_TOLERANCE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def stop_process_tree(pid: int, create_time: float | None, grace: float) -> None:
    """SIGTERM the process and all its descendants, SIGKILL what remains after ``grace``."""
    if not is_same_process_alive(pid, create_time):
        return
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    _signal_all(tree, signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=grace)
    if alive:
        # children started meanwhile are caught here too
        for process in list(alive):
            try:
                alive.extend(process.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        log.warning("process tree of %s still alive after %.1fs; killing", pid, grace)
        _signal_all(alive, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)


def _signal_all(processes: list[psutil.Process], signum: int) -> None:
    for process in processes:
        try:
            process.send_signal(signum)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def describe_exit(returncode: int | None) -> str:
    """``Popen.returncode`` in words: ``killed by signal SIGKILL`` or ``exited with code 3``."""
    if returncode is None:
        return "exited (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {name}"
    return f"exited with code {returncode}"


def hostname() -> str:
    return os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "?")
