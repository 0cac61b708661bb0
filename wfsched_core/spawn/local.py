"""The ``local`` spawn strategy: one child process per execution, on this host.

The worker gets its own process group (so a Ctrl-C meant for the scheduler does not hit
it), its output goes to the execution's log file, and it is identified by PID plus
create time, so a recycled PID never passes for it.

The worker is the lean one (``python -m wfsched_core.worker ID``), which reports its
transitions to the scheduler over a private channel instead of writing to the database
(``reports_to_scheduler``): it imports the authoring API and its workflow module only.

Two start modes (``[scheduler] start_mode``): ``fork`` (the default wherever fork is safe)
forks each worker from a warm fork server (``wfsched_core/spawn/forkserver.py``) that has
already imported the worker and the workflow modules; ``exec`` starts a fresh interpreter
per worker. Fork mode falls back to exec where fork is unsafe (macOS, Windows) and for any
worker it cannot serve (the server failed to warm up, a worker command or PYTHONPATH it
was not started with). In fork mode the server keeps ``[scheduler] fork_spares`` (default
1) workers forked ahead, which take the next requests without waiting for a fork. See
docs/performance.md for what each costs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ConfigError, SpawnerError
from wfsched_core.base.execution_log import open_for_worker
from wfsched_core.base.processes import (
    describe_exit,
    is_same_process_alive,
    process_create_time,
    stop_process_tree,
)
from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.framework.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.framework.spawning import SpawnerRegistrar
    from wfsched_core.spawn.forkserver_client import ForkServerClient

log = logging.getLogger(__name__)

START_MODES = ("fork", "exec")
# The most spares ``[scheduler] fork_spares`` may ask the fork server to keep.
MAX_SPARES = 32


def fork_is_safe_here() -> bool:
    """Fork without exec is sound on Linux and the BSDs; macOS frameworks and Windows not."""
    return hasattr(os, "fork") and sys.platform not in ("darwin", "win32", "cygwin")


def fork_spares(settings: Settings) -> int:
    """``[scheduler] fork_spares``: how many workers the fork server keeps forked ahead."""
    spares = settings.scheduler_option("fork_spares")
    if isinstance(spares, bool) or not isinstance(spares, int) or not 0 <= spares <= MAX_SPARES:
        raise ConfigError(f"[scheduler] fork_spares must be a whole number from 0 to "
                          f"{MAX_SPARES}, not {spares!r}")
    return spares


class LocalSpawner:
    """Start ``wfsched execute ID`` as a child process from an argv list (no shell)."""

    name = "local"
    sees_process = True
    survives_scheduler = False
    #: its workers are started on the scheduler's host and may report through it
    reports_to_scheduler = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        mode = str(settings.scheduler_option("start_mode"))
        if mode not in START_MODES:
            raise ConfigError(f"[scheduler] start_mode must be one of {', '.join(START_MODES)}"
                              f", not {mode!r}")
        self.spares = fork_spares(settings)  # checked with the rest of the configuration
        self.start_mode = mode if fork_is_safe_here() else "exec"
        self._fork_server: ForkServerClient | None = None
        self._fork_lock = threading.Lock()
        self._fallback_reported = False
        self._preload: list[str] = []

    def check_available(self) -> None:
        """Start the fork server and let it warm up before the scheduler claims anything
        (an execution claimed meanwhile would wait for the warm-up, not start sooner)."""
        if self.start_mode == "fork":
            server = self._server()
            if not server.wait_ready():
                self._report_fallback(server.unusable or "not ready")

    def preload(self, modules: list[str]) -> None:
        """Fork mode: the workflow modules, imported once by the fork server (at its
        start, or now if it runs already)."""
        self._preload = list(modules)
        with self._fork_lock:
            server = self._fork_server
        if server is not None:
            server.preload(modules)

    def close(self) -> None:
        """Stop the fork server (workers it started run on); call at scheduler exit."""
        with self._fork_lock:
            server, self._fork_server = self._fork_server, None
        if server is not None:
            server.close()

    def start(self, request: SpawnRequest) -> WorkerHandle:
        outcome = self.start_many([request])[0]
        if isinstance(outcome, SpawnerError):
            raise outcome
        return outcome

    def start_many(self, requests: list[SpawnRequest]) -> list[WorkerHandle | SpawnerError]:
        """Start several workers; in fork mode with one round trip to the fork server
        (the scheduler's loop waits for it once per tick, not once per worker)."""
        outcomes: list[WorkerHandle | SpawnerError | None] = [None] * len(requests)
        forkable = []
        for index, request in enumerate(requests):
            if self.start_mode != "fork" or not self._can_fork(request):
                continue  # a fresh interpreter: _exec opens its log (and says if it cannot)
            try:
                open_for_worker(request.log_path).close()  # the forked child appends to it
            except OSError as exc:
                outcomes[index] = _log_error(request, exc)
                continue
            forkable.append(index)
        if forkable:
            forked = self._server().spawn_many(
                [(requests[i].argv, requests[i].env, str(requests[i].log_path),
                  requests[i].on_exit) for i in forkable])
            for index, process in zip(forkable, forked, strict=True):
                if isinstance(process, SpawnerError):
                    self._report_fallback(str(process))
                    continue  # started as a fresh interpreter below
                outcomes[index] = WorkerHandle(
                    self.name, {"pid": process.pid, "create_time":
                                process_create_time(process.pid), "start_mode": "fork"},
                    pid=process.pid, process=process)
        for index, request in enumerate(requests):
            if outcomes[index] is None:
                try:
                    outcomes[index] = self._exec(request)
                except SpawnerError as exc:
                    outcomes[index] = exc
        return outcomes  # type: ignore[return-value]

    def _exec(self, request: SpawnRequest) -> WorkerHandle:
        """A fresh interpreter for ``request``."""
        try:
            log_file = open_for_worker(request.log_path)
        except OSError as exc:
            raise _log_error(request, exc)
        try:
            process = subprocess.Popen(
                request.argv, env=request.env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, close_fds=True, **_own_process_group(),
            )
        except OSError as exc:
            raise SpawnerError(f"cannot start {request.argv[0]}: {exc.strerror or exc}")
        finally:
            log_file.close()
        create_time = process_create_time(process.pid)
        _watch_exit(process, request.on_exit)
        return WorkerHandle(self.name, {"pid": process.pid, "create_time": create_time},
                            pid=process.pid, process=process)

    def _server(self) -> ForkServerClient:
        with self._fork_lock:
            if self._fork_server is None:
                from wfsched_core.spawn.forkserver_client import ForkServerClient

                self._fork_server = ForkServerClient(self._server_env(), spares=self.spares,
                                                     preload=self._preload)
                self._fork_server.start()
            return self._fork_server

    def _server_env(self) -> dict[str, str]:
        """The scheduler's environment plus its settings, so the warm-up sees them too."""
        return {**os.environ, **self.settings.as_environment()}

    def _can_fork(self, request: SpawnRequest) -> bool:
        """Only the standard worker command, with the interpreter set-up the server has."""
        from wfsched_core.spawn.forkserver_child import WORKER_MODULE_ARGS

        argv = request.argv
        if len(argv) != len(WORKER_MODULE_ARGS) + 2 or argv[0] != sys.executable \
                or tuple(argv[1:-1]) != WORKER_MODULE_ARGS:
            return False
        server = self._server()
        # sys.path was fixed when the server's interpreter started
        for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE"):
            if request.env.get(key) != server.env.get(key):
                return False
        if server.unusable is not None:
            self._report_fallback(server.unusable)
            return False
        return True

    def _report_fallback(self, reason: str) -> None:
        if not self._fallback_reported:
            self._fallback_reported = True
            log.warning("fork start mode unavailable (%s): starting workers as fresh "
                        "interpreters", reason)

    def poll(self, handle: WorkerHandle) -> WorkerState:
        process = handle.process
        if process is not None and getattr(process, "lost", False):
            process = None  # its fork server died: only the OS can tell now
        if process is not None:
            code = process.poll()
            if code is None:
                return WorkerState(Liveness.ALIVE)
            return WorkerState(Liveness.EXITED, code, describe_exit(code))
        if is_same_process_alive(handle.data.get("pid"), handle.data.get("create_time")):
            return WorkerState(Liveness.ALIVE)
        return WorkerState(Liveness.EXITED, None, "exited while no scheduler watched it")

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        stop_process_tree(handle.data["pid"], handle.data.get("create_time"), grace)
        if handle.process is not None:
            try:
                handle.process.wait(timeout=grace + 5)
            except subprocess.TimeoutExpired:
                pass


def _log_error(request: SpawnRequest, exc: OSError) -> SpawnerError:
    return SpawnerError(f"cannot open the execution log {request.log_path}: "
                        f"{exc.strerror or exc}")


def _own_process_group() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    import os

    return {"preexec_fn": os.setpgrp}


def _watch_exit(process: subprocess.Popen[bytes], on_exit: Any) -> None:
    """Tell the scheduler the moment the child exits, instead of at its next poll."""

    def wait() -> None:
        process.wait()
        on_exit()

    threading.Thread(target=wait, name=f"wfsched-wait-{process.pid}", daemon=True).start()


@hookimpl
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    registry.add("local", LocalSpawner)
