"""``DetachedSpawner``: start ``wfsched execute ID`` fully detached from the scheduler.

The worker gets a session of its own (POSIX) or no console and a process group of its
own (Windows), its output goes to the execution's log file, and nothing ties its life to
the scheduler's: when the scheduler dies or restarts, the worker runs on, records its own
final status, and the next scheduler adopts it.

Liveness: the worker's heartbeat in the database is the authority (``sees_process`` is
False), because a detached worker may have been started by a scheduler on another host.
On the host that started it, PID + create time answer sooner: ``poll`` reports a worker
that is gone at once instead of after ``heartbeat_timeout``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import SpawnerError
from wfsched_core.base.execution_log import open_for_worker
from wfsched_core.base.processes import (
    describe_exit,
    hostname,
    is_same_process_alive,
    process_create_time,
    stop_process_tree,
)
from wfsched_core.framework.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState
from wfsched_spawner_detached.popen_options import detached_popen_kwargs

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

log = logging.getLogger(__name__)


class DetachedSpawner:
    """Start each worker in a new session; track it by heartbeat (and PID on this host)."""

    name = "detached"
    # The heartbeat decides: a handle may come from a scheduler on another host, where
    # this process cannot see the worker at all (poll answers UNKNOWN there).
    sees_process = False
    survives_scheduler = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = hostname()

    def check_available(self) -> None:
        return None

    def start(self, request: SpawnRequest) -> WorkerHandle:
        """Start the worker detached; its stdin is /dev/null, its output the log file."""
        try:
            log_file = open_for_worker(request.log_path)
        except OSError as exc:
            raise SpawnerError(f"cannot open the execution log {request.log_path}: "
                               f"{exc.strerror or exc}")
        try:
            process = subprocess.Popen(
                request.argv, env=request.env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, **detached_popen_kwargs(sys.platform),
            )
        except OSError as exc:
            raise SpawnerError(f"cannot start {request.argv[0]}: {exc.strerror or exc}")
        finally:
            log_file.close()
        data = {"pid": process.pid, "create_time": process_create_time(process.pid),
                "host": self.host}
        # While this scheduler lives the worker is still its child: wait for it in a
        # thread, which reaps it (no zombie) and wakes the scheduler at once. When the
        # scheduler dies, the worker is re-parented to init, which reaps it instead.
        _watch_exit(process, request.on_exit)
        return WorkerHandle(self.name, data, pid=process.pid, process=process)

    def poll(self, handle: WorkerHandle) -> WorkerState:
        """ALIVE/EXITED when this host can tell, else UNKNOWN (the heartbeat decides)."""
        process = handle.process
        if process is not None:
            code = process.poll()
            if code is None:
                return WorkerState(Liveness.ALIVE)
            return WorkerState(Liveness.EXITED, code, describe_exit(code))
        return self._poll_by_pid(handle.data)

    def _poll_by_pid(self, data: dict[str, Any]) -> WorkerState:
        if data.get("host") != self.host or not data.get("pid"):
            return WorkerState(Liveness.UNKNOWN)
        if is_same_process_alive(data["pid"], data.get("create_time")):
            return WorkerState(Liveness.ALIVE)
        # adopted, so not our child: its exit status went to whoever reaped it
        return WorkerState(Liveness.EXITED, None,
                           "is gone (exit status unknown: not this scheduler's child)")

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        """Stop the worker's process tree on this host; elsewhere, rely on the worker.

        A worker on another host is told through the database instead (a cancel request
        reaches it through its heartbeat) because no process here can signal it.
        """
        data = handle.data
        if data.get("host") != self.host:
            log.warning("execution worker pid %s runs on %s, not on %s: it stops itself when "
                        "its heartbeat sees the request", data.get("pid"), data.get("host"),
                        self.host)
            return
        stop_process_tree(data["pid"], data.get("create_time"), grace)
        if handle.process is not None:
            try:
                handle.process.wait(timeout=grace + 5)
            except subprocess.TimeoutExpired:
                pass


def _watch_exit(process: subprocess.Popen[bytes], on_exit: Any) -> None:
    """Reap the worker when it exits and tell the scheduler, instead of at its next poll."""

    def wait() -> None:
        process.wait()
        on_exit()

    threading.Thread(target=wait, name=f"wfsched-detached-wait-{process.pid}",
                     daemon=True).start()
