"""The fork server: a warm parent that forks one worker process per execution.

Started by the ``local`` spawner as ``python -m wfsched_core.forkserver REQUEST_FD
REPLY_FD``. It imports what a worker needs (the core, SQLAlchemy's ORM, the database
driver, every plugin and workflow package), then forks a child for each request; the
child runs ``wfsched execute ID`` in-process, so it skips interpreter start and imports
but is still its own process: own PID, own process group, output in its log file.

Why it is safe to fork here:

- the server is single-threaded (checked after warm-up: a plugin that starts a thread on
  import makes the server refuse, and the spawner falls back to fresh interpreters);
- it holds no database connection when it forks: the one connection of the warm-up
  (the store's dialect, the schema check, a rehearsal of a worker's statements that
  leaves their compiled SQL in the engine's cache, see ``store/rehearsal.py``) is closed
  before serving; a child checks that the engine's pool is empty (else gives the engine
  a fresh one) and closes every inherited descriptor above 2;
- the child resets signal handlers and logging, and takes the request's environment.

Protocol (JSON lines): the scheduler writes ``{"id", "argv", "env", "log_path", "cwd"}``
on REQUEST_FD; the server answers ``{"ready": true}`` once, then ``{"id", "pid"}`` (or
``{"id", "error"}``) per request and ``{"exit": pid, "code": returncode}`` when a child
ends (``code`` as ``Popen.returncode``: negative for a signal). End of input stops the
server; workers still running carry on, as they would after a scheduler with the exec
start mode died.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import select
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from wfsched_core.cli.app import App
    from wfsched_core.store import SqlStore

log = logging.getLogger(__name__)

# The only command a forked child runs: the tail of ``python -m wfsched_core execute ID``.
WORKER_MODULE_ARGS = ("-m", "wfsched_core", "execute")


# The settings a pre-built App was resolved from: a request whose environment differs in
# any of them gets an App of its own, built in the child as an exec'd worker would.
SETTINGS_ENV = ("WFSCHED_DATABASE_URL", "WFSCHED_HOME", "WFSCHED_CONFIG",
                "WFSCHED_DISABLE_PLUGINS", "WFSCHED_STRICT_PLUGINS")


class WarmApp:
    """An :class:`App` whose settings, plugins and workflow catalog the server resolved
    once, for children to share; its store is never built here (no connection)."""

    def __init__(self, app: App, store: SqlStore | None = None) -> None:
        self.app = app
        #: built here with its dialect initialised and its worker statements compiled
        #: (one connection, closed before any fork); each child connects on its own
        self.store = store
        self.env = {key: os.environ.get(key) for key in SETTINGS_ENV}
        self.config_stamp = _config_stamp(app.settings.config_path)

    def fits(self, env: dict[str, str], workflow: str | None) -> bool:
        """True when a worker with ``env`` for ``workflow`` would resolve the same App."""
        if any(env.get(key) != value for key, value in self.env.items()):
            return False
        if _config_stamp(self.app.settings.config_path) != self.config_stamp:
            return False  # the file changed since: read it again, as a fresh worker would
        return workflow is not None and self.app.hooks.catalog().find(workflow) is not None


def _config_stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        stat = os.stat(path) if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_mtime_ns, stat.st_size)


def warm_up() -> tuple[str | None, WarmApp | None]:
    """Import everything a worker imports and resolve its App once.

    Returns why forking is unsafe (or None) and the pre-built App (or None when the
    installation's configuration does not resolve: each child then reports it itself).
    """
    from wfsched_core.cli import main as cli_main

    cli_main._load_command_modules()
    import sqlalchemy.orm  # noqa: F401 - the store's ORM: the bulk of a worker's start

    import wfsched_core.heartbeat  # noqa: F401
    import wfsched_core.store  # noqa: F401
    import wfsched_core.worker  # noqa: F401
    from wfsched_core.cli.app import App
    from wfsched_core.db.engine import make_engine

    warm: WarmApp | None = None
    try:
        app = App()
        engine = make_engine(app.settings.database_url)  # imports the dialect and driver
        engine.dispose()  # never connected: nothing to inherit
        app.hooks.catalog().all()  # imports every plugin and workflow module
        warm = WarmApp(app, _initialised_store(app))
    except Exception as exc:  # the worker will report it properly; warm what we can
        log.warning("fork server warm-up incomplete: %s", exc)
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate()
                          if t is not threading.current_thread())
        return f"threads running after imports ({names}): forking would copy their locks", None
    return None, warm


def _initialised_store(app: App) -> SqlStore | None:
    """The store with its dialect initialised, its schema checked and a worker's
    statements compiled (what each worker would repeat), and no connection left open."""
    from wfsched_core.store.rehearsal import rehearse_worker

    try:
        store = app.hooks.store()
        store.ensure_schema(auto_create=True)  # as App.store does; once, not per child
        workflows = app.hooks.catalog().all()
        if workflows:
            rehearse_worker(store, next(iter(workflows)))  # children inherit the compiled SQL
        store.dispose()  # closes that connection: none exists when we fork
        return store
    except Exception as exc:  # unreachable now: each worker connects on its own
        log.warning("fork server: database not reachable during warm-up: %s", exc)
        return None


class ForkServer:
    """The server's loop: read requests, fork children, report their exits."""

    def __init__(self, request_fd: int, reply_fd: int, warm: WarmApp | None = None) -> None:
        self.warm = warm
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
        # keep the warm objects out of the children's garbage collections: a collection
        # touches every object it scans, and each touched page is copied (copy-on-write)
        gc.collect()
        gc.freeze()
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
                                self.wake_write), self.warm)
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


