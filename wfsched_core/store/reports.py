"""Workers' reports, written by their scheduler: many workers' transitions, one transaction.

A worker the scheduler started on this host reports its transitions — running, each
step's end, heartbeats, the final status — over a private channel
(``scheduler/reports.py``); the scheduler applies every report that arrived in a round
with :meth:`WorkerReportsMixin.apply_worker_reports`, in one transaction (group commit).
Each report is the same compare-and-set the worker would have made itself, so the
guarantees do not change with who writes: a start can only succeed once, a final status
only over ``running``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from wfsched_core.base.errors import ExecutionStateError, UnknownExecutionError
from wfsched_core.base.records import Execution, RunVersion, StepRecord, utcnow
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store import statements
from wfsched_core.store.approvals import ApprovalsMixin
from wfsched_core.store.executions import Finished, _not_startable
from wfsched_core.store.rows import fetch

#: what a worker's start was told when it lost (another process runs it, or it ended)
CANCELLED_WHILE_RUNNING = "cancelled while running"


@dataclass
class StartReport:
    """The worker is about to run: ``pending`` -> ``running`` and its first step starts.
    ``known``: the execution as its scheduler claimed it (spares a read); ``version``: the
    code that runs it, as the scheduler's catalog knows it (the worker sends nothing)."""

    execution_id: int
    pid: int
    first_step: str | None
    known: Execution | None = None
    version: RunVersion | None = None


@dataclass
class HandleReport:
    """How the scheduler finds a worker it started again: its spawner and handle."""

    execution_id: int
    spawner: str
    handle: dict[str, Any]
    pid: int | None


@dataclass
class StepReport:
    """A step ended (``done``, if any) and the next one starts."""

    execution_id: int
    done: StepRecord | None
    position: int
    name: str


@dataclass
class HeartbeatReport:
    """The worker lives; the answer says whether a cancel was requested."""

    execution_id: int


@dataclass
class FinishReport:
    """The final status, with the last step's end; a failure may queue a retry."""

    execution_id: int
    status: ExecutionStatus
    exit_code: int
    error: str | None
    detail: str | None
    last_step: StepRecord | None
    retry_at: datetime | None = None
    known: Execution | None = None  # the running execution as its scheduler knows it
    #: a ``waiting`` status: the step position it waits before, and who may approve it
    resume_from: int | None = None
    approvers: str | None = None


WorkerReport = StartReport | StepReport | HeartbeatReport | FinishReport | HandleReport
#: per report: (Execution, first StepRecord | None) for a start, a StepRecord for a step,
#: a bool (cancel requested) for a heartbeat, Finished | None for a finish, or the
#: ExecutionStateError / UnknownExecutionError that refused it
ReportResult = Any


class WorkerReportsMixin(ApprovalsMixin):
    """Applying a round of workers' reports in one transaction."""

    def apply_worker_reports(
        self, owner: str, host: str, reports: Sequence[WorkerReport],
        queue_of: Callable[[str], str | None] | None = None,
    ) -> list[ReportResult]:
        """Apply ``reports`` (of workers ``owner`` started on ``host``) in one transaction.

        A report the store refuses (a start that lost its compare-and-set, an unknown
        execution) has its error as its result and changes nothing; any other error
        aborts the whole round, which the caller may then apply report by report.
        """
        results: list[ReportResult] = [None] * len(reports)
        beating = [i for i, r in enumerate(reports) if isinstance(r, HeartbeatReport)]
        with self._write() as conn:
            for index, report in enumerate(reports):
                if isinstance(report, HeartbeatReport):
                    continue
                try:
                    results[index] = self._apply_one(conn, owner, host, report, queue_of)
                except (ExecutionStateError, UnknownExecutionError) as exc:
                    results[index] = exc
            if beating:
                ids = sorted({reports[i].execution_id for i in beating})
                conn.execute(statements.HEARTBEAT_MANY, {"b_ids": ids, "b_now": utcnow()})
                cancelled = set(conn.execute(statements.CANCELS_REQUESTED,
                                             {"b_ids": ids}).scalars())
                for i in beating:
                    results[i] = reports[i].execution_id in cancelled
            self._no_self_wake(conn)  # the scheduler applying them is SQLite's only one
        return results

    def _apply_one(self, conn: Any, owner: str, host: str, report: WorkerReport,
                   queue_of: Callable[[str], str | None] | None) -> ReportResult:
        if isinstance(report, HandleReport):
            self._record_handles_in(conn, owner, [(report.execution_id, report.spawner,
                                                   report.handle, report.pid)])
            return None
        if isinstance(report, StartReport):
            first = report.first_step
            started = self._start_in(conn, report.execution_id, owner, pid=report.pid,
                                     host=host, manual_owner="",
                                     first_step=(lambda _workflow: first), known=report.known,
                                     version=report.version)
            if started is None:
                raise _not_startable(report.execution_id, fetch(conn, report.execution_id))
            return started
        if isinstance(report, StepReport):
            return self._advance_in(conn, report.execution_id, report.done, report.position,
                                    report.name)
        assert isinstance(report, FinishReport)
        return self._finish_reported(conn, report, queue_of)

    def finish_reported(self, report: FinishReport,
                        queue_of: Callable[[str], str | None] | None = None,
                        ) -> Finished | None:
        """A worker's own final status (``wfsched execute``), as its scheduler records a
        reported one: a failure while a cancel was requested ends ``cancelled`` (decided
        in the same transaction), with no retry; None when it was ended already."""
        with self._write() as conn:
            return self._finish_reported(conn, report, queue_of)

    def _finish_reported(self, conn: Any, report: FinishReport,
                         queue_of: Callable[[str], str | None] | None) -> Finished | None:
        status, error, retry_at = report.status, report.error, report.retry_at
        if status in (ExecutionStatus.FAILED, ExecutionStatus.WAITING) and conn.execute(
                statements.CANCEL_REQUESTED, {"b_id": report.execution_id}).scalar():
            status, error, retry_at = ExecutionStatus.CANCELLED, CANCELLED_WHILE_RUNNING, None
        elif status is ExecutionStatus.WAITING:
            return self._wait_in(conn, report.execution_id, report.last_step,
                                 report.resume_from or 1, report.approvers, error)
        known = report.known
        if known is not None and status is ExecutionStatus.CANCELLED:
            known = replace(known, cancel_requested=True)
        return self._finish_in(conn, report.execution_id, status, exit_code=report.exit_code,
                               error=error, error_detail=report.detail, retry_at=retry_at,
                               queue_of=queue_of, last_step=report.last_step, known=known)

