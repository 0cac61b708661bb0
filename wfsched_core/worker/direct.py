"""The worker: ``wfsched execute ID`` runs one execution in this process.

It claims the execution (``pending`` -> ``running``, a compare-and-set, so it never runs
twice), runs the workflow's steps in order, records each, and sets the final status.
"""

from __future__ import annotations

import logging
import os
import signal
import traceback
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from wfsched_core.dbretry import with_database_retry
from wfsched_core.execution_log import ExecutionLogCapture, log_path
from wfsched_core.heartbeat import Heartbeat
from wfsched_core.processes import hostname
from wfsched_core.records import utcnow
from wfsched_core.retry import next_attempt_at
from wfsched_core.status import ExecutionStatus, StepStatus
from wfsched_core.workflow import StepContext

if TYPE_CHECKING:
    from wfsched_core.config import Settings
    from wfsched_core.hooks import PluginHooks
    from wfsched_core.records import Execution, StepRecord
    from wfsched_core.store import SqlStore
    from wfsched_core.workflow import WorkflowSpec

log = logging.getLogger(__name__)

# Set by the scheduler for the workers it starts: the id of the scheduler that claimed it.
ENV_OWNER = "WFSCHED_OWNER"
# How long a finished worker keeps trying to record its final status through an outage.
FINAL_STATUS_PATIENCE = 600.0
# How long a worker keeps trying to mark its execution running: its scheduler waits.
START_PATIENCE = 60.0


class WorkerStopped(BaseException):
    """Raised in the worker's main thread by SIGTERM/SIGINT (a BaseException, so that a
    step's ``except Exception`` does not swallow it)."""


@dataclass
class Outcome:
    status: ExecutionStatus
    error: str | None = None
    detail: str | None = None
    exit_code: int = 0


def run_execution(execution_id: int, store: SqlStore, hooks: PluginHooks,
                  settings: Settings) -> int:
    """Run one execution to its end; return the process exit code (0 completed, else 1).

    Two writes for a one-step workflow, one more per further step: ``running`` with the
    first step's start, each step's end with the next one's start, and the last step's
    end with the final status (each pair in one transaction).
    """
    host, pid = hostname(), os.getpid()
    # a compare-and-set: retried through a deadlock or a short outage, it can still only
    # succeed once (a retry after an unseen commit finds it running, and refuses)
    execution, first = with_database_retry(
        lambda: store.start_running(
            execution_id, os.environ.get(ENV_OWNER) or None, pid=pid, host=host,
            manual_owner=f"manual-{host}-{pid}",
            first_step=lambda workflow: _first_step_name(hooks, workflow)),
        f"start execution {execution_id}", give_up_after=START_PATIENCE)
    _install_stop_handlers()
    path = log_path(settings.logs_dir, execution_id)
    interval = float(settings.scheduler_option("heartbeat_interval"))
    heartbeat = Heartbeat(store, execution_id, interval,
                          on_cancel=lambda: os.kill(os.getpid(), signal.SIGTERM))
    heartbeat.start()
    run = _StepRun(execution, store, hooks, first)
    spec = None
    try:
        with ExecutionLogCapture(path):
            hooks.execution_started(execution)
            outcome, spec = run.run_steps()
    except OSError as exc:  # the log file itself could not be written
        outcome = Outcome(ExecutionStatus.FAILED, f"cannot write the execution log: {exc}",
                          None, 1)
    finally:
        # from here on a stop signal must not interrupt the recording of the outcome;
        # whoever sends one has recorded its own outcome first (compare-and-set)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        heartbeat.stop()
    return _record_outcome(execution, outcome, spec, store, hooks, run.ended)


def _first_step_name(hooks: PluginHooks, workflow: str) -> str | None:
    try:
        return next(iter(hooks.catalog().get(workflow).cls.steps()))[0]
    except Exception:  # unknown or empty: the run reports it, with no step started
        return None


