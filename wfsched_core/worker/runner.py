"""Running one execution's steps, whoever records them (``Reporter``).

The runner claims the execution through its reporter (``pending`` -> ``running``, a
compare-and-set, so it never runs twice), runs the workflow's steps in order, reports
each step's end with the next one's start, and the final status. A reporter either writes
to the database itself (``direct.py``) or asks the scheduler to (``channel.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wfsched_core.authoring.secrets import mask_params
from wfsched_core.authoring.workflow import StepContext, approval_of
from wfsched_core.base.approvers import approver_names
from wfsched_core.base.execution_log import ExecutionLogCapture, log_path
from wfsched_core.base.records import result_is_json, utcnow
from wfsched_core.base.status import ExecutionStatus, StepStatus
from wfsched_core.worker import ENV_INSTRUMENTATION
from wfsched_core.worker.heartbeat import Heartbeat

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, StepRecord
    from wfsched_core.worker.instrumentation import GuardedInstrumentation

log = logging.getLogger(__name__)


class WorkerStopped(BaseException):
    """Raised in the worker's main thread by SIGTERM/SIGINT (a BaseException, so that a
    step's ``except Exception`` does not swallow it)."""


class NotStarted(Exception):
    """The execution could not be started for a reason that may pass (an outage): the
    worker exits with ``EXIT_NOT_STARTED`` and its scheduler queues it again."""


class LogWriteError(Exception):
    """The execution's log could not be written (a full disk, an I/O error)."""


@dataclass
class Outcome:
    status: ExecutionStatus
    error: str | None = None
    detail: str | None = None
    exit_code: int = 0
    #: ``waiting``: the position of the step that needs an approval, and who may give it
    resume_from: int | None = None
    approvers: str | None = None


class Runnable(Protocol):
    """What the runner needs of a workflow: its class and its resolved ``nice``."""

    @property
    def cls(self) -> Any: ...
    @property
    def nice(self) -> int | None: ...
    @property
    def secret_params(self) -> tuple[str, ...]: ...


class Reporter(Protocol):
    """Where a worker's transitions go: the database, or the scheduler that started it."""

    def start(self, first_step: Callable[[str], str | None]) -> tuple[Execution,
                                                                     StepRecord | None]:
        """``pending`` -> ``running`` with the first step's start; raises
        ExecutionStateError when another process runs (or ran) it, NotStarted when the
        database stayed unreachable."""

    def announce_start(self, execution: Execution) -> None:
        """Fire ``wfsched_execution_started`` where the worker fires events itself."""

    def advance(self, done: StepRecord | None, position: int, name: str) -> StepRecord:
        """Record the end of ``done`` (if any) and the start of the next step."""

    def heartbeat(self) -> bool:
        """Prove the worker lives; True when a cancel was requested."""

    def finish(self, execution: Execution, outcome: Outcome,
               last_step: StepRecord | None) -> int:
        """Record the final status (with the last step's end); the process exit code."""


def run_with(reporter: Reporter, resolve: Callable[[str], Runnable], logs_dir: Path,
             heartbeat_interval: float) -> int:
    """Run one execution to its end through ``reporter``; the process exit code."""
    execution, first = reporter.start(lambda workflow: _first_step_name(resolve, workflow))
    instrumentation = None
    if os.environ.get(ENV_INSTRUMENTATION):  # imported only when a plugin asked for it
        from wfsched_core.worker.instrumentation import start_instrumentation

        instrumentation = start_instrumentation(execution)
    _install_stop_handlers()
    heartbeat = Heartbeat(reporter.heartbeat, execution.id, heartbeat_interval,
                          on_cancel=lambda: os.kill(os.getpid(), signal.SIGTERM))
    heartbeat.start()
    run = _StepRun(execution, reporter, resolve, first, instrumentation)
    try:
        with ExecutionLogCapture(log_path(logs_dir, execution.id), execution.id) as capture:
            run.capture = capture
            reporter.announce_start(execution)
            outcome = run.run_steps()
            outcome = _checked_log(capture, outcome)
    except OSError as exc:  # the log file itself could not be written
        outcome = Outcome(ExecutionStatus.FAILED, f"cannot write the execution log: {exc}",
                          None, 1)
    finally:
        # from here on a stop signal must not interrupt the recording of the outcome;
        # whoever sends one has recorded its own outcome first (compare-and-set)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        heartbeat.stop()
    exit_code = reporter.finish(execution, outcome, run.ended)
    if instrumentation is not None:  # after the record: an exporter's wait never delays it
        instrumentation.finished(outcome.status.value, outcome.error)
    return exit_code


def _first_step_name(resolve: Callable[[str], Runnable], workflow: str) -> str | None:
    try:
        name, function = next(iter(resolve(workflow).cls.steps()))
    except Exception:  # unknown or empty: the run reports it, with no step started
        return None
    # a first step that needs an approval does not start: the run waits before it
    return None if approval_of(function) is not None else name


