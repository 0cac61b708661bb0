"""How steps and executions travel between a lean worker and its scheduler (JSON)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wfsched_core.base.records import Execution, StepRecord, Upstream, json_or_repr, upstream_mapping
from wfsched_core.base.status import ExecutionStatus, StepStatus, Trigger


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def step_to_wire(step: StepRecord | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"execution_id": step.execution_id, "position": step.position, "name": step.name,
            "status": step.status.value, "started_at": _time(step.started_at),
            "finished_at": _time(step.finished_at), "error": step.error,
            "result": json_or_repr(step.result), "result_json": step.result_json}


def step_from_wire(data: dict[str, Any] | None) -> StepRecord | None:
    if data is None:
        return None
    result = data.get("result")
    return StepRecord(int(data["execution_id"]), int(data["position"]), str(data["name"]),
                      StepStatus(data["status"]), _parse_time(data.get("started_at")),
                      _parse_time(data.get("finished_at")), data.get("error"),
                      None if result is None else json.loads(result),
                      data.get("result_json", True))


def execution_to_wire(execution: Execution) -> dict[str, Any]:
    """What a worker needs of its execution (and what its events carry on a hand-over)."""
    return {"id": execution.id, "workflow": execution.workflow,
            "status": execution.status.value, "priority": execution.priority,
            "attempt": execution.attempt, "params": execution.params,
            "trigger": execution.trigger.value, "retry_of": execution.retry_of,
            "triggered_by": execution.triggered_by,
            "upstream": [u.to_json() for u in execution.upstream.values()],
            "queue": execution.queue, "created_at": _time(execution.created_at),
            "started_at": _time(execution.started_at), "pid": execution.pid,
            "host": execution.host, "claimed_by": execution.claimed_by,
            "resume_from": execution.resume_from, "approval_step": execution.approval_step,
            "approval": execution.approval,
            "resumed_results": dict(execution.resumed_results)}


def execution_from_wire(data: dict[str, Any]) -> Execution:
    return Execution(
        id=int(data["id"]), workflow=str(data["workflow"]),
        status=ExecutionStatus(data["status"]), priority=int(data.get("priority") or 0),
        attempt=int(data.get("attempt") or 1), params=dict(data.get("params") or {}),
        trigger=Trigger(data.get("trigger") or Trigger.MANUAL.value),
        retry_of=data.get("retry_of"), triggered_by=data.get("triggered_by"),
        upstream=upstream_mapping(Upstream.from_json(u) for u in data.get("upstream") or ()),
        queue=data.get("queue"),
        created_at=_parse_time(data.get("created_at")),
        started_at=_parse_time(data.get("started_at")), pid=data.get("pid"),
        host=data.get("host"), claimed_by=data.get("claimed_by"),
        resume_from=data.get("resume_from"), approval_step=data.get("approval_step"),
        approval=data.get("approval"),
        resumed_results=dict(data.get("resumed_results") or {}))
