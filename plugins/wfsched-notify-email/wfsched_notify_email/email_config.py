"""``[notify.email]`` (or ``[[notify.email]]``): parsed and checked at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wfsched_core.notify.config_table import ConfigTable, notifier_tables
from wfsched_core.notify.notification import EventFilter

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

KEYS = ("host", "port", "security", "username", "password_env", "sender", "recipients",
        "events", "workflows", "timeout", "retries", "backoff", "ca_file", "log_lines",
        "subject_prefix", "max_delay_on_exit")
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# Mail is for what needs a person: every step of every run would bury the inbox.
DEFAULT_EVENTS = ("failed", "timed_out", "waiting", "overdue")


@dataclass(frozen=True)
class EmailTarget:
    """One SMTP server and the people it writes to."""

    host: str
    port: int
    security: str
    sender: str
    recipients: tuple[str, ...]
    filter: EventFilter
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0
    ca_file: str | None = None
    log_lines: int = 20
    subject_prefix: str = "[wfsched]"

    @property
    def display(self) -> str:
        return f"{', '.join(self.recipients)} via {self.host}:{self.port}"


@dataclass(frozen=True)
class EmailConfig:
    targets: tuple[EmailTarget, ...] = ()
    max_delay_on_exit: float = 10.0


def read_email_config(settings: Settings) -> EmailConfig:
    """Parse every email table; raise ConfigError naming the key of the first problem."""
    tables = notifier_tables(settings, "email")
    targets = tuple(_target_of(table) for table in tables)
    delay = max((table.number("max_delay_on_exit", 10.0) for table in tables), default=10.0)
    return EmailConfig(targets, delay)


def _target_of(table: ConfigTable) -> EmailTarget:
    table.check_keys(KEYS)
    host = table.string("host", required=True)
    security = table.choice("security", SECURITY, "starttls")
    port = int(table.number("port", DEFAULT_PORTS[security], minimum=1, maximum=65535,
                            integer=True))
    sender = table.string("sender", required=True)
    _check_address(table, "sender", sender)
    recipients = table.strings("recipients", one_allowed=True)
    if not recipients:
        raise table.fail("recipients", "is required: the addresses to write to")
    for address in recipients:
        _check_address(table, "recipients", address)
    username = table.string("username")
    secret = table.secret_from_env("password_env")
    if username and secret is None:
        raise table.fail("password_env", f"is required with username {username!r}: the "
                         "name of the environment variable that holds the password")
    if secret is not None and not username:
        raise table.fail("username", "is required with password_env")
    if secret is not None and security == "none":
        raise table.fail("security", "\"none\" would send the password in clear text; "
                         "use \"starttls\" or \"ssl\"")
    ca_file = table.string("ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise table.fail("ca_file", f"{ca_file} is not a file")
    return EmailTarget(
        host=str(host), port=port, security=security, sender=str(sender),
        recipients=tuple(recipients), filter=table.event_filter(DEFAULT_EVENTS),
        username=username, password=secret[1] if secret else None,
        timeout=table.number("timeout", 10.0, minimum=0.05),
        retries=int(table.number("retries", 2, integer=True)),
        backoff=table.number("backoff", 1.0), ca_file=ca_file,
        log_lines=int(table.number("log_lines", 20, integer=True)),
        subject_prefix=table.string("subject_prefix", "[wfsched]") or "",
    )


def _check_address(table: ConfigTable, key: str, address: str | None) -> None:
    local, _, domain = (address or "").rpartition("@")
    if not local or not domain or any(c.isspace() for c in address or ""):
        raise table.fail(key, f"{address!r} is not an email address")