def _checked_log(capture: ExecutionLogCapture, outcome: Outcome) -> Outcome:
    """A completed run whose log could not be written is not completed: flush what is
    buffered, and fail the run with the write's error if any write failed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError as exc:
            capture.write_failed(exc)
    if capture.write_error is None or outcome.status is not ExecutionStatus.COMPLETED:
        return outcome
    return Outcome(ExecutionStatus.FAILED,
                   f"cannot write the execution log: {capture.write_error}", None, 1)


class _StepRun:
    """The steps of one execution, in order. ``ended`` is the last step that ended and
    whose end is not recorded yet: it is reported with whatever the worker reports next."""

    def __init__(self, execution: Execution, reporter: Reporter,
                 resolve: Callable[[str], Runnable], first: StepRecord | None,
                 instrumentation: GuardedInstrumentation | None = None) -> None:
        self.execution = execution
        self.instrumentation = instrumentation
        self.reporter = reporter
        self.resolve = resolve
        self.current = first
        self.ended: StepRecord | None = None
        self.capture: ExecutionLogCapture | None = None

    def run_steps(self) -> Outcome:
        execution = self.execution
        try:
            spec = self.resolve(execution.workflow)
            if spec.nice:
                os.nice(spec.nice)
            log.info("running %s #%s attempt %s with params %s", execution.workflow,
                     execution.id, execution.attempt,
                     mask_params(execution.params, spec.secret_params))
            instance = spec.cls()
            ctx = StepContext(params=dict(execution.params), execution_id=execution.id,
                              attempt=execution.attempt, workflow=execution.workflow,
                              upstream=execution.upstream,
                              log=logging.getLogger(f"wfsched.workflow.{execution.workflow}"))
            # a resumed run (approved, or a re-run) starts with its earlier steps' results
            ctx.results.update(execution.resumed_results)
            resume = execution.resume_from or 1
            for position, (name, function) in enumerate(spec.cls.steps(), start=1):
                if position < resume:
                    continue
                waiting = self._needs_approval(position, name, function)
                if waiting is not None:
                    return waiting
                self._run_step(position, name, function, instance, ctx)
            return Outcome(ExecutionStatus.COMPLETED)
        except WorkerStopped as stop:
            _stop_children()
            return Outcome(ExecutionStatus.FAILED, str(stop), None, 143)
        except Exception as exc:
            log.error("execution %s failed: %s: %s", execution.id, type(exc).__name__, exc)
            return Outcome(ExecutionStatus.FAILED, f"{type(exc).__name__}: {exc}",
                           traceback.format_exc(), 1)

    def _needs_approval(self, position: int, name: str, function: Any) -> Outcome | None:
        """The ``waiting`` outcome before a step that needs an approval not yet given."""
        approval = approval_of(function)
        execution = self.execution
        if approval is None or (execution.approval == "approved"
                                and execution.approval_step == position):
            return None
        approvers = approver_names(approval)
        log.info("step %s of execution %s needs an approval%s; waiting", name, execution.id,
                 f" by {approvers}" if approvers else "")
        reason = f"waiting for approval of step {name}" + (
            f" (by {approvers.replace(',', ', ')})" if approvers else "")
        return Outcome(ExecutionStatus.WAITING, reason, None, 0, position, approvers)

    def _run_step(self, position: int, name: str, function: Any, instance: Any,
                  ctx: StepContext) -> None:
        step = self.current
        if step is None or step.position != position:
            previous = self.ended
            step = self.reporter.advance(previous, position, name)
            self.current, self.ended = step, None
        try:
            if self.instrumentation is None:
                result = function(instance, ctx)
            else:
                with self.instrumentation.step(position, name):
                    result = function(instance, ctx)
            self._check_log()
        except BaseException as exc:
            self._ended(step, StepStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        ctx.results[name] = result
        self._ended(step, StepStatus.COMPLETED, result=result)

    def _check_log(self) -> None:
        """A step whose log lines could not be written fails with that reason."""
        if self.capture is not None and self.capture.write_error is not None:
            raise LogWriteError(f"cannot write the execution log: {self.capture.write_error}")

    def _ended(self, step: StepRecord, status: StepStatus, *, error: str | None = None,
               result: Any = None) -> None:
        self.ended = replace(step, status=status, finished_at=utcnow(), error=error,
                             result=result, result_json=result_is_json(result))
        self.current = None


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

    from wfsched_core.base.processes import stop_process_tree

    for child in psutil.Process().children():
        try:
            stop_process_tree(child.pid, child.create_time(), grace=3.0)
        except psutil.NoSuchProcess:
            pass
