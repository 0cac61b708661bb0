"""The statuses of an execution and how an execution came to be (contract names)."""

from __future__ import annotations

from enum import Enum


class ExecutionStatus(str, Enum):
    """Lifecycle: ``pending`` -> ``running`` -> ``completed`` | ``failed`` | ``cancelled``.

    ``waiting``: the run reached a step that needs a person's approval; it holds no slot
    and no process. Approved, it is ``pending`` again and continues from that step;
    rejected, cancelled or past its ``approval_timeout``, it ends.
    """

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    def __str__(self) -> str:
        return self.value


FINAL_STATUSES = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)
#: not ended yet (a waiting run is still a run of its workflow: overlap, deadlines)
ACTIVE_STATUSES = frozenset(
    {ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING})
#: a worker is due or at work: what a scheduler starts, watches and recovers
WORKER_STATUSES = frozenset({ExecutionStatus.PENDING, ExecutionStatus.RUNNING})


class Trigger(str, Enum):
    """Why an execution exists."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    BACKFILL = "backfill"  # ``wfsched backfill``: a past tick of the schedule
    RERUN = "rerun"

    def __str__(self) -> str:
        return self.value


class StepStatus(str, Enum):
    """Status of one step inside an execution."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value
