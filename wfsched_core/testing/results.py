"""What a test gets back from a run: the execution, each step, and the captured log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_core.base.execution_log import log_path
from wfsched_core.base.status import ExecutionStatus, StepStatus

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, StepRecord


@dataclass(frozen=True)
class StepOutcome:
    """One step as it ended: ``result`` is what the step returned (as stored: JSON, or
    the repr of what is not JSON), ``error`` one line, ``traceback`` the full one when
    this step raised."""

    name: str
    position: int
    status: StepStatus
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class WorkflowRun:
    """One execution after it ended (or, from ``wfsched_run``, where it stopped)."""

    execution_id: int
    workflow: str
    status: ExecutionStatus
    params: dict[str, Any]
    attempt: int
    steps: list[StepOutcome]
    log: str  # the execution's log file: what its steps logged and printed
    error: str | None = None  # "ValueError: ..." for a failed run
    traceback: str | None = None  # the full traceback of the failure, when a step raised
    exit_code: int | None = None
    duration: float | None = None
    execution: Execution | None = field(default=None, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        return self.status is ExecutionStatus.COMPLETED

    @property
    def results(self) -> dict[str, Any]:
        """Each ended step's result by step name (what later steps saw in ``ctx.results``)."""
        return {s.name: s.result for s in self.steps if s.status is StepStatus.COMPLETED}

    def step(self, name: str) -> StepOutcome:
        """The step called ``name``; a KeyError naming the steps that ran otherwise."""
        for outcome in self.steps:
            if outcome.name == name:
                return outcome
        raise KeyError(f"no step {name!r} ran (ran: {', '.join(s.name for s in self.steps)})")

    def assert_completed(self) -> WorkflowRun:
        """Fail the test with the error, the traceback and the log unless it completed."""
        if not self.completed:
            raise AssertionError(
                f"{self.workflow} #{self.execution_id} ended {self.status.value}: {self.error}\n"
                f"{self.traceback or ''}\n--- log ---\n{self.log}")
        return self

    @classmethod
    def from_records(cls, execution: Execution, steps: list[StepRecord],
                     logs_dir: Path) -> WorkflowRun:
        failed_step = next((s.name for s in steps if s.status is StepStatus.FAILED), None)
        outcomes = [StepOutcome(
            s.name, s.position, s.status, s.result, s.error,
            execution.error_detail if s.name == failed_step else None, s.duration)
            for s in steps]
        try:
            text = log_path(logs_dir, execution.id).read_text(encoding="utf-8",
                                                              errors="replace")
        except FileNotFoundError:
            text = ""
        return cls(execution.id, execution.workflow, execution.status,
                   dict(execution.params), execution.attempt, outcomes, text, execution.error,
                   execution.error_detail, execution.exit_code, execution.duration, execution)
