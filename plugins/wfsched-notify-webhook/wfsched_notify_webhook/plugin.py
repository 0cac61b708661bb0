"""The webhook notifier's hook implementations (entry point ``wfsched-notify-webhook``).

A hook only decides which destinations want the event and hands each POST to the
delivery tracker's background thread, so it returns within microseconds; the retries run
behind it, and at exit the process waits for them at most ``max_delay_on_exit`` seconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wfsched_core.hookspecs import hookimpl
from wfsched_notify_webhook.delivery import DeliveryTracker, report_entry
from wfsched_notify_webhook.notification import Notification, json_document

if TYPE_CHECKING:
    from wfsched_core.config import Settings
    from wfsched_core.records import Execution, SchedulerRow, StepRecord
    from wfsched_notify_webhook.webhook_config import WebhookTarget


class WebhookNotifier:
    """POSTs each wanted event to each configured URL (JSON, or a Slack message)."""

    name = "webhook"

    def __init__(self) -> None:
        self.targets: tuple[WebhookTarget, ...] = ()
        self.tracker = DeliveryTracker(self.name)

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        from wfsched_notify_webhook.webhook_config import read_webhook_config

        config = read_webhook_config(settings)
        self.targets = config.targets
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
        """Queue ``note`` for every destination that wants it."""
        for target in self.targets:
            reason = target.filter.skip_reason(note)
            if reason:
                self.tracker.skipped(target.display, note.event, reason)
                continue
            self.tracker.submit(target.display, note.event, _sender(target, note))


def _sender(target: WebhookTarget, note: Notification) -> Any:
    def send() -> str:
        from wfsched_notify_webhook.http_post import headers_for, post_with_retries

        if target.format == "slack":
            from wfsched_notify_webhook.slack import slack_message

            document = slack_message(note)
        else:
            document = json_document(note)
        body = json.dumps(document, default=str).encode()
        return post_with_retries(target, body, headers_for(target, body, note.event))

    return send


# The object the entry point names: one notifier per process, configured by
# wfsched_configure (a module cannot hold the parsed configuration without a global).
plugin = WebhookNotifier()
