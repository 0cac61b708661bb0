"""The spawn-strategy interface: start one worker, tell if it lives, stop it.

A strategy is announced through ``wfsched_spawners`` (see ``hookspecs.py``) and documented
with a complete example in ``docs/writing-a-spawner.md``. The scheduler never looks
inside a handle: it stores ``handle.data`` (JSON) in the execution's row, so that a
restarted scheduler can rebuild the handle and ask the strategy about it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wfsched_core.base.errors import UsageError

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings

log = logging.getLogger(__name__)


class Liveness(str, Enum):
    """What a strategy can say about a worker."""

    ALIVE = "alive"
    EXITED = "exited"
    UNKNOWN = "unknown"  # the strategy cannot see it: judge by the worker's heartbeat


@dataclass
class WorkerState:
    """The answer of :meth:`Spawner.poll`: alive, exited (with how), or unknown."""

    liveness: Liveness
    exit_code: int | None = None
    reason: str | None = None  # "killed by signal SIGKILL", "exited with code 3" ...

    @property
    def alive(self) -> bool:
        return self.liveness is Liveness.ALIVE


@dataclass
class WorkerHandle:
    """How to find a worker again. ``data`` must be JSON-serialisable; ``process`` is
    an in-memory object (a Popen) that only the scheduler that started it holds."""

    spawner: str
    data: dict[str, Any]
    pid: int | None = None
    process: Any = field(default=None, repr=False, compare=False)


@dataclass
class SpawnRequest:
    """Everything a strategy needs to start ``wfsched execute ID`` for one execution."""

    execution_id: int
    argv: list[str]  # the worker command; a strategy may prefix it, never join it
    env: dict[str, str]  # the environment the worker needs (database URL, home ...)
    log_path: Path  # where the worker's output goes
    spec: WorkflowSpec | None
    on_exit: Callable[[], None] = lambda: None  # call when the worker exits, if you can tell


class Spawner(Protocol):
    """A spawn strategy. One instance serves one scheduler process."""

    name: str
    #: True when the scheduler can see the worker's process (same host, a handle to it);
    #: False when only the worker's heartbeat in the database tells whether it lives
    #: (``poll`` may still answer EXITED early where it can tell, UNKNOWN elsewhere).
    sees_process: bool
    #: True when the worker is meant to outlive a scheduler restart (detached, container):
    #: a stopping scheduler then leaves it running for the next scheduler to adopt.
    survives_scheduler: bool

    def check_available(self) -> None:
        """Raise :class:`wfsched_core.base.errors.SpawnerError` if it cannot work here
        (a missing container runtime ...). Called once when the scheduler starts."""

    def start(self, request: SpawnRequest) -> WorkerHandle:
        """Start the worker; return at once with a handle. Raise SpawnerError on failure."""

    def poll(self, handle: WorkerHandle) -> WorkerState:
        """Whether the worker lives; reap it when it has exited. Never blocks for long."""

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        """Stop the worker and everything it started: politely, then after ``grace``
        seconds forcibly. Returns when it is gone (or the strategy cannot tell)."""

    # Optional: ``close()`` — called once when the scheduler exits, to release what the
    # strategy holds (the local spawner's fork server). Not part of the Protocol so that
    # a strategy with nothing to release need not write it.


SpawnerFactory = Callable[["Settings"], Spawner]


class SpawnerRegistrar:
    """Handed to ``wfsched_spawners``; keeps the first strategy registered under a name."""

    def __init__(self) -> None:
        self.current_plugin = ""
        self.factories: dict[str, SpawnerFactory] = {}
        self.owners: dict[str, str] = {}

    def add(self, name: str, factory: SpawnerFactory) -> None:
        if name in self.factories:
            log.warning("spawner %r from plugin %s ignored: plugin %s already provides it",
                        name, self.current_plugin, self.owners[name])
            return
        self.factories[name] = factory
        self.owners[name] = self.current_plugin


def build_spawner(factories: dict[str, SpawnerFactory], name: str, settings: Settings) -> Spawner:
    """Instantiate the strategy ``name``; an unknown name lists the installed ones."""
    factory = factories.get(name)
    if factory is None:
        known = ", ".join(sorted(factories)) or "none"
        raise UsageError(f"unknown spawner {name!r} (installed: {known})")
    return factory(settings)