def run_child(request: dict[str, Any], server_fds: tuple[int, ...],
              warm: WarmApp | None) -> NoReturn:
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
        if warm is not None and not warm.fits(request["env"], request.get("workflow")):
            warm = None
        code = _run_worker(int(argv[-1]), warm)
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


def _run_worker(execution_id: int, warm: WarmApp | None) -> int:
    """What ``wfsched execute ID`` does, with the warm App when it fits.

    The store (engine and connections) is always built here, in the child.
    """
    from wfsched_core.cli.app import App
    from wfsched_core.cli.main import _configure_logging
    from wfsched_core.errors import WfschedError
    from wfsched_core.worker import run_execution

    _configure_logging(0)
    app = warm.app if warm is not None else App()
    try:
        store = warm.store if warm is not None else None
        if store is not None:
            if not _pool_is_empty(store.engine.pool):  # never so after warm-up; be sure
                store.engine.dispose(close=False)  # a pool of its own, whatever the parent had
        else:
            store = app.store
        return run_execution(execution_id, store, app.hooks, app.settings)
    except WfschedError as exc:
        print(f"wfsched: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("wfsched: interrupted", file=sys.stderr)
        return 130


def _pool_is_empty(pool: Any) -> bool:
    """True when a pool holds no connection at all (none inherited across the fork)."""
    try:
        return pool.checkedin() == 0 and pool.checkedout() == 0
    except AttributeError:  # a pool class that cannot tell: replace it to be safe
        return False


def main(argv: list[str] | None = None) -> None:
    """``python -m wfsched_core.forkserver REQUEST_FD REPLY_FD``."""
    args = sys.argv[1:] if argv is None else argv
    request_fd, reply_fd = int(args[0]), int(args[1])
    # the scheduler decides when we stop (it closes our input); a terminal's Ctrl-C does not
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    warm: WarmApp | None = None
    try:
        unsafe, warm = warm_up()
    except Exception as exc:  # noqa: BLE001 - reported to the spawner, which falls back
        unsafe = f"warm-up failed: {type(exc).__name__}: {exc}"
    server = ForkServer(request_fd, reply_fd, warm)
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
