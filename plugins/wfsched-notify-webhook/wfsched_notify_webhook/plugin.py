"""The webhook notifier's hook implementations (entry point ``wfsched-notify-webhook``).

A hook only decides which destinations want the event and hands each POST to the
delivery tracker's background thread, so it returns within microseconds; the retries run
behind it, and at exit the process waits for them at most ``max_delay_on_exit`` seconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.notify.notification import Notification, json_document
from wfsched_core.notify.notifier_base import EventNotifier

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_notify_webhook.webhook_config import WebhookTarget


class WebhookNotifier(EventNotifier):
    """POSTs each wanted event to each configured URL (JSON, or a Slack message)."""

    name = "webhook"

    def __init__(self) -> None:
        super().__init__()
        self.targets: tuple[WebhookTarget, ...] = ()

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        from wfsched_notify_webhook.webhook_config import read_webhook_config

        config = read_webhook_config(settings)
        self.targets = config.targets
        self.tracker.max_delay_on_exit = config.max_delay_on_exit

    def sender(self, target: WebhookTarget, note: Notification) -> Any:
        return _sender(target, note)


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
