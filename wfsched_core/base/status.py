"""The statuses of an execution and how an execution came to be (contract names)."""

from __future__ import annotations

from enum import Enum


class ExecutionStatus(str, Enum):
    """Lifecycle: ``pending`` -> ``running`` -> ``completed`` | ``failed`` | ``cancelled``."""

    PENDING = "pending"
    RUNNING = "running"
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
ACTIVE_STATUSES = frozenset({ExecutionStatus.PENDING, ExecutionStatus.RUNNING})


class Trigger(str, Enum):
    """Why an execution exists."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    BACKFILL = "backfill"  # ``wfsched backfill``: a past tick of the schedule

    def __str__(self) -> str:
        return self.value


class StepStatus(str, Enum):
    """Status of one step inside an execution."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value
