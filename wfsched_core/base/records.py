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


def result_is_json(value: Any) -> bool:
    """Whether a step's result can be kept as itself (a re-run reuses only those)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def isoformat(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with an explicit ``Z``."""
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class Upstream:
    """A run a dependent run was queued after (or, for its other ``depends_on``
    workflows, their latest completed run): what a step sees in ``ctx.upstream``.

    ``results``: the upstream's steps' recorded results by step name, read-only."""

    #: the upstream run's execution id
    execution_id: int
    #: its workflow's name
    workflow: str
    #: its status (``completed`` for every run a dependency is queued after)
    status: str
    #: its steps' recorded results by step name, read-only
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

    #: the execution's id, as ``wfsched trigger`` printed it
    id: int
    #: the workflow's name (its entry-point name)
    workflow: str
    #: pending, running, completed, failed or cancelled
    status: ExecutionStatus
    #: higher is claimed first when slots are scarce
    priority: int = 0
    #: 1 for the first try; a retry is a new execution with ``attempt + 1``
    attempt: int = 1
    #: the parameters (``trigger --param K=V``); secret ones are ``***`` in a hook's copy
    params: dict[str, Any] = field(default_factory=dict)
    #: why it exists: manual, schedule, retry or dependency
    trigger: Trigger = Trigger.MANUAL
    #: for a retry, the id of the execution it retries
    retry_of: int | None = None
    #: for a run queued by ``depends_on``, the id of the upstream run that queued it
    triggered_by: int | None = None
    #: for a scheduled run, the time (naive UTC) it was scheduled for
    scheduled_for: datetime | None = None
    #: the queue it is routed to (None: the default queue)
    queue: str | None = None
    #: when it was queued (naive UTC, as every time here)
    created_at: datetime | None = None
    #: not claimed before this time (a retry's backoff)
    not_before: datetime | None = None
    #: the scheduler that claimed it (``manual-HOST-PID`` for a worker run by hand)
    claimed_by: str | None = None
    #: when its worker marked it running
    started_at: datetime | None = None
    #: when it reached its final status
    finished_at: datetime | None = None
    #: the worker's last heartbeat
    heartbeat_at: datetime | None = None
    #: the worker's process id (on ``host``)
    pid: int | None = None
    #: the host its worker runs on
    host: str | None = None
    #: the spawn strategy that started its worker
    spawner: str | None = None
    #: the spawner's JSON handle of the worker (how to find it again after a restart)
    worker_handle: dict[str, Any] | None = None
    #: the worker's exit code (0 completed, 1 failed, 143 stopped ...)
    exit_code: int | None = None
    #: one line saying why it failed (``ValueError: ...``, ``timed out after 60s``)
    error: str | None = None
    #: the full traceback of a failure, when a step raised
    error_detail: str | None = None
    #: ``wfsched cancel`` asked for it to stop
    cancel_requested: bool = False
    #: why pending work is held back (an admission plugin's reason), None when it is not
    wait_reason: str | None = None
    #: the workflow's concurrency key for this run (``concurrency_key``), computed when it
    #: was queued; None for a workflow without one
    concurrency_key: str | None = None
    #: a resumed or re-run execution continues at this step position (earlier steps' results
    #: are reused); None: from the first step
    resume_from: int | None = None
    #: the execution this one re-runs (``wfsched rerun``)
    rerun_of: int | None = None
    #: when it started waiting for an approval (status ``waiting``)
    waiting_since: datetime | None = None
    #: who may approve the step it waits before (users or groups, comma-separated); None:
    #: anyone
    approvers: str | None = None
    #: the latest decision: ``approved`` or ``rejected``
    approval: str | None = None
    #: who took that decision (the OS user)
    approval_by: str | None = None
    #: when the decision was taken
    approval_at: datetime | None = None
    #: the approver's comment or the rejection's reason
    approval_comment: str | None = None
    #: the step position the decision was for
    approval_step: int | None = None
    #: when a scheduler found it past its workflow's ``deadline`` (set once)
    overdue_at: datetime | None = None
    #: which code ran it (set when it starts; None before, and for runs older than 0007)
    version: RunVersion = field(default_factory=RunVersion)
    #: not a column: the recorded results of the steps before ``resume_from``, filled
    #: when a resumed run starts (``ctx.results`` begins with them)
    resumed_results: Mapping[str, Any] = field(default_factory=dict, compare=False,
                                               repr=False)
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
                concurrency_key=self.concurrency_key,
                resume_from=self.resume_from,
                rerun_of=self.rerun_of,
                waiting_since=isoformat(self.waiting_since),
                approvers=self.approvers,
                approval=self.approval,
                approval_by=self.approval_by,
                approval_at=isoformat(self.approval_at),
                approval_comment=self.approval_comment,
                approval_step=self.approval_step,
                overdue_at=isoformat(self.overdue_at),
                workflow_package=self.version.package,
                workflow_version=self.version.version,
                core_version=self.version.core,
            )
        return data


@dataclass
class StepRecord:
    """One step of one execution: a row of ``workflow_execution_steps``."""

    #: the execution the step belongs to
    execution_id: int
    #: 1 for the first step, in the order the steps are defined
    position: int
    #: the step method's name
    name: str
    #: running, completed or failed
    status: StepStatus
    #: when the step started (naive UTC)
    started_at: datetime | None = None
    #: when it ended
    finished_at: datetime | None = None
    #: one line saying why it failed (the traceback is the execution's ``error_detail``)
    error: str | None = None
    #: what the step returned, as stored (JSON; the repr of what JSON cannot hold)
    result: Any = None
    #: False when only the result's repr could be kept (not JSON); None: unknown (old row)
    result_json: bool | None = True

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
            "result_json": self.result_json,
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

    #: a random id, new at each start (executions' ``claimed_by``)
    id: str
    #: the host it runs on
    host: str
    #: its process id on that host
    pid: int
    #: when it started (naive UTC)
    started_at: datetime
    #: its last heartbeat; older than ``heartbeat_timeout`` means dead
    heartbeat_at: datetime
    #: the wfsched-core version it runs
    version: str
    #: when it stopped (None while it runs)
    stopped_at: datetime | None = None
    #: how many workers it runs at once at most
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
