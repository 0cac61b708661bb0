"""The ``[spawner.container]`` table of ``wfsched.toml``, validated into a dataclass.

Per-workflow values (``image``, ``cpus``, ``memory``, ``environment``) come from the
workflow class or ``[workflows.NAME]`` and override these defaults (see ``command.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ConfigError

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

SECTION = "spawner.container"


@dataclass(frozen=True)
class ContainerOptions:
    """How containers are run on this installation."""

    runtime: str | None = None  # "podman", "docker" or a path; None: the first on PATH
    image: str | None = None  # the default image
    rootfs: str | None = None  # podman only: a root file system directory instead of an image
    cpus: float | None = None
    memory: str | None = None  # "512m", "2g" (the runtime's syntax)
    global_args: tuple[str, ...] = ()  # before "run": podman --runtime runc ...
    run_args: tuple[str, ...] = ()  # after "run": --ulimit ..., --security-opt ...
    volumes: tuple[str, ...] = ()  # extra "-v" specifications
    pass_env: tuple[str, ...] = ()  # names of further variables the worker inherits
    network: str = "host"  # the worker reaches the database on loopback
    init: bool = True  # a tiny init as PID 1 forwards the runtime's SIGTERM to the worker
    mount_python: bool = True  # mount this Python, its venv and wfsched's code read-only
    python: str | None = None  # the interpreter inside the image (when not mounted)
    name_prefix: str = "wfsched-exec-"
    poll_cache: float = 1.0  # seconds one "ps" answer serves every poll

    @classmethod
    def from_settings(cls, settings: Settings) -> ContainerOptions:
        """Read and check the table; a bad value is a ConfigError naming the key."""
        table = dict(settings.section(SECTION))
        where = f"{settings.config_path or 'configuration'}: [{SECTION}]"
        values: dict[str, Any] = {}
        for key in ("runtime", "image", "rootfs", "memory", "network", "python", "name_prefix"):
            if key in table:
                values[key] = _string(table.pop(key), key, where)
        for key in ("global_args", "run_args", "volumes", "pass_env"):
            if key in table:
                values[key] = tuple(_strings(table.pop(key), key, where))
        for key in ("cpus", "poll_cache"):
            if key in table:
                values[key] = _positive(table.pop(key), key, where)
        for key in ("init", "mount_python"):
            if key in table:
                value = table.pop(key)
                if not isinstance(value, bool):
                    raise ConfigError(f"{where} {key} must be true or false")
                values[key] = value
        if table:
            raise ConfigError(f"{where} unknown key(s): {', '.join(sorted(table))}")
        return cls(**values)


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} {key} must be a non-empty string")
    return value


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} {key} must be a list of strings")
    return value


def _positive(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where} {key} must be a positive number")
    return float(value)
