"""The email notifier's hook implementations (entry point ``wfsched-notify-email``).

Like the webhook notifier, a hook only picks the destinations and hands the mail to a
background thread; the process waits for it at exit at most ``max_delay_on_exit`` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_notify_webhook.delivery import DeliveryTracker, report_entry
from wfsched_notify_webhook.notification import Notification

from wfsched_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.config import Settings
    from wfsched_core.records import Execution, SchedulerRow, StepRecord
    from wfsched_notify_email.email_config import EmailTarget


class EmailNotifier:
    """Mails each wanted event to the recipients of each configured server."""

    name = "email"

    def __init__(self) -> None:
        self.targets: tuple[EmailTarget, ...] = ()
        self.logs_dir: Path | None = None
        self.tracker = DeliveryTracker(self.name)

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        from wfsched_notify_email.email_config import read_email_config

        config = read_email_config(settings)
        self.targets = config.targets
        self.logs_dir = settings.logs_dir
        self.tracker.max_delay_on_exit = config.max_delay_on_exit

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
        """Queue a mail about ``note`` for every server whose filter wants it."""
        for target in self.targets:
            reason = target.filter.skip_reason(note)
            if reason:
                self.tracker.skipped(target.display, note.event, reason)
                continue
            self.tracker.submit(target.display, note.event, self._sender(target, note))

    def _sender(self, target: EmailTarget, note: Notification) -> Any:
        logs_dir = self.logs_dir

        def send() -> str:
            from wfsched_notify_email.message import build_message
            from wfsched_notify_email.smtp_send import send_with_retries

            return send_with_retries(target, build_message(target, note, logs_dir))

        return send


# The object the entry point names: one notifier per process, configured by
# wfsched_configure (a module cannot hold the parsed configuration without a global).
plugin = EmailNotifier()
