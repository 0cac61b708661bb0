"""A rehearsal of a worker's statements, rolled back, to warm the statement cache.

SQLAlchemy compiles each statement shape once per process and caches it on the engine.
A worker forked from the fork server inherits the server's engine; when the server has
run the worker's statements once, every child starts with them compiled. Compiling
them cold cost each short execution more CPU than everything else it did (issue 8).

The rehearsal makes a scratch execution of a real workflow and takes it through what a
worker does — start, heartbeat, a step, the final status — inside one transaction that is
rolled back (``StoreBase.rehearsal``): no row, notification or wake-up survives it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import update

from wfsched_core.db.schema import workflow_executions as executions
from wfsched_core.processes import hostname
from wfsched_core.records import utcnow
from wfsched_core.status import ExecutionStatus, StepStatus

if TYPE_CHECKING:
    from wfsched_core.store import SqlStore

log = logging.getLogger(__name__)

REHEARSAL_OWNER = "wfsched-rehearsal"


def rehearse_worker(store: SqlStore, workflow: str) -> bool:
    """Run a worker's statements for ``workflow`` once and roll them back; True if done."""
    try:
        with store.rehearsal() as conn:
            (execution,) = store.enqueue(workflow)
            conn.execute(update(executions).where(executions.c.id == execution.id)
                         .values(claimed_by=REHEARSAL_OWNER))
            _, step = store.start_running(
                execution.id, REHEARSAL_OWNER, pid=os.getpid(), host=hostname(),
                manual_owner=REHEARSAL_OWNER, first_step=lambda _workflow: "rehearsal")
            store.heartbeat(execution.id)
            assert step is not None
            ended = replace(step, status=StepStatus.COMPLETED, finished_at=utcnow())
            store.advance_step(execution.id, ended, 2, "rehearsal-2")
            store.get_execution(execution.id)
            store.finish_execution(execution.id, ExecutionStatus.COMPLETED, exit_code=0,
                                   error=None, error_detail=None, retry_at=None,
                                   queue_of=lambda _name: None, last_step=ended)
    except Exception as exc:  # only a warm-up: each worker compiles what it needs
        log.warning("could not rehearse a worker's statements: %s", exc)
        return False
    return True
