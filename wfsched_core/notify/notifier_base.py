"""What every notifier does with lifecycle events: turn each into a ``Notification`` and
hand it to each destination whose filter wants it, on the delivery tracker's thread.

Shared by the webhook and email notifiers; a notifier subclass says how to send one
notification to one destination (``sender``) and reads its own configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.notify.delivery import DeliveryTracker, report_entry
from wfsched_core.notify.notification import Notification

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, SchedulerRow, StepRecord


class EventNotifier:
    """Hook implementations for every notification event, for one kind of destination."""

    name = "notifier"

    def __init__(self) -> None:
        self.targets: Sequence[Any] = ()
        self.tracker = DeliveryTracker(self.name)

    def sender(self, target: Any, note: Notification) -> Callable[[], str]:
        """The function that delivers ``note`` to ``target`` (run on the tracker's thread)."""
        raise NotImplementedError

    @hookimpl
    def wfsched_execution_queued(self, execution: Execution) -> None:
        self.notify(Notification("queued", execution))

    @hookimpl
    def wfsched_execution_started(self, execution: Execution) -> None:
        self.notify(Notification("started", execution))

    @hookimpl
    def wfsched_step_finished(self, execution: Execution, step: StepRecord) -> None:
        self.notify(Notification("step_finished", execution, step=step))

    @hookimpl
    def wfsched_execution_completed(self, execution: Execution) -> None:
        self.notify(Notification("completed", execution))

    @hookimpl
    def wfsched_execution_failed(self, execution: Execution, will_retry: bool) -> None:
        self.notify(Notification("failed", execution, will_retry=will_retry))

    @hookimpl
    def wfsched_execution_cancelled(self, execution: Execution) -> None:
        self.notify(Notification("cancelled", execution))

    @hookimpl
    def wfsched_execution_timed_out(self, execution: Execution, will_retry: bool) -> None:
        self.notify(Notification("timed_out", execution, will_retry=will_retry))

    @hookimpl
    def wfsched_execution_waiting(self, execution: Execution) -> None:
        self.notify(Notification("waiting", execution))

    @hookimpl
    def wfsched_execution_overdue(self, execution: Execution, deadline: float) -> None:
        self.notify(Notification("overdue", execution, deadline=deadline))

    @hookimpl
    def wfsched_scheduler_started(self, scheduler: SchedulerRow) -> None:
        self.notify(Notification("scheduler_started", scheduler=scheduler))

    @hookimpl
    def wfsched_scheduler_stopping(self, scheduler: SchedulerRow, reason: str) -> None:
        self.notify(Notification("scheduler_stopping", scheduler=scheduler, reason=reason))

    @hookimpl
    def wfsched_notify_report(self, wait: float) -> list[dict[str, Any]] | None:
        if not self.targets:
            return None
        self.tracker.wait(wait)
        return [report_entry(self.name, t.display, t.filter.events, t.filter.workflows,
                             self.tracker.last_outcome(t.display)) for t in self.targets]

    def notify(self, note: Notification) -> None:
        """Queue ``note`` for every destination that wants it."""
        for target in self.targets:
            reason = target.filter.skip_reason(note)
            if reason:
                self.tracker.skipped(target.display, note.event, reason)
                continue
            self.tracker.submit(target.display, note.event, self.sender(target, note))
