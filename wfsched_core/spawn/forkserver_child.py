"""A child of the fork server: becoming a worker process and running its execution.

Two ways in, both ending in :func:`_become_worker`:

- :func:`run_child` — forked for a request, it becomes the worker at once;
- :func:`run_spare` — forked *ahead* of any request (the fork server keeps one such spare),
  it does what does not depend on the request — its own process group, fresh signal
  dispositions, the inherited descriptors closed — then waits for the request on its
  pipe, so the fork and that set-up are no longer between a trigger and the workflow's
  first line.

Either way the child then runs the lean worker (``python -m wfsched_core.worker ID``),
which reports to its scheduler (see ``forkserver.py``).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback
from typing import Any, NoReturn

# The only command a forked child runs: the tail of ``python -m wfsched_core.worker ID``.
WORKER_MODULE_ARGS = ("-m", "wfsched_core.worker")


def run_child(request: dict[str, Any], server_fds: tuple[int, ...]) -> NoReturn:
    """In a child forked for ``request``: become a fresh worker process and run it."""
    def detach_and_run() -> int:
        _detach(server_fds)
        return _become_worker(request, close_inherited=True)

    _exit_after(detach_and_run)


def run_spare(request_fd: int, server_fds: tuple[int, ...]) -> NoReturn:
    """In a spare child: prepare, wait for a request on ``request_fd``, then run it.

    End of input before a request (the server stopped or died) ends the spare quietly.
    """
    def prepare_and_run() -> int:
        _detach(server_fds)
        _close_inherited(keep=request_fd)
        request = _read_request(request_fd)
        os.close(request_fd)
        if request is None:
            return 0
        return _become_worker(request, close_inherited=False)

    _exit_after(prepare_and_run)


def _exit_after(body: Any) -> NoReturn:
    code = 1
    try:
        code = body()
        # os._exit below skips what a fresh interpreter's exit does: run the exit handlers
        # (notifiers wait there, within a bound, for deliveries still in flight)
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)


def _detach(server_fds: tuple[int, ...]) -> None:
    """Own process group, fresh signal dispositions, the server's descriptors closed."""
    os.setpgid(0, 0)
    _reset_signals()
    for fd in server_fds:
        os.close(fd)


def _close_inherited(keep: int) -> None:
    """Close every inherited descriptor above 2 but ``keep``."""
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


def _read_request(fd: int) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _become_worker(request: dict[str, Any], close_inherited: bool) -> int:
    _redirect_output(request["log_path"], close_inherited)
    _change_environment(request["env"], request.get("unset", ()))
    if request.get("cwd"):
        os.chdir(request["cwd"])
    argv = list(request["argv"])
    sys.argv = [argv[0], *argv[1 + len(WORKER_MODULE_ARGS):]]
    from wfsched_core.worker.__main__ import main

    return main(sys.argv[1:])


def _change_environment(changed: dict[str, str], unset: Any) -> None:
    """Make ``os.environ`` the request's: the server's own, with the variables the
    request changes (its plan, its owner ...) and without those it removes."""
    for key in unset:
        os.environ.pop(key, None)
    for key, value in changed.items():
        os.environ[key] = value


def _reset_signals() -> None:
    """The dispositions a fresh interpreter starts with."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def _redirect_output(log_path: str, close_inherited: bool) -> None:
    """stdin from /dev/null, stdout and stderr appended to the execution's log file."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if close_inherited:
        # whatever else the server inherited or imported opened is not the worker's business
        os.closerange(3, _max_fd())
    else:  # a spare closed them already
        os.close(log_fd)
        os.close(null_fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    # unbuffered, as PYTHONUNBUFFERED=1 makes an exec'd worker
    sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr  # type: ignore[misc]


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 65536)
    except (ValueError, OSError):
        return 4096
