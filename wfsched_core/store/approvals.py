"""Approval steps in the store: a run waits, a person approves or rejects, or time runs out.

A run that reaches a step marked ``@step(approval=...)`` is set ``waiting`` by its worker
(compare-and-set over ``running``) and let go: no owner, no process, no slot. Approving is
a compare-and-set ``waiting -> pending`` that records who and when, so of two approvers
one wins and the run continues once; the scheduler that claims it next starts it at that
step (``resume_from``). Rejecting ends it ``cancelled``; the scheduler ends one past its
workflow's ``approval_timeout`` ``failed``. Each is one compare-and-set on ``waiting``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from wfsched_core.base.approvers import may_approve
from wfsched_core.base.errors import ExecutionStateError
from wfsched_core.base.records import Execution, StepRecord, isoformat, utcnow
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.executions import ExecutionsMixin, Finished
from wfsched_core.store.rows import fetch, to_execution

WAITING = ExecutionStatus.WAITING.value
APPROVED = "approved"
REJECTED = "rejected"


class ApprovalRefused(ExecutionStateError):
    """The person asking may not approve (or reject) this step."""


class ApprovalsMixin(ExecutionsMixin):
    """``running -> waiting -> pending`` (approved), or ``-> cancelled | failed``."""

    def _wait_in(self, conn: Connection, execution_id: int, last_step: StepRecord | None,
                 resume_from: int, approvers: str | None, reason: str | None,
                 ) -> Finished | None:
        """The worker's ``running -> waiting`` before step ``resume_from``, with its last
        step's end; the run lets go of its owner and process. None when it lost."""
        if last_step is not None:
            self._record_step_end(conn, last_step)
        result = conn.execute(update(executions).where(
            executions.c.id == execution_id,
            executions.c.status == ExecutionStatus.RUNNING.value,
        ).values(status=WAITING, waiting_since=utcnow(), resume_from=resume_from,
                 approvers=approvers, wait_reason=(reason or "waiting for approval")[:500],
                 claimed_by=None, claimed_at=None, pid=None, heartbeat_at=None,
                 worker_handle=None))
        if result.rowcount != 1:
            return None
        return Finished(to_execution(fetch(conn, execution_id)))

    def waiting_executions(self) -> list[Execution]:
        """Every run waiting for an approval (indexed on status)."""
        with self._read() as conn:
            return [to_execution(row) for row in conn.execute(
                select(executions).where(executions.c.status == WAITING))]

    def approve(self, execution_id: int, user: str, comment: str | None = None) -> Execution:
        """``waiting -> pending``, recording who approved, when and why; the run continues
        at the step it waited before. ``ExecutionStateError`` when it is not waiting (an
        approver was first, or it ended), ``ApprovalRefused`` when ``user`` may not."""
        with self._write() as conn:
            self._check_decider(conn, execution_id, user, "approve")
            result = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.status == WAITING,
            ).values(status=ExecutionStatus.PENDING.value, approval=APPROVED,
                     approval_by=user[:200], approval_at=utcnow(), approval_comment=comment,
                     approval_step=executions.c.resume_from, wait_reason=None,
                     not_before=None, claimed_by=None, claimed_at=None))
            if result.rowcount != 1:
                raise _not_waiting(execution_id, fetch(conn, execution_id))
            self._notify(conn)  # new work for the schedulers
            return to_execution(fetch(conn, execution_id))

    def reject(self, execution_id: int, user: str, reason: str) -> Finished:
        """``waiting -> cancelled``, recording who rejected it and why."""
        with self._write() as conn:
            self._check_decider(conn, execution_id, user, "reject")
            decided = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.status == WAITING,
            ).values(approval=REJECTED, approval_by=user[:200], approval_at=utcnow(),
                     approval_comment=reason, approval_step=executions.c.resume_from,
                     wait_reason=None))
            finished = None if decided.rowcount != 1 else self._finish_in(
                conn, execution_id, ExecutionStatus.CANCELLED,
                expected=(ExecutionStatus.WAITING,), error=f"rejected by {user}: {reason}")
            if finished is None:
                raise _not_waiting(execution_id, fetch(conn, execution_id))
            return finished

    def expire_waiting(self, execution_id: int, waiting_since: datetime, reason: str,
                       owner: str) -> Finished | None:
        """``waiting -> failed`` for a run whose approval did not come in time, recorded
        as ended by scheduler ``owner``; None when it was decided (or waits again, since a
        later moment) meanwhile."""
        with self._write() as conn:
            if conn.execute(update(executions).where(
                    executions.c.id == execution_id, executions.c.status == WAITING,
                    executions.c.waiting_since == waiting_since,
            ).values(claimed_by=owner)).rowcount != 1:
                return None
            return self._finish_in(conn, execution_id, ExecutionStatus.FAILED,
                                   expected=(ExecutionStatus.WAITING,), error=reason)

    def _check_decider(self, conn: Connection, execution_id: int, user: str,
                       verb: str) -> None:
        row = fetch(conn, execution_id)
        if row.status != WAITING:
            raise _not_waiting(execution_id, row)
        if not may_approve(user, row.approvers):
            raise ApprovalRefused(
                f"{user} may not {verb} execution {execution_id}: its step needs the "
                f"approval of {row.approvers.replace(',', ', ')} (a user or Unix group)")


def _not_waiting(execution_id: int, row: object) -> ExecutionStateError:
    """Why an approval or rejection found nothing to decide, naming who decided."""
    status = getattr(row, "status", "?")
    text = f"execution {execution_id} is {status}, not waiting for an approval"
    decision, by = getattr(row, "approval", None), getattr(row, "approval_by", None)
    if decision and by:
        text += f" ({decision} by {by} at {isoformat(getattr(row, 'approval_at', None))})"
    return ExecutionStateError(text)
