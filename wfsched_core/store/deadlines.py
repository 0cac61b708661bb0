"""Deadlines in the store: which runs may be overdue, and marking one overdue once.

``overdue_at`` goes from NULL to a time in one compare-and-set: whichever scheduler wins
fires ``wfsched_execution_overdue``, so the event fires once across every scheduler, and
a scheduler that comes back after a downtime still finds the runs not yet marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from wfsched_core.base.records import Execution
from wfsched_core.base.status import ACTIVE_STATUSES
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.rows import fetch, to_execution

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)


class DeadlinesMixin(StoreBase):
    """Runs not finished by their workflow's ``deadline``."""

    def overdue_candidates(self, workflows: Sequence[str]) -> list[Execution]:
        """Unfinished runs of ``workflows`` not marked overdue yet (indexed on workflow and
        status); the caller compares each one's due time with its clock."""
        if not workflows:
            return []
        query = select(executions).where(
            executions.c.workflow.in_(list(workflows)),
            executions.c.status.in_(_ACTIVE), executions.c.overdue_at.is_(None))
        with self._read() as conn:
            return [to_execution(row) for row in conn.execute(query)]

    def mark_overdue(self, execution_id: int, when: datetime) -> Execution | None:
        """Set ``overdue_at`` once (compare-and-set on NULL): the execution when this call
        set it, None when another scheduler was first."""
        with self._write() as conn:
            result = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.overdue_at.is_(None),
            ).values(overdue_at=when))
            if result.rowcount != 1:
                return None
            return to_execution(fetch(conn, execution_id))
