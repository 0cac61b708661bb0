"""``ContainerSpawner``: run ``wfsched execute ID`` inside a podman or docker container.

The container is started detached (``run --detach --rm``), named after the execution
and labelled with its id, the scheduler's id and an installation digest. It outlives the
scheduler; a later scheduler adopts the execution (by its fresh heartbeat) and finds the
container again by its label. Liveness comes from the runtime's ``ps`` (one call serves
every poll for ``poll_cache`` seconds); the worker's heartbeat remains the authority
(``sees_process`` is False), because the runtime of another host cannot be asked.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from wfsched_core.base.errors import SpawnerError
from wfsched_core.base.processes import hostname
from wfsched_core.framework.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState
from wfsched_spawner_container.command import (
    container_name,
    installation_id,
    run_argv,
    worker_environment,
    write_env_file,
)
from wfsched_spawner_container.options import ContainerOptions
from wfsched_spawner_container.runtime import ContainerRuntime, ContainerState, find_runtime

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

log = logging.getLogger(__name__)


class ContainerSpawner:
    """One container per execution, through the runtime's command line (argv lists)."""

    name = "container"
    # The heartbeat decides: a handle adopted from a scheduler on another host names a
    # container this host's runtime cannot see (poll answers UNKNOWN for it).
    sees_process = False
    survives_scheduler = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.options = ContainerOptions.from_settings(settings)
        self.host = hostname()
        self.installation = installation_id(settings.database_url)
        self._runtime: ContainerRuntime | None = None
        self._lock = threading.Lock()
        self._listing: tuple[float, dict[int, ContainerState] | None] | None = None

    # --- the runtime -------------------------------------------------------------------

    def runtime(self) -> ContainerRuntime:
        """The runtime, found and checked once (SpawnerError when there is none)."""
        if self._runtime is None:
            runtime = ContainerRuntime(find_runtime(self.options.runtime), self.options.global_args)
            runtime.check()
            self._runtime = runtime
        return self._runtime

    def check_available(self) -> None:
        self.runtime()

    # --- the spawner interface ---------------------------------------------------------

    def start(self, request: SpawnRequest) -> WorkerHandle:
        runtime = self.runtime()
        home = self.settings.home.resolve()
        env = worker_environment(request, self.options)
        env_file = write_env_file(env)
        try:
            argv = run_argv(runtime.executable, self.options, request, env=env,
                            env_file=env_file, home=home,
                            config_path=self.settings.config_path,
                            installation=self.installation)
            request.log_path.parent.mkdir(parents=True, exist_ok=True)
            container_id = runtime.run_detached(argv)
        except SpawnerError as exc:
            if "already in use" in str(exc):
                raise SpawnerError(f"{exc} (another wfsched installation on this host? give "
                                   "each its own [spawner.container] name_prefix)")
            raise
        finally:
            # the runtime has copied the variables into the container's configuration
            env_file.unlink(missing_ok=True)
        self._forget_listing()
        name = container_name(self.options, request.execution_id)
        data = {"name": name, "execution_id": request.execution_id,
                "container_id": container_id, "host": self.host,
                "runtime": runtime.executable, "installation": self.installation}
        return WorkerHandle(self.name, data, pid=None)

    def poll(self, handle: WorkerHandle) -> WorkerState:
        if handle.data.get("host") != self.host:
            return WorkerState(Liveness.UNKNOWN)
        execution_id = _execution_id(handle)
        listing = self._list()
        if listing is None or execution_id is None:
            return WorkerState(Liveness.UNKNOWN)
        state = listing.get(execution_id)
        if state is not None and state.running:
            return WorkerState(Liveness.ALIVE)
        if state is not None and state.exit_code is not None:
            return WorkerState(Liveness.EXITED, state.exit_code,
                               f"container exited with code {state.exit_code}")
        return WorkerState(Liveness.EXITED, None,
                           f"container {handle.data.get('name')} is gone")

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        """``RUNTIME stop --time GRACE NAME`` (then ``kill``); wait until it is gone."""
        name = handle.data.get("name")
        if handle.data.get("host") != self.host or not name:
            log.warning("container %s runs on %s, not on %s: it stops itself when its "
                        "heartbeat sees the request", name, handle.data.get("host"), self.host)
            return
        log.info("stopping container %s (%s stop, %gs grace)", name, self.runtime().executable,
                 grace)
        self.runtime().stop(name, grace)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # --rm removes it just after it stops
            self._forget_listing()
            if self.poll(handle).liveness is not Liveness.ALIVE:
                return
            time.sleep(0.2)  # polling the runtime until the container is gone
        log.warning("container %s still listed %ss after it was stopped", name, 15)

    # --- the shared listing ------------------------------------------------------------

    def _list(self) -> dict[int, ContainerState] | None:
        """One ``ps`` answer serves every poll for ``poll_cache`` seconds."""
        with self._lock:
            now = time.monotonic()
            if self._listing is None or now - self._listing[0] > self.options.poll_cache:
                self._listing = (now, self.runtime().list_containers(self.installation))
            return self._listing[1]

    def _forget_listing(self) -> None:
        with self._lock:
            self._listing = None


def _execution_id(handle: WorkerHandle) -> int | None:
    if isinstance(handle.data.get("execution_id"), int):
        return handle.data["execution_id"]
    name = str(handle.data.get("name", ""))
    digits = name.rsplit("-", 1)[-1]
    return int(digits) if digits.isdigit() else None
