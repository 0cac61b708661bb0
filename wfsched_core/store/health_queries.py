"""The store's reads for the health verdict and the fuller metrics (issue 19).

Methods of the store (``HealthQueriesMixin``). Each is indexed: on ``status``
(``ix_executions_claim``) or on the owner and status (``ix_executions_owner_status``), so
none grows with the history; they read pending and running rows only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions

PENDING = ExecutionStatus.PENDING.value
RUNNING = ExecutionStatus.RUNNING.value


class HealthQueriesMixin(StoreBase):
    """The oldest pending execution, pending per queue, running per workflow and owner."""

    def oldest_pending(self, now: datetime) -> tuple[int, str, datetime] | None:
        """The pending execution that has waited longest: ``(id, workflow, since)``.

        ``since`` is when it became runnable: its ``not_before`` when it has one (a
        retry's backoff), else its creation. A retry whose backoff ends after ``now`` is
        not waiting yet and is left out. None when nothing waits.
        """
        c = executions.c
        ready = func.coalesce(c.not_before, c.created_at)
        query = (select(c.id, c.workflow, ready)
                 .where(c.status == PENDING, ready <= now)
                 .order_by(ready, c.id).limit(1))
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row[0]), str(row[1]), row[2])

    def pending_by_queue(self) -> dict[str | None, int]:
        """Pending executions per queue (None: the unnamed default queue)."""
        c = executions.c
        query = select(c.queue, func.count()).where(c.status == PENDING).group_by(c.queue)
        with self._read() as conn:
            return {queue: int(n) for queue, n in conn.execute(query)}

    def running_by_workflow(self, owner: str) -> dict[str, int]:
        """Running executions of scheduler ``owner``, per workflow."""
        c = executions.c
        query = (select(c.workflow, func.count())
                 .where(c.claimed_by == owner, c.status == RUNNING).group_by(c.workflow))
        with self._read() as conn:
            return {workflow: int(n) for workflow, n in conn.execute(query)}

    def running_by_owner(self) -> dict[str, int]:
        """Running executions per scheduler id (the slots each one uses)."""
        c = executions.c
        query = (select(c.claimed_by, func.count())
                 .where(c.status == RUNNING, c.claimed_by.is_not(None)).group_by(c.claimed_by))
        with self._read() as conn:
            return {owner: int(n) for owner, n in conn.execute(query)}
