"""Admission: hold executions back while the machine is short of memory or overloaded.

Configured in ``[admission]`` of ``wfsched.toml``: ``min_available_memory_mb`` and
``max_load_average`` (per core). Without either, everything is admitted. A workflow may
declare ``memory`` (MB) it needs; it then waits until that much is available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ConfigError
from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import Execution



class ResourceAdmission:
    """The plugin object: limits come from ``wfsched_configure``, readings from psutil."""

    def __init__(self, reader: Callable[[], dict[str, Any]] | None = None) -> None:
        self.limits: dict[str, float] = {}
        # where readings come from: psutil, or a test's simulated machine
        self.reader = reader or read_resources

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        table = settings.section("admission")
        self.limits = parse_limits(table)

    def may_hold(self, specs: Iterable[WorkflowSpec]) -> bool:
        """Whether this could ever hold one of ``specs`` back (limits, or a ``memory``)."""
        return bool(self.limits) or any(spec.extra.get("memory") for spec in specs)

    @hookimpl
    def wfsched_admit(self, execution: Execution, spec: WorkflowSpec | None) -> str | None:
        needed = float((spec.extra.get("memory") if spec else None) or 0)
        if not self.limits and not needed:
            return None
        return hold_reason(self.limits, needed, self.reader())


def parse_limits(table: dict[str, Any]) -> dict[str, float]:
    limits: dict[str, float] = {}
    for key in ("min_available_memory_mb", "max_load_average"):
        value = table.get(key)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"[admission] {key} must be a non-negative number")
        limits[key] = float(value)
    unknown = set(table) - {"min_available_memory_mb", "max_load_average"}
    if unknown:
        raise ConfigError(f"[admission] unknown key(s): {', '.join(sorted(unknown))}")
    return limits


def read_resources() -> dict[str, Any]:
    """Available memory (MB) and the 1-minute load average per core, from psutil."""
    import os

    import psutil

    load = os.getloadavg()[0] / (os.cpu_count() or 1) if hasattr(os, "getloadavg") else 0.0
    return {"available_mb": psutil.virtual_memory().available / 2**20, "load": load}


def hold_reason(limits: dict[str, float], needed_mb: float,
                reading: dict[str, Any]) -> str | None:
    """Why an execution needing ``needed_mb`` must wait under ``reading``, or None."""
    floor = limits.get("min_available_memory_mb", 0.0) + needed_mb
    if floor and reading["available_mb"] < floor:
        return f"waiting for memory: {reading['available_mb']:.0f} MB available < {floor:.0f} MB"
    ceiling = limits.get("max_load_average")
    if ceiling is not None and reading["load"] > ceiling:
        return f"waiting for load: load average per core {reading['load']:.2f} > {ceiling:.2f}"
    return None
