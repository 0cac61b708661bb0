"""The scheduler's side of the fork server: start it, ask it for workers, hear them exit.

One reader thread per server reads its replies: the PID of each forked worker, and each
worker's exit status (the server is the workers' parent, so it is the one that can
``waitpid``). A :class:`ForkedProcess` looks like the part of ``Popen`` the ``local``
spawner uses (``pid``, ``poll()``, ``wait()``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from wfsched_core.base.errors import SpawnerError

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0  # warm-up imports on a loaded two-core machine can take seconds
REPLY_TIMEOUT = 30.0


class ForkedProcess:
    """A worker forked by the server; its exit status arrives through the server."""

    def __init__(self, pid: int, on_exit: Callable[[], None]) -> None:
        self.pid = pid
        self.returncode: int | None = None
        #: True when the server died before this worker's exit was known: ask the OS instead
        self.lost = False
        self._on_exit = on_exit
        self._done = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        return self.returncode

    def _finish(self, returncode: int | None, lost: bool = False) -> None:
        self.returncode = returncode
        self.lost = lost
        self._done.set()
        try:
            self._on_exit()
        except Exception:  # the scheduler's wake-up must not kill the reader thread
            log.exception("exit callback of worker %s failed", self.pid)


class ForkServerClient:
    """Starts ``python -m wfsched_core.spawn.forkserver`` and forks workers through it."""

    def __init__(self, env: dict[str, str] | None = None, cwd: str | None = None,
                 spares: int = 0, preload: list[str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.spares = spares
        self.modules = list(preload or [])  # imported by the server before it serves
        self.cwd = cwd or os.getcwd()
        self.process: subprocess.Popen[bytes] | None = None
        self.unusable: str | None = None  # why it cannot serve (then: fresh interpreters)
        self._ready = threading.Event()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._request_fd: int | None = None
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._reply_events: dict[int, threading.Event] = {}
        self._workers: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (it warms up in the background; :meth:`spawn_many` waits for it)."""
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wfsched_core.spawn.forkserver", str(request_read),
                 str(reply_write), str(self.spares), *self.modules],
                env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                # its own session: a terminal's Ctrl-C or hang-up is for the scheduler
                pass_fds=(request_read, reply_write), start_new_session=True)
        except OSError as exc:
            self.unusable = f"cannot start the fork server: {exc.strerror or exc}"
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            return
        finally:
            if self.process is not None:
                os.close(request_read)
                os.close(reply_write)
        self._request_fd = request_write
        threading.Thread(target=self._read_replies, args=(reply_read,), daemon=True,
                         name="wfsched-forkserver-reader").start()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """True once the server has warmed up and can fork safely."""
        if self.process is None or not self._ready.wait(timeout):
            if self.unusable is None:
                self.unusable = f"the fork server did not warm up within {timeout:g}s"
            return False
        return self.unusable is None

    def close(self) -> None:
        """Stop the server; workers it forked keep running to their end."""
        with self._write_lock:
            if self._request_fd is not None:
                os.close(self._request_fd)
                self._request_fd = None
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- forking ---------------------------------------------------------------------

    def preload(self, modules: list[str]) -> None:
        """Have the server import these (workflow) modules once, ahead of the workers."""
        if modules and self.process is not None and self.unusable is None:
            try:
                self._send({"preload": modules})
            except SpawnerError as exc:
                log.warning("fork server: %s", exc)

    def spawn_many(self, requests: list[tuple[list[str], dict[str, str], str,
                                              Callable[[], None]]],
                   ) -> list[ForkedProcess | SpawnerError]:
        """Fork a worker for each ``(argv, env, log_path, on_exit)``: every request sent
        at once, then every answer awaited (one round trip for the lot)."""
        if not self.wait_ready():
            error = SpawnerError(self.unusable or "the fork server is not available")
            return [error] * len(requests)
        with self._state_lock:
            ids = []
            for _ in requests:
                self._next_id += 1
                ids.append(self._next_id)
                self._reply_events[self._next_id] = threading.Event()
            events = [self._reply_events[i] for i in ids]
        messages = [{"id": request_id, "argv": argv, "cwd": self.cwd, "log_path": log_path,
                     **self._environment_change(env)}
                    for request_id, (argv, env, log_path, _) in zip(ids, requests, strict=True)]
        try:
            self._send_all(messages)
        except SpawnerError as exc:
            self._forget_requests(ids)
            return [exc] * len(requests)
        deadline = time.monotonic() + REPLY_TIMEOUT
        outcomes: list[ForkedProcess | SpawnerError] = []
        for request_id, event, request in zip(ids, events, requests, strict=True):
            if not event.wait(max(0.0, deadline - time.monotonic())):
                outcomes.append(SpawnerError(
                    f"the fork server did not answer within {REPLY_TIMEOUT:g}s"))
                continue
            outcomes.append(self._answered(request_id, request[3]))
        self._forget_requests(ids)
        return outcomes

    def _environment_change(self, env: dict[str, str]) -> dict[str, Any]:
        """What a worker's environment changes of the server's own (a few variables,
        not the whole environment, per request)."""
        return {"env": {k: v for k, v in env.items() if self.env.get(k) != v},
                "unset": [k for k in self.env if k not in env]}

    def _answered(self, request_id: int, on_exit: Callable[[], None],
                  ) -> ForkedProcess | SpawnerError:
        with self._state_lock:
            reply = self._replies.pop(request_id, {"error": self.unusable})
            if "pid" not in reply:
                return SpawnerError(reply.get("error") or "the fork server failed")
            worker = ForkedProcess(int(reply["pid"]), on_exit)
            self._workers[worker.pid] = worker
            early = self._early_exits.pop(worker.pid, None)
        if early is not None:
            self._finish(worker, early)
        return worker

    def _forget_requests(self, ids: list[int]) -> None:
        with self._state_lock:
            for request_id in ids:
                self._reply_events.pop(request_id, None)
                self._replies.pop(request_id, None)

    def _send_all(self, messages: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in messages).encode()
        self._write(data)

    def _send(self, message: dict[str, Any]) -> None:
        self._write((json.dumps(message) + "\n").encode())

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self._request_fd is None:
                raise SpawnerError("the fork server is closed")
            try:
                while data:
                    data = data[os.write(self._request_fd, data):]
            except OSError as exc:
                self.unusable = f"the fork server is gone: {exc.strerror or exc}"
                raise SpawnerError(self.unusable)

    # --- the reader thread -----------------------------------------------------------

    def _read_replies(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as replies:
            for line in replies:
                try:
                    self._dispatch(json.loads(line))
                except Exception:
                    log.exception("bad message from the fork server: %r", line[:200])
        self._server_gone()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            if not message["ready"]:
                self.unusable = f"fork start unsafe: {message.get('reason')}"
                log.warning("%s; starting workers as fresh interpreters", self.unusable)
            self._ready.set()
        elif "exit" in message:
            pid, code = int(message["exit"]), int(message["code"])
            with self._state_lock:
                worker = self._workers.pop(pid, None)
                if worker is None:  # exited before spawn_many() registered it
                    self._early_exits[pid] = code
            if worker is not None:
                self._finish(worker, code)
        elif "id" in message:
            with self._state_lock:
                self._replies[int(message["id"])] = message
                event = self._reply_events.get(int(message["id"]))
            if event is not None:
                event.set()

    def _finish(self, worker: ForkedProcess, code: int | None, lost: bool = False) -> None:
        worker._finish(code, lost)

    def _server_gone(self) -> None:
        """The server exited: every worker we still track must be judged by its PID."""
        if self.unusable is None:
            self.unusable = "the fork server exited"
        self._ready.set()
        with self._state_lock:
            orphans = list(self._workers.values())
            self._workers.clear()
            waiting = list(self._reply_events.values())
        for event in waiting:
            event.set()
        for worker in orphans:
            self._finish(worker, None, lost=True)
