"""The statements on every execution's path, built once per process.

Building a SQLAlchemy statement and its cache key cost a short execution more CPU than
running it on SQLite (issue 8): these are built at import, with bound parameters named
``b_*``, and executed with a dict of them. A statement built once also keeps its cache
key, so a worker forked from the warm fork server finds both ready.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, or_, select, update

from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.db.schema import workflow_dependencies, workflow_pauses, workflows
from wfsched_core.store.db.schema import workflow_execution_steps as steps
from wfsched_core.store.db.schema import workflow_executions as executions

_PENDING = ExecutionStatus.PENDING.value
_RUNNING = ExecutionStatus.RUNNING.value

#: one execution's row: ``b_id``
FETCH_EXECUTION = select(executions).where(executions.c.id == bindparam("b_id"))

#: a claimed execution starts running (compare-and-set on status and owner), recording
#: which code runs it: ``b_id, b_owner, b_now, b_pid, b_host, b_package, b_version, b_core``
START_CLAIMED = update(executions).where(
    executions.c.id == bindparam("b_id"), executions.c.status == _PENDING,
    executions.c.claimed_by == bindparam("b_owner"),
).values(status=_RUNNING, started_at=bindparam("b_now"), heartbeat_at=bindparam("b_now"),
         pid=bindparam("b_pid"), host=bindparam("b_host"), wait_reason=None,
         workflow_package=bindparam("b_package"), workflow_version=bindparam("b_version"),
         core_version=bindparam("b_core"))

#: the worker's handle, recorded by the scheduler that claimed it:
#: ``b_id, b_owner, b_spawner, b_handle, b_pid``
RECORD_HANDLE = update(executions).where(
    executions.c.id == bindparam("b_id"), executions.c.claimed_by == bindparam("b_owner"),
).values(spawner=bindparam("b_spawner"), worker_handle=bindparam("b_handle"),
         pid=bindparam("b_pid"))

#: a running execution's heartbeat: ``b_id, b_now``
HEARTBEAT = update(executions).where(
    executions.c.id == bindparam("b_id"), executions.c.status == _RUNNING,
).values(heartbeat_at=bindparam("b_now"))

#: whether a cancel was requested: ``b_id``
CANCEL_REQUESTED = select(executions.c.cancel_requested).where(
    executions.c.id == bindparam("b_id"))

#: a running execution ends (compare-and-set on status):
#: ``b_id, b_status, b_now, b_exit_code, b_error, b_detail``
FINISH_RUNNING = update(executions).where(
    executions.c.id == bindparam("b_id"), executions.c.status == _RUNNING,
).values(status=bindparam("b_status"), finished_at=bindparam("b_now"),
         exit_code=bindparam("b_exit_code"), error=bindparam("b_error"),
         error_detail=bindparam("b_detail"))

#: a step starts: ``b_eid, b_position, b_name, b_status, b_at``
INSERT_STEP = steps.insert().values(
    execution_id=bindparam("b_eid"), position=bindparam("b_position"),
    name=bindparam("b_name"), status=bindparam("b_status"), started_at=bindparam("b_at"))

#: a step ends: ``b_eid, b_position, b_status, b_at, b_error, b_result, b_json``
END_STEP = update(steps).where(
    steps.c.execution_id == bindparam("b_eid"), steps.c.position == bindparam("b_position"),
).values(status=bindparam("b_status"), finished_at=bindparam("b_at"),
         error=bindparam("b_error"), result=bindparam("b_result"),
         result_json=bindparam("b_json"))

#: the workflows that depend on one: ``b_upstream``
DEPENDENTS = select(workflow_dependencies.c.downstream).where(
    workflow_dependencies.c.upstream == bindparam("b_upstream"),
).order_by(workflow_dependencies.c.downstream)

#: a workflow's last run: ``b_name, b_when, b_status``
TOUCH_WORKFLOW = update(workflows).where(workflows.c.name == bindparam("b_name")).values(
    last_executed=bindparam("b_when"), last_status=bindparam("b_status"))

#: the earliest future ``not_before`` of a pending execution: ``b_after``
NEXT_NOT_BEFORE = select(func.min(executions.c.not_before)).where(
    executions.c.status == _PENDING, executions.c.not_before > bindparam("b_after"))

#: the executions a scheduler owns in some statuses: ``b_owner, b_statuses`` (a list)
OWNED = select(executions).where(
    executions.c.claimed_by == bindparam("b_owner"),
    executions.c.status.in_(bindparam("b_statuses", expanding=True)))

#: one candidate taken by a claim (compare-and-set): ``b_id, b_owner, b_now``
CLAIM_ONE = update(executions).where(
    executions.c.id == bindparam("b_id"), executions.c.status == _PENDING,
    executions.c.claimed_by.is_(None),
).values(claimed_by=bindparam("b_owner"), claimed_at=bindparam("b_now"), wait_reason=None)


@lru_cache(maxsize=32)
def claim_candidates(queues: tuple[str | None, ...] | None, skip_locked: bool,
                     only_runnable: bool = False) -> Select[Any]:
    """The pending executions a claim may take, best first: ``b_now, b_limit``; one
    statement per set of queues (None: every queue), locking mode and whether it is
    limited to the workflows the claiming scheduler can run (``b_workflows``, a list).
    Those of a paused workflow are left out here, not held by admission: read as
    candidates, a paused backlog would fill the window and starve every other workflow
    (docs/decisions.md)."""
    query = (
        select(executions)
        .where(executions.c.status == _PENDING, executions.c.claimed_by.is_(None),
               or_(executions.c.not_before.is_(None),
                   executions.c.not_before <= bindparam("b_now")),
               ~exists().where(workflow_pauses.c.workflow == executions.c.workflow))
        .order_by(executions.c.priority.desc(), executions.c.created_at, executions.c.id)
        .limit(bindparam("b_limit"))
    )
    if queues is not None:
        named = [q for q in queues if q is not None]
        cond: Any = executions.c.queue.in_(named) if named else None
        if None in queues:
            cond = executions.c.queue.is_(None) if cond is None \
                else or_(cond, executions.c.queue.is_(None))
        query = query.where(cond)
    if only_runnable:
        query = query.where(executions.c.workflow.in_(bindparam("b_workflows", expanding=True)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return query

#: the heartbeats of several running executions at once: ``b_ids`` (a list), ``b_now``
HEARTBEAT_MANY = update(executions).where(
    executions.c.id.in_(bindparam("b_ids", expanding=True)), executions.c.status == _RUNNING,
).values(heartbeat_at=bindparam("b_now"))

#: the executions among several whose cancel was requested: ``b_ids`` (a list)
CANCELS_REQUESTED = select(executions.c.id).where(
    executions.c.id.in_(bindparam("b_ids", expanding=True)),
    executions.c.cancel_requested.is_(True))
