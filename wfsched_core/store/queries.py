"""Read queries (and the retention delete) for operations: status, metrics and pruning.

Methods of the store (``OperationsQueriesMixin``), kept apart from the modules that hold
the scheduler's own hot path. Every query here is indexed: on ``status`` (``ix_executions_claim``),
on ``finished_at`` (``ix_executions_finished_at``) or on the owner
(``ix_executions_owner_status``), so none of them grows with the size of the history except
the retention scan, which walks only the rows it is about to delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from wfsched_core.base.status import FINAL_STATUSES, ExecutionStatus
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_execution_steps as steps_table
from wfsched_core.store.db.schema import workflow_executions as executions

FINAL_VALUES = tuple(sorted(s.value for s in FINAL_STATUSES))


@dataclass
class RunningRow:
    """One running execution, as ``status`` shows it."""

    id: int
    workflow: str
    pid: int | None
    host: str | None
    started_at: datetime | None
    claimed_by: str | None
    spawner: str | None


@dataclass
class FinishedRow:
    """One finished execution, as the metrics plugin counts it."""

    id: int
    workflow: str
    status: str
    started_at: datetime | None
    finished_at: datetime


class OperationsQueriesMixin(StoreBase):
    """Reads for ``status``, metrics, the dashboard and retention; retention's delete."""

    def running_rows(self) -> list[RunningRow]:
        """Every running execution, oldest start first."""
        c = executions.c
        query = (select(c.id, c.workflow, c.pid, c.host, c.started_at, c.claimed_by, c.spawner)
                 .where(c.status == ExecutionStatus.RUNNING.value).order_by(c.id))
        with self._read() as conn:
            return [RunningRow(*row) for row in conn.execute(query)]

    def count_active(self) -> dict[str, int]:
        """How many executions are pending, running and waiting for an approval (zeros
        included)."""
        c = executions.c
        values = [s.value for s in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING,
                                    ExecutionStatus.WAITING)]
        query = select(c.status, func.count()).where(c.status.in_(values)).group_by(c.status)
        counts = dict.fromkeys(values, 0)
        with self._read() as conn:
            counts.update({status: n for status, n in conn.execute(query)})
        return counts

    def count_finished_since(self, since: datetime) -> dict[str, int]:
        """Executions that ended at or after ``since``, by final status (zeros included)."""
        c = executions.c
        query = (select(c.status, func.count())
                 .where(c.finished_at >= since, c.status.in_(FINAL_VALUES))
                 .group_by(c.status))
        counts = dict.fromkeys(FINAL_VALUES, 0)
        with self._read() as conn:
            counts.update({status: n for status, n in conn.execute(query)})
        return counts

    def finished_by_owner_since(self, owner: str, since: datetime) -> list[FinishedRow]:
        """Executions claimed by scheduler ``owner`` that ended at or after ``since``."""
        c = executions.c
        query = (select(c.id, c.workflow, c.status, c.started_at, c.finished_at)
                 .where(c.finished_at >= since, c.claimed_by == owner,
                        c.status.in_(FINAL_VALUES))
                 .order_by(c.finished_at))
        with self._read() as conn:
            return [FinishedRow(*row) for row in conn.execute(query)]

    def prunable_ids(self, cutoff: datetime, limit: int, after_id: int = 0) -> list[int]:
        """Up to ``limit`` ids of executions finished before ``cutoff``, above ``after_id``.

        Only final statuses: a pending or running execution is never returned, whatever its
        timestamps say.
        """
        c = executions.c
        query = (select(c.id)
                 .where(c.finished_at < cutoff, c.status.in_(FINAL_VALUES), c.id > after_id)
                 .order_by(c.id).limit(limit))
        with self._read() as conn:
            return [row[0] for row in conn.execute(query)]

    def count_steps(self, execution_ids: Sequence[int]) -> int:
        """How many step rows the executions ``execution_ids`` have."""
        query = (select(func.count()).select_from(steps_table)
                 .where(steps_table.c.execution_id.in_(list(execution_ids))))
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def delete_finished(self, execution_ids: Sequence[int],
                        cutoff: datetime) -> tuple[list[int], int]:
        """Delete these executions and their steps in one short transaction.

        The status and cutoff are checked again inside the transaction, so a row that changed
        since it was listed is kept. Returns the ids deleted and the number of step rows.
        """
        c = executions.c
        ids = list(execution_ids)
        with self._write() as conn:
            still: list[Any] = [row[0] for row in conn.execute(
                select(c.id).where(c.id.in_(ids), c.status.in_(FINAL_VALUES), c.finished_at < cutoff))]
            if not still:
                return [], 0
            steps_deleted = conn.execute(
                delete(steps_table).where(steps_table.c.execution_id.in_(still))).rowcount
            conn.execute(delete(executions).where(
                c.id.in_(still), c.status.in_(FINAL_VALUES), c.finished_at < cutoff))
        return [int(i) for i in still], int(steps_deleted or 0)

    def recent_started(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recently started executions, oldest first (the dashboard's
        timeline)."""
        c = executions.c
        query = (select(c.id, c.workflow, c.status, c.claimed_by, c.started_at, c.finished_at)
                 .where(c.started_at.is_not(None))
                 .order_by(c.started_at.desc(), c.id.desc())
                 .limit(limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [dict(row._mapping) for row in reversed(rows)]
