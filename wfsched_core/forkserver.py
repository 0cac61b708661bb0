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
import json
import logging
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_core.builtin.local_spawner import fork_spares
from wfsched_core.errors import ConfigError
from wfsched_core.forkserver_child import run_child, run_spare

if TYPE_CHECKING:
    from wfsched_core.cli.app import App
    from wfsched_core.store import SqlStore

log = logging.getLogger(__name__)

# Seconds of quiet after a request before the server forks the next spares.
SPARE_REFILL_DELAY = 0.05
# Seconds before trying again when forking a spare failed.
SPARE_RETRY_DELAY = 5.0

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
    # SQLAlchemy Core, not its ORM: a worker never loads the ORM (a workflow module that
    # does is imported below, with the catalog), and a smaller server forks faster
    import wfsched_core.heartbeat  # noqa: F401
    import wfsched_core.store.sql_store  # noqa: F401
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
        self.children: set[int] = set()  # the workers the scheduler knows of
        self.spares: list[_Spare] = []  # children forked ahead, waiting for a request
        self.spare_count = _spare_count(warm)
        self._refill_at = 0.0

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
        self._fork_spares()
        while True:
            readable, _, _ = select.select([self.request_fd, self.wake_read], [], [],
                                           self._until_refill())
            if not readable:
                self._fork_spares()
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
        """Give ``request`` to a spare (or fork a child for it); spares are refilled once
        the server has been quiet a moment."""
        pid = self._assign_to_spare(request)
        if pid is None:
            try:
                pid = self._fork(lambda fds: run_child(request, fds, self.warm))
            except OSError as exc:
                self.send({"id": request["id"],
                           "error": f"fork failed: {exc.strerror or exc}"})
                return
        self.children.add(pid)
        self.send({"id": request["id"], "pid": pid})
        # the next spares once the server has been idle a moment: forking them now would
        # take a core from the worker just started (and from the next request's)
        self._refill_at = time.monotonic() + SPARE_REFILL_DELAY

    def _until_refill(self) -> float | None:
        """Seconds until the spares are due to be refilled (None: none is missing)."""
        if len(self.spares) >= self.spare_count:
            return None
        return max(0.0, self._refill_at - time.monotonic())

    def _fork(self, become: Any) -> int:
        """Fork a child that calls ``become(server_fds)`` and never returns."""
        pid = os.fork()
        if pid == 0:
            become(self._server_fds())
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        return pid

    def _server_fds(self) -> tuple[int, ...]:
        fds = (self.request_fd, self.reply_fd, self.wake_read, self.wake_write)
        return fds + tuple(spare.request_write for spare in self.spares)

    def _fork_spares(self) -> None:
        while len(self.spares) < self.spare_count:
            read_end, write_end = os.pipe()
            try:
                pid = self._fork(lambda fds, r=read_end: run_spare(r, fds, self.warm))
            except OSError:  # none for now (a process limit?): try again in a while
                os.close(read_end)
                os.close(write_end)
                self._refill_at = time.monotonic() + SPARE_RETRY_DELAY
                return
            os.close(read_end)
            self.spares.append(_Spare(pid, write_end))

    def _assign_to_spare(self, request: dict[str, Any]) -> int | None:
        """Hand ``request`` to a waiting spare; its PID, or None without a usable one."""
        if not self.spares:
            return None
        spare = self.spares.pop(0)  # the oldest: its connection is the most settled
        try:
            os.write(spare.request_write, (json.dumps(request) + "\n").encode())
        except OSError:  # it died: it is reaped (and not reported) like any spare
            return None
        finally:
            os.close(spare.request_write)
        return spare.pid

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for spare in [s for s in self.spares if s.pid == pid]:  # killed while waiting
                os.close(spare.request_write)
                self.spares.remove(spare)
            if pid in self.children:  # a spare never handed a request is not reported
                self.children.discard(pid)
                self.send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def _spare_count(warm: WarmApp | None) -> int:
    """``[scheduler] fork_spares``; none without a warm App (or with a bad setting, which
    the scheduler's spawner has reported already)."""
    if warm is None:
        return 0
    try:
        return fork_spares(warm.app.settings)
    except ConfigError:
        return 0


@dataclass
class _Spare:
    """A child forked ahead of any request, waiting on its pipe for one."""

    pid: int
    request_write: int


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
