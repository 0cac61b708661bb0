"""``[notify.webhook]`` (or ``[[notify.webhook]]``): parsed and checked at start."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wfsched_core.notify.config_table import ConfigTable, notifier_tables
from wfsched_core.notify.notification import EventFilter

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

KEYS = ("url", "name", "events", "workflows", "secret_env", "timeout", "retries", "backoff",
        "format", "max_delay_on_exit")
FORMATS = ("json", "slack")


@dataclass(frozen=True)
class WebhookTarget:
    """One URL to POST to, with the settings of the table it came from."""

    url: str
    display: str
    filter: EventFilter
    format: str = "json"
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 1.0
    secret: str | None = field(default=None, repr=False)

    @property
    def worst_case_seconds(self) -> float:
        """How long one delivery can take: every attempt timing out, plus the pauses."""
        pauses = sum(self.backoff * 2 ** n for n in range(self.retries))
        return (self.retries + 1) * self.timeout + pauses


@dataclass(frozen=True)
class WebhookConfig:
    """Every destination, and how long the process may wait for them at exit."""

    targets: tuple[WebhookTarget, ...] = ()
    max_delay_on_exit: float = 10.0


def read_webhook_config(settings: Settings) -> WebhookConfig:
    """Parse every webhook table; raise ConfigError naming the key of the first problem."""
    tables = notifier_tables(settings, "webhook")
    targets = [target for table in tables for target in _targets_of(table)]
    # outcomes are remembered per display name: make each one distinct
    seen: dict[str, int] = {}
    for n, target in enumerate(targets):
        seen[target.display] = seen.get(target.display, 0) + 1
        if seen[target.display] > 1:
            targets[n] = replace(target, display=f"{target.display} #{seen[target.display]}")
    delay = max((table.number("max_delay_on_exit", 10.0) for table in tables), default=10.0)
    return WebhookConfig(tuple(targets), delay)


def _targets_of(table: ConfigTable) -> list[WebhookTarget]:
    table.check_keys(KEYS)
    urls = table.strings("url", one_allowed=True)
    if urls is None:
        raise table.fail("url", "is required (one URL, or a list of URLs)")
    for url in urls:
        problem = url_problem(url)
        if problem:
            raise table.fail("url", f"{display_url(url)}: {problem}")
    secret = table.secret_from_env("secret_env")
    name = table.string("name")
    first = WebhookTarget(
        url=urls[0], display="", filter=table.event_filter(),
        format=table.choice("format", FORMATS, "json"),
        timeout=table.number("timeout", 5.0, minimum=0.05),
        retries=int(table.number("retries", 2, integer=True)),
        backoff=table.number("backoff", 1.0),
        secret=secret[1] if secret else None,
    )
    return [replace(first, url=url, display=_label(name, url, n, len(urls)))
            for n, url in enumerate(urls, 1)]


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be POSTed to, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host name"
    return None


def display_url(url: str) -> str:
    """The URL without what may be secret: credentials, path and query (Slack's webhook
    URLs, for one, carry their token in the path)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def _label(name: str | None, url: str, position: int, count: int) -> str:
    if name is None:
        return display_url(url)
    return name if count == 1 else f"{name}#{position}"
