"""The fork server: a warm parent that forks one worker process per execution.

Started by the ``local`` spawner as ``python -m wfsched_core.spawn.forkserver REQUEST_FD
REPLY_FD SPARES [MODULE ...]``. It imports what a lean worker needs (the authoring API,
the worker's runner and channel) and the workflow modules the scheduler names; then it
forks a child for each request, which runs ``python -m wfsched_core.worker ID`` in-process:
it skips interpreter start and imports but is still its own process (own PID, own process
group, output in its log file), and reports to its scheduler like any lean worker.

Why it is safe to fork here:

- the server is single-threaded (checked after warm-up and after each preload: a module
  that starts a thread on import makes the server refuse, and the spawner falls back to
  fresh interpreters);
- it holds no database connection and imports no database driver: a lean worker reports
  through its scheduler (and a child whose scheduler is gone connects on its own);
- the child resets signal handlers, closes every inherited descriptor above 2 and takes
  the request's environment.

Protocol (JSON lines): the scheduler writes ``{"preload": [module, ...]}`` (import these
now) and ``{"id", "argv", "env", "unset", "log_path", "cwd"}`` requests on REQUEST_FD
(``env``: the variables the worker's environment changes of the server's own, ``unset``:
those it removes; several requests may come in one write); the server
answers ``{"ready": true}`` once (``{"ready": false, "reason"}`` when forking became
unsafe), ``{"id", "pid"}`` (or ``{"id", "error"}``) per request and ``{"exit": pid,
"code": returncode}`` when a child ends (``code`` as ``Popen.returncode``: negative for a
signal). End of input stops the server; workers still running carry on, as they would
after a scheduler with the exec start mode died.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from wfsched_core.spawn.forkserver_child import run_child, run_spare

log = logging.getLogger(__name__)

# Seconds of quiet after a request before the server forks the next spares.
SPARE_REFILL_DELAY = 0.05
# Seconds before trying again when forking a spare failed.
SPARE_RETRY_DELAY = 5.0


def warm_up(modules: list[str]) -> str | None:
    """Import everything a lean worker imports; why forking is unsafe (or None)."""
    import wfsched_core.worker.__main__  # noqa: F401 - the runner, the channel, the wire

    _import_all(modules)
    return _threads_running()


def _import_all(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - each child then reports it itself
            log.warning("fork server: cannot import %s: %s", name, exc)


def _threads_running() -> str | None:
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate()
                          if t is not threading.current_thread())
        return f"threads running after imports ({names}): forking would copy their locks"
    return None


class ForkServer:
    """The server's loop: read requests, fork children, report their exits."""

    def __init__(self, request_fd: int, reply_fd: int, spare_count: int = 0) -> None:
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.wake_read, self.wake_write = os.pipe()
        self.buffer = b""
        self.children: set[int] = set()  # the workers the scheduler knows of
        self.spares: list[_Spare] = []  # children forked ahead, waiting for a request
        self.spare_count = spare_count
        self.unsafe: str | None = None  # set when a preload started a thread
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
        if "preload" in request:
            self.preload(request["preload"])
            return
        if self.unsafe:
            self.send({"id": request["id"], "error": self.unsafe})
            return
        pid = self._assign_to_spare(request)
        if pid is None:
            try:
                pid = self._fork(lambda fds: run_child(request, fds))
            except OSError as exc:
                self.send({"id": request["id"],
                           "error": f"fork failed: {exc.strerror or exc}"})
                return
        self.children.add(pid)
        self.send({"id": request["id"], "pid": pid})
        # the next spares once the server has been idle a moment: forking them now would
        # take a core from the worker just started (and from the next request's)
        self._refill_at = time.monotonic() + SPARE_REFILL_DELAY

    def preload(self, modules: list[str]) -> None:
        """Import the workflow modules now, once, instead of in every child; spares forked
        before lack them, so they are retired (they exit quietly) and forked again."""
        _import_all(modules)
        self.unsafe = _threads_running()
        if self.unsafe:
            self.send({"ready": False, "reason": self.unsafe})
            self.spare_count = 0
        gc.collect()
        gc.freeze()
        for spare in self.spares:
            os.close(spare.request_write)  # end of input: the spare exits, unreported
        self.spares.clear()
        self._refill_at = time.monotonic()

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
                pid = self._fork(lambda fds, r=read_end: run_spare(r, fds))
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


@dataclass
class _Spare:
    """A child forked ahead of any request, waiting on its pipe for one."""

    pid: int
    request_write: int


def main(argv: list[str] | None = None) -> None:
    """``python -m wfsched_core.spawn.forkserver REQUEST_FD REPLY_FD SPARES [MODULE ...]``."""
    args = sys.argv[1:] if argv is None else argv
    request_fd, reply_fd = int(args[0]), int(args[1])
    spares = int(args[2]) if len(args) > 2 else 0
    # the scheduler decides when we stop (it closes our input); a terminal's Ctrl-C does not
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        unsafe = warm_up(args[3:])
    except Exception as exc:  # noqa: BLE001 - reported to the spawner, which falls back
        unsafe = f"warm-up failed: {type(exc).__name__}: {exc}"
    server = ForkServer(request_fd, reply_fd, spares)
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
