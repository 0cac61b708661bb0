"""Converting rows of ``workflow_executions`` to records and back.

Free of SQLAlchemy at import (``sqlite_direct.py`` converts its rows here too).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import UnknownExecutionError
from wfsched_core.base.records import Execution, RunVersion, StepRecord, utcnow
from wfsched_core.base.status import ExecutionStatus, StepStatus, Trigger

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row
    from sqlalchemy.exc import DatabaseError as SADatabaseError


#: the columns of issue 20 (approval, deadline, re-run), read as they are
STEERING_COLUMNS = (
    "resume_from", "rerun_of", "waiting_since", "approvers", "approval", "approval_by",
    "approval_at", "approval_comment", "approval_step", "overdue_at",
)


def new_execution_values(workflow: str, **values: Any) -> dict[str, Any]:
    """The columns of a new ``pending`` execution: defaults, then ``values``."""
    row = {
        "workflow": workflow, "status": ExecutionStatus.PENDING.value, "priority": 0,
        "attempt": 1, "params": "{}", "trigger": Trigger.MANUAL.value, "retry_of": None,
        "triggered_by": None,
        "not_before": None, "scheduled_for": None, "queue": None, "concurrency_key": None,
        "created_at": utcnow(), "cancel_requested": False,
    }  # fmt: skip
    row.update(values)
    return row


def fetch(conn: Connection, execution_id: int) -> Row[Any]:
    from wfsched_core.store.statements import FETCH_EXECUTION

    row = conn.execute(FETCH_EXECUTION, {"b_id": execution_id}).first()
    if row is None:
        raise UnknownExecutionError(f"no execution with id {execution_id}")
    return row


def to_execution(row: Any) -> Execution:
    steering: dict[str, Any] = {name: getattr(row, name, None) for name in STEERING_COLUMNS}
    return Execution(
        id=row.id, workflow=row.workflow, status=ExecutionStatus(row.status),
        priority=row.priority, attempt=row.attempt, params=loads(row.params) or {},
        trigger=Trigger(row.trigger), retry_of=row.retry_of,
        triggered_by=row.triggered_by, scheduled_for=row.scheduled_for,
        queue=row.queue, created_at=row.created_at, not_before=row.not_before,
        claimed_by=row.claimed_by, started_at=row.started_at, finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at, pid=row.pid, host=row.host, spawner=row.spawner,
        worker_handle=loads(row.worker_handle), exit_code=row.exit_code, error=row.error,
        error_detail=row.error_detail, cancel_requested=bool(row.cancel_requested),
        wait_reason=row.wait_reason, concurrency_key=row.concurrency_key,
        version=RunVersion(row.workflow_package, row.workflow_version, row.core_version),
        **steering,
    )  # fmt: skip


def to_step(row: Any) -> StepRecord:
    """A row of ``workflow_execution_steps`` as a record."""
    recorded = getattr(row, "result_json", None)
    return StepRecord(row.execution_id, row.position, row.name, StepStatus(row.status),
                      row.started_at, row.finished_at, row.error, loads(row.result),
                      None if recorded is None else bool(recorded))


def split_version_filter(text: str) -> tuple[str | None, str]:
    """``executions list --version``: ``NAME==VERSION`` matches both the distribution and
    its version, a bare ``VERSION`` the version of any distribution."""
    package, sep, version = text.partition("==")
    return (package.strip(), version.strip()) if sep else (None, text.strip())


def from_values(new_id: int, values: dict[str, Any]) -> Execution:
    fields = dict(values, id=new_id, params=json.loads(values["params"]))
    fields["status"] = ExecutionStatus(fields["status"])
    fields["trigger"] = Trigger(fields["trigger"])
    return Execution(**fields)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def is_connect_error(exc: SADatabaseError | Exception) -> bool:
    """Whether a database error (SQLAlchemy's, or a DB-API driver's own) says the
    database cannot be reached or opened, rather than a query failing."""
    text_ = str(getattr(exc, "orig", exc)).lower()
    return any(word in text_ for word in (
        "connect", "password", "access denied", "unable to open", "timeout", "timed out",
        "could not translate host", "name or service", "unknown database", "does not exist",
        "server closed", "lost connection", "gone away", "unable to open database",
    ))  # fmt: skip


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
