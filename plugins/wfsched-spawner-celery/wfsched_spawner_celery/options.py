"""``[spawner.celery]`` of ``wfsched.toml``: the broker, the queue, the time-outs.

The broker URL may carry a password: it is read from ``WFSCHED_CELERY_BROKER_URL`` first
(secrets come from the environment), then from the table, and only ever shown masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wfsched_core.base.errors import ConfigError, SpawnerError

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

SECTION = "spawner.celery"
ENV_BROKER_URL = "WFSCHED_CELERY_BROKER_URL"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "wfsched"
#: the broker URL schemes Celery's Redis and RabbitMQ transports accept
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


class BrokerError(SpawnerError):
    """A broker URL that is malformed or a broker that cannot be reached (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class CeleryOptions:
    """The resolved ``[spawner.celery]`` table."""

    broker_url: str = DEFAULT_BROKER_URL
    queue: str = DEFAULT_QUEUE
    #: seconds a dispatched execution may stay pending (no worker took it) before its task
    #: is sent again: a message lost with a broker that restarted empty is sent anew
    redispatch_after: float = 60.0
    #: seconds to wait for the broker when connecting or sending (never forever)
    connect_timeout: float = 5.0
    #: Redis transport: seconds before an unacknowledged task is delivered again
    visibility_timeout: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryOptions:
        table = settings.section(SECTION)
        where = f"{settings.config_path or 'configuration'}: [{SECTION}]"
        known = {"broker_url", "queue", "redispatch_after", "connect_timeout",
                 "visibility_timeout"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} "
                              f"(known: {', '.join(sorted(known))})")
        broker = os.environ.get(ENV_BROKER_URL) or table.get("broker_url") or DEFAULT_BROKER_URL
        queue = table.get("queue", DEFAULT_QUEUE)
        if not isinstance(broker, str) or not isinstance(queue, str) or not queue.strip():
            raise ConfigError(f"{where}: broker_url and queue must be non-empty strings")
        return cls(broker_url=broker, queue=queue.strip(),
                   redispatch_after=_seconds(table, "redispatch_after", cls.redispatch_after, where),
                   connect_timeout=_seconds(table, "connect_timeout", cls.connect_timeout, where),
                   visibility_timeout=_seconds(table, "visibility_timeout",
                                               cls.visibility_timeout, where))

    @property
    def masked_broker_url(self) -> str:
        return mask_broker_url(self.broker_url)

    def check_broker_url(self) -> None:
        """Raise :class:`BrokerError` for a URL Celery's transports would not accept."""
        scheme = urlsplit(self.broker_url).scheme.split("+")[0]
        if scheme not in BROKER_SCHEMES:
            raise BrokerError(
                f"bad Celery broker URL {self.masked_broker_url!r}: expected redis:// or "
                f"amqp:// ([{SECTION}] broker_url or ${ENV_BROKER_URL})")
        try:
            parts = urlsplit(self.broker_url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise BrokerError(f"bad Celery broker URL {self.masked_broker_url!r}: {exc}")
        if not parts.hostname:
            raise BrokerError(f"bad Celery broker URL {self.masked_broker_url!r}: no host")


def mask_broker_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl()
    except ValueError:
        return "<malformed broker URL>"


def _seconds(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number of seconds, not {value!r}")
    return float(value)
