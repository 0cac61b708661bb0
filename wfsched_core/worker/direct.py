"""A worker that writes to the database itself and fires the lifecycle events.

``wfsched execute ID`` runs this way (the worker of the detached, container and remote
spawners, which no scheduler watches), and so does a lean worker whose scheduler is gone
(``channel.py`` hands over to :class:`DirectReporter` with ``resuming=True``).

Two writes for a one-step workflow, one more per further step: ``running`` with the first
step's start, each step's end with the next one's start, and the last step's end with the
final status (each pair in one transaction).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from wfsched_core.authoring.retry import next_attempt_at
from wfsched_core.base.errors import DatabaseError, ExecutionStateError
from wfsched_core.base.processes import hostname
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.dbretry import with_database_retry
from wfsched_core.worker import ENV_OWNER, FINAL_STATUS_PATIENCE, START_PATIENCE
from wfsched_core.worker.runner import NotStarted, Outcome, run_with

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import Execution, RunVersion, StepRecord
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store
    from wfsched_core.store.executions import Finished

log = logging.getLogger(__name__)


def run_execution(execution_id: int, store: Store, hooks: PluginHooks,
                  settings: Settings) -> int:
    """Run one execution to its end, writing to the database; the process exit code
    (0 completed, 1 otherwise, ``EXIT_NOT_STARTED`` when an outage kept it from starting)."""
    reporter = DirectReporter(execution_id, store, hooks)
    return run_with(reporter, lambda workflow: hooks.catalog().get(workflow),
                    settings.logs_dir, float(settings.scheduler_option("heartbeat_interval")))


class DirectReporter:
    """Each transition a compare-and-set of this process's own, retried through outages.

    ``resuming``: a lean worker took over from a scheduler that vanished, which may have
    committed the last report without answering: a start that finds the execution running
    under this very process, a step already recorded, or a final status already set, is
    then what this worker did, not a conflict.
    """

    def __init__(self, execution_id: int, store: Store, hooks: PluginHooks, *,
                 resuming: bool = False) -> None:
        self.execution_id = execution_id
        self.store = store
        self.hooks = hooks
        self.resuming = resuming
        self.execution: Execution | None = None  # as started: what step events carry

    def start(self, first_step: Callable[[str], str | None]) -> tuple[Execution,
                                                                     StepRecord | None]:
        host, pid = hostname(), os.getpid()
        try:
            # a compare-and-set: retried through a deadlock or a short outage, it can still
            # only succeed once (a retry after an unseen commit finds it running, and refuses)
            started = with_database_retry(
                lambda: self.store.start_running(
                    self.execution_id, os.environ.get(ENV_OWNER) or None, pid=pid,
                    host=host, manual_owner=f"manual-{host}-{pid}", first_step=first_step,
                    version_of=self._version_of),
                f"start execution {self.execution_id}", give_up_after=START_PATIENCE)
        except ExecutionStateError:
            resumed = self._started_by_me(pid) if self.resuming else None
            if resumed is None:
                raise
            started = resumed
        except DatabaseError as exc:
            raise NotStarted(str(exc)) from exc
        self.execution = started[0]
        return started

    def _version_of(self, workflow: str) -> RunVersion:
        """The code this process runs ``workflow`` with, as its catalog knows it (a lean
        worker resuming without its scheduler records only the core's version: it loads
        no catalog)."""
        from wfsched_core.authoring.workflow import run_version

        return run_version(None if self.resuming else self.hooks.catalog().find(workflow))

    def _started_by_me(self, pid: int) -> tuple[Execution, StepRecord | None] | None:
        execution = self.store.get_execution(self.execution_id)
        if execution.status is not ExecutionStatus.RUNNING or execution.pid != pid:
            return None
        steps = self.store.steps(self.execution_id)
        return execution, (steps[0] if steps else None)

    def announce_start(self, execution: Execution) -> None:
        self.hooks.execution_started(execution)

    def advance(self, done: StepRecord | None, position: int, name: str) -> StepRecord:
        from sqlalchemy.exc import IntegrityError

        try:
            # a step's record must survive a database outage like the final status does:
            # the work is done, and an outage while recording it must not fail it
            step = with_database_retry(
                lambda: self.store.advance_step(self.execution_id, done, position, name),
                f"record the start of step {name}", give_up_after=FINAL_STATUS_PATIENCE)
        except IntegrityError:
            if not self.resuming:
                raise
            step = next(s for s in self.store.steps(self.execution_id) if s.position == position)
        if done is not None and self.execution is not None:
            self.hooks.step_finished(self.execution, done)
        return step

    def heartbeat(self) -> bool:
        return self.store.heartbeat(self.execution_id)

    def finish(self, execution: Execution, outcome: Outcome,
               last_step: StepRecord | None) -> int:
        from wfsched_core.store.reports import FinishReport

        store, hooks = self.store, self.hooks
        retry_at = None
        if outcome.status is ExecutionStatus.FAILED:
            retry_at = next_attempt_at(_spec_of(hooks, execution.workflow), execution.attempt)
        # the same transaction as a reported final status: a failure while a cancel was
        # requested ends cancelled, decided inside it
        report = FinishReport(execution.id, outcome.status, outcome.exit_code, outcome.error,
                              outcome.detail, last_step, retry_at,
                              resume_from=outcome.resume_from, approvers=outcome.approvers)
        finished = with_database_retry(
            lambda: store.finish_reported(report, queue_of=lambda name: _queue_of(hooks, name)),
            f"record the end of execution {execution.id}", give_up_after=FINAL_STATUS_PATIENCE,
        )
        if last_step is not None:
            hooks.step_finished(execution, last_step)
        if finished is None:  # the scheduler already ended it (a timeout, a stop), or did
            # record this very outcome before it vanished (resuming)
            if self.resuming:
                stored = store.get_execution(execution.id)
                recorded = ExecutionStatus.CANCELLED if (
                    outcome.status is ExecutionStatus.FAILED and stored.cancel_requested
                ) else outcome.status
                if stored.status is recorded:
                    return exit_code_of(recorded)
            return 1
        status = finished.execution.status
        announce_finished(hooks, finished, status)
        return exit_code_of(status)


def exit_code_of(status: ExecutionStatus) -> int:
    """A worker's exit code for what it recorded: 0 completed, or waiting for an
    approval (it did what it should), 1 otherwise."""
    return 0 if status in (ExecutionStatus.COMPLETED, ExecutionStatus.WAITING) else 1


def announce_finished(hooks: PluginHooks, finished: Finished, status: ExecutionStatus) -> None:
    """The events of a final status this process recorded: what it queued, then the
    outcome."""
    for queued in finished.queued:
        hooks.execution_queued(queued)
    execution = finished.execution
    if status is ExecutionStatus.COMPLETED:
        hooks.execution_completed(execution)
    elif status is ExecutionStatus.WAITING:
        hooks.execution_waiting(execution)
    elif status is ExecutionStatus.CANCELLED:
        hooks.execution_cancelled(execution)
    else:
        hooks.execution_failed(execution, will_retry=finished.retry is not None)


def _spec_of(hooks: PluginHooks, workflow: str) -> WorkflowSpec | None:
    try:
        return hooks.catalog().get(workflow)
    except Exception:
        return None


def _queue_of(hooks: PluginHooks, workflow: str) -> str | None:
    """The queue a dependent workflow is routed to (the default one if unknown here)."""
    try:
        return hooks.catalog().get(workflow).queue
    except Exception:
        return None
