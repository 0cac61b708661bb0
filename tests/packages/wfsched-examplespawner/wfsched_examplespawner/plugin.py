"""The ``example`` spawn strategy: one child process per execution, found again by PID.

The complete example of docs/writing-a-spawner.md: a strategy starts ``request.argv``
(``wfsched execute ID``), returns a handle whose ``data`` is stored in the database,
answers ``poll`` from that data alone after a scheduler restart, and stops the worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import TYPE_CHECKING

import psutil

from wfsched_core.base.errors import SpawnerError
from wfsched_core.base.execution_log import open_for_worker
from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.framework.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.framework.spawning import SpawnerRegistrar


class ExampleSpawner:
    """Start each worker as a child process in a process group of its own."""

    name = "example"
    sees_process = True  # same host, PID + create time: the scheduler sees the worker
    survives_scheduler = False  # a stopping scheduler waits for, then stops, its workers

    def __init__(self, settings: Settings) -> None:
        # a strategy may read its own table of wfsched.toml: [spawner.example]
        self.options = settings.section("spawner.example")

    def check_available(self) -> None:
        """Nothing to check here; a container strategy would look for its runtime."""

    def start(self, request: SpawnRequest) -> WorkerHandle:
        try:
            with open_for_worker(request.log_path) as log_file:
                process = subprocess.Popen(request.argv, env=request.env,
                                           stdin=subprocess.DEVNULL, stdout=log_file,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise SpawnerError(f"cannot start the worker: {exc}")
        data = {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time()}
        return WorkerHandle(self.name, data, pid=process.pid, process=process)

    def poll(self, handle: WorkerHandle) -> WorkerState:
        if handle.process is not None:  # the scheduler that started it: reap the child
            code = handle.process.poll()
            if code is None:
                return WorkerState(Liveness.ALIVE)
            return WorkerState(Liveness.EXITED, code, f"exited with code {code}")
        try:  # a restarted scheduler has only the stored data
            process = psutil.Process(handle.data["pid"])
            if abs(process.create_time() - handle.data["create_time"]) < 0.05 \
                    and process.status() != psutil.STATUS_ZOMBIE:
                return WorkerState(Liveness.ALIVE)
        except psutil.NoSuchProcess:
            pass
        return WorkerState(Liveness.EXITED, None, "is gone")

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        if self.poll(handle).liveness is not Liveness.ALIVE:
            return
        pid = handle.data["pid"]  # also its process group: start_new_session above
        try:
            os.killpg(pid, signal.SIGTERM)
            if handle.process is not None:
                handle.process.wait(timeout=grace)
            else:
                psutil.Process(pid).wait(timeout=grace)
        except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass


@hookimpl
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    """Announce the strategy under the name that ``--spawner example`` selects."""
    registry.add("example", ExampleSpawner)
