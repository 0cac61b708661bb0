"""The scheduler: claim pending executions, start a worker for each, watch them, repeat.

Never more than ``max_concurrent`` workers at once. A worker's exit wakes the loop at
once; otherwise it sleeps until the poll interval, a heartbeat or a deadline is due.
The loop does no work proportional to history: every query it runs is indexed on
``status`` or on the owner.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError

from wfsched_core.authoring.flow_limits import flow_limits_by_name
from wfsched_core.authoring.retry import next_attempt_at
from wfsched_core.base.errors import DatabaseError, WfschedError
from wfsched_core.base.execution_log import ENV_LOG_CAPTURED, log_path
from wfsched_core.base.processes import hostname
from wfsched_core.base.records import Execution, SchedulerRow, WorkflowRow, utcnow
from wfsched_core.base.status import WORKER_STATUSES, ExecutionStatus
from wfsched_core.framework.spawning import (
    Liveness,
    Spawner,
    SpawnRequest,
    WorkerHandle,
    WorkerState,
    build_spawner,
)
from wfsched_core.scheduler.held import held_pending, unrunnable_reason, waiting_for_approval
from wfsched_core.scheduler.options import RunSummary, SchedulerOptions, Tracked
from wfsched_core.scheduler.outcome_log import log_finished, log_started
from wfsched_core.scheduler.recovery import judge_orphans, live_scheduler_ids, release_dead_claims
from wfsched_core.scheduler.reports import WorkerReports
from wfsched_core.scheduler.steering import SteeringChecks
from wfsched_core.scheduler.ticks import SystemClock, TickScheduler, seconds_until
from wfsched_core.worker import ENV_OWNER, ENV_PLAN, EXIT_NOT_STARTED
from wfsched_core.worker.plan import WorkerPlan, class_target

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

# What a loop iteration survives and retries: the database unreachable or locked.
_DATABASE_DOWN = (DatabaseError, OperationalError)
# At most this often (seconds) the loop reads the rows of the workers it runs, for cancel
# requests, timeouts and lost heartbeats: not on every worker's exit.
OWNED_CHECK_INTERVAL = 0.25
# How long a loop woken while workers run waits for what else happens in that instant.
COALESCE_SECONDS = 0.002


class Scheduler:
    """One ``wfsched scheduler`` process."""

    def __init__(self, store: Store, hooks: PluginHooks, settings: Settings,
                 options: SchedulerOptions, clock: SystemClock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.store = store
        self.hooks = hooks
        self.settings = settings
        self.options = options
        self.id = uuid.uuid4().hex[:16]
        self.host = hostname()
        self.tracked: dict[int, Tracked] = {}
        self.summary = RunSummary()
        self._wake = threading.Event()
        self._stop_signals = 0
        self._spawners: dict[str, Spawner] = {}
        self._factories = hooks.spawner_factories()
        self._row: SchedulerRow | None = None
        self._lock: Any = None
        self._base_env: dict[str, str] | None = None  # os.environ, copied once for workers
        self._next_heartbeat = 0.0
        self._next_recovery = 0.0
        self.reports: WorkerReports | None = None  # the lean workers' channel, while running
        self._owned_check_at = 0.0  # monotonic: when to read the owned rows next
        self._retry_check_at = 0.0  # monotonic: when to look for the next retry's time again
        self._next_retry_at: datetime | None = None
        self._held_since: float | None = None  # --once: since when only held work is left
        self._told_unrunnable: dict[str, int] = {}  # held executions of a workflow, logged

    # --- start and stop --------------------------------------------------------------

    def prepare(self) -> None:
        """Everything that can fail on bad input, before anything runs."""
        self.catalog = self.hooks.catalog()
        self.specs = self.catalog.all()
        self._warm_up_spawner()
        self._spawner(self.options.spawner).check_available()
        self._take_exclusive_lock()
        self.store.sync_workflows(
            [WorkflowRow(s.name, s.description, s.schedule) for s in self.specs.values()],
            dependencies=[(up, s.name) for s in self.specs.values() for up in s.depends_on])
        self.concurrency = {n: s.concurrency for n, s in self.specs.items() if s.concurrency}
        self._hold_unrunnable()
        self.flow = flow_limits_by_name(self.specs.values())
        # no admission implementation that could hold anything: the claim does not ask
        self._admit = self._admission if self.hooks.admission_may_hold(
            self.specs.values()) else None
        self.ticks = TickScheduler(self.store, self.hooks, self.specs, self.clock,
                                   on_time=max(10.0, 3 * self.options.poll_interval))
        self.ticks.start()
        self.steering = SteeringChecks(self.store, self.hooks, self.specs, self.clock,
                                       self.id)

    def _warm_up_spawner(self) -> None:
        """Tell the default strategy which workflow modules its workers import, before it
        starts (the fork server imports them once, ahead of every worker)."""
        preload = getattr(self._spawner(self.options.spawner), "preload", None)
        if preload is not None:
            preload(sorted({target.partition(":")[0] for target in
                            (class_target(spec.cls) for spec in self.specs.values())
                            if target}))

    def run(self) -> RunSummary:
        """Run until stopped (or, with ``once``, until nothing is pending or running)."""
        self.prepare()
        self._register()
        self.reports = WorkerReports(self.store, self.hooks, self.id, self.host,
                                     self._queue_of, self._reported_finish)
        self.reports.start()
        listener = self.store.start_wake_listener(self._wake)
        previous = self._install_signal_handlers()
        reason = "stopped by signal"
        try:
            self.hooks.scheduler_started(self._row)  # type: ignore[arg-type]
            while True:
                self._tick()
                if self.stopping:
                    break
                if self.options.once and self._drained():
                    reason = "nothing left to do (--once)"
                    break
                self._sleep()
            self.hooks.scheduler_stopping(self._row, reason)  # type: ignore[arg-type]
            self._shut_down()
        finally:
            if listener is not None:
                listener.stop()
            if self.reports is not None:
                self.reports.close()
            self._close_spawners()
            self._unregister()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.summary

    @property
    def stopping(self) -> bool:
        return self._stop_signals > 0

    def request_stop(self) -> None:
        """Stop claiming; a second call also stops the running workers."""
        self._stop_signals += 1
        self._wake.set()

    def _install_signal_handlers(self) -> dict[int, Any]:
        def on_signal(signum: int, _frame: Any) -> None:
            log.warning("received %s: %s", signal.Signals(signum).name,
                        "stopping the running workers" if self.stopping
                        else "no new work; waiting for the running workers")
            self.request_stop()

        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, on_signal)
        return previous

    def _take_exclusive_lock(self) -> None:
        """On a database that allows one scheduler (a SQLite file), be that one."""
        lock = self.store.exclusive_scheduler_lock()
        if lock is not None:
            lock.acquire(f"scheduler {self.id}, pid {os.getpid()} on {self.host}")
            self._lock = lock

    def _register(self) -> None:
        from wfsched_core import __version__

        now = utcnow()  # recorded: real time, as every process records it (not the clock)
        self._row = SchedulerRow(self.id, self.host, os.getpid(), now, now, __version__,
                                 max_concurrent=self.options.max_concurrent)
        self.store.register_scheduler(self._row)
        self._next_heartbeat = time.monotonic() + self.options.heartbeat_interval

    def _close_spawners(self) -> None:
        """Let strategies that hold resources (the fork server) release them."""
        for spawner in self._spawners.values():
            close = getattr(spawner, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # a spawner's cleanup must not hide the stop
                    log.warning("spawner %s did not close cleanly: %s", spawner.name, exc)

    def _unregister(self) -> None:
        try:
            self.store.scheduler_stopped(self.id)
        except Exception as exc:
            log.warning("could not record the scheduler's stop: %s", exc)
        if self._lock is not None:
            self._lock.release()

    # --- the loop --------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            now = time.monotonic()
            if now >= self._next_heartbeat:
                self._heartbeat()
                self._next_heartbeat = now + self.options.heartbeat_interval
            self._reap()
            if now >= self._owned_check_at:
                self._act_on_owned()
                self._owned_check_at = now + min(OWNED_CHECK_INTERVAL,
                                                 self.options.poll_interval)
            if now >= self._next_recovery:
                self._recover()
                self.steering.check()  # approval timeouts, deadlines
                self._next_recovery = now + max(self.options.heartbeat_interval, 1.0)
            if not self.stopping:
                self.ticks.queue_due()
                self._claim_and_start()
        except _DATABASE_DOWN as exc:
            log.error("database unavailable, retrying in %.1fs: %s",
                      self.options.poll_interval, str(exc).splitlines()[0])
            self._wake.wait(self.options.poll_interval)

    def _heartbeat(self) -> None:
        self.store.scheduler_heartbeat(self.id)
        self._hold_unrunnable()
        pending = self.store.count_by_status().get("pending", 0)
        self.hooks.scheduler_tick(self._row, len(self.tracked), pending,  # type: ignore[arg-type]
                                  self.options.max_concurrent)

    def _sleep(self) -> None:
        timeout = self.options.poll_interval
        now = self.clock.now()
        for when in (self.ticks.next_due(), self._next_retry(now)):
            wait = seconds_until(when, now)
            if wait is not None:
                timeout = min(timeout, wait + 0.01)
        left = [s for s in (_timeout_left(t, now) for t in self.tracked.values())
                if s is not None]
        if left:  # a timeout is acted on by the next look at the owned rows
            owned_check = self._owned_check_at - time.monotonic()
            timeout = min(timeout, max(0.0, min(left), owned_check))
        timeout = min(timeout, max(0.0, self._next_heartbeat - time.monotonic()))
        if self._wake.wait(timeout) and self.tracked and not self.stopping:
            # woken while other workers run (one exited, or new work): let the next few
            # exits and reports of this instant gather, so that one tick and one commit
            # serve them all instead of one each
            time.sleep(COALESCE_SECONDS)
        self._wake.clear()

    def _next_retry(self, now: datetime) -> datetime | None:
        """When the next retry's backoff ends: read at most once a poll interval, and
        again as soon as a retry was queued here or the one known is due."""
        if self._next_retry_at is not None and self._next_retry_at <= now:
            self._retry_check_at = 0.0  # due: claimed by the next tick; then the next one
        if time.monotonic() >= self._retry_check_at:
            try:
                self._next_retry_at = self.store.next_not_before(now)
            except _DATABASE_DOWN:
                self._next_retry_at = None
            self._retry_check_at = time.monotonic() + self.options.poll_interval
        return self._next_retry_at

    def _reported_finish(self, retry_queued: bool) -> None:
        """A worker's final status was committed through its channel (reports thread)."""
        if retry_queued:
            self._retry_check_at = 0.0
        self._wake.set()

    def _drained(self) -> bool:
        """``--once``: nothing runs and nothing pending can run now or soon — every pending
        execution left is held (its reasons kept in the summary), for ``wait_held``
        seconds if asked."""
        if self.tracked:
            return False
        counts = self.store.count_by_status()
        if counts.get("running"):
            return False
        held = held_pending(self.store, self.options.poll_interval, self.options.queues,
                            self._unrunnable, self.clock.now()) if counts.get("pending") else []
        if held is None:  # something can run now (or its retry is due soon)
            self._held_since = None
            return False
        if held and self.options.wait_held > 0:
            now = time.monotonic()
            if self._held_since is None:
                self._held_since = now
            if now - self._held_since < self.options.wait_held:
                return False
        self.summary.held = held + waiting_for_approval(self.store)
        return True

    # --- starting workers ------------------------------------------------------------

    def _claim_and_start(self) -> None:
        free = self.options.max_concurrent - len(self.tracked)
        if free <= 0:
            return
        claimed = self.store.claim_pending(self.id, free, admit=self._admit,
                                           concurrency=self.concurrency,
                                           queues=self.options.queues,
                                           runnable=self.specs, flow=self.flow)
        started = self._start_workers(claimed)
        if started and (self.reports is None or not self.reports.record_handles(started)):
            self.store.record_handles(self.id, started)  # one transaction for the tick's

    def _unrunnable(self, workflow: str) -> str | None:
        """Why this scheduler cannot run ``workflow`` (not installed here, or broken)."""
        return unrunnable_reason(self.catalog, workflow, self.host)

    def _hold_unrunnable(self) -> None:
        """Say why pending executions of workflows this scheduler cannot run wait (the
        claim leaves them alone: see ``claim_pending(runnable=)``)."""
        held = self.store.hold_unrunnable(self.specs,
                                          lambda w: self._unrunnable(w) or "not runnable here")
        for workflow, count in held.items():
            if self._told_unrunnable.get(workflow) != count:
                self._told_unrunnable[workflow] = count
                log.warning("%d pending execution(s) held: %s", count,
                            self._unrunnable(workflow))

    def _admission(self, execution: Execution) -> str | None:
        return self.hooks.admission_reason(execution, self.specs.get(execution.workflow))

    def _start_workers(self, claimed: list[Execution],
                       ) -> list[tuple[int, str, dict[str, Any], int | None]]:
        """Start the claimed executions' workers and track them; what ``record_handles``
        records of each that started. A strategy that can start several at once
        (``start_many``: the fork server, one round trip) gets them together."""
        by_spawner: dict[str, list[tuple[Execution, WorkflowSpec | None]]] = {}
        for execution in claimed:
            spec = self.specs.get(execution.workflow)
            name = (spec.spawner if spec else None) or self.options.spawner
            by_spawner.setdefault(name, []).append((execution, spec))
        started = []
        for name, group in by_spawner.items():
            try:
                spawner = self._spawner(name)
                requests = [self._spawn_request(e, spec, spawner) for e, spec in group]
            except WfschedError as exc:
                outcomes: list[WorkerHandle | WfschedError] = [exc] * len(group)
            else:
                outcomes = _start_all(spawner, requests)
            for (execution, spec), outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, WfschedError):
                    log.error("cannot start execution %s: %s", execution.id, outcome)
                    self._fail(execution, spec, f"could not start its worker: {outcome}",
                               expected=(ExecutionStatus.PENDING,), owner=self.id)
                    continue
                started.append(self._track_started(execution, spec, spawner, outcome))
        return started

    def _track_started(self, execution: Execution, spec: WorkflowSpec | None,
                       spawner: Spawner, handle: WorkerHandle,
                       ) -> tuple[int, str, dict[str, Any], int | None]:
        # tracked before anything else can fail: a started worker is never forgotten
        self.tracked[execution.id] = Tracked(execution, spawner, handle, spec)
        if self.summary.first_start is None:
            self.summary.first_start = time.monotonic()
        log_started(execution, spawner.name, handle.pid)
        return execution.id, spawner.name, handle.data, handle.pid

    def _spawn_request(self, execution: Execution, spec: WorkflowSpec | None,
                       spawner: Spawner) -> SpawnRequest:
        """The worker's command and environment: the lean worker, reporting to this
        scheduler, for a strategy that starts it on this host and watches it; else
        ``wfsched execute ID``, which writes to the database itself."""
        if self._base_env is None:  # copied once: reading os.environ decodes every entry
            self._base_env = dict(os.environ)
        env = dict(self._base_env)
        env.update(self.settings.as_environment())
        env.update(self.hooks.worker_environment(execution, spawner.name))  # never the core's
        env.update({ENV_OWNER: self.id, ENV_LOG_CAPTURED: "1", "PYTHONUNBUFFERED": "1"})
        target = class_target(spec.cls) if spec is not None else None
        if target and spec is not None and self.reports is not None \
                and getattr(spawner, "reports_to_scheduler", False):
            plan = WorkerPlan(self.reports.socket_path, self.reports.expect(execution, spec),
                              target, spec.nice, tuple(spec.secret_params),
                              self.options.heartbeat_interval, str(self.settings.logs_dir))
            env[ENV_PLAN] = plan.to_env()
            argv = [sys.executable, "-m", "wfsched_core.worker", str(execution.id)]
        else:
            argv = [sys.executable, "-m", "wfsched_core", "execute", str(execution.id)]
        return SpawnRequest(execution.id, argv, env,
                            log_path(self.settings.logs_dir, execution.id), spec,
                            on_exit=self._wake.set)

    def _queue_of(self, workflow: str) -> str | None:
        """The queue a dependent workflow is routed to (the default one if unknown)."""
        spec = self.specs.get(workflow)
        return spec.queue if spec is not None else None

    def _spawner(self, name: str) -> Spawner:
        if name not in self._spawners:
            self._spawners[name] = build_spawner(self._factories, name, self.settings)
        return self._spawners[name]

    # --- watching workers ------------------------------------------------------------

    def _reap(self) -> None:
        for tracked in list(self.tracked.values()):
            state = self._poll(tracked)
            tracked.liveness = state.liveness
            if state.liveness is Liveness.EXITED:
                self._worker_exited(tracked, state)

    def _poll(self, tracked: Tracked) -> WorkerState:
        if tracked.spawner is None:  # adopted from a run by hand: its PID, if on this host
            return self._probe(tracked.execution) or WorkerState(Liveness.UNKNOWN)
        return tracked.spawner.poll(tracked.handle)

    def _worker_exited(self, tracked: Tracked, state: WorkerState) -> None:
        reported = self.reports.take_finished(tracked.execution.id) if self.reports else None
        execution = reported or self.store.get_execution(tracked.execution.id)
        if execution.status is ExecutionStatus.PENDING and state.exit_code == EXIT_NOT_STARTED \
                and self.store.release_claim_of(execution.id, self.id):
            # the database stayed unreachable while it started: no step ran, no attempt
            # was used; it waits in the queue again instead of failing
            log.warning("execution %s could not start (database unavailable); queued again",
                        execution.id)
            self.tracked.pop(execution.id, None)
            if self.reports is not None:
                self.reports.forget(execution.id)
            return
        if execution.status in WORKER_STATUSES:  # not ended, and not waiting for approval
            what = state.reason or "exited"
            execution = self._fail(
                execution, tracked.spec, f"worker {what} without recording a final status",
                exit_code=state.exit_code,
                expected=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING), owner=self.id,
            ) or self.store.get_execution(execution.id)
        self._untrack(execution)

    def _untrack(self, execution: Execution) -> None:
        if self.tracked.pop(execution.id, None) is not None:
            log_finished(execution)
        if self.reports is not None:
            self.reports.forget(execution.id)
        self.summary.outcomes[execution.id] = execution.status
        if execution.retry_of is not None:
            self.summary.retried.add(execution.retry_of)
        self.summary.last_end = time.monotonic()
        if execution.duration:
            self.summary.busy_seconds += execution.duration

    def _act_on_owned(self) -> None:
        """Cancel requests, timeouts and heartbeats of the workers this scheduler owns."""
        if not self.tracked:
            return
        limit = self.store.expired_before(self.options.heartbeat_timeout)
        now = self.clock.now()
        owned = self.store.owned_executions(self.id, [ExecutionStatus.RUNNING,
                                                      ExecutionStatus.PENDING])
        for gone in set(self.tracked) - {e.id for e in owned}:
            spawner = self.tracked[gone].spawner
            if spawner is None or not spawner.sees_process:
                # ended, and we could not see its process exit: its row says so
                self._untrack(self.store.get_execution(gone))
        for execution in owned:
            if execution.status is not ExecutionStatus.RUNNING:
                continue
            tracked = self.tracked.get(execution.id)
            if tracked is None:
                continue
            tracked.execution = execution
            if execution.cancel_requested:
                self._end_and_stop(tracked, ExecutionStatus.CANCELLED, "cancelled while running")
            elif (_timeout_left(tracked, now) or 0.0) < 0 and tracked.spec is not None:
                self._end_and_stop(tracked, ExecutionStatus.FAILED,
                                   f"timeout: still running after {tracked.spec.timeout:g}s",
                                   timed_out=True)
            elif (tracked.spawner is None or not tracked.spawner.sees_process
                  or tracked.liveness is Liveness.UNKNOWN) and \
                    execution.heartbeat_at is not None and execution.heartbeat_at < limit:
                self._end_and_stop(tracked, ExecutionStatus.FAILED,
                                   "worker lost: its heartbeat stopped")

    def _end_and_stop(self, tracked: Tracked, status: ExecutionStatus, reason: str,
                      *, timed_out: bool = False) -> None:
        """Record the outcome first (so the worker cannot record another), then stop it."""
        if status is ExecutionStatus.CANCELLED:
            finished = self.store.finish_execution(tracked.execution.id, status, error=reason,
                                                   owner=self.id)
            if finished is not None:
                self.hooks.execution_cancelled(finished.execution)
        else:
            self._fail(tracked.execution, tracked.spec, reason, timed_out=timed_out,
                       owner=self.id)
        self._stop_worker(tracked)

    def _stop_worker(self, tracked: Tracked) -> threading.Thread | None:
        """Stop the worker's process tree in the background (it may take ``kill_grace``)."""
        if tracked.spawner is None:
            return None
        stopper = threading.Thread(target=tracked.spawner.stop,
                                   args=(tracked.handle, self.options.kill_grace),
                                   name=f"wfsched-stop-{tracked.execution.id}", daemon=True)
        stopper.start()
        return stopper

    def _fail(self, execution: Execution, spec: WorkflowSpec | None, reason: str, *,
              exit_code: int | None = None, timed_out: bool = False,
              expected: tuple[ExecutionStatus, ...] = (ExecutionStatus.RUNNING,),
              owner: str | None = None) -> Execution | None:
        """Compare-and-set to ``failed`` with ``reason``; queue a retry; fire the events.

        With ``owner`` (this scheduler, for the workers it runs) only while it still owns
        the execution: another scheduler may have taken it over meanwhile.
        """
        retry_at = next_attempt_at(spec, execution.attempt)
        finished = self.store.finish_execution(
            execution.id, ExecutionStatus.FAILED, expected=expected, exit_code=exit_code,
            error=reason, retry_at=retry_at, owner=owner)
        if finished is None:
            return None
        will_retry = finished.retry is not None
        if will_retry:
            self._retry_check_at = 0.0
        for queued in finished.queued:
            self.hooks.execution_queued(queued)
        if timed_out:
            self.hooks.execution_timed_out(finished.execution, will_retry)
        self.hooks.execution_failed(finished.execution, will_retry)
        if execution.id not in self.tracked:  # a tracked one is logged when untracked
            self.summary.outcomes[execution.id] = ExecutionStatus.FAILED
            log_finished(finished.execution)
        return finished.execution

    # --- recovery --------------------------------------------------------------------

    def _recover(self) -> None:
        now = self.clock.now()
        live = live_scheduler_ids(self.store, self.id, self.host,
                                  self.options.heartbeat_timeout,
                                  others_are_dead=self._lock is not None, now=now)
        release_dead_claims(self.store, live)
        verdicts = judge_orphans(self.store, live - {self.id}, set(self.tracked),
                                 self.options.heartbeat_timeout, self._probe, now=now)
        for verdict in verdicts:
            execution = verdict.execution
            spec = self.specs.get(execution.workflow)
            if verdict.adopt:
                self._adopt(execution, spec)
            else:
                log.warning("execution %s: %s", execution.id, verdict.reason)
                self._fail(execution, spec, verdict.reason)

    def _adopt(self, execution: Execution, spec: WorkflowSpec | None) -> None:
        if not self.store.adopt(execution.id, execution.claimed_by, self.id):
            return
        spawner = None
        if execution.spawner and execution.spawner in self._factories:
            spawner = self._spawner(execution.spawner)
            if spawner.sees_process and execution.host != self.host:
                # it would look the PID up on this host: elsewhere the heartbeat decides
                spawner = None
        handle = WorkerHandle(execution.spawner or "unknown", execution.worker_handle or {},
                              pid=execution.pid)
        self.tracked[execution.id] = Tracked(execution, spawner, handle, spec)
        log.warning("adopted running execution %s (pid %s on %s) from %s", execution.id,
                    execution.pid, execution.host, execution.claimed_by)

    def _probe(self, execution: Execution) -> WorkerState | None:
        """Ask the execution's spawn strategy whether its worker lives (None: cannot tell)."""
        if execution.host != self.host:
            return None
        name = execution.spawner
        if name and name in self._factories and execution.worker_handle:
            spawner = self._spawner(name)
            if spawner.sees_process:
                return spawner.poll(WorkerHandle(name, execution.worker_handle,
                                                 pid=execution.pid))
            return None
        if execution.pid:  # started by hand on this host: its PID is all we have
            from wfsched_core.base.processes import is_same_process_alive

            # a PID without a create time may have been recycled: a live one proves
            # nothing (None: the worker's heartbeat decides); a gone one proves death
            if is_same_process_alive(execution.pid, None):
                return None
            return WorkerState(Liveness.EXITED, reason="is gone")
        return None

    # --- shutting down ---------------------------------------------------------------

    def _shut_down(self) -> None:
        """Wait for running workers (grace period, or until a second signal), then stop."""
        deadline = time.monotonic() + self.options.grace_period
        waiting = self._workers_to_wait_for()
        if waiting:
            log.warning("waiting up to %.0fs for %d running worker(s); signal again to stop "
                        "them now", self.options.grace_period, len(waiting))
        while self._workers_to_wait_for() and self._stop_signals < 2 \
                and time.monotonic() < deadline:
            self._wake.wait(min(self.options.poll_interval, max(0.0, deadline - time.monotonic())))
            self._wake.clear()
            try:
                self._reap()
            except _DATABASE_DOWN as exc:
                log.error("database unavailable while stopping: %s", exc)
        stoppers = []
        for tracked in self._workers_to_wait_for():
            try:
                # pending too: a worker still starting has not marked itself running yet
                self._fail(tracked.execution, tracked.spec, "scheduler stopped",
                           expected=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING),
                           owner=self.id)
            except _DATABASE_DOWN as exc:
                # stop it all the same: a stop must not depend on the database; the row is
                # recorded by the worker itself, or failed by the next scheduler's recovery
                log.error("database unavailable while stopping: execution %s not recorded "
                          "as stopped (%s)", tracked.execution.id, str(exc).splitlines()[0])
            stoppers.append(self._stop_worker(tracked))
        for stopper in stoppers:
            if stopper is not None:
                stopper.join()
        try:
            self._reap()
            self.store.release_claims(self.id)
        except _DATABASE_DOWN as exc:
            log.error("database unavailable while stopping: %s", str(exc).splitlines()[0])

    def _workers_to_wait_for(self) -> list[Tracked]:
        return [t for t in self.tracked.values()
                if t.spawner is not None and not getattr(t.spawner, "survives_scheduler", False)]


def _timeout_left(tracked: Tracked, now: datetime) -> float | None:
    """Seconds until ``tracked`` passes its workflow's timeout (negative: passed), counted
    from the start its worker recorded; None without a timeout or before it started."""
    started = tracked.execution.started_at
    if tracked.spec is None or not tracked.spec.timeout or started is None:
        return None
    return tracked.spec.timeout - (now - started).total_seconds()


def _start_all(spawner: Spawner, requests: list[SpawnRequest],
               ) -> list[WorkerHandle | WfschedError]:
    """Each request's handle, or the error that kept it from starting."""
    start_many = getattr(spawner, "start_many", None)
    if start_many is not None:
        return start_many(requests)
    outcomes: list[WorkerHandle | WfschedError] = []
    for request in requests:
        try:
            outcomes.append(spawner.start(request))
        except WfschedError as exc:
            outcomes.append(exc)
    return outcomes
