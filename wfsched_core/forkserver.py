"""The fork server: a warm parent that forks one worker process per execution.

Started by the ``local`` spawner as ``python -m wfsched_core.forkserver REQUEST_FD
REPLY_FD``. It imports what a worker needs (the core, SQLAlchemy's ORM, the database
driver, every plugin and workflow package), then forks a child for each request; the
child runs ``wfsched execute ID`` in-process, so it skips interpreter start and imports
but is still its own process: own PID, own process group, output in its log file.

Why it is safe to fork here:

- the server is single-threaded (checked after warm-up: a plugin that starts a thread on
  import makes the server refuse, and the spawner falls back to fresh interpreters);
- it never opens a database connection (the engine built to import the driver is disposed
  before it ever connects), and the child closes every inherited descriptor above 2;
- the child resets signal handlers and logging, and takes the request's environment.

Protocol (JSON lines): the scheduler writes ``{"id", "argv", "env", "log_path", "cwd"}``
on REQUEST_FD; the server answers ``{"ready": true}`` once, then ``{"id", "pid"}`` (or
``{"id", "error"}``) per request and ``{"exit": pid, "code": returncode}`` when a child
ends (``code`` as ``Popen.returncode``: negative for a signal). End of input stops the
server; workers still running carry on, as they would after a scheduler with the exec
start mode died.
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import signal
import sys
import threading
import traceback
from typing import Any, NoReturn

log = logging.getLogger(__name__)

# The only command a forked child runs: the tail of ``python -m wfsched_core execute ID``.
WORKER_MODULE_ARGS = ("-m", "wfsched_core", "execute")


def warm_up() -> str | None:
    """Import everything a worker imports; return why forking is unsafe, or None."""
    from wfsched_core.cli import main as cli_main
    from wfsched_core.cli.app import App

    cli_main._load_command_modules()
    import sqlalchemy.orm  # noqa: F401 - the store's ORM: the bulk of a worker's start

    import wfsched_core.heartbeat  # noqa: F401
    import wfsched_core.store  # noqa: F401
    import wfsched_core.worker  # noqa: F401
    from wfsched_core.db.engine import make_engine

    app = App()
    try:
        engine = make_engine(app.settings.database_url)  # imports the dialect and driver
        engine.dispose()  # never connected: nothing to inherit
        app.hooks.catalog()  # imports every plugin and workflow package
    except Exception as exc:  # the worker will report it properly; warm what we can
        log.warning("fork server warm-up incomplete: %s", exc)
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate() if t is not threading.current_thread())
        return f"threads running after imports ({names}): forking would copy their locks"
    return None


class ForkServer:
    """The server's loop: read requests, fork children, report their exits."""

    def __init__(self, request_fd: int, reply_fd: int) -> None:
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.wake_read, self.wake_write = os.pipe()
        self.buffer = b""
        self.children: set[int] = set()

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            written = os.write(self.reply_fd, data)
            data = data[written:]

    def serve(self) -> None:
        os.set_blocking(self.wake_write, False)
        os.set_blocking(self.wake_read, False)
        # a child's exit writes a byte to the wake pipe, which wakes select below
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
        self.reap()
        while True:
            readable, _, _ = select.select([self.request_fd, self.wake_read], [], [])
            if self.wake_read in readable:
                try:
                    os.read(self.wake_read, 4096)
                except BlockingIOError:
                    pass
                self.reap()
            if self.request_fd in readable:
                chunk = os.read(self.request_fd, 65536)
                if not chunk:
                    return  # the scheduler is gone or closed us
                self.buffer += chunk
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    if line.strip():
                        self.handle(json.loads(line))

    def handle(self, request: dict[str, Any]) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            self.send({"id": request["id"], "error": f"fork failed: {exc.strerror or exc}"})
            return
        if pid == 0:
            run_child(request, (self.request_fd, self.reply_fd, self.wake_read,
                                self.wake_write))
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        self.children.add(pid)
        self.send({"id": request["id"], "pid": pid})

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def run_child(request: dict[str, Any], server_fds: tuple[int, ...]) -> NoReturn:
    """In the forked child: become a fresh worker process and run the execution."""
    code = 1
    try:
        os.setpgid(0, 0)
        _reset_signals()
        for fd in server_fds:
            os.close(fd)
        _redirect_output(request["log_path"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("cwd"):
            os.chdir(request["cwd"])
        argv = list(request["argv"])
        sys.argv = [argv[0], *argv[len(WORKER_MODULE_ARGS):]]
        code = _run_worker(argv[len(WORKER_MODULE_ARGS):])
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


def _reset_signals() -> None:
    """The dispositions a fresh interpreter starts with."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def _redirect_output(log_path: str) -> None:
    """stdin from /dev/null, stdout and stderr appended to the execution's log file."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    # whatever else the server inherited or imported opened is not the worker's business
    os.closerange(3, _max_fd())
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    # unbuffered, as PYTHONUNBUFFERED=1 makes an exec'd worker
    sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 65536)
    except (ValueError, OSError):
        return 4096


def _run_worker(args: list[str]) -> int:
    """``wfsched execute ID`` through the real CLI: same settings, plugins, exit codes."""
    root = logging.getLogger()
    root.handlers = []
    root.setLevel(logging.WARNING)
    from wfsched_core.cli.main import main

    try:
        main(args)
    except SystemExit as exit_:
        if exit_.code is None:
            return 0
        if isinstance(exit_.code, int):
            return exit_.code
        print(exit_.code, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """``python -m wfsched_core.forkserver REQUEST_FD REPLY_FD``."""
    args = sys.argv[1:] if argv is None else argv
    request_fd, reply_fd = int(args[0]), int(args[1])
    # the scheduler decides when we stop (it closes our input); a terminal's Ctrl-C does not
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    server = ForkServer(request_fd, reply_fd)
    try:
        unsafe = warm_up()
    except Exception as exc:  # noqa: BLE001 - reported to the spawner, which falls back
        unsafe = f"warm-up failed: {type(exc).__name__}: {exc}"
    try:
        if unsafe:
            server.send({"ready": False, "reason": unsafe})
            return
        server.send({"ready": True, "pid": os.getpid()})
        server.serve()
    except BrokenPipeError:
        return  # the scheduler exited (or closed us) first: nothing to report to


if __name__ == "__main__":
    main()