class _StepRun:
    """The steps of one execution, in order. ``ended`` is the last step that ended and
    whose end is not recorded yet: it is written with whatever the worker writes next."""

    def __init__(self, execution: Execution, store: SqlStore, hooks: PluginHooks,
                 first: StepRecord | None) -> None:
        self.execution = execution
        self.store = store
        self.hooks = hooks
        self.current = first
        self.ended: StepRecord | None = None

    def run_steps(self) -> tuple[Outcome, WorkflowSpec | None]:
        execution, spec = self.execution, None
        try:
            spec = self.hooks.catalog().get(execution.workflow)
            if spec.nice:
                os.nice(spec.nice)
            log.info("running %s #%s attempt %s with params %s", execution.workflow,
                     execution.id, execution.attempt, execution.params)
            instance = spec.cls()
            ctx = StepContext(params=dict(execution.params), execution_id=execution.id,
                              attempt=execution.attempt, workflow=execution.workflow,
                              log=logging.getLogger(f"wfsched.workflow.{execution.workflow}"))
            for position, (name, function) in enumerate(spec.cls.steps(), start=1):
                self._run_step(position, name, function, instance, ctx)
            return Outcome(ExecutionStatus.COMPLETED), spec
        except WorkerStopped as stop:
            _stop_children()
            return Outcome(ExecutionStatus.FAILED, str(stop), None, 143), spec
        except Exception as exc:
            log.error("execution %s failed: %s: %s", execution.id, type(exc).__name__, exc)
            return Outcome(ExecutionStatus.FAILED, f"{type(exc).__name__}: {exc}",
                           traceback.format_exc(), 1), spec

    def _run_step(self, position: int, name: str, function: Any, instance: Any,
                  ctx: StepContext) -> None:
        step = self.current
        if step is None or step.position != position:
            # a step's record must survive a database outage like the final status does:
            # the work is done, and an outage while recording it must not fail it
            previous = self.ended
            step = with_database_retry(
                lambda: self.store.advance_step(self.execution.id, previous, position, name),
                f"record the start of step {name}", give_up_after=FINAL_STATUS_PATIENCE)
            self.current, self.ended = step, None
            if previous is not None:
                self.hooks.step_finished(self.execution, previous)
        try:
            result = function(instance, ctx)
        except BaseException as exc:
            self._ended(step, StepStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        ctx.results[name] = result
        self._ended(step, StepStatus.COMPLETED, result=result)

    def _ended(self, step: StepRecord, status: StepStatus, *, error: str | None = None,
               result: Any = None) -> None:
        self.ended = replace(step, status=status, finished_at=utcnow(), error=error,
                             result=result)
        self.current = None


def _record_outcome(execution: Execution, outcome: Outcome, spec: WorkflowSpec | None,
                    store: SqlStore, hooks: PluginHooks, last_step: StepRecord | None) -> int:
    status, error = outcome.status, outcome.error
    if status is ExecutionStatus.FAILED and _cancel_was_requested(store, execution.id):
        status, error = ExecutionStatus.CANCELLED, "cancelled while running"
    retry_at = None
    if status is ExecutionStatus.FAILED:
        retry_at = next_attempt_at(spec, execution.attempt)
    finished = with_database_retry(
        lambda: store.finish_execution(
            execution.id, status, exit_code=outcome.exit_code,
            error=error, error_detail=outcome.detail, retry_at=retry_at,
            queue_of=lambda name: _queue_of(hooks, name), last_step=last_step),
        f"record the end of execution {execution.id}", give_up_after=FINAL_STATUS_PATIENCE,
    )
    if last_step is not None:
        hooks.step_finished(execution, last_step)
    if finished is None:  # the scheduler already ended it (a timeout or a stop)
        return 1
    for queued in finished.queued:
        hooks.execution_queued(queued)
    if status is ExecutionStatus.COMPLETED:
        hooks.execution_completed(finished.execution)
        return 0
    if status is ExecutionStatus.CANCELLED:
        hooks.execution_cancelled(finished.execution)
        return 1
    hooks.execution_failed(finished.execution, will_retry=finished.retry is not None)
    return 1


def _queue_of(hooks: PluginHooks, workflow: str) -> str | None:
    """The queue a dependent workflow is routed to (the default one if unknown here)."""
    try:
        return hooks.catalog().get(workflow).queue
    except Exception:
        return None


def _cancel_was_requested(store: SqlStore, execution_id: int) -> bool:
    try:
        return store.get_execution(execution_id).cancel_requested
    except Exception:
        return False


def _install_stop_handlers() -> None:
    def stop(signum: int, _frame: Any) -> None:
        # restore the default so that a second signal kills at once
        signal.signal(signum, signal.SIG_DFL)
        raise WorkerStopped(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _stop_children() -> None:
    """A stopped worker takes the processes its steps started with it."""
    import psutil

    from wfsched_core.processes import stop_process_tree

    for child in psutil.Process().children():
        try:
            stop_process_tree(child.pid, child.create_time(), grace=3.0)
        except psutil.NoSuchProcess:
            pass
