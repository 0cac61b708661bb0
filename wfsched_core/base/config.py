"""Settings: command-line option > environment > ``wfsched.toml`` > defaults."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfsched_core.base.bounds import SCHEDULER_BOUNDS
from wfsched_core.base.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_DATABASE_URL = "WFSCHED_DATABASE_URL"
ENV_HOME = "WFSCHED_HOME"
ENV_CONFIG = "WFSCHED_CONFIG"
ENV_DISABLE_PLUGINS = "WFSCHED_DISABLE_PLUGINS"
ENV_STRICT_PLUGINS = "WFSCHED_STRICT_PLUGINS"

# The top-level keys and tables of wfsched.toml that wfsched and its bundled plugins own,
# and what each holds (docs/plugin-reference.md is generated from this). A plugin's own
# settings go in [plugins.NAME] (NAME: its plugin name, as `wfsched plugins list` shows
# it), a notifier's in [notify.NAME], a spawn strategy's in [spawner.NAME].
RESERVED_TABLES: dict[str, str] = {
    "database_url": "the database URL (a key, not a table; better: WFSCHED_DATABASE_URL)",
    "home": "WFSCHED_HOME (a key, not a table)",
    "scheduler": "the scheduler's settings (max_concurrent, poll_interval, ...)",
    "workflows": "[workflows.NAME]: a workflow's attributes, overridden",
    "plugins": "disable = [...] blocks plugins; [plugins.NAME] is plugin NAME's own table",
    "notify": "[notify.NAME]: the notifiers (webhook, email, ... and a plugin notifier's)",
    "spawner": "[spawner.NAME]: a spawn strategy's own settings",
    "admission": "the built-in resource admission (hold work while the host is busy)",
    "web": "the dashboard plugin (wfsched-web)",
}

# Keys of the [scheduler] table and their defaults.
SCHEDULER_DEFAULTS: dict[str, Any] = {
    "max_concurrent": 5,
    "poll_interval": 2.0,
    "spawner": "local",
    "heartbeat_interval": 2.0,
    "heartbeat_timeout": 30.0,
    "grace_period": 30.0,
    "kill_grace": 5.0,
    "notify_budget": 5.0,
    "notify_backoff": 60.0,  # seconds a plugin that overran its budget is skipped (doubling)
    # local spawner: "fork" (forked from a warm parent; the default where fork is safe) or
    # "exec" (a fresh interpreter per worker; always used where fork is not)
    "start_mode": "fork",
    "fork_spares": 1,  # fork start mode: workers forked ahead of any request
    "retention": "",  # e.g. "30d": the scheduler prunes older finished executions daily
}


@dataclass
class Settings:
    """Everything a process needs to know about its installation, resolved once."""

    #: ``WFSCHED_HOME``: the default SQLite database, ``logs/ID.log``, plugin state
    home: Path
    #: the database URL in force (a secret: show it masked, never log it)
    database_url: str
    #: the ``wfsched.toml`` read, None when there is none
    config_path: Path | None = None
    #: that file's contents; read a plugin's own table with ``section("plugins.NAME")``
    data: dict[str, Any] = field(default_factory=dict)
    #: plugin names blocked (``[plugins] disable`` and ``WFSCHED_DISABLE_PLUGINS``)
    disabled_plugins: tuple[str, ...] = ()
    #: ``WFSCHED_STRICT_PLUGINS``: a broken plugin is an error instead of a warning
    strict_plugins: bool = False

    def section(self, dotted: str) -> dict[str, Any]:
        """The table ``[a.b]`` of the config file for ``"a.b"`` (empty when absent)."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict):
                return {}
            node = node.get(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{self._where()}: [{dotted}] must be a table")
        return node

    def scheduler_option(self, key: str) -> Any:
        """A ``[scheduler]`` setting, or its default."""
        return self.section("scheduler").get(key, SCHEDULER_DEFAULTS[key])

    def workflow_overrides(self, name: str) -> dict[str, Any]:
        """The ``[workflows.NAME]`` table: attribute overrides for one workflow."""
        table = self.section("workflows").get(name, {}) or {}
        if not isinstance(table, dict):
            raise ConfigError(f"{self._where()}: [workflows.{name}] must be a table")
        return table

    @property
    def where(self) -> str:
        """The config file in force, for an error message about it."""
        return self._where()

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def as_environment(self) -> dict[str, str]:
        """The variables that make a child process (a worker, the fork server) resolve
        these same settings: the one place that mapping is written."""
        env = {ENV_DATABASE_URL: self.database_url, ENV_HOME: str(self.home)}
        if self.config_path is not None:
            env[ENV_CONFIG] = str(self.config_path.resolve())
        return env

    def _where(self) -> str:
        return str(self.config_path) if self.config_path else "wfsched.toml"


def default_home() -> Path:
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".wfsched").expanduser()


