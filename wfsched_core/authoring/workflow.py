"""The authoring API: a workflow is a class of ``@step`` methods (DESIGN.md, contract)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar, overload

from wfsched_core.authoring.flow_limits import concurrency_key_problem, rate_limit_problem
from wfsched_core.base.bounds import WORKFLOW_BOUNDS
from wfsched_core.base.durations import parse_duration
from wfsched_core.base.errors import ConfigError
from wfsched_core.base.records import NO_UPSTREAM, RunVersion, Upstream

F = TypeVar("F", bound=Callable[..., Any])

_STEP_MARK = "__wfsched_step__"
_APPROVAL_MARK = "__wfsched_approval__"


@overload
def step(function: F) -> F: ...
@overload
def step(*, approval: bool | str = False) -> Callable[[F], F]: ...
def step(function: Any = None, *, approval: bool | str = False) -> Any:
    """Mark a method of a :class:`Workflow` as a step; steps run in the order defined.

    ``@step(approval=True)``: the run stops before this step and waits (status
    ``waiting``, no slot, no process) until ``wfsched approve ID``; ``approval="ops"``
    also names who may approve (users or Unix groups, comma-separated).
    """
    if approval is not False and not (approval is True or (
            isinstance(approval, str) and approval.strip())):
        raise TypeError("step(approval=...) must be True or the names of who may approve")

    def mark(method: F) -> F:
        setattr(method, _STEP_MARK, True)
        if approval is not False:
            setattr(method, _APPROVAL_MARK, approval)
        return method

    return mark if function is None else mark(function)


def approval_of(function: Any) -> bool | str | None:
    """None for an ordinary step; True (anyone) or the names of who may approve it."""
    return getattr(function, _APPROVAL_MARK, None)


@dataclass
class StepContext:
    """What a step receives: parameters, identity of the run and the results so far."""

    #: the execution's parameters (``trigger --param K=V``: strings; JSON values as given)
    params: dict[str, Any]
    #: the id ``wfsched trigger`` printed
    execution_id: int
    #: 1 for the first try
    attempt: int
    #: a logger whose records go to the execution's log
    log: logging.Logger
    #: what the earlier steps returned, by step name
    results: dict[str, Any] = field(default_factory=dict)
    #: the workflow's name
    workflow: str = ""
    #: read-only, by workflow name: the run whose completion queued this one and the latest
    #: completed run of each other ``depends_on`` workflow (empty unless a dependency
    #: queued this run); each an :class:`Upstream` (``execution_id``, ``workflow``,
    #: ``status``, ``results``)
    upstream: Mapping[str, Upstream] = field(default_factory=lambda: NO_UPSTREAM)


class Workflow:
    """Base class of every workflow. Subclass it, add ``@step`` methods, set attributes."""

    #: the name it is known by (the entry-point name is what counts for an installed one)
    name: ClassVar[str | None] = None
    #: one line for listings (default: the first line of the class docstring)
    description: ClassVar[str | None] = None
    #: when it runs by itself: a cron expression (``"0 2 * * *"``, ``"@hourly"``)
    schedule: ClassVar[str | None] = None
    #: the time zone the schedule is read in (an IANA name)
    timezone: ClassVar[str] = "UTC"
    #: missed scheduled runs after a pause or downtime: run all, the latest, or none
    catchup: ClassVar[str] = "latest"
    #: seconds after its scheduled time a run may still start; later it is skipped
    start_deadline: ClassVar[float | None] = None
    #: at most this many executions of it run at once (all schedulers together)
    concurrency: ClassVar[int | None] = None
    #: a parameter name, or a callable of the params: at most ``concurrency_per_key``
    #: executions with the same key run at once, across every scheduler
    concurrency_key: ClassVar[str | Callable[..., Any] | None] = None
    #: how many executions with one ``concurrency_key`` may run at once
    concurrency_per_key: ClassVar[int] = 1
    #: at most this many starts per window ("10/minute", "5/2s"), per key when one is set
    rate_limit: ClassVar[str | None] = None
    #: a scheduled run while one still runs: start it (allow), skip it, or replace the old
    overlap: ClassVar[str] = "allow"
    #: higher is claimed first when slots are scarce
    priority: ClassVar[int] = 0
    #: further attempts after a failure
    retries: ClassVar[int] = 0
    #: seconds before the first retry
    retry_delay: ClassVar[float] = 0.0
    #: each further retry waits this many times longer
    retry_backoff: ClassVar[float] = 1.0
    #: seconds an execution may run before its process tree is stopped (failed)
    timeout: ClassVar[float | None] = None
    #: workflows whose completed runs queue a run of this one (``ctx.upstream``)
    depends_on: ClassVar[tuple[str, ...] | list[str]] = ()
    #: the queue its executions go to (``scheduler --queue NAME`` claims it)
    queue: ClassVar[str | None] = None
    #: the spawn strategy of its workers (default: the scheduler's)
    spawner: ClassVar[str | None] = None
    #: the OS scheduling priority of its worker process
    nice: ClassVar[int | None] = None
    #: ``"30m"``: a run not finished this long after it was scheduled or queued is overdue
    deadline: ClassVar[str | float | None] = None
    #: ``"24h"``: a run waiting for an approval this long ends ``failed``
    approval_timeout: ClassVar[str | float | None] = None
    #: parameters stored as given but shown masked (CLI, dashboard, notifications, logs)
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
    concurrency_key: str | Callable[..., Any] | None = None
    concurrency_per_key: int = 1
    rate_limit: str | None = None
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
    deadline: float | None = None  # seconds
    approval_timeout: float | None = None  # seconds
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
    "concurrency_key": (str,),
    "concurrency_per_key": (int,),
    "rate_limit": (str,),
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
    "deadline": (str, int, float),
    "approval_timeout": (str, int, float),
}
# attributes written as a duration ("30m"), kept as seconds
_DURATIONS = ("deadline", "approval_timeout")


# Keys of [workflows.NAME] (and class attributes) that the core does not use but passes
# on in ``spec.extra``: the container spawner's and the resource admission's.
PLUGIN_WORKFLOW_KEYS = ("image", "memory", "cpus", "environment")
# Keys of [workflows.NAME] that are not attributes: which distribution provides the
# workflow when several announce its name (see the catalog).
SELECTION_KEYS = ("distribution",)
# Attributes with a fixed set of values.
ATTRIBUTE_CHOICES: dict[str, tuple[str, ...]] = {
    "catchup": ("all", "latest", "none"),
    "overlap": ("allow", "skip", "replace"),
}


def workflow_table_keys() -> list[str]:
    """Every key a ``[workflows.NAME]`` table may hold."""
    return sorted([*_ATTRIBUTE_TYPES, *PLUGIN_WORKFLOW_KEYS, *SELECTION_KEYS])


def resolve_spec(
    name: str, cls: type[Workflow], source: str, overrides: dict[str, Any] | None = None,
    where: str = "wfsched.toml",
) -> WorkflowSpec:
    """Build the spec of ``cls``: its class attributes, overridden by ``[workflows.NAME]``.

    A bad ``[workflows.NAME]`` value or an unknown key is a :class:`ConfigError` naming
    the file ``where`` (the command stops, exit 2); a bad class attribute is a
    ``ValueError`` (the catalog lists the workflow as broken).
    """
    unknown = sorted(set(overrides or {}) - set(workflow_table_keys()))
    if unknown:
        close = difflib.get_close_matches(unknown[0], workflow_table_keys(), n=1)
        meant = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{where}: unknown key {', '.join(map(repr, unknown))} in [workflows.{name}] "
            f"({meant}known keys: {', '.join(workflow_table_keys())})")
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
                raise ConfigError(f"{where}: [workflows.{name}] {key} {problem}")
            values[key] = value
        elif key not in SELECTION_KEYS:
            extra[key] = value
    for key in PLUGIN_WORKFLOW_KEYS:
        if key not in extra and hasattr(cls, key):
            extra[key] = getattr(cls, key)
    for key in _DURATIONS:
        if values[key] is not None:
            values[key] = parse_duration(values[key])
    values["depends_on"] = tuple(values["depends_on"] or ())
    values["secret_params"] = tuple(values["secret_params"] or ())
    known = {f.name for f in fields(WorkflowSpec)}
    clean = {k: v for k, v in values.items() if k in known and v is not None}
    return WorkflowSpec(name=name, cls=cls, source=source, extra=extra, **clean)


_FLOW_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "concurrency_key": concurrency_key_problem,
    "rate_limit": rate_limit_problem,
}


def _value_problem(attribute: str, value: Any) -> str | None:
    """Why ``value`` cannot be the attribute (``must be ...``), or None when it can."""
    if attribute in _FLOW_CHECKS:
        return _FLOW_CHECKS[attribute](value)
    bound = WORKFLOW_BOUNDS.get(attribute)
    if bound is not None:
        return bound.problem(value)
    expected = _ATTRIBUTE_TYPES[attribute]
    if not isinstance(value, expected) or isinstance(value, bool):
        kinds = " or ".join(t.__name__ for t in expected)
        return f"must be {kinds}, not {type(value).__name__}"
    if attribute in _DURATIONS:
        try:
            parse_duration(value)
        except ValueError as exc:
            return f"must be a duration: {exc}"
    if attribute == "secret_params" and not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]  # noqa: E501
        return "must be a list of parameter names"
    choices = ATTRIBUTE_CHOICES.get(attribute)
    if choices is not None and value not in choices:
        return f"must be one of {', '.join(choices)}, not {value!r}"
    return None
