"""Converting rows of ``workflow_executions`` to records and back."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DatabaseError as SADatabaseError

from wfsched_core.errors import UnknownExecutionError
from wfsched_core.records import Execution
from wfsched_core.status import ExecutionStatus, Trigger
from wfsched_core.store.statements import FETCH_EXECUTION


def fetch(conn: Connection, execution_id: int) -> Row[Any]:
    row = conn.execute(FETCH_EXECUTION, {"b_id": execution_id}).first()
    if row is None:
        raise UnknownExecutionError(f"no execution with id {execution_id}")
    return row


def to_execution(row: Any) -> Execution:
    return Execution(
        id=row.id, workflow=row.workflow, status=ExecutionStatus(row.status),
        priority=row.priority, attempt=row.attempt, params=loads(row.params) or {},
        trigger=Trigger(row.trigger), retry_of=row.retry_of, scheduled_for=row.scheduled_for,
        queue=row.queue, created_at=row.created_at, not_before=row.not_before,
        claimed_by=row.claimed_by, started_at=row.started_at, finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at, pid=row.pid, host=row.host, spawner=row.spawner,
        worker_handle=loads(row.worker_handle), exit_code=row.exit_code, error=row.error,
        error_detail=row.error_detail, cancel_requested=bool(row.cancel_requested),
        wait_reason=row.wait_reason,
    )  # fmt: skip


def from_values(new_id: int, values: dict[str, Any]) -> Execution:
    fields = dict(values, id=new_id, params=json.loads(values["params"]))
    fields["status"] = ExecutionStatus(fields["status"])
    fields["trigger"] = Trigger(fields["trigger"])
    return Execution(**fields)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def json_or_repr(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def is_connect_error(exc: SADatabaseError) -> bool:
    text_ = str(exc.orig).lower()
    return any(word in text_ for word in (
        "connect", "password", "access denied", "unable to open", "timeout", "timed out",
        "could not translate host", "name or service", "unknown database", "does not exist",
        "server closed", "lost connection", "gone away", "unable to open database",
    ))  # fmt: skip


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
