"""The ``local`` spawn strategy: one child process per execution, on this host.

The worker gets its own process group (so a Ctrl-C meant for the scheduler does not hit
it), its output goes to the execution's log file, and it is identified by PID plus
create time, so a recycled PID never passes for it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from wfsched_core.errors import SpawnerError
from wfsched_core.execution_log import open_for_worker
from wfsched_core.hookspecs import hookimpl
from wfsched_core.processes import (
    describe_exit,
    is_same_process_alive,
    process_create_time,
    stop_process_tree,
)
from wfsched_core.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState

if TYPE_CHECKING:
    from wfsched_core.config import Settings
    from wfsched_core.spawning import SpawnerRegistrar


class LocalSpawner:
    """Start ``wfsched execute ID`` as a child process from an argv list (no shell)."""

    name = "local"
    sees_process = True
    survives_scheduler = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_available(self) -> None:
        return None

    def start(self, request: SpawnRequest) -> WorkerHandle:
        try:
            log_file = open_for_worker(request.log_path)
        except OSError as exc:
            raise SpawnerError(f"cannot open the execution log {request.log_path}: "
                               f"{exc.strerror or exc}")
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

    def poll(self, handle: WorkerHandle) -> WorkerState:
        process = handle.process
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
