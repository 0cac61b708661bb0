"""The authoring API: a workflow is a class of ``@step`` methods (DESIGN.md, contract)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from wfsched_core.base.bounds import WORKFLOW_BOUNDS
from wfsched_core.base.errors import ConfigError
from wfsched_core.base.records import NO_UPSTREAM, RunVersion, Upstream

F = TypeVar("F", bound=Callable[..., Any])

_STEP_MARK = "__wfsched_step__"


def step(function: F) -> F:
    """Mark a method of a :class:`Workflow` as a step; steps run in the order defined."""
    setattr(function, _STEP_MARK, True)
    return function


@dataclass
class StepContext:
    """What a step receives: parameters, identity of the run and the results so far."""

    params: dict[str, Any]
    execution_id: int
    attempt: int
    log: logging.Logger
    results: dict[str, Any] = field(default_factory=dict)
    workflow: str = ""
    #: read-only, by workflow name: the run whose completion queued this one and the latest
    #: completed run of each other ``depends_on`` workflow (empty unless a dependency
    #: queued this run); each an :class:`Upstream` (``execution_id``, ``workflow``,
    #: ``status``, ``results``)
    upstream: Mapping[str, Upstream] = field(default_factory=lambda: NO_UPSTREAM)


class Workflow:
    """Base class of every workflow. Subclass it, add ``@step`` methods, set attributes."""

    name: ClassVar[str | None] = None
    description: ClassVar[str | None] = None
    schedule: ClassVar[str | None] = None
    timezone: ClassVar[str] = "UTC"
    catchup: ClassVar[str] = "latest"
    start_deadline: ClassVar[float | None] = None
    concurrency: ClassVar[int | None] = None
    overlap: ClassVar[str] = "allow"
    priority: ClassVar[int] = 0
    retries: ClassVar[int] = 0
    retry_delay: ClassVar[float] = 0.0
    retry_backoff: ClassVar[float] = 1.0
    timeout: ClassVar[float | None] = None
    depends_on: ClassVar[tuple[str, ...] | list[str]] = ()
    queue: ClassVar[str | None] = None
    spawner: ClassVar[str | None] = None
    nice: ClassVar[int | None] = None
    # parameters stored as given but shown masked (CLI, dashboard, notifications, logs)
    secret_params: ClassVar[tuple[str, ...] | list[str]] = ()

    @classmethod
    def steps(cls) -> list[tuple[str, Callable[..., Any]]]:
        """The step methods in definition order, base classes' steps first."""
        found: dict[str, Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr_name, value in vars(klass).items():
                if callable(value) and getattr(value, _STEP_MARK, False):
                    found.pop(attr_name, None)
                    found[attr_name] = value
        return list(found.items())


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow class with its attributes resolved (class values, then ``wfsched.toml``)."""

    name: str
    cls: type[Workflow]
    source: str
    description: str | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    catchup: str = "latest"
    start_deadline: float | None = None
    concurrency: int | None = None
    overlap: str = "allow"
    priority: int = 0
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    timeout: float | None = None
    depends_on: tuple[str, ...] = ()
    queue: str | None = None
    spawner: str | None = None
    nice: int | None = None
    secret_params: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: the installed distribution that announced it, and its version (None: not known)
    package: str | None = None
    package_version: str | None = None

    @property
    def step_names(self) -> list[str]:
        return [name for name, _ in self.cls.steps()]


def run_version(spec: WorkflowSpec | None) -> RunVersion:
    """What an execution of ``spec`` records as the code that ran it: the workflow's
    distribution and version, and this core's version."""
    from wfsched_core import __version__

    if spec is None:
        return RunVersion(core=__version__)
    return RunVersion(spec.package, spec.package_version, __version__)


_ATTRIBUTE_TYPES: dict[str, tuple[type, ...]] = {
    "description": (str,),
    "schedule": (str,),
    "timezone": (str,),
    "catchup": (str,),
    "start_deadline": (int, float),
    "concurrency": (int,),
    "overlap": (str,),
    "priority": (int,),
    "retries": (int,),
    "retry_delay": (int, float),
    "retry_backoff": (int, float),
    "timeout": (int, float),
    "depends_on": (list, tuple),
    "queue": (str,),
    "spawner": (str,),
    "nice": (int,),
    "secret_params": (list, tuple),
}


def resolve_spec(
    name: str, cls: type[Workflow], source: str, overrides: dict[str, Any] | None = None
) -> WorkflowSpec:
    """Build the spec of ``cls``: its class attributes, overridden by ``[workflows.NAME]``.

    A bad ``[workflows.NAME]`` value is a :class:`ConfigError` (the command stops, exit 2);
    a bad class attribute is a ``ValueError`` (the catalog lists the workflow as broken).
    """
    values: dict[str, Any] = {}
    for attribute in _ATTRIBUTE_TYPES:
        values[attribute] = getattr(cls, attribute, None)
        problem = _value_problem(attribute, values[attribute])
        if problem and values[attribute] is not None:
            raise ValueError(f"{cls.__name__}.{attribute} {problem}")
    if values["description"] is None and cls.__doc__:
        values["description"] = cls.__doc__.strip().splitlines()[0]
    extra: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key in _ATTRIBUTE_TYPES:
            problem = _value_problem(key, value)
            if problem:
                raise ConfigError(f"[workflows.{name}] {key} {problem}")
            values[key] = value
        else:
            extra[key] = value
    for key in ("image", "memory", "cpus", "environment"):
        if key not in extra and hasattr(cls, key):
            extra[key] = getattr(cls, key)
    values["depends_on"] = tuple(values["depends_on"] or ())
    values["secret_params"] = tuple(values["secret_params"] or ())
    known = {f.name for f in fields(WorkflowSpec)}
    clean = {k: v for k, v in values.items() if k in known and v is not None}
    return WorkflowSpec(name=name, cls=cls, source=source, extra=extra, **clean)


def _value_problem(attribute: str, value: Any) -> str | None:
    """Why ``value`` cannot be the attribute (``must be ...``), or None when it can."""
    bound = WORKFLOW_BOUNDS.get(attribute)
    if bound is not None:
        return bound.problem(value)
    expected = _ATTRIBUTE_TYPES[attribute]
    if not isinstance(value, expected) or isinstance(value, bool):
        kinds = " or ".join(t.__name__ for t in expected)
        return f"must be {kinds}, not {type(value).__name__}"
    if attribute == "secret_params" and not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]  # noqa: E501
        return "must be a list of parameter names"
    return None
