"""What a lean worker is told by its scheduler: where to report and what to run.

One environment variable (``WFSCHED_WORKER_PLAN``) holding JSON, so that a fork-server
child takes it with the rest of its request's environment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class WorkerPlan:
    """How a lean worker reaches its scheduler, and the workflow class it runs."""

    socket: str  # the scheduler's report socket (a Unix socket in a private directory)
    token: str  # proves to the scheduler that this worker was started for this execution
    target: str  # "package.module:QualifiedName" of the workflow class
    nice: int | None = None  # the workflow's ``nice`` (resolved with wfsched.toml)
    secret_params: tuple[str, ...] = ()  # shown masked in the worker's own log lines
    heartbeat_interval: float = 2.0
    logs_dir: str = ""

    def to_env(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_env(cls, value: str) -> WorkerPlan:
        fields = json.loads(value)
        fields["secret_params"] = tuple(fields.get("secret_params") or ())
        return cls(**fields)


def class_target(cls: type) -> str | None:
    """``module:QualifiedName`` of a class a fresh process can import, or None."""
    module, name = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in name:
        return None
    return f"{module}:{name}"


def import_target(target: str) -> type:
    """The class named by :func:`class_target`'s ``module:QualifiedName``."""
    import importlib

    module_name, _, qualname = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]
