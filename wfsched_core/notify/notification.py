"""One lifecycle event as notifiers see it, the filter that picks events, and its JSON form."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wfsched_core.base.durations import describe_seconds
from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, SchedulerRow, StepRecord

# Events whose hook says whether a new attempt was queued.
RETRY_EVENTS = ("failed", "timed_out")


@dataclass(frozen=True)
class Notification:
    """What happened (``event``, a contract event name) and the records it is about."""

    event: str
    execution: Execution | None = None
    will_retry: bool | None = None
    step: StepRecord | None = None
    scheduler: SchedulerRow | None = None
    reason: str | None = None
    at: datetime = field(default_factory=utcnow)
    deadline: float | None = None  # ``overdue``: the workflow's deadline, in seconds

    def commands(self) -> dict[str, str]:
        """What a person types to act on it: approve or reject a ``waiting`` run."""
        if self.event != "waiting" or self.execution is None:
            return {}
        execution_id = self.execution.id
        return {"approve": f"wfsched approve {execution_id}",
                "reject": f"wfsched reject {execution_id} --reason TEXT"}

    @property
    def workflow(self) -> str | None:
        return self.execution.workflow if self.execution else None

    def summary(self) -> str:
        """One line for a chat message or a mail subject."""
        if self.scheduler is not None:
            text = f"scheduler {self.scheduler.id} on {self.scheduler.host}"
            text += " started" if self.event == "scheduler_started" else " stopping"
            return text + (f": {self.reason}" if self.reason else "")
        execution = self.execution
        assert execution is not None
        what = self.event.replace("_", " ")
        if self.step is not None:
            what = f"step {self.step.name} {self.step.status.value}"
        text = f"{execution.workflow} #{execution.id} {what}"
        if execution.host:
            text += f" on {execution.host}"
        error = (self.step.error if self.step is not None else None) or (
            execution.error if self.event in RETRY_EVENTS + ("cancelled",) else None)
        if error:
            text += f": {first_line(error)}"
        if self.event == "waiting" and execution.wait_reason:
            text = f"{execution.workflow} #{execution.id} {execution.wait_reason}"
        if self.event == "overdue" and self.deadline is not None:
            text += (f": not finished {describe_seconds(self.deadline)} after it was due "
                     f"(now {execution.status.value})")
        if self.will_retry:
            text += " (will retry)"
        if self.commands():
            text += f"; approve with: {self.commands()['approve']}"
        return text


@dataclass(frozen=True)
class EventFilter:
    """Which events (contract names) and workflows (``None``: all) a destination wants."""

    events: tuple[str, ...]
    workflows: tuple[str, ...] | None = None

    def skip_reason(self, note: Notification) -> str | None:
        """Why ``note`` is not for this destination, or ``None`` when it is."""
        if note.event not in self.events:
            return f"event {note.event!r} is not in its events"
        if self.workflows is not None and note.workflow is not None \
                and note.workflow not in self.workflows:
            return f"workflow {note.workflow!r} is not in its workflows"
        return None


def json_document(note: Notification) -> dict[str, Any]:
    """The webhook body: the event, the execution's contract fields and what goes with it."""
    document: dict[str, Any] = {
        "event": note.event,
        "sent_at": isoformat(note.at),
        "sent_by": {"host": socket.gethostname(), "pid": os.getpid()},
        "summary": note.summary(),
    }
    execution = note.execution
    if execution is not None:
        document.update(
            workflow=execution.workflow,
            execution=execution.to_json(),
            host=execution.host,
            error=execution.error,
            duration=execution.duration if execution.finished_at else None,
        )
    if note.event in RETRY_EVENTS:
        document["will_retry"] = bool(note.will_retry)
    if note.step is not None:
        document["step"] = note.step.to_json()
    if note.scheduler is not None:
        document["scheduler"] = note.scheduler.to_json()
    if note.reason is not None:
        document["reason"] = note.reason
    if note.commands():
        document["commands"] = note.commands()
    if note.deadline is not None:
        document["deadline_seconds"] = note.deadline
    return document


def first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
