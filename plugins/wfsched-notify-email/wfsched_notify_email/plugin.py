"""The email notifier's hook implementations (entry point ``wfsched-notify-email``).

Like the webhook notifier, a hook only picks the destinations and hands the mail to a
background thread; the process waits for it at exit at most ``max_delay_on_exit`` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_core.notify.notification import Notification
from wfsched_core.notify.notifier_base import EventNotifier

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_notify_email.email_config import EmailTarget


class EmailNotifier(EventNotifier):
    """Mails each wanted event to the recipients of each configured server."""

    name = "email"

    def __init__(self) -> None:
        super().__init__()
        self.targets: tuple[EmailTarget, ...] = ()
        self.logs_dir: Path | None = None

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        from wfsched_notify_email.email_config import read_email_config

        config = read_email_config(settings)
        self.targets = config.targets
        self.logs_dir = settings.logs_dir
        self.tracker.max_delay_on_exit = config.max_delay_on_exit

    def sender(self, target: EmailTarget, note: Notification) -> Any:
        logs_dir = self.logs_dir

        def send() -> str:
            from wfsched_notify_email.message import build_message
            from wfsched_notify_email.smtp_send import send_with_retries

            return send_with_retries(target, build_message(target, note, logs_dir))

        return send


# The object the entry point names: one notifier per process, configured by
# wfsched_configure (a module cannot hold the parsed configuration without a global).
plugin = EmailNotifier()