def find_config_file(explicit: str | None, home: Path) -> Path | None:
    """The config file in force: ``--config``, ``$WFSCHED_CONFIG``, ./wfsched.toml, home."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    for candidate in (Path.cwd() / "wfsched.toml", home / "wfsched.toml"):
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every problem into a :class:`ConfigError`."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist")
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable (permission denied)")
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text")


def load_settings(
    *, database_url: str | None = None, config_file: str | None = None
) -> Settings:
    """Resolve the settings of this process from options, environment and config file."""
    home = default_home()
    path = find_config_file(config_file, home)
    data = read_config_file(path) if path else {}
    if "home" in data and not os.environ.get(ENV_HOME):
        home = Path(str(data["home"])).expanduser()
    url = (
        database_url
        or os.environ.get(ENV_DATABASE_URL)
        or _string(data, "database_url", path)
        or f"sqlite:///{home / 'wfsched.db'}"
    )
    disabled = list(_string_list(data.get("plugins", {}).get("disable", []), path))
    disabled += [n.strip() for n in os.environ.get(ENV_DISABLE_PLUGINS, "").split(",")]
    settings = Settings(
        home=home,
        database_url=url,
        config_path=path,
        data=data,
        disabled_plugins=tuple(n for n in disabled if n),
        strict_plugins=os.environ.get(ENV_STRICT_PLUGINS, "") not in ("", "0", "false"),
    )
    _validate_scheduler_table(settings)
    return settings


def _string(data: dict[str, Any], key: str, path: Path | None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path or 'wfsched.toml'}: {key} must be a string")
    return value


def _string_list(value: Any, path: Path | None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path or 'wfsched.toml'}: [plugins] disable must be a list of "
                          "plugin names")
    return value


# [scheduler] keys that name one of a few modes
SCHEDULER_CHOICES: dict[str, tuple[str, ...]] = {"start_mode": ("exec", "fork")}


def _validate_scheduler_table(settings: Settings) -> None:
    """Every ``[scheduler]`` key known, of its kind, and numbers within their bounds."""
    table = settings.section("scheduler")
    where = settings._where()
    for key, value in table.items():
        if key not in SCHEDULER_DEFAULTS:
            known = ", ".join(sorted(SCHEDULER_DEFAULTS))
            raise ConfigError(f"{where}: unknown [scheduler] key {key!r} ({known})")
        bound = SCHEDULER_BOUNDS.get(key)
        if bound is not None:
            problem = bound.problem(value)
            if problem:
                raise ConfigError(f"{where}: [scheduler] {key} {problem}")
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: [scheduler] {key} must be a string")
        elif key in SCHEDULER_CHOICES and value not in SCHEDULER_CHOICES[key]:
            raise ConfigError(f"{where}: [scheduler] {key} must be one of "
                              f"{', '.join(SCHEDULER_CHOICES[key])}, not {value!r}")
    interval = settings.scheduler_option("heartbeat_interval")
    if settings.scheduler_option("heartbeat_timeout") <= interval:
        raise ConfigError(f"{where}: [scheduler] heartbeat_timeout must be longer than "
                          f"heartbeat_interval ({interval})")
