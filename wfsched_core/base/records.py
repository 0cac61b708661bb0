"""Plain records read from the store: executions, steps, workflows, schedulers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from wfsched_core.base.status import ExecutionStatus, StepStatus, Trigger

# The JSON field names of an execution (DESIGN.md, contract), in this order.
EXECUTION_JSON_FIELDS = (
    "id", "workflow", "status", "priority", "attempt", "params", "created_at",
    "started_at", "finished_at", "pid", "host", "spawner", "exit_code", "error",
)  # fmt: skip


def utcnow() -> datetime:
    """The current time as a naive UTC datetime, the form every timestamp is stored in."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def json_or_repr(value: Any) -> str | None:
    """A step's result as it is kept: JSON, or the JSON of its repr when it is not JSON."""
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def isoformat(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with an explicit ``Z``."""
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class Upstream:
    """A run a dependent run was queued after (or, for its other ``depends_on``
    workflows, their latest completed run): what a step sees in ``ctx.upstream``.

    ``results``: the upstream's steps' recorded results by step name, read-only."""

    execution_id: int
    workflow: str
    status: str
    results: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        return {"execution_id": self.execution_id, "workflow": self.workflow,
                "status": self.status, "results": dict(self.results)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Upstream:
        return cls(int(data["execution_id"]), str(data["workflow"]), str(data["status"]),
                   MappingProxyType(dict(data.get("results") or {})))


@dataclass(frozen=True)
class RunVersion:
    """Which code ran an execution, recorded when it starts: the distribution that
    provides the workflow and its version (None when the workflow was not announced by
    an installed distribution), and the version of ``wfsched_core``."""

    package: str | None = None
    version: str | None = None
    core: str | None = None

    @property
    def text(self) -> str | None:
        """``package==version`` (what ``executions list --version`` matches), or None."""
        if self.package is None and self.version is None:
            return None
        return f"{self.package or '?'}=={self.version or '?'}"

    @property
    def line(self) -> str | None:
        """One line for people: ``pkg==1.0 (wfsched-core 0.1.0)``; None when not recorded."""
        core = f"wfsched-core {self.core}" if self.core else None
        if self.text is None:
            return core
        return f"{self.text} ({core})" if core else self.text


#: ``ctx.upstream`` of a run that no dependency queued
NO_UPSTREAM: Mapping[str, Upstream] = MappingProxyType({})


def upstream_mapping(upstreams: Iterable[Upstream]) -> Mapping[str, Upstream]:
    """Upstreams as ``ctx.upstream`` holds them: read-only, by workflow name."""
    return MappingProxyType({u.workflow: u for u in upstreams})


@dataclass
class Execution:
    """One run of one workflow: a row of ``workflow_executions``."""

    id: int
    workflow: str
    status: ExecutionStatus
    priority: int = 0
    attempt: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger = Trigger.MANUAL
    retry_of: int | None = None
    triggered_by: int | None = None
    scheduled_for: datetime | None = None
    queue: str | None = None
    created_at: datetime | None = None
    not_before: datetime | None = None
    claimed_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    pid: int | None = None
    host: str | None = None
    spawner: str | None = None
    worker_handle: dict[str, Any] | None = None
    exit_code: int | None = None
    error: str | None = None
    error_detail: str | None = None
    cancel_requested: bool = False
    wait_reason: str | None = None
    #: which code ran it (set when it starts; None before, and for runs older than 0007)
    version: RunVersion = field(default_factory=RunVersion)
    #: not a column: the upstream runs, filled when the execution starts (``ctx.upstream``)
    upstream: Mapping[str, Upstream] = field(default_factory=lambda: NO_UPSTREAM, compare=False,
                                           repr=False)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The contract fields (and, with ``full``, everything else) as JSON-ready values."""
        data: dict[str, Any] = {}
        for name in EXECUTION_JSON_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = isoformat(value)
            elif isinstance(value, ExecutionStatus):
                value = value.value
            data[name] = value
        if full:
            data.update(
                trigger=self.trigger.value,
                retry_of=self.retry_of,
                triggered_by=self.triggered_by,
                scheduled_for=isoformat(self.scheduled_for),
                queue=self.queue,
                not_before=isoformat(self.not_before),
                claimed_by=self.claimed_by,
                heartbeat_at=isoformat(self.heartbeat_at),
                error_detail=self.error_detail,
                cancel_requested=self.cancel_requested,
                wait_reason=self.wait_reason,
                workflow_package=self.version.package,
                workflow_version=self.version.version,
                core_version=self.version.core,
            )
        return data


@dataclass
class StepRecord:
    """One step of one execution: a row of ``workflow_execution_steps``."""

    execution_id: int
    position: int
    name: str
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    result: Any = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "name": self.name,
            "status": self.status.value,
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "duration": self.duration,
            "error": self.error,
            "result": self.result,
        }


@dataclass
class WorkflowRow:
    """What the database remembers of a workflow (the code lives in its package)."""

    name: str
    description: str | None = None
    schedule: str | None = None
    last_executed: datetime | None = None
    last_status: str | None = None


@dataclass
class SchedulerRow:
    """A registered scheduler process."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    version: str
    stopped_at: datetime | None = None
    max_concurrent: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "started_at": isoformat(self.started_at),
            "heartbeat_at": isoformat(self.heartbeat_at),
            "version": self.version,
            "stopped_at": isoformat(self.stopped_at),
            "max_concurrent": self.max_concurrent,
        }
