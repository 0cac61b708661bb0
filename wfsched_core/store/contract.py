"""The store contract: everything the core, the CLI and the plugins may ask of a store.

``SqlStore`` (``sql_store.py``) implements it for every SQL database; a plugin may return
anything that implements it from the ``wfsched_store`` hook (a store that wraps
``SqlStore`` to add tracing or caching, say; see ``tests/test_store_contract.py``). Outside
this package, code names the type ``Store`` and calls only these methods: no engine, no
table, no dialect flag. ``tests/test_store_contract.py`` checks that ``SqlStore`` has
each method with the same signature and that it has no public method missing here.

Records passed in and out are those of ``wfsched_core.base.records`` and the reports of
``store/reports.py``; every status change is a compare-and-set, and a method that loses
one returns ``False`` or ``None`` rather than raising.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from wfsched_core.base.status import ExecutionStatus, Trigger

if TYPE_CHECKING:
    from wfsched_core.authoring.flow_limits import FlowLimits
    from wfsched_core.base.pauses import Pause
    from wfsched_core.base.records import (
        Execution,
        RunVersion,
        SchedulerRow,
        StepRecord,
        WorkflowRow,
    )
    from wfsched_core.store.browsing import ExecutionPage, ExecutionSearch
    from wfsched_core.store.executions import Finished
    from wfsched_core.store.queries import FinishedRow, RunningRow
    from wfsched_core.store.reports import FinishReport, ReportResult, WorkerReport
    from wfsched_core.store.scheduler_lock import SqliteSchedulerLock


@runtime_checkable
class Store(Protocol):
    """wfsched's executions, steps, schedulers and workflows in one database."""

    def active_count(self, workflow: str) -> int:
        """Pending and running executions of ``workflow``."""
        ...

    def adopt(self, execution_id: int, from_owner: str | None, to_owner: str) -> bool:
        """Take over a running execution whose owner died (compare-and-set on the owner)."""
        ...

    def advance_step(
        self, execution_id: int, done: StepRecord | None, position: int, name: str,
    ) -> StepRecord:
        """Record the end of step ``done`` (if any) and the start of the next, together."""
        ...

    def apply_worker_reports(
        self, owner: str, host: str, reports: Sequence[WorkerReport], queue_of: Callable[[str], str
        | None] | None = None,
    ) -> list[ReportResult]:
        """Apply ``reports`` (of workers ``owner`` started on ``host``) in one transaction."""
        ...

    def approve(self, execution_id: int, user: str, comment: str | None = None) -> Execution:
        """``waiting -> pending``, recording who approved, when and why; the run continues at the
        step it waited before. ``ExecutionStateError`` when it is not waiting (an approver was
        first, or it ended), ``ApprovalRefused`` when ``user`` may not."""
        ...

    def claim_pending(
        self, owner: str, limit: int, *, admit: Callable[[Execution], str | None] | None = None,
        concurrency: Mapping[str, int] | None = None, queues: Sequence[str | None] | None = None,
        now: datetime | None = None, runnable: Collection[str] | None = None, flow: Mapping[str,
        FlowLimits] | None = None,
    ) -> list[Execution]:
        """Atomically take up to ``limit`` pending executions for ``owner``."""
        ...

    def claimed_pending(self) -> list[Execution]:
        """Pending executions some scheduler claimed but whose worker has not started."""
        ...

    def count_active(self) -> dict[str, int]:
        """How many executions are pending and running (zeros included)."""
        ...

    def count_by_status(self) -> dict[str, int]:
        """How many executions are pending and running (indexed on status)."""
        ...

    def count_executions(
        self, *, status: str | None = None, workflow: str | None = None, since: datetime | None =
        None, overdue: bool = False, version: str | None = None,
    ) -> int:
        """How many executions :meth:`list_executions` pages through."""
        ...

    def count_finished_since(self, since: datetime) -> dict[str, int]:
        """Executions that ended at or after ``since``, by final status (zeros included)."""
        ...

    def count_steps(self, execution_ids: Sequence[int]) -> int:
        """How many step rows the executions ``execution_ids`` have."""
        ...

    def create_rerun(
        self, execution_id: int, step_names: Sequence[str], from_step: str | None = None,
    ) -> tuple[Execution, str]:
        """Queue a re-run of ``execution_id`` from ``from_step`` (default: its first step that did
        not complete); ``step_names``: the workflow's steps as installed now. The new execution and
        the step it starts at."""
        ...

    def delete_finished(self, execution_ids: Sequence[int], cutoff: datetime) -> tuple[list[int], int]:
        """Delete these executions and their steps in one short transaction."""
        ...

    def describe(self) -> str:
        """The database URL with its password masked."""
        ...

    def dispose(self) -> None:
        """Close every connection of this process (and the SQLite writer gate's file)."""
        ...

    def enqueue(
        self, workflow: str, *, params: dict[str, Any] | None = None, priority: int = 0, count: int
        = 1, trigger: Trigger = Trigger.MANUAL, attempt: int = 1, retry_of: int | None = None,
        not_before: datetime | None = None, scheduled_for: datetime | None = None, queue: str | None
        = None, concurrency_key: str | None = None,
    ) -> list[Execution]:
        """Insert ``count`` pending executions; a scheduled run that exists inserts nothing."""
        ...

    def enqueue_ticks(
        self, workflow: str, ticks: Sequence[datetime], *, priority: int, queue: str | None,
        trigger: Trigger = Trigger.BACKFILL,
    ) -> list[Execution]:
        """Queue one pending execution per tick that has no row yet; the ones queued."""
        ...

    def ensure_schema(self, *, auto_create: bool = True) -> None:
        """Check the schema is current; create or migrate it on first use for SQLite only."""
        ...

    def exclusive_scheduler_lock(self) -> SqliteSchedulerLock | None:
        """The lock a scheduler must hold for the whole of its run when the database allows only one
        scheduler (a SQLite file), not yet taken; None when several schedulers may share the
        database."""
        ...

    def expire_waiting(
        self, execution_id: int, waiting_since: datetime, reason: str, owner: str,
    ) -> Finished | None:
        """``waiting -> failed`` for a run whose approval did not come in time, recorded as ended by
        scheduler ``owner``; None when it was decided (or waits again, since a later moment)
        meanwhile."""
        ...

    def expired_before(self, seconds: float) -> datetime:
        """The instant before which a heartbeat means its owner is dead."""
        ...

    def finish_execution(
        self, execution_id: int, status: ExecutionStatus, *, expected: Sequence[ExecutionStatus] =
        (ExecutionStatus.RUNNING,), owner: str | None = None, exit_code: int | None = None, error:
        str | None = None, error_detail: str | None = None, retry_at: datetime | None = None,
        queue_of: Callable[[str], str | None] | None = None, last_step: StepRecord | None = None,
    ) -> Finished | None:
        """Compare-and-set to a final ``status``; None when another process got there first."""
        ...

    def finish_reported(
        self, report: FinishReport, queue_of: Callable[[str], str | None] | None = None,
    ) -> Finished | None:
        """A worker's own final status (``wfsched execute``), as its scheduler records a reported
        one: a failure while a cancel was requested ends ``cancelled`` (decided in the same
        transaction), with no retry; None when it was ended already."""
        ...

    def finished_by_owner_since(self, owner: str, since: datetime) -> list[FinishedRow]:
        """Executions claimed by scheduler ``owner`` that ended at or after ``since``."""
        ...

    def get_execution(self, execution_id: int) -> Execution:
        """One execution by id; ``UnknownExecutionError`` (exit 1) when there is none."""
        ...

    def heartbeat(self, execution_id: int) -> bool:
        """Refresh a running execution's heartbeat; True when a cancel was requested."""
        ...

    def hold_unrunnable(
        self, runnable: Collection[str], reason_of: Callable[[str], str],
    ) -> dict[str, int]:
        """Give each unclaimed pending execution of a workflow outside ``runnable`` the reason
        ``reason_of(workflow)``; how many wait, by workflow. Indexed on ``status``."""
        ...

    def last_scheduled_for(self, workflow: str) -> datetime | None:
        """The latest tick of ``workflow`` that has a row (run, queued or skipped)."""
        ...

    def list_executions(
        self, *, status: str | None = None, workflow: str | None = None, limit: int = 50, offset:
        int = 0, since: datetime | None = None, overdue: bool = False, version: str | None = None,
    ) -> list[Execution]:
        """The newest ``limit`` executions, newest first, optionally of one status or workflow."""
        ...

    def list_schedulers(
        self, *, active_only: bool = False, limit: int | None = 100, heartbeat_since: datetime |
        None = None,
    ) -> list[SchedulerRow]:
        """Newest first; ``active_only`` leaves out those that signed off; ``heartbeat_since`` keeps
        only those that heartbeat since then."""
        ...

    def mark_overdue(self, execution_id: int, when: datetime) -> Execution | None:
        """Set ``overdue_at`` once (compare-and-set on NULL): the execution when this call set it,
        None when another scheduler was first."""
        ...

    def next_not_before(self, after: datetime) -> datetime | None:
        """The earliest future ``not_before`` of a pending execution (a retry's backoff)."""
        ...

    def oldest_pending(self, now: datetime) -> tuple[int, str, datetime] | None:
        """The pending execution that has waited longest: ``(id, workflow, since)``."""
        ...

    def overdue_candidates(self, workflows: Sequence[str]) -> list[Execution]:
        """Unfinished runs of ``workflows`` not marked overdue yet (indexed on workflow and status);
        the caller compares each one's due time with its clock."""
        ...

    def owned_executions(self, owner: str, statuses: Sequence[ExecutionStatus]) -> list[Execution]:
        """The executions scheduler ``owner`` holds in one of ``statuses``."""
        ...

    def pause_workflows(
        self, names: Iterable[str], reason: str | None, paused_by: str,
    ) -> tuple[list[Pause], dict[str, Pause]]:
        """Pause each of ``names`` that is not paused yet; returns the new pauses and those that
        stood already (kept as they were: the first pause's time and reason)."""
        ...

    def paused_workflows(self) -> dict[str, Pause]:
        """Every paused workflow by name (a small table: read whole)."""
        ...

    def pending_by_queue(self) -> dict[str | None, int]:
        """Pending executions per queue (None: the unnamed default queue)."""
        ...

    def pending_executions(self, limit: int = 1000) -> list[Execution]:
        """Pending executions, best first (what a claim would consider), at most ``limit``."""
        ...

    def pending_for_progress(self, scheduler_id: str) -> tuple[int, set[int]]:
        """For ``scheduler --once``'s progress: pending executions not claimed by ``scheduler_id``
        (a count), and the ids of those it claimed whose worker has not yet recorded its start
        (still ``pending`` in the table, but already its own)."""
        ...

    def prunable_ids(self, cutoff: datetime, limit: int, after_id: int = 0) -> list[int]:
        """Up to ``limit`` ids of executions finished before ``cutoff``, above ``after_id``."""
        ...

    def recent_started(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recently started executions, oldest first (the dashboard's timeline)."""
        ...

    def record_handles(
        self, owner: str, started: Sequence[tuple[int, str, dict[str, Any], int | None]],
    ) -> None:
        """Remember how to find the workers of one tick again (their spawner and handle), in one
        transaction: ``(execution_id, spawner, handle, pid)`` each."""
        ...

    def record_skipped_tick(
        self, workflow: str, scheduled_for: datetime, reason: str, *, priority: int = 0, queue: str
        | None = None,
    ) -> bool:
        """Record a tick that will not run, as a ``cancelled`` execution saying why."""
        ...

    def register_scheduler(self, row: SchedulerRow) -> None:
        """Insert (or refresh) this scheduler's row in the registry."""
        ...

    def reject(self, execution_id: int, user: str, reason: str) -> Finished:
        """``waiting -> cancelled``, recording who rejected it and why."""
        ...

    def release_claim_of(self, execution_id: int, owner: str) -> bool:
        """Give back one pending execution claimed by a scheduler that died."""
        ...

    def release_claims(self, owner: str) -> int:
        """Give back the pending executions ``owner`` claimed but did not start."""
        ...

    def request_cancel(self, execution_id: int) -> tuple[Execution, bool]:
        """Cancel a pending execution at once, or flag a running one for its owner to stop."""
        ...

    def resume_workflows(self, names: Iterable[str] | None) -> list[str]:
        """Lift the pauses of ``names`` (None: every pause); the names that were paused. Their
        pending executions lose the pause's ``wait_reason`` and wake the schedulers."""
        ...

    def running_by_owner(self) -> dict[str, int]:
        """Running executions per scheduler id (the slots each one uses)."""
        ...

    def running_by_workflow(self, owner: str) -> dict[str, int]:
        """Running executions of scheduler ``owner``, per workflow."""
        ...

    def running_executions(self, workflow: str | None = None) -> list[Execution]:
        """Running executions, of one workflow or all."""
        ...

    def running_rows(self) -> list[RunningRow]:
        """Every running execution, oldest start first."""
        ...

    def schedule_position(self, workflow: str, first_tick: datetime) -> datetime | None:
        """Where ``workflow``'s schedule stands: the next tick recorded for it (a tick that is due
        when it is in the past). On first sight, when none is recorded, ``first_tick`` is recorded
        and returned; with several schedulers, the first record stays and all of them return it."""
        ...

    def scheduled_rows(
        self, workflow: str, start: datetime, end: datetime,
    ) -> dict[datetime, tuple[int, str]]:
        """The executions of ``workflow`` scheduled for ``start <= t < end``, by tick: ``(id,
        status)`` each (a run, a queued one, or a skipped tick)."""
        ...

    def scheduler_heartbeat(self, scheduler_id: str) -> None:
        """Refresh this scheduler's heartbeat in the registry."""
        ...

    def scheduler_stopped(self, scheduler_id: str) -> None:
        """Mark this scheduler stopped (a clean exit)."""
        ...

    def schema_revision(self) -> str | None:
        """The Alembic revision of the database, or None when it has no schema yet."""
        ...

    def search_executions(self, search: ExecutionSearch) -> ExecutionPage:
        """The executions matching ``search``, newest first, one page, with the total."""
        ...

    def set_next_run(self, workflow: str, when: datetime | None) -> None:
        """Record when ``workflow``'s schedule fires next (None: not scheduled)."""
        ...

    def start_execution(
        self, execution_id: int, owner: str | None, *, pid: int, host: str, manual_owner: str,
    ) -> Execution:
        """Compare-and-set ``pending`` -> ``running`` for the worker told to run it."""
        ...

    def start_running(
        self, execution_id: int, owner: str | None, *, pid: int, host: str, manual_owner: str,
        first_step: Callable[[str], str | None] | None = None, version_of: Callable[[str],
        RunVersion] | None = None,
    ) -> tuple[Execution, StepRecord | None]:
        """:meth:`start_execution`, and in the same transaction the start of its first step, named
        by ``first_step(workflow)`` (None: no step record yet)."""
        ...

    def start_wake_listener(self, wake: threading.Event) -> Any:
        """Start hearing new work at once: a thread that sets ``wake`` when a trigger, a retry or a
        finished execution is committed (PostgreSQL: LISTEN; a SQLite file: a FIFO beside it);
        something with ``stop()``, or None where polling is all there is (MySQL/MariaDB). Nothing
        depends on it for correctness."""
        ...

    def steps(self, execution_id: int) -> list[StepRecord]:
        """The step records of one execution, in order."""
        ...

    def steps_of(self, execution_ids: Sequence[int]) -> dict[int, list[StepRecord]]:
        """The recorded steps of each of ``execution_ids`` (ids without steps map to [])."""
        ...

    def sync_workflows(
        self, rows: Sequence[WorkflowRow], dependencies: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Insert or refresh each workflow; with ``dependencies``, replace the edge list."""
        ...

    def upgrade(self) -> None:
        """Create or migrate the schema (``wfsched db upgrade``)."""
        ...

    def waiting_executions(self) -> list[Execution]:
        """Every run waiting for an approval (indexed on status)."""
        ...

    def workflow_rows(self) -> dict[str, WorkflowRow]:
        """The workflows table by name (description, schedule, next run, dependencies)."""
        ...

    def workflow_status_counts(self, workflow: str) -> dict[str, int]:
        """Pending and running executions of ``workflow``, by status."""
        ...
