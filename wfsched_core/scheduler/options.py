"""What a scheduler run is configured with, watches and reports: plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wfsched_core.base.records import Execution
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.framework.spawning import Liveness, Spawner, WorkerHandle

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings


@dataclass
class SchedulerOptions:
    """How one scheduler runs (command-line options over ``[scheduler]`` settings)."""

    max_concurrent: int = 5
    once: bool = False
    spawner: str = "local"
    poll_interval: float = 2.0
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 30.0
    grace_period: float = 30.0
    kill_grace: float = 5.0
    #: claim only these queues (None in the list: the unnamed default queue); None: all
    queues: list[str | None] | None = None
    #: with ``once``: how long to wait for holds to lift once only held work is left
    wait_held: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SchedulerOptions:
        values = {key: settings.scheduler_option(key) for key in (
            "max_concurrent", "spawner", "poll_interval", "heartbeat_interval",
            "heartbeat_timeout", "grace_period", "kill_grace")}  # fmt: skip
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class Tracked:
    """A worker this scheduler watches."""

    execution: Execution
    spawner: Spawner | None
    handle: WorkerHandle
    spec: WorkflowSpec | None
    liveness: Liveness = Liveness.ALIVE  # what its spawner last said


@dataclass
class RunSummary:
    """What one scheduler run did (printed at the end of ``--once``)."""

    outcomes: dict[int, ExecutionStatus] = field(default_factory=dict)
    # failed attempts whose retry this run also ran: the retry's outcome is what counts
    retried: set[int] = field(default_factory=set)
    busy_seconds: float = 0.0  # sum of the executions' own durations
    first_start: float | None = None
    last_end: float | None = None
    #: ``--once`` ended with these pending executions held back: (id, workflow, reason)
    held: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def wall_seconds(self) -> float:
        if self.first_start is None or self.last_end is None:
            return 0.0
        return self.last_end - self.first_start

    def count(self, status: ExecutionStatus) -> int:
        return sum(1 for i, s in self.outcomes.items() if s is status and i not in self.retried)

    @property
    def all_completed(self) -> bool:
        """Every execution completed, or stopped to wait for an approval (a person's
        turn, listed as held work, not a failure)."""
        return all(s in (ExecutionStatus.COMPLETED, ExecutionStatus.WAITING)
                   for i, s in self.outcomes.items() if i not in self.retried)
