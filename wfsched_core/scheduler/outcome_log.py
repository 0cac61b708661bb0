"""The scheduler's log lines about executions: one when a worker starts, one when an
execution this scheduler ran (or judged) ends.

An operator reads the scheduler's stderr (journald, supervisor's log, a log shipper), not
the database: each finished execution is one line there, with its id, workflow, status,
duration and the first line of its error. Failures at WARNING, so they show at the
default verbosity; completed and cancelled ones at INFO (``-v``). With
``--log-format json`` the same values are fields of the JSON object (``execution_id``,
``workflow``, ``status``, ``duration_seconds``, ``attempt``, ``exit_code``, ``error``).
"""

from __future__ import annotations

import logging

from wfsched_core.base.records import Execution
from wfsched_core.base.status import ExecutionStatus

log = logging.getLogger(__name__)


def log_started(execution: Execution, spawner: str, pid: int | None) -> None:
    """``started WORKFLOW #ID with SPAWNER (pid N)``."""
    log.info("started %s #%s with %s (pid %s)", execution.workflow, execution.id, spawner,
             pid, extra={"execution_id": execution.id, "workflow": execution.workflow,
                         "attempt": execution.attempt, "spawner": spawner, "pid": pid})


def log_finished(execution: Execution) -> None:
    """``finished WORKFLOW #ID: STATUS after 1.23s: ERROR'S FIRST LINE``."""
    if not execution.status.is_final:
        return
    duration = execution.duration
    error = (execution.error or "").strip().splitlines()
    error_line = error[0] if error else None
    took = "before it started" if duration is None else f"after {duration:.2f}s"
    level = logging.WARNING if execution.status is ExecutionStatus.FAILED else logging.INFO
    log.log(level, "finished %s #%s: %s %s%s", execution.workflow, execution.id,
            execution.status.value, took, f": {error_line}" if error_line else "",
            extra={"execution_id": execution.id, "workflow": execution.workflow,
                   "status": execution.status.value,
                   "duration_seconds": None if duration is None else round(duration, 3),
                   "attempt": execution.attempt, "exit_code": execution.exit_code,
                   "error": error_line})
