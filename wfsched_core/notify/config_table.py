"""Read a notifier's ``wfsched.toml`` table, each problem a ConfigError naming the key."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ConfigError
from wfsched_core.framework.hookspecs import EVENT_HOOKS
from wfsched_core.notify.notification import EventFilter

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

EVENT_NAMES: tuple[str, ...] = tuple(EVENT_HOOKS)


def notifier_tables(settings: Settings, name: str) -> list[ConfigTable]:
    """``[notify.NAME]`` (one destination) or ``[[notify.NAME]]`` (several), as tables."""
    where = str(settings.config_path) if settings.config_path else "configuration"
    notify = settings.data.get("notify", {})
    if not isinstance(notify, dict):
        raise ConfigError(f"{where}: [notify] must be a table")
    raw = notify.get(name)
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [ConfigTable(f"{where}: [notify.{name}]", raw)]
    if isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
        return [ConfigTable(f"{where}: [[notify.{name}]] #{n}", item)
                for n, item in enumerate(raw, 1)]
    raise ConfigError(f"{where}: notify.{name} must be a table ([notify.{name}]) "
                      f"or an array of tables ([[notify.{name}]])")


class ConfigTable:
    """Typed getters over one table; ``check_keys`` rejects misspelled keys."""

    def __init__(self, where: str, data: dict[str, Any]) -> None:
        self.where = where
        self.data = data

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where} {key}: {problem}")

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                raise self.fail(key, f"unknown key (known: {', '.join(known)})")

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key, default)
        if value is None and required:
            raise self.fail(key, "is required")
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return str(value)

    def number(self, key: str, default: float, *, minimum: float = 0.0,
               maximum: float = 3600.0, integer: bool = False) -> float:
        value = self.data.get(key, default)
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (integer and not isinstance(value, int)):
            raise self.fail(key, f"must be {kind} (got {value!r})")
        if not math.isfinite(value):  # inf, nan: overflow a timestamp at delivery
            raise self.fail(key, f"must be a finite number (got {value!r})")
        if value < minimum:
            raise self.fail(key, f"must be {kind} of at least {minimum:g} (got {value!r})")
        if value > maximum:
            raise self.fail(key, f"must be {kind} of at most {maximum:g} (got {value!r})")
        return value

    def strings(self, key: str, *, one_allowed: bool = False) -> list[str] | None:
        """A list of non-empty strings (or one string when ``one_allowed``); None if absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if one_allowed and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value \
                or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a non-empty list of strings")
        return list(value)

    def event_filter(self, default_events: tuple[str, ...] = EVENT_NAMES) -> EventFilter:
        """``events`` (names checked) and ``workflows``."""
        events = self.strings("events", one_allowed=True)
        if events is not None:
            unknown = [e for e in events if e not in EVENT_NAMES]
            if unknown:
                raise self.fail("events", f"unknown event {', '.join(map(repr, unknown))} "
                                f"(known: {', '.join(EVENT_NAMES)})")
        workflows = self.strings("workflows", one_allowed=True)
        return EventFilter(tuple(events) if events else default_events,
                           tuple(workflows) if workflows else None)

    def secret_from_env(self, key: str) -> tuple[str, str] | None:
        """``(variable, value)`` for a key that names an environment variable; must be set.

        The value is never put into a message.
        """
        variable = self.string(key)
        if variable is None:
            return None
        value = os.environ.get(variable)
        if not value:
            raise self.fail(key, f"names the environment variable {variable}, which is not "
                            "set (set it wherever wfsched runs: scheduler, workers, commands)")
        return variable, value
