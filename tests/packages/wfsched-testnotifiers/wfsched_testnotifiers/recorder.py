"""Write one JSON file per lifecycle event into ``$WFSCHED_TEST_EVENTS_DIR``.

One file per call (named by event, execution, process and a random part), so that
several processes record at once without locks and a test counts events exactly.
"""

import json
import os
import time
import uuid
from pathlib import Path

from wfsched_core.framework.hookspecs import hookimpl

ENV_DIR = "WFSCHED_TEST_EVENTS_DIR"


def _record(event, execution=None, **extra):
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return
    data = dict(extra, event=event, pid=os.getpid(), time=time.time())
    if execution is not None:
        data.update(execution_id=execution.id, status=execution.status.value,
                    attempt=execution.attempt, workflow=execution.workflow,
                    retry_of=execution.retry_of)
    name = f"{event}-{data.get('execution_id', 'none')}-{os.getpid()}-{uuid.uuid4().hex}.json"
    path = Path(directory) / name
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    temporary.rename(path)  # a reader never sees half a file


@hookimpl
def wfsched_execution_queued(execution):
    _record("queued", execution)


@hookimpl
def wfsched_execution_started(execution):
    _record("started", execution)


@hookimpl
def wfsched_step_finished(execution, step):
    _record("step_finished", execution, step=step.name)


@hookimpl
def wfsched_execution_completed(execution):
    _record("completed", execution)


@hookimpl
def wfsched_execution_failed(execution, will_retry):
    _record("failed", execution, will_retry=will_retry, error=execution.error)


@hookimpl
def wfsched_execution_cancelled(execution):
    _record("cancelled", execution)


@hookimpl
def wfsched_execution_timed_out(execution, will_retry):
    _record("timed_out", execution, will_retry=will_retry)


@hookimpl
def wfsched_scheduler_started(scheduler):
    _record("scheduler_started", scheduler_id=scheduler.id)


@hookimpl
def wfsched_scheduler_stopping(scheduler, reason):
    _record("scheduler_stopping", scheduler_id=scheduler.id, reason=reason)


@hookimpl
def wfsched_execution_waiting(execution):
    _record("waiting", execution, wait_reason=execution.wait_reason)


@hookimpl
def wfsched_execution_overdue(execution, deadline):
    _record("overdue", execution, deadline=deadline)
