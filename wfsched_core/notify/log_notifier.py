"""A notifier that writes each lifecycle event to the log of the process it happens in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, SchedulerRow, StepRecord

log = logging.getLogger("wfsched.events")


def _fields(execution: Execution, **more: object) -> dict[str, object]:
    """The fields of a ``--log-format json`` line about ``execution``."""
    return {"execution_id": execution.id, "workflow": execution.workflow, **more}


@hookimpl
def wfsched_execution_queued(execution: Execution) -> None:
    log.debug("queued %s #%s (attempt %s)", execution.workflow, execution.id, execution.attempt,
              extra=_fields(execution, attempt=execution.attempt))


@hookimpl
def wfsched_execution_started(execution: Execution) -> None:
    log.info("started %s #%s on %s pid %s", execution.workflow, execution.id,
             execution.host, execution.pid, extra=_fields(execution, pid=execution.pid))


@hookimpl
def wfsched_step_finished(execution: Execution, step: StepRecord) -> None:
    log.info("step %s of %s #%s %s in %.3fs", step.name, execution.workflow, execution.id,
             step.status.value, step.duration or 0.0,
             extra=_fields(execution, step=step.name, status=step.status.value))


@hookimpl
def wfsched_execution_completed(execution: Execution) -> None:
    log.info("completed %s #%s", execution.workflow, execution.id,
             extra=_fields(execution, status="completed"))


@hookimpl
def wfsched_execution_failed(execution: Execution, will_retry: bool) -> None:
    log.warning("failed %s #%s: %s%s", execution.workflow, execution.id, execution.error,
                " (will retry)" if will_retry else "",
                extra=_fields(execution, status="failed", will_retry=will_retry))


@hookimpl
def wfsched_execution_cancelled(execution: Execution) -> None:
    log.info("cancelled %s #%s", execution.workflow, execution.id,
             extra=_fields(execution, status="cancelled"))


@hookimpl
def wfsched_execution_timed_out(execution: Execution, will_retry: bool) -> None:
    log.warning("timed out %s #%s%s", execution.workflow, execution.id,
                " (will retry)" if will_retry else "", extra=_fields(execution,
                                                                    will_retry=will_retry))


@hookimpl
def wfsched_execution_waiting(execution: Execution) -> None:
    log.warning("%s #%s is %s; approve with: wfsched approve %s", execution.workflow,
                execution.id, execution.wait_reason or "waiting for approval", execution.id)


@hookimpl
def wfsched_execution_overdue(execution: Execution, deadline: float) -> None:
    log.warning("overdue %s #%s: not finished %gs after it was due (%s)", execution.workflow,
                execution.id, deadline, execution.status.value)


@hookimpl
def wfsched_scheduler_started(scheduler: SchedulerRow) -> None:
    log.info("scheduler %s started on %s pid %s (max %s at once)", scheduler.id,
             scheduler.host, scheduler.pid, scheduler.max_concurrent)


@hookimpl
def wfsched_scheduler_stopping(scheduler: SchedulerRow, reason: str) -> None:
    log.info("scheduler %s stopping: %s", scheduler.id, reason)
